"""Corrections of a metaphase's segmentation: cut, merge, cross, drop, restore, separate,
relabel and verify.

A metaphase cell (:class:`MetaphaseCell`) is its objects (``segmentation.objects.SpreadObject``:
every chromosome whole, crossing ones overlapping, nuclei and debris left out) and what follows
from them: the painted labels, the features table, the summary and the karyogram. Each
correction takes a list of objects and returns a **new** one (nothing is changed in place, so
undo is keeping the previous cell); :func:`correct` then classifies the cell again at the scale
it had (the untouched chromosomes read exactly as before, verified ones never change) and
re-arranges its karyogram. Objects the user made or touched get score 1: the user's word, not
in doubt (``cell.complete``). Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from napari_karyotype.cell.complete import USER_SCORE
from napari_karyotype.cell.features import CellSummary
from napari_karyotype.errors import KaryotypeError
from napari_karyotype.segmentation.objects import SpreadObject, crop_to_mask, paint, tight_box

SLIVER = 0.05
"""A piece of a cut smaller than this share of the chromosome (or 12 px) joins its neighbour."""

AXIS_REACH = 1.0
"""Pixels of the other chromosome within this many half-widths of a chromosome's long axis
(and within its length) are its own part hidden by the crossing."""


KEEP_UNFOUND = 0.5
"""Separating again: a chromosome of the region whose pixels the new ones cover less than this
share is kept as it was (the segmenter did not find it again)."""


@dataclass(frozen=True)
class MetaphaseCell:
    """A metaphase and everything that follows from its objects."""

    image: np.ndarray
    """2-D float dark-on-light."""
    objects: tuple
    """``SpreadObject``s: chromosomes (whole), nuclei and debris."""
    labels: np.ndarray
    """int32 chromosomes painted (a shared pixel goes to one)."""
    table: pd.DataFrame
    """The chromosomes' features table (``cell.features``)."""
    summary: CellSummary
    karyogram: np.ndarray
    shared: dict = field(default_factory=dict)
    """``{(a, b): pixels}`` chromosomes ``a < b`` share (crossings)."""

    @property
    def chromosomes(self) -> list[SpreadObject]:
        return [o for o in self.objects if o.kind == "chromosome"]

    @property
    def left_out(self) -> list[SpreadObject]:
        return [o for o in self.objects if o.kind != "chromosome"]

    def left_out_labels(self) -> np.ndarray:
        """int32 image of the nuclei and debris (each its own label)."""
        out = np.zeros(self.labels.shape, np.int32)
        for o in self.left_out:
            r0, c0, r1, c1 = o.box
            out[r0:r1, c0:c1][o.mask] = o.label
        return out

    def object(self, label: int) -> SpreadObject:
        for o in self.objects:
            if o.label == int(label):
                return o
        raise KaryotypeError(f"label {label} is not an object of this cell")


# ------------------------------------------------------------------------------ the cell
def _judged(objects, table: pd.DataFrame) -> list[SpreadObject]:
    """Objects as ``completeness`` should judge them: a verified chromosome is not in doubt."""
    verified = set(table.loc[table["verified"].astype(bool), "label"].astype(int))
    return [replace(o, score=USER_SCORE) if o.label in verified else o for o in objects]


def in_doubt(objects, table: pd.DataFrame) -> list[int]:
    """Labels a reviewer should look at, least sure first: the chromosomes the segmenter found
    with little certainty (under ``cell.complete.DOUBT``), then those the CNN is unsure of
    (``cell.features.doubtful_labels``); a verified chromosome never."""
    from napari_karyotype.cell.complete import DOUBT
    from napari_karyotype.cell.features import doubtful_labels

    chromosomes = [o for o in _judged(objects, table) if o.kind == "chromosome"]
    found = [o.label for o in sorted(chromosomes, key=lambda o: o.score) if o.score < DOUBT]
    return found + [v for v in doubtful_labels(table) if v not in found]


def summary_of(objects, table: pd.DataFrame, scale: float | None) -> CellSummary:
    """The cell summary, no karyotype claimed where the spread is not complete; its
    ``in_doubt`` holds the segmenter's doubts as well as the CNN's (:func:`in_doubt`)."""
    from napari_karyotype.cell.complete import completeness
    from napari_karyotype.cell.features import on_page, summarize

    summary = replace(summarize(table, scale), in_doubt=in_doubt(objects, table))
    judged = _judged(objects, table)
    return on_page(summary, completeness(judged, summary.count, summary.iscn))


def settle(image, objects, table: pd.DataFrame, scale: float | None = None) -> MetaphaseCell:
    """A cell from objects and a table already made for them (restore, relabel): no CNN."""
    from napari_karyotype.cell.karyogram import arrange_karyogram

    objects = tuple(objects)
    painted = paint(list(objects), np.asarray(image).shape[:2])
    chrom = [o for o in objects if o.kind == "chromosome"]
    summary = summary_of(objects, table, scale)
    karyogram = arrange_karyogram(image, painted.labels, table, objects=chrom)
    return MetaphaseCell(image, objects, painted.labels, table, summary, karyogram, painted.shared)


def classify(
    image, objects, *, classifier=None, previous: pd.DataFrame | None = None, scale=None
) -> MetaphaseCell:
    """Classify the chromosomes of ``objects`` and build the cell. ``previous``: the table before
    (its verified rows keep their class); ``scale``: the cell's size scale (None: estimated)."""
    from napari_karyotype.cell.features import classify_cell

    objects = tuple(objects)
    image = np.asarray(image)
    painted = paint(list(objects), image.shape[:2])
    chrom = [o for o in objects if o.kind == "chromosome"]
    if not chrom:
        raise KaryotypeError("no chromosome left in the cell")
    table, summary = classify_cell(
        image, painted.labels, classifier=classifier, scale=scale, verified=previous,
        objects=chrom,
    )  # fmt: skip
    return settle(image, objects, table, summary.scale)


def from_analysis(analysis) -> MetaphaseCell:
    """The cell of ``pipeline.analyze.analyze_image``'s result on a metaphase."""
    if not analysis.objects:
        raise KaryotypeError("not a metaphase: no objects to correct")
    return settle(analysis.image, analysis.objects, analysis.features, analysis.summary.scale)


def correct(cell: MetaphaseCell, objects, classifier=None) -> MetaphaseCell:
    """The cell after a correction gave it ``objects``: classified again at its own scale."""
    return classify(
        cell.image, objects, classifier=classifier, previous=cell.table, scale=cell.summary.scale
    )


def relabel(cell: MetaphaseCell, label: int, cls: str | None) -> MetaphaseCell:
    """The cell with chromosome ``label`` set to class ``cls`` (verified); None takes it back."""
    from napari_karyotype.cell.features import relabel as _relabel

    table = _relabel(cell.table, label, cls)
    return settle(cell.image, cell.objects, table, cell.summary.scale)


def verify(cell: MetaphaseCell, labels=None) -> MetaphaseCell:
    """The cell with chromosomes ``labels`` (default: every one) verified as they are: the user
    has checked them against the spread and the karyogram and signs them. Their classes stay;
    they are no longer in doubt, so a complete cell's karyotype is claimed."""
    table = cell.table.copy()
    chosen = table["label"].to_numpy() if labels is None else [int(lab) for lab in labels]
    unknown = set(chosen) - set(table["label"].astype(int))
    if unknown:
        raise KaryotypeError(f"label {min(unknown)} is not a chromosome of the cell")
    table.loc[table["label"].isin(chosen), "verified"] = True
    return settle(cell.image, cell.objects, table, cell.summary.scale)


# ------------------------------------------------------------------------- the corrections
def _next_label(objects) -> int:
    return max((int(o.label) for o in objects), default=0) + 1


def _made(label: int, mask: np.ndarray, kind: str = "chromosome") -> SpreadObject:
    """An object of a full-image mask, its box cut to its pixels."""
    box = tight_box(mask)
    if box is None:
        raise KaryotypeError("the correction leaves an empty object")
    r0, c0, r1, c1 = box
    return SpreadObject(int(label), kind, box, mask[r0:r1, c0:c1].copy(), USER_SCORE)


def _find(objects, label: int, kinds=("chromosome",)) -> SpreadObject:
    for o in objects:
        if o.label == int(label):
            if o.kind not in kinds:
                raise KaryotypeError(f"label {label} is a {o.kind}, not a {' or '.join(kinds)}")
            return o
    raise KaryotypeError(f"label {label} is not in the cell")


def _without(objects, labels) -> list[SpreadObject]:
    gone = {int(lab) for lab in labels}
    return [o for o in objects if o.label not in gone]


def line_pixels(line, shape) -> np.ndarray:
    """bool image of a polyline's pixels ``(N, 2)`` (row, col), 8-connected and thickened so
    that it cuts a 4-connected region."""
    from skimage.draw import line as draw_line

    pts = np.round(np.asarray(line, float)).astype(int)
    if pts.ndim != 2 or len(pts) < 2:
        raise KaryotypeError("draw a line (two points or more) to cut along")
    out = np.zeros(shape, bool)
    h, w = shape
    for (r0, c0), (r1, c1) in zip(pts[:-1], pts[1:], strict=True):
        rr, cc = draw_line(r0, c0, r1, c1)
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        out[rr[ok], cc[ok]] = True
    return ndi.binary_dilation(out, np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool))


def labels_along(objects, line, shape, kinds=("chromosome",)) -> list[int]:
    """The labels of the objects a polyline crosses, most crossed first."""
    px = line_pixels(line, shape)
    counts = []
    for o in objects:
        if o.kind in kinds:
            n = int(o.full_mask(shape)[px].sum())
            if n:
                counts.append((-n, o.label))
    return [lab for _n, lab in sorted(counts)]


def cut(objects, line, shape, label: int | None = None) -> list[SpreadObject]:
    """Cut chromosome ``label`` (default: the one the line crosses most) in two or more along a
    polyline; the line's own pixels go to the nearest piece."""
    if label is None:
        crossed = labels_along(objects, line, shape)
        if not crossed:
            raise KaryotypeError("the line crosses no chromosome")
        label = crossed[0]
    obj = _find(objects, label)
    mask = obj.full_mask(shape)
    parts, n = ndi.label(mask & ~line_pixels(line, shape))
    sizes = np.bincount(parts.ravel(), minlength=n + 1)[1:]
    big = [i + 1 for i in range(n) if sizes[i] >= max(12, SLIVER * obj.area)]
    if len(big) < 2:
        raise KaryotypeError(f"the line does not cut chromosome {label} in two: draw it across")
    seeds = np.where(np.isin(parts, big), parts, 0)
    _d, (ir, ic) = ndi.distance_transform_edt(seeds == 0, return_indices=True)
    nearest = seeds[ir, ic]
    first = _next_label(objects)
    pieces = [_made(first + k, mask & (nearest == p)) for k, p in enumerate(big)]
    return [*_without(objects, [label]), *pieces]


def merge(objects, labels, shape) -> list[SpreadObject]:
    """One chromosome of the objects ``labels`` (two or more; a dropped piece may join)."""
    labels = list(dict.fromkeys(int(lab) for lab in labels))
    if len(labels) < 2:
        raise KaryotypeError("pick two chromosomes or more to merge")
    mask = np.zeros(shape, bool)
    for lab in labels:
        mask |= _find(objects, lab, ("chromosome", "nucleus", "debris")).full_mask(shape)
    return [*_without(objects, labels), _made(_next_label(objects), mask)]


def _axis(mask: np.ndarray):
    """``(centre, direction, normal, half-width, (lo, hi))`` of a mask's long axis."""
    pts = np.argwhere(mask).astype(float)
    centre = pts.mean(0)
    d = pts - centre
    if len(pts) < 3:
        return centre, np.array([1.0, 0.0]), np.array([0.0, 1.0]), 1.0, (-1.0, 1.0)
    _vals, vecs = np.linalg.eigh(d.T @ d)
    u = vecs[:, -1]
    normal = np.array([-u[1], u[0]])
    along = d @ u
    lo, hi = float(along.min()), float(along.max())
    half = max(len(pts) / max(hi - lo + 1.0, 1.0) / 2.0, 1.0)
    return centre, u, normal, half, (lo, hi)


def _along_axis(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The pixels of ``other`` that lie on ``own``'s long axis, within its length."""
    centre, u, normal, half, (lo, hi) = _axis(own)
    pts = np.argwhere(other)
    d = pts - centre
    on = (np.abs(d @ normal) <= AXIS_REACH * half) & (d @ u >= lo - half) & (d @ u <= hi + half)
    out = np.zeros(other.shape, bool)
    out[pts[on, 0], pts[on, 1]] = True
    return out


def cross(objects, a: int, b: int, shape) -> list[SpreadObject]:
    """Chromosomes ``a`` and ``b`` cross: each becomes whole, its own pixels and those of the
    other that lie along its long axis (the shared pixels), so both keep the crossing."""
    if int(a) == int(b):
        raise KaryotypeError("pick two different chromosomes that cross")
    oa, ob = _find(objects, a), _find(objects, b)
    ma, mb = oa.full_mask(shape), ob.full_mask(shape)
    new_a = ma | _along_axis(ma, mb)
    new_b = mb | _along_axis(mb, ma)
    if (new_a == ma).all() and (new_b == mb).all():
        raise KaryotypeError(f"chromosomes {a} and {b} do not cross: no pixel lies along the other")
    first = _next_label(objects)
    return [*_without(objects, [a, b]), _made(first, new_a), _made(first + 1, new_b)]


def drop(objects, label: int, kind: str = "debris") -> list[SpreadObject]:
    """Chromosome ``label`` left out as ``kind`` (debris or nucleus): never counted."""
    if kind not in ("debris", "nucleus"):
        raise KaryotypeError(f"drop as debris or nucleus, not {kind!r}")
    obj = _find(objects, label)
    return [replace(o, kind=kind) if o is obj else o for o in objects]


def restore(objects, label: int) -> list[SpreadObject]:
    """A nucleus or debris ``label`` taken back as a chromosome."""
    obj = _find(objects, label, ("nucleus", "debris"))
    return [replace(o, kind="chromosome", score=USER_SCORE) if o is obj else o for o in objects]


def separate(objects, image: np.ndarray, region: np.ndarray, segmenter=None) -> list[SpreadObject]:
    """The segmenter run again on the region (a full-image bool mask, e.g. a drawn shape around
    a cluster): the chromosomes lying mostly inside it are replaced by those it finds there."""
    from napari_karyotype.segmentation import spread_model
    from napari_karyotype.segmentation.spread import Spread, read_spread, resample, to_ink

    image = np.asarray(image, np.float32)
    region = np.asarray(region, bool)
    box = tight_box(region)
    if box is None:
        raise KaryotypeError("the shape covers no pixel of the image")
    whole = read_spread(image)  # the cell's own levels and scale, not the crop's
    margin = int(np.ceil(3 * (whole.radius or 4.0)))
    h, w = image.shape
    r0, c0 = max(box[0] - margin, 0), max(box[1] - margin, 0)
    r1, c1 = min(box[2] + margin, h), min(box[3] + margin, w)
    crop = image[r0:r1, c0:c1]
    ink = resample(to_ink(crop, whole.background, whole.dark), whole.factor)
    spread = Spread(ink, whole.factor, whole.radius, whole.background, whole.dark, crop.shape)
    seg = segmenter
    if seg is None or isinstance(seg, str) or hasattr(seg, "__fspath__"):
        seg = spread_model.load_segmenter(seg)
    found = spread_model.find_objects(spread, seg, crop)

    def mostly_inside(mask, at) -> bool:
        rr, cc = np.nonzero(mask)
        return mask.any() and region[rr + at[0], cc + at[1]].mean() >= 0.5

    old = [o for o in objects if o.kind == "chromosome" and mostly_inside(o.mask, o.box[:2])]
    new = [
        o for o in found
        if o.kind == "chromosome" and mostly_inside(o.mask, (o.box[0] + r0, o.box[1] + c0))
    ]  # fmt: skip
    if not new:
        raise KaryotypeError("the segmenter finds no chromosome inside the shape")
    first = _next_label(objects)
    made = []
    found_px = np.zeros(image.shape, bool)
    for k, o in enumerate(new):
        b = (o.box[0] + r0, o.box[1] + c0, o.box[2] + r0, o.box[3] + c0)
        made.append(crop_to_mask(SpreadObject(first + k, "chromosome", b, o.mask.copy(), o.score)))
        found_px[b[0] : b[2], b[1] : b[3]] |= o.mask

    # a chromosome the segmenter does not find again is kept, never lost
    def refound(o) -> bool:
        return found_px[o.box[0] : o.box[2], o.box[1] : o.box[3]][o.mask].mean() >= KEEP_UNFOUND

    gone = [o.label for o in old if refound(o)]
    return [*_without(objects, gone), *made]
