"""Active-contour segmentation on composed karyograms of real chromosome crops."""

from __future__ import annotations

import numpy as np
import pytest

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.image.io import as_karyogram
from napari_karyotype.samples.compose import compose_karyogram
from napari_karyotype.segmentation.contours import SegmentationCancelled, segment
from napari_karyotype.segmentation.metrics import match_labels
from napari_karyotype.segmentation.rows import propose_rows

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def some_cells(cells):
    """A handful of cells spread over the dataset (different cases and scales)."""
    ids = sorted(cells)
    return [cells[i] for i in ids[1 :: max(len(ids) // 4, 1)][:4]]


def _run(cell, method="geodesic", seed=0, **variant):
    k = compose_karyogram(cell, seed=seed, **variant)
    image = as_karyogram(k.image).image
    labels = segment(image, propose_rows(image), method=method)
    assert labels.dtype == np.int32 and labels.shape == k.labels.shape
    return k, labels


@pytest.mark.parametrize(
    ("variant", "min_f1", "min_iou"),
    [
        ({}, 0.98, 0.90),
        ({"gap": (0, 1)}, 0.95, 0.85),  # homologs touching
        ({"frame": True, "light_on_dark": True}, 0.98, 0.90),  # framed, numbered, fluorescent
        ({"scale": 0.6, "gap": (2, 6)}, 0.98, 0.90),
    ],
    ids=["apart", "touching", "framed-fluorescent", "small"],
)
def test_quality_with_proposed_rows(some_cells, variant, min_f1, min_iou):
    scores = [match_labels(k.labels, lab) for k, lab in (_run(c, **variant) for c in some_cells)]
    f1, iou = np.array(scores).T
    assert f1.min() >= min_f1, scores
    assert iou.min() >= min_iou, scores


def test_chan_vese_quality(some_cells):
    k, labels = _run(some_cells[0], method="chan-vese", gap=(0, 1))
    f1, iou = match_labels(k.labels, labels)
    assert f1 >= 0.95 and iou >= 0.85


def test_long_and_bent_chromosomes_stay_whole(cells):
    """Each large chromosome alone in a rectangle is one label, however bent or banded."""
    checked = 0
    for cell in list(cells.values())[::12]:
        for chrom in cell:
            if chrom.cls not in ("1", "2", "3"):
                continue
            image = np.pad(chrom.image, 10, constant_values=255).astype(np.float32) / 255
            h, w = image.shape
            rect = [[2, 2], [2, w - 3], [h - 3, w - 3], [h - 3, 2]]
            labels = segment(image, [("rectangle", rect)])
            assert labels.max() == 1, chrom.file
            truth = np.pad(chrom.image < 245, 10)
            assert match_labels(truth.astype(int), labels)[1] > 0.9
            checked += 1
    assert checked >= 20


def test_resegment_one_shape_keeps_other_labels(some_cells):
    k = compose_karyogram(some_cells[0])
    image = as_karyogram(k.image).image
    rows = propose_rows(image)
    labels = segment(image, rows)
    # The user scribbles over row 2 and asks for it again.
    edited = labels.copy()
    _, v = rows[1]
    r0, c0 = v.min(axis=0).astype(int)
    r1, c1 = v.max(axis=0).astype(int)
    edited[r0 : r1 + 1, c0 : c1 + 1] = 0
    edited[r0 + 5 : r0 + 20, c0 + 5 : c0 + 50] = 999  # a stray paint stroke in the row
    again = segment(image, [rows[1]], labels=edited)
    inside = np.zeros(image.shape, bool)
    inside[r0 : r1 + 1, c0 : c1 + 1] = True
    np.testing.assert_array_equal(again[~inside], edited[~inside])  # untouched outside
    new_ids = set(np.unique(again[inside])) - {0}
    assert not new_ids & set(np.unique(edited[~inside]))  # fresh ids
    assert 999 not in new_ids and min(new_ids) > 999
    assert len(new_ids) == len(set(np.unique(labels[inside])) - {0})
    f1, iou = match_labels(k.labels * inside, again * inside)
    assert f1 >= 0.98 and iou >= 0.9


def test_progress_and_cancel(some_cells):
    k = compose_karyogram(some_cells[0])
    image = as_karyogram(k.image).image
    rows = propose_rows(image)
    calls = []
    segment(image, rows[:2], progress=lambda d, t, ls: calls.append((d, t, ls.shape, ls.dtype)))
    assert calls and all(s == image.shape and dt == np.dtype(bool) for _, _, s, dt in calls)
    assert [d for d, *_ in calls] == sorted(d for d, *_ in calls)
    assert all(d <= t for d, t, *_ in calls)

    existing = np.zeros(image.shape, np.int32)
    existing[:5, :5] = 7
    polls = []

    def stop():
        polls.append(1)
        return len(polls) > 3

    with pytest.raises(SegmentationCancelled):
        segment(image, rows, labels=existing, should_stop=stop)
    assert existing.max() == 7 and np.count_nonzero(existing) == 25  # untouched


def test_refine_keeps_quality(some_cells):
    k = compose_karyogram(some_cells[0])
    image = as_karyogram(k.image).image
    last = propose_rows(image)[-1:]  # the shortest row keeps the test quick
    labels = segment(image, last, refine=True)
    _, v = last[0]
    r0, c0 = v.min(axis=0).astype(int)
    r1, c1 = v.max(axis=0).astype(int)
    truth = k.labels[r0 : r1 + 1, c0 : c1 + 1]
    f1, iou = match_labels(truth, labels[r0 : r1 + 1, c0 : c1 + 1])
    assert f1 >= 0.95 and iou >= 0.85


def test_bad_requests(some_cells):
    image = np.ones((50, 50), np.float32)
    image[10:40, 20:30] = 0.2
    rect = [("rectangle", [[0, 0], [0, 49], [49, 49], [49, 0]])]
    assert segment(image, rect).max() == 1
    with pytest.raises(KaryotypeError, match="encloses no area"):
        segment(image, [("line", [[0, 0], [10, 10]])])
    with pytest.raises(KaryotypeError, match="no shapes"):
        segment(image, [])
    with pytest.raises(KaryotypeError, match="unknown method"):
        segment(image, rect, method="snakes")
    with pytest.raises(KaryotypeError, match="labels are"):
        segment(image, rect, labels=np.zeros((10, 10), np.int32))
    with pytest.raises(KaryotypeError, match="outside"):
        segment(image, [("rectangle", [[100, 100], [100, 120], [120, 120], [120, 100]])])


@pytest.mark.parametrize("touching", [False, True])
def test_synthetic_karyograms(touching):
    """Ideogram-drawn karyograms (blurred, noisy): same quality targets."""
    synthetic = pytest.importorskip("napari_karyotype.samples.synthetic")
    for seed in (0, 1):
        k = synthetic.synthetic_karyogram(seed=seed, touching=touching)
        image = as_karyogram(k.image).image
        f1, iou = match_labels(k.labels, segment(image, propose_rows(image)))
        assert f1 >= (0.95 if touching else 0.98) and iou >= (0.85 if touching else 0.90)


def test_blurred_noisy_shaded_touching(some_cells):
    """A rougher scan: optical blur, sensor noise, uneven lighting, homologs touching."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(0)
    for cell in some_cells[:2]:
        k = compose_karyogram(cell, gap=(0, 1))
        img = ndi.gaussian_filter(k.image.astype(float), 1.2) + rng.normal(0, 5, k.image.shape)
        img *= np.linspace(0.85, 1.0, img.shape[1])[None, :]  # light falls off to the left
        image = as_karyogram(np.clip(img, 0, 255).astype(np.uint8)).image
        f1, iou = match_labels(k.labels, segment(image, propose_rows(image)))
        assert f1 >= 0.95 and iou >= 0.85


def test_overlapping_shapes_do_not_duplicate(some_cells):
    k = compose_karyogram(some_cells[0])
    image = as_karyogram(k.image).image
    rows = propose_rows(image)
    _, v = rows[3]
    grown = v + np.array([[-60, -5], [-60, 5], [5, 5], [5, -5]])  # reaches well into row 3
    labels = segment(image, [rows[2], ("rectangle", grown)])
    truth = np.where(np.isin(k.labels, np.unique(k.labels * (labels > 0))), k.labels, 0)
    f1, iou = match_labels(truth, labels)
    assert f1 >= 0.98 and iou >= 0.9


def test_ruled_lines_touching_chromosomes(some_cells):
    """Lines drawn right through the karyogram (a vertical rule along the first chromosomes, a
    horizontal one under the second row's chromosomes, touching them all) do not merge them."""
    k = compose_karyogram(some_cells[0])
    image = k.image.copy()
    first = np.flatnonzero((k.labels > 0).any(axis=0))[0]
    image[:, first : first + 2] = 30
    bottom = int(k.rows[1][1][:, 0].max()) - 3  # the row's lowest chromosome pixels
    image[bottom : bottom + 2, :] = 30
    x = as_karyogram(image).image
    f1, iou = match_labels(k.labels, segment(x, propose_rows(x)))
    assert f1 >= 0.98 and iou >= 0.9


@pytest.mark.parametrize("scale", [0.6, 1.0, 1.5])
def test_numbers_inside_a_shape_are_not_chromosomes(some_cells, scale):
    """A user's row drawn generously, over the pair numbers and a frame underline."""
    k = compose_karyogram(some_cells[0], frame=True, scale=scale)
    image = as_karyogram(k.image).image
    _, v = k.rows[2]
    grown = v + np.array([[-5, -5], [-5, 5], [30, 5], [30, -5]]) * scale
    labels = segment(image, [("rectangle", grown)])
    in_row = np.unique(k.labels[labels > 0])
    truth = np.where(np.isin(k.labels, in_row[in_row > 0]), k.labels, 0)
    f1, iou = match_labels(truth, labels)
    assert labels.max() == 12 and f1 >= 0.98 and iou >= 0.9
