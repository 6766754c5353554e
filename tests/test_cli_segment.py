"""``napari-karyotype segment``: files written, exit codes, --rows round trip."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_karyotype.cli import main
from napari_karyotype.samples.compose import compose_karyogram
from napari_karyotype.segmentation.metrics import match_labels
from napari_karyotype.segmentation.shapes import read_shapes_csv

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def karyogram(cells):
    return compose_karyogram(next(iter(cells.values())), scale=0.7)


def test_segment_writes_labels_and_rows(tmp_path, karyogram, capsys):
    image = tmp_path / "cell.png"
    iio.imwrite(image, karyogram.image)
    out = tmp_path / "out"
    assert main(["segment", str(image), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "cell.png" in printed[0]
    labels = tifffile.imread(out / "cell_labels.tif")
    assert labels.shape == karyogram.image.shape and labels.dtype == np.uint16
    f1, iou = match_labels(karyogram.labels, labels)
    assert f1 >= 0.98 and iou >= 0.9
    rows = read_shapes_csv(out / "cell_rows.csv")
    assert len(rows) == 4 and all(t == "rectangle" for t, _ in rows)

    # --rows reads the CSV back (as napari would after the user edits the rows).
    again = tmp_path / "again"
    code = main(
        [
            "segment",
            str(image),
            "--out",
            str(again),
            "--rows",
            str(out / "cell_rows.csv"),
            "--method",
            "chan-vese",
        ]
    )
    assert code == 0
    labels2 = tifffile.imread(again / "cell_labels.tif")
    assert match_labels(labels, labels2)[0] >= 0.98
    assert (again / "cell_rows.csv").read_text() == (out / "cell_rows.csv").read_text()


def test_bad_file_does_not_stop_the_others(tmp_path, karyogram, capsys):
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, (255 - karyogram.image).astype(np.uint8))  # fluorescent-looking
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    blank = tmp_path / "blank.png"
    iio.imwrite(blank, np.full((80, 80), 255, np.uint8))
    out = tmp_path / "out"
    assert main(["segment", str(bad), str(good), str(blank), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert "bad.png" in errors[0] and "blank.png" in errors[1]
    assert all(e.startswith("napari-karyotype segment: error:") for e in errors)
    assert "Traceback" not in captured.err
    assert "good.tif" in captured.out and "inverted" in captured.out
    assert (out / "good_labels.tif").exists() and not (out / "bad_labels.tif").exists()


def test_bad_rows_file_is_one_line_error(tmp_path, karyogram, capsys):
    image = tmp_path / "cell.png"
    iio.imwrite(image, karyogram.image)
    rows = tmp_path / "rows.csv"
    rows.write_text("index,axis-0,axis-1\n0,1,2\n")
    assert main(["segment", str(image), "--out", str(tmp_path / "o"), "--rows", str(rows)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a napari Shapes CSV" in err[0]


def test_output_folder_that_is_a_file(tmp_path, karyogram, capsys):
    image = tmp_path / "cell.png"
    iio.imwrite(image, karyogram.image)
    blocker = tmp_path / "out"
    blocker.write_text("a file, not a folder")
    assert main(["segment", str(image), "--out", str(blocker)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder" in err[0]
