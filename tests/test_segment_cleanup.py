"""Label clean-up on drawn karyogram rows: chromatids stay one chromosome, homologs stay two,
broken chromosomes join, frame lines and thin strokes are no chromosomes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.draw import ellipse, polygon, rectangle

from napari_karyotype.segmentation.contours import segment

BACKGROUND, DARK, BAND = 0.92, 0.30, 0.50
WIDTH = 16


def _bar(img, truth, label, r0, c0, length, width, value=DARK):
    """A chromosome-like bar with rounded ends and pale bands across it."""
    m = np.zeros(img.shape, bool)
    rr, cc = rectangle((r0 + width // 2, c0), extent=(length - width, width), shape=img.shape)
    m[rr, cc] = True
    for rc in (r0 + width // 2, r0 + length - width // 2):
        rr, cc = ellipse(rc, c0 + (width - 1) / 2, width / 2, width / 2, shape=img.shape)
        m[rr, cc] = True
    img[m] = value
    bands = np.zeros(img.shape, bool)
    for r in range(r0 + 12, r0 + length - 8, 14):
        bands[r : r + 4] = True
    img[m & bands] = BAND
    truth[m] = label
    return m


def _row(n=10, seed=0):
    """A karyogram row of ``n`` separate chromosomes; returns image, truth and the next column."""
    rng = np.random.default_rng(seed)
    img = np.full((200, 60 + 36 * (n + 6)), BACKGROUND, np.float32)
    truth = np.zeros(img.shape, np.int32)
    c = 30
    for i in range(n):
        _bar(img, truth, i + 1, 40 + int(rng.integers(0, 20)), c, int(rng.integers(70, 120)), WIDTH)
        c += 36
    return img, truth, c


def _segment(img):
    img = ndi.gaussian_filter(img, 1.0)
    h, w = img.shape
    return segment(img, [("rectangle", np.array([[5, 5], [5, w - 6], [h - 6, w - 6], [h - 6, 5]]))])


def _labels_on(labels, mask):
    """The labels covering a mask, each with most of its own pixels there."""
    ids = []
    for i in np.unique(labels[mask]):
        if i and np.count_nonzero(labels[mask] == i) > 0.5 * np.count_nonzero(labels == i):
            ids.append(int(i))
    return ids


@pytest.mark.parametrize("line", [(0.1, "pale line"), (0.0, "parted down to background")])
def test_sister_chromatids_stay_one_chromosome(line):
    img, truth, c = _row()
    depth, _ = line
    # One chromosome at high resolution: two chromatids with a pale line between them.
    left = _bar(img, truth, 20, 50, c, 110, WIDTH // 2)
    right = _bar(img, truth, 20, 50, c + WIDTH // 2 + 3, 110, WIDTH // 2)
    img[50:160, c + WIDTH // 2 : c + WIDTH // 2 + 3] = BACKGROUND - depth * (BACKGROUND - DARK)
    img[~(left | right) & (truth == 20)] = BACKGROUND
    labels = _segment(img)
    assert len(_labels_on(labels, left | right)) == 1
    assert labels.max() == 11


def test_touching_homologs_stay_two():
    img, truth, c = _row()
    a = _bar(img, truth, 20, 50, c, 100, WIDTH)
    b = _bar(img, truth, 21, 55, c + WIDTH + 2, 100, WIDTH)
    img[55:150, c + WIDTH : c + WIDTH + 2] = 0.88  # a narrow light gap between them
    labels = _segment(img)
    assert len(_labels_on(labels, a)) == 1 and len(_labels_on(labels, b)) == 1
    assert _labels_on(labels, a) != _labels_on(labels, b)
    assert labels.max() == 12


def test_touching_homologs_with_a_shallow_valley_stay_two():
    """At low resolution the gap between homologs touching along their length blurs to a valley
    far darker than the page's valley threshold (a third of their contrast, framed pages): the
    pair, twice as wide as the row's chromosomes, was one label."""
    img, truth, c = _row()
    a = _bar(img, truth, 20, 50, c, 100, WIDTH)
    b = _bar(img, truth, 21, 55, c + WIDTH, 100, WIDTH)
    img[55:150, c + WIDTH - 1 : c + WIDTH + 1] = 0.62  # blurred: a third of the contrast
    labels = _segment(img)
    assert len(_labels_on(labels, a)) == 1 and len(_labels_on(labels, b)) == 1
    assert _labels_on(labels, a) != _labels_on(labels, b)
    assert labels.max() == 12


def test_homologs_cut_apart_take_no_chromosome_below_them():
    """Homologs cut apart along their length are whole: a chromosome lying end to end below one
    of them (a metaphase spread) is not joined to it as a piece broken off (seen as chains of
    four chromosomes in one label)."""
    img, truth, c = _row()
    a = _bar(img, truth, 20, 30, c, 90, WIDTH)
    b = _bar(img, truth, 21, 32, c + WIDTH, 90, WIDTH)
    img[32:120, c + WIDTH - 1 : c + WIDTH + 1] = 0.62  # blurred: a third of the contrast
    below = _bar(img, truth, 22, 126, c + 2, 50, WIDTH)
    labels = _segment(img)
    ids = [_labels_on(labels, m) for m in (a, b, below)]
    assert all(len(i) == 1 for i in ids) and len({i[0] for i in ids}) == 3
    assert labels.max() == 13


def test_chromosome_bent_into_a_u_stays_one():
    """A chromosome bent into a U is as wide as two and a pale band at its bend parts its arms
    like homologs side by side; but its arms lie apart above the bend (framed pages)."""
    img, truth, c = _row()
    _bar(img, truth, 20, 50, c, 90, WIDTH)
    _bar(img, truth, 20, 50, c + 2 * WIDTH, 90, WIDTH)
    bend = (slice(118, 140), slice(c + WIDTH // 2, c + 5 * WIDTH // 2))
    img[bend], truth[bend] = DARK, 20
    img[118:140, c + WIDTH + 6 : c + WIDTH + 10] = 0.62  # a pale band at the bend
    labels = _segment(img)
    assert len(_labels_on(labels, truth == 20)) == 1
    assert labels.max() == 11


@pytest.mark.parametrize(
    ("top", "height", "pale"),
    [(40, 120, (95, 99)), (30, 140, (90, 104)), (30, 150, (90, 116))],
    ids=["pale band", "faint centromere, most of a width", "unlit band, over 1.5 widths"],
)
def test_chromosome_broken_across_is_one_label(top, height, pale):
    """A band or a centromere as pale as the page cuts one chromosome across (the two parts one
    above the other along its axis): one label; the homologs beside it stay apart."""
    img, truth, c = _row()
    m = _bar(img, truth, 20, top, c, height, WIDTH)
    img[pale[0] : pale[1], c : c + WIDTH] = BACKGROUND
    labels = _segment(img)
    assert len(_labels_on(labels, m)) == 1
    assert labels.max() == 11


def _stroke(img, truth, label, p0, p1, width=WIDTH):
    """A straight piece of chromosome from ``p0`` to ``p1`` (row, column)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / np.hypot(*d) * width / 2
    pts = np.array([p0 + n, p1 + n, p1 - n, p0 - n])
    rr, cc = polygon(pts[:, 0], pts[:, 1], img.shape)
    img[rr, cc], truth[rr, cc] = DARK, label


@pytest.mark.parametrize(
    ("angle", "gap"),
    [(27, 1.2), (15, 2.2)],
    ids=["bent at the centromere", "unlit heterochromatin over two widths"],
)
def test_chromosome_in_two_slanted_pieces_is_one_label(angle, gap):
    """Chromosome 1 on a fluorescent framed page: its heterochromatin stays unlit over two
    widths and it bends there, each piece slanting off the line between them: two labels."""
    img, truth, c = _row()
    a = np.radians(angle)
    p0 = np.array([40.0, c + 8.0])
    p1 = p0 + 50 * np.array([np.cos(a), np.sin(a)])
    p2 = p1 + np.array([(gap + np.sin(a)) * WIDTH, 0.0])  # a gap of ``gap`` widths
    _stroke(img, truth, 20, p0, p1)
    _stroke(img, truth, 20, p2, p2 + 50 * np.array([np.cos(a), -np.sin(a)]))
    labels = _segment(img)
    assert len(_labels_on(labels, truth == 20)) == 1
    assert labels.max() == 11


def test_touching_homologs_bridged_by_a_dark_speck_stay_two():
    """The light gap between two homologs is dark in one spot (a speck, a crossing fibre)."""
    img, truth, c = _row()
    a = _bar(img, truth, 20, 50, c, 100, WIDTH)
    b = _bar(img, truth, 21, 55, c + WIDTH + 2, 100, WIDTH)
    img[55:150, c + WIDTH : c + WIDTH + 2] = 0.88
    img[100, c + WIDTH : c + WIDTH + 2] = 0.45  # blurred: a bridge about a pixel thin
    labels = _segment(img)
    assert len(_labels_on(labels, a)) == 1 and len(_labels_on(labels, b)) == 1
    assert _labels_on(labels, a) != _labels_on(labels, b)
    assert labels.max() == 12


def test_frame_lines_and_strokes_are_not_chromosomes():
    img, truth, c = _row()
    img[10:190, c : c + 2] = DARK  # a frame line through the row, with ticks
    img[99:101, c - 8 : c + 10] = DARK
    img[20:22, c + 20 : c + 60] = DARK  # an underline
    img[150:152, c + 20 : c + 60] = DARK  # a thin rule
    labels = _segment(img)
    assert labels.max() == 10
    assert set(np.unique(labels[truth > 0])) - {0} == set(range(1, 11))


def test_chromosome_cut_across_by_a_slanted_pale_band_stays_one():
    """A pale band running steeply across a chromosome leaves dark cores above and below it
    whose rows overlap, like homologs side by side: the chromosome was cut in two (a bent
    chromosome 2 on clinical pages). Its parts lie one above the other, not side by side."""
    img, truth, c = _row()
    m = _bar(img, truth, 20, 40, c, 120, WIDTH)
    rr, cc = np.mgrid[: img.shape[0], : img.shape[1]]
    on_band = np.abs((rr - 40) - (45 + (cc - c) * 60 / WIDTH)) < 10  # rows 45 to 105 across
    img[m & on_band] = 0.8
    labels = _segment(img)
    assert len(_labels_on(labels, m)) == 1
    assert labels.max() == 11


def test_small_chromosome_an_arrow_points_at_stays_without_the_arrow():
    """An arrow drawn up to a small chromosome (a Philadelphia chromosome on a CML page) joins
    it in the foreground; the two together are long and mostly thin, and went as a line."""
    img, truth, c = _row()
    small = _bar(img, truth, 20, 90, c, 32, WIDTH)
    tip = c + WIDTH
    img[104:108, tip : tip + 50] = DARK  # the shaft, thicker than a ruled line
    for k in range(10):  # the head, its point on the chromosome
        img[106 - k // 2 : 107 + k // 2, tip + k] = DARK
    labels = _segment(img)
    assert len(_labels_on(labels, small)) == 1
    assert labels.max() == 11
    assert not labels[104:108, tip + 20 : tip + 50].any()


def test_faint_chromosome_with_a_dark_speck_grows_to_its_outline():
    """A faint chromosome of which the foreground holds only a thin dark streak (and one dark
    speck, JPEG noise) was judged by the streak, too thin for a chromosome, and dropped: it is
    judged by its faint outline."""
    img, truth, c = _row()
    body = _bar(img, truth, 20, 60, c, 60, 14)
    img[body] = 0.895  # fainter than the foreground threshold, darker than the faint one
    img[68:112, c + 5 : c + 9] = 0.84  # the streak the foreground holds
    img[87:92, c + 5 : c + 10] = 0.4  # one dark speck
    labels = _segment(img)
    ids = _labels_on(labels, body)
    assert len(ids) == 1 and labels.max() == 11
    assert np.count_nonzero(labels == ids[0]) >= 0.6 * np.count_nonzero(body)


def test_small_thin_chromosome_stays_while_a_cross_of_its_thickness_goes():
    """On a low-resolution page a small chromosome is under half as wide as the row's big ones
    and under three of their widths long: it was dropped as a frame line. A printed cross as thin
    and as long is still no chromosome."""
    img, truth, c = _row()
    small = _bar(img, truth, 20, 70, c, 42, 7)
    img[70:114, c + 61 : c + 67] = DARK  # a cross: one bar down...
    img[89:95, c + 42 : c + 86] = DARK  # ...and one across
    labels = _segment(img)
    assert len(_labels_on(labels, small)) == 1
    assert labels.max() == 11
    assert not labels[80:104, c + 46 : c + 82][img[80:104, c + 46 : c + 82] == DARK].any()


def _real(name):
    import os
    from pathlib import Path

    default = Path(__file__).resolve().parents[1].parent / "shared"
    root = Path(os.environ.get("NAPARI_KARYOTYPE_DATA", default))
    for base in (root, root / "data"):
        path = base / "real-karyograms" / name
        if path.is_file():
            return path
    pytest.skip(f"real karyogram {name} not found (../shared/data/real-karyograms)")


def test_high_resolution_page_gives_one_label_per_chromosome():
    """A clinical page whose chromosomes show their sister chromatids (46,XX or XY): it used to
    give 57 labels, chromatids cut apart."""
    from napari_karyotype.image.io import read_karyogram
    from napari_karyotype.segmentation.rows import propose_rows

    k = read_karyogram(_real("karyo_kshema_151_unlabeled_numbered.jpg"))
    labels = segment(k.image, propose_rows(k.image))
    assert len(np.unique(labels)) - 1 == 46


def _spread():
    """A raw metaphase: eight chromosomes lying diagonally as they fell, and two upright ones
    end to end, one chromosome width apart (image, the two masks)."""
    img = np.full((420, 640), BACKGROUND, np.float32)
    truth = np.zeros(img.shape, np.int32)
    for k in range(8):
        r, c = 40 + 180 * (k // 4), 40 + 110 * (k % 4)
        ends = ((r, c), (r + 70, c + 70)) if k % 2 else ((r, c + 70), (r + 70, c))
        _stroke(img, truth, k + 1, *ends)
    upper = _bar(img, truth, 9, 40, 560, 90, WIDTH)
    lower = _bar(img, truth, 10, 130 + WIDTH, 562, 70, WIDTH)
    return ndi.gaussian_filter(img, 1.0), upper, lower


def test_chromosomes_end_to_end_on_a_metaphase_stay_two(tmp_path):
    """In a karyogram row pieces one above the other are one chromosome broken across; on a raw
    metaphase two chromosomes lie end to end as often, and the `segment` command (rows drawn
    by hand, as its warning asks) keeps them apart (seen chaining chromosomes of real spreads)."""
    import imageio.v3 as iio
    import tifffile

    from napari_karyotype.cli import main
    from napari_karyotype.segmentation.page import clean_page
    from napari_karyotype.segmentation.shapes import write_shapes_csv

    img, upper, lower = _spread()
    h, w = img.shape
    rows = [("rectangle", np.array([[5, 5], [5, w - 6], [h - 6, w - 6], [h - 6, 5]]))]
    page = clean_page(img)
    assert not page.arranged and "not an arranged karyogram" in page.warnings[0]
    labels = segment(page.image, rows, arranged=page.arranged)
    ids = [_labels_on(labels, m) for m in (upper, lower)]
    assert all(len(i) == 1 for i in ids) and ids[0] != ids[1] and labels.max() == 10
    # The same pieces in a karyogram row are one chromosome.
    assert labels.max() - 1 == segment(page.image, rows).max()

    iio.imwrite(tmp_path / "spread.png", (img * 255).astype(np.uint8))
    write_shapes_csv(tmp_path / "rows.csv", rows)
    args = ["segment", str(tmp_path / "spread.png"), "--out", str(tmp_path / "out")]
    assert main([*args, "--rows", str(tmp_path / "rows.csv")]) == 0
    labels = tifffile.imread(tmp_path / "out" / "spread_labels.tif")
    ids = [_labels_on(labels, m) for m in (upper, lower)]
    assert all(len(i) == 1 for i in ids) and ids[0] != ids[1] and labels.max() == 10


def test_a_grey_field_reaching_across_the_row_is_no_chromosome():
    """A metaphase photograph's grey field ends inside the row (white margin beyond): the band of
    field the row holds, far longer than any chromosome, is no label; the chromosomes stay."""
    img, truth, _ = _row()
    img[172:, :] = 0.72  # the field's edge: darker than the margin, lighter than the chromosomes
    labels = _segment(img)
    assert labels.max() == 10
    assert set(np.unique(labels[truth > 0])) - {0} == set(range(1, 11))
