"""The Taichung VOC reader: masks from boxes, rejection of touching chromosomes, orientation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_karyotype.datasets import taichung
from napari_karyotype.datasets.chromosomes import (
    case_fraction,
    held_out,
    load_chromosomes,
    parse_holdout,
)
from napari_karyotype.errors import KaryotypeError


def _bar(img, r0, c0, length, width, horizontal=False, grey=60):
    """A banded rod: dark with lighter bands every 8 px."""
    r = np.arange(length)
    shade = np.where((r // 8) % 2 == 0, grey, grey + 50)
    if horizontal:
        img[r0 : r0 + width, c0 : c0 + length] = shade[None, :]
    else:
        img[r0 : r0 + length, c0 : c0 + width] = shade[:, None]


def _voc(path: Path, boxes) -> None:
    objects = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for n, x0, y0, x1, y1 in boxes
    )
    path.write_text(f"<annotation>{objects}</annotation>")


@pytest.fixture
def folder(tmp_path):
    """One metaphase: a vertical 1, a horizontal 2, a lone 21, and two 3s that touch."""
    img = np.full((300, 400), 230, np.uint8)
    _bar(img, 20, 30, 120, 14)  # vertical
    _bar(img, 200, 30, 100, 12, horizontal=True)  # horizontal
    _bar(img, 40, 150, 40, 12)  # small
    _bar(img, 150, 250, 90, 12)  # two touching rods
    _bar(img, 236, 262, 60, 12, horizontal=True)
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    Image.fromarray(img).convert("RGB").save(tmp_path / "images" / "1234561.jpg", quality=95)
    _voc(
        tmp_path / "annotations" / "1234561.xml",
        [
            ("A1", 30, 20, 43, 139),
            ("A2", 30, 200, 129, 211),
            ("G21", 150, 40, 161, 79),
            ("A3", 250, 150, 261, 239),
            ("A3", 262, 236, 321, 247),
        ],
    )
    return tmp_path


def test_every_box_becomes_an_upright_crop_touching_ones_too(folder):
    stats = taichung.Stats()
    chroms = taichung.read_taichung(folder, stats=stats)
    assert stats.boxes == 5 and not stats.rejected
    assert sorted(c.cls for c in chroms) == ["1", "2", "21", "3", "3"]
    for c in chroms:
        assert c.source == "taichung" and c.case == "123456" and c.image.shape == (220, 100)
        mask = c.image < 245
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert rows[-1] - rows[0] > 2 * (cols[-1] - cols[0])  # long axis vertical
        assert (c.image[~mask] == 255).all()  # white around it


def _length(crop) -> int:
    return int(np.flatnonzero((crop < 245).any(1)).size)


def test_crossing_and_reaching_neighbours_are_cut_to_each_box_own_pixels(tmp_path):
    """A long 1 crossed by a 2 (a +), and a 5 whose box a 4's arm crosses; an empty box is
    rejected and named."""
    from napari_karyotype.datasets.box_masks import own_masks

    img = np.full((300, 300), 230, np.uint8)
    _bar(img, 20, 100, 160, 12)  # 1: rows 20-180, cols 100-112
    _bar(img, 90, 40, 130, 12, horizontal=True)  # 2: rows 90-102, cols 40-170, crosses 1
    _bar(img, 200, 200, 80, 12)  # 5: rows 200-280, cols 200-212
    _bar(img, 230, 150, 70, 10, horizontal=True)  # 4's arm: rows 230-240, cols 150-220
    boxes = [("1", 100, 20, 112, 180), ("2", 40, 90, 170, 102), ("5", 196, 200, 216, 280),
             ("4", 150, 230, 220, 240), ("7", 10, 250, 40, 290)]  # fmt: skip
    grey = img.astype(np.float32) / 255
    masks = own_masks(grey < 0.6, np.array([b[1:] for b in boxes]))
    assert masks[0].any(1).sum() == 160  # the 1 spans its whole length through the crossing
    assert masks[1].any(0).sum() == 130  # so does the 2
    assert masks[2].any(1).sum() == 80  # the 5 whole,
    assert masks[2][:, :4].sum() + masks[2][:, 16:].sum() < 0.5 * 2 * 4 * 10  # the 4's arm not
    assert masks[3].any(0).sum() >= 60  # the 4's arm, but for (part of) the crossing
    assert not masks[4].any()
    stats = taichung.Stats()
    chroms = taichung.cell_chromosomes(img, boxes, "1000001", "x.jpg", stats)
    assert [c.cls for c in chroms] == ["1", "2", "5", "4"]
    assert stats.named == [("x.jpg#4", "no dark pixels of its own")]
    assert stats.info(4)["unused"] == [["x.jpg#4", "no dark pixels of its own"]]


def test_relative_sizes_are_kept_within_a_cell(folder):
    chroms = {c.cls: c for c in taichung.read_taichung(folder)}
    length = {k: np.flatnonzero((c.image < 245).any(1)).size for k, c in chroms.items()}
    assert length["1"] / length["21"] == pytest.approx(120 / 40, rel=0.1)


def test_load_chromosomes_reads_a_taichung_folder_through_the_cache(folder, tmp_path):
    cache = tmp_path / "cache"
    first = load_chromosomes([folder], cache_dir=cache)
    assert list(cache.glob("*.npz"))
    again = load_chromosomes([folder], cache_dir=cache)
    assert [(c.cell, c.cls) for c in again] == [(c.cell, c.cls) for c in first]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, again, strict=True))
    # crops stood upright from a spread (p-arm up or down) are known as such, cached or not
    assert all(c.from_spread for c in first + again)


def test_crops_from_spreads_are_seen_both_ways_up():
    """Evaluation and the metaphase path average a spread's crop over its two ends; a karyogram's
    crop (p-arm up) is seen as it is."""
    from dataclasses import replace

    from napari_karyotype.classification.upright import both_ends
    from napari_karyotype.datasets.record import Chromosome
    from napari_karyotype.training.evaluation import predict_cells

    def top_heavy(x):  # class 1 when most ink lies in the upper half, else class 2
        x = np.asarray(x, float).reshape(len(x), 220, 100)
        upper = (1 - x[:, :110]).sum((1, 2)) > (1 - x[:, 110:]).sum((1, 2))
        p = np.zeros((len(x), 24), np.float32)
        p[upper, 0], p[~upper, 1] = 1.0, 1.0
        return p

    canvas = np.full((220, 100), 255, np.uint8)
    canvas[20:60, 40:60], canvas[60:100, 40:60] = 20, 200  # its upper arm darker
    assert top_heavy(canvas[None] / 255.0)[0, 0] == 1.0
    assert both_ends(top_heavy)(canvas[None] / 255.0)[0, :2].tolist() == [0.5, 0.5]

    class Plain:
        per_cell = False
        predict_proba = staticmethod(top_heavy)

    karyogram = Chromosome("C1.001", "1", 0, "a.gif", canvas)
    spread = replace(karyogram, cell="1000001", source="taichung", from_spread=True)
    probs, _ = predict_cells([karyogram, spread], Plain())
    assert probs[0, :2].tolist() == [1.0, 0.0]
    assert probs[1, :2].tolist() == [0.5, 0.5]


def test_case_wise_holdout_is_stable_and_about_the_fraction():
    cases = [f"{i:06d}" for i in range(2000)]
    share = np.mean([case_fraction(c) < 0.2 for c in cases])
    assert 0.17 < share < 0.23
    assert case_fraction("103229") == case_fraction("103229")
    assert parse_holdout("taichung=0.2") == {"taichung": 0.2}
    with pytest.raises(KaryotypeError):
        parse_holdout("taichung=2")


def test_holdout_only_touches_its_source(folder):
    chroms = taichung.read_taichung(folder)
    everything = {"taichung": 0.999999}
    assert all(held_out(c, everything) for c in chroms)
    assert not any(held_out(c, {"hu2019": 0.999999}) for c in chroms)
