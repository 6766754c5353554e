"""VOC and COCO files: round trips, pycocotools as the reference reader, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from napari_karyotype.datasets import coco, voc
from napari_karyotype.datasets.annotated import Annotated, from_labels, to_labels
from napari_karyotype.errors import KaryotypeError


def _labels():
    """Three chromosomes, one L-shaped; label 2 lies across the image's first column."""
    labels = np.zeros((60, 80), np.int32)
    labels[5:40, 10:16] = 1
    labels[30:36, 16:40] = 1
    labels[0:50, 0:3] = 2
    labels[45:58, 50:75] = 3
    return labels


def _table():
    return pd.DataFrame(
        {
            "label": [1, 2, 3],
            "chromosome": ["1", "X", "21"],
            "assigned": ["1", "Y", ""],
            "confidence": [0.9, 0.5, 0.7],
            "verified": [True, False, False],
        }
    )


def test_annotations_from_labels_take_assigned_class_box_and_verified():
    items = {a.label: a for a in from_labels(_labels(), _table())}
    assert items[1].box == (5, 10, 40, 40) and items[1].cls == "1" and items[1].verified
    assert items[2].cls == "Y" and items[3].cls == "21"  # assigned first, else the CNN's
    assert np.array_equal(to_labels(list(items.values()), (60, 80)), _labels())


def test_voc_round_trip_keeps_boxes_classes_and_verified(tmp_path):
    items = from_labels(_labels(), _table())
    path = voc.write_voc(tmp_path / "cell.xml", "cell.png", (60, 80), items)
    back = voc.read_voc(path)
    assert back.filename == "cell.png" and back.shape == (60, 80)
    assert [(a.cls, a.box, a.verified) for a in back.items] == [
        (a.cls, a.box, a.verified) for a in items
    ]
    assert back.items[0].confidence == pytest.approx(0.9)


def test_voc_reads_taichung_names(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text(
        "<annotation><object><name>G22</name><bndbox><xmin>3</xmin><ymin>4</ymin>"
        "<xmax>9</xmax><ymax>19</ymax></bndbox></object><object><name>Y</name><bndbox>"
        "<xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>"
    )
    items = voc.read_voc(path).items
    assert [(a.cls, a.box) for a in items] == [("22", (4, 3, 20, 10)), ("Y", (1, 1, 3, 3))]


@pytest.mark.parametrize(
    "text, why",
    [
        ("<annotation><object><name>Z9</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax>"
         "<ymax>2</ymax></bndbox></object></annotation>", "unknown chromosome class 'Z9'"),
        ("<annotation><object><name>A1</name><bndbox><xmin>1</xmin>", "not a readable VOC"),
        ("<annotation><object><name>A1</name><bndbox><xmin>a</xmin></bndbox></object>"
         "</annotation>", "lacks a number"),
    ],
)  # fmt: skip
def test_bad_voc_files_give_one_line_naming_the_file(tmp_path, text, why):
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(KaryotypeError) as err:
        voc.read_voc(path)
    assert str(path) in str(err.value) and why in str(err.value)
    assert "\n" not in str(err.value)
    if "class" in why:  # the dataset readers skip such an object instead
        assert voc.read_voc(path, strict=False).items == []


def test_rle_matches_pycocotools_both_ways():
    mask_utils = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    for mask in (rng.random((17, 23)) > 0.5, np.ones((4, 5), bool), np.zeros((4, 5), bool)):
        rle = coco.rle_encode(mask)
        ours = mask_utils.decode(mask_utils.frPyObjects(rle, *rle["size"]))
        assert np.array_equal(ours.astype(bool), mask)
        compressed = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert np.array_equal(coco.rle_decode(compressed), mask)
        assert np.array_equal(coco.rle_decode(rle), mask)


def test_coco_loads_in_pycocotools_and_masks_decode_to_the_labels(tmp_path):
    pycoco = pytest.importorskip("pycocotools.coco")
    labels = _labels()
    # two crossing chromosomes: label 4 overlaps label 1 (not expressible in one label image)
    crossing = Annotated(4, "7", (20, 5, 25, 30), np.ones((5, 25), bool), 0.8, True)
    items = [*from_labels(labels, _table()), crossing]
    (tmp_path / "cell.png").write_bytes(b"")
    doc = coco.merge([coco.image_piece("cell.png", labels.shape, items)])
    path = coco.write_coco(tmp_path / "annotations.json", doc)
    api = pycoco.COCO(str(path))
    assert [c["name"] for c in api.loadCats(api.getCatIds())][-2:] == ["X", "Y"]
    anns = api.loadAnns(api.getAnnIds(imgIds=[1]))
    assert len(anns) == 4
    for ann in anns:
        mask = api.annToMask(ann).astype(bool)
        label = ann["attributes"]["label"]
        expected = labels == label if label != 4 else crossing.full_mask(labels.shape)
        assert np.array_equal(mask, expected)
        x, y, w, h = ann["bbox"]
        rows, cols = np.nonzero(expected)
        assert (x, y, x + w, y + h) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    back = coco.read_coco(path)[0]
    assert [(a.label, a.cls, a.box, a.verified) for a in back.items] == [
        (a.label, a.cls, a.box, a.verified) for a in items
    ]
    for a, b in zip(back.items, items, strict=True):
        assert np.array_equal(a.mask, b.mask)


def test_coco_reads_polygons_and_merges_ids(tmp_path):
    (tmp_path / "images").mkdir()
    for name in ("a.png", "b.png"):
        (tmp_path / "images" / name).write_bytes(b"")
    items = [Annotated(1, "X", (2, 2, 6, 8), np.ones((4, 6), bool))]
    doc = coco.merge([coco.image_piece(n, (10, 10), items) for n in ("a.png", "b.png")])
    assert [a["id"] for a in doc["annotations"]] == [1, 2]
    assert [a["image_id"] for a in doc["annotations"]] == [1, 2]
    doc["annotations"][1]["segmentation"] = [[2, 2, 8, 2, 8, 6, 2, 6]]  # x, y: the same square
    path = coco.write_coco(tmp_path / "ann.json", doc)
    images = coco.read_coco(path)
    assert [im.path.name for im in images] == ["a.png", "b.png"]
    assert images[1].items[0].mask.sum() == 24 and images[1].items[0].cls == "X"


@pytest.mark.parametrize("edit, why", [
    (lambda d: d["images"][0].update(file_name="gone.png"), "image 'gone.png' not found"),
    (lambda d: d["categories"][0].update(name="dog"), "category 'dog'"),
    (lambda d: d["annotations"][0].update(image_id=9), "unknown image"),
    (None, "not a readable COCO file"),
])  # fmt: skip
def test_bad_coco_files_give_one_line_naming_the_file(tmp_path, edit, why):
    (tmp_path / "a.png").write_bytes(b"")
    items = [Annotated(1, "1", (0, 0, 2, 2), np.ones((2, 2), bool))]
    doc = coco.merge([coco.image_piece("a.png", (4, 4), items)])
    path = tmp_path / "bad.json"
    if edit is None:
        path.write_text(json.dumps(doc)[:40])  # truncated
    else:
        edit(doc)
        path.write_text(json.dumps(doc))
    with pytest.raises(KaryotypeError) as err:
        coco.read_coco(path)
    assert str(path) in str(err.value) and why in str(err.value)
    assert "\n" not in str(err.value)
