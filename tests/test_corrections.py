"""Corrections of a metaphase's objects (cut, merge, cross, drop, restore, separate), headless."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_karyotype.cell import corrections as cc
from napari_karyotype.errors import KaryotypeError
from napari_karyotype.segmentation.objects import SpreadObject, pack_objects, paint, unpack_objects

SHAPE = (120, 160)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def obj(label, mask, kind="chromosome", score=0.4):
    o = cc._made(label, mask, kind)
    return SpreadObject(o.label, kind, o.box, o.mask, score)


def rect(box, shape=SHAPE):
    m = np.zeros(shape, bool)
    r0, c0, r1, c1 = box
    m[r0:r1, c0:c1] = True
    return m


def frozen(objects):
    return [(o.label, o.kind, o.box, o.mask.copy(), o.score) for o in objects]


def same(objects, before) -> bool:
    return len(objects) == len(before) and all(
        (o.label, o.kind, o.box, o.score) == b[:3] + (b[4],) and np.array_equal(o.mask, b[3])
        for o, b in zip(objects, before, strict=True)
    )


def test_a_line_across_a_chromosome_cuts_it_in_two_new_chromosomes_and_keeps_every_pixel():
    objects = [obj(1, rect((10, 20, 70, 26))), obj(2, rect((10, 60, 40, 66)))]
    before = frozen(objects)
    out = cc.cut(objects, [(40, 10), (40, 40)], SHAPE)
    assert same(objects, before)  # the input is never changed: undo keeps it
    labels = sorted(o.label for o in out)
    assert labels == [2, 3, 4]
    pieces = [o for o in out if o.label in (3, 4)]
    assert sum(o.area for o in pieces) == 60 * 6
    assert sorted(o.box for o in pieces)[0][0] == 10 and sorted(o.box for o in pieces)[1][2] == 70
    assert all(o.score == cc.USER_SCORE for o in pieces)
    with pytest.raises(KaryotypeError, match="does not cut"):
        cc.cut(objects, [(40, 10), (40, 22)], SHAPE, label=1)  # stops half-way
    with pytest.raises(KaryotypeError, match="crosses no chromosome"):
        cc.cut(objects, [(100, 100), (110, 150)], SHAPE)


def test_merging_two_pieces_gives_one_chromosome_with_both_pixels():
    objects = [obj(1, rect((10, 20, 40, 26))), obj(2, rect((42, 20, 70, 26))),
               obj(5, rect((80, 80, 84, 84)), kind="debris")]  # fmt: skip
    out = cc.merge(objects, [1, 2], SHAPE)
    assert [o.label for o in out] == [5, 6]
    assert out[1].area == 30 * 6 + 28 * 6 and out[1].box == (10, 20, 70, 26)
    assert cc.merge(objects, [1, 5], SHAPE)[-1].kind == "chromosome"  # a dropped piece joins
    with pytest.raises(KaryotypeError, match="two chromosomes or more"):
        cc.merge(objects, [1, 1], SHAPE)


def test_crossing_chromosomes_each_become_whole_and_share_the_crossing():
    upright, lying = rect((10, 40, 90, 46)), rect((47, 10, 53, 120))
    objects = [obj(1, upright), obj(2, lying & ~upright)]  # the crossing went to chromosome 1
    out = cc.cross(objects, 1, 2, SHAPE)
    a, b = out
    assert (a.label, b.label) == (3, 4)
    assert np.array_equal(b.full_mask(SHAPE), lying)  # whole again, the crossing included
    assert np.array_equal(a.full_mask(SHAPE), upright)  # its own, none of the other's arms
    painted = paint(out, SHAPE)
    assert painted.shared == {(3, 4): 36}
    far = [obj(1, upright), obj(2, rect((100, 100, 106, 150)))]
    with pytest.raises(KaryotypeError, match="do not cross"):
        cc.cross(far, 1, 2, SHAPE)


def test_a_chromosome_dropped_as_debris_is_left_out_and_can_be_taken_back():
    objects = [obj(1, rect((10, 20, 70, 26))), obj(2, rect((10, 60, 40, 66)))]
    dropped = cc.drop(objects, 2)
    assert [o.kind for o in dropped] == ["chromosome", "debris"]
    assert set(np.unique(paint(dropped, SHAPE).labels)) == {0, 1}
    back = cc.restore(dropped, 2)
    assert [o.kind for o in back] == ["chromosome", "chromosome"] and back[1].score == 1.0
    assert objects[1].kind == "chromosome" and dropped[1].kind == "debris"  # nothing in place
    with pytest.raises(KaryotypeError, match="not a nucleus or debris"):
        cc.restore(objects, 1)
    with pytest.raises(KaryotypeError, match="not in the cell"):
        cc.drop(objects, 9)


def test_objects_survive_packing_exactly(tmp_path):
    from napari_karyotype.cell.session import load_session, save_session

    objects = [obj(1, rect((10, 20, 70, 26))), obj(7, rect((3, 5, 4, 9)), kind="nucleus")]
    again = unpack_objects(pack_objects(objects))
    assert same(again, frozen(objects))
    save_session(tmp_path, paint(objects, SHAPE).labels, None, {"image": "x"}, objects=objects)
    assert same(load_session(tmp_path).objects, frozen(objects))
    save_session(tmp_path, paint(objects, SHAPE).labels, None, {"image": "x"})  # no objects
    assert same(load_session(tmp_path).objects, frozen(objects))  # the earlier ones are kept


def _rod_cell():
    """A light slide with ten dark rods of different lengths, as objects."""
    image = np.full(SHAPE, 0.92, np.float32)
    objects = []
    for k in range(10):
        r0, c0 = 8 + (k // 5) * 55, 8 + (k % 5) * 30
        m = rect((r0, c0, r0 + 20 + 3 * k, c0 + 7))
        image[m] = 0.3
        image[r0 + 5 : r0 + 7, c0 : c0 + 7] = 0.6  # a band
        objects.append(obj(k + 1, m, score=0.9))
    return image, objects


@pytest.fixture(scope="module")
def classifier():
    from napari_karyotype.classification.model import bundled_model_path, load_classifier

    if not bundled_model_path().is_file():
        pytest.skip("bundled classifier not present")
    return load_classifier()


def test_after_a_correction_only_the_touched_chromosomes_change_and_verified_ones_stay(classifier):
    image, objects = _rod_cell()
    cell = cc.classify(image, objects, classifier=classifier)
    assert len(cell.table) == 10 and cell.karyogram.ndim == 2
    cell = cc.relabel(cell, 3, "7")
    assert cell.table.set_index("label").loc[3, "assigned"] == "7"
    pieces = cc.cut(cell.objects, [(85, 120), (85, 140)], SHAPE, label=10)
    cut = cc.correct(cell, pieces, classifier)
    assert len(cut.table) == 11 and 10 not in set(cut.table["label"])
    new = cut.table.set_index("label")
    assert new.loc[3, "assigned"] == "7" and bool(new.loc[3, "verified"])
    assert cut.summary.scale == cell.summary.scale  # classified again at the cell's own scale
    assert cut.summary.count == 11 and cut.summary.iscn == ""
    dropped = cc.correct(cut, cc.drop(cut.objects, 1), classifier)
    assert dropped.summary.count == 10 and dropped.left_out_labels().max() == 1


def test_verified_chromosomes_are_no_longer_in_doubt():
    objects = [obj(k, rect((0, 2 * k, 10, 2 * k + 1)), score=0.1) for k in range(1, 47)]
    from napari_karyotype.cell.features import empty_features

    table = empty_features(46)
    table["label"] = list(range(1, 47))
    table["assigned"] = ["1"] * 46
    assert "46 chromosomes in doubt" in cc.summary_of(objects, table, 1.0).flags[0]
    table["verified"] = True
    assert "in doubt" not in " ".join(cc.summary_of(objects, table, 1.0).flags)


@pytest.mark.skipif(not (SHARED / "taichung").is_dir(), reason="shared Taichung data absent")
def test_the_segmenter_run_again_inside_a_shape_takes_a_merged_cluster_apart(classifier):
    from napari_karyotype.pipeline.analyze import analyze_image
    from napari_karyotype.segmentation.spread_model import bundled_segmenter

    if not bundled_segmenter().is_file():
        pytest.skip("metaphase segmenter not present")
    analysis = analyze_image(SHARED / "taichung/images/103064.jpg", page="metaphase",
                             classifier=classifier)  # fmt: skip
    cell = cc.from_analysis(analysis)
    shape = cell.labels.shape
    assert np.array_equal(cell.labels, analysis.labels)
    assert cell.summary.count == analysis.summary.count
    longest = max(cell.chromosomes, key=lambda o: o.area)
    (r0, c0, r1, c1), mid = longest.box, np.argwhere(longest.mask).mean(0) + longest.box[:2]
    _c, u, normal, _h, _e = cc._axis(longest.mask)
    line = [mid - 40 * normal, mid + 40 * normal]
    cut = cc.correct(cell, cc.cut(cell.objects, line, shape, label=longest.label), classifier)
    assert cut.summary.count > cell.summary.count  # a cluster cut across may fall into more
    old, new = cell.table.set_index("label"), cut.table.set_index("label")
    kept = [lab for lab in old.index if lab in new.index]
    same_class = np.mean([old.loc[lab, "chromosome"] == new.loc[lab, "chromosome"] for lab in kept])
    assert same_class >= 0.9  # the others read (nearly) as before: the cell's scale is kept
    chrom = sorted(cell.chromosomes, key=lambda o: -o.area)[5:]
    a = chrom[0]
    centre = np.argwhere(a.mask).mean(0) + a.box[:2]
    b = min(chrom[1:], key=lambda o: np.hypot(*(np.argwhere(o.mask).mean(0) + o.box[:2] - centre)))
    merged = cc.merge(cell.objects, [a.label, b.label], shape)
    cluster = merged[-1]
    region = np.zeros(shape, bool)
    r0, c0, r1, c1 = cluster.box
    region[max(r0 - 3, 0) : r1 + 3, max(c0 - 3, 0) : c1 + 3] = True
    again = cc.separate(merged, analysis.image, region)
    inside = [o for o in again if o.label > cluster.label]
    assert len(inside) >= 2  # the two taken apart again
    assert cluster.label not in {o.label for o in again}
    with pytest.raises(KaryotypeError):
        cc.separate(merged, analysis.image, np.zeros(shape, bool))


def test_verify_signs_the_chromosomes_as_they_are():
    objects = [obj(k, rect((0, 2 * k, 10, 2 * k + 1)), score=0.1) for k in range(1, 47)]
    from napari_karyotype.cell.features import empty_features

    table = empty_features(46)
    table["label"] = list(range(1, 47))
    table["assigned"] = ["1"] * 46
    image = np.full(SHAPE, 0.9, np.float32)
    cell = cc.settle(image, objects, table, 1.0)
    assert "in doubt" in cell.summary.flags[0]
    two = cc.verify(cell, [1, 2])
    assert two.table["verified"].sum() == 2 and not cell.table["verified"].any()  # a new cell
    signed = cc.verify(cell)
    assert signed.table["verified"].all()
    assert signed.table["assigned"].equals(cell.table["assigned"])  # the classes stay
    assert "in doubt" not in " ".join(signed.summary.flags)
    with pytest.raises(KaryotypeError, match="not a chromosome"):
        cc.verify(cell, [99])


@pytest.mark.skipif(not (SHARED / "taichung").is_dir(), reason="shared Taichung data absent")
def test_a_taichung_cell_is_reviewed_through_its_doubts_and_signed(classifier):
    """Held-out Taichung spread 1053831 (a 46,XX cell, a 5 crossing a 10 beside a bent 1): the
    one button finds all 46 chromosomes and classes nearly every one it boxes right, yet claims no
    karyotype, since some centres are in doubt. The summary names the chromosomes to look at;
    every one it classed wrong is among them, so the reviewer who looks at those (a handful, not
    46) sets the wrong ones right and signs the cell (verify): then the ISCN, summary and
    karyogram are those of the truth. (Before the segmenter's rescorer this spread needed four
    gestures: separate, cut, merge, verify.)"""
    from napari_karyotype.cell.assign import iscn_of
    from napari_karyotype.datasets.chromosomes import case_fraction
    from napari_karyotype.datasets.taichung import case_of_id, read_boxes
    from napari_karyotype.pipeline.analyze import analyze_image
    from napari_karyotype.segmentation.metrics import match_boxes
    from napari_karyotype.segmentation.spread_model import bundled_segmenter

    if not bundled_segmenter().is_file():
        pytest.skip("metaphase segmenter not present")
    assert case_fraction(case_of_id("1053831")) < 0.2  # a held-out case: never trained on
    truth = read_boxes(SHARED / "taichung/annotations/1053831.xml")
    want = iscn_of([c for c, *_ in truth])
    assert want == "46,XX"
    analysis = analyze_image(SHARED / "taichung/images/1053831.jpg", page="metaphase",
                             classifier=classifier)  # fmt: skip
    cell = cc.from_analysis(analysis)
    assert cell.summary.count == 46 and cell.summary.iscn == ""  # nothing claimed unchecked
    assert "in doubt" in cell.summary.flags[0]
    # the chromosomes to look at are named, the segmenter's doubts first
    doubt = [o.label for o in sorted(cell.chromosomes, key=lambda o: o.score) if o.score < 0.9]
    assert doubt and cell.summary.in_doubt[: len(doubt)] == doubt
    assert f"(label{'s' if len(doubt) > 1 else ''} {doubt[0]}" in cell.summary.flags[0]
    assert analysis.summary.in_doubt == cell.summary.in_doubt  # the CLI's summary.csv alike

    table = cell.table
    boxes = table[["bbox-0", "bbox-1", "bbox-2", "bbox-3"]].to_numpy(float)
    tb = np.array([(y0, x0, y1, x1) for _c, x0, y0, x1, y1 in truth], float)
    pairs = match_boxes(tb, boxes)
    # the boxes the segmenter drew round the 10 under the 5 and round a 16 run wide of the truth
    assert len(truth) == len(table) == 46 and len(pairs) >= 44
    wrong = {int(table["label"].iloc[p]): truth[t][0] for t, p in pairs
             if table["assigned"].iloc[p] != truth[t][0]}  # fmt: skip
    assert len(wrong) <= 2 and set(wrong) <= set(cell.summary.in_doubt)
    assert len(cell.summary.in_doubt) <= 8  # a handful to look at, not the cell
    for label, cls in wrong.items():  # the reviewer sets what is wrong
        cell = cc.relabel(cell, label, cls)
    cell = cc.verify(cell)  # and signs the cell
    assert cell.summary.in_doubt == []
    table = cell.table
    assert all(table["assigned"].iloc[p] == truth[t][0] for t, p in pairs)  # each class right
    assert cell.summary.count == 46 and cell.summary.iscn == want
    assert not cell.summary.missing and not cell.summary.extra
    assert not any("no karyotype" in f for f in cell.summary.flags)
    from napari_karyotype.cell.karyogram import arrange_karyogram

    chrom = list(cell.chromosomes)
    shown = arrange_karyogram(cell.image, cell.labels, table, objects=chrom)
    assert np.array_equal(cell.karyogram, shown)  # the karyogram is the corrected cell's
