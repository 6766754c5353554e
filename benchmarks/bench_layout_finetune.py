"""A laboratory's archive as training data: fine-tune on layout-labelled crops, test on the rest.

    python benchmarks/bench_layout_finetune.py [--prefix karyo_kshema_] [--epochs 4] [--work DIR]

The arranged karyograms of one centre (``../shared/data/real-karyograms/<prefix>*``) are split
by image id (the number in the name; alternate ids are held out). Each is segmented (rows +
active contours, as ``analyze``) and its layout read; the chromosomes whose layout read is
confident are exported (``export_crops(classes="layout")``) from the training half, and the
bundled model is fine-tuned on them (``train --init``, no validation, last epoch). Both models
then classify the held-out half; the truth is the confident layout class. Prints accuracy of the
CNN's top class and after per-cell assignment, before and after.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def harvest(files, work: Path, test_ids: set[int]):
    from napari_karyotype.cell.export import export_crops
    from napari_karyotype.cell.features import empty_features, label_ids
    from napari_karyotype.cell.layout import read_layout_labels
    from napari_karyotype.image.io import read_karyogram
    from napari_karyotype.pipeline.analyze import resolve_rows
    from napari_karyotype.segmentation.contours import segment

    held_out = []
    counts = {"train": [0, 0, 0], "test": [0, 0, 0]}  # karyograms, read, confident chromosomes
    for f in files:
        part = "test" if _image_id(f) in test_ids else "train"
        image = read_karyogram(f).image
        labels = np.asarray(segment(image, resolve_rows("auto", image)), np.int32)
        read = read_layout_labels(labels)
        truth = {lab: c for lab, c in read.classes.items() if read.confident[lab]}
        counts[part][0] += 1
        counts[part][1] += read.ok
        counts[part][2] += len(truth)
        if not truth:
            continue
        if part == "test":
            held_out.append((f.name, image, labels, truth))
            continue
        ids = label_ids(labels)
        table = empty_features(len(ids))
        table["label"] = ids
        table["layout"] = [truth.get(int(lab), "") for lab in ids]
        cell = re.sub(r"[^A-Za-z0-9_-]", "_", f.stem)
        export_crops(image, labels, table, work / "train", cell, classes="layout", overwrite=True)
    for part, (n, ok, conf) in counts.items():
        print(f"{part}: {n} karyograms, layout read on {ok}, {conf} confident chromosomes")
    return held_out


def score(model, held_out) -> str:
    from napari_karyotype.cell.features import classify_cell
    from napari_karyotype.classification.model import load_classifier

    clf = load_classifier(model)
    n = raw = assigned = right_cells = 0
    for _, image, labels, truth in held_out:
        table, _ = classify_cell(image, labels, classifier=clf)
        table = table[table["label"].isin(list(truth))]
        want = np.array([truth[int(lab)] for lab in table["label"]])
        n += len(want)
        raw += int((table["chromosome"].to_numpy() == want).sum())
        assigned += int((table["assigned"].to_numpy() == want).sum())
        right_cells += sorted(table["assigned"]) == sorted(want)
    return (
        f"raw {raw / n:.1%}, after assignment {assigned / n:.1%} of {n} chromosomes; "
        f"karyotype (of those chromosomes) right on {right_cells}/{len(held_out)}"
    )


def _image_id(path: Path) -> int:
    m = re.search(r"_(\d+)", path.stem)
    return int(m[1]) if m else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="karyo_kshema_")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    from napari_karyotype.classification.model import bundled_model_path
    from napari_karyotype.datasets.chromosomes import load_chromosomes, shared_data_dir
    from napari_karyotype.training.fit import train

    data = shared_data_dir()
    if data is None:
        raise SystemExit("shared data (../shared/data) not found")
    from napari_karyotype.pipeline.analyze import IMAGE_SUFFIXES

    files = [
        f
        for f in sorted((data.parent / "real-karyograms").glob(f"{args.prefix}*"))
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise SystemExit(f"no karyograms named {args.prefix}* in the shared real karyograms")
    ids = sorted({_image_id(f) for f in files})
    work = args.work or Path(tempfile.mkdtemp(prefix="layout-finetune-"))
    t0 = time.perf_counter()
    held_out = harvest(files, work, set(ids[1::2]))
    out = work / "finetuned.keras"
    train(
        load_chromosomes([work / "train"]),
        out,
        epochs=args.epochs,
        val_cases=[],
        init=bundled_model_path(),
        keep="last",
        log=print,
    )
    print(f"before (bundled): {score(None, held_out)}")
    print(f"after fine-tune:  {score(out, held_out)}")
    print(f"({time.perf_counter() - t0:.0f} s; files in {work})")


if __name__ == "__main__":
    main()
