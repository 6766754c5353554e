"""``napari-karyotype analyze`` and ``napari-karyotype demo``: exit codes, files, messages."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from napari_karyotype.cell.features import COLUMNS
from napari_karyotype.cli import main


@pytest.fixture(scope="module")
def karyograms(cells, tmp_path_factory):
    """Two karyograms composed from real cells, saved as PNG and TIFF, and their row shapes."""
    import imageio.v3 as iio
    import tifffile

    from napari_karyotype.samples.compose import compose_karyogram
    from napari_karyotype.segmentation.shapes import write_shapes_csv

    folder = tmp_path_factory.mktemp("karyograms")
    a = compose_karyogram(cells["C171543.044"], seed=5)
    b = compose_karyogram(cells["161923.054"], seed=6)
    iio.imwrite(folder / "cell_a.png", a.image)
    tifffile.imwrite(folder / "cell_b.tif", b.image)
    write_shapes_csv(folder / "rows_a.csv", a.rows)
    return folder


@pytest.mark.data
def test_analyze_writes_every_output(karyograms, model, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["analyze", str(karyograms), "--out", str(out), "--model", model])
    assert code == 0
    for stem in ("cell_a", "cell_b"):
        for suffix in ("_labels.tif", ".csv", "_karyogram.png"):
            assert (out / f"{stem}{suffix}").is_file()
        table = pd.read_csv(out / f"{stem}.csv")
        assert tuple(table.columns) == COLUMNS and len(table) >= 40
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2
    assert {"file", "count", "iscn", "mean_confidence", "flags"} <= set(summary.columns)
    assert summary["iscn"].str.match(r"^\d+,").all()
    err = capsys.readouterr().err
    assert "[1/2]" in err and "[2/2]" in err and "2 of 2 images analysed" in err


@pytest.mark.data
def test_bad_file_is_skipped_with_exit_status_2(karyograms, model, tmp_path, capsys):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00garbage")
    out = tmp_path / "out"
    code = main(
        ["analyze", str(bad), str(karyograms / "cell_a.png"), "--out", str(out), "--model", model,
         "--no-assign"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if "broken.tif" in line and "skipped" in line]
    assert len(skipped) == 1 and "Traceback" not in err
    assert (out / "cell_a.csv").is_file() and not (out / "broken.csv").exists()
    table = pd.read_csv(out / "cell_a.csv", dtype=str)
    assert (table["assigned"] == table["chromosome"]).all()  # --no-assign
    assert len(pd.read_csv(out / "summary.csv")) == 2


@pytest.mark.data
def test_rows_from_a_shapes_csv(karyograms, model, tmp_path):
    out = tmp_path / "out"
    rows = karyograms / "rows_a.csv"
    code = main(["analyze", str(karyograms / "cell_a.png"), "--out", str(out), "--rows", str(rows),
                 "--model", model])  # fmt: skip
    assert code == 0 and len(pd.read_csv(out / "cell_a.csv")) >= 40


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "nope.keras"], "nope.keras: model file not found"),
        (["--rows", "nope.csv"], "nope.csv: no such file"),
    ],
)
@pytest.mark.data
def test_bad_options_are_one_line_errors(karyograms, tmp_path, capsys, extra, message):
    code = main(["analyze", str(karyograms / "cell_a.png"), "--out", str(tmp_path), *extra])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_empty_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["analyze", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no karyogram images" in capsys.readouterr().err


def test_demo_runs_headless_without_a_display(request, tmp_path):
    """The README's first command: with no display it runs the pipeline and reports (with the
    bundled model, no dataset needed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "napari_karyotype.cli", "demo", "--out", str(out)]
    from napari_karyotype.classification.model import bundled_model_path

    if not bundled_model_path().is_file():
        cmd += ["--model", request.getfixturevalue("model")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "running headless" in proc.stderr
    report = proc.stdout
    assert "karyotype:" in report and "accuracy:" in report and str(out) in report
    for name in ("sample.png", "sample_labels.tif", "sample.csv", "sample_karyogram.png"):
        assert (out / name).is_file()


def test_no_display_means_headless(monkeypatch):
    from napari_karyotype._cli import demo

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert "no display" in demo.display_problem()
    monkeypatch.setenv("DISPLAY", ":99")
    assert demo.display_problem() is None  # napari and qtpy are installed here


def test_demo_sample_is_real_where_possible_else_synthetic(monkeypatch, capsys):
    """Offline and without the shared copy, the demo says so in one line and draws the synthetic
    karyogram; asking for the real cell explicitly is then a one-line error."""
    from napari_karyotype._cli import demo
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.samples import fetch

    def offline(*args, **kwargs):
        raise KaryotypeError("cannot download 173449.035.zip: offline or unreachable")

    monkeypatch.setattr(fetch, "load_cell", offline)
    composed, description, key = demo.load_sample("auto", seed=0)
    assert key == "synthetic" and "synthetic" in description
    assert len(composed.classes) == 46
    err = capsys.readouterr().err
    assert "offline" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(KaryotypeError, match="offline"):
        demo.load_sample("real", seed=0)


@pytest.mark.data
def test_crops_harvest_a_training_set_from_arranged_karyograms(karyograms, cells, model, tmp_path):
    """``--crops``: an archive of arranged karyograms becomes a training set, class by place."""
    from collections import Counter

    from napari_karyotype.datasets.chromosomes import load_chromosomes

    crops = tmp_path / "crops"
    code = main(["analyze", str(karyograms / "cell_a.png"), "--out", str(tmp_path / "out"),
                 "--model", model, "--classes", "cnn", "--crops", str(crops)])  # fmt: skip
    assert code == 0
    harvested = load_chromosomes([f"ourlab={crops}"])
    assert len(harvested) >= 40 and {c.source for c in harvested} == {"ourlab"}
    truth = Counter(c.cls for c in cells["C171543.044"])
    got = Counter(c.cls for c in harvested)
    assert not got - truth  # every harvested class is one the cell has, as often as it has it
