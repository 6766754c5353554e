"""From the contours' foreground to one mask per chromosome, judged against the cell's own.

The foreground of every shape is cut into blobs; what a chromosome cannot be (debris, strokes of
printed text, lines) goes by size and thickness relative to the cell's median blob; touching
chromosomes are split (:mod:`.split`), unless the parts are sister chromatids of one chromosome.
All references are the cell's own (medians over the shapes segmented together), so the rules hold
at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from napari_karyotype.segmentation import split


@dataclass
class _Blob:
    region: int
    sl: tuple[slice, slice]
    mask: np.ndarray
    area: int
    thick: float
    parts: list = field(default_factory=list)


def chromosomes(regions, min_size: int | None, t_split: float) -> list[list[np.ndarray]]:
    """Per region ``(foreground, image crop)``, its chromosome masks (crop coordinates), each
    row read left to right."""
    blobs = [b for r, (fg, _) in enumerate(regions) for b in _blobs(r, fg)]
    cand = [b for b in blobs if b.area >= 16 and b.thick >= 1.5]
    out: list[list[np.ndarray]] = [[] for _ in regions]
    if not cand:
        return out
    ref_area = float(np.median([b.area for b in cand]))
    ref_thick = float(np.median([b.thick for b in cand]))
    limit = min_size if min_size is not None else max(16, 0.1 * ref_area)
    kept = [b for b in cand if b.area >= limit and b.thick >= 0.35 * ref_thick]
    for b in kept:
        crop = regions[b.region][1][b.sl]
        b.parts = split.valley_split(b.mask, crop, t_split, max(limit, 0.15 * b.area))
    # Sister chromatids or homologs? Judged against the chromosomes that stand alone.
    singles = [(split.length(b.mask), split.width(b.mask)) for b in kept if len(b.parts) == 1]
    for b in kept:
        if len(b.parts) > 1 and not split.keep_split(b.parts, singles):
            b.parts = [b.mask]
    for b in kept:
        shape = regions[b.region][0].shape
        for part in b.parts:
            full = np.zeros(shape, bool)
            full[b.sl] = part
            out[b.region].append(full)
    for objs in out:
        # Left to right, then top to bottom: how one reads a karyogram row.
        objs.sort(
            key=lambda o: (np.flatnonzero(o.any(axis=0))[0], np.flatnonzero(o.any(axis=1))[0])
        )
    return out


def _blobs(region: int, fg: np.ndarray) -> list[_Blob]:
    lab, n = ndi.label(fg, structure=np.ones((3, 3), bool))
    out = []
    for i, sl in enumerate(ndi.find_objects(lab), 1):
        if sl is None:
            continue
        m = lab[sl] == i
        thick = float(ndi.distance_transform_edt(np.pad(m, 1)).max())
        out.append(_Blob(region, sl, m, int(m.sum()), thick))
    return out
