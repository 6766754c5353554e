"""Page analysis: furniture of real karyogram pages goes, chromosomes stay; odd pages are named.

The pages are drawn here: the ideogram-drawn karyogram (``samples.synthetic``, X at the end of
row 2) with a title, an arrow, red pair numbers and a grey banner added; a light-on-dark framed
page with one frame per pair and brightness differing frame to frame; a metaphase (the same
chromosomes strewn at random angles); two karyograms side by side.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage as ndi

from napari_karyotype.image.io import as_karyogram
from napari_karyotype.samples.synthetic import synthetic_karyogram
from napari_karyotype.segmentation.contours import segment
from napari_karyotype.segmentation.metrics import match_labels
from napari_karyotype.segmentation.page import clean_page, local_contrast
from napari_karyotype.segmentation.rows import propose_rows

TOP, BOTTOM = 80, 160


@pytest.fixture(scope="module")
def drawn():
    return synthetic_karyogram(seed=1)


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


@pytest.fixture(scope="module")
def furnished(drawn):
    """``(rgb page, true labels, masks of title, banner, red numbers, arrow)``."""
    h, w = drawn.image.shape
    page = np.full((h + TOP + BOTTOM, w, 3), 255, np.uint8)
    page[TOP : TOP + h] = drawn.image[..., None]
    truth = np.zeros(page.shape[:2], np.int32)
    truth[TOP : TOP + h] = drawn.labels
    layers = {}
    base = Image.fromarray(page)
    draw = ImageDraw.Draw(base)
    draw.text((40, 15), "46,XY  karyotype  case 117  G-banding 550", fill=(0, 0, 0), font=_font(40))
    draw.rectangle([0, h + TOP + 40, w - 1, h + TOP + BOTTOM - 1], fill=(150, 150, 150))
    draw.text(
        (40, h + TOP + 60), "Laboratory of Cytogenetics", fill=(255, 255, 255), font=_font(40)
    )
    for i, x in enumerate(range(100, w - 100, 200)):
        draw.text((x, h + TOP + 2), str(i + 1), fill=(220, 0, 0), font=_font(32))
    # An arrow whose head touches nothing and whose shaft ends on chromosome 5.
    draw.line([(w - 300, 120), (w - 120, 200)], fill=(0, 0, 0), width=4)
    draw.polygon([(w - 300, 120), (w - 270, 122), (w - 285, 140)], fill=(0, 0, 0))
    rgb = np.asarray(base).copy()
    dark = rgb.min(axis=-1) < 128
    layers["title"] = dark.copy()
    layers["title"][TOP:] = False
    layers["banner"] = np.zeros(dark.shape, bool)
    layers["banner"][h + TOP + 40 :] = True
    spread = rgb.max(axis=-1).astype(int) - rgb.min(axis=-1)
    layers["red"] = spread > 100
    arrow = np.zeros(dark.shape, bool)
    arrow[100:210, w - 310 : w - 110] = True
    layers["arrow"] = arrow & dark & (truth == 0)
    return rgb, truth, layers


def test_furniture_goes_and_chromosomes_stay(furnished):
    rgb, truth, layers = furnished
    k = as_karyogram(rgb)
    assert k.chroma is not None
    page = clean_page(k.image, k.chroma)
    chrom = truth > 0
    assert (page.furniture & chrom).sum() <= 0.005 * chrom.sum()
    for name, mask in layers.items():
        assert (page.furniture & mask).sum() >= 0.85 * mask.sum(), name
    assert page.warnings == []
    rows = propose_rows(page.image, clean=False)
    assert len(rows) == 4
    labels = segment(page.image, rows)
    f1, iou = match_labels(truth, labels)
    assert labels.max() == 46 and f1 >= 0.99 and iou >= 0.9


def test_propose_rows_cleans_the_page_itself(furnished):
    rgb, truth, _ = furnished
    k = as_karyogram(rgb)
    rows = propose_rows(k.image, chroma=k.chroma)
    assert len(rows) == 4
    for _, v in rows:  # every row lies in the karyogram, none on the title or the banner
        assert v[:, 0].min() >= TOP - 10 and v[:, 0].max() <= truth.shape[0] - BOTTOM + 40


def _framed(drawn, brightness=(1.0, 0.75, 0.55)):
    """A light-on-dark page, one frame per pair (tick marks on its sides), the pairs' contrast
    differing frame to frame; returns ``(uint8 image, true labels, frame-line mask)``."""
    depth = 255.0 - drawn.image.astype(float)
    by_class: dict[str, list[int]] = {}
    for lab, cls in drawn.classes.items():
        by_class.setdefault(cls, []).append(lab)
    boxes = ndi.find_objects(drawn.labels)
    lines = np.zeros(drawn.image.shape, bool)
    for j, labs in enumerate(by_class.values()):
        r0 = min(boxes[i - 1][0].start for i in labs) - 10
        r1 = max(boxes[i - 1][0].stop for i in labs) + 8
        c0 = min(boxes[i - 1][1].start for i in labs) - 10
        c1 = max(boxes[i - 1][1].stop for i in labs) + 10
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(r1, depth.shape[0] - 2), min(c1, depth.shape[1] - 2)
        depth[r0:r1, c0:c1] *= brightness[j % len(brightness)]
        lines[r0 : r0 + 2, c0:c1] = lines[r1 - 2 : r1, c0:c1] = True
        lines[r0:r1, c0 : c0 + 2] = lines[r0:r1, c1 - 2 : c1] = True
        mid = (r0 + r1) // 2
        lines[mid : mid + 2, c0 - 6 : c0 + 6] = lines[mid : mid + 2, c1 - 6 : c1 + 6] = True
    lines &= drawn.labels == 0
    light = np.clip(depth, 0, 255)
    light[lines] = 200
    return light.astype(np.uint8), drawn.labels, lines


def test_framed_light_on_dark_page(drawn):
    image, truth, lines = _framed(drawn)
    k = as_karyogram(image)
    assert k.inverted
    page = clean_page(k.image)
    assert (page.furniture & lines).sum() >= 0.9 * lines.sum()
    assert (page.furniture & (truth > 0)).sum() <= 0.005 * (truth > 0).sum()
    rows = propose_rows(page.image, clean=False)
    assert len(rows) == 4
    labels = segment(page.image, rows)
    f1, _ = match_labels(truth, labels)
    assert labels.max() == 46 and f1 >= 0.98


def test_dim_page_is_found_whole(drawn):
    """A whole page exposed dim (every pair a tenth as bright; the bulk of each chromosome
    within the foreground threshold of the background, seen on a framed page at 0.93-0.98 on
    1.0): its depths are scaled up alike, and every chromosome gets one label."""
    image, truth, _ = _framed(drawn, (0.1,))
    page = clean_page(as_karyogram(image).image)
    assert page.gain > 2
    labels = segment(page.image, propose_rows(page.image, clean=False))
    f1, _ = match_labels(truth, labels)
    assert labels.max() == 46 and f1 >= 0.99
    assert clean_page(as_karyogram(_framed(drawn)[0]).image).gain == 1.0
    # Where the noise sets the threshold, scaling would scale the noise alike: no gain.
    noisy = image + np.random.default_rng(0).normal(0, 4, image.shape)
    assert clean_page(as_karyogram(np.clip(noisy, 0, 255).astype(np.uint8)).image).gain == 1.0


def test_pair_in_a_dim_frame_is_found_whole(drawn):
    """A pair in a frame eight times dimmer than the others (only its darkest bands pass the
    foreground threshold) gets one label per chromosome, each covering most of it."""
    order = list(dict.fromkeys(drawn.classes.values()))
    image, truth, _ = _framed(drawn, tuple(0.12 if c == "19" else 1.0 for c in order))
    page = clean_page(as_karyogram(image).image)
    labels = segment(page.image, propose_rows(page.image, clean=False))
    f1, _ = match_labels(truth, labels)
    assert labels.max() == 46 and f1 >= 0.99
    for lab in (lab for lab, c in drawn.classes.items() if c == "19"):
        mine = truth == lab
        ids, counts = np.unique(labels[mine], return_counts=True)
        best = ids[np.argmax(np.where(ids > 0, counts, 0))]
        found = labels == best
        # Its darkest bands alone cover about a quarter of it.
        assert best > 0 and (found & mine).sum() >= 0.6 * (found | mine).sum()


def _two_frames(marks: bool) -> tuple[np.ndarray, np.ndarray]:
    """A dark-on-light page of two frames far apart: dark pairs in the left one, a faint pair
    (a quarter as deep) in the right one; with ``marks`` the right frame's only strong ink is
    its hairlines and tick marks (1-2 px, as deep as the dark pairs), one of them with a faint
    foot as thick as a chromosome's end. ``(image, faint bars)``."""
    image = np.full((400, 400), 1.0, np.float32)
    faint = np.zeros(image.shape, bool)
    for c in range(20, 150, 22):
        image[150:230, c : c + 8] = 0.4  # chromosome-like: 8 px wide
    for c in (290, 310, 330):
        faint[150:230, c : c + 8] = True
    image[faint] = 0.85
    if marks:
        image[120, 270:360] = image[260:262, 270:360] = 0.4  # a hairline, a 2-px line
        image[120:262, 270] = image[120:262, 359] = 0.4
        for r in range(130, 260, 20):  # tick marks on the frame's sides
            image[r, 262:278] = image[r, 352:368] = 0.4
        image[131:135, 262:266] = 0.85  # the foot of a tick (a digit touching a line stub)
    noise = np.random.default_rng(0).normal(0, 0.004, image.shape)
    return np.clip(image + noise, 0, 1).astype(np.float32), faint


def test_thin_marks_do_not_set_a_regions_contrast():
    """A faint pair in a frame whose hairlines and tick marks are as dark as the page's darkest
    chromosomes is deepened as much as one in a frame without them: only chromosome-like ink,
    a few pixels thick, sets a region's contrast. The dark pairs stay as they are, and so do
    the marks, with the faint foot of one: no ink is made deeper than its own darkest point
    brings to the page's peak."""
    plain, faint = _two_frames(marks=False)
    marked, _ = _two_frames(marks=True)
    depth = {"plain": 1.0 - local_contrast(plain), "marked": 1.0 - local_contrast(marked)}
    assert np.median(depth["plain"][faint]) > 0.45  # 0.15 deep, deepened about fourfold
    assert np.median(depth["marked"][faint]) > 0.9 * np.median(depth["plain"][faint])
    dark = marked < 0.5
    dark[:, 250:] = False
    assert abs(np.median(depth["marked"][dark]) - 0.6) < 0.02
    ticks = (marked < 0.5) & ~dark
    assert abs(np.median(depth["marked"][ticks]) - 0.6) < 0.02
    assert np.median(depth["marked"][131:135, 262:266]) < 0.2  # the foot stays faint


def test_erode_is_the_minimum_filter():
    from napari_karyotype.segmentation.page import _erode

    rng = np.random.default_rng(0)
    for shape in ((1, 1), (2, 5), (7, 3), (40, 61)):
        for size in (1, 3, 5):
            a = rng.random(shape).astype(np.float32)
            assert np.array_equal(_erode(a, size), ndi.minimum_filter(a, size, mode="nearest"))


def _metaphase(drawn, seed=0, angles=True, keep=46, nuclei=(), labelled=False):
    """The karyogram's chromosomes (the first ``keep``) strewn over a page (no rows), at random
    angles or (``angles`` False) upright, beside interphase ``nuclei``: solid, mottled grey
    ellipses ``(row, column, semi-axis down, semi-axis across)``. ``labelled``: also return the
    chromosomes' labels, ``(page, labels)``."""
    from skimage.transform import rotate

    rng = np.random.default_rng(seed)
    page = np.full((1400, 1400), 250, np.uint8)
    rr, cc = np.mgrid[: page.shape[0], : page.shape[1]]
    taken = np.zeros(page.shape, bool)
    labels = np.zeros(page.shape, np.int32)
    for y, x, a, b in nuclei:
        inside = ((rr - y) / a) ** 2 + ((cc - x) / b) ** 2 <= 1
        mottle = ndi.gaussian_filter(rng.normal(0, 25, page.shape), 3)
        page[inside] = np.clip(140 + mottle[inside], 0, 255).astype(np.uint8)
        taken |= inside
    for lab, sl in enumerate(ndi.find_objects(drawn.labels)[:keep], 1):
        m = np.pad(drawn.labels[sl] == lab, 20)
        crop = np.pad(drawn.image[sl].astype(float), 20, constant_values=250)
        crop = np.where(m, crop, 250.0)
        angle = rng.uniform(0, 180) if angles else 0.0
        m = rotate(m.astype(float), angle, resize=True, order=0) > 0.5
        crop = rotate(crop, angle, resize=True, order=1, cval=250)
        for _ in range(200):
            y = int(rng.integers(0, page.shape[0] - m.shape[0]))
            x = int(rng.integers(0, page.shape[1] - m.shape[1]))
            spot = (slice(y, y + m.shape[0]), slice(x, x + m.shape[1]))
            if not (taken[spot] & ndi.binary_dilation(m, iterations=6)).any():
                page[spot][m] = crop[m].astype(np.uint8)
                taken[spot] |= m
                labels[spot][m] = lab
                break
    return (page, labels) if labelled else page


def test_metaphase_is_named_not_counted(drawn):
    page = clean_page(as_karyogram(_metaphase(drawn)).image)
    assert len(page.warnings) == 1 and "not an arranged karyogram" in page.warnings[0]
    assert "lie in all directions" in page.warnings[0] and "metaphase" in page.warnings[0]
    assert not page.arranged  # no rule that assumes rows applies to its chromosomes
    karyogram = clean_page(as_karyogram(drawn.image).image)
    assert karyogram.warnings == [] and karyogram.arranged


def test_chromosomes_strewn_in_no_rows_are_a_metaphase(drawn):
    """Upright chromosomes strewn over the slide stand in no rows: a metaphase. A karyogram's
    single cut-out row, one band far wider than tall, stays a karyogram."""
    strewn = clean_page(as_karyogram(_metaphase(drawn, seed=3, angles=False)).image)
    assert not strewn.arranged and "not in rows" in strewn.warnings[0]
    inked = np.flatnonzero((drawn.labels > 0).any(axis=1))
    first = inked[: int(np.argmax(np.diff(inked) > 1)) + 1]  # the first row of the karyogram
    row = drawn.image[max(first[0] - 20, 0) : first[-1] + 20]
    assert clean_page(as_karyogram(row).image).arranged


NUCLEI = ((200, 250, 110, 90), (1150, 1100, 100, 120), (250, 1150, 95, 95))


def test_nuclei_name_a_metaphase(drawn):
    """Nuclei are evidence on their own (the chromosomes here stand upright), also where their
    area sets the page's typical width and the few chromosomes go as marks."""
    upright = clean_page(as_karyogram(_metaphase(drawn, seed=3, angles=False)).image)
    assert len(upright.warnings) == 1 and "nucle" not in upright.warnings[0]
    assert "diagonal" not in upright.warnings[0]  # upright, yet strewn in no rows
    page = clean_page(as_karyogram(_metaphase(drawn, seed=3, angles=False, nuclei=NUCLEI)).image)
    assert len(page.warnings) == 1 and "3 interphase nuclei" in page.warnings[0]
    for seed in range(3):  # eight chromosomes beside three nuclei, which outweigh them
        strewn = _metaphase(drawn, seed=seed, keep=8, nuclei=NUCLEI)
        page = clean_page(as_karyogram(strewn).image)
        assert len(page.warnings) == 1 and "3 interphase nuclei" in page.warnings[0]


def test_two_karyograms_side_by_side_are_named(drawn):
    two = np.hstack([drawn.image, np.full((drawn.image.shape[0], 60), 255, np.uint8), drawn.image])
    page = clean_page(as_karyogram(two).image)
    assert len(page.warnings) == 1 and "more than one karyogram" in page.warnings[0]


def test_analyze_says_so_in_one_line_and_in_the_summary(drawn, bundled_classifier, tmp_path):
    import imageio.v3 as iio

    from napari_karyotype.pipeline.files import analyze_files

    two = np.hstack([drawn.image, np.full((drawn.image.shape[0], 60), 255, np.uint8), drawn.image])
    iio.imwrite(tmp_path / "two.png", two)
    iio.imwrite(tmp_path / "one.png", drawn.image)

    class Log:
        text = ""

        def write(self, s):
            Log.text += s

    summary, failures = analyze_files([tmp_path], tmp_path / "out", classifier=bundled_classifier,
                                      log=Log())  # fmt: skip
    assert failures == []
    names = summary["file"].map(lambda f: f.split("/")[-1])
    flags = dict(zip(names, summary["flags"].fillna(""), strict=True))
    assert "more than one karyogram" in flags["two.png"]
    assert "page:" not in flags["one.png"]
    warned = [line for line in Log.text.splitlines() if "more than one karyogram" in line]
    assert len(warned) == 1 and "two.png" in warned[0]  # one line, no karyotype for it
    iscn = dict(zip(names, summary["iscn"].fillna(""), strict=True))
    assert iscn["two.png"] == "" and iscn["one.png"].startswith("46,")


def _shared(name):
    import os
    from pathlib import Path

    roots = [Path(__file__).parents[2] / "shared" / "data"]
    if os.environ.get("NAPARI_KARYOTYPE_DATA"):
        env = Path(os.environ["NAPARI_KARYOTYPE_DATA"])
        roots[:0] = [env, env / "data", env.parent]
    for root in roots:
        if (root / "real-karyograms" / name).exists():
            return root / "real-karyograms" / name
    pytest.skip(f"{name} not in the shared data")


def test_real_framed_page_keeps_its_chromosomes():
    """A tool's light-on-dark karyogram (an outer frame around one frame per pair): the frames
    go, not the page they enclose; one label per chromosome."""
    from napari_karyotype.image.io import read_karyogram

    k = read_karyogram(_shared("karyo_be7_auto_from_original32_framed_lightondark.jpg"))
    page = clean_page(k.image, k.chroma)
    assert page.furniture.mean() < 0.1 and page.warnings == []
    labels = segment(page.image, propose_rows(page.image, clean=False))
    assert labels.max() == 46


@pytest.mark.data
def test_composed_karyograms_are_not_named(cells):
    """Karyograms composed of real chromosomes (homologs apart or touching side by side, framed
    light on dark, small without numbers) are no metaphase."""
    from napari_karyotype.samples.compose import compose_karyogram

    styles = ({}, {"gap": (0, 1)}, {"frame": True, "light_on_dark": True},
              {"numbers": False, "scale": 0.6})  # fmt: skip
    for i, cell in enumerate(list(cells)[:10]):
        for style in styles:
            image = compose_karyogram(cells[cell], seed=i, **style).image
            assert clean_page(as_karyogram(image).image).warnings == [], (cell, style)


def _real_pages():
    folder = _shared("README.md").parent
    suffixes = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
    pages = [*folder.iterdir(), *(folder / "roboflow").glob("*")]
    return sorted((p for p in pages if p.suffix.lower() in suffixes), key=lambda p: p.name)


def test_real_metaphases_are_named_and_karyograms_are_not():
    """Every raw metaphase of the shared pages (other laboratories, with and without nuclei) is
    named in one line; no karyogram of theirs is."""
    from napari_karyotype.image.io import read_karyogram

    warned = {}
    for path in _real_pages():
        k = read_karyogram(path)
        warned[path.name] = clean_page(k.image, k.chroma).warnings
    metaphases = [n for n in warned if n.startswith("metaphase_")]
    assert len(metaphases) >= 10 and len(warned) - len(metaphases) >= 100
    for name in metaphases:
        assert len(warned[name]) == 1 and "not an arranged karyogram" in warned[name][0], name
    assert {n: w for n, w in warned.items() if w and n not in metaphases} == {}


def test_real_metaphase_gets_no_karyotype(bundled_classifier):
    """A metaphase beside nuclei: the page says what it is and no ISCN string is claimed."""
    from napari_karyotype.pipeline.analyze import analyze_image

    result = analyze_image(
        _shared("metaphase_heihuifei_18-Y2906.050.O_raw.png"), classifier=bundled_classifier
    )
    assert result.summary.iscn == "" and result.warnings and result.kind == "metaphase"
    assert result.summary.flags[0].startswith("spread: ")  # what stands in the way
