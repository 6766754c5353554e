"""A synthetic G-banded karyogram drawn from the ISCN ideogram, with its truth.

Each chromosome is two sister chromatids side by side with rounded ends, joined and constricted at
the centromere, banded in grey levels from the hg38 Giemsa stains (``gpos100`` darkest, ``gneg``
palest), mildly bent and tilted, blurred and noisy. Lengths follow the genome sizes the way real
metaphase chromosomes do (a constant plus a share per megabase, fitted to the Hu et al. crops) with
chromosome 1 about 182 px long at ``scale=1``. The cell is laid out like a clinical karyogram:
rows 1–5 / 6–12, X / 13–18 / 19–22, Y, homologs side by side on a common baseline, the pair
numbers printed under the pairs. Works offline and is fully determined by ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.samples.compose import ROW_LAYOUT, Composed, text_bitmap
from napari_karyotype.samples.ideogram import Ideogram, load_ideograms

LENGTH_PX = (18.0, 0.66)
"""Chromosome length in px at scale 1: ``a + b * megabases`` (chr1 about 182 px, chr21 about 49)."""

CHROMATID_PX = 22.0
"""Diameter of one sister chromatid in px at scale 1."""

GREY_PALE, GREY_DARK = 178.0, 42.0
"""Grey level of a ``gneg`` and of a ``gpos100`` band at the chromatid's centre."""

TRUE_MASK_BELOW = 245
"""A pixel belongs to a chromosome where that chromosome alone would draw it darker than this."""

_SEX_CHARS = set("XY")


@dataclass
class _Drawn:
    """One rendered chromosome: darkness (0 white … 255 black) in a tight patch."""

    cls: str
    dark: np.ndarray
    centromere_row: float


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    field = ndi.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return field / (field.std() + 1e-9)


def _draw_chromosome(
    ideo: Ideogram,
    length: float,
    chromatid: float,
    rng: np.random.Generator,
    *,
    bend: float,
    blur: float,
    band_blur: float,
) -> _Drawn:
    """Render one chromosome, p arm up, into a patch of darkness values (float, 0–255)."""
    radius = chromatid / 2
    theta = float(np.clip(rng.normal(0, np.deg2rad(3.0)), -np.deg2rad(8), np.deg2rad(8)))
    a1 = float(np.clip(rng.normal(0, 0.05 * length), -0.1 * length, 0.1 * length)) * bend
    a2 = float(rng.normal(0, 0.02 * length)) * bend
    phase = float(rng.uniform(0, 2 * np.pi))
    contrast = float(rng.uniform(0.85, 1.1))

    half_h = int(np.ceil(length / 2 + chromatid + 4))
    half_w = int(np.ceil(chromatid + abs(a1) + abs(a2) + abs(np.sin(theta)) * length / 2 + 6))
    rr, cc = np.mgrid[-half_h : half_h + 1, -half_w : half_w + 1].astype(float)
    rr -= rng.uniform(-0.5, 0.5)
    cc -= rng.uniform(-0.5, 0.5)
    cos, sin = np.cos(theta), np.sin(theta)
    u = cos * rr + sin * cc + length / 2  # along the axis, 0 at p-ter
    v = -sin * rr + cos * cc
    t = np.clip(u / length, 0, 1)
    v = v - a1 * np.sin(np.pi * t) - a2 * np.sin(2 * np.pi * t + phase) + a2 * np.sin(phase)

    # Stains, centromere and stalks sampled along the axis (4 samples per px, lightly smoothed).
    n = max(int(length * 4), 8)
    ut = np.clip(u / length * n - 0.5, 0, n - 1)

    def along(field: str, sigma: float, gain: float = 1.0) -> np.ndarray:
        prof = ndi.gaussian_filter1d(ideo.profile(n, field=field), sigma * 4, mode="nearest")
        prof = np.clip(prof.mean() + gain * (prof - prof.mean()), 0, 1)
        return ndi.map_coordinates(prof, [ut.ravel()], order=1).reshape(u.shape)

    px = chromatid / CHROMATID_PX  # 1 px at scale 1
    # Smoothing merges sub-bands to about the 400-band level of routine karyograms.
    density = along("density", band_blur * px, gain=1.6)
    stalk = along("stalk", 1.0 * px)
    uc = ideo.centromere_index * length
    constrict = np.exp(-0.5 * ((u - uc) / (0.4 * chromatid)) ** 2)

    offset = 0.7 * radius * (1 - 0.5 * constrict)
    r = radius * (1 - 0.3 * constrict) * (1 - 0.4 * stalk)
    # Rounded ends: each chromatid ends in a half disc.
    cap = np.sqrt(
        np.clip(radius**2 - np.clip(radius - np.minimum(u, length - u), 0, None) ** 2, 0, None)
    )
    r = np.minimum(r, cap)
    r = np.where((u < 0) | (u > length), 0.0, r)

    cover = np.zeros_like(u)
    thick = np.zeros_like(u)
    for side in (-1.0, 1.0):
        d = np.abs(v - side * offset)
        cover = np.maximum(cover, np.clip(np.minimum(r - d + 0.5, 2 * r), 0, 1))
        thick = np.maximum(thick, np.sqrt(np.clip(1 - (d / np.maximum(r, 1e-6)) ** 2, 0, 1)))

    grey = GREY_PALE - (GREY_PALE - GREY_DARK) * np.clip(density * contrast, 0, 1)
    grey = grey + 12.0 * _smooth_noise(rng, u.shape, 2.0 * px)  # mottled chromatin
    dark = cover * (255 - grey) * (0.6 + 0.4 * thick)
    dark = ndi.gaussian_filter(np.clip(dark, 0, 255), blur) if blur > 0 else dark

    mask = dark > 255 - TRUE_MASK_BELOW
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    cen_row = half_h + (uc - length / 2) * cos - rows[0]
    return _Drawn(ideo.cls, dark[sl], float(cen_row))


def _row_extents(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last mask column of each row (+big / -big where the row is empty)."""
    w = mask.shape[1]
    any_ = mask.any(axis=1)
    left = np.where(any_, mask.argmax(axis=1), 10**6)
    right = np.where(any_, w - 1 - mask[:, ::-1].argmax(axis=1), -(10**6))
    return left, right


def _place_group(items: list[_Drawn], gaps: list[int]) -> list[tuple[int, int]]:
    """Local (top, left) of each homolog: bottoms level at 0, ``gap`` px of clearance per row."""
    top_of = [-it.dark.shape[0] for it in items]
    placed: list[tuple[int, int]] = []
    for i, it in enumerate(items):
        top = top_of[i]
        if not placed:
            placed.append((top, 0))
            continue
        left_e, _ = _row_extents(it.dark > 255 - TRUE_MASK_BELOW)
        need = -(10**6)
        for (ptop, pleft), prev in zip(placed, items, strict=False):
            _, pright = _row_extents(prev.dark > 255 - TRUE_MASK_BELOW)
            lo, hi = max(top, ptop), min(top + len(left_e), ptop + len(pright))
            if hi > lo:
                own = left_e[lo - top : hi - top]
                other = pleft + pright[lo - ptop : hi - ptop]
                need = max(need, int((other - own + 1 + gaps[i - 1]).max()))
        left = max(need, placed[-1][1] + 1)
        placed.append((top, left))
    return placed


def _parse_sex(sex: str) -> tuple[int, int]:
    s = str(sex).strip().upper()
    if not s or set(s) - _SEX_CHARS or "X" not in s or len(s) > 4:
        raise KaryotypeError(f"sex must be sex chromosomes like 'XY' or 'XX', got {sex!r}")
    return s.count("X"), s.count("Y")


def synthetic_karyogram(
    seed: int = 0,
    sex: str = "XY",
    scale: float = 1.0,
    touching: bool = False,
    *,
    numbers: bool = True,
    gap: tuple[int, int] = (5, 12),
    noise: float = 2.5,
    blur: float = 1.3,
    band_blur: float = 3.5,
    bend: float = 1.0,
    width: int = 1300,
) -> Composed:
    """Draw a G-banded karyogram of a normal cell (46,XY by default) with its true labels.

    Returns :class:`~.compose.Composed`: ``image`` uint8 (white background, dark
    chromosomes, about ``1300 x 650`` px at ``scale=1``), ``labels`` int32 (one id per
    chromosome), ``classes`` {label: class} and ``rows`` (one ``("rectangle", (4, 2))`` per row).
    ``sex`` is the sex chromosome complement (``"XX"``, ``"XY"``, ``"XXY"``…); ``touching`` puts
    homologs in contact instead of ``gap`` px (min, max) apart; ``bend`` scales the bends;
    ``blur`` is the optical blur and ``band_blur`` the band smoothing (resolution), in px.
    """
    if not (0.2 <= float(scale) <= 5):
        raise KaryotypeError(f"scale must be between 0.2 and 5, got {scale}")
    n_x, n_y = _parse_sex(sex)
    lo, hi = int(gap[0]), int(gap[1])
    if lo < 0 or hi < lo:
        raise KaryotypeError(f"gap must be 0 <= min <= max, got {gap}")
    rng = np.random.default_rng(seed)
    ideograms = load_ideograms()
    condensation = float(np.clip(rng.normal(1.0, 0.03), 0.94, 1.06)) * scale
    chromatid = CHROMATID_PX * scale * float(rng.uniform(0.95, 1.05))
    blur_px = blur * scale
    count = {"X": n_x, "Y": n_y}

    rows = []  # per row: list of (class, drawn homologs, local placements, group width)
    for layout in ROW_LAYOUT:
        groups = []
        for cls in layout:
            ideo = ideograms[cls]
            items = []
            for _ in range(count.get(cls, 2)):
                mb = ideo.length / 1e6
                length = (LENGTH_PX[0] + LENGTH_PX[1] * mb) * condensation
                length *= float(np.clip(rng.normal(1.0, 0.02), 0.95, 1.05))
                width_i = chromatid * float(rng.uniform(0.95, 1.05))
                drawn = _draw_chromosome(
                    ideo, length, width_i, rng, bend=bend, blur=blur_px, band_blur=band_blur
                )
                items.append(drawn)
            if not items:
                continue
            gaps = [int(round(rng.integers(lo, hi + 1) * scale)) for _ in items[1:]]
            gaps = [0] * len(gaps) if touching else gaps
            placed = _place_group(items, gaps)
            left0 = min(p[1] for p in placed)
            placed = [(t, c - left0) for t, c in placed]
            gw = max(c + it.dark.shape[1] for (_, c), it in zip(placed, items, strict=True))
            groups.append((cls, items, placed, gw))
        rows.append(groups)

    margin = int(round(26 * scale))
    glyph = max(1, int(round(2 * scale)))
    text_h = 7 * glyph
    text_gap = int(round(6 * scale))
    row_gap = int(round(14 * scale))
    min_pair_gap = int(round(24 * scale))
    natural = [sum(g[3] for g in r) + min_pair_gap * (len(r) - 1) for r in rows]
    img_w = max(int(round(width * scale)), max(natural) + 2 * margin)

    # Vertical extent of each row relative to its centromere line.
    extents = []
    for r in rows:
        tops = [t for _, _, placed, _ in r for t, _ in placed]
        bottoms = [
            t + it.dark.shape[0]
            for _, items, placed, _ in r
            for (t, _), it in zip(placed, items, strict=True)
        ]
        extents.append((min(tops), max(bottoms)))
    img_h = margin * 2 + sum(b - t + text_gap + text_h + row_gap for t, b in extents) - row_gap

    dark = np.zeros((img_h, img_w), np.float32)
    owner = np.zeros((img_h, img_w), np.int32)
    text = np.zeros((img_h, img_w), bool)
    classes: dict[int, str] = {}
    row_boxes = []
    y = margin
    next_id = 1
    for r, (etop, ebottom), nat in zip(rows, extents, natural, strict=True):
        cen_line = y - etop  # the rows' baseline
        spare = img_w - 2 * margin - (nat - min_pair_gap * (len(r) - 1))
        step = spare / max(len(r) - 1, 1)
        x = float(margin) if len(r) > 1 else (img_w - r[0][3]) / 2
        box = [img_h, img_w, 0, 0]
        for cls, items, placed, gw in r:
            gx = int(round(x))
            for (t, c), it in zip(placed, items, strict=True):
                r0, c0 = cen_line + t, gx + c
                h, w = it.dark.shape
                region = dark[r0 : r0 + h, c0 : c0 + w]
                mine = (it.dark > 255 - TRUE_MASK_BELOW) & (it.dark > region)
                owner[r0 : r0 + h, c0 : c0 + w][mine] = next_id
                np.maximum(region, it.dark, out=region)
                classes[next_id] = cls
                next_id += 1
                box = [min(box[0], r0), min(box[1], c0), max(box[2], r0 + h), max(box[3], c0 + w)]
            if numbers:
                bitmap = text_bitmap(cls, glyph)
                tr = cen_line + ebottom + text_gap
                tc = int(round(gx + gw / 2 - bitmap.shape[1] / 2))
                text[tr : tr + bitmap.shape[0], tc : tc + bitmap.shape[1]] |= bitmap
            x += gw + step
        pad = 3
        r0, c0 = max(box[0] - pad, 0), max(box[1] - pad, 0)
        r1, c1 = min(box[2] + pad, img_h) - 1, min(box[3] + pad, img_w) - 1
        row_boxes.append(("rectangle", np.array([[r0, c0], [r0, c1], [r1, c1], [r1, c0]], float)))
        y = cen_line + ebottom + text_gap + text_h + row_gap

    labels = _clean_labels(owner, dark > 255 - TRUE_MASK_BELOW)
    if numbers:
        dark = np.maximum(dark, ndi.gaussian_filter(text * 225.0, 0.6 * scale))
    image = 255.0 - dark + rng.normal(0, noise, dark.shape) if noise > 0 else 255.0 - dark
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return Composed(image, labels, classes, row_boxes)


def _clean_labels(owner: np.ndarray, inked: np.ndarray) -> np.ndarray:
    """Each label as one connected region: the largest 8-connected piece of what it owns."""
    labels = np.where(inked, owner, 0).astype(np.int32)
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        own = labels[sl] == i
        pieces, n = ndi.label(own, structure=np.ones((3, 3)))
        if n > 1:
            sizes = np.bincount(pieces.ravel())[1:]
            labels[sl][own & (pieces != np.argmax(sizes) + 1)] = 0
    return labels
