"""Row proposal on composed karyograms (real crops, known rows)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.image.io import as_karyogram
from napari_karyotype.samples.compose import compose_karyogram
from napari_karyotype.segmentation.rows import propose_rows

pytestmark = pytest.mark.data

VARIANTS = [
    {},
    {"frame": True},
    {"gap": (0, 1), "light_on_dark": True},
    {"scale": 0.5, "frame": True},
    {"scale": 1.4},
]


@pytest.fixture(scope="module")
def some_cells(cells):
    ids = sorted(cells)
    return [cells[i] for i in ids[:: max(len(ids) // 3, 1)][:3]]


def _box(v):
    r0, c0 = np.floor(v.min(axis=0)).astype(int)
    r1, c1 = np.ceil(v.max(axis=0)).astype(int)
    return r0, r1, c0, c1


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(v) or "plain")
def test_rows_enclose_their_chromosomes_and_not_the_numbers(some_cells, variant):
    for cell in some_cells:
        k = compose_karyogram(cell, seed=2, **variant)
        image = as_karyogram(k.image).image
        rows = propose_rows(image)
        assert len(rows) == len(k.rows) == 4
        text = (image < 0.5) & (k.labels == 0)  # numbers and frame lines
        covered = np.zeros(k.labels.shape, bool)
        for (kind, v), (_, truth) in zip(rows, k.rows, strict=True):
            assert kind == "rectangle" and v.shape == (4, 2)
            r0, r1, c0, c1 = _box(v)
            t0, t1, u0, u1 = _box(truth)
            # Close to the true row box (which is the chromosomes' box plus 3 px).
            assert abs(r0 - t0) <= 4 and abs(r1 - t1) <= 4
            assert abs(c0 - u0) <= 4 and abs(c1 - u1) <= 4
            covered[r0 : r1 + 1, c0 : c1 + 1] = True
            # No printed ink inside the rectangle (frame underlines may sit in the margin).
            assert text[r0 : r1 + 1, c0 : c1 + 1].sum() <= 2 * (c1 - c0)
        # Every chromosome pixel lies in a proposed row.
        assert covered[k.labels > 0].all()


def test_numbers_never_inside_rows(some_cells):
    k = compose_karyogram(some_cells[0], frame=False, numbers=True)
    rows = propose_rows(as_karyogram(k.image).image)
    digits = (k.image < 128) & (k.labels == 0)
    for _, v in rows:
        r0, r1, c0, c1 = _box(v)
        assert not digits[r0 : r1 + 1, c0 : c1 + 1].any()


def test_blank_image_is_refused():
    with pytest.raises(KaryotypeError):
        propose_rows(np.ones((100, 100), np.float32))


def test_line_touching_chromosomes_does_not_join_rows(some_cells):
    """A ruled line (2 px) running through the whole height, touching chromosomes of every row."""
    k = compose_karyogram(some_cells[0])
    image = k.image.copy()
    first = np.flatnonzero((k.labels > 0).any(axis=0))[0]
    image[:, first : first + 2] = 30
    rows = propose_rows(as_karyogram(image).image)
    assert len(rows) == 4
    for (_, v), (_, truth) in zip(rows, k.rows, strict=True):
        r0, r1, _, _ = _box(v)
        t0, t1, _, _ = _box(truth)
        assert abs(r0 - t0) <= 4 and abs(r1 - t1) <= 4


def test_faint_pair_held_in_fragments_joins_its_row():
    """A pair in a dim frame at the row's start, its pale bands as light as the page (a
    low-resolution fluorescent page): the foreground holds it only in thin fragments, yet the
    row encloses it."""
    img = np.full((120, 420), 0.92, np.float32)
    faint = np.zeros(img.shape, bool)
    for c0 in (15, 24):
        faint[40:80, c0 : c0 + 5] = True
    img[faint] = 0.8
    img[faint & (np.arange(120)[:, None] % 2 == 1)] = 0.92  # banded down to the background
    rng = np.random.default_rng(0)
    c = 60
    for i in range(12):  # dark chromosomes, in pairs
        r0 = 30 + int(rng.integers(0, 8))
        img[r0 : r0 + int(rng.integers(25, 45)), c : c + 7] = 0.3
        c += 7 + (4 if i % 2 == 0 else 16)
    rows = propose_rows(img)
    assert len(rows) == 1
    r0, r1, c0, c1 = _box(rows[0][1])
    assert c0 <= 15 and r0 <= 40 and r1 >= 79


def test_row_broken_at_aligned_pale_centromeres_is_one_row():
    """A karyogram aligns the centromeres of a row on one line; where they are pale, the dark
    arms above and below that line started two rows, one over the other, on the same
    chromosomes (and a chromosome could be cut between the two)."""
    img = np.full((260, 420), 0.92, np.float32)
    c = 30
    for i in range(12):  # the first row: arms meeting at a pale centromere on line 70
        img[70 - 20 - 2 * i : 68, c : c + 9] = 0.3
        img[68:72, c : c + 9] = 0.82
        img[72 : 72 + 30 + 2 * i, c : c + 9] = 0.3
        c += 9 + (5 if i % 2 == 0 else 16)
    c = 30
    for i in range(12):  # a second row, ordinary
        img[170 : 170 + 40 - 2 * i, c : c + 9] = 0.3
        c += 9 + (5 if i % 2 == 0 else 16)
    rows = propose_rows(img)
    assert len(rows) == 2
    r0, r1, _, _ = _box(rows[0][1])
    assert r0 <= 28 and r1 >= 72 + 30 + 22
