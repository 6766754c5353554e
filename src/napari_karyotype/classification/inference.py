"""Every Keras / TensorFlow call on one long-lived thread, with one fixed batch shape.

TensorFlow traces a graph the first time a model meets a new input shape. Traced from whatever
thread happened to classify (a new napari worker each time) while the GUI thread draws, that
tracing crashed napari (segmentation faults in ``tf.function`` graph building, a corrupted GIL).
Here a single daemon thread loads and runs every model, and each batch is padded to
:data:`BATCH` rows, so a model is traced once, on that thread, and never again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

BATCH = 64
"""Rows of every batch a model sees (shorter batches are padded with blank canvases)."""
THREAD_NAME = "karyotype-inference"
_LOCK = threading.Lock()
_EXECUTOR: ThreadPoolExecutor | None = None
T = TypeVar("T")


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        return _EXECUTOR


def on_inference_thread() -> bool:
    """Whether the caller is the inference thread itself."""
    return threading.current_thread().name.startswith(THREAD_NAME)


def run(func: Callable[..., T], *args, **kwargs) -> T:
    """``func(*args, **kwargs)`` on the inference thread; its value or its exception."""
    if on_inference_thread():
        return func(*args, **kwargs)
    return _executor().submit(func, *args, **kwargs).result()


def _predict(model, x: np.ndarray) -> np.ndarray:
    out = []
    for i in range(0, len(x), BATCH):
        chunk = x[i : i + BATCH]
        n = len(chunk)
        if n < BATCH:  # one input shape for every call: the model is traced once
            pad = np.zeros((BATCH - n, *chunk.shape[1:]), chunk.dtype)
            chunk = np.concatenate([chunk, pad])
        out.append(np.asarray(model.predict_on_batch(chunk))[:n])
    return np.concatenate(out)


def predict(model, x: np.ndarray) -> np.ndarray:
    """The model's outputs for ``x`` (n, ...), computed on the inference thread."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) == 0:
        raise ValueError("predict needs at least one input")
    return run(_predict, model, x)
