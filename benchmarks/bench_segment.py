"""Time page clean-up + row proposal + segmentation of composed 46-chromosome karyograms.

Usage: python benchmarks/bench_segment.py [--cells N] [--repeat R] [--method geodesic|chan-vese]
Prints, per variant (composed from real crops; ideogram-drawn synthetic where available), the
median wall time to clean the page and propose rows ("rows") and to segment one karyogram, and
the quality reached (detection F1 at IoU >= 0.5, mean IoU over true chromosomes).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_karyotype.datasets.chromosomes import group_by_cell, load_chromosomes, shared_data_dir
from napari_karyotype.image.io import as_karyogram
from napari_karyotype.samples.compose import compose_karyogram
from napari_karyotype.segmentation.contours import segment
from napari_karyotype.segmentation.metrics import match_labels
from napari_karyotype.segmentation.page import clean_page
from napari_karyotype.segmentation.rows import propose_rows

VARIANTS = {
    "apart (5-12 px)": {},
    "touching (0-1 px)": {"gap": (0, 1)},
    "framed, fluorescent": {"frame": True, "light_on_dark": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--method", default="geodesic", choices=["geodesic", "chan-vese"])
    parser.add_argument("--refine", action="store_true")
    args = parser.parse_args()
    data = shared_data_dir()
    if data is None:
        raise SystemExit("shared dataset not found (set NAPARI_KARYOTYPE_DATA)")
    cells = [c for c in group_by_cell(load_chromosomes([data])).values() if len(c) == 46]
    cells = cells[:: max(len(cells) // args.cells, 1)][: args.cells]
    # Warm up imports and caches so the first timing is not an import.
    warm = as_karyogram(compose_karyogram(cells[0]).image).image
    segment(warm, propose_rows(warm)[-1:])
    jobs = {
        name: [
            (compose_karyogram, (cell,), dict(seed=i, **variant)) for i, cell in enumerate(cells)
        ]
        for name, variant in VARIANTS.items()
    }
    try:
        from napari_karyotype.samples.synthetic import synthetic_karyogram

        jobs["synthetic, touching"] = [
            (synthetic_karyogram, (), {"seed": i, "touching": True}) for i in range(len(cells))
        ]
    except ImportError:
        pass
    for name, todo in jobs.items():
        rows_t, seg_t, scores = [], [], []
        for make, make_args, make_kwargs in todo:
            k = make(*make_args, **make_kwargs)
            image = as_karyogram(k.image).image
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                page = clean_page(image)  # as analyze does: furniture out, then rows
                rows = propose_rows(page.image, clean=False)
                t1 = time.perf_counter()
                labels = segment(page.image, rows, method=args.method, refine=args.refine)
                t2 = time.perf_counter()
                rows_t.append(t1 - t0)
                seg_t.append(t2 - t1)
            scores.append(match_labels(k.labels, labels))
        f1, iou = np.array(scores).T
        h, w = image.shape
        print(
            f"{name:22s} {w}x{h}px  rows {np.median(rows_t) * 1e3:6.0f} ms  "
            f"segment {np.median(seg_t) * 1e3:6.0f} ms  "
            f"total {np.median(np.add(rows_t, seg_t)) * 1e3:6.0f} ms  "
            f"F1 {f1.mean():.3f} (min {f1.min():.3f})  mean IoU {iou.mean():.3f} "
            f"(min {iou.min():.3f})  [{args.method}{', refine' if args.refine else ''}, "
            f"{len(cells)} cells]"
        )


if __name__ == "__main__":
    main()
