"""The retired NumPy engine: a saved Keras CNN run with NumPy matrix products alone.

It ran the bundled classifier from the package until ONNX Runtime replaced it (issue 28); it is
kept here only as one of the engines ``benchmarks/runtimes.py`` measures side by side. A ``.keras``
file is a zip of ``config.json`` (the layers) and ``model.weights.h5``; for a plain chain of the
layers our classifiers use (convolutions, batch normalisation, ReLU, pooling, dense) this module
reads both and computes the same outputs. :func:`load` returns None for any other model.
"""

from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

CHUNK = 4
"""Canvases per pass through the network."""
PATCH_BYTES = 1 << 20
"""About this many bytes of unfolded patches at a time (see :func:`_conv`)."""


class Unsupported(Exception):
    """The model uses something this module does not compute."""


def _conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, padding: str) -> np.ndarray:
    """2-D convolution, stride 1 (``kernel``: kh, kw, in, out), as matrix products.

    Each output pixel's neighbourhood is unfolded into one row of patches, a band of output rows
    at a time: bands of about :data:`PATCH_BYTES` stay in cache, which halves the time on the
    large early layers against unfolding the whole image at once."""
    kh, kw, cin, cout = kernel.shape
    if padding == "same":
        top, left = (kh - 1) // 2, (kw - 1) // 2
        x = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    n, h, w = x.shape[0], x.shape[1] - kh + 1, x.shape[2] - kw + 1
    weights = kernel.reshape(kh * kw * cin, cout)
    # the kw pixels side by side in a row are kw * cin contiguous values: one copy per kernel row
    rows = x.reshape(n, x.shape[1], -1)
    runs = np.lib.stride_tricks.sliding_window_view(rows, kw * cin, axis=2)[:, :, ::cin]
    band = max(1, min(h, PATCH_BYTES // (n * w * kh * kw * cin * 4)))
    patches = np.empty((n, band, w, kh * kw * cin), np.float32)
    out = np.empty((n, h, w, cout), np.float32)
    for r0 in range(0, h, band):
        r1 = min(h, r0 + band)
        part = patches[:, : r1 - r0]
        for dy in range(kh):
            part[..., dy * kw * cin : (dy + 1) * kw * cin] = runs[:, r0 + dy : r1 + dy]
        out[:, r0:r1] = (part.reshape(-1, kh * kw * cin) @ weights).reshape(n, r1 - r0, w, cout)
    out += bias
    return out


def _pool(x: np.ndarray, size: tuple[int, int], mean: bool) -> np.ndarray:
    """Non-overlapping pooling (stride = size, 'valid' padding): max, or mean."""
    (ph, pw), (h, w) = size, x.shape[1:3]
    h, w = h // ph * ph, w // pw * pw
    out = None
    for dy in range(ph):
        for dx in range(pw):
            part = x[:, dy:h:ph, dx:w:pw]
            if out is None:
                out = part.copy()
            elif mean:
                out += part
            else:
                np.maximum(out, part, out=out)
    return out * np.float32(1 / (ph * pw)) if mean else out


def _activate(x: np.ndarray, name: str) -> np.ndarray:
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0, out=x)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise Unsupported(f"activation {name}")


def _same(config: dict, key: str, value) -> None:
    if key in config and config[key] != value:
        raise Unsupported(f"{key}={config[key]}")


def _pool_step(layer: dict):
    config = layer["config"]
    size = tuple(config["pool_size"])
    _same(config, "padding", "valid")
    _same(config, "data_format", "channels_last")
    if tuple(config.get("strides") or size) != size:
        raise Unsupported("pooling with strides other than its size")
    mean = layer["class_name"] == "AveragePooling2D"
    return lambda x: _pool(x, size, mean)


class NumpyNet:
    """A chain of layers as NumPy functions; :meth:`predict_on_batch` as Keras names it."""

    def __init__(self, steps: list, input_shape: tuple, n_outputs: int):
        self.steps = steps
        self.input_shape = input_shape
        self.output_shape = (None, n_outputs)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """Outputs for ``x`` (n, *input_shape), float32; chunks of canvases on parallel threads."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == len(self.input_shape):
            x = x[..., None]
        chunks = [x[i : i + CHUNK] for i in range(0, len(x), CHUNK)]
        threads = min(len(chunks), _threads())
        if threads <= 1:
            out = [self._forward(chunk) for chunk in chunks]
        else:  # one BLAS thread per chunk: small products gain nothing from splitting further
            from concurrent.futures import ThreadPoolExecutor

            with _blas_controller().limit(limits=1, user_api="blas"):
                with ThreadPoolExecutor(threads) as pool:
                    out = list(pool.map(self._forward, chunks))
        return np.concatenate(out).astype(np.float32, copy=False)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        for step in self.steps:
            x = step(x)
        return x


@functools.cache
def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries (found once: the search takes a while)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # no longer a dependency of the plugin: BLAS threads as they are

        class ThreadpoolController:
            def limit(self, **_):
                import contextlib

                return contextlib.nullcontext()

    return ThreadpoolController()


def _threads() -> int:
    """Threads to classify with: the BLAS limit a batch worker set, else this process's cores."""
    limit = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if limit and limit.strip().isdigit():
        return max(1, int(limit))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _weights(archive: zipfile.ZipFile) -> dict[str, list[np.ndarray]]:
    """Each layer's variables by layer name, from ``model.weights.h5``."""
    import h5py

    found: dict[str, list[np.ndarray]] = {}
    with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        for group in h5["layers"].values():
            variables = group.get("vars")
            if variables is None or "name" not in variables.attrs:
                continue
            values = [np.asarray(variables[k], np.float32) for k in sorted(variables, key=int)]
            found[str(variables.attrs["name"])] = values
    return found


def _chain(layers: list[dict]) -> list[dict]:
    """The layers in order, checking that each takes the previous one's output alone."""
    previous = None
    for layer in layers:
        inbound = layer.get("inbound_nodes") or []
        sources = []
        for node in inbound:
            args = node.get("args", []) if isinstance(node, dict) else []
            for arg in args:
                if not isinstance(arg, dict) or "keras_history" not in arg.get("config", {}):
                    raise Unsupported("a layer with other than one tensor input")
                sources.append(arg["config"]["keras_history"][0])
        if previous is not None and sources != [previous]:
            raise Unsupported("not a plain chain of layers")
        previous = layer["config"]["name"]
    return layers


def _build(config: dict, weights: dict[str, list[np.ndarray]]) -> NumpyNet:
    if config.get("class_name") not in ("Functional", "Sequential"):
        raise Unsupported(config.get("class_name"))
    layers = _chain(config["config"]["layers"])
    steps: list = []
    input_shape: tuple | None = None
    n_outputs = None
    pending_conv = None  # (kernel, bias, padding, activation): folded with a following BN

    def flush():
        nonlocal pending_conv
        if pending_conv is not None:
            kernel, bias, padding, activation = pending_conv
            steps.append(lambda x: _activate(_conv(x, kernel, bias, padding), activation))
            pending_conv = None

    for layer in layers:
        kind, cfg = layer["class_name"], layer["config"]
        got = weights.get(cfg["name"], [])
        if kind != "BatchNormalization":
            flush()
        if kind == "InputLayer":
            input_shape = tuple(cfg.get("batch_shape") or cfg.get("batch_input_shape"))[1:]
        elif kind == "Rescaling":
            scale, offset = np.float32(cfg["scale"]), np.float32(cfg["offset"])
            steps.append(lambda x, s=scale, o=offset: x * s + o)
        elif kind in ("AveragePooling2D", "MaxPooling2D"):
            steps.append(_pool_step(layer))
        elif kind == "Conv2D":
            for key, value in (("strides", [1, 1]), ("dilation_rate", [1, 1]), ("groups", 1),
                               ("data_format", "channels_last")):  # fmt: skip
                _same(cfg, key, value)
            if cfg["padding"] not in ("same", "valid"):
                raise Unsupported(f"padding {cfg['padding']}")
            kernel = got[0]
            bias = got[1] if cfg.get("use_bias", True) else np.zeros(kernel.shape[-1], np.float32)
            pending_conv = [kernel, bias, cfg["padding"], cfg.get("activation", "linear")]
        elif kind == "BatchNormalization":
            _same(cfg, "axis", -1)
            gamma = got.pop(0) if cfg.get("scale", True) else None
            beta = got.pop(0) if cfg.get("center", True) else None
            mean, var = got
            factor = (gamma if gamma is not None else 1) / np.sqrt(var + np.float32(cfg["epsilon"]))
            shift = (beta if beta is not None else 0) - mean * factor
            if pending_conv is not None and pending_conv[3] == "linear":
                pending_conv[0] = pending_conv[0] * factor
                pending_conv[1] = pending_conv[1] * factor + shift
            else:
                flush()
                steps.append(lambda x, f=factor, s=shift: x * f + s)
        elif kind == "ReLU":
            for key, value in (("max_value", None), ("negative_slope", 0.0), ("threshold", 0.0)):
                _same(cfg, key, value)
            steps.append(lambda x: np.maximum(x, 0, out=x))
        elif kind == "GlobalAveragePooling2D":
            _same(cfg, "keepdims", False)
            steps.append(lambda x: x.mean(axis=(1, 2)))
        elif kind == "Flatten":
            steps.append(lambda x: x.reshape(len(x), -1))
        elif kind == "Dropout":
            continue  # inference: nothing
        elif kind == "Dense":
            kernel = got[0]
            bias = got[1] if cfg.get("use_bias", True) else np.zeros(kernel.shape[-1], np.float32)
            activation = cfg.get("activation", "linear")
            _activate(np.zeros((1, 1), np.float32), activation)  # unsupported: raise now
            steps.append(lambda x, k=kernel, b=bias, a=activation: _activate(x @ k + b, a))
            n_outputs = kernel.shape[-1]
        else:
            raise Unsupported(kind)
    flush()
    if input_shape is None or n_outputs is None:
        raise Unsupported("no input or no dense output")
    return NumpyNet(steps, input_shape, n_outputs)


def load(path: str | Path) -> NumpyNet | None:
    """The model at ``path`` as a :class:`NumpyNet`; None where it needs Keras to run."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            return _build(config, _weights(archive))
    except (Unsupported, KeyError, IndexError, ValueError, TypeError, OSError, zipfile.BadZipFile):
        return None
