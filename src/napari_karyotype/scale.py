"""Size scale: bring a karyogram imaged at another magnification to the CNN's training size.

The CNN learned absolute chromosome sizes (the dataset crops keep the karyogram's scale). A cell
imaged at 1.5x has chromosomes 1.5x longer; its scale factor is then about 1/1.5 — the factor that
``preprocess.chromosome_canvas(..., scale=)`` applies to each crop. The estimate compares the median
skeleton length of the cell's chromosomes with the training median (robust to a few bad labels);
with classes known it compares each chromosome with the training median of its own class, which
also works for a partial cell.

Training statistics (``stats``) are a mapping with the keys of :func:`size_stats`:
``median_length`` (px), ``median_area`` (px), ``class_median_length`` ({class: px}); the model's
JSON side-car holds them under ``"size_stats"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from napari_karyotype.errors import KaryotypeError

MASK_THRESHOLD = 245
"""A dataset crop's chromosome is its pixels darker than this (as in ``compose``)."""

TOLERANCE = 0.15
"""Estimates within this relative distance of 1 return exactly 1.0: cells at the training
magnification vary this much by condensation alone, and the CNN learned that variation."""

LIMITS = (0.25, 4.0)
"""The estimate is clipped to this range."""

DATASET_STATS = {
    "median_length": 61.28,
    "median_area": 3593.0,
    "class_median_length": {
        "1": 124.91, "2": 118.31, "3": 97.18, "4": 94.18, "5": 84.44, "6": 84.37, "7": 78.18,
        "8": 65.78, "9": 65.97, "10": 63.86, "11": 68.73, "12": 66.43, "13": 47.42, "14": 47.51,
        "15": 50.64, "16": 46.16, "17": 47.35, "18": 42.76, "19": 34.16, "20": 37.7, "21": 30.07,
        "22": 33.09, "X": 76.51, "Y": 34.73,
    },
    "n": 3357,
}  # fmt: skip
"""``size_stats`` of the whole Hu et al. set (all 73 cells): the bundled model's training data.
Used when a model's side-car holds no statistics (tests recompute and compare these numbers)."""


def size_stats(chromosomes: Iterable) -> dict:
    """Training statistics from dataset chromosomes (``dataset.Chromosome`` or uint8 crops).

    Returns ``{"median_length", "median_area", "class_median_length", "n"}``: the median skeleton
    length (px) and area (px) of the chromosome masks (pixels < 245), overall and per class.
    """
    from napari_karyotype.features import skeleton_length

    lengths, areas, classes = [], [], []
    for c in chromosomes:
        image = np.asarray(getattr(c, "image", c))
        mask = _largest(image < MASK_THRESHOLD)
        if not mask.any():
            continue
        lengths.append(skeleton_length(mask))
        areas.append(int(mask.sum()))
        classes.append(getattr(c, "cls", None))
    if not lengths:
        raise KaryotypeError("no chromosomes to compute size statistics from")
    lengths = np.asarray(lengths)
    per_class = {}
    for cls in sorted({c for c in classes if c is not None}, key=_class_order):
        sel = np.array([c == cls for c in classes])
        per_class[cls] = round(float(np.median(lengths[sel])), 2)
    return {
        "median_length": round(float(np.median(lengths)), 2),
        "median_area": round(float(np.median(areas)), 2),
        "class_median_length": per_class,
        "n": len(lengths),
    }


def _class_order(cls: str) -> int:
    from napari_karyotype import CLASSES

    return CLASSES.index(cls) if cls in CLASSES else len(CLASSES)


def _largest(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi

    lab, n = ndi.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == sizes.argmax()


def estimate_scale(
    labels: np.ndarray,
    stats: Mapping | None,
    *,
    classes: Mapping[int, str] | None = None,
    lengths: np.ndarray | None = None,
    tolerance: float = TOLERANCE,
) -> float:
    """The factor that brings this cell's chromosomes to the training size (1.0 when unknown).

    ``labels``: the cell's label image. ``stats``: training statistics (see module doc; None or
    incomplete gives 1.0). ``classes`` ``{label: class}``: compare each chromosome with its own
    class. ``lengths``: skeleton lengths of ``label_ids(labels)``, if already measured.
    """
    from napari_karyotype.features import label_geometry, label_ids

    if not stats:
        return 1.0
    labels = np.asarray(labels)
    ids = label_ids(labels)
    if len(ids) == 0:
        return 1.0
    factor = None
    if stats.get("median_length"):
        if lengths is None:
            lengths = label_geometry(labels, ids)["length"].to_numpy(float)
        lengths = np.asarray(lengths, float)
        per_class = stats.get("class_median_length") or {}
        ratios = []
        for lab, length in zip(ids, lengths, strict=True):
            ref = per_class.get((classes or {}).get(int(lab), ""))
            if ref and length > 0:
                ratios.append(ref / length)
        good = lengths[lengths > 0]
        if len(ratios) >= 5:
            factor = float(np.median(ratios))
        elif len(good):
            factor = float(stats["median_length"]) / float(np.median(good))
    elif stats.get("median_length_px"):  # preprocess.canvas_stats: bounding-box heights
        from scipy import ndimage as ndi

        heights = [s[0].stop - s[0].start for s in ndi.find_objects(labels) if s is not None]
        factor = float(stats["median_length_px"]) / float(np.median(heights))
    if factor is None or not np.isfinite(factor) or factor <= 0:
        return 1.0
    if abs(np.log(factor)) <= np.log1p(tolerance):
        return 1.0
    return float(np.clip(factor, *LIMITS))


def model_stats(classifier) -> dict:
    """The training size statistics stored with a classifier; :data:`DATASET_STATS` if none."""
    for attr in ("metadata", "meta", "info", "card", "sidecar"):
        meta = getattr(classifier, attr, None)
        if isinstance(meta, Mapping):
            for key in ("size_stats", "canvas_stats", "stats"):
                if isinstance(meta.get(key), Mapping) and (
                    meta[key].get("median_length") or meta[key].get("median_length_px")
                ):
                    return dict(meta[key])
            if meta.get("median_length") or meta.get("median_length_px"):
                return dict(meta)
    return dict(DATASET_STATS)
