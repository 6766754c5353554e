"""napari sample data providers: layer data tuples of the karyogram and its truth."""

from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np
import pytest

from napari_karyotype import CLASSES
from napari_karyotype._sample_data import hu2019_sample, synthetic_sample
from napari_karyotype.errors import KaryotypeError
from napari_karyotype.samples import fetch


def _check_layers(layers, name_part: str, n: int = 46):
    assert [t for _, _, t in layers] == ["image", "labels"]
    (image, image_meta, _), (labels, truth_meta, _) = layers
    assert image.dtype == np.uint8 and labels.dtype == np.int32 and image.shape == labels.shape
    assert name_part in image_meta["name"] and truth_meta["name"] == "truth"
    assert image_meta["metadata"]["inverted"] is False
    features = truth_meta["features"]
    assert {"label", "chromosome"} <= set(features.columns)
    ids = np.unique(labels)[1:]
    assert len(features) == len(ids) == n and sorted(features["label"]) == list(ids)
    assert set(features["chromosome"]) <= set(CLASSES)
    # The two largest objects are the chromosome 1 homologs.
    areas = np.bincount(labels.ravel())[1:]
    largest = np.argsort(areas)[-2:] + 1
    by_label = dict(zip(features["label"], features["chromosome"], strict=True))
    assert all(by_label[i] in ("1", "2") for i in largest)
    # The labels are dark objects on the white image.
    assert image[labels > 0].mean() < 180 < image[labels == 0].mean()
    return features


def test_synthetic_sample_layers():
    layers = synthetic_sample()
    features = _check_layers(layers, "synthetic")
    assert sorted(features["chromosome"]).count("Y") == 1
    rows = layers[0][1]["metadata"]["rows"]
    assert len(rows) == 4 and all(np.shape(r) == (4, 2) for r in rows)


def test_sample_layers_build_napari_layers():
    layers_mod = pytest.importorskip("napari.layers")
    image_data, labels_data = synthetic_sample()
    image = layers_mod.Layer.create(*image_data)
    truth = layers_mod.Layer.create(*labels_data)
    assert type(image).__name__ == "Image" and type(truth).__name__ == "Labels"
    assert truth.name == "truth" and not truth.visible
    row = truth.features[truth.features["label"] == 1]
    assert row["chromosome"].item() == "1"


@pytest.mark.data
def test_hu2019_sample_from_the_shared_copy(data_dir, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    layers = hu2019_sample()
    features = _check_layers(layers, fetch.SAMPLE_CELL)
    assert sorted(c for c in features["chromosome"] if c in "XY") == ["X", "Y"]


def test_hu2019_sample_offline_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(fetch.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr("napari_karyotype.datasets.chromosomes.shared_data_dir", lambda: None)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(KaryotypeError, match="offline") as err:
        hu2019_sample()
    assert "\n" not in str(err.value)
