"""One preprocessing function for training and inference: a chromosome on a 100 x 220 canvas.

The dataset of Hu et al. stores every chromosome dark on white, centred on a 100 wide x 220 high
canvas at the scale of its karyogram. :func:`chromosome_canvas` makes the same canvas from any
image and label mask, so the classifier sees training and new karyograms alike.

Mask convention for dataset GIFs: the chromosome is the pixels darker than 245
(:data:`DATASET_MASK_THRESHOLD`). The GIFs carry a faint halo of 245…254 around each chromosome;
it is background and becomes white (255). A dataset GIF passed through
``chromosome_canvas(gif, gif < 245)`` comes back pixel for pixel, except that halo.
Centring puts the crop's top-left corner at ``((220 - h) // 2, (100 - w) // 2)``, the rule the
dataset itself follows.
"""

from __future__ import annotations

import numpy as np

from napari_karyotype.errors import KaryotypeError

CANVAS_SHAPE = (220, 100)
"""(height, width) of the canvas: the classifier's input."""

DATASET_MASK_THRESHOLD = 245
"""A dataset GIF's chromosome mask is ``gif < 245`` (uint8)."""


def as_unit_float(image: np.ndarray) -> np.ndarray:
    """2-D float32 in [0, 1]: uint8 divided by 255, 16-bit by 65535, floats clipped."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise KaryotypeError(f"expected a 2-D grey image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(65535)
    if image.dtype == bool:
        return image.astype(np.float32)
    out = image.astype(np.float32)
    if out.size and out.max() > 1.0 + 1e-6:  # integer-valued data in a float or wide int array
        out = out / np.float32(255 if out.max() <= 255 else 65535)
    return np.clip(out, 0.0, 1.0)


def dataset_mask(image: np.ndarray) -> np.ndarray:
    """The chromosome mask of a dataset GIF (uint8 or [0, 1] float): pixels darker than 245."""
    return as_unit_float(image) < DATASET_MASK_THRESHOLD / 255 - 1e-6


def _fit(crop: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample crop and mask by ``scale``, then shrink (keeping aspect) to fit the canvas."""
    from skimage.transform import resize

    h, w = crop.shape
    factor = float(scale)
    fit = min(CANVAS_SHAPE[0] / (h * factor), CANVAS_SHAPE[1] / (w * factor), 1.0)
    factor *= fit
    if abs(factor - 1.0) < 1e-9:
        return crop, mask
    # The crop is white outside the mask already, so its edges blend towards white.
    new_h = min(CANVAS_SHAPE[0], max(1, round(h * factor)))
    new_w = min(CANVAS_SHAPE[1], max(1, round(w * factor)))
    crop = resize(crop, (new_h, new_w), order=1, anti_aliasing=factor < 1, mode="edge")
    weight = resize(mask.astype(np.float32), (new_h, new_w), order=1, anti_aliasing=factor < 1)
    return crop.astype(np.float32), weight >= 0.5


def chromosome_canvas(image: np.ndarray, mask: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The chromosome under ``mask`` centred on a white 220 x 100 canvas, float32 in [0, 1].

    ``image``: 2-D, float in [0, 1] or integer, dark chromosomes on white (a light-on-dark crop is
    inverted). ``mask``: boolean (or label) array of the image's shape selecting one chromosome.
    Pixels outside the mask become white. ``scale`` resamples the crop first (e.g. 0.5 for a
    karyogram imaged at twice the dataset's magnification); a crop still larger than the canvas
    is shrunk, keeping its aspect ratio.
    """
    img = as_unit_float(image)
    mask = np.asarray(mask)
    if mask.shape != img.shape:
        raise KaryotypeError(f"mask shape {mask.shape} does not match image shape {img.shape}")
    mask = mask.astype(bool)
    if not mask.any():
        raise KaryotypeError("the chromosome mask is empty")
    if not np.isfinite(scale) or scale <= 0:
        raise KaryotypeError(f"scale must be a positive number, got {scale}")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = img[r0:r1, c0:c1]
    sub = mask[r0:r1, c0:c1]
    # the background around the chromosome: its bounding box grown by 5 pixels, minus the mask
    g0, g1 = max(r0 - 5, 0), min(r1 + 5, img.shape[0])
    h0, h1 = max(c0 - 5, 0), min(c1 + 5, img.shape[1])
    outside = img[g0:g1, h0:h1][~mask[g0:g1, h0:h1]]
    if outside.size and np.median(crop[sub]) > np.median(outside):
        crop = 1.0 - crop  # light on dark: make it dark on white
    crop = np.where(sub, crop, np.float32(1.0)).astype(np.float32)
    crop, sub = _fit(crop, sub, scale)
    crop = np.where(sub, crop, np.float32(1.0))
    canvas = np.ones(CANVAS_SHAPE, dtype=np.float32)
    h, w = crop.shape
    top, left = (CANVAS_SHAPE[0] - h) // 2, (CANVAS_SHAPE[1] - w) // 2
    canvas[top : top + h, left : left + w] = crop
    return np.clip(canvas, 0.0, 1.0)


def dataset_canvas(gif: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A dataset GIF through :func:`chromosome_canvas` with its :func:`dataset_mask`."""
    return chromosome_canvas(gif, dataset_mask(gif), scale=scale)


def canvas_stats(canvases: np.ndarray) -> dict[str, float]:
    """Median chromosome area and length (pixels) of canvases, for scale estimation.

    A chromosome pixel is one darker than 245/255; the length is the height of its bounding box.
    """
    m = np.asarray(canvases) < DATASET_MASK_THRESHOLD / 255 - 1e-6
    area = m.sum(axis=(1, 2))
    rows = m.any(axis=2)
    has = rows.any(axis=1)
    first = rows.argmax(axis=1)
    last = rows.shape[1] - 1 - rows[:, ::-1].argmax(axis=1)
    length = np.where(has, last - first + 1, 0)
    return {
        "median_area_px": float(np.median(area)),
        "median_length_px": float(np.median(length)),
        "median_width_px": float(np.median(m.any(axis=1).sum(axis=1))),
    }
