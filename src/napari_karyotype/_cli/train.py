"""``napari-karyotype train DATA... --out MODEL.keras``: train the chromosome classifier."""

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
    parser.add_argument("--out", required=True, help="model file to write (MODEL.keras)")
    parser.add_argument("--arch", choices=("compact", "paper"), default="compact")
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--val-cases",
        default=None,
        help="comma-separated case ids held out for validation; 'none' trains on every case "
        "(default: about 20%% of the cases, drawn with the seed)",
    )
    parser.add_argument("--init", default=None, help="fine-tune this MODEL.keras instead")
    parser.add_argument(
        "--keep",
        choices=("best", "last"),
        default="best",
        help="epoch to keep: best by validation (default) or last (as for an all-data model)",
    )
    parser.add_argument(
        "--holdout",
        default=None,
        help="SOURCE=FRACTION,…: leave this fraction of a source's cases out entirely (a test "
        "split, case-wise by a hash of the case id; `evaluate --holdout` scores exactly them)",
    )
    parser.add_argument(
        "--val-holdout",
        default=None,
        help="SOURCE=FRACTION,…: the next fraction of a source's cases (after --holdout) joins "
        "the validation cases",
    )
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument(
        "--repeat",
        default=None,
        help="SOURCE=N,…: show each training chromosome of a source N times an epoch",
    )
    parser.add_argument("--checkpoint", action="store_true", help="save after every epoch")
    parser.add_argument(
        "--cache-dir", default=None, help="cache preprocessed Taichung crops here (npz)"
    )
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="default: the recipe's; lower to fine-tune",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="temperature to store when there is no validation set",
    )


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from napari_karyotype.datasets.chromosomes import (
        case_fraction,
        held_out,
        load_chromosomes,
        parse_holdout,
    )
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.training.fit import parse_cases, train

    holdout = parse_holdout(args.holdout)
    val_holdout = parse_holdout(args.val_holdout)
    chromosomes = load_chromosomes(args.data, cache_dir=args.cache_dir)
    chromosomes = [c for c in chromosomes if not held_out(c, holdout, args.split_seed)]
    val_cases = parse_cases(args.val_cases)
    if val_holdout:
        start = {s: holdout.get(s, 0.0) for s in val_holdout}
        extra = {
            c.case
            for c in chromosomes
            if c.source in val_holdout
            and case_fraction(c.case, args.split_seed) < start[c.source] + val_holdout[c.source]
        }
        val_cases = sorted(set(val_cases or []) | extra)
    repeat = {}
    for item in (args.repeat or "").split(","):
        if item.strip():
            source, _, n = item.partition("=")
            if not n.strip().isdigit() or int(n) < 1:
                raise KaryotypeError(f"--repeat: expected SOURCE=N (N >= 1), got {item!r}")
            repeat[source.strip().lower()] = int(n)
    train(
        chromosomes,
        args.out,
        arch=args.arch,
        epochs=args.epochs,
        seed=args.seed,
        val_cases=val_cases,
        init=args.init,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        temperature=args.temperature,
        keep=args.keep,
        repeat=repeat,
        checkpoint=args.checkpoint,
        log=lambda line: print(line, flush=True),
    )
    return 0
