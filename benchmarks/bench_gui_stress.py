"""Crash rate of napari sessions that classify, edit and re-segment, and the cost of autosave.

usage: xvfb-run -a python benchmarks/bench_gui_stress.py [SESSIONS]  (default 10)
Each session is a fresh process running ``tests/gui_stress.py stress 1``; prints sessions run
and sessions crashed, then what one autosave costs the GUI thread and the background thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def crash_rate(sessions: int) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    crashed = 0
    for k in range(sessions):
        t0 = time.perf_counter()
        run = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "gui_stress.py"), "stress", "1"],
            capture_output=True, text=True, env=env, timeout=900,
        )  # fmt: skip
        ok = run.returncode == 0 and "stress ok" in run.stdout
        crashed += not ok
        status = "ok" if ok else f"CRASHED (exit {run.returncode})"
        print(f"session {k + 1}: {status} in {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"sessions run: {sessions}, sessions crashed: {crashed}")


def save_cost(repeats: int = 5) -> None:
    from napari_karyotype._sample_data import hu2019_sample
    from napari_karyotype.cell.features import empty_features
    from napari_karyotype.cell.session import save_session
    from napari_karyotype.segmentation.contours import segment
    from napari_karyotype.segmentation.rows import propose_rows

    image = np.asarray(hu2019_sample()[0][0], np.float32) / 255.0
    labels = np.asarray(segment(image, propose_rows(image)), np.int32)
    table = empty_features(int(labels.max()))
    table["label"] = np.arange(1, int(labels.max()) + 1)
    with tempfile.TemporaryDirectory() as tmp:
        snap, write = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            copy = np.array(labels, copy=True), table.copy()
            snap.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            save_session(Path(tmp) / "s", *copy)
            write.append(time.perf_counter() - t0)
        size = sum(f.stat().st_size for f in (Path(tmp) / "s").iterdir())
    print(
        f"autosave of {labels.shape[1]} x {labels.shape[0]} labels, {len(table)} rows: "
        f"GUI-thread snapshot {1000 * np.median(snap):.1f} ms, background write "
        f"{1000 * np.median(write):.0f} ms, {size / 1024:.0f} KiB on disk"
    )


if __name__ == "__main__":
    save_cost()
    crash_rate(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
