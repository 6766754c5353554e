"""Classifying without TensorFlow: the NumPy network computes what Keras computes."""

from __future__ import annotations

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


def _keras_model(path, layers_of):
    import keras

    from napari_karyotype.classification.backend import import_keras

    import_keras()
    inputs = keras.Input((220, 100, 1))
    model = keras.Model(inputs, layers_of(inputs))
    rng = np.random.default_rng(1)
    for layer in model.layers:  # moving statistics and weights far from their initial values
        layer.set_weights([rng.normal(0.5, 0.3, w.shape).astype(np.float32) ** 2
                           for w in layer.get_weights()])  # fmt: skip
    model.save(path)
    return model


def test_bundled_model_runs_with_numpy_and_agrees_with_keras():
    from napari_karyotype.classification import numpy_net
    from napari_karyotype.classification.model import bundled_model_path, read_model_file

    net = numpy_net.load(bundled_model_path())
    assert net is not None, "the bundled model must classify without TensorFlow"
    keras_model = read_model_file(bundled_model_path())[0]
    x = _canvases(70)  # more than one Keras batch of 64
    ours = net.predict_on_batch(x)
    theirs = np.concatenate([np.asarray(keras_model.predict_on_batch(x[:64])),
                             np.asarray(keras_model.predict_on_batch(x[64:]))])  # fmt: skip
    assert ours.shape == (70, len(CLASSES)) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert np.array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))


def test_other_layer_settings_agree_with_keras(tmp_path):
    """Biases, a 5x5 'same' and a 3x3 'valid' convolution with their own activations, batch
    normalisation not after a convolution, flatten, a hidden dense layer: as Keras computes."""
    from keras import layers

    from napari_karyotype.classification import numpy_net

    def build(x):
        x = layers.AveragePooling2D(4)(x)
        x = layers.Conv2D(4, 5, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(3, 3, padding="valid")(x)
        x = layers.ReLU()(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(8, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
        return layers.Dense(len(CLASSES), activation="softmax")(x)

    path = tmp_path / "other.keras"
    model = _keras_model(path, build)
    net = numpy_net.load(path)
    assert net is not None
    x = _canvases(5, seed=3)
    # large activations (weights all positive): float32 sums in another order differ by ~1e-4
    theirs = model.predict_on_batch(x)
    np.testing.assert_allclose(net.predict_on_batch(x), theirs, rtol=2e-3, atol=1e-5)


def test_a_model_numpy_cannot_run_falls_back_to_keras(tmp_path):
    import json

    from keras import layers

    from napari_karyotype.classification import numpy_net
    from napari_karyotype.classification.model import load_classifier, sidecar_path

    def strided(x):
        x = layers.Conv2D(2, 3, strides=2)(x)
        x = layers.GlobalAveragePooling2D()(x)
        return layers.Dense(len(CLASSES), activation="softmax")(x)

    path = tmp_path / "strided.keras"
    model = _keras_model(path, strided)
    sidecar_path(path).write_text(json.dumps({"classes": list(CLASSES)}))
    assert numpy_net.load(path) is None
    clf = load_classifier(path)
    assert not isinstance(clf.model, numpy_net.NumpyNet)
    x = _canvases(3)
    np.testing.assert_allclose(clf.predict_raw(x), model.predict_on_batch(x), atol=1e-5)


def test_classifying_with_the_bundled_model_imports_no_tensorflow():
    code = (
        "import sys, numpy as np;"
        "from napari_karyotype.classification.model import load_classifier;"
        "p = load_classifier().predict_proba(np.ones((2, 220, 100), np.float32));"
        "assert p.shape == (2, 24);"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_keras_engine_can_be_asked_for(monkeypatch):
    from napari_karyotype.classification import model as model_module
    from napari_karyotype.classification import numpy_net

    monkeypatch.setattr(model_module, "_CACHE", {})
    monkeypatch.setenv(model_module.ENGINE_VARIABLE, "keras")
    clf = model_module.load_classifier()
    assert not isinstance(clf.model, numpy_net.NumpyNet)
    assert clf.predict_proba(_canvases(2)).shape == (2, len(CLASSES))


def test_a_damaged_model_still_fails_with_one_line(tmp_path):
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.errors import KaryotypeError

    bad = tmp_path / "damaged.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(KaryotypeError, match="damaged.keras") as err:
        load_classifier(bad)
    assert "\n" not in str(err.value)
