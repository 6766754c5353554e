"""Training targets for the metaphase segmenter, from boxes (the only truth a VOC set gives).

Each annotated spread is read as the plugin reads any spread
(:func:`~.segmentation.spread.read_spread`: its own background, contrast and chromosome width),
then:

* **chromosome pixels** (``fg``): the ink darker than the cell's Otsu level (taken over its boxes
  and their surroundings) in dark components that lie mostly (:data:`INSIDE`) inside the union of
  the boxes, cut to the boxes. Nuclei, debris and stain blobs, which no box holds, are background:
  the network learns to leave them out;
* **boxes** in the segmenter's frame, from which :func:`draw_centres` makes the centre heatmap and
  the box-size targets of a (cropped, flipped, turned) training window.

Prepared spreads are cached as one npz (:func:`prepare_folder`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

INSIDE = 0.5
"""A dark component is a chromosome's (or part of one) when this share of it lies in boxes."""

SIGMA = 2.0
"""Standard deviation (net px) of each centre's Gaussian in the heatmap."""


def chromosome_pixels(ink: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Bool mask of chromosome pixels of a spread in the net frame; ``boxes`` (n, 4) as
    ``(r0, c0, r1, c1)`` net pixels, end-exclusive."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    smooth = ndi.gaussian_filter(ink, 0.7)
    h, w = ink.shape
    in_box = np.zeros((h, w), bool)
    around = np.zeros((h, w), bool)
    for r0, c0, r1, c1 in np.round(boxes).astype(int):
        in_box[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)] = True
        around[max(r0 - 3, 0) : max(r1 + 3, 0), max(c0 - 3, 0) : max(c1 + 3, 0)] = True
    values = smooth[around] if around.any() else smooth.ravel()
    level = float(np.clip(threshold_otsu(values), 0.15, 0.6)) if values.size > 1 else 0.3
    dark = smooth > level
    lab, n = ndi.label(dark)
    if n == 0:
        return dark
    inside = np.bincount(lab[in_box], minlength=n + 1)
    total = np.bincount(lab.ravel(), minlength=n + 1)
    own = inside >= INSIDE * np.maximum(total, 1)
    own[0] = False
    return ndi.binary_fill_holes(own[lab] & in_box)


def draw_centres(shape: tuple[int, int], boxes: np.ndarray, sigma: float = SIGMA):
    """``(heat, size, where)`` of boxes in a window: the Gaussian centre heatmap (peak 1 at each
    box's centre pixel), log box height and width at and next to each centre, and where the size
    is given."""
    h, w = shape
    heat = np.zeros((h, w), np.float32)
    size = np.zeros((h, w, 2), np.float32)
    where = np.zeros((h, w), np.float32)
    rad = int(3 * sigma)
    yy, xx = np.mgrid[-rad : rad + 1, -rad : rad + 1]
    blob = np.exp(-(yy**2 + xx**2) / (2 * sigma**2)).astype(np.float32)
    for r0, c0, r1, c1 in boxes:
        cy, cx = int((r0 + r1) / 2), int((c0 + c1) / 2)
        if not (0 <= cy < h and 0 <= cx < w):
            continue
        y0, y1 = max(cy - rad, 0), min(cy + rad + 1, h)
        x0, x1 = max(cx - rad, 0), min(cx + rad + 1, w)
        part = blob[y0 - cy + rad : y1 - cy + rad, x0 - cx + rad : x1 - cx + rad]
        heat[y0:y1, x0:x1] = np.maximum(heat[y0:y1, x0:x1], part)
        s0, s1, t0, t1 = max(cy - 1, 0), min(cy + 2, h), max(cx - 1, 0), min(cx + 2, w)
        size[s0:s1, t0:t1] = np.log([max(r1 - r0, 1.0), max(c1 - c0, 1.0)])
        where[s0:s1, t0:t1] = 1.0
    return heat, size, where


def prepare_image(path: Path, xml: Path):
    """``(ink uint8, fg uint8, boxes float32 (n, 4) r0 c0 r1 c1, factor)`` of one spread."""
    from napari_karyotype.datasets.taichung import read_boxes
    from napari_karyotype.image.io import read_karyogram
    from napari_karyotype.segmentation.spread import read_spread

    spread = read_spread(read_karyogram(path).image)
    f = spread.factor
    boxes = np.array(
        [(y0 * f, x0 * f, y1 * f, x1 * f) for _c, x0, y0, x1, y1 in read_boxes(xml)], np.float32
    ).reshape(-1, 4)
    fg = chromosome_pixels(spread.ink, boxes)
    ink8 = np.round(np.clip(spread.ink / 1.5, 0, 1) * 255).astype(np.uint8)
    return ink8, fg.astype(np.uint8), boxes, f


def _prepare(pair):
    return prepare_image(*pair)


def prepare_folder(
    folder: str | Path, cache: str | Path, ids: list[str] | None = None, workers: int = 1
) -> Path:
    """Prepare every annotated spread of a Taichung-layout folder into one npz at ``cache``."""
    folder, cache = Path(folder), Path(cache)
    if cache.is_file():
        return cache
    pairs, names = [], []
    for xml in sorted((folder / "annotations").glob("*.xml")):
        img = folder / "images" / f"{xml.stem}.jpg"
        if (ids is None or xml.stem in ids) and img.is_file():
            pairs.append((img, xml))
            names.append(xml.stem)
    if workers > 1 and len(pairs) >= 50 * workers:  # worth starting processes for
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        spawn = multiprocessing.get_context("spawn")  # no fork of a process holding TensorFlow
        with ProcessPoolExecutor(workers, mp_context=spawn) as pool:
            done = list(pool.map(_prepare, pairs, chunksize=8))
    else:
        done = [_prepare(p) for p in pairs]
    inks, fgs, boxes, factors = (list(x) for x in zip(*done, strict=True)) if done else ([],) * 4
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        cache,
        names=np.array(names),
        factors=np.array(factors, np.float32),
        shapes=np.array([i.shape for i in inks]),
        ink=np.concatenate([i.ravel() for i in inks]),
        fg=np.concatenate([g.ravel() for g in fgs]),
        nboxes=np.array([len(b) for b in boxes]),
        boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32),
    )
    return cache


def load_prepared(cache: str | Path) -> list[dict]:
    """The spreads of a :func:`prepare_folder` cache: ``name, factor, ink, fg, boxes`` each."""
    with np.load(cache) as npz:
        z = {k: npz[k] for k in npz.files}  # each read of an npz member decompresses it
    out, p, q = [], 0, 0
    for name, f, (h, w), nb in zip(z["names"], z["factors"], z["shapes"], z["nboxes"], strict=True):
        n = int(h) * int(w)
        out.append(
            {
                "name": str(name),
                "factor": float(f),
                "ink": z["ink"][p : p + n].reshape(h, w),
                "fg": z["fg"][p : p + n].reshape(h, w),
                "boxes": z["boxes"][q : q + nb],
            }
        )
        p += n
        q += int(nb)
    return out
