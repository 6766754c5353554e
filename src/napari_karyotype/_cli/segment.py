"""``napari-karyotype segment IMAGE... --out DIR [--rows auto|ROWS.csv]``.

Writes ``DIR/<stem>_labels.tif`` (uint16, or int32 beyond 65535 labels; same height and width as
the image) and ``DIR/<stem>_rows.csv`` (napari's Shapes CSV, which ``--rows`` reads back).
A bad file gets a one-line error on stderr; the others are still processed; exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_karyotype.errors import KaryotypeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="karyogram image files")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    parser.add_argument(
        "--rows",
        default="auto",
        metavar="auto|ROWS.csv",
        help="row shapes: proposed from each image (auto, default) or a napari Shapes CSV used "
        "for every image",
    )
    parser.add_argument(
        "--method",
        choices=["geodesic", "chan-vese"],
        default="geodesic",
        help="active contour: edge-based geodesic (default) or region-based Chan-Vese",
    )
    parser.add_argument(
        "--iterations", type=int, default=None, help="contour steps (default: automatic)"
    )
    parser.add_argument("--smoothing", type=int, default=1, help="contour smoothing (default 1)")
    parser.add_argument(
        "--min-size",
        type=int,
        default=None,
        help="smallest chromosome area in px (default: 10%% of the median object)",
    )
    parser.add_argument(
        "--refine", action="store_true", help="refine outlines with a parametric snake"
    )


def _segment_one(path: Path, args, rows_shapes) -> str:
    import numpy as np
    import tifffile

    from napari_karyotype.image.io import read_karyogram
    from napari_karyotype.segmentation.contours import segment
    from napari_karyotype.segmentation.page import clean_page
    from napari_karyotype.segmentation.rows import propose_rows
    from napari_karyotype.segmentation.shapes import write_shapes_csv

    karyogram = read_karyogram(path)
    page = clean_page(karyogram.image, karyogram.chroma)
    shapes = rows_shapes if rows_shapes is not None else propose_rows(page.image, clean=False)
    labels = segment(
        page.image,
        shapes,
        method=args.method,
        iterations=args.iterations,
        smoothing=args.smoothing,
        min_size=args.min_size,
        refine=args.refine,
        arranged=page.arranged,
    )
    out = Path(args.out)
    n = int(labels.max())
    dtype = np.uint16 if n <= np.iinfo(np.uint16).max else np.int32
    labels_path = out / f"{path.stem}_labels.tif"
    rows_path = out / f"{path.stem}_rows.csv"
    tifffile.imwrite(labels_path, labels.astype(dtype), compression="zlib")
    write_shapes_csv(rows_path, shapes)
    note = ", inverted (light on dark)" if karyogram.inverted else ""
    warn = "".join(f"\n    {path.name}: {w}" for w in page.warnings)
    outputs = f"{labels_path}, {rows_path}"
    return f"{path}: {n} chromosomes in {len(shapes)} rows{note} -> {outputs}{warn}"


def run(args) -> int:
    from napari_karyotype.segmentation.shapes import read_shapes_csv

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise KaryotypeError(f"--out {out}: exists and is not a folder")
    rows_shapes = None
    if args.rows != "auto":
        rows_shapes = read_shapes_csv(args.rows)
    if args.iterations is not None and args.iterations < 1:
        raise KaryotypeError(f"--iterations must be at least 1, got {args.iterations}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KaryotypeError(f"--out {out}: cannot create the folder ({err.strerror})") from None
    failed = 0
    for name in args.images:
        path = Path(name)
        try:
            print(_segment_one(path, args, rows_shapes), flush=True)
        except KaryotypeError as err:
            failed += 1
            message = str(err) if str(err).startswith(str(path)) else f"{path}: {err}"
            print(f"napari-karyotype segment: error: {message}", file=sys.stderr, flush=True)
        except OSError as err:  # writing the outputs failed (disk full, permissions)
            failed += 1
            print(
                f"napari-karyotype segment: error: {path}: cannot write outputs "
                f"({err.strerror or err.__class__.__name__})",
                file=sys.stderr,
                flush=True,
            )
        except MemoryError:
            failed += 1
            print(f"napari-karyotype segment: error: {path}: out of memory", file=sys.stderr)
    return 2 if failed else 0
