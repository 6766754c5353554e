"""Shared by the widget tests (imported by them): tiny Keras model, notifications, waits."""

from __future__ import annotations

import numpy as np

WORKER_TIMEOUT_MS = 120_000


def save_tiny_model(path) -> str:
    """A small untrained 24-class CNN over 220 x 100 canvases, saved as ``path`` (.keras).

    Its answers are arbitrary but deterministic: enough to drive the widgets' classification path
    with a model file the user picks, without the cost of training.
    """
    from napari_karyotype.classification.backend import import_tensorflow

    import_tensorflow()  # as every model load does: safe after a napari canvas exists
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.layers.Input((220, 100, 1)),
            keras.layers.Conv2D(4, 5, strides=4, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(24, activation="softmax"),
        ]
    )
    model.save(path)
    return str(path)


class Notes:
    """Records what the widgets show as napari notifications."""

    def __init__(self):
        self.errors: list[str] = []
        self.infos: list[str] = []


def capture_notifications(monkeypatch) -> Notes:
    from napari_karyotype._widgets import _common

    notes = Notes()
    monkeypatch.setattr(_common, "show_error", notes.errors.append)
    monkeypatch.setattr(_common, "show_info", notes.infos.append)
    return notes


def wait_worker(qtbot, widget, timeout=WORKER_TIMEOUT_MS) -> None:
    """Wait until the widget's worker has finished and its results are in the viewer."""
    qtbot.waitUntil(lambda: widget.worker is None, timeout=timeout)


def layer_state(viewer) -> list[tuple]:
    """A fingerprint of every layer (name, type, data, features) to check nothing changed."""
    out = []
    for layer in viewer.layers:
        data = layer.data
        if isinstance(data, list):
            digest = tuple(np.asarray(d).tobytes() for d in data)
        else:
            digest = np.asarray(data).tobytes()
        features = layer.features.to_csv() if hasattr(layer, "features") else ""
        out.append((layer.name, type(layer).__name__, digest, features))
    return out


def one_error(notes, *words) -> str:
    """The one error notification shown (one line, no traceback, naming ``words``); cleared."""
    assert len(notes.errors) == 1, notes.errors
    message = notes.errors[0]
    assert "\n" not in message and "Traceback" not in message
    for word in words:
        assert word in message, message
    notes.errors.clear()
    return message
