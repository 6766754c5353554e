"""Classifier benchmark: model load time and inference throughput (chromosomes/s, batch of 46).

Run: ``python benchmarks/bench_classifier.py [--model MODEL.keras] [--repeats N]``.
Uses canvases of the shared dataset when present, else synthetic chromosomes.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _canvases(n: int = 46) -> np.ndarray:
    from napari_karyotype.classification.canvas import chromosome_canvas
    from napari_karyotype.datasets.chromosomes import load_chromosomes, shared_data_dir

    data = shared_data_dir()
    if data is not None:
        from napari_karyotype.training.fit import canvases_of

        return canvases_of(load_chromosomes([data / "161923.054.zip"])[:n])
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        h, w = rng.integers(30, 200), rng.integers(20, 60)
        img = np.ones((h + 10, w + 10), np.float32)
        img[5 : 5 + h, 5 : 5 + w] = rng.uniform(0.1, 0.7, (h, w))
        out.append(chromosome_canvas(img, img < 0.9))
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    t0 = time.perf_counter()
    import keras  # noqa: F401  (import cost reported separately)

    t1 = time.perf_counter()
    from napari_karyotype.classification.model import load_classifier

    clf = load_classifier(args.model)
    t2 = time.perf_counter()
    x = _canvases(46)
    clf.predict_proba(x)  # warm-up (graph tracing)
    t3 = time.perf_counter()
    times = []
    for _ in range(args.repeats):
        s = time.perf_counter()
        clf.predict_proba(x)
        times.append(time.perf_counter() - s)
    best, median = min(times), float(np.median(times))
    print(f"model: {clf.path} ({os.path.getsize(clf.path) / 1e6:.2f} MB)")
    print(
        f"keras import: {t1 - t0:.2f} s; model load: {t2 - t1:.2f} s; first batch: {t3 - t2:.2f} s"
    )
    print(
        f"batch of {len(x)}: median {median * 1000:.1f} ms = {len(x) / median:.0f} chromosomes/s "
        f"(best {len(x) / best:.0f}/s) on {os.cpu_count()} CPU cores, backend "
        f"{keras.backend.backend()}"
    )


if __name__ == "__main__":
    main()
