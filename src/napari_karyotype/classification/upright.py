"""Chromosomes as they lie in a metaphase, made into the dataset's upright canvases.

One routine for training crops (``datasets.taichung``) and the plugin's metaphase path, so the CNN
sees at inference exactly what it learned from:

1. each chromosome's own pixels (its mask; a neighbour crossing its box left out) are cut out and
   turned so that the mask's major axis stands upright (p-arm up or down: unknown);
2. the whole cell is brought to the Hu et al. set's contrast (background 255, the darkest 5 % of
   chromosome pixels at :data:`INK_P5`) and, without its classes, to the set's size (the cell's
   median major axis to ``DATASET_STATS["cell_median_axis"]``); a crop still larger than the
   canvas is shrunk alone. Per-cell size normalisation (``scale.cell_scale_and_probs``) then works
   on these canvases as on Hu et al.'s.
"""

from __future__ import annotations

import numpy as np

from napari_karyotype.datasets.record import CANVAS_SHAPE

INK_P5 = 62.0
"""Grey of the darkest 5 % of chromosome pixels in the Hu et al. crops (measured)."""


def upright(win: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(crop, mask, angle)``: the window and mask turned by ``angle`` degrees so that the
    mask's major axis is vertical, cut to the mask (outside it white)."""
    from skimage.measure import regionprops
    from skimage.transform import rotate

    props = regionprops(mask.astype(np.uint8))[0]
    # skimage orientation: angle between the row axis and the major axis (radians)
    angle = -np.degrees(props.orientation)
    img = np.where(mask, win, 1.0)
    if abs(angle) > 1.0:  # both in one turn: ink as depth below white, the mask beside it
        both = np.stack([1.0 - img, mask.astype(float)], axis=-1)
        both = rotate(both, angle, resize=True, order=1, cval=0.0, mode="constant")
        img, mask = 1.0 - both[..., 0], both[..., 1] >= 0.5
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return img[:0, :0], mask[:0, :0], float(angle)
    sl = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return img[sl], mask[sl], float(angle)


def cell_canvases(
    grey: np.ndarray, pieces: list[tuple[np.ndarray, int, int]]
) -> list[np.ndarray | None]:
    """Dataset canvases (uint8 220 x 100, dark on white) of one cell's chromosomes.

    ``grey``: the cell, float in [0, 1], dark on light. ``pieces``: ``(mask, r0, c0)`` per
    chromosome, its mask placed at ``(r0, c0)`` of ``grey``. None where a chromosome vanishes.
    """
    from skimage.measure import regionprops
    from skimage.transform import rescale

    from napari_karyotype.classification.scale import DATASET_STATS

    grey = np.asarray(grey, np.float32)
    turned = []
    for mask, r0, c0 in pieces:
        win = grey[r0 : r0 + mask.shape[0], c0 : c0 + mask.shape[1]]
        img, m, _ = upright(win, mask) if mask.any() else (win[:0, :0], mask[:0, :0], 0.0)
        turned.append((img, m))
    usable = [(img, m) for img, m in turned if m.any()]
    if not usable:
        return [None] * len(pieces)
    ink = np.concatenate([img[m] for img, m in usable])
    axes = [regionprops(m.astype(np.uint8))[0].axis_major_length for _img, m in usable]
    bg = float(np.median(grey[grey >= np.percentile(ink, 95)]))
    dark = float(np.percentile(ink, 5))
    gain = (1.0 - INK_P5 / 255.0) / max(bg - dark, 1e-3)
    factor = float(DATASET_STATS["cell_median_axis"]) / max(float(np.median(axes)), 1.0)
    out: list[np.ndarray | None] = []
    for img, mask in turned:
        if not mask.any():
            out.append(None)
            continue
        img = 1.0 - np.clip((bg - img) * gain, 0.0, 1.0)
        h, w = mask.shape
        f = min(factor, (CANVAS_SHAPE[0] - 2) / h, (CANVAS_SHAPE[1] - 2) / w)
        if abs(f - 1.0) > 1e-3:
            img = rescale(img, f, order=1, anti_aliasing=f < 1, mode="edge")
            mask = rescale(mask.astype(np.float32), f, order=1, anti_aliasing=f < 1) >= 0.5
        if not mask.any():
            out.append(None)
            continue
        crop = np.where(mask, np.minimum(np.round(img * 255), 244), 255).astype(np.uint8)
        canvas = np.full(CANVAS_SHAPE, 255, np.uint8)
        h, w = crop.shape
        top, left = (CANVAS_SHAPE[0] - h) // 2, (CANVAS_SHAPE[1] - w) // 2
        canvas[top : top + h, left : left + w] = crop
        out.append(canvas)
    return out


def both_ends(predict_proba):
    """``predict_proba`` averaged over each canvas and the canvas turned half round.

    A chromosome stood upright from a metaphase has its p-arm up or down, unknown; the CNN
    learned karyograms' p-arm-up chromosomes as well as spreads' either-way ones. Measured on
    the held-out Taichung spreads' crops (227 cells), averaging the two turns raised the right
    class by 1.5 points (1.0 after assignment); on karyogram crops, whose p-arm is up, it cost 2
    to 8 points, so only crops from spreads get it."""

    def both(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return 0.5 * (predict_proba(x) + predict_proba(x[:, ::-1, ::-1]))

    return both


def classify_upright(image, objects, clf, scale=None, fixed=None):
    """``(scale, probs (n, 24))`` of a metaphase's chromosomes, each from its own whole mask
    stood upright (``objects``: ``segmentation.objects.SpreadObject``, one per row) and seen
    both ways up (:func:`both_ends`), at the cell's own size scale
    (``scale.cell_scale_and_probs``, as ``evaluate`` scores it) unless ``scale`` is given."""
    from napari_karyotype.classification import scale as _scale
    from napari_karyotype.classification.canvas import dataset_canvas

    pieces = []
    for i, obj in enumerate(objects):
        if obj is None:
            raise ValueError(f"row {i}: no mask")
        pieces.append((obj.mask, obj.box[0], obj.box[1]))
    grey = np.asarray(image, np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    canvases = [
        c if c is not None else np.full(CANVAS_SHAPE, 255, np.uint8)
        for c in cell_canvases(grey, pieces)
    ]

    either = both_ends(clf.predict_proba)

    def predict(s: float) -> np.ndarray:
        return either(np.stack([dataset_canvas(c, s) for c in canvases]))

    if scale is not None:
        return float(scale), predict(scale)
    axes = np.array([_scale.crop_axis(c) for c in canvases])
    return _scale.cell_scale_and_probs(axes, clf.size_stats, predict, fixed=fixed or {},
                                       tolerance=0.0)  # fmt: skip
