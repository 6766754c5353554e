"""``napari-karyotype train DATA... --out MODEL.keras``: train the chromosome classifier."""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", help="cell zips, folders of them, or GIF files")
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
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="temperature to store when there is no validation set",
    )


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from napari_karyotype.datasets.chromosomes import load_chromosomes
    from napari_karyotype.training.fit import parse_cases, train

    chromosomes = load_chromosomes(args.data)
    train(
        chromosomes,
        args.out,
        arch=args.arch,
        epochs=args.epochs,
        seed=args.seed,
        val_cases=parse_cases(args.val_cases),
        init=args.init,
        batch_size=args.batch_size,
        temperature=args.temperature,
        keep=args.keep,
        log=lambda line: print(line, flush=True),
    )
    return 0
