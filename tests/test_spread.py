"""A metaphase spread read for the segmenter; its training targets; objects, painting, claims."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from napari_karyotype.cell.complete import completeness
from napari_karyotype.cell.features import empty_features, summarize, with_left_out
from napari_karyotype.errors import KaryotypeError
from napari_karyotype.segmentation.metrics import box_iou, match_boxes
from napari_karyotype.segmentation.objects import SpreadObject, paint
from napari_karyotype.segmentation.spread import (
    NET_RADIUS,
    chromosome_size,
    read_spread,
)
from napari_karyotype.training.spread_targets import chromosome_pixels, draw_centres


def rod(img, centre, length, width, angle_deg, grey=0.25):
    """A dark rod (a chromosome) at ``angle_deg`` off upright; returns its end-exclusive box."""
    from skimage.draw import polygon

    a = np.radians(angle_deg)
    along = np.array([np.cos(a), np.sin(a)]) * length / 2
    across = np.array([-np.sin(a), np.cos(a)]) * width / 2
    c = np.array(centre, float)
    corners = np.array([c - along - across, c - along + across, c + along + across,
                        c + along - across])  # fmt: skip
    rr, cc = polygon(corners[:, 0], corners[:, 1], img.shape)
    img[rr, cc] = grey
    return (int(rr.min()), int(cc.min()), int(rr.max()) + 1, int(cc.max()) + 1)


def spread_image(width=10, nucleus=True, elongation=None, magnification=1.0):
    """A light slide with eight rods at all angles and, optionally, a big round nucleus.

    ``elongation``: each rod's length in widths (default: 60 px and more, whatever the width);
    ``magnification``: the same slide photographed that much larger."""
    m = magnification
    img = np.full((int(300 * m), int(320 * m)), 0.92, np.float32)
    boxes = []
    for k, (r, c) in enumerate([(50, 50), (50, 150), (50, 250), (140, 60), (140, 160),
                                (230, 50), (230, 150), (140, 260)]):  # fmt: skip
        length = 60 + 5 * k if elongation is None else (elongation + 0.2 * k) * width
        boxes.append(rod(img, (r * m, c * m), length * m, width * m, 25 * k))
    if nucleus:
        yy, xx = np.mgrid[: img.shape[0], : img.shape[1]] / m
        img[(yy - 240) ** 2 + (xx - 260) ** 2 < 45**2] = 0.45
    return img, np.array(boxes, float)


def test_a_spread_is_brought_to_the_segmenters_chromosome_width_whatever_its_magnification():
    for m in (0.8, 1.4, 2.0):  # chromosomes as long for their width as the segmenter learned
        img, _ = spread_image(10, elongation=6.0, magnification=m)
        s = read_spread(img)
        assert s.radius == pytest.approx(5 * m, rel=0.25)
        assert s.radius * s.factor == pytest.approx(NET_RADIUS, rel=0.01)
        assert s.ink.shape == pytest.approx(np.array(img.shape) * s.factor, abs=1)
        assert s.ink.max() > 0.9 and np.median(s.ink) < 0.05  # ink 1, background 0


def test_condensed_chromosomes_are_enlarged_to_the_size_the_segmenter_learned():
    """Another laboratory's short metaphase chromosomes, as wide as Taichung's long ones, are
    brought to the area the segmenter learned, not left small beside their width."""
    long_, _ = spread_image(10, nucleus=False, elongation=6.0)  # as the segmenter learned
    short, _ = spread_image(10, nucleus=False, elongation=3.0)
    s_long, s_short = read_spread(long_), read_spread(short)
    assert s_long.radius * s_long.factor == pytest.approx(NET_RADIUS, rel=0.2)
    assert s_short.radius == pytest.approx(s_long.radius, rel=0.1)  # as wide
    assert s_short.factor > 1.15 * s_long.factor  # but brought larger


def test_a_white_frame_round_the_photograph_is_not_taken_for_the_slide():
    img, _ = spread_image(10)  # slide grey 0.92
    framed = np.ones((img.shape[0] + 120, img.shape[1] + 80), np.float32)
    framed[60:-60, 40:-40] = img
    framed[59, 40:-40] = framed[-60, 40:-40] = 0.3  # a drawn line round it
    framed[:, 0] = 0.5  # and one down the page's edge
    plain, boxed = read_spread(img), read_spread(framed)
    assert boxed.background == pytest.approx(plain.background, abs=0.01)
    assert boxed.factor == pytest.approx(plain.factor, rel=0.05)
    ink = read_spread(framed, factor=1.0).ink
    assert ink[59].max() == 0 and ink[:, 0].max() == 0  # the lines are no chromosome's ink
    assert ink[60:-60, 40:-40].max() > 0.9


def test_a_nucleus_does_not_set_the_chromosome_width():
    img, _ = spread_image(10, nucleus=True)
    ink = read_spread(img, factor=1.0).ink
    assert chromosome_size(ink)[0] == pytest.approx(5, rel=0.25)


def test_an_empty_slide_has_no_chromosome_width_and_keeps_a_usable_size():
    s = read_spread(np.full((400, 600), 0.9, np.float32))
    assert s.radius == 0.0 and max(s.ink.shape) <= 600


def test_training_targets_keep_the_boxed_chromosomes_and_leave_the_nucleus_out():
    img, boxes = spread_image(10)
    s = read_spread(img, factor=1.0)
    fg = chromosome_pixels(s.ink, boxes)
    dark = s.ink > 0.5
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    nucleus = (yy - 240) ** 2 + (xx - 260) ** 2 < 46**2
    assert not fg[nucleus].any()
    rods = dark & ~nucleus
    assert (fg & rods).sum() > 0.95 * rods.sum()


def test_centre_targets_peak_at_each_box_centre_with_its_log_size():
    boxes = np.array([[10, 20, 50, 40], [60, 60, 70, 100]], float)
    heat, size, where = draw_centres((100, 120), boxes)
    assert heat[30, 30] == 1.0 and heat[65, 80] == 1.0
    assert np.isclose(np.exp(size[30, 30]), [40, 20]).all()
    assert where.sum() == 18 and heat.max() == 1.0


def test_box_matching_is_one_to_one_at_half_overlap():
    truth = np.array([[0, 0, 10, 10], [0, 20, 10, 30]])
    pred = np.array([[1, 1, 10, 10], [0, 0, 9, 10], [50, 50, 60, 60]])
    assert box_iou(truth, pred).shape == (2, 3)
    assert match_boxes(truth, pred) == [(0, 1)]  # the better of two, once


def _obj(label, box, kind="chromosome", score=0.9):
    r0, c0, r1, c1 = box
    return SpreadObject(label, kind, box, np.ones((r1 - r0, c1 - c0), bool), score)


def test_crossing_chromosomes_each_stay_whole_and_their_shared_pixels_are_recorded():
    a = _obj(1, (10, 20, 60, 26))  # upright
    b = _obj(2, (30, 0, 36, 50))  # lying across it
    nucleus = _obj(3, (70, 70, 90, 90), kind="nucleus")
    painted = paint([a, b, nucleus], (100, 100))
    assert painted.shared == {(1, 2): 36}
    assert set(np.unique(painted.labels)) == {0, 1, 2}  # the nucleus gets no label
    assert (painted.labels == 1).sum() + (painted.labels == 2).sum() == 300 + 300 - 36
    assert a.full_mask((100, 100)).sum() == 300  # the object itself keeps every pixel


def test_a_karyotype_is_claimed_only_for_a_complete_cell():
    cell = [_obj(k, (0, 0, 20, 5)) for k in range(1, 47)]
    assert completeness(cell, 46) == []
    assert completeness(cell[:40], 40) == ["spread: 40 chromosomes: no karyotype"]
    cluster = [*cell[:45], _obj(46, (0, 0, 40, 20))]
    why = "spread: 1 cluster unresolved, 46 chromosomes: no karyotype"
    assert completeness(cluster, 46) == [why]
    doubt = [*cell[:45], _obj(46, (0, 0, 20, 5), score=0.2)]
    assert "1 chromosome in doubt" in completeness(doubt, 46)[0]
    with_debris = [*cell, _obj(47, (0, 0, 30, 30), kind="debris")]
    assert completeness(with_debris, 46) == []


def test_a_spread_read_as_a_karyotype_no_cell_has_is_not_claimed():
    """Two autosomes lost on a spread are the segmenter's misses, not the cell's; the
    karyotypes cells do have (45,X, 47,XXY, trisomy 21) are claimed; a user who verified every
    chromosome gets the claim whatever it reads."""
    cell = [_obj(k, (0, 0, 20, 5), score=0.95) for k in range(1, 48)]
    assert completeness(cell[:44], 44, "44,XY,-6,-9") == [
        "spread: 44,XY,-6,-9 unlikely (autosomes lost), 44 chromosomes: no karyotype"
    ]
    assert "an autosome lost" in completeness(cell[:45], 45, "45,XX,-7")[0]
    assert "gain of 8" in completeness(cell, 47, "47,XY,+8")[0]
    assert "gain of 13, 21" in completeness([*cell, _obj(48, (0, 0, 20, 5))], 48,
                                            "48,XX,+13,+21")[0]  # fmt: skip
    assert "sex chromosomes XXY" in completeness([*cell, _obj(48, (0, 0, 20, 5))], 48,
                                                 "48,XXY,+21")[0]  # fmt: skip
    for iscn in ("46,XY", "45,X", "47,XXY", "47,XY,+21", "47,XX,+18"):
        count = int(iscn.split(",")[0])
        assert completeness(cell[:count], count, iscn) == [], iscn
    verified = [replace(o, score=1.0) for o in cell[:44]]
    assert completeness(verified, 44, "44,XY,-6,-9") == []


def test_nuclei_and_debris_are_rows_of_the_table_that_are_never_counted():
    table = empty_features(2)
    table["label"] = [1, 2]
    table["assigned"] = ["1", "1"]
    left = [_obj(3, (5, 5, 40, 40), kind="nucleus"), _obj(4, (50, 50, 55, 58), kind="debris")]
    full = with_left_out(table, left)
    assert list(full["kind"]) == ["chromosome", "chromosome", "nucleus", "debris"]
    assert list(full.loc[2, ["bbox-0", "bbox-1", "bbox-2", "bbox-3"]]) == [5, 5, 40, 40]
    assert summarize(full).count == 2
    assert isinstance(full, pd.DataFrame) and full.loc[3, "assigned"] == ""


def test_two_crossing_chromosomes_are_each_kept_whole():
    from napari_karyotype.segmentation.spread_model import crossing

    img = np.zeros((120, 120), np.float32)
    rod(img, (60, 60), 90, 10, 0, grey=1.0)
    rod(img, (60, 60), 80, 10, 70, grey=1.0)
    mask = img > 0.5
    a, b = crossing(mask, 5.0)
    assert (a | b).sum() == mask.sum()  # together the whole X
    assert (a & b).sum() > 50  # the crossing's pixels held by both
    for one in (a, b):  # each a straight rod: long and thin
        rr, cc = np.nonzero(one)
        evals = np.linalg.eigvalsh(np.cov(np.vstack([rr, cc]).astype(float)))
        assert evals[1] > 15 * evals[0]
    straight = np.zeros((120, 120), bool)
    rod(straight.view(np.uint8), (60, 60), 90, 10, 30, grey=1)
    assert crossing(straight, 5.0) is None  # one chromosome is no crossing


def test_the_segmenter_trains_from_a_voc_folder_and_its_file_segments_a_spread(tmp_path):
    """A seconds-long smoke training through the CLI: the file it writes loads and runs."""
    from PIL import Image

    from napari_karyotype.cli import main
    from napari_karyotype.datasets.chromosomes import case_fraction
    from napari_karyotype.segmentation import spread_model
    from napari_karyotype.segmentation.spread import read_spread

    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    ids = [f"{1000 + k}1" for k in range(40)]
    ids = [i for i in ids if case_fraction(i[:-1]) < 0.5][:2] + [
        i for i in ids if case_fraction(i[:-1]) >= 0.5
    ][:2]
    for i in ids:
        img, boxes = spread_image(10)
        Image.fromarray((img * 255).astype(np.uint8)).save(tmp_path / "images" / f"{i}.jpg")
        objects = "".join(
            f"<object><name>A1</name><bndbox><xmin>{c0}</xmin><ymin>{r0}</ymin>"
            f"<xmax>{c1 - 1}</xmax><ymax>{r1 - 1}</ymax></bndbox></object>"
            for r0, c0, r1, c1 in boxes.astype(int)
        )
        (tmp_path / "annotations" / f"{i}.xml").write_text(f"<annotation>{objects}</annotation>")
    out = tmp_path / "seg.keras"
    code = main(
        [
            "train-segmenter",
            str(tmp_path),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--holdout",
            "0",
            "--val-holdout",
            "0.5",
            "--cache",
            str(tmp_path / "c.npz"),
        ]
    )
    assert code == 0 and out.is_file()
    # the network alone is kept: no optimizer state in the file
    import json
    import zipfile

    with zipfile.ZipFile(out) as kept:
        assert not json.loads(kept.read("config.json")).get("compile_config")
    seg = spread_model.load_segmenter(out)
    img, _ = spread_image(10)
    objects = spread_model.find_objects(read_spread(img), seg, img)
    assert all(o.kind in ("chromosome", "nucleus", "debris") for o in objects)
    assert all(o.mask.shape == (o.box[2] - o.box[0], o.box[3] - o.box[1]) for o in objects)


def test_rescorer_learns_which_candidates_are_chromosomes(tmp_path):
    """Fitted on candidates whose right ones stand high and uncovered, the rescorer ranks
    such candidates over low, covered ones, keeps a threshold, and survives a save and load;
    a candidate is right only where its box matches a true box one to one."""
    from napari_karyotype.segmentation.spread_candidates import (
        FEATURES,
        Candidate,
        Rescorer,
        rescorer_path,
    )
    from napari_karyotype.training.spread_rescore import fit, label

    rng = np.random.default_rng(0)
    n = 400
    y = rng.random(n) < 0.6
    x = rng.normal(0, 1, (n, len(FEATURES)))
    x[:, 0] += np.where(y, 1.5, -1.5)  # right ones: higher peaks
    x[:, 2] += np.where(y, -1.0, 1.0)  # wrong ones: covered by a stronger box
    rescorer = fit(x, y)
    chance = rescorer.chance(x)
    assert chance[y].mean() > 0.8 > 0.2 > chance[~y].mean()
    assert 0.2 <= rescorer.keep <= 0.9
    path = rescorer.save(rescorer_path(tmp_path / "seg.keras"))
    assert path.name == "seg.rescore.json"
    again = Rescorer.load(path)
    assert np.allclose(again.chance(x), chance) and again.keep == rescorer.keep
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(KaryotypeError, match="bad.json: not a candidate rescorer"):
        Rescorer.load(tmp_path / "bad.json")

    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 40]], float)
    found = [
        Candidate(0.9, (5, 5), (0, 0, 10, 10)),
        Candidate(0.5, (5, 5), (1, 0, 10, 10)),  # the same chromosome again: one to one
        Candidate(0.4, (25, 30), (20, 20, 30, 40)),
        Candidate(0.3, (50, 50), (45, 45, 55, 55)),
    ]
    assert label(found, truth).tolist() == [True, False, True, False]


def test_a_segmenter_reads_the_spread_in_four_views_with_height_kept_apart_from_width(tmp_path):
    """Averaged over the spread as it lies, mirrored and turned over its diagonal, the maps of a
    network that sees every view alike are its maps of the spread as it lies: each view is
    turned back, and the diagonal's height is the spread's width. A rescorer keeps the views it
    was fitted on (an older file without them: one), and its segmenter reads as many."""
    from scipy import ndimage as ndi

    from napari_karyotype.segmentation.spread_candidates import Rescorer
    from napari_karyotype.segmentation.spread_model import VIEWS, Segmenter

    def net(x, training=False):
        """Chromosome and centre: the ink; log height / width: how much the ink changes down
        the rows / across the columns (a symmetric network's answer in every view)."""
        ink = x[0, ..., 0]
        down = np.abs(ndi.sobel(ink, axis=0))
        across = np.abs(ndi.sobel(ink, axis=1))
        return np.stack([ink, ink, down, across], axis=-1)[None]

    img, _ = spread_image(10, nucleus=False)
    ink = read_spread(img).ink
    one = Segmenter(net, tmp_path / "seg.keras", views=1).maps(ink)
    four = Segmenter(net, tmp_path / "seg.keras", views=4).maps(ink)
    assert VIEWS == 4
    for a, b in zip(one, four, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(one[2][..., 0], one[2][..., 1])  # height and width differ here

    rescorer = Rescorer(np.zeros(13), np.zeros(12), np.ones(12), keep=0.5, views=4)
    path = rescorer.save(tmp_path / "r.json")
    assert Rescorer.load(path).views == 4
    assert Segmenter(net, tmp_path / "seg.keras", Rescorer.load(path)).views == 4
    import json

    old = json.loads(path.read_text())
    del old["views"]
    path.write_text(json.dumps(old))
    assert Segmenter(net, tmp_path / "seg.keras", Rescorer.load(path)).views == 1
