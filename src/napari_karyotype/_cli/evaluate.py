"""``napari-karyotype evaluate DATA... --out DIR``: score a classifier on Hu et al.-format data."""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", help="cell zips, folders of them, or GIF files")
    parser.add_argument("--out", required=True, help="folder for report.json, predictions.csv …")
    parser.add_argument("--model", default=None, help="MODEL.keras (default: the bundled model)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.datasets.chromosomes import load_chromosomes
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.training.evaluation import evaluate, write_evaluation

    chromosomes = load_chromosomes(args.data)
    classifier = load_classifier(args.model)
    result = evaluate(chromosomes, classifier)
    try:
        out = write_evaluation(result, args.out)
    except OSError as err:
        raise KaryotypeError(f"{args.out}: cannot write the report ({err.strerror})") from None
    r = result.report
    print(
        f"{r['n']} chromosomes in {r['cells']} cells: top-1 {r['top1']:.2%}, "
        f"after per-cell assignment {r['top1_assigned']:.2%}, top-3 {r['top3']:.2%}, "
        f"ECE {r['ece']:.3f}; written to {out}"
    )
    return 0
