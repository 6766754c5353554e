"""How well classes are read from the layout of arranged karyograms (shared data in ``../shared``).

    python benchmarks/bench_layout.py [--cells 73] [--segmented-cells 10]

Prints, per set, the share of chromosomes whose layout class is right, and of the confident
reads: on the roboflow karyograms (a YOLO box with its class per chromosome) from the truth boxes'
positions (layout errors alone) and from today's segmentation (labels matched to the box holding
most of their pixels: layout and segmentation together); on karyograms composed from Hu et al.
cells, from the true masks and from the segmentation (labels matched by IoU >= 0.5).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _line(name: str, right: int, total: int, sure_right: int, sure: int, unread: int, n: int):
    print(
        f"{name:<44} {right}/{total} right ({right / max(total, 1):.2%}); confident "
        f"{sure_right}/{sure} ({sure_right / max(sure, 1):.2%}); unreadable {unread} of {n}"
    )


def _segment(image):
    from napari_karyotype.pipeline.analyze import resolve_rows
    from napari_karyotype.segmentation.contours import segment

    return np.asarray(segment(image, resolve_rows("auto", image)), np.int32)


def roboflow(folder: Path) -> None:
    from napari_karyotype.cell.layout import read_layout, read_layout_labels
    from napari_karyotype.image.io import read_karyogram

    names = (folder / "classes.txt").read_text().split()
    boxes_stats = [0] * 6
    seg_stats = [0] * 6
    matched = 0
    for jpg in sorted(folder.glob("*.jpg")):
        image = read_karyogram(jpg).image
        h, w = image.shape
        truth = []
        for line in jpg.with_suffix(".txt").read_text().splitlines():
            if line.strip():
                c, x, y, bw, bh = line.split()
                x, y, bw, bh = float(x) * w, float(y) * h, float(bw) * w, float(bh) * h
                truth.append((names[int(c)], (y - bh / 2, x - bw / 2, y + bh / 2, x + bw / 2)))
        read = read_layout({i: box for i, (_, box) in enumerate(truth, start=1)})
        pairs = [
            (read.classes.get(i), read.confident.get(i), c) for i, (c, _) in enumerate(truth, 1)
        ]
        _count(boxes_stats, pairs, read.ok, len(truth))
        labels = _segment(image)
        read = read_layout_labels(labels)
        area = np.bincount(labels.ravel())
        best: dict[int, int] = {}
        for lab in np.unique(labels[labels > 0]):
            inside = [
                (
                    labels[max(int(t), 0) : int(np.ceil(b)), max(int(lf), 0) : int(np.ceil(r))]
                    == lab
                ).sum()
                for _, (t, lf, b, r) in truth
            ]
            j = int(np.argmax(inside))
            if inside[j] > 0.5 * area[lab] and (j not in best or area[lab] > area[best[j]]):
                best[j] = int(lab)
        matched += len(best)
        pairs = [
            (read.classes.get(lab), read.confident.get(lab), truth[j][0]) for j, lab in best.items()
        ]
        _count(seg_stats, pairs, read.ok, len(truth))
    _line("roboflow, truth boxes' positions", *boxes_stats)
    _line("roboflow, segmented (of all true chromosomes)", *seg_stats)
    print(f"{'':<44} segmented and matched: {matched}/{seg_stats[1]}")


def _count(stats: list[int], pairs, ok: bool, n_truth: int) -> None:
    """Accumulate ``[right, total, confident right, confident, unreadable, karyograms]``."""
    stats[1] += n_truth
    stats[5] += 1
    if not ok:
        stats[4] += 1
        return
    for got, sure, want in pairs:
        stats[0] += got == want
        if sure:
            stats[3] += 1
            stats[2] += got == want


def composed(n_cells: int, n_segmented: int) -> None:
    from napari_karyotype.cell.layout import read_layout_labels
    from napari_karyotype.datasets.chromosomes import (
        group_by_cell,
        load_chromosomes,
        shared_data_dir,
    )
    from napari_karyotype.samples.compose import compose_karyogram
    from napari_karyotype.segmentation.metrics import iou_matrix

    cells = group_by_cell(load_chromosomes([shared_data_dir()]))
    names = sorted(cells)[:n_cells]
    for label, options in (
        ("composed, true masks", {}),
        ("composed, touching homologs", {"gap": (0, 1)}),
        (
            "composed, framed, 0.6x, tight pairs",
            {"frame": True, "scale": 0.6, "pair_gap": (12, 20)},
        ),
    ):
        stats = [0] * 6
        for i, name in enumerate(names):
            k = compose_karyogram(cells[name], seed=i, **options)
            read = read_layout_labels(k.labels)
            pairs = [
                (read.classes.get(lab), read.confident.get(lab), c) for lab, c in k.classes.items()
            ]
            _count(stats, pairs, read.ok, len(k.classes))
        _line(label, *stats)
    stats = [0] * 6
    for i, name in enumerate(names[:: max(1, len(names) // max(n_segmented, 1))][:n_segmented]):
        k = compose_karyogram(cells[name], seed=i)
        labels = _segment(k.image.astype(np.float32) / 255)
        read = read_layout_labels(labels)
        t_ids, p_ids, iou = iou_matrix(k.labels, labels)
        pairs = []
        for row, t in enumerate(t_ids):
            col = int(np.argmax(iou[row])) if iou.shape[1] else 0
            if iou.shape[1] and iou[row, col] >= 0.5:
                lab = int(p_ids[col])
                pairs.append((read.classes.get(lab), read.confident.get(lab), k.classes[int(t)]))
        _count(stats, pairs, read.ok, len(k.classes))
    _line("composed, segmented (of all true chromosomes)", *stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=73)
    parser.add_argument("--segmented-cells", type=int, default=10)
    args = parser.parse_args()
    from napari_karyotype.datasets.chromosomes import shared_data_dir

    data = shared_data_dir()
    if data is None:
        raise SystemExit("shared data (../shared/data) not found")
    t0 = time.perf_counter()
    folder = data.parent / "real-karyograms" / "roboflow"
    if (folder / "classes.txt").is_file():
        roboflow(folder)
    composed(args.cells, args.segmented_cells)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
