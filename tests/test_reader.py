"""The napari reader, called as a function (no viewer)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_karyotype._reader import get_reader, read_karyograms
from napari_karyotype.samples.synthetic import synthetic_karyogram


@pytest.fixture(scope="module")
def karyogram():
    return synthetic_karyogram(seed=0, scale=0.5).image


@pytest.fixture
def errors(monkeypatch):
    """Collect napari error notifications instead of showing them."""
    shown: list[str] = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    return shown


@pytest.mark.parametrize(
    "name", ["k.png", "k.PNG", "k.jpg", "k.jpeg", "k.tif", "k.TIFF", "k.bmp", "k.gif"]
)
def test_claims_image_files(name):
    assert get_reader(name) is read_karyograms
    assert get_reader(["a.png", name]) is read_karyograms


@pytest.mark.parametrize(
    "path", ["k.zip", "k.csv", "k", "k.png.txt", ["a.png", "b.csv"], [], None, 3]
)
def test_ignores_everything_else(path):
    assert get_reader(path) is None


def test_reads_a_png_karyogram(tmp_path, karyogram, errors):
    path = tmp_path / "cell 1.png"
    Image.fromarray(karyogram).save(path)
    [(data, meta, layer_type)] = get_reader(str(path))(str(path))
    assert layer_type == "image" and meta["name"] == "cell 1"
    assert data.dtype == np.float32 and data.shape == karyogram.shape
    assert np.allclose(data, karyogram / 255.0, atol=1e-6)
    assert meta["metadata"]["inverted"] is False and meta["metadata"]["source"] == str(path)
    assert errors == []


def test_light_on_dark_is_inverted_and_noted(tmp_path, karyogram, errors):
    path = tmp_path / "fluorescent.tif"
    tifffile.imwrite(path, (255 - karyogram).astype(np.uint16) * 257)
    [(data, meta, _)] = read_karyograms(str(path))
    assert meta["metadata"]["inverted"] is True
    assert np.abs(data - karyogram / 255.0).max() < 0.01  # dark chromosomes on light again
    assert errors == []


def test_unreadable_file_is_a_notification_not_a_traceback(tmp_path, karyogram, errors):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    assert read_karyograms(str(bad)) == [(None,)]  # napari: read, but no layer
    assert len(errors) == 1 and "broken.png" in errors[0] and "\n" not in errors[0]

    good = tmp_path / "good.bmp"
    Image.fromarray(karyogram).save(good)
    layers = read_karyograms([str(bad), str(good)])
    assert [m["name"] for _, m, _ in layers] == ["good"]
    assert len(errors) == 2


def test_blank_image_is_reported(tmp_path, errors):
    path = tmp_path / "white.gif"
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(path)
    assert read_karyograms(str(path)) == [(None,)]
    assert len(errors) == 1 and "blank" in errors[0]


def _plugin_manager():
    npe2 = pytest.importorskip("npe2")
    pm = npe2.PluginManager.instance()
    pm.discover()
    try:
        pm.get_manifest("napari-karyotype")
    except KeyError:
        pytest.skip("napari-karyotype manifest not installed")
    return npe2, pm


def test_npe2_manifest_routes_files_to_this_reader(tmp_path, karyogram):
    npe2, _ = _plugin_manager()
    path = tmp_path / "k.jpg"
    Image.fromarray(karyogram).save(path, quality=95)
    [(data, meta, layer_type)] = npe2.read([str(path)], stack=False, plugin_name="napari-karyotype")
    assert layer_type == "image" and data.shape == karyogram.shape
    assert meta["metadata"]["inverted"] is False


def test_npe2_manifest_sample_data():
    _, pm = _plugin_manager()
    contributions = {
        s.key: s for s in pm.get_manifest("napari-karyotype").contributions.sample_data
    }
    layers = pm.get_command(contributions["synthetic"].command).exec()
    assert [t for *_, t in layers] == ["image", "labels"]
    assert pm.get_command(contributions["hu2019"].command).python_name.endswith(
        "_sample_data:hu2019_sample"
    )


def test_a_colour_page_opened_grey_is_cleaned_as_analyze_cleans_it(tmp_path, karyogram, errors):
    """A red mark on a colour page is page furniture to the widgets as to ``analyze``."""
    from napari.layers import Image as ImageLayer

    from napari_karyotype._widgets._common import layer_karyogram
    from napari_karyotype.image.io import read_karyogram
    from napari_karyotype.segmentation.page import clean_page

    rgb = np.repeat(karyogram[..., None], 3, axis=-1)
    rgb[10:40, 10:120] = (200, 30, 30)  # a red arrow's shaft, as dark as a chromosome in grey
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    [(data, meta, _)] = read_karyograms(str(path))
    assert data.ndim == 2 and meta["metadata"]["chroma"].shape == data.shape
    opened = layer_karyogram(ImageLayer(data, metadata=meta["metadata"]))
    read = read_karyogram(path)
    assert np.array_equal(opened.chroma, read.chroma)
    assert np.array_equal(clean_page(opened.image, opened.chroma).image,
                          clean_page(read.image, read.chroma).image)  # fmt: skip
    assert errors == []
