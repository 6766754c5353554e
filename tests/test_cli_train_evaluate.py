"""``napari-karyotype train`` / ``evaluate``: smoke training, determinism, reports, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from napari_karyotype.cli import main

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def two_cells(data_dir):
    return [str(data_dir / "161923.054.zip"), str(data_dir / "161945.009.zip")]


def _weights(path):
    import keras

    return keras.models.load_model(path, compile=False).get_weights()


def test_smoke_training_then_evaluation(two_cells, tmp_path, capsys):
    model = tmp_path / "m.keras"
    code = main(
        ["train", *two_cells, "--out", str(model), "--epochs", "1", "--val-cases", "161945"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "epoch 1/1" in out and "validation images" in out
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["training"]["val_cases"] == ["161945"] and meta["training"]["n_train"] == 46
    assert meta["canvas_stats"]["median_area_px"] > 0 and meta["temperature"] > 0
    assert meta["size_normalisation"] == "per-cell"  # the compact recipe learns relative sizes
    assert meta["size_stats"]["n"] == 46 and "X" in meta["size_stats"]["class_median_axis"]

    # fine-tune it on both cells
    tuned = tmp_path / "tuned.keras"
    assert (
        main(
            [
                "train",
                *two_cells,
                "--out",
                str(tuned),
                "--epochs",
                "1",
                "--val-cases",
                "none",
                "--init",
                str(model),
            ]
        )
        == 0
    )
    tuned_meta = json.loads(tuned.with_suffix(".json").read_text())
    assert tuned_meta["training"]["init"] == str(model)
    # fine-tuning keeps the size frame of the model it starts from
    assert tuned_meta["size_normalisation"] == "per-cell"
    assert tuned_meta["size_stats"] == meta["size_stats"]

    report_dir = tmp_path / "report"
    assert main(["evaluate", *two_cells, "--out", str(report_dir), "--model", str(model)]) == 0
    report = json.loads((report_dir / "report.json").read_text())
    for key in ("n", "top1", "top1_assigned", "top3", "ece", "per_class"):
        assert key in report
    assert report["n"] == 92
    # each cell was scaled as the plugin would, without its true classes
    assert set(report["cell_scales"]) == {"161923.054", "161945.009"}
    assert all(0.6 < v < 1.6 for v in report["cell_scales"].values())
    table = pd.read_csv(report_dir / "predictions.csv", dtype=str)
    assert list(table.columns) == [
        "source", "cell", "file", "true", "predicted", "confidence", "assigned"
    ]  # fmt: skip
    # one source here: its line repeats the overall numbers
    assert set(report["per_source"]) == {"hu2019"}
    assert report["per_source"]["hu2019"]["top1"] == report["top1"]
    assert len(table) == 92
    assert (report_dir / "confusion.png").stat().st_size > 10_000


def test_bundled_model_evaluation(two_cells, tmp_path, capsys):
    assert main(["evaluate", *two_cells, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    # seen in training: a sanity floor (the multi-source model gives up a little on this
    # laboratory's cells for the others'; its measured figures are in the model card)
    assert report["top1"] >= 0.9 and report["top1_assigned"] >= 0.95
    truth = pd.read_csv(tmp_path / "predictions.csv", dtype=str).groupby("cell")["true"]
    from napari_karyotype.cell.assign import iscn_of

    assert report["karyotypes"] == {cell: iscn_of(list(t)) for cell, t in truth}
    # the small acrocentrics and the karyotypes right, as the predictions table has them
    table = pd.read_csv(tmp_path / "predictions.csv", dtype=str)
    acro = table[table["true"].isin(["13", "14", "15", "21", "22"])]
    group = report["groups"]["small acrocentrics"]
    assert group["n"] == len(acro)
    assert group["top1_assigned"] == pytest.approx((acro["assigned"] == acro["true"]).mean())
    right = sum(sorted(g["assigned"]) == sorted(g["true"]) for _, g in table.groupby("cell"))
    assert report["karyotypes_right"] == right
    out = capsys.readouterr().out
    assert "top-1" in out and "small acrocentrics: " in out


def test_training_is_deterministic_given_the_seed(two_cells, tmp_path):
    runs = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.keras"
        args = [
            "train",
            two_cells[0],
            "--out",
            str(path),
            "--epochs",
            "1",
            "--seed",
            "7",
            "--val-cases",
            "none",
        ]
        assert main(args) == 0
        runs.append(_weights(path))
    assert all(np.array_equal(x, y) for x, y in zip(*runs, strict=True))
    other = tmp_path / "c.keras"
    assert (
        main(
            [
                "train",
                two_cells[0],
                "--out",
                str(other),
                "--epochs",
                "1",
                "--seed",
                "8",
                "--val-cases",
                "none",
            ]
        )
        == 0
    )
    assert not all(np.array_equal(x, y) for x, y in zip(runs[0], _weights(other), strict=True))


def _one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err
    return err


def test_bad_inputs_are_one_line_errors(two_cells, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here")
    _one_line_error(capsys, ["train", str(empty), "--out", str(tmp_path / "m.keras")], "empty")

    from PIL import Image

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(wrong / "1.001.K.chr1.1invert_pad.gif")
    _one_line_error(
        capsys,
        ["evaluate", str(wrong), "--out", str(tmp_path / "r")],
        "1.001.K.chr1.1invert_pad.gif",
    )

    missing = tmp_path / "gone.keras"
    _one_line_error(
        capsys,
        ["evaluate", *two_cells, "--out", str(tmp_path / "r"), "--model", str(missing)],
        "gone.keras",
    )
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    _one_line_error(
        capsys,
        ["evaluate", *two_cells, "--out", str(tmp_path / "r"), "--model", str(corrupt)],
        "corrupt.keras",
    )
    _one_line_error(
        capsys,
        ["train", *two_cells, "--out", str(tmp_path / "m.keras"), "--val-cases", "NOPE"],
        "NOPE",
    )
    _one_line_error(capsys, ["train", *two_cells, "--out", str(tmp_path / "m.h5")], "m.h5")


def test_named_sources_are_reported_apart(two_cells, tmp_path):
    """A laboratory's own crops, named ``SOURCE=PATH``, get their own line in the report."""
    report_dir = tmp_path / "report"
    assert main(["evaluate", two_cells[0], f"ourlab={two_cells[1]}", "--out", str(report_dir)]) == 0
    report = json.loads((report_dir / "report.json").read_text())
    assert set(report["per_source"]) == {"hu2019", "ourlab"}
    assert report["per_source"]["ourlab"]["n"] == 46 == report["per_source"]["hu2019"]["n"]
    table = pd.read_csv(report_dir / "predictions.csv", dtype=str)
    assert set(table.loc[table["cell"] == "161945.009", "source"]) == {"ourlab"}
