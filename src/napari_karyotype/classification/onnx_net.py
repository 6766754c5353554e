"""Saved models run with ONNX Runtime: classifying and segmenting import no TensorFlow.

A model ``M.keras`` has an ONNX twin ``M.onnx`` beside it, the same network converted by
:mod:`.onnx_export` (``train``, ``train-segmenter`` and ``napari-karyotype export-onnx`` write
it). The twin records the SHA-256 of the ``.keras`` file it was made from; :func:`load` uses it
only while that still matches, so a model retrained or replaced without its twin runs with Keras
instead of giving another network's answers. ``NAPARI_KARYOTYPE_ENGINE=keras`` asks for Keras
everywhere. ONNX Runtime is imported only when a model is first loaded.

Threads: :func:`threads` is the share of the cores a batch worker was given
(``pipeline.batch.limit_threads`` sets ``OMP_NUM_THREADS``), else all of them. A classifier runs
small chunks of canvases on that many Python threads, one ONNX Runtime thread each (faster on
2 cores than splitting each convolution); a segmenter, one large image at a time, splits its
operators over that many threads instead.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ENGINE_VARIABLE = "NAPARI_KARYOTYPE_ENGINE"
"""``keras`` runs every model with Keras; otherwise a model with a current ONNX twin runs with
ONNX Runtime."""
SOURCE_KEY = "napari_karyotype.source_sha256"
"""Metadata key of an ONNX twin: the SHA-256 of the ``.keras`` file it was converted from."""
CHUNK = 4
"""Canvases per ONNX Runtime call when classifying (small batches stay in cache)."""


def onnx_path(model_path: str | Path) -> Path:
    """``M.onnx`` beside ``M.keras``."""
    return Path(model_path).with_suffix(".onnx")


def keras_wanted() -> bool:
    """Whether ``NAPARI_KARYOTYPE_ENGINE=keras`` asks for Keras."""
    return os.environ.get(ENGINE_VARIABLE, "").strip().lower() == "keras"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def threads() -> int:
    """Threads to run a model with: a batch worker's share of the cores, else all of them."""
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) > 0:
        return int(limit)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def session(path: str | Path, intra_threads: int = 1):
    """An ONNX Runtime CPU session of ``path``, its operators on ``intra_threads`` threads.

    Idle pool threads sleep rather than spin, so batch workers on shared cores do not burn
    each other's time."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, intra_threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxNet:
    """An ONNX Runtime session with Keras' names: :meth:`predict_on_batch`, ``output_shape``.

    Sessions are thread-safe: any thread may run it. ``parallel``: chunks of :data:`CHUNK`
    rows on that many Python threads (classifier); 1: each call whole (segmenter)."""

    def __init__(self, sess, path: Path, parallel: int = 1):
        self.session = sess
        self.path = path
        self.parallel = max(1, parallel)
        node = sess.get_inputs()[0]
        self.input_name = node.name
        self.input_shape = tuple(node.shape[1:])
        out = sess.get_outputs()[0].shape
        self.output_shape = (None, *(d if isinstance(d, int) else None for d in out[1:]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The outputs for the whole of ``x`` in one call."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self.session.run(None, {self.input_name: x})[0]

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """Outputs for ``x`` (n, ...), float32, in chunks of :data:`CHUNK` rows."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        chunks = [x[i : i + CHUNK] for i in range(0, len(x), CHUNK)]
        if self.parallel == 1 or len(chunks) == 1:
            out = [self(chunk) for chunk in chunks]
        else:
            out = list(_pool(self.parallel).map(self, chunks))
        return np.concatenate(out).astype(np.float32, copy=False)


@functools.cache
def _pool(n: int) -> ThreadPoolExecutor:
    """One lasting pool of ``n`` threads per process (a pool per call costs ~1 ms)."""
    return ThreadPoolExecutor(n, thread_name_prefix="karyotype-onnx")


def source_of(sess) -> str | None:
    """The ``.keras`` SHA-256 an ONNX twin records (None: none recorded)."""
    return sess.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)


def load(model_path: str | Path, *, kind: str = "classifier") -> OnnxNet | None:
    """The ONNX twin of the Keras model at ``model_path``, ready to run; None where Keras must
    run it (asked for, no twin, a twin of another ``.keras`` file, no ONNX Runtime).

    ``kind``: ``classifier`` (batches of canvases, chunks in parallel) or ``segmenter`` (one
    image at a time, operators in parallel)."""
    if keras_wanted():
        return None
    twin = onnx_path(model_path)
    if not twin.is_file():
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    n = threads()
    try:
        sess = session(twin, 1 if kind == "classifier" else n)
    except Exception as err:  # noqa: BLE001 - a damaged twin: Keras reads the model instead
        warnings.warn(f"{twin}: not readable by ONNX Runtime ({err}); using Keras", stacklevel=2)
        return None
    model_path = Path(model_path)
    if model_path.suffix == ".keras" and model_path.is_file():
        if source_of(sess) != file_sha256(model_path):
            warnings.warn(
                f"{twin} was made from another {model_path.name} (rewrite it with "
                "napari-karyotype export-onnx); using Keras", stacklevel=2,
            )  # fmt: skip
            return None
    return OnnxNet(sess, twin, n if kind == "classifier" else 1)
