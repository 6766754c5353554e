"""The whole pipeline on karyogram images: rows, active contours, CNN, per-cell assignment.

:func:`analyze_image` runs it on one image; :func:`analyze_one` also writes its outputs
``<stem>_labels.tif``, ``<stem>.csv`` (the features table) and ``<stem>_karyogram.png`` and its
completion marker: every batch path (``pipeline.files``: one process, local processes, Dask)
runs it. :func:`score` compares a result with a known truth.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from napari_karyotype.cell.features import CellSummary
from napari_karyotype.errors import KaryotypeError
from napari_karyotype.pipeline.inputs import IMAGE_SUFFIXES as IMAGE_SUFFIXES  # re-exported
from napari_karyotype.pipeline.inputs import OUTPUT_SUFFIXES as OUTPUT_SUFFIXES

DONE_SUFFIX = "_done.json"
"""Per-image completion marker: the image's summary row, written after its outputs."""

PAGE_KINDS = ("auto", "karyogram", "metaphase")
"""``analyze --page``: read the kind of each page, or force one path."""

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
    "in_doubt",
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
    warnings: list[str] = field(default_factory=list)
    """One line per reason the page is not one karyogram (``page.clean_page``); also in
    ``summary.flags``."""
    kind: str = "karyogram"
    """The path the page took: ``karyogram`` (rows and contours) or ``metaphase`` (the learned
    segmenter)."""
    objects: list = field(default_factory=list)
    """A metaphase's objects (``segmentation.objects.SpreadObject``): every chromosome whole
    (crossing ones overlap), the nuclei and debris left out; empty for a karyogram."""


def _as_karyogram(image):
    from napari_karyotype.image import io

    if isinstance(image, io.Karyogram):
        return image
    if isinstance(image, (str, Path)):
        return io.read_karyogram(image)
    return io.as_karyogram(image)


def resolve_rows(rows, image: np.ndarray, *, clean: bool = True) -> list:
    """Row shapes: ``"auto"`` proposes them, a path reads a napari Shapes CSV, a list is kept.

    ``clean``: False when ``image`` has had its page furniture taken out already."""
    from napari_karyotype.segmentation import shapes as _shapes

    if rows is None or (isinstance(rows, str) and rows == "auto"):
        from napari_karyotype.segmentation.rows import propose_rows

        found = propose_rows(image, clean=clean)
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
    classes: str = "auto",
    page: str = "auto",
    segmenter=None,
) -> Analysis:
    """Rows, active contours, CNN and per-cell assignment on one karyogram.

    ``image``: a path, an ``io.Karyogram`` or an array (any of ``io.as_karyogram``'s inputs).
    ``rows``: ``"auto"``, a napari Shapes CSV path, or shapes. ``classifier``: loaded, a path, or
    None for the bundled model. ``scale``: None estimates it. ``segment_options``: keyword
    arguments of ``contours.segment``. ``progress(done, total, step)`` between the steps.
    ``classes``: ``"auto"`` (the layout where it reads confidently, else the CNN),
    ``"cnn"``, ``"layout"`` or ``"both"`` (:data:`napari_karyotype.CLASS_SOURCES`); with
    ``layout`` or ``both`` an unreadable layout keeps the CNN's classes and says so in the flags.
    ``page``: ``auto`` reads whether the page is an arranged karyogram or a raw metaphase
    (``page.clean_page``), ``karyogram`` or ``metaphase`` forces the path. A metaphase is cut
    into chromosomes by the learned segmenter (``segmenter``: loaded, a path, or None for the
    bundled one; ``segmentation.spread_model``), each classified whole and upright, and its
    karyotype is claimed only for a complete cell (``cell.complete``).
    """
    from napari_karyotype.cell import features as _features
    from napari_karyotype.cell.karyogram import arrange_karyogram
    from napari_karyotype.segmentation import contours as _segment
    from napari_karyotype.segmentation.page import clean_page

    def step(i: int, what: str) -> None:
        if progress is not None:
            progress(i, 4, what)

    seconds = {}
    t0 = time.perf_counter()
    k = _as_karyogram(image)
    img, inverted, source = k.image, k.inverted, k.source
    step(0, "finding rows")
    # Page furniture (numbers, lines, frames, text, marks) out before rows and contours; the
    # CNN and the karyogram still see the image as it is.
    if page not in PAGE_KINDS:
        raise KaryotypeError(f"page: expected one of {', '.join(PAGE_KINDS)}, got {page!r}")
    # A page named a metaphase needs no cleaning: the segmenter reads the spread as it is.
    cleaned = clean_page(img, k.chroma) if page != "metaphase" else None
    kind = page if page != "auto" else ("karyogram" if cleaned.arranged else "metaphase")
    objects, warnings = [], cleaned.warnings if cleaned is not None else []
    if kind == "metaphase":
        from napari_karyotype.segmentation.objects import paint

        step(1, "segmenting the metaphase")
        t1 = time.perf_counter()
        seconds["rows"] = t1 - t0
        shapes, objects = [], find_spread_objects(img, segmenter)
        labels = paint(objects, img.shape).labels
        warnings = []
    else:
        shapes = resolve_rows(rows, cleaned.image, clean=False)
        t1 = time.perf_counter()
        seconds["rows"] = t1 - t0
        step(1, "segmenting")
        options = {"arranged": cleaned.arranged, **(segment_options or {})}
        labels = np.asarray(_segment.segment(cleaned.image, shapes, **options), np.int32)
    t2 = time.perf_counter()
    seconds["segment"] = t2 - t1
    if not labels.any():
        raise KaryotypeError(
            "no chromosomes found in the metaphase" if kind == "metaphase"
            else "no chromosomes found inside the rows"
        )  # fmt: skip
    step(2, "classifying")
    placed = None
    if classes == "auto" and kind == "karyogram":
        from napari_karyotype.cell.layout import confident_classes

        placed = confident_classes(labels)
    chromosomes = [o for o in objects if o.kind == "chromosome"]
    table, summary = _features.classify_cell(
        img, labels, classifier=classifier, scale=scale, assign=assign, placed=placed,
        objects=chromosomes or None,
    )  # fmt: skip
    if kind == "metaphase":
        from napari_karyotype.cell.complete import completeness

        warnings = completeness(objects, summary.count, summary.iscn)
    elif page == "auto":
        from napari_karyotype.cell.complete import auto_page_doubt

        warnings = [*warnings, *auto_page_doubt(summary.count)]
    if classes not in ("cnn", "auto"):
        from napari_karyotype.cell.layout import apply_layout

        table, read = apply_layout(table, labels, classes)
        summary = _features.summarize(table, summary.scale)
        if not read.ok:
            summary.flags.append(f"{read.message}: CNN classes kept")
    t3 = time.perf_counter()
    seconds["classify"] = t3 - t2
    if kind == "metaphase":  # the segmenter's doubts first, then the CNN's
        from napari_karyotype.cell.corrections import in_doubt

        summary = replace(summary, in_doubt=in_doubt(objects, table))
    summary = _features.on_page(summary, warnings)  # not one whole karyotype: none claimed
    step(3, "arranging the karyogram")
    arranged = arrange_karyogram(img, labels, table, objects=chromosomes)
    seconds["karyogram"] = time.perf_counter() - t3
    seconds["total"] = time.perf_counter() - t0
    step(4, "done")
    result = Analysis(
        img, shapes, labels, table, summary, arranged, inverted, source, seconds, warnings,
        kind, objects,
    )  # fmt: skip
    if page == "auto" and kind == "karyogram" and isinstance(rows, str) and rows == "auto":
        result = _or_as_metaphase(result, k, classifier, assign, scale, progress, segmenter)
    return result


def _or_as_metaphase(result: Analysis, k, classifier, assign, scale, progress, segmenter):
    """``result`` of a page ``--page auto`` read as a karyogram, or, where its rows held too few
    chromosomes for one (``cell.complete.AUTO_FEWEST``) and the segmenter finds more, the page
    read as a metaphase: a spread whose ink happened to stand in bands."""
    from napari_karyotype.cell.complete import AUTO_FEWEST

    count = result.summary.count
    if count >= AUTO_FEWEST:
        return result
    other = analyze_image(
        k, classifier=classifier, assign=assign, scale=scale, progress=progress,
        page="metaphase", segmenter=segmenter,
    )  # fmt: skip
    if other.summary.count <= count:
        return result
    other.summary.flags.append(f"read as a metaphase: as a karyogram, its rows held {count}")
    other.seconds["total"] += result.seconds["total"]
    return other


def find_spread_objects(image: np.ndarray, segmenter=None) -> list:
    """The chromosomes (whole), nuclei and debris of a raw metaphase (dark-on-light float
    image), by the learned segmenter (loaded, a path, or None for the bundled one)."""
    from napari_karyotype.segmentation import spread_model
    from napari_karyotype.segmentation.spread import read_spread

    seg = segmenter
    if seg is None or isinstance(seg, (str, Path)):
        seg = spread_model.load_segmenter(seg)
    return spread_model.find_objects(read_spread(image), seg, image)


FORMATS = ("csv", "voc", "coco")
"""Output formats of ``analyze --format``: ``csv`` (labels, table, karyogram: always written),
``voc`` (``<stem>.xml``), ``coco`` (``<stem>_coco.json``, merged into ``annotations.json``)."""
COCO_FILE = "annotations.json"


def output_paths(out_dir: str | Path, stem: str, formats=("csv",)) -> dict[str, Path]:
    """Where :func:`write_outputs` and :func:`write_dataset_files` put one image's files (and
    its completion marker)."""
    out_dir = Path(out_dir)
    paths = {
        "labels": out_dir / f"{stem}_labels.tif",
        "table": out_dir / f"{stem}.csv",
        "karyogram": out_dir / f"{stem}_karyogram.png",
    }
    if "voc" in formats:
        paths["voc"] = out_dir / f"{stem}.xml"
    if "coco" in formats:
        paths["coco"] = out_dir / f"{stem}_coco.json"
    paths["done"] = out_dir / f"{stem}{DONE_SUFFIX}"
    return paths


def _temp_name(final: Path) -> Path:
    """A hidden sibling of ``final`` with the same suffix (writers pick the format from it)."""
    return final.with_name(f".{final.stem}.tmp-{uuid.uuid4().hex[:8]}{final.suffix}")


@contextmanager
def _atomic(final: Path) -> Iterator[Path]:
    """Write to a temporary name, then rename: readers never see a half-written ``final``."""
    tmp = _temp_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as err:
        raise KaryotypeError(f"{final}: cannot write ({err.strerror or err})") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_outputs(analysis: Analysis, out_dir: str | Path, stem: str) -> dict[str, Path]:
    """Write ``<stem>_labels.tif``, ``<stem>.csv`` and ``<stem>_karyogram.png`` into ``out_dir``.

    Each file is written under a temporary name and renamed, so a process killed mid-way never
    leaves a half-written output (a retried or resumed run simply writes it again).
    """
    import tifffile

    from napari_karyotype.cell.export import write_table_csv
    from napari_karyotype.cell.features import with_left_out
    from napari_karyotype.cell.karyogram import save_karyogram

    out_dir = Path(out_dir)
    paths = output_paths(out_dir, stem)
    del paths["done"]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KaryotypeError(f"{out_dir}: cannot write ({err.strerror or err})") from None
    with _atomic(paths["labels"]) as tmp:
        tifffile.imwrite(tmp, analysis.labels.astype(np.int32), compression="zlib")
    with _atomic(paths["table"]) as tmp:
        write_table_csv(tmp, with_left_out(analysis.features, analysis.objects))
    with _atomic(paths["karyogram"]) as tmp:
        save_karyogram(tmp, analysis.karyogram)
    return paths


def write_dataset_files(
    analysis: Analysis, out_dir: str | Path, stem: str, source: str | Path, formats
) -> dict[str, Path]:
    """Write the image's chromosomes as ``<stem>.xml`` (VOC) and/or ``<stem>_coco.json`` (its
    share of the run's COCO file), each atomically. The image is named relative to ``out_dir``,
    so ``evaluate`` and the napari reader find it from the written files."""
    from napari_karyotype.datasets.annotated import from_labels
    from napari_karyotype.datasets.coco import image_piece
    from napari_karyotype.datasets.voc import voc_xml

    out_dir = Path(out_dir)
    paths = {k: v for k, v in output_paths(out_dir, stem, formats).items() if k in ("voc", "coco")}
    if not paths:
        return {}
    items = from_labels(analysis.labels, analysis.features, analysis.objects)
    where = os.path.relpath(Path(source).resolve(), out_dir.resolve())
    if "voc" in paths:
        with _atomic(paths["voc"]) as tmp:
            tmp.write_text(voc_xml(Path(source).name, analysis.labels.shape, items, path=where))
    if "coco" in paths:
        with _atomic(paths["coco"]) as tmp:
            tmp.write_text(json.dumps(image_piece(where, analysis.labels.shape, items)))
    return paths


def merge_coco(out_dir: str | Path, stems) -> Path:
    """Merge the ``<stem>_coco.json`` shares of ``stems`` (in order; missing ones, failed images,
    skipped) into ``out_dir/annotations.json``, atomically; returns its path."""
    from napari_karyotype.datasets.coco import merge

    out_dir = Path(out_dir)
    pieces = []
    for stem in stems:
        try:
            pieces.append(json.loads(output_paths(out_dir, stem, ("coco",))["coco"].read_text()))
        except (OSError, ValueError):
            continue
    final = out_dir / COCO_FILE
    with _atomic(final) as tmp:
        tmp.write_text(json.dumps(merge(pieces), separators=(",", ":")))
    return final


def write_layout_crops(analysis: Analysis, crops_dir: str | Path, stem: str) -> list[Path]:
    """Write, as dataset GIFs (``cell.export.export_crops``), the chromosomes whose class their
    place in the arranged karyogram gives with confidence: a training set harvested from an
    archive without labelling by hand (``napari-karyotype train --init``). None from a page that
    is not one karyogram or whose layout does not read. Returns the written paths."""
    from napari_karyotype.cell.export import cell_id, export_crops
    from napari_karyotype.cell.layout import confident_classes

    if analysis.warnings:
        return []
    table = analysis.features
    if not (table["layout"] != "").any():  # CNN classes chosen: the layout was not read
        placed = confident_classes(analysis.labels)
        table = table.assign(layout=[placed.get(int(lab), "") for lab in table["label"]])
    if not (table["layout"] != "").any():
        return []
    return export_crops(
        analysis.image,
        analysis.labels,
        table,
        crops_dir,
        cell_id(stem),
        classes="layout",
        overwrite=True,
    )


def _plain(value):
    """numpy scalars as Python ones, NaN as None (for JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_done(out_dir: str | Path, stem: str, source: str | Path, row: dict) -> Path:
    """Mark ``stem`` complete: its summary row and input path as JSON, written last, atomically."""
    path = output_paths(out_dir, stem)["done"]
    record = {k: _plain(v) for k, v in row.items()}
    record["source"] = str(Path(source).resolve())
    with _atomic(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return path


def completed_row(
    out_dir: str | Path, stem: str, source: str | Path, formats=("csv",)
) -> dict | None:
    """The summary row of ``stem`` if its outputs (in ``formats``) are complete and from
    ``source``, else None."""
    paths = output_paths(out_dir, stem, formats)
    try:
        record = json.loads(paths["done"].read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.pop("source", None) != str(Path(source).resolve()):
        return None
    if not all(p.is_file() for p in paths.values()):
        return None
    return {k: (np.nan if v is None else v) for k, v in record.items()}


def analyze_one(
    path: str | Path,
    stem: str,
    out_dir: str | Path,
    *,
    rows="auto",
    assign: bool = True,
    classes: str = "auto",
    classifier=None,
    crops: str | Path | None = None,
    page: str = "auto",
    formats=("csv",),
) -> dict:
    """Analyse one file and write its outputs and completion marker; returns its summary row.
    ``crops``: also write the training crops of its layout-read chromosomes there
    (:func:`write_layout_crops`). ``formats``: also VOC and/or COCO files
    (:func:`write_dataset_files`).

    Never raises for a bad image: the row then has only ``file`` and a one-line ``error``. Every
    batch path (one process, local workers, Dask) runs this function, so their outputs agree.
    """
    t0 = time.perf_counter()
    try:
        result = analyze_image(
            path, rows=rows, classifier=classifier, assign=assign, classes=classes, page=page
        )
        write_outputs(result, out_dir, stem)
        write_dataset_files(result, out_dir, stem, path, formats)
        if crops is not None:
            write_layout_crops(result, crops, stem)
        seconds = round(time.perf_counter() - t0, 2)
        row = {"file": str(path), **result.summary.as_row(), "seconds": seconds, "error": ""}
        write_done(out_dir, stem, path, row)
    except Exception as err:  # noqa: BLE001 - one bad image must not end a batch
        return {"file": str(path), "error": _one_line(err)}
    return row


def _one_line(err: BaseException) -> str:
    """A failure as one line: a KaryotypeError's message, else the type and first line."""
    if isinstance(err, KaryotypeError):
        return str(err)
    if isinstance(err, MemoryError):
        return "out of memory"
    text = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
    return f"unexpected {type(err).__name__}" + (f": {text}" if text else "")


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
