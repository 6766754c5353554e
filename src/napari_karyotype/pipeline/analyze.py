"""The whole pipeline on karyogram images: rows, active contours, CNN, per-cell assignment.

:func:`analyze_image` runs it on one image; :func:`analyze_files` on many, writing per image
``<stem>_labels.tif``, ``<stem>.csv`` (the features table) and ``<stem>_karyogram.png``, plus
``summary.csv`` (one row per image). :func:`score` compares a result with a known truth.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from napari_karyotype.cell.features import CellSummary
from napari_karyotype.errors import KaryotypeError

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif")
"""Files of these types are taken from a folder given to :func:`collect_images`."""

OUTPUT_SUFFIXES = ("_labels.tif", "_karyogram.png")
"""Names :func:`write_outputs` gives; such files in an input folder are not analysed."""

SUMMARY_COLUMNS = (
    "file",
    "count",
    "iscn",
    "mean_confidence",
    "scale",
    "extra",
    "missing",
    "flags",
    "disagree",
    "seconds",
    "error",
)


@dataclass
class Analysis:
    """Everything :func:`analyze_image` found in one karyogram."""

    image: np.ndarray
    """2-D float32 in [0, 1], dark on light (as ``io.as_karyogram`` gives it)."""
    rows: list
    """The row shapes segmented: ``(shape_type, (N, 2) vertices)``."""
    labels: np.ndarray
    """int32 label image: one id per chromosome."""
    features: pd.DataFrame
    summary: CellSummary
    karyogram: np.ndarray
    """uint8 arranged karyogram (``karyogram.arrange_karyogram``)."""
    inverted: bool = False
    source: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def _as_image(image) -> tuple[np.ndarray, bool, str | None]:
    from napari_karyotype.image import io

    if isinstance(image, io.Karyogram):
        k = image
    elif isinstance(image, (str, Path)):
        k = io.read_karyogram(image)
    else:
        k = io.as_karyogram(image)
    return k.image, k.inverted, k.source


def resolve_rows(rows, image: np.ndarray) -> list:
    """Row shapes: ``"auto"`` proposes them, a path reads a napari Shapes CSV, a list is kept."""
    from napari_karyotype.segmentation import shapes as _shapes

    if rows is None or (isinstance(rows, str) and rows == "auto"):
        from napari_karyotype.segmentation.rows import propose_rows

        found = propose_rows(image)
    elif isinstance(rows, (str, Path)):
        found = _shapes.read_shapes_csv(rows)
    else:
        found = _shapes.normalize_shapes(rows)
    if not found:
        raise KaryotypeError("no karyogram rows found (draw or give the rows)")
    return list(found)


def analyze_image(
    image,
    *,
    rows="auto",
    classifier=None,
    assign: bool = True,
    scale: float | None = None,
    segment_options: dict | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    classes: str = "cnn",
) -> Analysis:
    """Rows, active contours, CNN and per-cell assignment on one karyogram.

    ``image``: a path, an ``io.Karyogram`` or an array (any of ``io.as_karyogram``'s inputs).
    ``rows``: ``"auto"``, a napari Shapes CSV path, or shapes. ``classifier``: loaded, a path, or
    None for the bundled model. ``scale``: None estimates it. ``segment_options``: keyword
    arguments of ``segment.segment``. ``progress(done, total, step)`` between the steps.
    ``classes``: ``"cnn"``, ``"layout"`` or ``"both"`` (``layout.apply_layout``); an unreadable
    layout keeps the CNN's classes and says so in the summary's flags.
    """
    from napari_karyotype.cell import features as _features
    from napari_karyotype.cell.karyogram import arrange_karyogram
    from napari_karyotype.segmentation import contours as _segment

    def step(i: int, what: str) -> None:
        if progress is not None:
            progress(i, 4, what)

    seconds = {}
    t0 = time.perf_counter()
    img, inverted, source = _as_image(image)
    step(0, "finding rows")
    shapes = resolve_rows(rows, img)
    t1 = time.perf_counter()
    seconds["rows"] = t1 - t0
    step(1, "segmenting")
    labels = np.asarray(_segment.segment(img, shapes, **(segment_options or {})), np.int32)
    t2 = time.perf_counter()
    seconds["segment"] = t2 - t1
    if not labels.any():
        raise KaryotypeError("no chromosomes found inside the rows")
    step(2, "classifying")
    table, summary = _features.classify_cell(
        img, labels, classifier=classifier, scale=scale, assign=assign
    )
    if classes != "cnn":
        from napari_karyotype.cell.layout import apply_layout

        table, read = apply_layout(table, labels, classes)
        summary = _features.summarize(table, summary.scale)
        if not read.ok:
            summary.flags.append(f"{read.message}: CNN classes kept")
    t3 = time.perf_counter()
    seconds["classify"] = t3 - t2
    step(3, "arranging the karyogram")
    arranged = arrange_karyogram(img, labels, table)
    seconds["karyogram"] = time.perf_counter() - t3
    seconds["total"] = time.perf_counter() - t0
    step(4, "done")
    return Analysis(img, shapes, labels, table, summary, arranged, inverted, source, seconds)


def write_outputs(analysis: Analysis, out_dir: str | Path, stem: str) -> dict[str, Path]:
    """Write ``<stem>_labels.tif``, ``<stem>.csv`` and ``<stem>_karyogram.png`` into ``out_dir``."""
    import tifffile

    from napari_karyotype.cell.export import write_table_csv
    from napari_karyotype.cell.karyogram import save_karyogram

    out_dir = Path(out_dir)
    paths = {
        "labels": out_dir / f"{stem}_labels.tif",
        "table": out_dir / f"{stem}.csv",
        "karyogram": out_dir / f"{stem}_karyogram.png",
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(paths["labels"], analysis.labels.astype(np.int32), compression="zlib")
    except OSError as err:
        raise KaryotypeError(f"{out_dir}: cannot write ({err.strerror or err})") from None
    write_table_csv(paths["table"], analysis.features)
    save_karyogram(paths["karyogram"], analysis.karyogram)
    return paths


def collect_images(inputs: Iterable[str | Path], out_dir: str | Path | None = None) -> list[Path]:
    """The image files named, and those of named folders (sorted; not recursive).

    Files inside ``out_dir`` and files named like outputs (``*_labels.tif``, ``*_karyogram.png``)
    are left out of folders. A name that does not exist is kept (and fails when read).
    """
    out = Path(out_dir).resolve() if out_dir is not None else None
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if out is not None and path.resolve() == out:
                continue
            for f in sorted(path.iterdir()):
                if (
                    f.is_file()
                    and f.suffix.lower() in IMAGE_SUFFIXES
                    and not f.name.lower().endswith(OUTPUT_SUFFIXES)
                ):
                    found.append(f)
        else:
            found.append(path)
    return found


def _stems(paths: Sequence[Path]) -> list[str]:
    """Output stems: the file stem, made unique (``a``, ``a-2``…) when two inputs share one."""
    seen: dict[str, int] = {}
    stems = []
    for p in paths:
        stem = p.stem
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


def _one_line(err: BaseException) -> str:
    """A failure as one line: a KaryotypeError's message, else the type and first line."""
    if isinstance(err, KaryotypeError):
        return str(err)
    if isinstance(err, MemoryError):
        return "out of memory"
    text = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
    return f"unexpected {type(err).__name__}" + (f": {text}" if text else "")


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / max(total, 1))
    return "#" * filled + "-" * (width - filled)


def analyze_files(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    rows="auto",
    assign: bool = True,
    model: str | Path | None = None,
    classifier=None,
    log=None,
    classes: str = "cnn",
) -> tuple[pd.DataFrame, list[tuple[Path, str]]]:
    """Analyse every karyogram in ``inputs`` (files or folders), writing the outputs to ``out_dir``.

    The model is loaded once (``classifier``, else ``model`` path, else the bundled one). A file
    that fails is reported in one line on ``log`` (default stderr) and skipped. ``classes`` as in
    :func:`analyze_image`. Returns the summary
    table (also written as ``out_dir/summary.csv``) and ``[(path, error message)]`` of failures.
    """
    from napari_karyotype.classification.model import load_classifier

    log = log or sys.stderr
    paths = collect_images(inputs, out_dir)
    if not paths:
        raise KaryotypeError("no karyogram images found in the given files or folders")
    if isinstance(rows, str) and rows != "auto":
        rows = Path(rows)
    if isinstance(rows, Path):
        from napari_karyotype.segmentation.shapes import read_shapes_csv

        rows = read_shapes_csv(rows)  # once, for every image; a bad file stops here
    clf = classifier if classifier is not None else load_classifier(model)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KaryotypeError(f"{out_dir}: cannot create folder ({err.strerror or err})") from None
    records, failures = [], []
    total = len(paths)
    for i, (path, stem) in enumerate(zip(paths, _stems(paths), strict=True), start=1):
        t0 = time.perf_counter()
        try:
            result = analyze_image(path, rows=rows, classifier=clf, assign=assign, classes=classes)
            write_outputs(result, out_dir, stem)
        except Exception as err:  # noqa: BLE001 - one bad image must not end a batch
            msg = _one_line(err)
            failures.append((path, msg))
            records.append({"file": str(path), "error": msg})
            print(f"[{i}/{total}] {_bar(i, total)} {path.name}: skipped: {msg}", file=log)
            continue
        seconds = time.perf_counter() - t0
        row = {"file": str(path), **result.summary.as_row(), "seconds": round(seconds, 2)}
        row["error"] = ""
        records.append(row)
        notes = [f for f in result.summary.flags if "layout" in f]  # unread / disagreements
        print(
            f"[{i}/{total}] {_bar(i, total)} {path.name}: {result.summary.count} chromosomes, "
            f"{result.summary.iscn} ({seconds:.1f} s)" + "".join(f"; {n}" for n in notes),
            file=log,
        )
        if hasattr(log, "flush"):
            log.flush()
    summary = pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS))
    try:
        summary.to_csv(out_dir / "summary.csv", index=False)
    except OSError as err:
        raise KaryotypeError(
            f"{out_dir}: cannot write summary.csv ({err.strerror or err})"
        ) from None
    return summary, failures


# ------------------------------------------------------------------------------- scoring
def score(
    labels: np.ndarray,
    features: pd.DataFrame,
    true_labels: np.ndarray,
    true_classes: dict[int, str],
    *,
    iou: float = 0.5,
) -> dict:
    """Compare a result with the truth: each true chromosome is *segmented* if one label overlaps
    it with IoU >= ``iou`` and *correct* if that label's ``assigned`` class is the true one.

    Returns ``{"n_true", "n_found", "segmented", "correct", "accuracy"}`` (accuracy = correct /
    n_true).
    """
    labels = np.asarray(labels, np.int64)
    true_labels = np.asarray(true_labels, np.int64)
    if labels.shape != true_labels.shape:
        raise KaryotypeError("labels and true labels differ in size")
    n_pred = int(labels.max()) + 1
    pair = true_labels.ravel() * n_pred + labels.ravel()
    inter = np.bincount(pair, minlength=(int(true_labels.max()) + 1) * n_pred)
    inter = inter.reshape(-1, n_pred)
    true_area = inter.sum(axis=1)
    pred_area = inter.sum(axis=0)
    assigned = dict(zip(features["label"].astype(int), features["assigned"], strict=True))
    segmented = correct = 0
    for t, cls in true_classes.items():
        row = inter[int(t)].copy()
        row[0] = 0
        p = int(row.argmax())
        if p == 0:
            continue
        union = true_area[int(t)] + pred_area[p] - row[p]
        if row[p] / union >= iou:
            segmented += 1
            correct += assigned.get(p, "") == cls
    n_true = len(true_classes)
    return {
        "n_true": n_true,
        "n_found": int(len(np.unique(labels)) - (labels == 0).any()),
        "segmented": segmented,
        "correct": int(correct),
        "accuracy": correct / n_true if n_true else float("nan"),
    }
