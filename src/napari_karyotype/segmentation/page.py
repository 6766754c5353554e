"""Page analysis before the rows: take the page furniture out, and say when a page is no karyogram.

Karyograms of other laboratories carry more than chromosomes: pair numbers, Denver group letters,
titles, underlines, frames (one per pair on light-on-dark pages), arrows, banners, red or coloured
marks. :func:`clean_page` paints these with the background level so that rows and contours see
chromosomes only. Everything is decided by shape and context, relative to the page's own
chromosomes, not by thresholds in pixels:

* **ruled lines** (underlines, frames, separators): pixels in a straight run far longer than a
  chromosome is wide that are thin across it;
* **thin marks** (text, digits, letters, arrow shafts, tick marks): components whose inradius is
  small against the typical chromosome's;
* **colour** (red numbers, coloured arrows): chromosomes are grey, components that are clearly
  coloured are marks;
* **blocks** (banners, shaded panels, the page around light-on-dark frames): components much larger
  than any chromosome that fill their box or reach across the page.

:attr:`Page.warnings` says in one line when the page is not one karyogram: a raw metaphase
(chromosomes lying in all directions, interphase nuclei: :mod:`.metaphase`) or far more objects
than one cell holds (karyograms side by side).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from napari_karyotype.segmentation.metaphase import Part, bands, metaphase_warning

COLOUR_CHROMA = 0.12
"""A component whose median chroma (max - min of R, G, B in [0, 1]) exceeds this is a coloured
mark; grey chromosomes (also JPEG-compressed) stay far below."""

THIN = 0.4
"""A component whose inradius is below this fraction of the typical chromosome's is a mark."""

ONE_CELL = 1.7
"""More chromosome-like objects than this many times 46 cannot be one cell."""


@dataclass
class Page:
    """What :func:`clean_page` found."""

    image: np.ndarray
    """The image with the furniture painted in the background level (2-D float32)."""
    furniture: np.ndarray
    """bool mask of what was taken out."""
    width: float
    """Typical chromosome width (px; 0 if no chromosome was seen)."""
    count: int = 0
    """Chromosome-like objects seen (touching ones count once)."""
    warnings: list[str] = field(default_factory=list)
    """One line per reason the page is not one karyogram (empty for a karyogram)."""
    gain: float = 1.0
    """How much every depth below the background was scaled up (a dim page; :data:`DEPTH`)."""
    arranged: bool = True
    """False where the page looks like a raw metaphase (:mod:`.metaphase`): its chromosomes lie
    as they fell, not side by side in rows, so no rule that assumes rows applies."""


def _runs(mask: np.ndarray, axis: int, length: int) -> np.ndarray:
    """Pixels lying in a straight run of at least ``length`` along ``axis`` (a 1-D opening)."""
    length = max(int(length), 1) | 1
    eroded = ndi.minimum_filter1d(mask.view(np.uint8), length, axis=axis, mode="constant")
    return ndi.maximum_filter1d(eroded, length, axis=axis, mode="constant") > 0


def ruled_lines(ink: np.ndarray, long: int, thick: int) -> np.ndarray:
    """Straight horizontal and vertical lines of ``ink``: runs of ``long`` px or more that are
    under ``thick`` px across. Where a line meets a chromosome, the chromosome keeps its pixels."""
    lines = np.zeros(ink.shape, bool)
    for along, across in ((1, 0), (0, 1)):
        # Thin across at every point of a long straight run: the edge of a chromosome or of a
        # chromatid is thin in places, never along a whole run.
        lines |= _runs(ink & ~_runs(ink, across, thick), along, long)
    if lines.any():  # the antialiased rim of a line
        lines = _grow(lines) & ink & ~_thick(ink, thick)
    return lines


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by one pixel (8-connected)."""
    return ndi.maximum_filter(mask.view(np.uint8), size=3) > 0


def _thick(mask: np.ndarray, size: int) -> np.ndarray:
    """Pixels of ``mask`` that hold a ``size`` square (an opening)."""
    size = max(int(size), 1) | 1
    eroded = ndi.minimum_filter(mask.view(np.uint8), size=size)
    return ndi.maximum_filter(eroded, size=size) > 0


def inradius(mask: np.ndarray) -> float:
    """The radius (px) of the largest disc inside a mask: half its thickest width."""
    return float(ndi.distance_transform_edt(np.pad(mask, 1)).max())


DEPTH = 0.4
"""A page whose typical chromosome is at its darkest band less deep than this below the
background (a dim exposure) has every depth scaled up to it, by at most :data:`MOST_GAIN` and
no further than brings its noise to the foreground threshold's fixed floor (0.04)."""

MOST_GAIN = 3.0
"""At most this gain: one grey level of an 8-bit page (JPEG ringing) stays far below the
foreground threshold (0.04, ten levels)."""

PAGE_PIXELS = 500
"""The page is analysed on a copy min-pooled to about this many pixels on its short side (thin
dark lines survive min-pooling); chromosomes stay several pixels wide there."""


def clean_page(image: np.ndarray, chroma: np.ndarray | None = None) -> Page:
    """Take the page furniture out of a dark-on-light karyogram ``image`` (2-D float in [0, 1]).

    ``chroma``: per-pixel colourfulness of the original (``io.Karyogram.chroma``), None for a
    grey image. Returns a :class:`Page`; the image comes back unchanged where nothing is found.
    """
    from napari_karyotype.segmentation.background import background_level, flatten_background

    image = np.asarray(image, dtype=np.float32)
    h, w = image.shape
    flat = flatten_background(image)
    level, noise = background_level(flat)
    t_ink = level - max(4 * noise, 0.04)
    ink_full = flat < t_ink
    f = max(1, min(h, w) // PAGE_PIXELS)
    ink = _pool(ink_full, f, np.max)
    col = None if chroma is None else _pool(np.where(ink_full, chroma, 0), f, np.max)
    grey = _pool(flat, f, np.min)
    sh, sw = ink.shape
    # A ruled line runs longer than any chromosome is wide (a twelfth of the page) and is far
    # thinner than its own length.
    long = max(15, min(sh, sw) // 12)
    lines = ruled_lines(ink, long, max(3, long // 8))
    # A grid (frames side by side, the page around them) is one component reaching across the
    # page both ways and filling little of it: what of it is thinner than a chromosome goes.
    lines |= _grid(ink & ~lines)
    rest = ink & ~lines
    lab, n = ndi.label(rest, structure=np.ones((3, 3), bool))
    furniture = lines.copy()
    objects, parts = [], []
    width, gain = 0.0, 1.0
    blocks, rows, tall = None, None, 0.0
    if n:
        areas = np.bincount(lab.ravel(), minlength=n + 1)
        boxes = ndi.find_objects(lab)
        ids = [i for i in range(1, n + 1) if areas[i] >= 6]
        radius = {i: inradius(lab[boxes[i - 1]] == i) for i in ids}
        ref_r, ref_area = _weighted_radius(ids, radius, areas), 0.0
        chrom_ids = [i for i in ids if radius[i] >= THIN * ref_r]
        if chrom_ids:
            ref_area = float(np.median([areas[i] for i in chrom_ids]))
        near_line = _grow(lines)
        drop = np.zeros(n + 1, bool)
        drop[ids] = True  # thin marks, unless kept below; specks are left to the contours
        marks = set()  # coloured marks, blocks, ticks: no evidence of what the page holds
        for i in chrom_ids:
            sl = boxes[i - 1]
            m = lab[sl] == i
            bh, bw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
            if col is not None and float(np.median(col[sl][m])) > COLOUR_CHROMA:
                marks.add(i)
                continue  # a coloured mark
            if areas[i] > 6 * ref_area and (
                areas[i] > 0.85 * bh * bw  # a banner, a shaded panel, an empty frame
                or ((bw > 0.6 * sw or bh > 0.6 * sh) and _uniform(grey[sl][m], level))
            ):
                marks.add(i)
                continue  # (chromosomes strung along a rule are banded, never uniform)
            if areas[i] < 0.25 * ref_area and near_line[sl][m].any():
                marks.add(i)
                continue  # a tick or junction left on a line, smaller than any chromosome
            drop[i] = False
            objects.append((sl, m))
        furniture |= drop[lab]
        # Everything but the marks tells what the page is: where nuclei took the typical width,
        # the chromosomes went as thin marks above, yet they are the evidence of a metaphase.
        parts = [
            Part(lab[boxes[i - 1]] == i, int(areas[i]), radius[i]) for i in ids if i not in marks
        ]
        # The rows the page's ink stands in, from every part a chromosome could be.
        sizeable = [i for i in ids if i not in marks and areas[i] >= max(6.0, ref_r**2)]
        filled = np.zeros(sh, bool)
        for i in sizeable:
            filled[boxes[i - 1][0]] |= (lab[boxes[i - 1]] == i).any(axis=1)
        rows = bands(filled, ref_r)
        ys = np.flatnonzero(filled)
        tall = float(ys[-1] - ys[0] + 1) / sw if ys.size else 0.0
        # An arrow or a line stub ending on a chromosome.
        tail = _appendages(rest & ~furniture, ref_r)
        if tail.any():
            furniture |= tail
            objects = [(sl, m & ~tail[sl]) for sl, m in objects]
        width = 2.0 * ref_r * f
        # Blocks the shading correction hid (a banner along the border is as wide as its
        # window): the same block rule on the uncorrected image.
        raw = _pool(image, f, np.min)
        raw_level, raw_noise = background_level(raw)
        blocks = _blocks(raw < raw_level - max(4 * raw_noise, 0.04), raw, raw_level, ref_area)
        # A dim exposure: the typical chromosome's darkest band (min-pooled) barely below the
        # background, most of it within the foreground threshold.
        peaks = [level - float(grey[sl][m].min()) for sl, m in objects]
        # Only where the fixed floor, not the noise, sets the foreground threshold: scaling a
        # noisy page scales its noise alike and separates nothing.
        most = min(MOST_GAIN, 0.04 / max(4 * noise, 1e-6))
        gain = float(np.clip(DEPTH / np.median(peaks), 1.0, max(most, 1.0))) if peaks else 1.0
    cleaned = image.copy()
    if gain > 1.0:  # a dim page: every depth below the background scaled alike
        depth = np.clip(level - flat, 0.0, None)
        cleaned = np.clip(image - depth * (gain - 1.0), 0.0, 1.0).astype(np.float32)
    if furniture.any():
        big = np.repeat(np.repeat(furniture, f, axis=0), f, axis=1)[:h, :w]
        kept = np.zeros((sh, sw), bool)
        for sl, m in objects:
            kept[sl] |= m
        kept = np.repeat(np.repeat(kept, f, axis=0), f, axis=1)[:h, :w]
        # The marks' own ink and its antialiased rim, never a kept chromosome's pixels.
        paint = _grow(big & ink_full) & ~(kept & ink_full)
        cleaned[paint] = _background(image, ink_full)[paint]
        furniture = paint
    else:
        furniture = np.zeros((h, w), bool)
    if blocks is not None and blocks.any():
        blocks = np.repeat(np.repeat(blocks, f, axis=0), f, axis=1)[:h, :w]
        blocks = _grow(blocks)
        cleaned[blocks] = float(np.median(image[~blocks]))
        furniture = furniture | blocks
    page = Page(cleaned, furniture, width, gain=gain)
    page.count = len(objects)
    metaphase = metaphase_warning(parts, THIN, rows=rows, tall=tall)
    page.arranged = metaphase is None
    page.warnings = _warnings(objects, len(objects), metaphase)
    return page


THICK_INK = 3
"""Ink thinner than this (px across) sets no region's contrast in :func:`local_contrast`: tick
marks and hairlines (1-2 px) are no chromosome at any resolution a karyogram is segmented at."""


def local_contrast(image: np.ndarray, *, most_gain: float = 4.0) -> np.ndarray:
    """A dark-on-light image whose faint regions (a pale frame, an unevenly exposed pair) are
    deepened to the contrast of the page's darkest ones: each pixel's depth below the background
    is scaled by the page's peak depth over the peak depth around it (an eighth of the page),
    by at most ``most_gain``; no connected piece of ink is taken beyond the page's peak by it
    (a mark drawn at full contrast in a faint frame stays as it is). Peaks are those of ink at
    least :data:`THICK_INK` px thick: a dark tick mark or hairline beside a faint pair would
    leave the pair faint. Empty background (peak within the noise) is left alone."""
    from napari_karyotype.segmentation.background import background_level

    image = np.asarray(image, dtype=np.float32)
    level, noise = background_level(image)
    depth = np.clip(level - image, 0.0, None)
    h, w = image.shape
    f = max(1, min(h, w) // 200)
    # What ink keeps over a whole THICK_INK square (an erosion; the max-pool and max filter
    # below complete the opening): thin marks drop out, chromosomes stay.
    small = _pool(_erode(depth, THICK_INK), f, np.max)
    top = float(np.percentile(small[small > 0], 99)) if (small > 0).any() else 0.0
    floor = max(8 * noise, 0.04)
    if top <= floor:
        return image
    peak = ndi.maximum_filter(small, size=max(3, min(small.shape) // 8))
    peak = ndi.uniform_filter(peak, size=max(3, min(small.shape) // 16))
    gain = np.where(peak > floor, np.clip(top / np.maximum(peak, 1e-6), 1.0, most_gain), 1.0)
    gain = np.repeat(np.repeat(gain.astype(np.float32), f, axis=0), f, axis=1)[:h, :w]
    # Each piece of ink (connected) at most to the page's peak: its own darkest point counts,
    # thin or not (a digit and the line stub it touches are as dark as the page's chromosomes).
    pieces, n = ndi.label(depth > floor, structure=np.ones((3, 3), bool))
    if n:
        darkest = np.zeros(n + 1, np.float32)
        np.maximum.at(darkest, pieces.ravel(), depth.ravel())  # (ndi.maximum: 50 times slower)
        darkest[0] = 0.0  # the background: no limit but the gain's own
        most = (np.float32(top) / np.maximum(darkest, 1e-6))[pieces]
        gain = np.maximum(np.minimum(gain, most), 1.0)
    return np.clip(level - depth * gain, 0.0, 1.0).astype(np.float32)


def _appendages(m: np.ndarray, ref_r: float) -> np.ndarray:
    """Thin, long pieces hanging off a component (an arrow's shaft and head, a line's stub): what
    an opening by half a chromosome width takes away, in pieces longer than a chromosome is wide
    that fill little of their box. Rounded ends and corners are short and stay."""
    size = int(ref_r)
    if size < 3:
        return np.zeros(m.shape, bool)
    residue = m & ~_grow(_thick(np.pad(m, size), size)[size:-size, size:-size])
    lab, n = ndi.label(residue, structure=np.ones((3, 3), bool))
    out = np.zeros(m.shape, bool)
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    for j, sl in enumerate(ndi.find_objects(lab), 1):
        extent = max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        if extent > 4 * ref_r and areas[j] < 0.35 * ref_r * extent:
            out[sl] |= lab[sl] == j
    return out


def _blocks(mask: np.ndarray, grey: np.ndarray, level: float, ref_area: float) -> np.ndarray:
    """Components of ``mask`` far larger than a chromosome that fill their box (banners) or reach
    across the page evenly grey."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    out = np.zeros(mask.shape, bool)
    if n == 0 or ref_area <= 0:
        return out
    sh, sw = mask.shape
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    for i, sl in enumerate(ndi.find_objects(lab), 1):
        if areas[i] <= 6 * ref_area:
            continue
        m = lab[sl] == i
        bh, bw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if areas[i] > 0.85 * bh * bw:  # a banner, with the text printed on it
            out[sl] |= ndi.binary_fill_holes(m)
        elif (bw > 0.6 * sw or bh > 0.6 * sh) and _uniform(grey[sl][m], level):
            out[sl] |= m  # an evenly grey area or frame across the page (not what it encloses)
    return out


def _uniform(values: np.ndarray, level: float) -> bool:
    """True for an evenly grey area (a page or banner), not a banded chromosome: its spread is
    small against its depth below the background."""
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return bool(p90 - p10 < 0.3 * max(level - p50, 1e-3))


def _weighted_radius(ids, radius: dict, areas) -> float:
    """The area-weighted median inradius: the typical chromosome's (marks are many, small)."""
    if not ids:
        return 0.0
    r = np.array([radius[i] for i in ids])
    a = np.array([areas[i] for i in ids], float)
    order = np.argsort(r)
    cum = np.cumsum(a[order])
    return float(r[order][np.searchsorted(cum, cum[-1] / 2)])


def _reference(mask: np.ndarray) -> tuple[float, np.ndarray]:
    """``(typical inradius, labels)`` of the components of ``mask``."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return 0.0, lab
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    boxes = ndi.find_objects(lab)
    ids = [i for i in range(1, n + 1) if areas[i] >= 6]
    radius = {i: inradius(lab[boxes[i - 1]] == i) for i in ids}
    return _weighted_radius(ids, radius, areas), lab


def _grid(mask: np.ndarray) -> np.ndarray:
    """The parts thinner than 0.8 typical chromosome widths of components reaching across 60 %
    of the page both ways while filling under half of their box (frame grids, the page between
    frames)."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    out = np.zeros(mask.shape, bool)
    if n == 0:
        return out
    sh, sw = mask.shape
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    thick = None
    for i, sl in enumerate(ndi.find_objects(lab), 1):
        bh, bw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if bh > 0.6 * sh and bw > 0.6 * sw and areas[i] < 0.5 * bh * bw:
            if thick is None:  # the typical chromosome's, measured once and only if needed
                thick = max(3, int(1.6 * _reference(mask)[0]))
            m = lab[sl] == i
            out[sl] |= m & ~_thick(m, thick)
    return out


def _erode(a: np.ndarray, size: int) -> np.ndarray:
    """The minimum over each ``size`` square (odd; edges repeated): ``ndi.minimum_filter``'s
    result, by shifted minima along each axis (ten times faster on a float page)."""
    out = a
    for axis in (0, 1):
        src, out = out, out.copy()
        n = src.shape[axis]
        for s in range(1, size // 2 + 1):
            late = (slice(None),) * axis + (slice(s, None),)
            early = (slice(None),) * axis + (slice(None, n - s),)
            np.minimum(out[late], src[early], out=out[late])
            np.minimum(out[early], src[late], out=out[early])
    return out


def _pool(a: np.ndarray, f: int, how) -> np.ndarray:
    """Block-reduce ``a`` by ``f`` (edges padded with the edge values)."""
    if f == 1:
        return a
    h, w = a.shape
    ph, pw = -h % f, -w % f
    a = np.pad(a, ((0, ph), (0, pw)), mode="edge")
    return how(a.reshape(a.shape[0] // f, f, a.shape[1] // f, f), axis=(1, 3))


def _background(image: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """The background level around each pixel: the median of the non-ink pixels nearby."""
    values = np.where(ink, np.nan, image)
    f = max(1, min(image.shape) // 100)
    small = values[::f, ::f]
    filled = np.where(np.isnan(small), np.nanmedian(small), small)
    weight = ndi.uniform_filter((~np.isnan(small)).astype(np.float32), size=9)
    total = ndi.uniform_filter(np.where(np.isnan(small), 0, small).astype(np.float32), size=9)
    local = np.where(weight > 0.05, total / np.maximum(weight, 1e-6), filled)
    local = np.repeat(np.repeat(local, f, axis=0), f, axis=1)[: image.shape[0], : image.shape[1]]
    return local.astype(np.float32)


def _split_sideways(objects) -> bool:
    """True if an empty vertical band (no object's box) runs top to bottom through the middle
    half of the page with a third of the objects or more on either side, wider by half than any
    other such band between objects (the gaps between pairs): pages side by side."""
    if not objects:
        return False
    left_edge = min(sl[1].start for sl, _ in objects)
    right = max(sl[1].stop for sl, _ in objects)
    used = np.zeros(right, bool)
    for sl, _ in objects:
        used[sl[1].start : sl[1].stop] = True
    starts = np.array([sl[1].start for sl, _ in objects])
    empty, n_runs = ndi.label(~used[left_edge:])
    if n_runs == 0:
        return False
    runs = [(r.start + left_edge, r.stop + left_edge) for (r,) in ndi.find_objects(empty)]
    lengths = np.array([b - a for a, b in runs])
    for k, (a, b) in enumerate(runs):
        mid = (a + b) / 2
        left_n = int(np.sum(starts < mid))
        if not (right / 4 <= mid <= 3 * right / 4) or min(left_n, len(starts) - left_n) < (
            len(starts) / 3
        ):
            continue
        others = np.delete(lengths, k)
        if others.size == 0 or lengths[k] >= 1.5 * others.max():
            return True
    return False


def _warnings(objects, count: int, metaphase: str | None) -> list[str]:
    """One line per reason the page is not one karyogram: the ``metaphase`` line, and more
    chromosome-like ``objects`` (``(slice, mask)``) than one cell holds."""
    warnings = []
    if metaphase:
        warnings.append(metaphase)
    if count > ONE_CELL * 46 and _split_sideways(objects):
        warnings.append(
            f"page: {count} chromosome-like objects, more than one cell holds: "
            "more than one karyogram? analyse one at a time or draw the rows by hand"
        )
    return warnings
