"""Learn which segmenter candidates are chromosomes (``segmentation.spread_candidates``).

Each candidate of a labelled spread is a chromosome when its box matches a true box one to one
(IoU 0.5 or more, stronger candidates first); a logistic model (ridge, Newton steps) is fitted on
the candidates' features, and its keeping threshold is the one that finds the most chromosomes
net of extra boxes on the spreads it was fitted on (a lost chromosome and an extra label cost a
cell's count alike).
"""

from __future__ import annotations

import numpy as np

from napari_karyotype.segmentation.spread_candidates import Rescorer, candidates

RIDGE = 1e-2
"""Ridge penalty on the standardised weights."""

FEWEST = 10
"""Fewer right (or wrong) candidates than this teach nothing: no rescorer is written."""


def label(found, truth: np.ndarray) -> np.ndarray:
    """True for the candidates that match a box of ``truth`` ((n, 4), net frame) one to one."""
    from scipy.optimize import linear_sum_assignment

    from napari_karyotype.segmentation.spread_candidates import intersections

    y = np.zeros(len(found), bool)
    if not found or len(truth) == 0:
        return y
    boxes = np.array([c.box for c in found], float)
    inter = intersections(boxes, np.asarray(truth, float))
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    iou = inter / (area(boxes)[:, None] + area(np.asarray(truth, float))[None] - inter)
    heights = np.array([c.height for c in found])
    rows, cols = linear_sum_assignment(-(iou >= 0.5).astype(float) * (1.0 + heights[:, None]))
    y[rows[iou[rows, cols] >= 0.5]] = True
    return y


def fit(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE, steps: int = 50) -> Rescorer:
    """A :class:`Rescorer` fitted to features ``x`` and labels ``y``."""
    y = np.asarray(y, bool)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    a = np.c_[np.ones(len(x)), (x - mean) / scale]
    w = np.zeros(a.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-a @ w))
        grad = a.T @ (p - y.astype(float)) + ridge * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + ridge * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    rescorer = Rescorer(w, mean, scale)
    chance = rescorer.chance(x)
    levels = np.round(np.arange(0.2, 0.91, 0.05), 2)
    net = [int(np.sum(y[chance >= t])) - int(np.sum(~y[chance >= t])) for t in levels]
    rescorer.keep = float(levels[int(np.argmax(net))])
    return rescorer


def fit_on_spreads(segmenter, spreads: list[dict], log=print) -> Rescorer | None:
    """Fit a rescorer to ``segmenter``'s candidates on prepared spreads
    (``training.spread_targets.load_prepared``); None where too few are right or wrong."""
    xs, ys = [], []
    for i, s in enumerate(spreads, start=1):
        ink = s["ink"].astype(np.float32) * (1.5 / 255)
        found, x = candidates(*segmenter.maps(ink))
        xs.append(x)
        ys.append(label(found, s["boxes"]))
        if i % 20 == 0:
            log(f"  candidates of {i}/{len(spreads)} spreads")
    x, y = np.concatenate(xs), np.concatenate(ys)
    if y.sum() < FEWEST or (~y).sum() < FEWEST:
        log(f"rescorer: too few candidates to learn from ({int(y.sum())} right, "
            f"{int((~y).sum())} wrong); the segmenter keeps its strong peaks")  # fmt: skip
        return None
    rescorer = fit(x.astype(np.float64), y)
    rescorer.views = segmenter.views
    kept = rescorer.chance(x) >= rescorer.keep
    log(
        f"rescorer: {int(y.sum())} of {len(y)} candidates are chromosomes; keeping "
        f"{int((kept & y).sum())} of them and {int((kept & ~y).sum())} others "
        f"(chance >= {rescorer.keep})"
    )
    return rescorer
