"""Time of ``analyze`` per karyogram, with the model loaded once (target: <= 2 s on 2 cores).

    python benchmarks/bench_analyze.py [--cells 5] [--model MODEL.keras] [--synthetic]

Karyograms are composed from the shared Hu et al. cells (``../shared``), or drawn synthetically
where the dataset is absent or with ``--synthetic``. Prints the time per karyogram and per step,
and the accuracy against the known truth.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def karyograms(n: int, synthetic: bool):
    from napari_karyotype.datasets.chromosomes import (
        group_by_cell,
        load_chromosomes,
        shared_data_dir,
    )

    data = None if synthetic else shared_data_dir()
    if data is None:
        from napari_karyotype.samples.synthetic import synthetic_karyogram

        return [(f"synthetic seed {i}", synthetic_karyogram(seed=i)) for i in range(n)]
    from napari_karyotype.samples.compose import compose_karyogram

    cells = group_by_cell(load_chromosomes([data]))
    names = sorted(cells)[:: max(1, len(cells) // n)][:n]
    return [(name, compose_karyogram(cells[name], seed=i)) for i, name in enumerate(names)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--model", default=None)
    parser.add_argument("--synthetic", action="store_true")
    args = parser.parse_args()

    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.pipeline.analyze import analyze_image, score

    t0 = time.perf_counter()
    clf = load_classifier(args.model)
    print(f"model loaded in {time.perf_counter() - t0:.1f} s ({clf.path.name})")
    items = karyograms(args.cells, args.synthetic)
    analyze_image(items[0][1].image, classifier=clf)  # warm-up: first call builds the graph
    totals, steps = [], {}
    correct = total = 0
    for name, k in items:
        result = analyze_image(k.image, rows="auto", classifier=clf)
        got = score(result.labels, result.features, k.labels, k.classes)
        correct, total = correct + got["correct"], total + got["n_true"]
        secs = result.seconds
        totals.append(secs["total"])
        for key, value in secs.items():
            steps.setdefault(key, []).append(value)
        print(
            f"{name:>22}: {secs['total']:.2f} s (rows {secs['rows']:.2f}, segment "
            f"{secs['segment']:.2f}, classify {secs['classify']:.2f}, karyogram "
            f"{secs['karyogram']:.2f}); {got['correct']}/{got['n_true']} correct, "
            f"{result.summary.iscn}"
        )
    print(
        f"analyze per karyogram: median {statistics.median(totals):.2f} s, max {max(totals):.2f} s "
        f"over {len(totals)} karyograms on {os.cpu_count()} CPUs; accuracy {correct}/{total} "
        f"({100 * correct / total:.1f} %)"
    )
    print("median per step: " + ", ".join(
        f"{k} {statistics.median(v):.2f} s" for k, v in steps.items() if k != "total"))  # fmt: skip


if __name__ == "__main__":
    main()
