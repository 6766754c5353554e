"""From the contours' foreground to one mask per chromosome, judged against the cell's own.

The foreground of every shape is cut into blobs; what a chromosome cannot be (debris, strokes of
printed text, lines) goes by size and thickness relative to the cell's median blob; touching
chromosomes are split (:mod:`.split`), unless the parts are sister chromatids of one chromosome.
All references are the cell's own (medians over the shapes segmented together), so the rules hold
at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from napari_karyotype.segmentation import split

MIN_THICK = 0.35
"""Blobs whose inradius is under this fraction of their row's median are strokes of text, lines
or debris: every chromosome, the smallest included, is about as wide as the others."""


@dataclass
class _Blob:
    region: int
    sl: tuple[slice, slice]
    mask: np.ndarray
    area: int
    thick: float
    parts: list = field(default_factory=list)


def chromosomes(
    regions,
    min_size: int | None,
    t_split: float,
    level: float | None = None,
    *,
    arranged: bool = True,
) -> list[list[np.ndarray]]:
    """Per region ``(foreground, image crop[, faint mask])``, its chromosome masks (crop
    coordinates), each row read left to right. The faint mask (the smoothed image below a lower
    threshold) lets a faint chromosome grow to its outline (:func:`_grow_faint`). ``level``: the
    background intensity; with it, blobs twice a chromosome's width are cut at a valley relative
    to their own contrast (:func:`.split.pair_split`). ``arranged``: the regions are rows of an
    arranged karyogram, where chromosomes stand side by side, so pieces one above the other are
    one chromosome broken across (:func:`_join`); on a raw metaphase chromosomes lie end to end
    as often, and such pieces stay apart."""
    blobs = [b for r, (fg, *_) in enumerate(regions) for b in _blobs(r, fg)]
    cand = [b for b in blobs if b.area >= 16 and b.thick >= 1.5]
    out: list[list[np.ndarray]] = [[] for _ in regions]
    if not cand:
        return out
    # Debris against the row's own chromosomes (a row of small ones has small debris limits).
    kept = []
    limits = {}
    for r in range(len(regions)):
        mine = [b for b in cand if b.region == r]
        if not mine:
            continue
        ref_area = float(np.median([b.area for b in mine]))
        ref_thick = float(np.median([b.thick for b in mine]))
        limits[r] = min_size if min_size is not None else max(16, 0.1 * ref_area)
        kept += [b for b in mine if b.area >= limits[r] and b.thick >= MIN_THICK * ref_thick]
    for b in kept:
        crop = regions[b.region][1][b.sl]
        min_piece = max(limits[b.region], 0.15 * b.area)
        b.parts = split.valley_split(b.mask, crop, t_split, min_piece)
    # Sister chromatids or homologs? Judged against the chromosomes that stand alone.
    singles = [(split.length(b.mask), split.width(b.mask)) for b in kept if len(b.parts) == 1]
    for b in kept:
        if len(b.parts) > 1 and not split.keep_split(b.parts, singles):
            b.parts = [b.mask]
    single_areas = [b.area for b in kept if len(b.parts) == 1]
    # Homologs cut apart along their whole length are whole chromosomes: no piece of another.
    pairs: list[list[np.ndarray]] = [[] for _ in regions]
    if level is not None:
        for b in kept:
            if len(b.parts) == 1:
                crop = regions[b.region][1][b.sl]
                min_piece = max(limits[b.region], 0.15 * b.area)
                parts = split.pair_split(b.mask, crop, level, singles, min_piece)
                if len(parts) > 1:
                    b.parts = []
                    pairs[b.region] += [_full(regions[b.region][0].shape, b.sl, p) for p in parts]
    for b in kept:
        out[b.region] += [_full(regions[b.region][0].shape, b.sl, p) for p in b.parts]
    ref_width = float(np.median([w for _, w in singles])) if singles else 0.0
    if ref_width > 0:
        out = [_join(objs, ref_width, singles, arranged) for objs in out]
    out = [objs + mine for objs, mine in zip(out, pairs, strict=True)]
    # A faint chromosome is judged by its whole outline, not by the darkest bands that the
    # foreground holds of it (those are as thin as a line).
    for objs, (_, crop, *faint) in zip(out, regions, strict=True):
        if faint:
            _grow_faint(objs, faint[0], crop, t_split)
    if ref_width > 0:
        ref_area = float(np.median([b.area for b in kept if len(b.parts) == 1] or single_areas))
        out = [_not_chromosomes(objs, ref_width, ref_area) for objs in out]
    for objs in out:
        # Left to right, then top to bottom: how one reads a karyogram row.
        objs.sort(
            key=lambda o: (np.flatnonzero(o.any(axis=0))[0], np.flatnonzero(o.any(axis=1))[0])
        )
    return out


def _full(shape, sl, part: np.ndarray) -> np.ndarray:
    """``part`` (a blob's crop) placed in a mask of the region's ``shape``."""
    full = np.zeros(shape, bool)
    full[sl] = part
    return full


FAINT_SHARE = 0.5
"""A chromosome is faint when most of its pixels (the median) are lighter than the valley
threshold (half the page's contrast; a dark speck of noise does not count) and the foreground
threshold holds less than this share of its component of the faint mask (a pair in a dim
frame: only its darkest bands are foreground)."""


def _grow_faint(objs: list[np.ndarray], faint: np.ndarray, crop, t_split: float) -> None:
    """Grow each faint chromosome (in place) to its component of the ``faint`` mask, where that
    component holds no other chromosome. Dark chromosomes, and pieces cut by the shape's edge
    (touching its bounding box), stay as they are; nothing new is added."""
    if not objs:
        return
    lab, n = ndi.label(faint, structure=np.ones((3, 3), bool))
    if n == 0:
        return
    which = np.zeros(faint.shape, np.int64)  # object number + 1 (objects do not overlap)
    for k, o in enumerate(objs):
        which[o] = k + 1
    both = (which > 0) & (lab > 0)
    pairs = np.unique(lab[both] * (len(objs) + 1) + which[both])
    comp, owner = np.divmod(pairs, len(objs) + 1)
    ids, counts = np.unique(comp, return_counts=True)
    area = np.bincount(lab.ravel(), minlength=n + 1)
    boxes = ndi.find_objects(lab)
    for i in ids[counts == 1]:
        k = int(owner[comp == i][0]) - 1
        o = objs[k]
        if _at_border(o):
            continue  # a piece of a chromosome cut by the shape's edge: its pale end
        if np.count_nonzero(o) < FAINT_SHARE * area[i] and float(np.median(crop[o])) >= t_split:
            sl = boxes[i - 1]
            objs[k] = objs[k].copy()
            objs[k][sl] |= lab[sl] == i


def _at_border(o: np.ndarray) -> bool:
    """Whether a mask touches the edge of its crop (the shape's bounding box)."""
    return bool(o[0].any() or o[-1].any() or o[:, 0].any() or o[:, -1].any())


def _blobs(region: int, fg: np.ndarray) -> list[_Blob]:
    lab, n = ndi.label(fg, structure=np.ones((3, 3), bool))
    out = []
    for i, sl in enumerate(ndi.find_objects(lab), 1):
        if sl is None:
            continue
        m = lab[sl] == i
        thick = float(ndi.distance_transform_edt(np.pad(m, 1)).max())
        out.append(_Blob(region, sl, m, int(m.sum()), thick))
    return out


STACK_GAP = 0.5
"""Pieces one above the other, closer than this many chromosome widths, are one chromosome
broken at a pale band or centromere (in a karyogram row chromosomes stand side by side)."""

AXIS_GAP = 2.5
"""Pieces one above the other that lie along one axis (each runs towards the other), closer
than this many chromosome widths, are one chromosome broken at a faint centromere or band (in
a row chromosomes stand side by side, never one above the other; on a fluorescent page the
heterochromatin of chromosome 1 can stay unlit over two widths)."""

AXIS_ANGLE = 30.0
"""An elongated piece runs towards another when its long axis is within this many degrees of
the line between their centres (a chromosome bent at its centromere or heterochromatin slants
each piece off that line)."""

SISTER_GAP = 0.25
"""Two chromatid-wide pieces side by side closer than this many chromosome widths are the
sister chromatids of one chromosome."""

SISTERS_WIDTH = 1.2
"""Two sister chromatids together are at most this many chromosome widths wide (two thin
homologs side by side are wider)."""

LINE_WIDTH = 0.4
"""Objects narrower than this fraction of the cell's chromosome width are lines or strokes."""

TOO_LONG = 8.0
"""Objects whose box is longer than this many typical chromosome lengths (the cell's median
area over its median width) are a field's edge, a banner or a background band: chromosome 1 is
about twice the median length, a tangle of a few in a metaphase a few times. So is an object
reaching across 90 % of a region's long side (a row's width), if that is at least 3 typical
lengths (a row's band of grey field or banner): no chromosome spans a row of several. (Across a
row's short side, its height, the longest chromosome of the row does reach.)"""

MIN_SOLIDITY = 0.45
"""Objects filling less of their convex hull than this are ragged debris or glyphs, not a
chromosome (a bent chromosome fills about two thirds)."""


def _join(objs: list[np.ndarray], ref_width: float, singles, arranged: bool) -> list[np.ndarray]:
    """Join the pieces of one chromosome: pieces one above the other with a small gap (broken
    at a pale band; only in ``arranged`` rows), and two side-by-side pieces each only a
    chromatid wide with a hairline gap (sister chromatids parted down to the background)."""
    objs = list(objs)
    changed = True
    while changed and len(objs) > 1:
        changed = False
        boxes = [_box(o) for o in objs]
        for a in range(len(objs)):
            for b in range(a + 1, len(objs)):
                if _pieces_of_one(
                    objs[a], objs[b], boxes[a], boxes[b], ref_width, singles, arranged
                ):
                    objs[a] = objs[a] | objs[b]
                    del objs[b]
                    changed = True
                    break
            if changed:
                break
    return objs


def _pieces_of_one(ma, mb, box_a, box_b, ref_width: float, singles, arranged: bool) -> bool:
    (ra0, ra1, ca0, ca1), (rb0, rb1, cb0, cb1) = box_a, box_b
    col_overlap = min(ca1, cb1) - max(ca0, cb0)
    row_overlap = min(ra1, rb1) - max(ra0, rb0)
    if col_overlap >= 0.6 * min(ca1 - ca0, cb1 - cb0):
        if not arranged:
            return False  # end to end on a metaphase: two chromosomes as often as one
        gap = -row_overlap
        if gap < 0 or gap > AXIS_GAP * ref_width:
            return False
        if gap > STACK_GAP * ref_width and not _along_one_axis(ma, mb):
            return False
        return split.width(ma | mb) <= 1.5 * ref_width  # not side by side after all
    if row_overlap >= 0.6 * min(ra1 - ra0, rb1 - rb0):
        gap = -col_overlap
        if gap > SISTER_GAP * ref_width:
            return False
        sub = (slice(min(ra0, rb0), max(ra1, rb1)), slice(min(ca0, cb0), max(ca1, cb1)))
        a, b = ma[sub], mb[sub]
        if not (split.is_chromatid(a, singles) and split.is_chromatid(b, singles)):
            return False
        # Sisters run the same length and together make one chromosome's width.
        la, lb = split.length(a), split.length(b)
        if min(la, lb) < 0.8 * max(la, lb):
            return False
        across = max(ca1, cb1) - min(ca0, cb0)  # side by side: the pair's width
        return across <= SISTERS_WIDTH * split.reference_width(max(la, lb), singles)
    return False


def _along_one_axis(ma: np.ndarray, mb: np.ndarray) -> bool:
    """Whether two pieces lie along one axis: each elongated piece's long axis points (within
    :data:`AXIS_ANGLE`) along the line between the pieces' centres; a roundish piece (a short
    arm) has no axis and does not object."""
    centres, axes = [], []
    for m in (ma, mb):
        rr, cc = np.nonzero(m)
        centres.append(np.array([rr.mean(), cc.mean()]))
        if rr.size < 6:
            axes.append(None)
            continue
        evals, evecs = np.linalg.eigh(np.cov(np.vstack([rr, cc]).astype(float)))
        axes.append(evecs[:, 1] if evals[1] >= 2.25 * max(evals[0], 0.25) else None)
    d = centres[1] - centres[0]
    norm = float(np.hypot(*d))
    if norm == 0:
        return False
    cos_max = np.cos(np.radians(AXIS_ANGLE))
    return all(v is None or abs(float(v @ d)) / norm >= cos_max for v in axes)


def _not_chromosomes(objs: list[np.ndarray], ref_width: float, ref_area: float) -> list:
    """Drop what no chromosome looks like, judged against the cell's chromosome width and
    area: lines (much narrower and long), small ragged debris (fills little of its hull) and
    anything far longer than a chromosome (:data:`TOO_LONG`). A chromosome that a line or an
    arrow touches keeps its own pixels (:func:`_off_the_line`)."""
    out = []
    typical = ref_area / ref_width
    for o in objs:
        r0, r1, c0, c1 = _box(o)
        m = o[r0:r1, c0:c1]
        along = int(o.shape[1] >= o.shape[0])  # the region's long side (a row's width)
        extent = o.shape[along]
        if max(m.shape) > TOO_LONG * typical or (
            m.shape[along] >= 0.9 * extent and extent >= 3 * typical
        ):
            continue
        if _thin_or_line(m, ref_width):
            m = _off_the_line(m, ref_width, ref_area)
            if m is None or _thin_or_line(m, ref_width):
                continue
            o = np.zeros_like(o)
            o[r0:r1, c0:c1] = m
        if _ragged(m, ref_area):
            continue  # small and ragged (a bent or X-shaped chromosome is larger)
        out.append(o)
    return out


def _thin_or_line(m: np.ndarray, ref_width: float) -> bool:
    return split.width(m) < LINE_WIDTH * ref_width or _line_like(m, ref_width)


def _ragged(m: np.ndarray, ref_area: float) -> bool:
    from skimage.morphology import convex_hull_image

    return bool(
        m.sum() < 0.5 * ref_area and m.sum() / max(convex_hull_image(m).sum(), 1) < MIN_SOLIDITY
    )


def _off_the_line(m: np.ndarray, ref_width: float, ref_area: float) -> np.ndarray | None:
    """What of a line-like object is as thick as a chromosome and twice as thick as the line
    (holds a disc of 0.6 chromosome widths and of the line's own thickness, which neither the
    line nor its crossings do) and as large as a chromosome (a fifth of the typical area), with
    its edges; None where nothing is. A line, tick or arrow touching a chromosome joins it in
    the foreground; the chromosome must not go with it."""
    from skimage.morphology import disk

    r = max(1, int(round(max(0.3 * ref_width, _thickness(m)))))
    core = ndi.binary_opening(np.pad(m, r), structure=disk(r))[r:-r, r:-r]
    lab, n = ndi.label(core)
    if n == 0:
        return None
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    big = np.flatnonzero(areas >= 0.2 * ref_area)
    big = big[big > 0]
    if big.size == 0:
        return None
    keep = np.isin(lab, big)
    return ndi.binary_dilation(keep, structure=disk(1), iterations=max(1, r // 2)) & m


def _line_like(m: np.ndarray, ref_width: float) -> bool:
    """A frame or rule: long (over 2.5 chromosome widths) and, across most of its length,
    thinner than 0.6 of a chromosome width; and long against its own thickness (at least
    :data:`LINE_ASPECT` times) or carrying a tick or crossing far wider than itself. A small
    chromosome of a low-resolution page is as thin, but short against its own width and about
    as wide all along."""
    if max(m.shape) < 2.5 * ref_width:
        return False
    spans = _spans(m)
    thin = float(np.median(spans))
    if thin >= 0.6 * ref_width:
        return False
    return bool(max(m.shape) >= LINE_ASPECT * thin or spans.max() > CROSSING * thin)


def _spans(m: np.ndarray) -> np.ndarray:
    """The object's extent across its long side, at every row (column) along it."""
    spans = m.sum(axis=1) if m.shape[0] >= m.shape[1] else m.sum(axis=0)
    return spans[spans > 0]


def _thickness(m: np.ndarray) -> float:
    """A line's thickness: the median of :func:`_spans`."""
    return float(np.median(_spans(m)))


LINE_ASPECT = 6.0
"""A thin object at least this many times as long as it is thick is a line (a chromosome,
small ones included, is at most about five of its own widths long)."""

CROSSING = 2.5
"""A thin object somewhere this many times wider than its median thickness carries a tick or
a crossing line (a cross, a tick mark); a chromosome's width varies far less along it."""


def _box(o: np.ndarray) -> tuple[int, int, int, int]:
    rr, cc = np.flatnonzero(o.any(axis=1)), np.flatnonzero(o.any(axis=0))
    return int(rr[0]), int(rr[-1]) + 1, int(cc[0]), int(cc[-1]) + 1
