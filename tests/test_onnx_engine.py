"""Classifying and segmenting without TensorFlow: the ONNX twins compute what Keras computes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from napari_karyotype import CLASSES


def _canvases(n: int, seed: int = 0) -> np.ndarray:
    """Chromosome-like canvases: white, with a dark banded rod of random length."""
    rng = np.random.default_rng(seed)
    x = np.ones((n, 220, 100, 1), np.float32)
    for i in range(n):
        length, width = rng.integers(40, 200), rng.integers(10, 25)
        top, left = (220 - length) // 2, (100 - width) // 2
        bands = rng.uniform(0.1, 0.8, size=(length, 1))
        x[i, top : top + length, left : left + width, 0] = bands
    return x


def _keras(path):
    from napari_karyotype.classification.backend import import_keras

    return import_keras().models.load_model(path, compile=False)


def test_the_bundled_classifier_twin_is_current_and_agrees_with_keras():
    from napari_karyotype.classification import onnx_net
    from napari_karyotype.classification.model import bundled_model_path

    path = bundled_model_path()
    net = onnx_net.load(path)
    assert net is not None, "the bundled model must classify without TensorFlow"
    assert onnx_net.source_of(net.session) == onnx_net.file_sha256(path)
    x = _canvases(70)
    ours = net.predict_on_batch(x)
    theirs = np.asarray(_keras(path).predict_on_batch(x))
    assert ours.shape == (70, len(CLASSES)) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert np.array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))


def test_the_bundled_segmenter_twin_is_current_and_agrees_with_keras():
    from napari_karyotype.classification import onnx_net
    from napari_karyotype.segmentation.spread_model import bundled_segmenter

    path = bundled_segmenter()
    net = onnx_net.load(path, kind="segmenter")
    assert net is not None, "the bundled segmenter must run without TensorFlow"
    assert onnx_net.source_of(net.session) == onnx_net.file_sha256(path)
    rng = np.random.default_rng(2)
    x = (rng.uniform(size=(1, 96, 144, 1)) > 0.8).astype(np.float32)  # ink specks
    np.testing.assert_allclose(net(x), np.asarray(_keras(path)(x, training=False)), atol=1e-4)


def _small_model():
    """A small Keras classifier with weights far from their initial values (not saved)."""
    from napari_karyotype.classification.backend import import_keras

    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input((220, 100, 1))
    x = layers.AveragePooling2D(4)(inputs)
    x = layers.Conv2D(4, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(len(CLASSES), activation="softmax")(x))
    rng = np.random.default_rng(1)
    for layer in model.layers:
        layer.set_weights([rng.normal(0.5, 0.3, w.shape).astype(np.float32) ** 2
                           for w in layer.get_weights()])  # fmt: skip
    return model


def test_save_model_writes_a_twin_that_runs_the_same(tmp_path):
    from napari_karyotype.classification import onnx_net
    from napari_karyotype.classification.model import load_classifier, save_model

    path = tmp_path / "small.keras"
    model = _small_model()
    save_model(model, path, {"classes": list(CLASSES)})
    assert onnx_net.onnx_path(path).is_file()
    clf = load_classifier(path)
    assert isinstance(clf.model, onnx_net.OnnxNet)
    x = _canvases(9, seed=3)
    np.testing.assert_allclose(clf.predict_raw(x), model.predict_on_batch(x), atol=1e-5)


def test_without_a_current_twin_keras_runs_the_model(tmp_path):
    from napari_karyotype.classification import onnx_net
    from napari_karyotype.classification.model import load_classifier, sidecar_path

    path = tmp_path / "bare.keras"
    model = _small_model()
    model.save(path)
    sidecar_path(path).write_text(json.dumps({"classes": list(CLASSES)}))
    clf = load_classifier(path)  # no twin
    assert not isinstance(clf.model, onnx_net.OnnxNet)
    x = _canvases(3)
    np.testing.assert_allclose(clf.predict_raw(x), model.predict_on_batch(x), atol=1e-5)
    # a twin made from another file is not used
    other = tmp_path / "other.keras"
    _small_model().save(other)
    from napari_karyotype.classification.onnx_export import export_onnx

    export_onnx(other, out=onnx_net.onnx_path(path))
    with pytest.warns(UserWarning, match="made from another"):
        assert onnx_net.load(path) is None


def test_export_onnx_command_writes_the_twin(tmp_path):
    from napari_karyotype.classification import onnx_net
    from napari_karyotype.cli import main

    path = tmp_path / "m.keras"
    _small_model().save(path)
    assert main(["export-onnx", str(path)]) == 0
    net = onnx_net.load(path)
    assert net is not None and onnx_net.source_of(net.session) == onnx_net.file_sha256(path)


def _spread(path):
    """A light slide with eight dark rods at all angles (a small metaphase), saved as PNG."""
    from PIL import Image
    from skimage.draw import polygon

    img = np.full((300, 320), 0.92, np.float32)
    for k, (r, c) in enumerate([(50, 50), (50, 150), (50, 250), (140, 60), (140, 160),
                                (230, 50), (230, 150), (140, 260)]):  # fmt: skip
        a, half = np.radians(25 * k), (60 + 5 * k) / 2
        along = np.array([np.cos(a), np.sin(a)]) * half
        across = np.array([-np.sin(a), np.cos(a)]) * 5
        corners = np.array([(r, c) - along - across, (r, c) - along + across,
                            (r, c) + along + across, (r, c) + along - across])  # fmt: skip
        rr, cc = polygon(corners[:, 0], corners[:, 1], img.shape)
        img[rr, cc] = 0.25
    Image.fromarray((img * 255).astype(np.uint8)).save(path)


def test_analyze_on_karyograms_and_metaphases_imports_no_tensorflow(tmp_path):
    from PIL import Image

    from napari_karyotype.samples.synthetic import synthetic_karyogram

    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(synthetic_karyogram(seed=1).image).save(inputs / "karyogram.png")
    _spread(inputs / "metaphase.png")
    code = (
        "import sys;"
        "from napari_karyotype.cli import main;"
        f"code = main(['analyze', {str(inputs)!r}, '--out', {str(tmp_path / 'out')!r},"
        " '--workers', '1']);"
        "print(code, sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stderr
    kinds = (tmp_path / "out" / "summary.csv").read_text()
    assert "karyogram.png" in kinds and "metaphase.png" in kinds


def test_the_keras_engine_can_be_asked_for(monkeypatch):
    from napari_karyotype.classification import model as model_module
    from napari_karyotype.classification import onnx_net
    from napari_karyotype.segmentation import spread_model

    monkeypatch.setattr(model_module, "_CACHE", {})
    monkeypatch.setattr(spread_model, "_CACHE", {})
    monkeypatch.setenv(model_module.ENGINE_VARIABLE, "keras")
    clf = model_module.load_classifier()
    assert not isinstance(clf.model, onnx_net.OnnxNet)
    assert clf.predict_proba(_canvases(2)).shape == (2, len(CLASSES))
    seg = spread_model.load_segmenter()
    assert not isinstance(seg.model, onnx_net.OnnxNet)
    assert seg.maps(np.zeros((40, 56), np.float32))[2].shape == (40, 56, 2)


def test_a_worker_share_of_the_cores_sets_the_threads(monkeypatch):
    from napari_karyotype.classification import onnx_net

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert onnx_net.threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert onnx_net.threads() >= 1


def test_a_damaged_model_still_fails_with_one_line(tmp_path):
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.errors import KaryotypeError

    bad = tmp_path / "damaged.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(KaryotypeError, match="damaged.keras") as err:
        load_classifier(bad)
    assert "\n" not in str(err.value)
