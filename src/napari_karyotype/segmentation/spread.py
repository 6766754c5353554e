"""A raw metaphase spread, read once for the learned segmenter: its ink, background and scale.

The segmenter (:mod:`.spread_model`) is trained and run on every spread brought to one size, the
one at which the typical chromosome is :data:`NET_RADIUS` pixels in half-width, and one contrast
(ink 0 on the background, 1 at the darkest chromosome pixels). Both are measured on the spread
itself, never set in pixels, so another laboratory's magnification or exposure reads the same:

* the **background** is the grey of the slide's light field (its commonest light grey: a spread
  is mostly empty slide), the **dark** end a low percentile of the ink;
* the **half-width** is the median inradius of the dark components that are long and thin
  (chromosomes) rather than round (nuclei): :func:`chromosome_size`;
* the width sets the **size**, as in training, except on a spread of condensed chromosomes: the
  Taichung spreads the segmenter learned are long prometaphase chromosomes (area about
  :data:`ELONGATION` squared half-widths), and another laboratory's short ones, brought to the
  same width, looked to it like debris; a spread far more condensed than the training spreads
  is brought to their typical area instead (:func:`net_factor`);
* a uniform frame or padding round the photograph (a white border, a line drawn across the
  margin) is no slide: the levels are read inside it and nothing outside it is ink
  (:func:`content`, :func:`on_slide`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NET_RADIUS = 5.0
"""Half-width (px) of the typical chromosome in the segmenter's input."""

ELONGATION, CONDENSED = 17.3, 12.6
"""Median and 5th percentile of a chromosome's area in squared half-widths over the segmenter's
training spreads (a fifth of the Taichung training share, measured as :func:`chromosome_size`
measures it; 90th percentile 21.8). A spread more condensed than :data:`CONDENSED` is brought
to the area of :data:`ELONGATION` squared net half-widths."""

MOST_ENLARGED = 1.4
"""The most the area enlarges a spread beyond its width's factor: more condensed than that, the
measured shape is no chromosome's (a spread of fragments), and the width alone decides."""

FLAT, ROUGHLY = 0.01, 0.02
"""An edge row or column of the photograph whose every pixel is within :data:`FLAT` of one grey
is a frame, padding or a line drawn across the margin, not slide (one dark pixel, a chromosome's
tip, keeps it). Where only the slide's grey is read, all but :data:`ROUGHLY` of its pixels will
do (a ragged line drawn down the page's edge does not keep a white border in)."""

MIN_FACTOR, MAX_FACTOR = 0.08, 2.0
"""Bounds of the resampling factor: a page whose measured width would need more is no spread
at a usable magnification."""

FALLBACK_SIDE = 512
"""Longer side (px) a spread is brought to when no chromosome width can be measured."""


@dataclass
class Spread:
    """A spread in the segmenter's frame: ``ink`` (float32, 0 background .. 1 darkest) resampled
    by ``factor`` (net pixels per image pixel), and the image's own measurements."""

    ink: np.ndarray
    factor: float
    radius: float
    """The typical chromosome half-width in image pixels (0: not measurable)."""
    background: float
    dark: float
    shape: tuple[int, int]
    """The image's (height, width)."""
    slide: tuple[slice, slice] | None = None
    """The photograph inside any frame (:func:`content` of the image; None: not yet read)."""


def ink_levels(image: np.ndarray) -> tuple[float, float]:
    """``(background, dark)`` grey levels of a dark-on-light spread in [0, 1]: the commonest
    light grey (the slide's field, not a white border round it) and a low percentile of the ink."""
    from scipy import ndimage as ndi

    sample = image[:: max(1, image.shape[0] // 512), :: max(1, image.shape[1] // 512)]
    field = image[content(image, ROUGHLY)]  # the slide's field inside any frame round it
    field = field[:: max(1, field.shape[0] // 512), :: max(1, field.shape[1] // 512)]
    hist = ndi.gaussian_filter1d(np.histogram(field, 256, (0.0, 1.0))[0].astype(float), 2)
    light = np.arange(256) >= 64  # the field is light: a dark mode is a nucleus or a border
    background = (int(np.argmax(np.where(light, hist, -1))) + 0.5) / 256
    dark = float(np.percentile(sample, 0.5))
    if background - dark < 0.05:
        dark = background - 0.05
    return background, dark


def content(image: np.ndarray, share: float = 0.0) -> tuple[slice, slice]:
    """The photograph inside any uniform frame or padding: edge rows and columns that are one
    grey (:data:`FLAT`; all but ``share`` of their pixels) are peeled off, rows and columns in
    turn, so that a line along the page's edge goes first and the border inside it after."""
    a = np.asarray(image, np.float32)
    if a.ndim != 2 or min(a.shape) < 4:
        return slice(None), slice(None)
    sub = a[:: max(1, a.shape[0] // 1024), :: max(1, a.shape[1] // 1024)]
    step = (a.shape[0] / sub.shape[0], a.shape[1] / sub.shape[1])
    r0, r1, c0, c1 = 0, sub.shape[0], 0, sub.shape[1]

    def flat(line: np.ndarray) -> bool:
        if line.size == 0:
            return False
        if share <= 0:
            return float(line.max() - line.min()) <= 2 * FLAT
        return float(np.mean(np.abs(line - np.median(line)) > FLAT)) <= share

    moved = True
    while moved and r1 - r0 > 2 and c1 - c0 > 2:
        moved = False
        for side in range(4):
            if side == 0 and flat(sub[r0, c0:c1]):
                r0 += 1
            elif side == 1 and flat(sub[r1 - 1, c0:c1]):
                r1 -= 1
            elif side == 2 and flat(sub[r0:r1, c0]):
                c0 += 1
            elif side == 3 and flat(sub[r0:r1, c1 - 1]):
                c1 -= 1
            else:
                continue
            moved = True
    if r1 - r0 <= 2 or c1 - c0 <= 2:
        return slice(None), slice(None)  # one grey throughout: no frame to tell
    return (slice(int(r0 * step[0]), int(np.ceil(r1 * step[0]))),
            slice(int(c0 * step[1]), int(np.ceil(c1 * step[1]))))  # fmt: skip


def on_slide(
    ink: np.ndarray, image: np.ndarray, slide: tuple[slice, slice] | None = None
) -> np.ndarray:
    """``ink`` with whatever lies outside the photograph's :func:`content` (a frame, a line
    drawn across the page's margin) set to 0: no chromosome lies there. ``slide``: that
    content, where it is already known."""
    rows, cols = slide if slide is not None else content(image)
    if rows == slice(None) and cols == slice(None):
        return ink
    out = np.zeros_like(ink)
    out[rows, cols] = ink[rows, cols]
    return out


def to_ink(image: np.ndarray, background: float, dark: float) -> np.ndarray:
    """0 on the background, 1 at the dark level (a little above for darker pixels)."""
    return np.clip((background - np.asarray(image, np.float32)) / (background - dark), 0.0, 1.5)


def chromosome_size(ink: np.ndarray, level: float = 0.3) -> tuple[float, float]:
    """``(half-width, area)`` in px of a spread's typical chromosome, ``(0, 0)`` if none is seen.

    Components of ``ink > level`` (after a light blur) are measured by their inradius and area;
    round blobs (area under 2.5 discs of their inradius: nuclei, dots) and specks are left out,
    and the medians are taken over the parts, each counting once: a few large blobs (nuclei cut
    by the border, kidney-shaped ones) cannot outweigh the many chromosomes."""
    from scipy import ndimage as ndi

    smooth = ndi.gaussian_filter(np.asarray(ink, np.float32), 1.0)
    fg = smooth > level
    lab, n = ndi.label(fg)
    if n == 0:
        return 0.0, 0.0
    ids = np.arange(1, n + 1)
    edt = ndi.distance_transform_edt(fg)
    radius = np.asarray(ndi.maximum(edt, lab, ids), float)
    area = np.bincount(lab.ravel(), minlength=n + 1)[1:].astype(float)
    keep = (radius >= 1.5) & (area >= 2.5 * np.pi * radius**2) & (area >= 20)
    if not keep.any():
        return 0.0, 0.0
    return float(np.median(radius[keep])), float(np.median(area[keep]))


def net_factor(radius: float, area: float) -> float:
    """Net pixels per image pixel for a spread whose typical chromosome (``chromosome_size``)
    is ``radius`` in half-width and ``area`` in area: its width brought to :data:`NET_RADIUS`,
    as in training; a spread of chromosomes more condensed than any but a few of the training
    spreads' (:data:`CONDENSED`) is enlarged until its area is the training median's.

    Measured (``models/MODEL_CARD.md``): on 227 held-out Taichung spreads the same found and
    extras (5 spreads are so condensed); on the other laboratories' metaphases, whose short
    chromosomes the width alone left small, 6 of 10 counted within 3 of 46 against 1 of 10."""
    by_width = NET_RADIUS / radius
    if area <= 0 or area >= CONDENSED * radius**2:
        return by_width
    return by_width * min(float(np.sqrt(ELONGATION * radius**2 / area)), MOST_ENLARGED)


def resample(a: np.ndarray, factor: float, order: int = 1) -> np.ndarray:
    """``a`` resampled by ``factor`` (anti-aliased when shrinking)."""
    from skimage.transform import rescale

    if abs(factor - 1.0) < 1e-3:
        return np.asarray(a, np.float32)
    return rescale(
        np.asarray(a, np.float32), factor, order=order, anti_aliasing=factor < 1, mode="edge"
    ).astype(np.float32)


def read_spread(image: np.ndarray, factor: float | None = None) -> Spread:
    """Measure a dark-on-light spread (float in [0, 1]) and bring it to the segmenter's frame.

    ``factor``: force the resampling (net pixels per image pixel) instead of measuring it."""
    image = np.asarray(image, np.float32)
    background, dark = ink_levels(image)
    slide = content(image)
    ink = on_slide(to_ink(image, background, dark), image, slide)
    radius = 0.0
    if factor is None:
        # measure on a copy at most ~1,000 px a side (fast; a radius scales with the copy)
        pre = min(1.0, 1000.0 / max(image.shape))
        small = resample(ink, pre) if pre < 1.0 else ink
        radius, area = chromosome_size(small)
        radius, area = radius / pre, area / pre**2
        factor = net_factor(radius, area) if radius > 0 else FALLBACK_SIDE / max(image.shape)
    factor = float(np.clip(factor, MIN_FACTOR, MAX_FACTOR))
    return Spread(resample(ink, factor), factor, radius, background, dark, image.shape[:2], slide)
