"""Read karyogram images into one convention: 2-D float32 in [0, 1], dark chromosomes on light.

Any 8/16-bit, integer or float image, grey, RGB or RGBA (PNG, JPEG, TIFF, BMP, GIF). TIFFs of any
common compression (LZW, Deflate, JPEG, PackBits, Zstd, LZMA: workstation exports) decode through
``imagecodecs``. A fluorescent
(Q-banded) karyogram, light chromosomes on a dark background, is inverted (``inverted=True``).
A faint (underexposed) page is stretched about its background level (:data:`FAINT_CONTRAST`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_karyotype.errors import KaryotypeError

MAX_PIXELS = 50_000_000
"""Largest image accepted (height x width), checked from the file header before decoding.

A karyogram is a few megapixels at most; 50 MP (e.g. 7000 x 7000) keeps memory use bounded."""

MIN_SIDE = 16
"""Smallest height or width accepted, in pixels."""

FAINT_CONTRAST = 0.4
"""A page whose darkest ink (0.1 percentile) lies less than this below the background is faint
(underexposed, or a dim fluorescent capture): a well exposed karyogram's ink spans 0.6 or more."""

STRETCH_CONTRAST = 0.7
"""A faint page is stretched about its background until its darkest ink lies this far below it."""


@dataclass
class Karyogram:
    """A karyogram in the package's convention."""

    image: np.ndarray
    """2-D float32 in [0, 1], dark chromosomes on a light background."""
    inverted: bool
    """True if the input was light on dark (fluorescent) and has been inverted."""
    source: str | None = None
    """The file it came from, if any."""
    chroma: np.ndarray | None = None
    """Per-pixel colourfulness of a colour input (max - min of R, G, B, in [0, 1]), None for a
    grey one: chromosomes are grey, coloured pixels are marks (``segmentation.page``)."""


def _header_shape(path: Path) -> tuple[int, ...] | None:
    """The image's (height, width[, ...]) from its header without decoding pixels, if known."""
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                return tuple(int(s) for s in series.shape)
        except Exception:  # noqa: BLE001 - any parse failure is reported when decoding
            return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
            n = getattr(im, "n_frames", 1)
            return (n, h, w) if n > 1 else (h, w)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _check_size(shape: tuple[int, ...], name: str) -> None:
    if len(shape) >= 2:
        if len(shape) == 3 and shape[-1] in (3, 4):
            h, w = shape[:2]
        elif len(shape) == 3 and shape[0] in (3, 4) and shape[1] > 4 and shape[2] > 4:
            h, w = shape[1:]
        else:
            h, w = shape[-2:]
        if h * w > MAX_PIXELS:
            raise KaryotypeError(
                f"{name}: image is {w} x {h} pixels, larger than the limit of "
                f"{MAX_PIXELS / 1e6:.0f} megapixels"
            )


def read_karyogram(path: str | Path) -> Karyogram:
    """Read a karyogram image file (PNG, JPEG, TIFF, BMP, GIF) into the package convention."""
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise KaryotypeError(f"{name}: no such file")
    if path.is_dir():
        raise KaryotypeError(f"{name}: is a folder, not an image file")
    if path.stat().st_size == 0:
        raise KaryotypeError(f"{name}: empty file")
    header = _header_shape(path)
    if header is not None:
        _check_size(header, name)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            data = tifffile.imread(path)
        else:
            import imageio.v3 as iio

            data = iio.imread(path)
    except KaryotypeError:
        raise
    except Exception as err:  # noqa: BLE001 - decoders raise many types; the user needs one line
        if "imagecodecs" in str(err):  # tifffile needs it for LZW, JPEG, Deflate... TIFFs
            raise KaryotypeError(
                f"{name}: compressed TIFF needs the imagecodecs package (pip install imagecodecs)"
            ) from None
        raise KaryotypeError(f"{name}: not a readable image ({err.__class__.__name__})") from None
    return as_karyogram(data, source=name)


def _to_grey(data: np.ndarray, name: str) -> np.ndarray:
    """A 2-D float64 grey image of a 2-D or RGB(A)-last array (single leading planes dropped)."""
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim == 3 and data.shape[-1] in (3, 4) and data.shape[0] > 4:
        rgb = data[..., :3].astype(np.float64)
        grey = rgb @ np.array([0.2125, 0.7154, 0.0721])
        if data.shape[-1] == 4:
            alpha = data[..., 3].astype(np.float64)
            amax = float(np.iinfo(data.dtype).max) if data.dtype.kind in "ui" else 1.0
            # Composite onto white: transparent pixels are background.
            a = np.clip(alpha / amax, 0, 1) if amax else np.ones_like(alpha)
            white = _white_level(data)
            grey = grey * a + white * (1 - a)
        return grey
    if data.ndim == 3 and data.shape[-1] == 1:
        return data[..., 0].astype(np.float64)
    if data.ndim == 3 and data.shape[-1] == 2 and data.shape[0] > 4:  # grey + alpha
        return _to_grey(np.dstack([data[..., 0]] * 3 + [data[..., 1]]), name)
    if data.ndim != 2:
        shape = " x ".join(str(s) for s in data.shape)
        raise KaryotypeError(
            f"{name}: not a 2-D image (array of shape {shape}); "
            "expected grey, RGB or RGBA, not a stack"
        )
    return data.astype(np.float64)


def _white_level(data: np.ndarray) -> float:
    if data.dtype == np.uint8:
        return 255.0
    if data.dtype.kind in "ui":
        return float(min(np.iinfo(data.dtype).max, max(int(data.max()), 1)))
    return 1.0


def as_karyogram(array, *, source: str | None = None) -> Karyogram:
    """Bring an in-memory image (e.g. a napari layer's data) into the package convention.

    Polarity: a karyogram is mostly background, so the median grey level decides: nearer the
    darkest than the lightest pixels means a dark background, a fluorescent image, which is
    inverted (``inverted=True``).
    """
    name = source or "image"
    data = np.asarray(array)
    if data.dtype == bool:
        data = data.astype(np.uint8) * 255
    if data.dtype.kind not in "uif":
        raise KaryotypeError(f"{name}: unsupported pixel type {data.dtype}")
    _check_size(data.shape, name)
    grey = _to_grey(data, name)
    chroma = _chroma(data)
    h, w = grey.shape
    if h < MIN_SIDE or w < MIN_SIDE:
        raise KaryotypeError(
            f"{name}: image is {w} x {h} pixels, too small (at least {MIN_SIDE} x {MIN_SIDE})"
        )
    if not np.isfinite(grey).all():
        raise KaryotypeError(f"{name}: image contains NaN or infinite values")
    # Scale to [0, 1] by the type's range (integers) or the data range (floats beyond [0, 1]).
    if data.dtype == np.uint8:
        grey /= 255.0
    elif data.dtype.kind in "ui":
        top = float(grey.max())
        # 16-bit images often use only 12 bits; scale by the smallest power of two above the max.
        bits = max(8, int(np.ceil(np.log2(top + 1)))) if top > 0 else 8
        grey /= float(2**bits - 1)
        lo_, hi_ = float(grey.min()), float(grey.max())
        if hi_ - lo_ > 0 and hi_ - lo_ < 0.5:
            grey = (grey - lo_) / (hi_ - lo_)
    else:
        lo_, hi_ = float(grey.min()), float(grey.max())
        if lo_ < 0 or hi_ > 1:
            grey = (grey - lo_) / (hi_ - lo_) if hi_ > lo_ else np.zeros_like(grey)
    grey = np.clip(grey, 0.0, 1.0)
    lo_, hi_ = float(grey.min()), float(grey.max())
    if hi_ - lo_ < 1e-3 or _almost_uniform(grey):
        level = "white" if hi_ > 0.5 else "black"
        raise KaryotypeError(f"{name}: image is blank (all {level}): nothing to segment")
    sample = grey[:: max(h // 512, 1), :: max(w // 512, 1)]
    background = float(np.median(sample))
    p1, p99 = np.percentile(sample, [1, 99])
    inverted = background < (p1 + p99) / 2
    if inverted:
        grey = 1.0 - grey
    grey = _stretch_faint(grey)
    return Karyogram(grey.astype(np.float32), bool(inverted), source, chroma)


def _stretch_faint(grey: np.ndarray) -> np.ndarray:
    """``grey`` (dark on light) with a faint page's contrast raised about its background level.

    Chromosomes of an underexposed page sit a few grey levels from the background: the contours
    break them at every pale band and the CNN, which learned well exposed cells, reads them as
    other classes. The gain brings the darkest ink (0.1 percentile, robust to a few hot pixels)
    to :data:`STRETCH_CONTRAST` below the background; a well exposed page comes back unchanged,
    and so does a page already stretched.
    """
    h, w = grey.shape
    sample = grey[:: max(h // 512, 1), :: max(w // 512, 1)]
    background = float(np.median(sample))
    contrast = background - float(np.percentile(sample, 0.1))
    if not 0.02 < contrast < FAINT_CONTRAST:
        return grey
    gain = STRETCH_CONTRAST / contrast
    return np.clip(background + (grey - background) * gain, 0.0, 1.0)


def _chroma(data: np.ndarray) -> np.ndarray | None:
    """max - min over R, G, B scaled to [0, 1] for a colour image; None for a grey one."""
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 3 or data.shape[-1] not in (3, 4) or data.shape[0] <= 4:
        return None
    rgb = data[..., :3]
    spread = rgb.max(axis=-1).astype(np.float32) - rgb.min(axis=-1).astype(np.float32)
    if not spread.any():
        return None  # grey stored as RGB
    top = float(np.iinfo(data.dtype).max) if data.dtype.kind in "ui" else 1.0
    if data.dtype.kind in "ui" and data.dtype != np.uint8:
        top = _white_level(data)
    return np.clip(spread / top, 0.0, 1.0)


def pack_chroma(chroma: np.ndarray) -> np.ndarray:
    """``Karyogram.chroma`` in a quarter of the memory (uint8; exact for 8-bit colour)."""
    return np.rint(np.asarray(chroma, np.float32) * 255.0).astype(np.uint8)


def unpack_chroma(packed: np.ndarray) -> np.ndarray:
    """The float chroma in [0, 1] of :func:`pack_chroma`."""
    return np.asarray(packed, np.float32) / np.float32(255.0)


def _almost_uniform(grey: np.ndarray) -> bool:
    """True if (nearly) every pixel has the same value: no objects to find."""
    sample = grey[:: max(grey.shape[0] // 512, 1), :: max(grey.shape[1] // 512, 1)]
    median = float(np.median(sample))
    return float(np.mean(np.abs(sample - median) > 0.02)) < 1e-4
