"""The whole plugin flow in a real viewer, on the synthetic sample.

open demo -> rows -> segment -> classify -> relabel (undo) -> merge / delete -> export -> read back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import test_widgets_helpers as helpers
from napari_karyotype import CLASSES
from napari_karyotype.cell.features import COLUMNS, summarize

pytestmark = pytest.mark.gui


def _table(layer) -> pd.DataFrame:
    return layer.features.drop(columns=["index"])


def _row(layer, label: int):
    df = _table(layer)
    return df[df["label"] == label].iloc[0]


def _texts(viewer) -> dict[int, str]:
    points = viewer.layers["classes"]
    strings = points.text.values
    return dict(zip(points.features["label"].astype(int), strings, strict=True))


def _color_of(layer, label: int) -> np.ndarray:
    return np.asarray(layer.colormap.map(np.array([label])))[0]


def _centre(labels: np.ndarray, label: int) -> tuple[float, float]:
    rr, cc = np.nonzero(labels == label)
    i = int(np.argmin((rr - rr.mean()) ** 2 + (cc - cc.mean()) ** 2))
    return float(rr[i]), float(cc[i])


def test_demo_rows_segment_classify_review_export(
    make_napari_viewer, qtbot, tmp_path, notes, tiny_model, monkeypatch
):
    from napari_karyotype._widgets import open_demo
    from napari_karyotype._widgets.display import UNCLASSIFIED_COLOR, class_colors
    from napari_karyotype.cell.export import read_table_csv
    from napari_karyotype.datasets.chromosomes import load_chromosomes

    viewer = make_napari_viewer()

    # --- open the demo: sample image, proposed rows, four docked widgets
    widgets = open_demo(viewer)
    assert set(widgets) == {"rows", "segment", "classify", "export"}
    assert len(viewer.window.dock_widgets) >= 4
    image = viewer.layers["synthetic karyogram"]
    rows = viewer.layers["rows"]
    assert len(rows.data) == 4  # the synthetic karyogram has 4 rows
    assert set(rows.shape_type) == {"rectangle"}
    truth = np.asarray(viewer.layers["truth"].data)

    # --- segment all rows, watching the contour preview while it runs
    seg = widgets["segment"]
    seen = []
    seg._relay.value.connect(lambda v: seen.append(v[2] is not None))
    rows.selected_data = set()
    assert seg.run() is not None
    helpers.wait_worker(qtbot, seg)
    labels_layer = viewer.layers["chromosomes"]
    labels = np.asarray(labels_layer.data).copy()
    ids = np.unique(labels[labels > 0])
    assert len(ids) == 46
    assert _color_of(labels_layer, int(ids[0]))[3] > 0  # visible before classification too
    assert any(seen), "no evolving contour was shown"
    assert "contours (running)" not in viewer.layers  # the preview goes when done
    # each true chromosome is found, by a label of its own
    majority = []
    for t in np.unique(truth[truth > 0]):
        got = labels[truth == t]
        assert (got > 0).any()
        majority.append(int(np.bincount(got[got > 0]).argmax()))
    assert len(set(majority)) == 46

    # --- re-segment only the first row (one selected shape): other labels keep ids and pixels
    rows.selected_data = {0}
    row0 = np.zeros(labels.shape, bool)
    (r0, c0), (r1, c1) = rows.data[0].min(axis=0), rows.data[0].max(axis=0)
    row0[int(np.floor(r0)) : int(np.ceil(r1)) + 1, int(np.floor(c0)) : int(np.ceil(c1)) + 1] = True
    seg.iterations.value = 30
    seg.run()
    helpers.wait_worker(qtbot, seg)
    again = np.asarray(labels_layer.data)
    assert np.array_equal(again[~row0], labels[~row0])
    assert len(np.unique(again[again > 0])) == 46
    rows.selected_data = set()
    labels = again.copy()

    # --- classify with a model file the user picks
    cls = widgets["classify"]
    assert cls.labels_picker.value is labels_layer
    assert cls.assign.value is True  # per-cell assignment on by default
    cls.model.value = tiny_model
    assert cls.classes.value == "auto"
    cls.classes.value = "cnn"  # this flow shows the CNN's confidences (auto: test_widgets_layout)
    assert cls.run() is not None
    helpers.wait_worker(qtbot, cls)
    table = _table(labels_layer)
    assert list(table.columns) == list(COLUMNS)
    assert sorted(table["label"]) == sorted(np.unique(labels[labels > 0]))
    assert set(table["assigned"]) <= set(CLASSES)
    assert not table["verified"].any()
    assert "46 chromosomes" in cls.summary.value
    assert summarize(table).iscn in cls.summary.value
    assert cls.scale.value > 0  # the estimated scale is shown

    # status bar: hovering a chromosome shows its class and confidence
    lab = int(table["label"].iloc[0])
    status = labels_layer.get_status(_centre(labels, lab), world=True)["coordinates"]
    assert f"assigned: {_row(labels_layer, lab).assigned}" in status
    assert "confidence: " in status

    # class text at each chromosome, colours by class, low confidence flagged
    texts = _texts(viewer)
    assert set(texts) == set(table["label"])
    row = _row(labels_layer, lab)
    assert texts[lab].splitlines() in (
        [row.assigned, f"{row.confidence:.2f}"],  # confident
        [f"{row.assigned}?", f"{row.confidence:.2f}"],  # flagged
    )
    colors = class_colors()
    assert np.allclose(_color_of(labels_layer, lab), colors[row.assigned])
    cls.threshold.value = 1.0  # everything below 1.0 is flagged
    points = viewer.layers["classes"]
    assert all(t.splitlines()[0].endswith("?") for t in _texts(viewer).values())
    assert np.allclose(points.border_color[0], [1, 0, 0, 1])
    cls.threshold.value = 0.0
    assert not any(t.splitlines()[0].endswith("?") for t in _texts(viewer).values())
    assert np.allclose(points.border_color[0], [0, 0, 0, 0])

    # --- relabel one chromosome: pick it, choose a class, Set
    new_class = "21" if row.assigned != "21" else "22"
    before, texts_before = _table(labels_layer), _texts(viewer)
    labels_layer.selected_label = lab
    assert cls.selected.value.startswith(f"label {lab}: ")
    cls.cls.value = new_class
    cls.set_button.clicked.emit()
    row = _row(labels_layer, lab)
    assert row.assigned == new_class and row.verified
    assert _texts(viewer)[lab] == f"{new_class} ✓"
    assert np.allclose(_color_of(labels_layer, lab), colors[new_class])
    assert cls.summary.value.splitlines()[0] == (
        f"46 chromosomes · {summarize(_table(labels_layer)).iscn}"
    )
    table_row = [i for i in range(cls.table.rowCount()) if cls.table.item(i, 0).text() == str(lab)][
        0
    ]
    assert cls.table.item(table_row, 1).text() == new_class
    assert cls.table.item(table_row, 4).text() == "yes"

    # undo restores the previous table
    cls.undo()
    pd.testing.assert_frame_equal(_table(labels_layer), before)
    assert not _row(labels_layer, lab).verified
    assert _texts(viewer) == texts_before

    # keyboard, through the keys bound on the labels layer: Alt-1 Alt-5 = 15, Alt-X, Alt-Z undo
    from app_model.types import KeyBinding

    def press(key):
        labels_layer.keymap[KeyBinding.from_str(key)](labels_layer)

    press("Alt+1")  # could still become 10-19: nothing yet
    assert _row(labels_layer, lab).assigned == before[before["label"] == lab].iloc[0].assigned
    press("Alt+5")
    assert _row(labels_layer, lab).assigned == "15" and _row(labels_layer, lab).verified
    press("Alt+Z")
    pd.testing.assert_frame_equal(_table(labels_layer), before)
    press("Alt+2")
    qtbot.waitUntil(lambda: _row(labels_layer, lab).assigned == "2", timeout=5_000)  # after a pause
    press("Alt+X")
    assert _row(labels_layer, lab).assigned == "X" and _row(labels_layer, lab).verified

    # a table row selects its chromosome in the viewer
    other = int(table["label"].iloc[1])
    other_row = [
        i for i in range(cls.table.rowCount()) if cls.table.item(i, 0).text() == str(other)
    ][0]
    cls.table.selectRow(other_row)
    assert labels_layer.selected_label == other

    # --- re-running classification never overwrites a verified label
    cls.run()
    helpers.wait_worker(qtbot, cls)
    assert _row(labels_layer, lab).assigned == "X" and _row(labels_layer, lab).verified

    # --- merge a verified label into another with napari's own tools, delete a third: refresh
    ids = sorted(_table(labels_layer)["label"])
    keep, gone = [i for i in ids if i != lab][:2]
    labels_layer.data_setitem(np.nonzero(np.asarray(labels_layer.data) == lab), keep)
    labels_layer.data_setitem(np.nonzero(np.asarray(labels_layer.data) == gone), 0)
    qtbot.waitUntil(lambda: len(_table(labels_layer)) == 44, timeout=10_000)  # automatic
    cls.refresh()
    table = _table(labels_layer)
    current = np.asarray(labels_layer.data)
    assert sorted(table["label"]) == sorted(np.unique(current[current > 0]))
    assert lab not in set(table["label"]) and gone not in set(table["label"])
    merged = _row(labels_layer, keep)
    assert merged.assigned == "X" and merged.verified  # the merged class is not lost
    assert merged.area == int((current == keep).sum())
    assert set(_texts(viewer)) == set(table["label"])
    assert cls.summary.value.startswith("44 chromosomes")
    assert cls.table.rowCount() == 44

    # split: the lower half of the merged chromosome becomes a new label (napari's "new label")
    rr, cc = np.nonzero(np.asarray(labels_layer.data) == keep)
    lower = rr > np.median(rr)
    new_id = int(np.asarray(labels_layer.data).max()) + 1
    labels_layer.data_setitem((rr[lower], cc[lower]), new_id)
    table = cls.refresh()
    assert len(table) == 45
    assert _row(labels_layer, keep).assigned == "X"  # the part that kept the id keeps its class
    assert _row(labels_layer, new_id).assigned == "" and not _row(labels_layer, new_id).verified
    assert _texts(viewer)[new_id] == "?"
    assert np.allclose(_color_of(labels_layer, new_id), UNCLASSIFIED_COLOR)
    cls.set_class("Y", label=new_id)
    table = _table(labels_layer)
    assert cls.summary.value.startswith("45 chromosomes")

    # --- export: table CSV (widget and npe2 writer), crops, karyogram
    exp = widgets["export"]
    assert exp.labels_picker.value is labels_layer
    written = exp.export_table(tmp_path / "table.csv")
    back = read_table_csv(written)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    from napari.plugins.io import save_layers

    paths = save_layers(str(tmp_path / "writer.csv"), [labels_layer], plugin="napari-karyotype")
    assert paths and pd.read_csv(paths[0])["label"].tolist() == table["label"].tolist()

    crops = exp.export_crops(tmp_path / "crops", cell="demo.001")
    assert len(crops) == 45
    chromosomes = load_chromosomes([tmp_path / "crops"])
    assert len(chromosomes) == 45
    assert {c.cell for c in chromosomes} == {"demo.001"}
    want = table["assigned"].value_counts().to_dict()
    got = pd.Series([c.cls for c in chromosomes]).value_counts().to_dict()
    assert got == want
    assert all(c.image.shape == (220, 100) and c.image.min() < 128 for c in chromosomes)

    arranged = exp.export_karyogram(tmp_path / "karyogram.png")
    assert viewer.layers["karyogram"].data.shape == arranged.shape
    import imageio.v3 as iio

    assert np.array_equal(iio.imread(tmp_path / "karyogram.png"), arranged)
    assert image in viewer.layers and labels_layer in viewer.layers
    assert notes.errors == []


def test_bundled_model_by_default(make_napari_viewer, qtbot, notes):
    """With no model file chosen, Classify runs the bundled CNN exactly as the core does."""
    from napari_karyotype._widgets import ClassifyWidget
    from napari_karyotype.cell.features import classify_cell
    from napari_karyotype.cell.layout import confident_classes
    from napari_karyotype.classification.model import bundled_model_path
    from napari_karyotype.image.io import as_karyogram
    from napari_karyotype.samples.synthetic import synthetic_karyogram

    if not bundled_model_path().is_file():
        pytest.skip("no bundled model in this checkout")
    sample = synthetic_karyogram(seed=2)
    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    layer = viewer.add_labels(sample.labels, name="chromosomes")
    widget = ClassifyWidget(viewer)
    assert widget.model_path() is None
    assert widget.run() is not None
    helpers.wait_worker(qtbot, widget)
    assert notes.errors == []
    # the widget's default class source is auto: the layout where it reads, the CNN elsewhere
    image = as_karyogram(sample.image).image
    placed = confident_classes(sample.labels)
    expected, summary = classify_cell(image, sample.labels, placed=placed)
    pd.testing.assert_frame_equal(_table(layer), expected)
    assert widget.summary.value.splitlines()[0] == f"{summary.count} chromosomes · {summary.iscn}"
    assert widget.scale.value == pytest.approx(summary.scale, abs=0.01)
