"""Size scale: bring a karyogram imaged at another magnification to the CNN's training size.

The CNN learned absolute chromosome sizes (the dataset crops keep the karyogram's scale). A cell
imaged at 1.5x has chromosomes 1.5x longer; its scale factor is then about 1/1.5 — the factor that
``preprocess.chromosome_canvas(..., scale=)`` applies to each crop.

The size of a chromosome here is the major axis length of its mask (from the second moments):
exactly proportional to the magnification, fast, and insensitive to a pixel more or less of
boundary. The estimate compares the median over the cell with the training median (robust to a
few bad labels); with classes known it takes the median ratio of each chromosome to the training
median of its own class, which also works for a partial cell.

Training statistics (``stats``) are a mapping with the keys of :func:`size_stats`:
``median_axis`` (px), ``class_median_axis`` ({class: px}), ``median_area`` (px), ``n``; a model's
JSON side-car holds them under ``"size_stats"``. ``preprocess.canvas_stats`` (``median_length_px``,
the bounding-box height) is understood too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from napari_karyotype.errors import KaryotypeError

MASK_THRESHOLD = 245
"""A dataset crop's chromosome is its pixels darker than this (as in ``compose``)."""

TOLERANCE = 0.15
"""Estimates within this relative distance of 1 return exactly 1.0: cells at the training
magnification differ this much by condensation alone, and the CNN learned that variation."""

LIMITS = (0.25, 4.0)
"""The estimate is clipped to this range."""

DATASET_STATS = {
    "median_axis": 83.05,
    "class_median_axis": {
        "1": 148.81, "2": 148.91, "3": 128.31, "4": 118.04, "5": 113.76, "6": 107.26,
        "7": 102.12, "8": 95.27, "9": 91.58, "10": 90.58, "11": 90.62, "12": 85.12, "13": 73.93,
        "14": 71.54, "15": 73.35, "16": 65.75, "17": 64.8, "18": 64.56, "19": 53.11, "20": 57.73,
        "21": 49.43, "22": 51.43, "X": 99.42, "Y": 57.67,
    },
    "median_area": 3593.0,
    "n": 3357,
}  # fmt: skip
"""``size_stats`` of the whole Hu et al. set (all 73 cells): the bundled model's training data.
Used when a model's side-car holds no statistics (tests recompute and compare these numbers)."""

DATASET_CANVAS_LENGTH = 74.0
"""``preprocess.canvas_stats(...)["median_length_px"]`` of the whole Hu et al. set."""


def axis_lengths(labels: np.ndarray, ids=None) -> np.ndarray:
    """Major axis length (px) of each label of ``ids`` (default: all non-zero ids, ascending)."""
    from skimage.measure import regionprops

    labels = np.asarray(labels)
    props = {p.label: p for p in regionprops(labels.astype(np.int64, copy=False))}
    if ids is None:
        ids = sorted(props)
    return np.array([props[int(i)].axis_major_length if int(i) in props else 0.0 for i in ids])


def size_stats(chromosomes: Iterable) -> dict:
    """Training statistics from dataset chromosomes (``dataset.Chromosome`` or uint8 crops).

    The chromosome of a crop is its largest connected set of pixels < 245. Returns
    ``{"median_axis", "class_median_axis", "median_area", "n"}`` (see the module doc).
    """
    from napari_karyotype import CLASSES

    axes, areas, classes = [], [], []
    for c in chromosomes:
        image = np.asarray(getattr(c, "image", c))
        mask = _largest(image < MASK_THRESHOLD)
        if not mask.any():
            continue
        axes.append(float(axis_lengths(mask.astype(np.uint8))[0]))
        areas.append(int(mask.sum()))
        classes.append(getattr(c, "cls", None))
    if not axes:
        raise KaryotypeError("no chromosomes to compute size statistics from")
    axes_arr = np.asarray(axes)
    classes_arr = np.asarray(classes, dtype=object)
    per_class = {
        cls: round(float(np.median(axes_arr[classes_arr == cls])), 2)
        for cls in CLASSES
        if (classes_arr == cls).any()
    }
    return {
        "median_axis": round(float(np.median(axes_arr)), 2),
        "class_median_axis": per_class,
        "median_area": round(float(np.median(areas)), 2),
        "n": len(axes),
    }


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
    tolerance: float = TOLERANCE,
) -> float:
    """The factor that brings this cell's chromosomes to the training size (1.0 when unknown).

    ``labels``: the cell's label image. ``stats``: training statistics (see the module doc; None
    or unusable gives 1.0). ``classes`` ``{label: class}``: compare each chromosome with its own
    class (used when at least 5 labels have a class). ``tolerance``: see :data:`TOLERANCE`.
    """
    from scipy import ndimage as ndi

    from napari_karyotype.features import label_ids

    if not stats:
        return 1.0
    labels = np.asarray(labels)
    ids = label_ids(labels)
    if len(ids) == 0:
        return 1.0
    factor = None
    if stats.get("median_axis"):
        axes = axis_lengths(labels, ids)
        per_class = stats.get("class_median_axis") or {}
        ratios = [
            per_class[classes[int(lab)]] / a
            for lab, a in zip(ids, axes, strict=True)
            if classes and classes.get(int(lab)) in per_class and a > 0
        ]
        if len(ratios) >= 5:
            factor = float(np.median(ratios))
        elif (axes > 0).any():
            factor = float(stats["median_axis"]) / float(np.median(axes[axes > 0]))
    elif stats.get("median_length_px"):  # preprocess.canvas_stats: bounding-box heights
        heights = [s[0].stop - s[0].start for s in ndi.find_objects(labels) if s is not None]
        factor = float(stats["median_length_px"]) / float(np.median(heights))
    if factor is None or not np.isfinite(factor) or factor <= 0:
        return 1.0
    if abs(np.log(factor)) <= np.log1p(tolerance):
        return 1.0
    return float(np.clip(factor, *LIMITS))


def model_stats(classifier) -> dict:
    """The training size statistics of a classifier (:data:`DATASET_STATS` if it has none).

    Reads the side-car (``classifier.meta``): ``size_stats`` (this module's keys) as they are;
    else ``canvas_stats`` (``preprocess.canvas_stats``): :data:`DATASET_STATS` rescaled by the
    ratio of its median bounding-box height to that of the Hu et al. set.
    """
    meta = getattr(classifier, "meta", None)
    if isinstance(meta, Mapping):
        size = meta.get("size_stats")
        if isinstance(size, Mapping) and size.get("median_axis"):
            return dict(size)
        canvas = meta.get("canvas_stats")
        if isinstance(canvas, Mapping) and canvas.get("median_length_px"):
            ratio = float(canvas["median_length_px"]) / DATASET_CANVAS_LENGTH
            stats = dict(DATASET_STATS)
            stats["median_axis"] = round(stats["median_axis"] * ratio, 2)
            stats["class_median_axis"] = {
                k: round(v * ratio, 2) for k, v in DATASET_STATS["class_median_axis"].items()
            }
            stats["median_area"] = round(stats["median_area"] * ratio**2, 2)
            return stats
    return dict(DATASET_STATS)
