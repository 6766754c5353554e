"""Each box's own chromosome pixels, when boxes touch, overlap and cross (VOC metaphases).

Every chromosome has a box, so a dark pixel that lies in one box only is that box's chromosome:
those pixels are the box's **seeds**. A dark pixel in several boxes goes to the box whose seeds
reach it by the shortest path through dark pixels inside that box (a neighbour's arm crossing
a box is reached from the neighbour's own pixels, not from the box's); a near tie gives it to
both (the middle of a crossing). A dark piece no seed reaches (a chromosome nested in a bent
one's box) goes to the smallest box around it. A box lying wholly within others has no seeds
of its own: the dark pixels of its middle third seed it. What a box gets is cut to its sizeable
pieces and its holes filled.
"""

from __future__ import annotations

import numpy as np

TIE = 1.5
"""Path lengths (pixels) closer than this count as a tie: the pixel goes to both boxes."""
PIECE = 0.1
"""A piece of a box's pixels smaller than this fraction of its largest piece is left out."""
MIN_SEED = 4
"""Seed pieces smaller than this (pixels) are noise, not a chromosome's own pixels."""
FEW_SEEDS = 0.05
"""A box whose seeds are fewer than this fraction of its dark pixels is seeded at its middle."""


def _geodesic(walkable: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Path length from ``seeds`` through ``walkable`` pixels (inf where unreached)."""
    from skimage.graph import MCP_Geometric

    out = np.full(walkable.shape, np.inf)
    if not seeds.any():
        return out
    costs = np.where(walkable, 1.0, np.inf)
    mcp = MCP_Geometric(costs)
    dist, _ = mcp.find_costs(np.argwhere(seeds).tolist())
    out[walkable] = dist[walkable]
    return out


def _seeds(fg_win: np.ndarray, single: np.ndarray) -> np.ndarray:
    """A box's seeds: its dark pixels in no other box (noise specks left out); a box with
    (almost) none, lying within others, is seeded by the dark pixels of its middle third."""
    from scipy import ndimage as ndi

    seeds = fg_win & single
    lab, n = ndi.label(seeds)
    if n:
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        keep = sizes >= MIN_SEED
        keep[0] = False
        seeds = keep[lab]
    if seeds.sum() < max(MIN_SEED, FEW_SEEDS * fg_win.sum()):
        h, w = fg_win.shape
        middle = np.zeros_like(fg_win)
        middle[h // 3 : h - h // 3, w // 3 : w - w // 3] = True
        seeds = seeds | (fg_win & middle)
    return seeds


def _tidy(mask: np.ndarray) -> np.ndarray:
    """The sizeable pieces of a mask, holes filled."""
    from scipy import ndimage as ndi

    lab, n = ndi.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    sizes[0] = 0
    keep = sizes >= PIECE * sizes.max()
    keep[0] = False
    return ndi.binary_fill_holes(keep[lab])


def own_masks(fg: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
    """Per box ``(x0, y0, x1, y1)`` (end-exclusive), the bool mask of its own dark pixels of
    ``fg`` within the box (shape of the box; may be empty)."""
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    h, w = fg.shape
    boxes = np.clip(boxes, 0, [w, h, w, h])
    cover = np.zeros(fg.shape, np.int32)
    for x0, y0, x1, y1 in boxes:
        cover[y0:y1, x0:x1] += 1
    dists = []
    best = np.full(fg.shape, np.inf)
    for x0, y0, x1, y1 in boxes:
        win = fg[y0:y1, x0:x1]
        d = _geodesic(win, _seeds(win, cover[y0:y1, x0:x1] == 1))
        dists.append(d)
        best[y0:y1, x0:x1] = np.minimum(best[y0:y1, x0:x1], d)
    smallest = np.full(fg.shape, -1, np.int64)  # the smallest box around each pixel
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for k in np.argsort(-areas, kind="stable"):
        x0, y0, x1, y1 = boxes[k]
        smallest[y0:y1, x0:x1] = k
    orphan = fg & np.isinf(best)
    out = []
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        d = dists[k]
        mine = np.isfinite(d) & (d <= best[y0:y1, x0:x1] + TIE)
        mine |= orphan[y0:y1, x0:x1] & (smallest[y0:y1, x0:x1] == k)
        out.append(_tidy(mine))
    return out
