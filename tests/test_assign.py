"""Per-cell assignment: Hungarian on -log p with penalised extra / missing copies."""

from __future__ import annotations

import numpy as np
import pytest

from napari_karyotype import CLASSES
from napari_karyotype.cell.assign import assign_cell, iscn_of
from napari_karyotype.errors import KaryotypeError

IDX = {c: i for i, c in enumerate(CLASSES)}


def cell(classes, confidence=0.9, seed=0):
    """A probability matrix where each chromosome's true class gets ``confidence``."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, (len(classes), len(CLASSES)))
    for row, c in zip(p, classes, strict=True):
        row[IDX[c]] = 0.0
        row *= (1 - confidence) / row.sum()
        row[IDX[c]] = confidence
    return p


def normal(sex="XX"):
    return [c for c in CLASSES[:22] for _ in range(2)] + list(sex)


def test_normal_female_and_male():
    for sex in ("XX", "XY"):
        classes = normal(sex)
        a = assign_cell(cell(classes))
        assert a.classes == classes
        assert a.iscn == f"46,{sex}" and a.extra == [] and a.missing == []


def test_a_swapped_pair_is_fixed_jointly():
    classes = normal("XY")
    p = cell(classes)
    # chromosome 0 (a "1") looks a bit more like a 2, but both 2 slots are taken with certainty
    p[0] = 0.001
    p[0][IDX["2"]], p[0][IDX["1"]] = 0.55, 0.40
    p[0] /= p[0].sum()
    assert CLASSES[p[0].argmax()] == "2"
    a = assign_cell(p)
    assert a.classes[0] == "1" and a.iscn == "46,XY"


@pytest.mark.parametrize(
    ("classes", "iscn", "extra", "missing"),
    [
        (normal("XY") + ["21"], "47,XY,+21", ["21"], []),
        ([c for c in normal("XY") if c != "Y"], "45,X", [], ["X"]),
        (normal("XY") + ["X"], "47,XXY", None, []),  # +X on 46,XY or +Y on 46,XX: a tie
        (normal("XY") + ["Y"], "47,XYY", ["Y"], []),
    ],
)
def test_aneuploid_cells_are_reported(classes, iscn, extra, missing):
    a = assign_cell(cell(classes, 0.95))
    assert a.iscn == iscn
    assert a.extra == (extra if extra is not None else a.extra) and a.missing == missing
    assert len(a.extra) == len(classes) - 46 + len(missing)
    assert sorted(a.classes, key=IDX.get) == sorted(classes, key=IDX.get)


def test_monosomy():
    classes = normal("XY")
    classes.remove("7")
    a = assign_cell(cell(classes, 0.95))
    assert a.iscn == "45,XY,-7" and a.missing == ["7"] and a.extra == []


def test_penalty_decides_between_relabelling_and_an_extra_copy():
    classes = normal("XX")
    p = cell(classes, 0.97)
    # the first "5" looks like a third "4" (p = 0.9) and hardly like a 5 (p = 0.02)
    p[8] = 0.08 / 22
    p[8][IDX["4"]], p[8][IDX["5"]] = 0.9, 0.02
    assert assign_cell(p).iscn == "46,XX"  # default penalties: relabel it as the missing 5
    cheap = assign_cell(p, extra_penalty=0.5, missing_penalty=0.5)
    assert cheap.iscn == "46,XX,+4,-5" and cheap.extra == ["4"] and cheap.missing == ["5"]


def test_a_hesitant_47th_chromosome_beside_two_x_reads_as_a_gained_y():
    """47,XXY (about 1 in 600 male births) is the likelier reading than 47,XX,+13 where the CNN
    hesitates between a Y and a 13 for the chromosome beyond 46 (an unseen Hu et al. XXY cell)."""
    classes = normal("XY") + ["X"]
    p = cell(classes, 0.97)
    y = classes.index("Y")
    p[y] = 0.23 / 22
    p[y][IDX["13"]], p[y][IDX["Y"]] = 0.41, 0.36
    assert assign_cell(p).iscn == "47,XXY"
    assert assign_cell(p, sex_gain_bonus=0.0).iscn == "47,XX,+13"  # without the prior
    # a clear third 13 stays one
    p[y] = 0.05 / 22
    p[y][IDX["13"]], p[y][IDX["Y"]] = 0.9, 0.05
    assert assign_cell(p).iscn == "47,XX,+13"


def test_iscn_and_bad_input():
    assert iscn_of(normal("XX") + ["21", "21"]) == "48,XX,+21,+21"
    with pytest.raises(KaryotypeError):
        assign_cell(np.zeros((3, 5)))
    with pytest.raises(KaryotypeError):
        assign_cell(np.zeros((0, 24)))
    with pytest.raises(KaryotypeError):
        assign_cell(cell(normal()), sex="XZ")


@pytest.mark.data
def test_real_cells(cells):
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.training.evaluation import predict_cells

    clf = load_classifier()
    for cell_id, expected in [("161923.054", "46,XX"), ("173449.005", "47,XXY")]:
        chromosomes = cells[cell_id]
        a = assign_cell(predict_cells(chromosomes, clf)[0])
        truth = [c.cls for c in chromosomes]
        assert a.iscn == expected == iscn_of(truth)
        assert np.mean([x == t for x, t in zip(a.classes, truth, strict=True)]) >= 0.98


def test_the_report_puts_the_small_acrocentrics_and_y_apart():
    """A male cell with a 21 read as 22 and a 22 read as 21 (a swap: its karyotype stays
    right), and a 47,XY,+21 cell whose third 21 reads as a 22 (47,XY,+22: wrong). The report
    says so per group and per cell."""
    from napari_karyotype.training.evaluation import metrics

    truth = [c for c in CLASSES[:22] for _ in range(2)] + ["X", "Y"]
    labels = np.array([CLASSES.index(c) for c in truth] + [CLASSES.index(c) for c in truth]
                      + [CLASSES.index("21")])  # fmt: skip
    probs = np.full((93, 24), 0.01)
    probs[np.arange(93), labels] = 0.9
    a, b = truth.index("21"), truth.index("22")  # first 21 and first 22 of the first cell
    probs[[a, b]] = probs[[b, a]]
    probs[92] = probs[46 + b]  # the trisomic cell's third 21, read as a 22
    m = metrics(probs, labels, ["one"] * 46 + ["two"] * 47)
    acro = m["groups"]["small acrocentrics"]
    assert acro["n"] == 21 and acro["top1"] == pytest.approx(18 / 21)
    assert acro["top1_assigned"] == pytest.approx(18 / 21)
    assert m["groups"]["Y"] == {"n": 2, "top1": 1.0, "top1_assigned": 1.0}
    assert m["karyotypes"] == {"one": "46,XY", "two": "47,XY,+22"}
    assert m["karyotypes_right"] == 1
