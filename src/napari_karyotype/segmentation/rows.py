"""Propose one rectangle per karyogram row from the image alone.

Foreground is everything clearly darker than the background; an opening removes thin lines (frame,
underlines) and the strokes of printed text; what is left and not tiny are the chromosomes. Their
vertical extents, merged where they overlap, are the rows. Each row's rectangle encloses its
chromosomes (with their faint edges) plus a small margin that stops short of other ink (numbers,
lines).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.segmentation.background import (  # noqa: F401 - also the rows' API
    BACKGROUND_WINDOW,
    background_level,
    flatten_background,
)
from napari_karyotype.segmentation.page import clean_page, inradius, local_contrast

Shape = tuple[str, np.ndarray]


def foreground_masks(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(loose, core)``: pixels darker than the background at all, and clearly dark ones."""
    from skimage.filters import threshold_otsu

    level, noise = background_level(image)
    loose = image < level - max(4 * noise, 0.04)
    dark = image[loose]
    if dark.size == 0:
        raise KaryotypeError("image has nothing darker than its background: nothing to segment")
    t = threshold_otsu(image[:: max(image.shape[0] // 600, 1), :: max(image.shape[1] // 600, 1)])
    core = image < min(t, level - max(8 * noise, 0.08))
    return loose, core


def _open(mask: np.ndarray, width: int) -> np.ndarray:
    """Opening by a ``width`` square (odd, so centred), as separable min/max filters."""
    width |= 1
    opened = ndi.maximum_filter(ndi.minimum_filter(mask.view(np.uint8), size=width), size=width)
    return opened.astype(bool)


def _objects(core: np.ndarray, width: int) -> tuple[np.ndarray, list]:
    """Label the thick objects of ``core``: lines and text strokes thinner than ``width`` go."""
    lab, n = ndi.label(_open(core, width))
    if n == 0:
        return lab, []
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    objects = ndi.find_objects(lab)
    big = [i for i in range(1, n + 1) if areas[i] >= 20]
    if not big:
        return lab, []
    ref = float(np.median([areas[i] for i in big]))
    keep = [(i, objects[i - 1]) for i in big if areas[i] >= 0.12 * ref]
    return lab, keep


def propose_rows(
    image: np.ndarray, *, margin: int | None = None, clean: bool = True, chroma=None
) -> list[Shape]:
    """One ``("rectangle", (4, 2) vertices)`` per karyogram row, top to bottom.

    ``margin`` (px) around each row's chromosomes defaults to 3 % of the median row height (at
    least 3); it is cut short where other ink (pair numbers, frame lines) would fall inside.
    ``clean``: take the page furniture out first (``page.clean_page``, with ``chroma`` of a
    colour original); False when ``image`` is cleaned already.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise KaryotypeError("propose_rows needs a 2-D grey image")
    if clean:
        image = clean_page(image, chroma).image
    # Per-region contrast first: a pale frame or pair must count as much as a dark one.
    image = local_contrast(flatten_background(image))
    loose, core = foreground_masks(image)
    level, noise = background_level(image)
    foreground_threshold = level - max(4 * noise, 0.04)
    # Stroke width to remove: text and lines are thin compared with chromosome width.
    width = max(3, int(round(min(image.shape) / 130)))
    lab, keep = _objects(core, width)
    if not keep:
        raise KaryotypeError("no chromosomes found in the image")
    # Second pass relative to the chromosomes' own width: what is far thinner (text, even
    # blurred, lines) cannot hold the square and goes.
    radius = np.median([inradius(lab[sl] == i) for i, sl in keep])
    wider = int(0.6 * radius)
    if wider > width:
        lab2, keep2 = _objects(core, wider)
        if keep2:
            lab, keep = lab2, keep2
    # Grow each kept object to its faint edges: the components of the loose mask touching it,
    # thin lines (underlines, frames) opened away so that they do not join in.
    thin = max(3, int(round(min(image.shape) / 200))) | 1  # line thickness to open away
    loose = _open(loose, thin) | (lab > 0)
    loose_lab, _ = ndi.label(loose)
    spans = []
    for i, sl in keep:
        ids = np.unique(loose_lab[sl][lab[sl] == i])
        ids = ids[ids > 0]
        spans.append((sl[0].start, sl[0].stop, set(ids.tolist())))
    spans.sort(key=lambda s: s[0])
    rows: list[list] = []
    for top, bottom, ids in spans:
        if rows and top < rows[-1][1]:
            rows[-1][1] = max(rows[-1][1], bottom)
            rows[-1][2] |= ids
        else:
            rows.append([top, bottom, set(ids)])
    boxes = ndi.find_objects(loose_lab)
    _join_pale(rows, loose_lab, boxes)
    sigma = thin / 3.0
    faint = ndi.gaussian_filter(image, sigma, truncate=2.0) < foreground_threshold
    loose_lab = _join_faint(rows, loose_lab, faint)
    boxes = ndi.find_objects(loose_lab)
    row_boxes = []
    for _, _, ids in rows:
        r0 = min(boxes[i - 1][0].start for i in ids)
        r1 = max(boxes[i - 1][0].stop for i in ids)
        c0 = min(boxes[i - 1][1].start for i in ids)
        c1 = max(boxes[i - 1][1].stop for i in ids)
        row_boxes.append([r0, r1, c0, c1, ids])
    row_boxes = _merge_overlapping(row_boxes)
    heights = [r1 - r0 for r0, r1, *_ in row_boxes]
    if margin is None:
        margin = max(3, int(round(0.03 * float(np.median(heights)))))
    h, w = image.shape
    ink = image < foreground_threshold  # everything printed: chromosomes, numbers, lines
    out = []
    for r0, r1, c0, c1, ids in row_boxes:
        # The row's own ink: its components plus faint edge bits the opening trimmed.
        a0, a1 = max(r0 - margin - thin, 0), min(r1 + margin + thin, h)
        b0, b1 = max(c0 - margin - thin, 0), min(c1 + margin + thin, w)
        win = ink[a0:a1, b0:b1]
        mine = np.isin(loose_lab[a0:a1, b0:b1], list(ids))
        mine = ndi.binary_dilation(mine, iterations=thin) & win
        rr, cc = np.flatnonzero(mine.any(axis=1)), np.flatnonzero(mine.any(axis=0))
        r0, r1, c0, c1 = a0 + rr[0], a0 + rr[-1] + 1, b0 + cc[0], b0 + cc[-1] + 1
        other = np.zeros((h, w), bool)
        other[a0:a1, b0:b1] = win & ~mine
        # Expand each side by up to `margin`, stopping before other ink.
        top = _grow(other[max(r0 - margin, 0) : r0, c0:c1].any(axis=1)[::-1])
        bottom = _grow(other[r1 : r1 + margin, c0:c1].any(axis=1))
        left = _grow(other[r0:r1, max(c0 - margin, 0) : c0].any(axis=0)[::-1])
        right = _grow(other[r0:r1, c1 : c1 + margin].any(axis=0))
        y0, y1 = max(r0 - top, 0), min(r1 - 1 + bottom, h - 1)
        x0, x1 = max(c0 - left, 0), min(c1 - 1 + right, w - 1)
        verts = np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], dtype=float)
        out.append(("rectangle", verts))
    return out


def _merge_overlapping(row_boxes: list) -> list:
    """Rows whose chromosomes span mostly the same height are one row: the cores of a row's
    chromosomes broken at pale centromeres lie above and below one line and start two rows
    there, yet each grows to the whole chromosomes (``[r0, r1, c0, c1, ids]``, top to bottom)."""
    out: list = []
    for box in sorted(row_boxes, key=lambda b: b[0]):
        if out:
            last = out[-1]
            overlap = min(last[1], box[1]) - max(last[0], box[0])
            if overlap >= 0.5 * min(last[1] - last[0], box[1] - box[0]):
                last[:4] = [min(last[0], box[0]), max(last[1], box[1]),
                            min(last[2], box[2]), max(last[3], box[3])]  # fmt: skip
                last[4] = last[4] | box[4]
                continue
        out.append(list(box))
    return out


def _join_pale(rows: list, loose_lab: np.ndarray, boxes) -> None:
    """Add to each row the pale chromosomes beside it: components of the faint-edge mask not in
    any row, at least a fifth of a row member's median size and 0.6 of its median inradius
    (not a thin remnant of a line or mark), lying mostly within the row's
    height (the page furniture is gone, so what is left there is a chromosome too pale for the
    core mask)."""
    taken = set().union(*(ids for _, _, ids in rows)) if rows else set()
    if not taken:
        return
    areas = np.bincount(loose_lab.ravel())
    ref = float(np.median([areas[i] for i in taken]))

    def radius(i: int) -> float:
        return inradius(loose_lab[boxes[i - 1]] == i)

    ref_r = None
    for i, sl in enumerate(boxes, 1):
        if sl is None or i in taken or areas[i] < 0.2 * ref:
            continue
        if ref_r is None:
            ref_r = float(np.median([radius(j) for j in taken]))
        if radius(i) < 0.6 * ref_r:
            continue  # a remnant of a line or a mark, not a chromosome
        top, bottom = sl[0].start, sl[0].stop
        for row in rows:
            if min(bottom, row[1]) - max(top, row[0]) >= 0.5 * (bottom - top):
                row[2].add(i)
                break


def _join_faint(rows: list, loose_lab: np.ndarray, faint: np.ndarray) -> np.ndarray:
    """Add to each row the faint chromosomes beside it that the loose mask holds only in
    fragments (a dim frame's pair, banded down to the background): components of ``faint`` (the
    image smoothed over a line's thickness, below the background level), touching no row's
    member, lying mostly within the row's height and, against the components that hold row
    members, at least a tenth of their median area and 0.6 of their median inradius (not a
    tick or a line remnant). Returns the labels with the joined components as new ids."""
    flab, n = ndi.label(faint, structure=np.ones((3, 3), bool))
    if n == 0 or not rows:
        return loose_lab
    areas = np.bincount(flab.ravel(), minlength=n + 1)
    fboxes = ndi.find_objects(flab)

    def radius(i: int) -> float:
        return inradius(flab[fboxes[i - 1]] == i)

    refs = []  # per row: (median area, median inradius) of the components holding its members
    used: set[int] = set()
    for _, _, ids in rows:
        hit = np.unique(flab[np.isin(loose_lab, list(ids))])
        hit = [int(i) for i in hit if i > 0]
        used.update(hit)
        refs.append(
            (float(np.median(areas[hit])), float(np.median([radius(i) for i in hit])))
            if hit
            else None
        )
    out = loose_lab.copy()
    next_id = int(loose_lab.max()) + 1
    for i, sl in enumerate(fboxes, 1):
        if sl is None or i in used:
            continue
        top, bottom = sl[0].start, sl[0].stop
        for row, ref in zip(rows, refs, strict=True):
            if ref is None or min(bottom, row[1]) - max(top, row[0]) < 0.5 * (bottom - top):
                continue
            if areas[i] >= 0.1 * ref[0] and radius(i) >= 0.6 * ref[1]:
                out[sl][flab[sl] == i] = next_id
                row[2].add(next_id)
                next_id += 1
            break
    return out


def _grow(blocked: np.ndarray) -> int:
    """How many steps one can take outwards before the first blocked line (one short of it)."""
    hits = np.flatnonzero(blocked)
    if hits.size == 0:
        return int(blocked.size)
    return max(int(hits[0]) - 1, 0)
