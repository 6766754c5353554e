"""Bad input in the widgets: a one-line notification, and the user's layers stay as they were."""

from __future__ import annotations

import numpy as np
import pytest

import test_widgets_helpers as helpers

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def sample():
    from napari_karyotype.samples.synthetic import synthetic_karyogram

    return synthetic_karyogram(seed=1)


def test_no_image_layer(make_napari_viewer, notes, tmp_path):
    from napari_karyotype._widgets import ClassifyWidget, ExportWidget, RowsWidget, SegmentWidget

    viewer = make_napari_viewer()
    assert RowsWidget(viewer).run() is None
    helpers.one_error(notes, "image layer")
    assert SegmentWidget(viewer).run() is None
    helpers.one_error(notes, "image layer")
    assert ClassifyWidget(viewer).run() is None
    helpers.one_error(notes, "image layer")
    assert ExportWidget(viewer).export_table(tmp_path / "t.csv") is None
    helpers.one_error(notes, "labels layer")
    assert len(viewer.layers) == 0
    assert not (tmp_path / "t.csv").exists()


def test_line_shape_and_no_shapes(make_napari_viewer, notes, sample):
    from napari_karyotype._widgets import SegmentWidget

    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    rows = viewer.add_shapes(
        [np.array([[10.0, 10.0], [200.0, 600.0]])], shape_type="line", name="rows"
    )
    widget = SegmentWidget(viewer)
    assert widget.rows.value is rows
    before = helpers.layer_state(viewer)
    assert widget.run() is None
    helpers.one_error(notes, "line")
    rows.data = []
    assert widget.run() is None
    helpers.one_error(notes, "no shapes")
    assert [layer.name for layer in viewer.layers] == ["cell", "rows"]
    assert helpers.layer_state(viewer)[0] == before[0]


def test_segmentation_cancel_keeps_layers(make_napari_viewer, qtbot, notes, sample):
    from napari_karyotype._widgets import SegmentWidget

    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    viewer.add_shapes(
        [v for _, v in sample.rows], shape_type=[t for t, _ in sample.rows], name="rows"
    )
    existing = viewer.add_labels(sample.labels.copy(), name="chromosomes")
    existing.features = {"index": [1], "note": ["mine"]}
    before = helpers.layer_state(viewer)
    widget = SegmentWidget(viewer)
    assert widget.run() is not None
    widget.cancel()
    helpers.wait_worker(qtbot, widget)
    assert notes.errors == []
    assert any("cancelled" in m for m in notes.infos)
    assert helpers.layer_state(viewer) == before


def test_empty_and_mismatched_labels(make_napari_viewer, notes, sample):
    from napari_karyotype._widgets import ClassifyWidget

    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    viewer.add_labels(np.zeros(sample.image.shape, np.int32), name="chromosomes")
    widget = ClassifyWidget(viewer)
    before = helpers.layer_state(viewer)
    assert widget.run() is None
    helpers.one_error(notes, "no labels", "segment first")
    viewer.layers["chromosomes"].data = np.ones((10, 10), np.int32)
    before = helpers.layer_state(viewer)
    assert widget.run() is None
    helpers.one_error(notes, "labels layer", "width x height")
    assert helpers.layer_state(viewer) == before


def test_corrupt_or_missing_model(make_napari_viewer, qtbot, notes, sample, tmp_path):
    from napari_karyotype._widgets import ClassifyWidget

    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    viewer.add_labels(sample.labels, name="chromosomes")
    widget = ClassifyWidget(viewer)
    before = helpers.layer_state(viewer)

    widget.model.value = tmp_path / "absent.keras"
    assert widget.run() is None
    helpers.one_error(notes, "absent.keras", "not found")

    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"this is not a keras model")
    widget.model.value = bad
    assert widget.run() is not None
    helpers.wait_worker(qtbot, widget)
    helpers.one_error(notes, "broken.keras")
    assert helpers.layer_state(viewer) == before
    assert "classes" not in viewer.layers


def test_review_needs_a_classified_chromosome(make_napari_viewer, qtbot, notes, sample):
    from napari_karyotype._widgets import ClassifyWidget

    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    layer = viewer.add_labels(sample.labels, name="chromosomes")
    widget = ClassifyWidget(viewer)
    before = helpers.layer_state(viewer)
    assert widget.set_class("7", label=1) is None
    helpers.one_error(notes, "not classified yet")
    assert widget.undo() is None
    helpers.one_error(notes, "nothing to undo")
    assert helpers.layer_state(viewer) == before
    # painting in a layer that is not classified yet is no error: there is nothing to sync
    layer.data_setitem(np.nonzero(sample.labels == 1), 0)
    qtbot.wait(600)
    assert notes.errors == []
    assert layer.features.shape[1] == 0


def test_export_errors_leave_layers(make_napari_viewer, notes, sample, tmp_path):
    from napari_karyotype._widgets import ExportWidget
    from napari_karyotype._widgets.display import store_table
    from napari_karyotype.cell.features import empty_features, sync_features

    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    layer = viewer.add_labels(sample.labels, name="chromosomes")
    widget = ExportWidget(viewer)
    assert widget.export_crops(tmp_path / "crops", cell="x.1") is None
    helpers.one_error(notes, "not classified yet")
    # a table whose chromosomes have no class yet: nothing to export as training data
    store_table(layer, sync_features(empty_features(0), sample.labels))
    before = helpers.layer_state(viewer)
    assert widget.export_crops(tmp_path / "crops", cell="x.1") is None
    helpers.one_error(notes, "no classified chromosomes")
    assert widget.export_crops(tmp_path / "crops", cell="bad/name") is None
    helpers.one_error(notes, "cell id")
    assert widget.export_table(tmp_path / "missing-folder" / "t.csv") is None
    helpers.one_error(notes)
    assert helpers.layer_state(viewer) == before


def test_widgets_from_the_plugin_menu(make_napari_viewer, notes, sample):
    """Docked through npe2 (napari hands the widget a proxy viewer), the widgets still work."""
    from napari_karyotype._widgets import ClassifyWidget, RowsWidget, SegmentWidget

    viewer = make_napari_viewer()
    image = viewer.add_image(sample.image, name="cell")
    _, rows_widget = viewer.window.add_plugin_dock_widget("napari-karyotype", "Rows")
    _, seg_widget = viewer.window.add_plugin_dock_widget("napari-karyotype", "Segment")
    _, cls_widget = viewer.window.add_plugin_dock_widget("napari-karyotype", "Classify")
    assert isinstance(rows_widget, RowsWidget)
    assert isinstance(seg_widget, SegmentWidget) and isinstance(cls_widget, ClassifyWidget)
    assert rows_widget.image.value is image
    layer = rows_widget.run()
    assert layer is viewer.layers["rows"] and len(layer.data) == 4
    assert seg_widget.rows.value is layer  # pickers follow layers added after docking
    labels = viewer.add_labels(sample.labels, name="chromosomes")
    assert cls_widget.labels_picker.value is labels
    assert notes.errors == []


def test_segment_fields_map_to_segment_arguments(make_napari_viewer):
    import inspect

    from napari_karyotype._widgets import SegmentWidget
    from napari_karyotype.segmentation.contours import segment

    widget = SegmentWidget(make_napari_viewer())
    params = widget.parameters()
    assert set(params) <= set(inspect.signature(segment).parameters)
    # at their minimum, the counts and the threshold read "auto": segment chooses them
    assert params["iterations"] is None and params["min_size"] is None
    assert params["threshold"] == "auto"
    assert widget.threshold.native.specialValueText() == "auto"
    for field in (widget.iterations, widget.threshold, widget.min_size):
        assert field.value == field.min
    widget.method.value = "chan-vese"
    widget.iterations.value = 25
    widget.threshold.value = 0.3
    widget.min_size.value = 40
    widget.refine.value = True
    assert widget.parameters() == {
        **params,
        "method": "chan-vese",
        "iterations": 25,
        "threshold": pytest.approx(0.3),
        "min_size": 40,
        "refine": True,
    }


def test_unexpected_failure_is_one_logged_line(
    make_napari_viewer, notes, sample, monkeypatch, caplog
):
    """A bug in the core (not a KaryotypeError) still reaches the user as one line, and the log."""
    import napari_karyotype.segmentation.rows as rows_module
    from napari_karyotype._widgets import RowsWidget

    def broken(image, **kwargs):
        raise ZeroDivisionError("division by zero\nwith a second line")

    monkeypatch.setattr(rows_module, "propose_rows", broken)
    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    before = helpers.layer_state(viewer)
    with caplog.at_level("ERROR", logger="napari_karyotype"):
        assert RowsWidget(viewer).run() is None
    assert helpers.one_error(notes) == "Proposing rows failed: ZeroDivisionError: division by zero"
    assert "Traceback" in caplog.text or caplog.records[0].exc_info is not None
    assert helpers.layer_state(viewer) == before
