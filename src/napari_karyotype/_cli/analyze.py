"""``napari-karyotype analyze``: the whole pipeline over karyogram images, outputs to a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_karyotype import CLASS_SOURCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="+", metavar="IMAGE_OR_FOLDER",
        help="karyogram or metaphase images, or folders of them",
    )  # fmt: skip
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR",
        help="output folder: <stem>_labels.tif, <stem>.csv, <stem>_karyogram.png, summary.csv",
    )  # fmt: skip
    parser.add_argument(
        "--rows", default="auto", metavar="auto|ROWS.csv",
        help="'auto' proposes each image's rows (default); a napari Shapes CSV is used for all",
    )  # fmt: skip
    parser.add_argument(
        "--no-assign", dest="assign", action="store_false",
        help="keep the CNN's top class per chromosome instead of assigning classes per cell",
    )  # fmt: skip
    parser.add_argument(
        "--model", type=Path, default=None, metavar="MODEL.keras",
        help="classifier to use (default: the bundled model)",
    )  # fmt: skip
    parser.add_argument(
        "--classes", choices=CLASS_SOURCES, default="auto",
        help="auto (default): each chromosome's place in the arranged karyogram where it reads "
        "clearly, the CNN elsewhere and on metaphases; cnn; layout; or both: CNN classes, those "
        "the layout contradicts flagged for review",
    )  # fmt: skip
    parser.add_argument(
        "--page", choices=("auto", "karyogram", "metaphase"), default="auto",
        help="auto (default): read whether each page is an arranged karyogram (rows and "
        "contours) or a raw metaphase (the learned segmenter); or force one path for all",
    )  # fmt: skip
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_positive, default=None, metavar="N",
        help="local worker processes, each loading the model once (default: the machine's cores)",
    )  # fmt: skip
    where.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786); the workers must see "
        "the images and DIR. Needs napari-karyotype[distributed]",
    )  # fmt: skip
    parser.add_argument(
        "--crops", type=Path, default=None, metavar="CROPS_DIR",
        help="also write, as training GIFs for `train --init`, the chromosomes whose place in "
        "an arranged karyogram gives their class (a training set from an archive)",
    )  # fmt: skip
    parser.add_argument(
        "--format", dest="formats", default="csv", metavar="csv,voc,coco",
        help="also write each image's chromosomes as Pascal VOC (<stem>.xml) and/or one COCO "
        "annotations.json for the run (masks as RLE, confidence as score); csv outputs are "
        "always written",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true",
        help="skip images whose outputs in DIR are already complete",
    )  # fmt: skip


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _formats(text: str) -> tuple[str, ...]:
    """``--format``'s names, checked before any import (the same list as ``analyze.FORMATS``)."""
    from napari_karyotype.errors import KaryotypeError

    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in ("csv", "voc", "coco")]
    if bad:
        raise KaryotypeError(f"--format: unknown format(s) {', '.join(bad)} (csv, voc, coco)")
    return tuple(f for f in ("csv", "voc", "coco") if f in names or f == "csv")


def run(args: argparse.Namespace) -> int:
    from napari_karyotype.pipeline import batch  # these two: the standard library only
    from napari_karyotype.pipeline.inputs import collect_images

    formats = _formats(args.formats)

    workers = args.workers or batch.available_cores()
    if args.scheduler is None:  # children import the pipeline while this one reads the inputs
        batch.start_children(min(workers, len(collect_images(args.inputs, args.out))))
    try:
        from napari_karyotype.pipeline.files import analyze_files

        summary, failures = analyze_files(
            args.inputs, args.out, rows=args.rows, assign=args.assign, model=args.model,
            classes=args.classes, page=args.page, workers=workers, scheduler=args.scheduler,
            resume=args.resume, crops=args.crops, formats=formats,
        )  # fmt: skip
    finally:
        batch.end_children()  # those no run took (an error)
    ok = len(summary) - len(failures)
    print(f"{ok} of {len(summary)} images analysed; results in {args.out}", file=sys.stderr)
    if args.crops is not None:
        n = len(list(args.crops.glob("*.K.chr*.gif"))) if args.crops.is_dir() else 0
        print(f"{n} training crops in {args.crops}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} failed: " + ", ".join(p.name for p, _ in failures), file=sys.stderr)
        return 2
    return 0
