"""Shape masks and napari's Shapes CSV."""

from __future__ import annotations

import numpy as np
import pytest

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.segmentation.shapes import read_shapes_csv, shape_mask, write_shapes_csv

RECT = np.array([[10, 20], [10, 60], [40, 60], [40, 20]], float)


def test_rectangle_polygon_ellipse_masks():
    m = shape_mask("rectangle", RECT, (100, 100))
    assert m[10:41, 20:61].all() and m.sum() == 31 * 41
    tri = shape_mask("polygon", [[0, 0], [0, 50], [50, 0]], (100, 100))
    assert abs(tri.sum() - 50 * 50 / 2) < 100  # edge pixels count in
    ell = shape_mask("ellipse", RECT, (100, 100))  # 4 bounding-box corners, as napari gives
    assert abs(ell.sum() - np.pi * 15 * 20) < 40
    assert ell[25, 40] and not ell[10, 20]


def test_rotated_rectangle_is_filled_as_polygon():
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    square = np.array([[-10, -10], [-10, 10], [10, 10], [10, -10]], float)
    rotated = square @ np.array([[c, -s], [s, c]]) + 50
    m = shape_mask("rectangle", rotated, (100, 100))
    assert abs(m.sum() - 400) < 40
    assert m[50, 50] and m[50, 63] and not m[37, 37]  # a diamond: corners cut


def test_partly_outside_is_clipped():
    m = shape_mask("rectangle", [[-20, -20], [-20, 30], [30, 30], [30, -20]], (100, 100))
    assert m.shape == (100, 100) and m[:31, :31].all() and m.sum() == 31 * 31


@pytest.mark.parametrize(
    ("kind", "verts", "words"),
    [
        ("line", [[0, 0], [10, 10]], "encloses no area"),
        ("path", [[0, 0], [10, 10], [20, 0]], "encloses no area"),
        ("polygon", [[0, 0], [10, 10]], "at least 3"),
        ("polygon", [[0, 0], [10, 10], [20, 20]], "zero area"),
        ("rectangle", [[5, 5], [5, 5], [5, 5], [5, 5]], "zero area"),
        ("rectangle", [[200, 200], [200, 300], [300, 300], [300, 200]], "outside"),
        ("star", [[0, 0], [0, 5], [5, 5]], "unknown shape type"),
    ],
)
def test_bad_shapes_are_refused(kind, verts, words):
    with pytest.raises(KaryotypeError, match=words) as err:
        shape_mask(kind, verts, (100, 100))
    assert "\n" not in str(err.value)


def test_csv_round_trip(tmp_path):
    shapes = [
        ("rectangle", RECT),
        ("polygon", np.array([[1, 2], [3.5, 4], [5, 1]])),
        ("ellipse", RECT + 5),
    ]
    path = write_shapes_csv(tmp_path / "rows.csv", shapes)
    back = read_shapes_csv(path)
    assert [t for t, _ in back] == ["rectangle", "polygon", "ellipse"]
    for (_, a), (_, b) in zip(shapes, back, strict=True):
        np.testing.assert_array_equal(a, b)


def test_csv_matches_napari_writer_and_reader(tmp_path):
    pytest.importorskip("napari_builtins")
    from napari_builtins.io._read import csv_to_layer_data
    from napari_builtins.io._write import napari_write_shapes

    shapes = [("rectangle", RECT), ("polygon", np.array([[1.0, 2.0], [3.5, 4.0], [5.0, 1.0]]))]
    theirs = tmp_path / "napari.csv"
    napari_write_shapes(
        str(theirs), [v for _, v in shapes], {"shape_type": ["rectangle", "polygon"]}
    )
    ours = write_shapes_csv(tmp_path / "ours.csv", shapes)
    assert ours.read_text() == theirs.read_text()  # byte for byte what napari writes
    data, meta, layer_type = csv_to_layer_data(str(ours), require_type="shapes")
    assert layer_type == "shapes" and list(meta["shape_type"]) == ["rectangle", "polygon"]
    np.testing.assert_allclose(data[0], RECT)
    back = read_shapes_csv(theirs)
    np.testing.assert_allclose(back[1][1], shapes[1][1])


def test_csv_bad_files(tmp_path):
    bad = tmp_path / "points.csv"
    bad.write_text("index,axis-0,axis-1\n0,1,2\n")
    with pytest.raises(KaryotypeError, match="not a napari Shapes CSV"):
        read_shapes_csv(bad)
    broken = tmp_path / "broken.csv"
    broken.write_text("index,shape-type,vertex-index,axis-0,axis-1\n0,rectangle,0,abc,2\n")
    with pytest.raises(KaryotypeError, match="line 2"):
        read_shapes_csv(broken)
    with pytest.raises(KaryotypeError, match="no such file"):
        read_shapes_csv(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(KaryotypeError, match="empty"):
        read_shapes_csv(tmp_path / "empty.csv")
