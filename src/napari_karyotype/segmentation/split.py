"""Split touching chromosomes, but never one chromosome into its two sister chromatids.

A blob is cut where a light valley (nearly background) separates side-by-side dark cores into
parts of similar size (:func:`valley_split`). At high resolution the pale line between the two
sister chromatids of one chromosome is such a valley too; what tells the two cases apart is the
width of the parts against the cell's own chromosomes (:func:`keep_split`): homologs side by side
are each as wide as a chromosome, sister chromatids are each about half as wide and together
make one chromosome's width.

At low resolution the gap between homologs touching along their length blurs to a shallow
valley; a blob twice a chromosome's width is cut at a valley relative to its own contrast
(:func:`pair_split`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

SPLIT_BALANCE = 0.4
"""Touching chromosomes are split only into parts of similar size (smallest / largest area at
least this): homologs side by side are alike; a lobe or an arm is not."""

CHROMATID_WIDTH = 0.72
"""Parts narrower than this fraction of the width of the cell's chromosomes may be sister
chromatids (each about half a chromosome wide)..."""

THIN = 0.6
"""...and parts narrower than this fraction are."""

ONE_WIDTH = (0.85, 1.5)
"""A blob whose width is within these fractions of a chromosome's is one chromosome (two
homologs side by side are about twice as wide)."""

PAIR_WIDTH = 1.6
"""A blob at least this many times as wide as the cell's chromosomes of its length may be two
homologs touching along their length (:func:`pair_split`)..."""

PAIR_VALLEY = 0.25
"""...cut where a valley lighter than its dark cores by this fraction of the blob's own
contrast runs between them (at low resolution the gap between touching homologs is blurred to
well under the page's valley threshold)."""

SEAM = 0.25
"""Parts of a blob closer than this many chromosome widths lie along a seam..."""

PAIR_SEAM = 0.5
"""...which, for two homologs side by side, runs at least this fraction of the shorter one."""


def valley_split(m: np.ndarray, img: np.ndarray, t_split: float, min_piece: float):
    """Parts of a blob where a light valley separates side-by-side dark cores; ``[m]`` if none.

    ``t_split``: the valley must be lighter than this; ``min_piece``: smallest core (px).
    The parts come from a watershed on the intensity seeded by the cores.
    """
    values = img[m]
    if values.size == 0 or float(values.min()) >= t_split:
        return [m]
    for t in np.linspace(float(values.max()), t_split, 12):
        parts = _parts(m, img, m & (img < t), min_piece)
        if parts is not None:
            return parts
    # The deepest cores eroded by a pixel: a bridge one pixel thin between two cores (a valley
    # not quite as light as the threshold in one place) does not make them one.
    parts = _parts(m, img, ndi.binary_erosion(m & (img < t_split)), min_piece)
    return [m] if parts is None else parts


def pair_split(m, img, level: float, singles, min_piece: float) -> list[np.ndarray]:
    """Parts of a blob about twice as wide as a chromosome (:data:`PAIR_WIDTH`) where a valley
    relative to the blob's own contrast (:data:`PAIR_VALLEY`) separates two chromosome-wide parts
    each running most of its length; ``[m]`` otherwise. ``level``: the background intensity."""
    if not singles or width(m) < PAIR_WIDTH * reference_width(length(m), singles):
        return [m]
    core = float(np.percentile(img[m], 10))
    parts = valley_split(m, img, core + PAIR_VALLEY * (level - core), min_piece)
    if len(parts) != 2 or not keep_split(parts, singles):
        return [m]
    spans = [_row_span(p) for p in parts]
    if min(spans) < 0.6 * _row_span(m):
        return [m]  # side by side along the whole blob, not an arm bent off it
    # Homologs lie close along their length (the seam: where the parts are within a quarter of
    # a width of each other); a chromosome bent into a U is cut across at its bend, its arms
    # apart above it (a seam one width long).
    r = max(1, int(round(SEAM * reference_width(length(m), singles))))
    near = ndi.binary_dilation(np.pad(parts[0], r), iterations=r)[r:-r, r:-r] & parts[1]
    seam = np.flatnonzero(near.any(axis=1))
    if seam.size == 0 or seam[-1] - seam[0] + 1 < PAIR_SEAM * min(spans):
        return [m]
    return parts


def _row_span(m: np.ndarray) -> int:
    rows = np.flatnonzero(m.any(axis=1))
    return int(rows[-1] - rows[0] + 1)


def _parts(m: np.ndarray, img: np.ndarray, core: np.ndarray, min_piece: float):
    """The watershed parts of ``m`` seeded by the side-by-side components of ``core`` of at
    least ``min_piece`` px and of similar size; None if there are no such two."""
    from skimage.segmentation import watershed

    core_lab, k = ndi.label(core)
    if k < 2:
        return None
    sizes = np.bincount(core_lab.ravel(), minlength=k + 1)
    sizes[0] = 0
    big = [i for i in np.argsort(sizes)[::-1] if sizes[i] >= min_piece]
    if len(big) < 2 or not _side_by_side(core_lab, big):
        return None
    markers = np.zeros(m.shape, np.int32)
    for j, i in enumerate(big, 1):
        markers[core_lab == i] = j
    parts = watershed(img, markers, mask=m)
    areas = np.bincount(parts.ravel(), minlength=len(big) + 1)[1:]
    if areas.min() < SPLIT_BALANCE * areas.max():
        return None  # an arm or a lobe, not a second chromosome of similar size
    out = [parts == j for j in range(1, len(big) + 1)]
    return out if _across(out) else None


def _side_by_side(core_lab: np.ndarray, ids) -> bool:
    """True if the pieces sit next to each other (rows overlap), as homologs in a karyogram do;
    pieces stacked along the chromosome (pale bands across it) do not count."""
    boxes = ndi.find_objects(core_lab)
    spans = [(boxes[i - 1][0].start, boxes[i - 1][0].stop) for i in ids]
    for a in range(len(spans)):
        for b in range(a + 1, len(spans)):
            (a0, a1), (b0, b1) = spans[a], spans[b]
            overlap = min(a1, b1) - max(a0, b0)
            if overlap < 0.5 * min(a1 - a0, b1 - b0):
                return False
    return True


def _across(parts: list[np.ndarray]) -> bool:
    """True if every two parts lie side by side: the line between their centres runs more
    across the row than along it. Homologs touching in a row stand next to each other; the two
    parts of one chromosome cut across at a pale band (bent or slanted, so that their rows
    overlap) lie one above the other."""
    centres = [np.array(np.nonzero(p), float).mean(axis=1) for p in parts]
    for a in range(len(centres)):
        for b in range(a + 1, len(centres)):
            along, across = np.abs(centres[b] - centres[a])
            if along > across:
                return False
    return True


def _moments(mask: np.ndarray) -> tuple[int, float]:
    """Area and length (major axis of the ellipse with the same second moments) of a mask."""
    rr, cc = np.nonzero(mask)
    if rr.size < 3:
        return int(rr.size), float(max(rr.size, 1))
    cov = np.cov(np.vstack([rr, cc]).astype(float)) + np.eye(2) / 12.0  # pixels have extent
    return int(rr.size), 4.0 * float(np.sqrt(np.linalg.eigvalsh(cov)[-1]))


def width(mask: np.ndarray) -> float:
    """Mean width (px) of an elongated object: its area over its length. Sister chromatids
    splayed apart, as in an X-shaped chromosome, still count as one chromosome's width."""
    area, length = _moments(mask)
    return area / length


def length(mask: np.ndarray) -> float:
    """Length (px) of an elongated object along its main axis."""
    return _moments(mask)[1]


def is_chromatid(part: np.ndarray, singles: list[tuple[float, float]]) -> bool:
    """Whether ``part`` is too narrow for a chromosome: under :data:`CHROMATID_WIDTH` of the
    width of the cell's single chromosomes of similar length (within 1.5 times; small
    chromosomes are narrower in some preparations). ``singles``: their ``(length, width)``."""
    if not singles:
        return False
    return width(part) < CHROMATID_WIDTH * reference_width(length(part), singles)


def reference_width(ln: float, singles: list[tuple[float, float]]) -> float:
    """Median width of the cell's single chromosomes about ``ln`` long (within 1.5 times; all
    of them where fewer than 3 are)."""
    lengths, widths = np.array(singles, dtype=float).T
    near = (lengths >= ln / 1.5) & (lengths <= ln * 1.5)
    return float(np.median(widths[near] if near.sum() >= 3 else widths))


def keep_split(parts: list[np.ndarray], singles: list[tuple[float, float]]) -> bool:
    """Whether a split into ``parts`` is two chromosomes, not the two chromatids of one.

    Chromatids: a part far narrower than a chromosome (:data:`THIN`), or one narrower than
    :data:`CHROMATID_WIDTH` while the whole is one chromosome's width (:data:`ONE_WIDTH`).
    Widths are against the cell's single chromosomes of similar length (:func:`is_chromatid`).
    """
    if not singles:
        return True
    ratios = [width(p) / reference_width(length(p), singles) for p in parts]
    if min(ratios) < THIN:
        return False
    if min(ratios) >= CHROMATID_WIDTH:
        return True
    whole = np.logical_or.reduce(parts)
    lo, hi = ONE_WIDTH
    return not lo <= width(whole) / reference_width(length(whole), singles) <= hi
