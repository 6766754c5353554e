"""Arrange a cell's classified chromosomes as a standard karyogram image.

Rows 1–5 / 6–12, X / 13–18 / 19–22, Y; the copies of a class side by side (extra copies next to
their pair), the class name underneath each group, unassigned chromosomes in a last row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.samples.compose import ROW_LAYOUT as ROWS

MARGIN = 20
COPY_GAP = 6
GROUP_GAP = 24
ROW_GAP = 16
TEXT_SIZE = 2  # px per font dot
TEXT_GAP = 5


def _class_of(row) -> str:
    return row.assigned or row.chromosome or ""


def _crops(image: np.ndarray, labels: np.ndarray, features: pd.DataFrame, objects=None):
    """``{label: uint8 crop, white outside its mask}`` for the labels of the table; a label
    with an object (a metaphase's chromosome) shows its whole mask, stood upright."""
    from napari_karyotype.classification.canvas import as_unit_float
    from napari_karyotype.classification.upright import upright

    unit = as_unit_float(image)
    grey = np.round(unit * 255).astype(np.uint8)
    slices = ndi.find_objects(labels)
    by_label = {int(o.label): o for o in objects or ()}
    out = {}
    for lab in features["label"].astype(int):
        obj = by_label.get(lab)
        if obj is not None and obj.mask.any():
            r0, c0, r1, c1 = obj.box
            crop, _mask, _angle = upright(unit[r0:r1, c0:c1], obj.mask)
            out[lab] = np.round(np.clip(crop, 0, 1) * 255).astype(np.uint8)
            continue
        sl = slices[lab - 1] if 0 < lab <= len(slices) else None
        if sl is None:
            continue
        mask = labels[sl] == lab
        out[lab] = np.where(mask, grey[sl], np.uint8(255))
    return out


def arrange_karyogram(
    image: np.ndarray,
    labels: np.ndarray,
    features: pd.DataFrame,
    *,
    names: bool = True,
    objects=None,
) -> np.ndarray:
    """The cell's chromosomes in standard rows, dark on white, as a 2-D uint8 image.

    ``objects``: a metaphase's chromosomes (``segmentation.objects.SpreadObject``): each is
    shown whole (also the pixels a crossing gives the other label) and stood upright.

    ``features``: the table of :mod:`~.cell.features`; the class shown is ``assigned``
    (``chromosome`` where not assigned). Copies of a class are ordered by confidence, so the two
    likeliest homologs come first and extra copies follow them.
    """
    from napari_karyotype.cell.features import check_features
    from napari_karyotype.samples.compose import text_bitmap

    labels = np.asarray(labels)
    if labels.shape != np.asarray(image).shape[:2]:
        raise KaryotypeError("image and labels differ in size")
    df = check_features(features)
    crops = _crops(image, labels, df, objects)
    groups: dict[str, list[tuple[float, int]]] = {}
    for row in df.itertuples(index=False):
        if int(row.label) not in crops:
            continue
        conf = row.confidence if np.isfinite(row.confidence) else 0.0
        groups.setdefault(_class_of(row), []).append((-(conf + 2.0 * row.verified), int(row.label)))
    layout = [list(r) for r in ROWS]
    if groups.get(""):
        layout.append([""])  # unassigned, one group at the end
    text_h = 7 * TEXT_SIZE if names else 0
    rows = []  # per row: list of (class, [crops])
    for classes in layout:
        row = []
        for cls in classes:
            members = [crops[lab] for _, lab in sorted(groups.get(cls, []))]
            row.append((cls, members))
        rows.append(row)

    def group_width(members):
        if not members:
            return 2 * 5 * TEXT_SIZE  # room for the class name of an empty class
        return sum(m.shape[1] for m in members) + COPY_GAP * (len(members) - 1)

    widths = [sum(group_width(m) for _, m in r) + GROUP_GAP * (len(r) - 1) for r in rows]
    heights = [max([c.shape[0] for _, m in r for c in m] or [7 * TEXT_SIZE]) for r in rows]
    width = max(widths) + 2 * MARGIN
    height = 2 * MARGIN + sum(heights) + len(rows) * (TEXT_GAP + text_h + ROW_GAP) - ROW_GAP
    out = np.full((height, width), 255, np.uint8)
    y = MARGIN
    for r, w, h in zip(rows, widths, heights, strict=True):
        x = MARGIN + (max(widths) - w) // 2
        baseline = y + h
        for cls, members in r:
            gw = group_width(members)
            cx = x
            for crop in members:
                ch, cw = crop.shape
                region = out[baseline - ch : baseline, cx : cx + cw]
                np.minimum(region, crop, out=region)
                cx += cw + COPY_GAP
            if names and cls:
                bitmap = text_bitmap(cls, TEXT_SIZE)
                bh, bw = bitmap.shape
                left = x + max((gw - bw) // 2, 0)
                top = baseline + TEXT_GAP
                out[top : top + bh, left : left + bw][bitmap[:, : width - left]] = 0
            x += gw + GROUP_GAP
        y = baseline + TEXT_GAP + text_h + ROW_GAP
    return out


def save_karyogram(path: str | Path, karyogram: np.ndarray) -> Path:
    """Write a karyogram image (from :func:`arrange_karyogram`) as PNG."""
    import imageio.v3 as iio

    path = Path(path)
    try:
        iio.imwrite(path, np.asarray(karyogram, np.uint8), extension=".png")
    except OSError as err:
        raise KaryotypeError(f"{path}: cannot write ({err.strerror or err})") from None
    return path
