"""``analyze --format csv,voc,coco``: VOC per image, one COCO file per run, read back by
pycocotools, the VOC reader and ``evaluate``'s data reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_karyotype.cli import main


def _real_images() -> list[Path]:
    from napari_karyotype.datasets.chromosomes import shared_data_dir

    base = shared_data_dir()
    folder = None if base is None else base.parent / "real-karyograms"
    names = ("karyo_lntk_karyotype8_46XX_lowres_numbered.bmp",
             "metaphase_heihuifei_18-Y2906.050.O_raw.png")  # fmt: skip
    if folder is None or not all((folder / n).is_file() for n in names):
        pytest.skip("shared real karyograms (../shared/data/real-karyograms) not found")
    return [folder / n for n in names]


@pytest.fixture(scope="module")
def written(model, tmp_path_factory):
    """``analyze --format voc,coco`` on a real karyogram and a real metaphase."""
    images = _real_images()
    out = tmp_path_factory.mktemp("formats")
    code = main(["analyze", *map(str, images), "--out", str(out), "--model", model,
                 "--format", "voc,coco", "--workers", "1"])  # fmt: skip
    assert code == 0
    return images, out


@pytest.mark.data
def test_voc_files_have_one_object_per_label_with_its_class(written):
    import tifffile

    from napari_karyotype.datasets import voc

    images, out = written
    for image in images:
        labels = tifffile.imread(out / f"{image.stem}_labels.tif")
        table = pd.read_csv(out / f"{image.stem}.csv", dtype={"assigned": str})
        read = voc.read_voc(out / f"{image.stem}.xml")
        found = voc.image_of(out / f"{image.stem}.xml", read.filename, read.path)
        assert found.resolve() == image.resolve()
        table = table[table["kind"] == "chromosome"]  # nuclei and debris: rows, no object
        assert read.shape == labels.shape and len(read.items) == len(table)
        assert [a.cls for a in read.items] == list(table["assigned"])
        boxes = table[["bbox-0", "bbox-1", "bbox-2", "bbox-3"]].to_numpy()
        for item, label, box in zip(read.items, table["label"], boxes, strict=True):
            rows, cols = np.nonzero(labels == label)  # the label's pixels lie in its whole box
            assert item.box == tuple(box)
            assert box[0] <= rows.min() and box[1] <= cols.min()
            assert rows.max() < box[2] and cols.max() < box[3]


@pytest.mark.data
def test_coco_file_loads_in_pycocotools_and_decodes_to_the_labels(written):
    import tifffile

    pycoco = pytest.importorskip("pycocotools.coco")
    images, out = written
    assert not list(out.glob("*_coco.json.tmp*"))
    api = pycoco.COCO(str(out / "annotations.json"))
    assert len(api.getImgIds()) == 2
    for image_id, image in zip(sorted(api.getImgIds()), images, strict=True):
        labels = tifffile.imread(out / f"{image.stem}_labels.tif")
        anns = api.loadAnns(api.getAnnIds(imgIds=[image_id]))
        assert len(anns) == len(np.unique(labels[labels > 0]))
        for ann in anns:
            label = ann["attributes"]["label"]
            assert np.array_equal(api.annToMask(ann).astype(bool), labels == label)
            assert 0.0 <= ann["score"] <= 1.0


@pytest.mark.data
def test_evaluate_reads_what_analyze_wrote(written):
    from napari_karyotype.datasets.chromosomes import load_chromosomes

    _, out = written
    report: dict = {}
    chroms = load_chromosomes([f"ours={out / 'annotations.json'}"], report=report)
    (info,) = report.values()
    assert info["used"] == len(chroms) and info["used"] >= 0.95 * info["boxes"]
    assert {c.source for c in chroms} == {"ours"}
    assert all(c.image.shape == (220, 100) for c in chroms)


def test_unknown_format_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"")
    code = main(["analyze", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
                 "--format", "csv,yolo"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "--format: unknown format(s) yolo" in err and len(err.splitlines()) == 1
