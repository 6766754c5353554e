"""A raw metaphase spread, read once for the learned segmenter: its ink, background and scale.

The segmenter (:mod:`.spread_model`) is trained and run on every spread brought to one size, the
one at which the typical chromosome is :data:`NET_RADIUS` pixels in half-width, and one contrast
(ink 0 on the background, 1 at the darkest chromosome pixels). Both are measured on the spread
itself, never set in pixels, so another laboratory's magnification or exposure reads the same:

* the **background** is the grey of the slide's light field (its commonest light grey: a spread
  is mostly empty slide), the **dark** end a low percentile of the ink;
* the **half-width** is the median inradius of the dark components that are long and thin
  (chromosomes) rather than round (nuclei): :func:`chromosome_radius`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NET_RADIUS = 5.0
"""Half-width (px) of the typical chromosome in the segmenter's input."""

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


def ink_levels(image: np.ndarray) -> tuple[float, float]:
    """``(background, dark)`` grey levels of a dark-on-light spread in [0, 1]: the commonest
    light grey (the slide's field, not a white border round it) and a low percentile of the ink."""
    from scipy import ndimage as ndi

    sample = image[:: max(1, image.shape[0] // 512), :: max(1, image.shape[1] // 512)]
    hist = ndi.gaussian_filter1d(np.histogram(sample, 256, (0.0, 1.0))[0].astype(float), 2)
    light = np.arange(256) >= 64  # the field is light: a dark mode is a nucleus or a border
    background = (int(np.argmax(np.where(light, hist, -1))) + 0.5) / 256
    dark = float(np.percentile(sample, 0.5))
    if background - dark < 0.05:
        dark = background - 0.05
    return background, dark


def to_ink(image: np.ndarray, background: float, dark: float) -> np.ndarray:
    """0 on the background, 1 at the dark level (a little above for darker pixels)."""
    return np.clip((background - np.asarray(image, np.float32)) / (background - dark), 0.0, 1.5)


def chromosome_radius(ink: np.ndarray, level: float = 0.3) -> float:
    """The typical chromosome half-width (px) of a spread's ink image, 0 if none is seen.

    Components of ``ink > level`` (after a light blur) are measured by their inradius; round
    blobs (area under 2.5 discs of their inradius: nuclei, dots) and specks are left out, and
    the median is taken over the parts, each counting once: a few large blobs (nuclei cut by the
    border, kidney-shaped ones) cannot outweigh the many chromosomes."""
    from scipy import ndimage as ndi

    smooth = ndi.gaussian_filter(np.asarray(ink, np.float32), 1.0)
    fg = smooth > level
    lab, n = ndi.label(fg)
    if n == 0:
        return 0.0
    ids = np.arange(1, n + 1)
    edt = ndi.distance_transform_edt(fg)
    radius = np.asarray(ndi.maximum(edt, lab, ids), float)
    area = np.bincount(lab.ravel(), minlength=n + 1)[1:].astype(float)
    keep = (radius >= 1.5) & (area >= 2.5 * np.pi * radius**2) & (area >= 20)
    if not keep.any():
        return 0.0
    return float(np.median(radius[keep]))


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
    ink = to_ink(image, background, dark)
    radius = 0.0
    if factor is None:
        # measure on a copy at most ~1,000 px a side (fast; a radius scales with the copy)
        pre = min(1.0, 1000.0 / max(image.shape))
        small = resample(ink, pre) if pre < 1.0 else ink
        radius = chromosome_radius(small) / pre
        factor = NET_RADIUS / radius if radius > 0 else FALLBACK_SIDE / max(image.shape)
    factor = float(np.clip(factor, MIN_FACTOR, MAX_FACTOR))
    return Spread(resample(ink, factor), factor, radius, background, dark, image.shape[:2])
