"""Exports: features CSV, and reviewed chromosomes as Hu et al.-format training data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from napari_karyotype.cell.export import crop_name, export_crops, read_table_csv, write_table_csv
from napari_karyotype.cell.features import relabel
from napari_karyotype.datasets.chromosomes import load_chromosomes
from napari_karyotype.errors import KaryotypeError
from test_features import CELLS, truth_table


@pytest.fixture(scope="module")
def cell(cells):
    return CELLS[0], cells[CELLS[0]]


@pytest.fixture(scope="module")
def composed(cell):
    from napari_karyotype.samples.compose import compose_karyogram

    return compose_karyogram(cell[1], seed=3)


def tight(image: np.ndarray) -> np.ndarray:
    """The chromosome's bounding box of a dataset-style image, halo (245…254) made white."""
    mask = ndi.binary_fill_holes(image < 245)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return np.where(mask, image, 255)[sl]


@pytest.mark.data
def test_table_csv_round_trip(composed, tmp_path):
    table = relabel(truth_table(composed), int(composed.labels.max()), "X")
    path = write_table_csv(tmp_path / "cell.csv", table)
    back = read_table_csv(path)
    pd.testing.assert_frame_equal(back, table)
    assert path.read_text().splitlines()[0] == (
        "label,chromosome,confidence,second,second_confidence,assigned,verified,area,length,centroid,"
        "layout,disagrees,kind,bbox-0,bbox-1,bbox-2,bbox-3"
    )
    with pytest.raises(KaryotypeError, match="cannot write"):
        write_table_csv(tmp_path / "no" / "such" / "x.csv", table)
    (tmp_path / "bad.csv").write_text("label,foo\n1,2\n")
    with pytest.raises(KaryotypeError, match="lacks column"):
        read_table_csv(tmp_path / "bad.csv")


def test_crop_names_follow_the_dataset():
    assert crop_name("161923.054", "1", 2) == "161923.054.K.chr1.2invert_pad.gif"
    assert crop_name("c1", "X", 1) == "c1.K.chrx.1invert_pad.gif"
    assert crop_name("c1", "Y", 3) == "c1.K.chry.3invert_pad.gif"


@pytest.mark.data
def test_exported_cell_reads_back_as_the_dataset(cell, composed, tmp_path):
    """Export a composed real cell with its true classes: ``load_chromosomes`` reads the same
    classes and the same chromosome images back (the crops of the dataset, made white outside the
    chromosome; the dataset's own centring differs by a column in a few files)."""
    name, originals = cell
    table = truth_table(composed)
    written = export_crops(composed.image, composed.labels, table, tmp_path, "NEW.001")
    assert len(written) == 46
    back = load_chromosomes([tmp_path])
    assert all(b.cell == "NEW.001" and b.image.shape == (220, 100) for b in back)
    assert sorted(b.cls for b in back) == sorted(c.cls for c in originals)
    by_class: dict[str, list[np.ndarray]] = {}
    for c in originals:
        by_class.setdefault(c.cls, []).append(tight(c.image))
    for b in back:
        got = tight(b.image)
        # the exported image is one of that class's originals, pixel for pixel
        assert any(o.shape == got.shape and np.array_equal(o, got) for o in by_class[b.cls]), b.file
    homologs = sorted((b.cls, b.homolog) for b in back if b.cls == "1")
    assert homologs == [("1", 1), ("1", 2)]


@pytest.mark.data
def test_export_options_and_refusals(composed, tmp_path):
    table = truth_table(composed)
    lab = int(table["label"].iloc[0])
    verified = relabel(table, lab, "22")
    written = export_crops(
        composed.image, composed.labels, verified, tmp_path, "V.1", verified_only=True
    )
    assert [p.name for p in written] == ["V.1.K.chr22.1invert_pad.gif"]
    with pytest.raises(KaryotypeError, match="already holds"):
        export_crops(composed.image, composed.labels, verified, tmp_path, "V.1")
    assert len(export_crops(composed.image, composed.labels, verified, tmp_path, "V.1",
                            overwrite=True)) == 46  # fmt: skip
    with pytest.raises(KaryotypeError, match="cell id"):
        export_crops(composed.image, composed.labels, table, tmp_path, "a/b")
    with pytest.raises(KaryotypeError, match="no classified"):
        export_crops(composed.image, composed.labels, table, tmp_path, "N.1", verified_only=True)
    empty = table.copy()
    empty["assigned"] = ""
    with pytest.raises(KaryotypeError, match="no classified"):
        export_crops(composed.image, composed.labels, empty, tmp_path, "N.2")


@pytest.mark.data
def test_relabelled_export_fine_tunes_the_bundled_model(composed, tmp_path, capsys):
    """A reviewed cell, one chromosome relabelled by the user, exported as crops, is training data
    that ``napari-karyotype train --init`` reads unchanged: it fine-tunes the bundled model."""
    import json

    from napari_karyotype.classification.model import bundled_model_path
    from napari_karyotype.cli import main

    table = truth_table(composed)
    last = int(composed.labels.max())
    table = relabel(table, last, "Y")
    crops = tmp_path / "crops"
    export_crops(composed.image, composed.labels, table, crops, "REVIEW.001")
    back = load_chromosomes([crops])
    assert sum(b.cls == "Y" for b in back) == sum(table["assigned"] == "Y")
    out = tmp_path / "tuned.keras"
    args = ["train", str(crops), "--out", str(out), "--epochs", "1", "--val-cases", "none"]
    assert main([*args, "--init", str(bundled_model_path())]) == 0
    record = json.loads(out.with_suffix(".json").read_text())["training"]
    assert record["init"] == str(bundled_model_path())
    assert "epoch 1/1" in capsys.readouterr().out
