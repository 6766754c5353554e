"""``napari-karyotype analyze`` prints only its own lines; ``--verbose`` shows TensorFlow's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def test_analyze_prints_only_its_own_lines(data_dir, tmp_path):
    from skimage.io import imsave

    from napari_karyotype._sample_data import hu2019_sample

    imsave(tmp_path / "cell.png", np.asarray(hu2019_sample()[0][0]).astype(np.uint8))
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "napari_karyotype.cli", "analyze", str(tmp_path / "cell.png")]
    run = subprocess.run(
        [*cmd, "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    foreign = [line for line in lines if not line.startswith(("[1/1]", "1 of 1 images analysed"))]
    assert not foreign, foreign
    assert any(line.startswith("1 of 1 images analysed") for line in lines)
