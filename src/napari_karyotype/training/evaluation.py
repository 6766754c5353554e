"""Evaluate a classifier on dataset chromosomes: accuracy, per-cell assignment, calibration.

Writes ``report.json`` (n, top1, top1_assigned, top3, ece, the share of male cells whose Y is
found, the cells whose numerical karyotype after assignment is the true one, the small
acrocentrics and Y apart (``groups``: where cells are lost), per-class precision/recall, the
cells' karyotypes, and the same numbers per source — laboratory — under ``per_source``),
``predictions.csv`` (one row per image) and ``confusion.png``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_karyotype import CLASSES


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-1 confidence over ``bins`` equal-width bins (0 … 1)."""
    probs = np.asarray(probs)
    if len(probs) == 0:
        return float("nan")
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def assign_cells(probs: np.ndarray, cells: Sequence[str], **kwargs) -> tuple[np.ndarray, dict]:
    """Per-cell Hungarian assignment: (assigned class index per row, {cell: ISCN})."""
    from napari_karyotype.cell.assign import assign_cell

    index = {c: i for i, c in enumerate(CLASSES)}
    cells = np.asarray(cells)
    assigned = np.zeros(len(cells), dtype=np.int64)
    karyotypes = {}
    for cell in dict.fromkeys(cells.tolist()):
        rows = np.flatnonzero(cells == cell)
        result = assign_cell(probs[rows], **kwargs)
        assigned[rows] = [index[c] for c in result.classes]
        karyotypes[cell] = result.iscn
    return assigned, karyotypes


SMALL_ACROCENTRICS = ("13", "14", "15", "21", "22")
"""Where cells are lost (with Y): reported apart (``metrics``' ``groups``)."""


def _group(classes, labels, pred, assigned) -> dict:
    """``{n, top1, top1_assigned}`` over the chromosomes whose true class is in ``classes``."""
    rows = np.isin(labels, [CLASSES.index(c) for c in classes])
    if not rows.any():
        return {"n": 0, "top1": None, "top1_assigned": None}
    return {
        "n": int(rows.sum()),
        "top1": float((pred[rows] == labels[rows]).mean()),
        "top1_assigned": float((assigned[rows] == labels[rows]).mean()),
    }


def metrics(probs: np.ndarray, labels: np.ndarray, cells: Sequence[str], **assign_kwargs) -> dict:
    """The report's numbers for probabilities ``probs`` (n, 24) with true ``labels`` (indices)."""
    probs = np.asarray(probs)
    labels = np.asarray(labels)
    pred = probs.argmax(axis=1)
    assigned, karyotypes = assign_cells(probs, cells, **assign_kwargs)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    per_class = {}
    for i, c in enumerate(CLASSES):
        tp = int(((pred == i) & (labels == i)).sum())
        n_pred, n_true = int((pred == i).sum()), int((labels == i).sum())
        per_class[c] = {
            "n": n_true,
            "precision": tp / n_pred if n_pred else None,
            "recall": tp / n_true if n_true else None,
        }
    cells = np.asarray(cells)
    y = CLASSES.index("Y")
    male = sorted({c for c in cells[labels == y].tolist()})
    found = [bool(((cells == c) & (labels == y) & (assigned == y)).any()) for c in male]
    right = [
        sorted(assigned[cells == c].tolist()) == sorted(labels[cells == c].tolist())
        for c in karyotypes
    ]
    return {
        "n": int(len(labels)),
        "cells": len(karyotypes),
        "male_cells": len(male),
        "y_found": float(np.mean(found)) if male else None,
        "top1": float((pred == labels).mean()),
        "top1_assigned": float((assigned == labels).mean()),
        "top3": float((top3 == labels[:, None]).any(axis=1).mean()),
        "ece": expected_calibration_error(probs, labels),
        "karyotypes_right": int(sum(right)),
        "groups": {
            "small acrocentrics": _group(SMALL_ACROCENTRICS, labels, pred, assigned),
            "Y": _group(("Y",), labels, pred, assigned),
        },
        "per_class": per_class,
        "karyotypes": karyotypes,
    }


@dataclass
class Evaluation:
    """Report dict, per-image predictions table and the confusion matrix (true x predicted)."""

    report: dict
    predictions: object  # pandas.DataFrame
    confusion: np.ndarray


def predict_cells(chromosomes, classifier) -> tuple[np.ndarray, dict[str, float]]:
    """``(probs (n, 24), {cell: scale})`` of dataset chromosomes, cell by cell; crops cut from
    spreads (``from_spread``) seen both ways up (``classification.upright.both_ends``).

    A :data:`~.scale.PER_CELL` model gets each cell scaled as in the plugin
    (:func:`~.scale.cell_scale_and_probs`; no true class is used); any other
    model sees the crops as they are.
    """
    from napari_karyotype.classification import scale as _scale
    from napari_karyotype.classification.upright import both_ends
    from napari_karyotype.training.fit import canvases_of

    def predictor(members):
        """Crops from spreads are seen both ways up, as the plugin classifies a metaphase."""
        spread = members[0].from_spread
        return both_ends(classifier.predict_proba) if spread else classifier.predict_proba

    probs = np.zeros((len(chromosomes), len(CLASSES)), np.float32)
    if not classifier.per_cell:
        spread = np.array([c.from_spread for c in chromosomes], bool)
        for kind in (False, True):
            rows = np.flatnonzero(spread == kind)
            members = [chromosomes[i] for i in rows]
            if members:
                probs[rows] = predictor(members)(canvases_of(members))
        return probs, {}
    stats = classifier.size_stats
    cells = np.array([c.cell for c in chromosomes])
    scales = {}
    for cell in dict.fromkeys(cells.tolist()):
        rows = np.flatnonzero(cells == cell)
        members = [chromosomes[i] for i in rows]
        axes = np.array([_scale.crop_axis(c.image) for c in members])
        predict = predictor(members)
        scales[cell], probs[rows] = _scale.cell_scale_and_probs(
            axes,
            stats,
            lambda s, members=members, cell=cell, predict=predict: predict(
                canvases_of(members, {cell: s})
            ),
            tolerance=0.0,
        )
    return probs, scales


def evaluate(chromosomes, classifier) -> Evaluation:
    """Classify dataset chromosomes with ``classifier`` and score them."""
    import pandas as pd

    from napari_karyotype.training.fit import labels_of

    probs, scales = predict_cells(chromosomes, classifier)
    labels = labels_of(chromosomes)
    cells = [c.cell for c in chromosomes]
    report = metrics(probs, labels, cells)
    sources = np.array([getattr(c, "source", "hu2019") for c in chromosomes])
    report["per_source"] = {}
    for source in dict.fromkeys(sources.tolist()):
        rows = np.flatnonzero(sources == source)
        m = metrics(probs[rows], labels[rows], [cells[i] for i in rows])
        report["per_source"][source] = {k: v for k, v in m.items() if k != "karyotypes"}
    report["model"] = str(classifier.path)
    if scales:
        report["cell_scales"] = {cell: round(s, 4) for cell, s in scales.items()}
    assigned, _ = assign_cells(probs, cells)
    pred = probs.argmax(axis=1)
    table = pd.DataFrame(
        {
            "source": sources,
            "cell": cells,
            "file": [c.file for c in chromosomes],
            "true": [c.cls for c in chromosomes],
            "predicted": [CLASSES[i] for i in pred],
            "confidence": np.round(probs.max(axis=1), 4),
            "assigned": [CLASSES[i] for i in assigned],
        }
    )
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    return Evaluation(report, table, confusion)


def plot_confusion(confusion: np.ndarray, path: str | Path, title: str = "") -> None:
    """A readable 24 x 24 confusion matrix (row-normalised colours, counts written) as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = confusion.sum(axis=1, keepdims=True)
    norm = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
    fig = Figure(figsize=(10, 9), dpi=110)
    ax = fig.add_subplot()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(CLASSES))
    ax.set_xticks(ticks, CLASSES)
    ax.set_yticks(ticks, CLASSES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "Confusion matrix (colour: fraction of the true class)")
    for i, j in zip(*np.nonzero(confusion), strict=True):
        ax.text(
            j,
            i,
            str(confusion[i, j]),
            ha="center",
            va="center",
            fontsize=6,
            color="white" if norm[i, j] > 0.5 else "black",
        )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)


def write_evaluation(evaluation: Evaluation, out_dir: str | Path) -> Path:
    """Write report.json, predictions.csv and confusion.png into ``out_dir``; returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(evaluation.report, indent=2) + "\n")
    evaluation.predictions.to_csv(out / "predictions.csv", index=False)
    r = evaluation.report
    plot_confusion(
        evaluation.confusion,
        out / "confusion.png",
        f"n = {r['n']}: top-1 {r['top1']:.1%}, after per-cell assignment {r['top1_assigned']:.1%}",
    )
    return out
