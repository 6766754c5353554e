"""The background of a dark-on-light karyogram: its level and noise; slow shading divided out."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

BACKGROUND_WINDOW = 151
"""Smallest window (px) of the background estimate for shading correction: wider than any
chromosome at the usual karyogram resolutions (chromosome 1 is 30-80 px wide)."""


def flatten_background(image: np.ndarray) -> np.ndarray:
    """Divide out slow background shading (uneven illumination or paper) of a dark-on-light image.

    The background is a grey closing (a max then min filter) wider than any chromosome, taken on
    a downsampled copy and smoothed; an evenly lit image comes back unchanged.
    """
    from skimage.transform import resize

    image = np.asarray(image, dtype=np.float32)
    h, w = image.shape
    f = max(1, min(h, w) // 120)
    hh, ww = h // f * f, w // f * f
    if hh == 0 or ww == 0:
        return image
    small = image[:hh, :ww].reshape(hh // f, f, ww // f, f).max(axis=(1, 3))
    span = max(min(h, w) / 6, BACKGROUND_WINDOW)  # wider than any chromosome
    if span >= 0.8 * min(h, w):
        return image  # too small an image to tell shading from objects
    size = max(3, int(span / f) | 1)
    bg = ndi.grey_closing(small, size=(size, size), mode="nearest")
    bg = ndi.gaussian_filter(bg, sigma=size / 4, mode="nearest")
    if float(bg.max() - bg.min()) < 0.02:
        return image  # evenly lit: nothing to correct
    bg = resize(bg, (h, w), order=1, mode="edge", anti_aliasing=False)
    bg = np.maximum(bg, 0.05)
    return np.clip(image / bg * float(np.median(bg)), 0.0, 1.0).astype(np.float32)


def background_level(image: np.ndarray) -> tuple[float, float]:
    """``(level, noise)`` of the background of a dark-on-light image: its mode and spread."""
    sample = image[:: max(image.shape[0] // 400, 1), :: max(image.shape[1] // 400, 1)]
    level = float(np.median(sample))
    bright = sample[sample >= level - 0.1]
    noise = 1.4826 * float(np.median(np.abs(bright - level))) if bright.size else 0.0
    return level, noise
