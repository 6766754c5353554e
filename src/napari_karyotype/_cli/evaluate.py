"""``napari-karyotype evaluate DATA... --out DIR``: score a classifier on Hu et al.-format data."""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        nargs="+",
        help="Hu et al. cell zips, folders of them or GIFs (SOURCE=PATH names their laboratory);"
        " Taichung/VOC folders; COCO .json files",
    )
    parser.add_argument("--out", required=True, help="folder for report.json, predictions.csv …")
    parser.add_argument("--model", default=None, help="MODEL.keras (default: the bundled model)")
    parser.add_argument(
        "--holdout",
        default=None,
        help="SOURCE=FRACTION,…: of these sources score only the held-out cases (the test cases "
        "that `train --holdout` left out with the same split seed)",
    )
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument(
        "--cache-dir", default=None, help="cache preprocessed Taichung crops here (npz)"
    )


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.datasets.chromosomes import (
        case_fraction,
        held_out,
        load_chromosomes,
        parse_holdout,
    )
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.training.evaluation import evaluate, write_evaluation

    holdout = parse_holdout(args.holdout)
    boxes: dict = {}

    def wanted(source: str, case: str) -> bool:  # box sets: read only the held-out cases
        return source not in holdout or case_fraction(case, args.split_seed) < holdout[source]

    chromosomes = load_chromosomes(
        args.data, cache_dir=args.cache_dir, cases=wanted if holdout else None, report=boxes
    )
    if holdout:
        chromosomes = [
            c
            for c in chromosomes
            if c.source not in holdout or held_out(c, holdout, args.split_seed)
        ]
        if not chromosomes:
            raise KaryotypeError("--holdout: no held-out case in the data")
    classifier = load_classifier(args.model)
    result = evaluate(chromosomes, classifier)
    if boxes:
        result.report["boxes"] = boxes
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
    for where, info in boxes.items():
        why = "; ".join(f"{n} {reason}" for reason, n in info["rejected"].items())
        print(
            f"  {where}: {info['used']} of {info['boxes']} boxes used"
            + (f" ({why}: named in report.json)" if why else "")
        )
    for source, m in r["per_source"].items():
        y = ""
        if m["male_cells"]:
            y = f", Y found in {m['y_found']:.0%} of {m['male_cells']} male cells"
        print(
            f"  {source}: {m['n']} chromosomes in {m['cells']} cells: top-1 {m['top1']:.2%}, "
            f"after assignment {m['top1_assigned']:.2%}, ECE {m['ece']:.3f}{y}; "
            f"karyotype right in {m['karyotypes_right']} of {m['cells']} cells"
        )
        for name, g in m["groups"].items():
            if g["n"]:
                print(
                    f"    {name}: {g['n']}, top-1 {g['top1']:.2%}, "
                    f"after assignment {g['top1_assigned']:.2%}"
                )
    return 0
