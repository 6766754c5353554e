"""Compose a karyogram image with known truth from the dataset crops of one cell.

Used by tests, samples and benchmarks: real chromosome crops of Hu et al. laid out in the standard
rows 1–5 / 6–12, X / 13–18 / 19–22, Y, homologs side by side, pair numbers printed under the pairs
(with a tiny bitmap font: no font files), optional frame lines and light-on-dark rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from napari_karyotype import CLASSES
from napari_karyotype.errors import KaryotypeError

ROW_LAYOUT: tuple[tuple[str, ...], ...] = (
    ("1", "2", "3", "4", "5"),
    ("6", "7", "8", "9", "10", "11", "12", "X"),
    ("13", "14", "15", "16", "17", "18"),
    ("19", "20", "21", "22", "Y"),
)
"""The classes of each karyogram row, left to right."""

TRUE_MASK_BELOW = 245
"""A dataset pixel belongs to the chromosome where it is darker than this."""

# 5 x 7 bitmap glyphs for pair numbers (each string is one row, '#' = ink).
_GLYPHS = {
    "0": (" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "),
    "1": ("  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "2": (" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"),
    "3": ("#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "),
    "4": ("   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "),
    "5": ("#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "),
    "6": ("  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "),
    "7": ("#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "),
    "8": (" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "),
    "9": (" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "),
    "X": ("#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"),
    "Y": ("#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "),
}
_GLYPH_ARRAYS = {k: np.array([[c == "#" for c in row] for row in v]) for k, v in _GLYPHS.items()}


@dataclass
class Composed:
    """A composed karyogram and its truth."""

    image: np.ndarray
    """uint8 (H, W), dark chromosomes on white (or light on dark with ``light_on_dark``)."""
    labels: np.ndarray
    """int32 (H, W): one id per chromosome, 0 = background."""
    classes: dict[int, str]
    """label id -> chromosome class (``1``…``22``, ``X``, ``Y``)."""
    rows: list[tuple[str, np.ndarray]]
    """One ``("rectangle", (4, 2) array)`` per row: the chromosomes' bounding box plus 3 px."""


def text_bitmap(text: str, size: int = 2) -> np.ndarray:
    """A boolean bitmap of ``text`` (digits, X, Y) in the 5 x 7 font, each dot ``size`` px."""
    glyphs = []
    for ch in text.upper():
        if ch not in _GLYPH_ARRAYS:
            raise KaryotypeError(f"cannot draw character {ch!r}")
        glyphs.append(_GLYPH_ARRAYS[ch])
        glyphs.append(np.zeros((7, 1), bool))
    bitmap = np.hstack(glyphs[:-1]) if glyphs else np.zeros((7, 0), bool)
    return np.kron(bitmap, np.ones((size, size), bool))


def chromosome_crop(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crop a dataset image to its true mask: ``(grey crop with white outside the mask, mask)``."""
    mask = ndi.binary_fill_holes(image < TRUE_MASK_BELOW)
    if not mask.any():
        raise KaryotypeError("chromosome image is blank")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    mask = mask[sl]
    crop = np.where(mask, image[sl], 255).astype(np.uint8)
    return crop, mask


def _row_extents(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leftmost and rightmost mask column of each image row (-1 / -inf style sentinels if empty)."""
    w = mask.shape[1]
    any_ = mask.any(axis=1)
    left = np.where(any_, mask.argmax(axis=1), w * 10)
    right = np.where(any_, w - 1 - mask[:, ::-1].argmax(axis=1), -w * 10)
    return left, right


def _draw_glyphs(canvas: np.ndarray, bitmap: np.ndarray, top: int, centre: int, value: int) -> None:
    h, w = bitmap.shape
    left = int(round(centre - w / 2))
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + h, canvas.shape[0]), min(left + w, canvas.shape[1])
    if r1 <= r0 or c1 <= c0:
        return
    sub = bitmap[r0 - top : r1 - top, c0 - left : c1 - left]
    canvas[r0:r1, c0:c1][sub] = value


def compose_karyogram(
    chromosomes: Sequence,
    *,
    gap: tuple[int, int] | int = (5, 12),
    seed: int = 0,
    numbers: bool = True,
    frame: bool = False,
    light_on_dark: bool = False,
    scale: float = 1.0,
    pair_gap: tuple[int, int] = (24, 40),
    margin: int = 30,
) -> Composed:
    """Lay the dataset chromosomes of one cell out as a karyogram with known truth.

    ``gap`` is the clearance in px between homologs' masks, drawn per pair from the inclusive
    ``(min, max)`` range with ``seed`` (``(0, 1)``: touching homologs); pairs sit ``pair_gap`` px
    apart, rows are bottom-aligned with the pair numbers under them. ``frame`` draws an outer frame,
    a line under each pair and lines between rows; ``light_on_dark`` inverts the image as a
    fluorescent (Q-banded) karyogram looks; ``scale`` resamples the result.
    """
    if not chromosomes:
        raise KaryotypeError("no chromosomes to compose")
    if scale <= 0:
        raise KaryotypeError(f"scale must be positive, got {scale}")
    lo, hi = (gap, gap) if np.isscalar(gap) else (int(gap[0]), int(gap[1]))
    if lo < 0 or hi < lo:
        raise KaryotypeError(f"gap range must be 0 <= min <= max, got {gap}")
    rng = np.random.default_rng(seed)

    by_class: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in CLASSES}
    for chrom in chromosomes:
        by_class[chrom.cls].append(chromosome_crop(np.asarray(chrom.image)))

    # Place each row's groups (homologs) side by side; rows are bottom-aligned later.
    rows = []  # per row: list of (class, [(crop, mask, x_offset)], group_width)
    for layout in ROW_LAYOUT:
        groups = []
        for cls in layout:
            items = by_class[cls]
            if not items:
                continue
            placed = []
            # Right profile of what is already placed, indexed from the bottom (row 0 = bottom).
            depth = max(m.shape[0] for _, m in items)
            right = np.full(depth, -(10**6))
            for crop, mask in items:
                h = mask.shape[0]
                left_e, right_e = _row_extents(mask)
                if not placed:
                    x = 0
                else:
                    g = int(rng.integers(lo, hi + 1))
                    prev = right[:h][::-1]  # aligned with this mask's rows, top to bottom
                    need = prev - left_e + 1 + g
                    x = int(max(need.max(), 0)) if need.size else 0
                    # Never start left of the previous item's bounding box start.
                    x = max(x, placed[-1][2] + 1)
                new_right = np.where(mask.any(axis=1), x + right_e, -(10**6))[::-1]
                right[:h] = np.maximum(right[:h], new_right)
                placed.append((crop, mask, x))
            width = max(x + m.shape[1] for _, m, x in placed)
            groups.append((cls, placed, width))
        if groups:
            rows.append(groups)

    base_gaps = [[int(rng.integers(pair_gap[0], pair_gap[1] + 1)) for _ in r[1:]] for r in rows]
    natural = [sum(g[2] for g in r) + sum(bg) for r, bg in zip(rows, base_gaps, strict=True)]
    total_width = max(natural)
    glyph_size = 2
    number_h = 7 * glyph_size if numbers else 0
    under = 4 if frame else 0  # space for the line under each pair
    text_gap = 6
    row_spacing = 22
    heights = [max(m.shape[0] for _, placed, _ in r for _, m, _ in placed) for r in rows]
    height = margin + sum(heights) + len(rows) * (under + text_gap + number_h + row_spacing)
    height += margin - row_spacing
    width = total_width + 2 * margin

    image = np.full((height, width), 255, np.uint8)
    labels = np.zeros((height, width), np.int32)
    classes: dict[int, str] = {}
    row_boxes = []
    separators = []
    y = margin
    next_id = 1
    for r, bg, nat, h in zip(rows, base_gaps, natural, heights, strict=True):
        baseline = y + h  # one past the lowest chromosome pixel
        extra = total_width - nat
        spread = min(extra / max(len(r) - 1, 1), 3 * pair_gap[1]) if len(r) > 1 else 0
        used = nat + spread * (len(r) - 1)
        x = margin + (total_width - used) / 2
        top, bottom, left, right = height, 0, width, 0
        for i, (cls, placed, gw) in enumerate(r):
            gx = int(round(x))
            for crop, mask, dx in placed:
                ch, cw = mask.shape
                r0, c0 = baseline - ch, gx + dx
                region = image[r0 : r0 + ch, c0 : c0 + cw]
                np.minimum(region, crop, out=region)
                labels[r0 : r0 + ch, c0 : c0 + cw][mask] = next_id
                classes[next_id] = cls
                next_id += 1
                top, bottom = min(top, r0), max(bottom, r0 + ch)
                left, right = min(left, c0), max(right, c0 + cw)
            centre = gx + gw / 2
            if frame:
                image[baseline + 2 : baseline + 4, gx - 2 : gx + gw + 2] = 30
            if numbers:
                _draw_glyphs(
                    image,
                    text_bitmap(cls, glyph_size),
                    baseline + under + text_gap,
                    int(centre),
                    20,
                )
            if i < len(r) - 1:
                x += gw + bg[i] + spread
        pad = 3
        r0, r1 = max(top - pad, 0), min(bottom + pad, height) - 1
        c0, c1 = max(left - pad, 0), min(right + pad, width) - 1
        row_boxes.append(("rectangle", np.array([[r0, c0], [r0, c1], [r1, c1], [r1, c0]], float)))
        y = baseline + under + text_gap + number_h + row_spacing
        separators.append(y - row_spacing // 2)
    if frame:
        f0, f1 = margin // 3, margin // 3 + 2
        image[f0:f1, f0:-f0] = 30
        image[-f1:-f0, f0:-f0] = 30
        image[f0:-f0, f0:f1] = 30
        image[f0:-f0, -f1:-f0] = 30
        for s in separators[:-1]:
            image[s, f0:-f0] = 60

    if scale != 1.0:
        from skimage.transform import resize

        new_shape = (max(int(round(height * scale)), 1), max(int(round(width * scale)), 1))
        image = resize(image, new_shape, order=1, preserve_range=True, anti_aliasing=scale < 1)
        image = np.clip(np.round(image), 0, 255).astype(np.uint8)
        labels = resize(labels, new_shape, order=0, preserve_range=True, anti_aliasing=False)
        labels = labels.astype(np.int32)
        sy, sx = new_shape[0] / height, new_shape[1] / width
        row_boxes = [(t, (v + 0.5) * [sy, sx] - 0.5) for t, v in row_boxes]
    if light_on_dark:
        image = 255 - image
    return Composed(image, labels, classes, row_boxes)
