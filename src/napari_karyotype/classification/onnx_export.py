"""Write a Keras model's ONNX twin ``M.onnx`` (run by :mod:`.onnx_net`).

Keras' own ONNX export (``model.export(format="onnx")``, through tf2onnx) converts the network;
the twin then records the SHA-256 of the ``.keras`` file it came from, which :func:`.onnx_net.load`
checks. ``train``, ``train-segmenter`` and ``napari-karyotype export-onnx`` call
:func:`export_onnx`; this module imports TensorFlow, the ONNX Runtime side never does.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from napari_karyotype.classification.onnx_net import SOURCE_KEY, file_sha256, onnx_path
from napari_karyotype.errors import KaryotypeError


def _example(model) -> np.ndarray:
    """A zero input of the model's shape (unknown sizes: 1 row, 32 pixels)."""
    shape = model.input_shape
    return np.zeros([1] + [d if d else 32 for d in shape[1:]], np.float32)


def export_onnx(keras_path: str | Path, out: str | Path | None = None, model=None) -> Path:
    """Convert the Keras model saved at ``keras_path`` (``model``: that model, loaded already)
    to ONNX at ``out`` (default ``M.onnx`` beside it); returns the path written."""
    from napari_karyotype.classification.backend import import_keras

    keras_path = Path(keras_path)
    if not keras_path.is_file():
        raise KaryotypeError(f"{keras_path}: model file not found")
    out = Path(out) if out is not None else onnx_path(keras_path)
    keras = import_keras()
    if model is None:
        try:
            model = keras.models.load_model(keras_path, compile=False)
        except Exception as err:  # noqa: BLE001 - any load failure is one line
            raise KaryotypeError(f"{keras_path}: not a readable Keras model ({err})") from None
    model(_example(model), training=False)  # Keras exports only a model that has been called
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():  # tf2onnx's NumPy 2 notices
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(raw), format="onnx", verbose=False)
        proto = onnx.load(str(raw))
    onnx.helper.set_model_props(proto, {SOURCE_KEY: file_sha256(keras_path)})
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    onnx.save(proto, str(part))
    os.replace(part, out)
    return out
