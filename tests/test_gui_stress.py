"""A real viewer (subprocess, Xvfb) classifies 46, 25, 12, 1 and 47 chromosomes, re-classifies
after a merge and a delete, re-segments after classifying: the process must end normally.

Before the fixes in ``classification.inference`` and ``_widgets.segment.write_labels`` such a
session aborted nearly every time, so three sessions in a row could not pass by luck.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("napari")
DRIVER = Path(__file__).with_name("gui_stress.py")
SESSIONS = 3


def _env():
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)")
def test_viewer_survives_repeated_classification(data_dir):
    run = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(DRIVER), "stress", str(SESSIONS)],
        capture_output=True, text=True, timeout=900, env=_env(),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "stress ok" in run.stdout
    assert run.stdout.count("re-segmented and classified") == SESSIONS


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)")
def test_viewer_survives_closing_all_layers_then_opening(data_dir, tmp_path):
    """Close every layer after segmenting and open a karyogram with no idle time between (a
    script, or File > Open right after closing): napari deleted the old layers' GL objects
    outside the canvas's GL context and Mesa segfaulted on a later draw, nearly every time."""
    import numpy as np
    from skimage.io import imsave

    from napari_karyotype._sample_data import hu2019_sample

    image = np.asarray(hu2019_sample(seed=1)[0][0])
    imsave(tmp_path / "other.png", image.astype(np.uint8), check_contrast=False)
    image_file = str(tmp_path / "other.png")
    run = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(DRIVER), "reopen", image_file, "2"],
        capture_output=True, text=True, timeout=600, env=_env(),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "reopen ok" in run.stdout
    assert run.stdout.count(" labels") == 2


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)")
def test_review_restored_after_a_kill(data_dir, tmp_path):
    import numpy as np
    from skimage.io import imsave

    from napari_karyotype._sample_data import hu2019_sample
    from napari_karyotype.cell.export import read_table_csv

    image = np.asarray(hu2019_sample()[0][0])
    imsave(tmp_path / "cell.png", image.astype(np.uint8), check_contrast=False)
    args = [sys.executable, str(DRIVER)]
    killed = subprocess.run(
        [*args, "save", str(tmp_path / "cell.png"), str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=_env(),
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout[-2000:] + killed.stderr[-4000:]
    assert (tmp_path / "cell.karyotype" / "labels.npz").is_file()
    again = subprocess.run(
        [*args, "restore", str(tmp_path / "cell.png"), str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=_env(),
    )  # fmt: skip
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-4000:]
    np.testing.assert_array_equal(
        np.load(tmp_path / "restored.npy"), np.load(tmp_path / "labels.npy")
    )
    restored, saved = (
        read_table_csv(tmp_path / "restored.csv"),
        read_table_csv(tmp_path / "table.csv"),
    )
    assert restored.equals(saved)
    assert restored["verified"].sum() == 1 and "Y" in set(restored["assigned"])


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
METAPHASES = (
    SHARED / "taichung" / "images" / "1053831.jpg",
    SHARED / "real-karyograms" / "metaphase_tuanvision_100955NVG.017.A_pairs_with_K.bmp",
)


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)")
@pytest.mark.skipif(not all(p.is_file() for p in METAPHASES), reason="shared metaphases absent")
def test_viewer_survives_metaphase_sessions():
    """Two metaphase sessions in a row (a Taichung one, then another laboratory's): the one
    button, a cut, a merge, a drop, an undo, the viewer closed. ``gui_stress.py metaphase 8 ...``
    runs eight."""
    from napari_karyotype.segmentation.spread_model import bundled_segmenter

    if not bundled_segmenter().is_file():
        pytest.skip("metaphase segmenter not present")
    args = [sys.executable, "-X", "faulthandler", str(DRIVER), "metaphase", "2"]
    run = subprocess.run(
        [*args, *map(str, METAPHASES)],
        capture_output=True, text=True, timeout=1200, env=_env(),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "metaphase stress ok" in run.stdout
    assert run.stdout.count("undone, closed") == 2
