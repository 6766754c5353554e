"""Chromosome candidates in the segmenter's maps, and the learned rescoring that keeps them.

A chromosome touching others often gets a low centre peak: a fixed peak height either loses it
(0.3: a quarter of the chromosomes of the validation spreads) or keeps every low bump beside it
(0.1: 18 extra boxes a spread). So every peak over :data:`LEVEL` is a **candidate**, with its
box, and a logistic model learned on labelled spreads (``training.spread_rescore``) gives each
the chance of being a chromosome of its own from what is around it: its height, how much of its
box's core is chromosome, how much a stronger box covers it, how near the nearest stronger
centre is, its size against the spread's typical chromosome and its elongation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PEAK = 0.3
"""A centre heatmap peak this high or more is a chromosome."""

SAME_BOX = 0.7
"""A box whose intersection with a stronger box covers this share of the smaller is the same
chromosome found twice."""

LEVEL = 0.08
"""Every centre heatmap peak this high or more is a candidate (0.987 of the chromosomes of the
validation spreads have one)."""

STRONG = 0.3
"""Peaks this high or more set the spread's typical chromosome size."""

FEATURES = (
    "log-odds of the peak height",
    "chromosome chance in the box's central half",
    "share of the smaller box covered by a stronger one",
    "largest IoU with a stronger box",
    "log distance to the nearest stronger centre, in box sizes",
    "log area against the typical chromosome",
    "the same, where smaller (0 otherwise)",
    "log elongation of the box",
    "chromosome chance at the peak",
    "log-odds x covered share",
    "covered share squared",
    "log area squared",
)


def peaks(centre: np.ndarray, level: float = PEAK) -> np.ndarray:
    """``(n, 3)`` rows ``(row, col, height)`` of the heatmap's local maxima over ``level``,
    highest first."""
    from scipy import ndimage as ndi

    top = (centre == ndi.maximum_filter(centre, 3)) & (centre >= level)
    rr, cc = np.nonzero(top)
    order = np.argsort(-centre[rr, cc])
    return np.stack([rr[order], cc[order], centre[rr[order], cc[order]]], 1)


def boxes_from_maps(centre: np.ndarray, log_size: np.ndarray, level: float = PEAK):
    """``[(score, (r, c), (r0, c0, r1, c1))]`` in the net frame, duplicates dropped: a peak whose
    box lies mostly (:data:`SAME_BOX` of the smaller) in a higher peak's box of about its size
    (at least half the larger's area; not a small chromosome inside a long one's box) is that
    chromosome again."""
    found = []
    kept = np.zeros((0, 4))
    for r, c, s in peaks(centre, level):
        r, c = int(r), int(c)
        h, w = np.exp(log_size[r, c])
        box = (r + 0.5 - h / 2, c + 0.5 - w / 2, r + 0.5 + h / 2, c + 0.5 + w / 2)
        if len(kept):  # against all kept boxes at once: a faint spread has thousands of peaks
            area, areas = h * w, (kept[:, 2] - kept[:, 0]) * (kept[:, 3] - kept[:, 1])
            inter = intersections(np.array([box], float), kept)[0]
            small, large = np.minimum(area, areas), np.maximum(area, areas)
            same = (inter / np.maximum(small, 1e-6) >= SAME_BOX) & (small >= 0.5 * large)
            if same.any():
                continue
        found.append((float(s), (r, c), box))
        kept = np.vstack([kept, box])
    return found


@dataclass
class Candidate:
    """A centre peak (net frame): its height, position and box ``(r0, c0, r1, c1)``."""

    height: float
    peak: tuple[int, int]
    box: tuple[float, float, float, float]


def candidates(chrom, centre, log_size, level: float = LEVEL):
    """``(candidates, features (n, len(FEATURES)))`` of one spread's maps, highest first."""
    found = [Candidate(s, p, b) for s, p, b in boxes_from_maps(centre, log_size, level)]
    if not found:
        return [], np.zeros((0, len(FEATURES)), np.float32)
    boxes = np.array([c.box for c in found], float)
    heights = np.array([c.height for c in found])
    peaks = np.array([c.peak for c in found], float)
    area = np.clip((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0, None)
    strong = heights >= STRONG
    typical = np.median(np.log(area[strong])) if strong.any() else np.median(np.log(area))
    inter = intersections(boxes)
    stronger = heights[None, :] > heights[:, None]  # [i, j]: j is stronger than i
    covered = np.where(stronger, inter / np.minimum(area[:, None], area[None, :]), 0).max(1)
    iou = np.where(stronger, inter / (area[:, None] + area[None, :] - inter), 0).max(1)
    dist = np.linalg.norm(peaks[:, None] - peaks[None], axis=2)
    near = np.where(stronger, dist, 99.0 * np.sqrt(area)[:, None]).min(1) / np.sqrt(area)
    core = np.array([_core(chrom, b) for b in boxes])
    at_peak = chrom[peaks[:, 0].astype(int), peaks[:, 1].astype(int)]
    hh, ww = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    elongation = np.maximum(hh, ww) / np.clip(np.minimum(hh, ww), 1.0, None)
    odds = np.log(np.clip(heights, 1e-4, 1 - 1e-4) / np.clip(1 - heights, 1e-4, None))
    size = np.log(area) - typical
    x = np.stack(
        [odds, core, covered, iou, np.log(np.clip(near, 0.05, 20.0)), size,
         np.minimum(size, 0.0), np.log(elongation), at_peak, odds * covered, covered**2,
         size**2], axis=1,
    )  # fmt: skip
    return found, x.astype(np.float32)


def intersections(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Overlap areas [i, j] of boxes ``a`` (n, 4) and ``b`` (m, 4; default ``a``), each
    (min row, min col, max row, max col)."""
    b = a if b is None else b
    y0 = np.maximum(a[:, None, 0], b[None, :, 0])
    x0 = np.maximum(a[:, None, 1], b[None, :, 1])
    y1 = np.minimum(a[:, None, 2], b[None, :, 2])
    x1 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)


def _core(chrom: np.ndarray, box) -> float:
    """Mean chromosome chance in the box's central half (each side)."""
    h, w = chrom.shape
    r0, c0, r1, c1 = box
    a0, a1 = int(max((3 * r0 + r1) / 4, 0)), int(min((r0 + 3 * r1) / 4 + 1, h))
    b0, b1 = int(max((3 * c0 + c1) / 4, 0)), int(min((c0 + 3 * c1) / 4 + 1, w))
    part = chrom[a0:a1, b0:b1]
    return float(part.mean()) if part.size else 0.0


@dataclass
class Rescorer:
    """A logistic model over :data:`FEATURES` (standardised by ``mean`` and ``scale``); a
    candidate whose chance reaches ``keep`` is a chromosome. ``views``: the segmenter's maps it
    learned from were averaged over this many views of the spread (``spread_model.VIEWS``)."""

    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    keep: float = 0.5
    views: int = 1

    def chance(self, x: np.ndarray) -> np.ndarray:
        z = self.weights[0] + ((x - self.mean) / self.scale) @ self.weights[1:]
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        data = {"features": list(FEATURES), "keep": self.keep, "views": self.views}
        data.update({k: getattr(self, k).tolist() for k in ("weights", "mean", "scale")})
        path.write_text(json.dumps(data, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Rescorer:
        from napari_karyotype.errors import KaryotypeError

        try:
            data = json.loads(Path(path).read_text())
            if tuple(data["features"]) != FEATURES:
                raise ValueError("made for other features")
            arrays = {k: np.asarray(data[k], np.float64) for k in ("weights", "mean", "scale")}
            keep, views = float(data["keep"]), int(data.get("views", 1))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise KaryotypeError(f"{path}: not a candidate rescorer ({err})") from None
        return cls(keep=keep, views=views, **arrays)


def rescorer_path(model: str | Path) -> Path:
    """Where the rescorer of the segmenter at ``model`` lives: beside it."""
    model = Path(model)
    return model.with_name(model.stem + ".rescore.json")
