"""Annotated datasets in napari: VOC and COCO opened as image + chromosome layers, written back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_karyotype import CLASSES
from napari_karyotype._reader import get_reader
from napari_karyotype.datasets import coco, voc
from napari_karyotype.datasets.annotated import Annotated


def _layers(path):
    """The reader's layers as napari builds them, and each as the data tuple a writer gets."""
    from napari.layers import Layer

    tuples = get_reader(str(path))(str(path))
    layers = [Layer.create(data, meta, kind) for data, meta, kind in tuples]
    return {layer.name: layer for layer in layers}


@pytest.fixture
def taichung_like(tmp_path):
    """images/1234561.jpg and annotations/1234561.xml, as in the Taichung set."""
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    img = np.full((80, 100), 230, np.uint8)
    img[10:60, 10:20] = 60
    img[20:30, 40:90] = 60
    Image.fromarray(img).save(tmp_path / "images" / "1234561.jpg")
    items = [
        Annotated(1, "1", (10, 10, 60, 20)),
        Annotated(2, "X", (20, 40, 30, 90), None, 0.7, True),
    ]
    voc.write_voc(tmp_path / "annotations" / "1234561.xml", "1234561.jpg", (80, 100), items)
    return tmp_path, items


def test_voc_image_opens_with_its_boxes_and_writes_back_the_same(taichung_like, tmp_path):
    from napari_karyotype._writer import write_boxes

    folder, items = taichung_like
    for opened in (folder / "images" / "1234561.jpg", folder / "annotations" / "1234561.xml"):
        layers = _layers(opened)
        assert set(layers) == {"1234561", "chromosome boxes"}
        boxes = layers["chromosome boxes"]
        assert list(boxes.features["class"]) == ["1", "X"]
        assert list(boxes.features["verified"]) == [False, True]
        data, attributes, _ = boxes.as_layer_data_tuple()
        out = tmp_path / f"back-{opened.suffix[1:]}.xml"
        write_boxes(str(out), data, attributes)
        back = voc.read_voc(out)
        assert [(a.cls, a.box, a.verified) for a in back.items] == [
            (a.cls, a.box, a.verified) for a in items
        ]
        assert (
            voc.image_of(out, back.filename, back.path).resolve()
            == (folder / "images" / "1234561.jpg").resolve()
        )


def test_coco_opens_as_labels_with_features_and_writes_back_the_same(tmp_path):
    from napari_karyotype._writer import write_chromosomes

    big = np.zeros((30, 8), bool)
    big[:, 2:6] = True
    items = [
        Annotated(3, "7", (5, 5, 35, 13), big, 0.9, True),
        Annotated(4, "Y", (15, 2, 19, 30), np.ones((4, 28), bool), 0.4),
    ]  # 4 crosses 3
    img = np.full((40, 50), 230, np.uint8)
    for a in items:
        img[a.full_mask(img.shape)] = 60
    Image.fromarray(img).save(tmp_path / "cell.png")
    coco.write_coco(
        tmp_path / "in.json", coco.merge([coco.image_piece("cell.png", (40, 50), items)])
    )
    layers = _layers(tmp_path / "in.json")
    labels = layers["chromosomes"]
    table = labels.features
    assert list(table["label"]) == [3, 4] and list(table["assigned"]) == ["7", "Y"]
    assert list(table["verified"]) == [True, False]
    assert (labels.data == 4).sum() == 4 * 28  # the smaller one drawn over the crossing
    data, attributes, _ = labels.as_layer_data_tuple()
    out = tmp_path / "out.json"
    write_chromosomes(str(out), data, attributes)
    (back,) = coco.read_coco(out)
    assert back.path.resolve() == (tmp_path / "cell.png").resolve()
    assert [(a.label, a.cls, a.verified) for a in back.items] == [(3, "7", True), (4, "Y", False)]
    assert np.array_equal(back.items[1].full_mask((40, 50)), items[1].full_mask((40, 50)))
    xml = tmp_path / "out.xml"
    write_chromosomes(str(xml), data, attributes)
    assert [a.box for a in voc.read_voc(xml).items][1] == (15, 2, 19, 30)


def test_bad_dataset_files_are_one_notification(tmp_path, monkeypatch):
    import napari_karyotype._reader as reader

    shown = []
    monkeypatch.setattr(reader, "_notify_error", shown.append)
    bad = tmp_path / "bad.xml"
    bad.write_text("<annotation><object><name>Q</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                   "<xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>")  # fmt: skip
    assert get_reader(str(bad))(str(bad)) == [(None,)]
    assert len(shown) == 1 and str(bad) in shown[0] and "unknown chromosome class 'Q'" in shown[0]
    assert get_reader(str(tmp_path / "other.json")) is None  # not a COCO file: not claimed


@pytest.mark.data
def test_a_shared_taichung_image_opens_with_its_boxes():
    from napari_karyotype.datasets.chromosomes import shared_data_dir

    base = shared_data_dir()
    folder = None if base is None else base.parent / "taichung"
    if folder is None or not (folder / "images" / "103064.jpg").is_file():
        pytest.skip("shared Taichung set (../shared/data/taichung) not found")
    layers = _layers(folder / "images" / "103064.jpg")
    boxes = layers["chromosome boxes"]
    n = len(voc.read_voc(folder / "annotations" / "103064.xml").items)
    assert len(boxes.data) == n and n >= 40
    assert {"1", "X"} <= set(boxes.features["class"]) <= set(CLASSES)
