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


def rank_scalars(proto) -> int:
    """Give each one-value float constant of an element-wise ``Mul``/``Add``/``Sub``/``Div`` the
    rank of the other operand (``()`` -> ``(1, 1, 1, 1)``); returns how many were changed.

    The same arithmetic, but ONNX Runtime (1.32, CPU) broadcasts a 0-d constant value by value,
    about 40x slower than one of the operand's rank: Keras' ``Rescaling`` of the input canvas was
    a fifth of the classifier's time."""
    import onnx
    from onnx import numpy_helper

    ranks = {}
    inferred = onnx.shape_inference.infer_shapes(proto).graph
    for info in [*inferred.value_info, *inferred.input, *inferred.output]:
        if info.type.tensor_type.HasField("shape"):
            ranks[info.name] = len(info.type.tensor_type.shape.dim)
    constants = {c.name: c for c in proto.graph.initializer}
    changed = 0
    for node in proto.graph.node:
        if node.op_type not in ("Mul", "Add", "Sub", "Div") or len(node.input) != 2:
            continue
        for k, name in enumerate(node.input):
            const, rank = constants.get(name), ranks.get(node.input[1 - k], 0)
            if (const is None or const.data_type != onnx.TensorProto.FLOAT
                    or int(np.prod(const.dims)) != 1 or rank <= len(const.dims)):  # fmt: skip
                continue
            value = numpy_helper.to_array(const).reshape([1] * rank)
            ranked = numpy_helper.from_array(value, f"{name}__rank{rank}")
            if ranked.name not in constants:
                proto.graph.initializer.append(ranked)
                constants[ranked.name] = ranked
            node.input[k] = ranked.name
            changed += 1
    used = {name for node in proto.graph.node for name in node.input}
    unused = [c for c in proto.graph.initializer if c.name not in used]
    for const in unused:
        proto.graph.initializer.remove(const)
    return changed


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
    rank_scalars(proto)
    onnx.helper.set_model_props(proto, {SOURCE_KEY: file_sha256(keras_path)})
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    onnx.save(proto, str(part))
    os.replace(part, out)
    return out
