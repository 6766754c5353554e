"""``napari-karyotype train-segmenter VOC_FOLDER --out SEG.keras``: the metaphase segmenter."""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data", help="a VOC folder of metaphases (images/ + annotations/, one box per chromosome)"
    )
    parser.add_argument("--out", required=True, help="segmenter file to write (SEG.keras)")
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--init", default=None, help="go on training this SEG.keras")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument(
        "--holdout", type=float, default=0.2,
        help="leave the cases whose hash is under this out entirely (the test share; "
        "benchmarks/metaphase.py scores them)",
    )  # fmt: skip
    parser.add_argument(
        "--val-holdout", type=float, default=0.05,
        help="the next share of cases chooses the epoch kept (lowest validation loss)",
    )  # fmt: skip
    parser.add_argument(
        "--cache", default=None, help="prepared spreads (npz): made once, read after"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rescore-spreads", type=int, default=100,
        help="training spreads the candidate rescorer is fitted on (written beside --out)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import json
    import tempfile
    from pathlib import Path

    from napari_karyotype.datasets.chromosomes import case_fraction
    from napari_karyotype.datasets.taichung import case_of_id, is_taichung
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.training.spread_fit import train_spread_model
    from napari_karyotype.training.spread_targets import load_prepared, prepare_folder

    if not is_taichung(args.data):
        raise KaryotypeError(f"{args.data}: not a VOC folder (images/ and annotations/)")
    cache = Path(args.cache or Path(tempfile.gettempdir()) / "napari-karyotype-spreads.npz")
    prepare_folder(args.data, cache, workers=os.cpu_count() or 1)
    spreads = load_prepared(cache)
    place = {s["name"]: case_fraction(case_of_id(s["name"])) for s in spreads}
    test, val_end = args.holdout, args.holdout + args.val_holdout
    train = [s for s in spreads if place[s["name"]] >= val_end]
    val = [s for s in spreads if test <= place[s["name"]] < val_end]
    if not train or not val:
        raise KaryotypeError("too few cases to train and validate: lower --holdout/--val-holdout")
    print(f"{len(train)} training spreads, {len(val)} validation spreads", flush=True)
    train_spread_model(
        train, val, args.out, epochs=args.epochs, lr=args.learning_rate, seed=args.seed,
        init=args.init, log=lambda row: print(json.dumps(row), flush=True),
    )  # fmt: skip
    fit_rescorer(args.out, train, args.rescore_spreads)
    return 0


def fit_rescorer(model, train: list[dict], most: int) -> None:
    """Learn which candidates of the trained segmenter are chromosomes, on up to ``most``
    training spreads, and write the rescorer beside the model."""
    from napari_karyotype.segmentation.spread_candidates import rescorer_path
    from napari_karyotype.segmentation.spread_model import (
        VIEWS,
        Segmenter,
        forget_segmenter,
        load_segmenter,
    )
    from napari_karyotype.training.spread_rescore import fit_on_spreads

    loaded = load_segmenter(model)
    segmenter = Segmenter(loaded.model, loaded.path, views=VIEWS)  # its own candidates
    chosen = train[:: max(1, len(train) // max(most, 1))][:most]
    rescorer = fit_on_spreads(segmenter, chosen, log=lambda line: print(line, flush=True))
    beside = rescorer_path(model)
    beside.unlink(missing_ok=True)  # never a rescorer learned on another model's candidates
    if rescorer is not None:
        print(f"wrote {rescorer.save(beside)}", flush=True)
    forget_segmenter(model)
