"""The synthetic karyogram: truth that matches the drawing, ideogram proportions, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_karyotype import CLASSES
from napari_karyotype.errors import KaryotypeError
from napari_karyotype.samples.ideogram import STAIN_DENSITY, load_ideograms
from napari_karyotype.samples.synthetic import synthetic_karyogram


@pytest.fixture(scope="module")
def karyo():
    return synthetic_karyogram(seed=0)


def _lengths(k) -> dict[str, float]:
    """Mean vertical extent (px) of each class's labels."""
    out: dict[str, list[int]] = {}
    for lab, sl in enumerate(ndi.find_objects(k.labels), start=1):
        if sl is not None:
            out.setdefault(k.classes[lab], []).append(sl[0].stop - sl[0].start)
    return {c: float(np.mean(v)) for c, v in out.items()}


def test_ideogram_table_is_complete_and_contiguous():
    ideos = load_ideograms()
    assert list(ideos) == list(CLASSES)
    for ideo in ideos.values():
        assert ideo.bands[0].start == 0
        assert all(a.end == b.start for a, b in zip(ideo.bands, ideo.bands[1:], strict=False))
        assert {b.stain for b in ideo.bands} <= set(STAIN_DENSITY)
        assert any(b.stain == "acen" for b in ideo.bands)
    assert ideos["1"].length == 248_956_422  # GRCh38
    assert 0.45 < ideos["1"].centromere_index < 0.52  # metacentric
    for acro in ("13", "14", "15", "21", "22"):
        assert ideos[acro].centromere_index < 0.3
    assert ideos["1"].length > ideos["2"].length > ideos["13"].length > ideos["21"].length


def test_46_xy_image_and_truth(karyo):
    assert karyo.image.dtype == np.uint8 and karyo.labels.dtype == np.int32
    h, w = karyo.image.shape
    assert 1200 <= w <= 1400 and 580 <= h <= 760
    assert karyo.labels.shape == karyo.image.shape
    assert np.median(karyo.image) >= 250  # white background
    ids = np.unique(karyo.labels)[1:]
    assert len(ids) == 46 and set(ids) == set(karyo.classes)
    counts = {c: list(karyo.classes.values()).count(c) for c in CLASSES}
    assert counts["X"] == 1 and counts["Y"] == 1
    assert all(counts[str(i)] == 2 for i in range(1, 23))
    assert len(karyo.rows) == 4
    assert all(t == "rectangle" and v.shape == (4, 2) for t, v in karyo.rows)


def test_every_label_is_one_separate_dark_object(karyo):
    image, labels = karyo.image, karyo.labels
    ink, _ = ndi.label(ndi.gaussian_filter(image.astype(float), 1) < 235, np.ones((3, 3)))
    for lab, sl in enumerate(ndi.find_objects(labels), start=1):
        mask = labels[sl] == lab
        assert ndi.label(mask, np.ones((3, 3)))[1] == 1, f"label {lab} is in pieces"
        assert image[sl][mask].mean() < 180, f"label {lab} is not dark"
        objects = np.unique(ink[sl][mask & (ink[sl] > 0)])
        assert len(objects) == 1, f"label {lab} spans {len(objects)} dark objects"
        others = np.unique(labels[ink == objects[0]])
        assert set(others) - {0} == {lab}, f"label {lab} shares its dark object"
    # Almost all chromosome ink is labelled (the rest is the printed pair numbers).
    dark = image < 150
    assert (labels > 0)[dark].mean() > 0.95


def test_lengths_follow_the_ideogram(karyo):
    lengths = _lengths(karyo)
    assert 165 <= lengths["1"] <= 210
    assert lengths["1"] > lengths["13"] > lengths["21"]
    assert lengths["1"] > 3 * lengths["21"] * 0.9
    ideos = load_ideograms()
    genome = np.array([ideos[c].length for c in CLASSES], float)
    drawn = np.array([lengths[c] for c in CLASSES])
    rank = np.corrcoef(np.argsort(np.argsort(genome)), np.argsort(np.argsort(drawn)))[0, 1]
    assert rank > 0.9


def test_rows_hold_the_standard_layout(karyo):
    layout = [
        ("1", "2", "3", "4", "5"),
        ("6", "7", "8", "9", "10", "11", "12", "X"),
        ("13", "14", "15", "16", "17", "18"),
        ("19", "20", "21", "22", "Y"),
    ]
    centroids = ndi.center_of_mass(karyo.labels > 0, karyo.labels, sorted(karyo.classes))
    for lab, (r, c) in zip(sorted(karyo.classes), centroids, strict=True):
        inside = [
            i
            for i, (_, v) in enumerate(karyo.rows)
            if v[:, 0].min() <= r <= v[:, 0].max() and v[:, 1].min() <= c <= v[:, 1].max()
        ]
        assert len(inside) == 1 and karyo.classes[lab] in layout[inside[0]]


def test_deterministic_per_seed(karyo):
    again = synthetic_karyogram(seed=0)
    assert np.array_equal(again.image, karyo.image)
    assert np.array_equal(again.labels, karyo.labels) and again.classes == karyo.classes
    other = synthetic_karyogram(seed=1)
    assert other.image.shape != karyo.image.shape or not np.array_equal(other.image, karyo.image)


def test_touching_homologs_share_a_dark_object():
    k = synthetic_karyogram(seed=2, touching=True)
    ink, _ = ndi.label(k.image < 245, np.ones((3, 3)))
    shared = 0
    for obj in np.unique(ink)[1:]:
        labs = set(np.unique(k.labels[ink == obj])) - {0}
        if len(labs) == 2:
            assert len({k.classes[i] for i in labs}) == 1  # only homologs touch
            shared += 1
    assert shared >= 15
    assert len(np.unique(k.labels)) - 1 == 46


def test_sex_and_scale():
    xx = synthetic_karyogram(seed=0, sex="XX", scale=0.5)
    cls = list(xx.classes.values())
    assert cls.count("X") == 2 and "Y" not in cls and len(cls) == 46
    assert 80 <= _lengths(xx)["1"] <= 105
    assert 600 <= xx.image.shape[1] <= 700


@pytest.mark.parametrize("kwargs", [{"sex": "YY"}, {"sex": "XZ"}, {"scale": 0}, {"gap": (5, 2)}])
def test_bad_arguments_are_one_line_errors(kwargs):
    with pytest.raises(KaryotypeError) as err:
        synthetic_karyogram(**kwargs)
    assert "\n" not in str(err.value)


def test_homologs_are_5_to_12_px_apart(karyo):
    by_class: dict[str, list[int]] = {}
    for lab, cls in karyo.classes.items():
        by_class.setdefault(cls, []).append(lab)
    for cls, labs in by_class.items():
        if len(labs) != 2:
            continue
        a, b = (karyo.labels == lab for lab in labs)
        # Horizontal clearance, row by row, where both homologs have pixels.
        cols = np.arange(a.shape[1])
        rows = a.any(axis=1) & b.any(axis=1)
        left_end = np.where(a, cols, -1).max(axis=1)[rows]
        right_start = np.where(b, cols, a.shape[1]).min(axis=1)[rows]
        clearance = (right_start - left_end - 1).min()
        assert 5 <= clearance <= 12, f"homologs of {cls} are {clearance} px apart"
