"""Reading karyogram images: formats, bit depths, colour, polarity and bad input."""

from __future__ import annotations

import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.image.io import MAX_PIXELS, as_karyogram, read_karyogram


def _karyogram_like(h=120, w=200):
    """Dark rounded bars on white, as uint8."""
    img = np.full((h, w), 250, np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for cx in (40, 80, 140):
        img[((xx - cx) / 12) ** 2 + ((yy - 60) / 40) ** 2 <= 1] = 60
    return img


@pytest.mark.parametrize(
    ("suffix", "convert"),
    [
        (".png", lambda a: a),
        (".png", lambda a: np.dstack([a, a, a, np.full_like(a, 255)])),  # RGBA
        (".jpg", lambda a: np.dstack([a, a, a])),
        (".bmp", lambda a: a),
        (".gif", lambda a: a),
        (".tif", lambda a: a.astype(np.uint16) * 257),
        (".tif", lambda a: (a / 255.0).astype(np.float32)),
        (".tif", lambda a: a.astype(np.uint16) * 16),  # 12-bit camera data in 16-bit
    ],
)
def test_formats_and_depths_read_as_dark_on_light(tmp_path, suffix, convert):
    src = _karyogram_like()
    path = tmp_path / f"k{suffix}"
    data = convert(src)
    if suffix == ".tif":
        tifffile.imwrite(path, data)
    else:
        iio.imwrite(path, data)
    k = read_karyogram(path)
    assert k.image.dtype == np.float32 and k.image.shape == src.shape
    assert 0.0 <= k.image.min() and k.image.max() <= 1.0
    assert not k.inverted
    assert k.source == str(path)
    chrom = src < 128
    assert k.image[chrom].mean() < 0.35 and k.image[~chrom].mean() > 0.9


def test_fluorescent_is_inverted(tmp_path):
    src = 255 - _karyogram_like()
    path = tmp_path / "q.png"
    iio.imwrite(path, np.dstack([src * 0, src, src * 0]))  # green on black
    k = read_karyogram(path)
    assert k.inverted
    chrom = _karyogram_like() < 128
    assert k.image[chrom].mean() < k.image[~chrom].mean()
    assert k.image[~chrom].mean() > 0.9


def test_as_karyogram_handles_rgba_transparency_and_layers():
    src = _karyogram_like()
    rgba = np.dstack([src, src, src, np.full_like(src, 255)])
    rgba[:10, :, 3] = 0  # transparent strip: treated as background
    rgba[:10, :, :3] = 0
    k = as_karyogram(rgba)
    assert k.image[:10].min() > 0.9 and not k.inverted
    assert as_karyogram(src[None]).image.shape == src.shape  # a 1-plane stack is fine


def _png_header_only(path, w, h):
    """A PNG whose header claims w x h (the pixel data is never decoded)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_bad_files_give_one_line_errors(tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    tiny = tmp_path / "tiny.png"
    iio.imwrite(tiny, np.zeros((1, 1), np.uint8))
    white = tmp_path / "white.png"
    iio.imwrite(white, np.full((100, 100), 255, np.uint8))
    black = tmp_path / "black.tif"
    tifffile.imwrite(black, np.zeros((100, 100), np.uint16))
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.stack([_karyogram_like()] * 5))
    huge = tmp_path / "huge.png"
    _png_header_only(huge, 10_000, 10_000)
    expected = {
        corrupt: "not a readable image",
        text: "not a readable image",
        empty: "empty file",
        tiny: "too small",
        white: "nothing to segment",
        black: "nothing to segment",
        stack: "not a 2-D image",
        huge: "larger than the limit",
        tmp_path / "missing.png": "no such file",
        tmp_path: "folder",
    }
    for path, words in expected.items():
        with pytest.raises(KaryotypeError) as err:
            read_karyogram(path)
        message = str(err.value)
        assert words in message and "\n" not in message and str(path) in message


def test_huge_array_is_refused_without_copying():
    side = int(np.sqrt(MAX_PIXELS)) + 100
    huge = np.broadcast_to(np.uint8(255), (side, side))  # no memory behind it
    with pytest.raises(KaryotypeError, match="larger than the limit"):
        as_karyogram(huge)


def test_bad_arrays():
    with pytest.raises(KaryotypeError, match="not a 2-D image"):
        as_karyogram(np.zeros((3, 50, 50, 2)))
    with pytest.raises(KaryotypeError, match="unsupported pixel type"):
        as_karyogram(np.full((50, 50), "a"))
    with pytest.raises(KaryotypeError, match="NaN"):
        img = _karyogram_like().astype(float)
        img[0, 0] = np.nan
        as_karyogram(img)


def test_bilevel_and_grey_alpha_images():
    src = _karyogram_like()
    k = as_karyogram(src > 128)  # a 1-bit image
    assert not k.inverted and k.image.min() == 0.0 and k.image.max() == 1.0
    la = np.dstack([src, np.full_like(src, 255)])
    np.testing.assert_allclose(as_karyogram(la).image, as_karyogram(src).image, atol=1e-6)


@pytest.mark.parametrize("compression", ["lzw", "deflate", "jpeg", "packbits", "zstd", "lzma"])
@pytest.mark.parametrize("rgb", [False, True])
def test_compressed_tiffs_read(tmp_path, compression, rgb):
    """Workstation exports are often LZW (or JPEG, Deflate, PackBits) TIFFs: all must read."""
    src = _karyogram_like()
    data = np.dstack([src, src, src]) if rgb else src
    path = tmp_path / f"k_{compression}.tif"
    tifffile.imwrite(path, data, compression=compression, photometric="rgb" if rgb else None)
    with tifffile.TiffFile(path) as tif:  # the file really is compressed so
        assert tif.pages[0].compression != 1
    k = read_karyogram(path)
    assert k.image.shape == src.shape and not k.inverted
    chrom = src < 128
    assert k.image[chrom].mean() < 0.35 and k.image[~chrom].mean() > 0.9


def test_faint_page_is_stretched_and_a_well_exposed_one_is_not():
    """An underexposed page (ink a few grey levels from the background) comes back with the
    contrast of a well exposed one; a well exposed page and an already stretched one unchanged."""
    src = _karyogram_like()
    chrom = src < 128
    normal = as_karyogram(src).image
    assert np.allclose(normal, src / 255.0, atol=1e-6)
    faint = (250 - (250 - src.astype(float)) * 0.15).astype(np.uint8)  # ink 27 levels deep
    k = as_karyogram(faint)
    assert not k.inverted
    assert k.image[~chrom].mean() > 0.9 and k.image[chrom].mean() < 0.35
    assert np.array_equal(as_karyogram(k.image).image, k.image)
    dim = (255 - src.astype(float)) * 0.2  # light on black, brightest ink at 0.15 of the range
    k = as_karyogram(dim.astype(np.uint8))
    assert k.inverted and k.image[chrom].mean() < 0.35 and k.image[~chrom].mean() > 0.9
