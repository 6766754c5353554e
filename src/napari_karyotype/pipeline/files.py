"""Analyse many karyogram files: collect them, run :func:`~.analyze.analyze_one` on each in this
process, in N local processes (``pipeline.batch``) or on a Dask cluster (``pipeline.cluster``),
skip completed ones (``resume``) and write ``summary.csv`` in input order.
"""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from napari_karyotype.cell.features import CellSummary, karyotype_or_why
from napari_karyotype.errors import KaryotypeError
from napari_karyotype.pipeline.analyze import (
    SUMMARY_COLUMNS,
    analyze_one,
    completed_row,
    merge_coco,
)
from napari_karyotype.pipeline.inputs import collect_images


def _stems(paths: Sequence[Path]) -> list[str]:
    """Output stems: the file stem, made unique (``a``, ``a-2``…) when two inputs share one."""
    seen: dict[str, int] = {}
    stems = []
    for p in paths:
        stem = p.stem
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / max(total, 1))
    return "#" * filled + "-" * (width - filled)


def _progress_line(done: int, total: int, name: str, row: dict) -> str:
    head = f"[{done}/{total}] {_bar(done, total)} {name}: "
    if row.get("error"):
        return head + f"skipped: {row['error']}"
    flags = [f for f in str(row.get("flags") or "").split("; ") if f]
    notes = [f for f in flags if "layout" in f]
    # Not one karyogram, or too few chromosomes for one: say so instead of a karyotype.
    shown = CellSummary(int(row["count"]), str(row.get("iscn") or ""), flags=flags)
    what = karyotype_or_why(shown)
    text = f"{row['count']} chromosomes, {what} ({row['seconds']:.1f} s)"
    return head + text + "".join(f"; {n}" for n in notes)  # layout unread / disagreements


def _remove_stale_temps(out_dir: Path, stems: Iterable[str]) -> None:
    """Temporary files a killed worker left for these stems (after the run wrote them all)."""
    for stem in stems:
        for tmp in out_dir.glob(f".{glob.escape(stem)}*.tmp-*"):
            tmp.unlink(missing_ok=True)


def analyze_files(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    rows="auto",
    assign: bool = True,
    model: str | Path | None = None,
    classifier=None,
    log=None,
    classes: str = "auto",
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    crops: str | Path | None = None,
    page: str = "auto",
    formats=("csv",),
) -> tuple[pd.DataFrame, list[tuple[Path, str]]]:
    """Analyse every karyogram in ``inputs`` (files or folders), writing the outputs to ``out_dir``.

    ``workers`` > 1 runs that many local processes (``pipeline.batch``), ``scheduler`` the address
    of a Dask cluster (``pipeline.cluster``); each loads the model once (``classifier``'s file, else
    ``model``, else the bundled one). ``classes`` and ``page`` as in :func:`analyze_image`
    (a mixed folder: each page takes its own path). ``resume`` skips
    images whose outputs are complete. ``crops``: a folder for the training crops of each
    image's layout-read chromosomes (``analyze.write_layout_crops``). ``formats``: ``csv`` and
    also ``voc`` (``<stem>.xml``) and/or ``coco`` (``annotations.json`` for the run, merged in input
    order from each image's share when the run ends, whatever ran it). A file
    that fails is reported in one line on ``log`` (default stderr) and skipped; the progress counts
    finished images. Returns the summary table in input order (also written as
    ``out_dir/summary.csv``) and ``[(path, error message)]`` of failures.
    """
    log = log or sys.stderr
    paths = collect_images(inputs, out_dir)
    if not paths:
        raise KaryotypeError("no karyogram images found in the given files or folders")
    if isinstance(rows, str) and rows != "auto":
        rows = Path(rows)
    if isinstance(rows, Path):
        from napari_karyotype.segmentation.shapes import read_shapes_csv

        rows = read_shapes_csv(rows)  # once, for every image; a bad file stops here
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KaryotypeError(f"{out_dir}: cannot create folder ({err.strerror or err})") from None
    stems = _stems(paths)
    total = len(paths)
    records: list[dict | None] = [None] * total
    if resume:
        for i, (path, stem) in enumerate(zip(paths, stems, strict=True)):
            row = completed_row(out_dir, stem, path, formats)
            if row is not None:
                records[i] = {**row, "file": str(path)}
    todo = [(i, paths[i], stems[i]) for i in range(total) if records[i] is None]
    done = total - len(todo)
    if done:
        print(f"resuming: {done} of {total} images already analysed, skipped", file=log)
    if classifier is not None and model is None:
        model = classifier.path
    formats = tuple(formats)
    options = {"rows": rows, "assign": assign, "classes": classes, "page": page}  # per image
    if formats != ("csv",):
        options["formats"] = formats
    if crops is not None:
        options["crops"] = str(Path(crops).resolve())
    if not todo:
        results = iter(())
    elif scheduler is not None:
        from napari_karyotype.pipeline.cluster import run_cluster

        results = run_cluster(scheduler, todo, out_dir, model=model, **options)
    elif workers > 1 and len(todo) > 1:
        from napari_karyotype.pipeline.batch import run_local

        results = run_local(
            todo, out_dir, workers=workers, model=model, classifier=classifier, **options
        )
    else:
        results = _run_here(todo, out_dir, model=model, clf=classifier, **options)
    if scheduler is not None or not (workers > 1 and len(todo) > 1):
        from napari_karyotype.pipeline.batch import end_children

        end_children()  # children started ahead (batch.start_children) that this run does not need
    for i, row in results:
        done += 1
        row["file"] = str(paths[i])
        records[i] = row
        print(_progress_line(done, total, paths[i].name, row), file=log)
        if hasattr(log, "flush"):
            log.flush()
    if scheduler is not None or workers > 1:
        _remove_stale_temps(out_dir, (stem for _, _, stem in todo))
    failures = [(paths[i], r["error"]) for i, r in enumerate(records) if r and r.get("error")]
    if "coco" in formats:
        ok = [stems[i] for i, r in enumerate(records) if r and not r.get("error")]
        merge_coco(out_dir, ok)
    summary = pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS))
    try:
        summary.to_csv(out_dir / "summary.csv", index=False)
    except OSError as err:
        raise KaryotypeError(
            f"{out_dir}: cannot write summary.csv ({err.strerror or err})"
        ) from None
    return summary, failures


def _run_here(todo, out_dir, *, model, clf, **options) -> Iterator[tuple[int, dict]]:
    """Today's path: one image after another in this process."""
    from napari_karyotype.classification.model import load_classifier

    clf = clf if clf is not None else load_classifier(model)
    for i, path, stem in todo:
        yield i, analyze_one(path, stem, out_dir, classifier=clf, **options)
