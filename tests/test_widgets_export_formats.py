"""The Export widget's formats: the chromosomes as Pascal VOC boxes and COCO masks."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_export_widget_writes_voc_and_coco(make_napari_viewer, notes, tmp_path):
    from napari_karyotype._widgets import ExportWidget
    from napari_karyotype.cell.features import empty_features, relabel, sync_features
    from napari_karyotype.datasets import coco, voc

    labels = np.zeros((40, 60), np.int32)
    labels[5:30, 5:12] = 1
    labels[5:25, 30:36] = 2
    table = relabel(sync_features(empty_features(0), labels), 2, "X")
    table.loc[0, ["chromosome", "assigned"]] = "5"
    image = np.where(labels > 0, 0.2, 0.9).astype(np.float32)
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cell")
    viewer.add_labels(labels, name="chromosomes", features=table)
    widget = ExportWidget(viewer)
    widget.table_format.value = "Pascal VOC boxes"
    written = widget.export_table(tmp_path / "cell")
    assert written == tmp_path / "cell.xml"
    read = voc.read_voc(written)
    assert [(a.cls, a.box, a.verified) for a in read.items] == [
        ("5", (5, 5, 30, 12), False),
        ("X", (5, 30, 25, 36), True),
    ]
    widget.table_format.value = "COCO masks"
    written = widget.export_table(tmp_path / "cell.csv")
    assert written == tmp_path / "cell.json"
    (entry,) = coco.read_coco(written, need_images=False)
    for item in entry.items:
        assert np.array_equal(item.full_mask(labels.shape), labels == item.label)
    assert notes.errors == []
