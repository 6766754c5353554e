"""Throughput of ``analyze`` over a folder of karyograms with 1, 2, … local workers.

    python benchmarks/bench_batch.py [--images 18] [--workers 1,2] [--repeat 2] [--model M.keras]

Karyograms are composed from the shared Hu et al. cells (``../shared``), or drawn synthetically
where the dataset is absent. Each worker count runs ``napari-karyotype analyze --workers N`` as a
fresh process (as a user would). Prints, per count, the wall time end to end (process start,
TensorFlow import and model load included) and the steady rate: images per second between the
first wave of images (one per worker, which also builds each worker's graph) and the last one,
read from the time each progress line arrives; then the ratio of each rate to one worker's.
Worker counts are interleaved ``--repeat`` times and the best run of each is kept (a shared machine
only ever slows a run down); the CPU seconds per image (all processes) are printed too, since they
do not depend on what else the machine runs, and the cores the run obtained (CPU / wall): where
that stays below the worker count, the machine, not ``analyze``, set the pace (Linux shares CPU
between sessions first, so on a busy machine N workers get no more than one session's share).
Last, it checks that every run wrote the same ``summary.csv`` (rows in file order, the
``seconds`` column left out). ``--page`` is passed on (``metaphase`` for a folder of spreads).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_karyograms(folder: Path, n: int) -> None:
    """``n`` karyograms as PNG: composed from real cells where the dataset is there."""
    import imageio.v3 as iio

    from napari_karyotype.datasets.chromosomes import (
        group_by_cell,
        load_chromosomes,
        shared_data_dir,
    )

    data = shared_data_dir()
    if data is None:
        from napari_karyotype.samples.synthetic import synthetic_karyogram

        images = [synthetic_karyogram(seed=i).image for i in range(n)]
    else:
        from napari_karyotype.samples.compose import compose_karyogram

        cells = group_by_cell(load_chromosomes([data]))
        names = sorted(cells)
        names = [names[(i * len(names)) // n] for i in range(n)] if n <= len(names) else names
        images = [compose_karyogram(cells[names[i % len(names)]], seed=i).image for i in range(n)]
    for i, image in enumerate(images):
        iio.imwrite(folder / f"karyogram_{i:03d}.png", image)


def run(folder: Path, out: Path, workers: int, model: str | None, page: str = "auto") -> dict:
    """One ``analyze`` process: wall time and the time each image finished."""
    cmd = [sys.executable, "-m", "napari_karyotype.cli", "analyze", str(folder), "--out", str(out),
           "--workers", str(workers), "--page", page]  # fmt: skip
    if model:
        cmd += ["--model", model]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    finished = []
    for line in proc.stderr:
        if line.startswith("["):
            finished.append(time.perf_counter() - t0)
        elif "Traceback" in line or "error" in line:
            print(line.rstrip(), file=sys.stderr)
    proc.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"analyze --workers {workers} failed (status {proc.returncode})")
    first = finished[min(workers, len(finished)) - 1]
    steady = (len(finished) - min(workers, len(finished))) / max(finished[-1] - first, 1e-9)
    return {"wall": wall, "n": len(finished), "first": first, "steady": steady, "cpu": cpu,
            "summary": out / "summary.csv"}  # fmt: skip


def same_summaries(paths: list[Path]) -> bool:
    """Whether the ``summary.csv`` files agree, rows in file order, ``seconds`` left out."""
    import pandas as pd

    tables = [pd.read_csv(p).drop(columns=["seconds"], errors="ignore").sort_values("file")
              .reset_index(drop=True) for p in paths]  # fmt: skip
    return all(t.equals(tables[0]) for t in tables[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=18)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved runs per count")
    parser.add_argument("--model", default=None)
    parser.add_argument("--folder", type=Path, default=None, help="use these images instead")
    parser.add_argument("--page", default="auto", help="analyze --page: auto, karyogram, metaphase")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder
        if folder is None:
            folder = Path(tmp) / "in"
            folder.mkdir()
            write_karyograms(folder, args.images)
        runs: dict[int, list[dict]] = {w: [] for w in counts}
        for rep in range(args.repeat):
            for w in counts:
                r = run(folder, Path(tmp) / f"out{w}-{rep}", w, args.model, args.page)
                runs[w].append(r)
                print(
                    f"--workers {w}: {r['n']} images in {r['wall']:.1f} s end to end "
                    f"({r['n'] / r['wall']:.2f} images/s; first wave done at {r['first']:.1f} s), "
                    f"steady {r['steady']:.2f} images/s; {r['cpu'] / r['n']:.2f} CPU s per image, "
                    f"{r['cpu'] / r['wall']:.2f} cores obtained "
                    f"(load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        best = {w: max(rs, key=lambda r: r["steady"]) for w, rs in runs.items()}
        fastest = {w: min(rs, key=lambda r: r["wall"]) for w, rs in runs.items()}
        for w in counts:
            cpu = statistics.median(r["cpu"] / r["n"] for r in runs[w])
            print(
                f"best of {args.repeat}, --workers {w}: steady {best[w]['steady']:.2f} images/s, "
                f"end to end {fastest[w]['n'] / fastest[w]['wall']:.2f} images/s, "
                f"median {cpu:.2f} CPU s per image"
            )
            if 1 in best and w != 1:
                print(
                    f"  vs --workers 1: steady x{best[w]['steady'] / best[1]['steady']:.2f}, "
                    f"end to end x{fastest[1]['wall'] / fastest[w]['wall']:.2f}"
                )
        same = same_summaries([r["summary"] for rs in runs.values() for r in rs])
        print(f"same summary.csv in every run: {'yes' if same else 'NO'}")
        print(f"on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
