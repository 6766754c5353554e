"""Classifier benchmark: model load time and inference throughput (chromosomes/s, batch of 46).

Run: ``python benchmarks/bench_classifier.py [--model MODEL.keras] [--repeats N]``. Measures the
default engine (NumPy where the model allows) and then Keras, each from its own imports.
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
    x = _canvases(46)

    from napari_karyotype.classification.model import (
        Classifier,
        load_classifier,
        read_model_file,
    )

    t0 = time.perf_counter()
    clf = load_classifier(args.model)  # NumPy where the model allows
    t1 = time.perf_counter()
    path = clf.path
    print(f"model: {path} ({os.path.getsize(path) / 1e6:.2f} MB)")
    _measure("default engine", clf, x, t1 - t0, args.repeats)

    t0 = time.perf_counter()
    keras_model, meta = read_model_file(path)  # imports TensorFlow
    t1 = time.perf_counter()
    _measure("keras", Classifier(keras_model, path, meta), x, t1 - t0, args.repeats)


def _measure(name: str, clf, x: np.ndarray, load: float, repeats: int) -> None:
    """Print load time, the first batch and the steady throughput of one engine."""
    t0 = time.perf_counter()
    clf.predict_proba(x)  # first batch (Keras traces its graph here)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        s = time.perf_counter()
        clf.predict_proba(x)
        times.append(time.perf_counter() - s)
    best, median = min(times), float(np.median(times))
    print(
        f"{name} ({type(clf.model).__name__}): load {load:.2f} s (imports included), "
        f"first batch {first:.2f} s; batch of {len(x)}: median {median * 1000:.1f} ms = "
        f"{len(x) / median:.0f} chromosomes/s (best {len(x) / best:.0f}/s) "
        f"on {os.cpu_count()} CPU cores"
    )


if __name__ == "__main__":
    main()
