"""Composed karyograms: layout, truth and options, from real dataset crops."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.samples.compose import (
    ROW_LAYOUT,
    chromosome_crop,
    compose_karyogram,
    text_bitmap,
)

pytestmark = pytest.mark.data


def _touching_pairs(labels):
    """Pairs of label ids whose pixels are 8-neighbours."""
    pairs = set()
    grown = ndi.grey_dilation(labels, size=(3, 3))
    edge = (labels > 0) & (grown != labels)
    for a, b in zip(labels[edge], grown[edge], strict=True):
        if b > 0 and a != b:
            pairs.add((min(a, b), max(a, b)))
    return pairs


@pytest.fixture(scope="module")
def cell(cells):
    return next(c for c in cells.values() if len(c) == 46)


def test_normal_cell_layout(cell):
    k = compose_karyogram(cell)
    assert k.image.dtype == np.uint8 and k.labels.dtype == np.int32
    assert k.image.shape == k.labels.shape
    h, w = k.image.shape
    assert 550 <= h <= 800 and 1000 <= w <= 1600  # about 1300 x 650
    assert len(k.classes) == 46 and set(np.unique(k.labels)) == set(range(47))
    assert sorted(k.classes.values()) == sorted(c.cls for c in cell)
    assert len(k.rows) == 4
    # Each row rectangle holds exactly its classes, rows run top to bottom.
    tops = []
    for (kind, v), classes in zip(k.rows, ROW_LAYOUT, strict=True):
        assert kind == "rectangle" and v.shape == (4, 2)
        r0, c0 = v.min(axis=0).astype(int)
        r1, c1 = v.max(axis=0).astype(int)
        inside = set(np.unique(k.labels[r0 : r1 + 1, c0 : c1 + 1])) - {0}
        assert {k.classes[i] for i in inside} <= set(classes)
        tops.append(r0)
    assert tops == sorted(tops)
    # The background is white; the image is dark exactly where there is a chromosome or text.
    assert (k.image[k.labels > 0] < 245).all()


def test_truth_masks_are_the_crops(cell):
    k = compose_karyogram(cell, numbers=False)
    areas = np.bincount(k.labels.ravel())[1:]
    crops = sorted(chromosome_crop(c.image)[1].sum() for c in cell)
    assert sorted(areas.tolist()) == crops
    # Without numbers or frame every dark pixel belongs to a chromosome.
    assert ((k.image < 245) <= (k.labels > 0)).all()


def test_gap_range_and_touching_homologs(cell):
    apart = compose_karyogram(cell, gap=(5, 12))
    touching = compose_karyogram(cell, gap=(0, 1), seed=1)
    # With 5-12 px between homologs no two chromosomes touch; with 0-1 px many pairs do.
    assert len(_touching_pairs(apart.labels)) == 0
    pairs = _touching_pairs(touching.labels)
    assert len(pairs) >= 8
    assert all(touching.classes[a] == touching.classes[b] for a, b in pairs)
    assert touching.image.shape[1] < apart.image.shape[1]


def test_numbers_frame_and_light_on_dark(cell):
    plain = compose_karyogram(cell, numbers=False)
    numbered = compose_karyogram(cell, numbers=True)
    framed = compose_karyogram(cell, numbers=True, frame=True)
    dark = compose_karyogram(cell, frame=True, light_on_dark=True)
    ink = lambda k: np.count_nonzero((k.image < 128) & (k.labels == 0))  # noqa: E731
    assert ink(plain) == 0 < ink(numbered) < ink(framed)
    # A frame line runs along the top of the image.
    assert (framed.image[:30] < 128).sum(axis=1).max() > 0.9 * framed.image.shape[1]
    np.testing.assert_array_equal(dark.image, 255 - framed.image)
    np.testing.assert_array_equal(dark.labels, framed.labels)


def test_scale_resamples_everything(cell):
    full = compose_karyogram(cell)
    half = compose_karyogram(cell, scale=0.5)
    assert abs(half.image.shape[0] - full.image.shape[0] / 2) <= 1
    assert set(np.unique(half.labels)) == set(np.unique(full.labels))
    ratio = np.count_nonzero(half.labels) / np.count_nonzero(full.labels)
    assert 0.2 < ratio < 0.3
    assert np.allclose(half.rows[0][1], (full.rows[0][1] + 0.5) * 0.5 - 0.5, atol=1)


def test_seed_is_reproducible(cell):
    a = compose_karyogram(cell, gap=(0, 12), seed=4)
    b = compose_karyogram(cell, gap=(0, 12), seed=4)
    c = compose_karyogram(cell, gap=(0, 12), seed=5)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.image.shape != c.image.shape or (a.image != c.image).any()


def test_bitmap_text_and_bad_arguments(cell):
    assert text_bitmap("12", size=2).shape == (14, 22)
    assert text_bitmap("X").sum() > 0
    with pytest.raises(KaryotypeError):
        text_bitmap("Q")
    with pytest.raises(KaryotypeError):
        compose_karyogram([])
    with pytest.raises(KaryotypeError):
        compose_karyogram(cell, gap=(5, 2))
    with pytest.raises(KaryotypeError):
        compose_karyogram(cell, scale=0)


def test_abnormal_counts_keep_every_chromosome(cells):
    """Cells with 44 or 47 chromosomes (lost files, an extra X): every crop is laid out once."""
    odd = [c for c in cells.values() if len(c) != 46]
    assert odd
    for cell in odd:
        k = compose_karyogram(cell)
        assert len(k.classes) == len(cell)
        assert sorted(k.classes.values()) == sorted(c.cls for c in cell)
        assert len(_touching_pairs(k.labels)) == 0
