"""Size scale: bring a cell's chromosomes to the CNN's training size.

A cell imaged at 1.5x has chromosomes 1.5x longer; its scale factor is then about 1/1.5 — the
factor that ``canvas.chromosome_canvas(..., scale=)`` applies to each crop. Cells imaged at
the same magnification differ too, by condensation: the median chromosome of the Hu et al. cells
spans 0.74x to 1.5x the set's median. A model trained on the crops as they are (absolute sizes)
tolerates that (:data:`TOLERANCE`); a :data:`PER_CELL` model was trained with every cell brought
to the training size (:func:`cell_scales`), so it sees sizes relative to the cell — the
cytogeneticist's relative length — and every cell is scaled before it is classified.

The size of a chromosome here is the major axis length of its mask (from the second moments):
exactly proportional to the magnification, fast, and insensitive to a pixel more or less of
boundary. The estimate compares the median over the cell with the training median (robust to a
few bad labels); with classes known it takes the median ratio of each chromosome to the training
median of its own class, which also works for a partial cell.

Training statistics (``stats``) are a mapping with the keys of :func:`size_stats`:
``median_axis`` (px), ``class_median_axis`` ({class: px}), ``median_area`` (px), ``n`` and
optionally ``cell_median_axis`` (px, the reference of a whole cell's median); a model's
JSON side-car holds them under ``"size_stats"``. ``canvas.canvas_stats`` (``median_length_px``,
the bounding-box height) is understood too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from napari_karyotype.errors import KaryotypeError

MASK_THRESHOLD = 245
"""A dataset crop's chromosome is its pixels darker than this (as in ``compose``)."""

TOLERANCE = 0.15
"""Estimates within this relative distance of 1 return exactly 1.0: cells at the training
magnification differ this much by condensation alone, and the CNN learned that variation."""

LIMITS = (0.25, 4.0)
"""The estimate is clipped to this range."""

WHOLE_CELL = 40
"""A cell with fewer chromosomes than this is partial: its median says little about its size."""

SEARCH = tuple(float(x) for x in np.exp(np.linspace(np.log(0.6), np.log(1.6), 21)))
"""Factors of the median-based scale tried for a partial cell (0.6 to 1.6, 5 % apart)."""

PER_CELL = "per-cell"
"""Side-car ``size_normalisation`` of a model trained with every cell brought to the training
size (:func:`cell_scales`): it learned sizes relative to the cell, so each cell is always scaled."""

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
    "cell_median_axis": 87.46,
}  # fmt: skip
"""``size_stats`` of the whole Hu et al. set (all 73 cells): the bundled model's training data.
Used when a model's side-car holds no statistics (tests recompute and compare these numbers)."""

DATASET_CANVAS_LENGTH = 74.0
"""``canvas.canvas_stats(...)["median_length_px"]`` of the whole Hu et al. set."""


def axis_lengths(labels: np.ndarray, ids=None) -> np.ndarray:
    """Major axis length (px) of each label of ``ids`` (default: all non-zero ids, ascending)."""
    from skimage.measure import regionprops

    labels = np.asarray(labels)
    props = {p.label: p for p in regionprops(labels.astype(np.int64, copy=False))}
    if ids is None:
        ids = sorted(props)
    return np.array([props[int(i)].axis_major_length if int(i) in props else 0.0 for i in ids])


def size_stats(chromosomes: Iterable) -> dict:
    """Training statistics from dataset chromosomes (``chromosomes.Chromosome`` or uint8 crops).

    The chromosome of a crop is its largest connected set of pixels < 245. Returns
    ``{"median_axis", "class_median_axis", "median_area", "n"}`` (see the module doc) and, for
    chromosomes of whole cells, ``cell_median_axis``: the median over cells of the cell's median
    axis once the cell is brought to ``class_median_axis`` by its classes — the reference of a
    blind (class-free) estimate for a whole cell.
    """
    from napari_karyotype import CLASSES

    axes, areas, classes, cells = [], [], [], []
    for c in chromosomes:
        image = np.asarray(getattr(c, "image", c))
        mask = _largest(image < MASK_THRESHOLD)
        if not mask.any():
            continue
        axes.append(float(axis_lengths(mask.astype(np.uint8))[0]))
        areas.append(int(mask.sum()))
        classes.append(getattr(c, "cls", None))
        cells.append(getattr(c, "cell", None))
    if not axes:
        raise KaryotypeError("no chromosomes to compute size statistics from")
    axes_arr = np.asarray(axes)
    classes_arr = np.asarray(classes, dtype=object)
    per_class = {
        cls: round(float(np.median(axes_arr[classes_arr == cls])), 2)
        for cls in CLASSES
        if (classes_arr == cls).any()
    }
    stats = {
        "median_axis": round(float(np.median(axes_arr)), 2),
        "class_median_axis": per_class,
        "median_area": round(float(np.median(areas)), 2),
        "n": len(axes),
    }
    cells_arr = np.asarray(cells, dtype=object)
    normalised = []
    for cell in {c for c in cells if c is not None}:
        sel = cells_arr == cell
        if sel.sum() >= WHOLE_CELL:  # the reference is that of a whole cell
            f = factor_from_axes(axes_arr[sel], stats, list(classes_arr[sel]))
            normalised.append(float(np.median(axes_arr[sel])) * f)
    if normalised:
        stats["cell_median_axis"] = round(float(np.median(normalised)), 2)
    return stats


def _largest(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi

    lab, n = ndi.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == sizes.argmax()


def crop_axis(image: np.ndarray) -> float:
    """Major axis length (px) of a dataset crop's chromosome (its largest set of pixels < 245)."""
    mask = _largest(np.asarray(getattr(image, "image", image)) < MASK_THRESHOLD)
    return float(axis_lengths(mask.astype(np.uint8))[0]) if mask.any() else 0.0


def factor_from_axes(
    axes: np.ndarray, stats: Mapping | None, classes: Sequence[str | None] | None = None
) -> float | None:
    """The raw factor that brings chromosomes of major axes ``axes`` to the training size.

    With a class for at least 5 of them (``classes``, aligned with ``axes``; None where unknown):
    the median of each one's ratio to the training median of its class; else the training
    ``cell_median_axis`` (or, if absent, ``median_axis``) over the median of ``axes``. None when
    nothing usable is given.
    """
    if not stats or not stats.get("median_axis"):
        return None
    axes = np.asarray(axes, dtype=float)
    per_class = stats.get("class_median_axis") or {}
    if classes is not None:
        ratios = [
            per_class[cls] / a
            for a, cls in zip(axes, classes, strict=True)
            if cls in per_class and a > 0
        ]
        if len(ratios) >= 5:
            return float(np.median(ratios))
    if not (axes > 0).any():
        return None
    reference = stats.get("cell_median_axis") or stats["median_axis"]
    return float(reference) / float(np.median(axes[axes > 0]))


def _settle(factor: float | None, tolerance: float) -> float:
    if factor is None or not np.isfinite(factor) or factor <= 0:
        return 1.0
    if abs(np.log(factor)) <= np.log1p(tolerance):
        return 1.0
    return float(np.clip(factor, *LIMITS))


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

    from napari_karyotype.segmentation.labels import label_ids

    if not stats:
        return 1.0
    labels = np.asarray(labels)
    ids = label_ids(labels)
    if len(ids) == 0:
        return 1.0
    factor = None
    if stats.get("median_axis"):
        known = [classes.get(int(lab)) for lab in ids] if classes else None
        factor = factor_from_axes(axis_lengths(labels, ids), stats, known)
    elif stats.get("median_length_px"):  # canvas.canvas_stats: bounding-box heights
        heights = [s[0].stop - s[0].start for s in ndi.find_objects(labels) if s is not None]
        factor = float(stats["median_length_px"]) / float(np.median(heights))
    return _settle(factor, tolerance)


def cell_scale_and_probs(
    axes: np.ndarray,
    stats: Mapping | None,
    predict: Callable[[float], np.ndarray],
    *,
    fixed: Mapping[int, str] | None = None,
    tolerance: float = TOLERANCE,
) -> tuple[float, np.ndarray]:
    """``(scale, probs)`` of one cell, classified at the scale that fits it.

    ``axes``: major axes of the cell's chromosomes; ``predict(scale)`` -> (n, 24) probabilities
    in the same order; ``fixed`` ``{index: class}``: classes the user has verified.

    A whole cell (at least :data:`WHOLE_CELL` chromosomes) is classified at its median-based
    scale; if its confidently classified chromosomes (p >= 0.5) and the fixed ones, each compared
    with the training median of its class, move the scale by more than 5 %, it is classified
    again there. The median says little about a partial cell (a row of small chromosomes looks
    like a low magnification), so a partial cell is classified at each of :data:`SEARCH` times the
    median-based scale and the scale where the CNN is most sure (mean log-probability of each
    chromosome's top class, or of its fixed class) is kept.
    """
    from napari_karyotype import CLASSES

    scale = _settle(factor_from_axes(axes, stats), tolerance)
    fixed = {int(i): CLASSES.index(cls) for i, cls in (fixed or {}).items()}
    if len(axes) < WHOLE_CELL:
        return _search(scale, predict, fixed)
    probs = predict(scale)
    top = probs.argmax(axis=1)
    guess = [CLASSES[k] if p >= 0.5 else None for k, p in zip(top, probs.max(axis=1), strict=True)]
    for i, k in fixed.items():
        guess[i] = CLASSES[k]
    refined = _settle(factor_from_axes(axes, stats, guess), tolerance)
    if abs(np.log(refined / scale)) > np.log(1.05):
        scale, probs = refined, predict(refined)
    return scale, probs


def _search(start: float, predict, fixed: dict[int, int]) -> tuple[float, np.ndarray]:
    best = (-np.inf, start, None)
    for step in SEARCH:
        scale = float(np.clip(start * step, *LIMITS))
        probs = predict(scale)
        sure = probs.max(axis=1)
        for i, k in fixed.items():
            sure[i] = probs[i, k]
        fit = float(np.mean(np.log(np.clip(sure, 1e-12, 1.0))))
        if fit > best[0]:
            best = (fit, scale, probs)
    return best[1], best[2]


def cell_scales(
    chromosomes: Sequence, stats: Mapping, *, use_classes: bool = True
) -> dict[str, float]:
    """``{cell: factor}`` bringing each dataset cell to ``stats``.

    For training a size-normalised (:data:`PER_CELL`) model: every chromosome of a cell is
    resampled by its cell's factor, so the CNN learns sizes relative to the cell. With
    ``use_classes`` the factor uses the true classes; without, only the cell median (as a new
    cell gets before it is classified: for validation cells).
    """
    by_cell: dict[str, tuple[list, list]] = {}
    for c in chromosomes:
        axes, classes = by_cell.setdefault(c.cell, ([], []))
        axes.append(crop_axis(c.image))
        classes.append(c.cls)
    return {
        cell: _settle(factor_from_axes(np.array(axes), stats, classes if use_classes else None), 0)
        for cell, (axes, classes) in by_cell.items()
    }
