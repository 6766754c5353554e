"""The npe2 manifest: valid, importable, and its writer writes the karyotype table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def manifest():
    from npe2 import PluginManifest

    return PluginManifest.from_distribution("napari-karyotype")


def test_manifest_is_valid_and_importable(manifest):
    manifest.validate_imports()  # raises if a python_name does not resolve
    assert manifest.name == "napari-karyotype"
    assert manifest.display_name == "Karyotype"
    contributions = manifest.contributions
    assert {w.display_name for w in contributions.widgets} == {
        "Rows",
        "Segment",
        "Classify",
        "Export",
        "Metaphase",
    }
    (reader,) = contributions.readers
    assert reader.command == "napari-karyotype.get_reader"
    assert set(reader.filename_patterns) == {
        "*.png",
        "*.jpg",
        "*.jpeg",
        "*.tif",
        "*.tiff",
        "*.bmp",
        "*.gif",
        "*.xml",
        "*.json",
    }
    assert {s.key for s in contributions.sample_data} == {"synthetic", "hu2019"}
    writers = {w.command.split(".")[-1]: w for w in contributions.writers}
    assert set(writers) == {"write_table", "write_chromosomes", "write_boxes"}
    assert [str(t) for t in writers["write_table"].layer_types] == ["labels"]
    assert writers["write_table"].filename_extensions == [".csv"]
    assert writers["write_chromosomes"].filename_extensions == [".xml", ".json"]
    assert [str(t) for t in writers["write_boxes"].layer_types] == ["shapes"]


def test_npe2_validate_command():
    import subprocess
    import sys
    from pathlib import Path

    npe2 = Path(sys.executable).with_name("npe2")
    if not npe2.exists():
        pytest.skip("npe2 command not installed next to this Python")
    done = subprocess.run(
        [str(npe2), "validate", "napari-karyotype", "--imports"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_writer_writes_the_features_table(tmp_path):
    from napari_karyotype._writer import write_table
    from napari_karyotype.cell.export import read_table_csv
    from napari_karyotype.cell.features import empty_features, relabel, sync_features

    labels = np.zeros((40, 60), np.int32)
    labels[5:30, 5:12] = 1
    labels[5:25, 30:36] = 2
    table = relabel(sync_features(empty_features(0), labels), 2, "X")
    shown = table.copy()
    shown.insert(0, "index", shown["label"])  # as the Classify widget keeps it in layer.features
    written = write_table(
        str(tmp_path / "cell.csv"), labels, {"name": "chromosomes", "features": shown}
    )
    assert written == [str(tmp_path / "cell.csv")]
    back = read_table_csv(written[0])
    assert "index" not in back.columns
    assert back["label"].tolist() == [1, 2]
    assert back["assigned"].tolist() == ["", "X"]
    assert back["verified"].tolist() == [False, True]
    assert back["area"].tolist() == [25 * 7, 20 * 6]


def test_writer_refuses_a_layer_without_table(tmp_path):
    from napari_karyotype._writer import write_table
    from napari_karyotype.errors import KaryotypeError

    with pytest.raises(KaryotypeError, match="classify it first"):
        write_table(
            str(tmp_path / "x.csv"),
            np.zeros((4, 4), int),
            {"name": "x", "features": pd.DataFrame()},
        )
    assert not (tmp_path / "x.csv").exists()
