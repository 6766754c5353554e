"""Load the chromosome classifier and classify the labels of a segmented karyogram.

Keras (and its backend) is imported only when a model is first loaded. The bundled model is
``napari_karyotype.models/karyotype_cnn.keras`` with its side-car ``karyotype_cnn.json``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_karyotype import CLASSES
from napari_karyotype.errors import KaryotypeError

BUNDLED_MODEL = "karyotype_cnn.keras"
_CACHE: dict[str, Classifier] = {}
_LOCK = threading.Lock()


def bundled_model_path() -> Path:
    """Path of the bundled model file inside the installed package."""
    from importlib.resources import files

    return Path(str(files("napari_karyotype.models").joinpath(BUNDLED_MODEL)))


def _quiet_backend() -> None:
    from napari_karyotype.classification.backend import import_tensorflow

    import_tensorflow()


def read_model_file(path: str | Path, *, load_keras: bool = True):
    """``(keras model or None, side-car dict)``; a one-line KaryotypeError names a bad file."""
    path = Path(path)
    if not path.is_file():
        raise KaryotypeError(f"{path}: model file not found")
    meta_path = path.with_suffix(".json")
    meta: dict = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as err:
            raise KaryotypeError(f"{meta_path}: not a readable model side-car ({err})") from None
        if list(meta.get("classes", CLASSES)) != list(CLASSES):
            raise KaryotypeError(f"{meta_path}: classes differ from 1…22, X, Y")
    if not load_keras:
        return None, meta
    _quiet_backend()
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a damaged file
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise KaryotypeError(f"{path}: not a readable Keras model ({reason})") from None
    shape = tuple(model.output_shape)
    if shape[-1] != len(CLASSES):
        raise KaryotypeError(f"{path}: model has {shape[-1]} outputs, expected {len(CLASSES)}")
    return model, meta


@dataclass
class Classifier:
    """A loaded model with its side-car (``temperature``, ``canvas_stats`` …)."""

    model: object = field(repr=False)
    path: Path
    meta: dict = field(default_factory=dict)

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))

    @property
    def canvas_stats(self) -> dict:
        """Median chromosome area / length / width (pixels) of the training canvases."""
        return dict(self.meta.get("canvas_stats", {}))

    def predict_raw(self, canvases: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Softmax outputs of the model as trained (no temperature), (n, 24)."""
        x = np.asarray(canvases, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[1:3] != (220, 100):
            raise KaryotypeError(f"canvases must be 220 x 100 (height x width), got {x.shape[1:3]}")
        if len(x) == 0:
            return np.zeros((0, len(CLASSES)), np.float32)
        out = []
        for i in range(0, len(x), batch_size):
            # predict_on_batch runs Keras' compiled predict step: faster than an eager call
            out.append(np.asarray(self.model.predict_on_batch(x[i : i + batch_size])))
        return np.concatenate(out).astype(np.float32)

    def predict_proba(self, canvases: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Temperature-scaled class probabilities, (n, 24) over ``CLASSES``."""
        from napari_karyotype.training.fit import apply_temperature

        raw = self.predict_raw(canvases, batch_size)
        if len(raw) == 0 or abs(self.temperature - 1.0) < 1e-9:
            return raw
        return apply_temperature(raw, self.temperature)


def load_classifier(path: str | Path | None = None) -> Classifier:
    """The classifier at ``path`` (the bundled one when None), loaded once and cached."""
    path = Path(path) if path is not None else bundled_model_path()
    key = str(path.resolve()) if path.exists() else str(path)
    with _LOCK:
        if key not in _CACHE:
            model, meta = read_model_file(path)
            _CACHE[key] = Classifier(model, path, meta)
        return _CACHE[key]


def label_canvases(
    image: np.ndarray, labels: np.ndarray, scale: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(label ids, canvases)`` of every non-zero label (regionprops + chromosome_canvas)."""
    from skimage.measure import regionprops

    from napari_karyotype.classification.canvas import as_unit_float, chromosome_canvas

    labels = np.asarray(labels)
    image = as_unit_float(image)
    if labels.shape != image.shape:
        raise KaryotypeError(
            f"labels shape {labels.shape} does not match image shape {image.shape}"
        )
    if not labels.any():
        raise KaryotypeError("the label layer is empty: segment the chromosomes first")
    ids, canvases = [], []
    for region in regionprops(labels.astype(np.int64)):
        r0, c0, r1, c1 = region.bbox
        canvases.append(chromosome_canvas(image[r0:r1, c0:c1], region.image, scale=scale or 1.0))
        ids.append(region.label)
    return np.asarray(ids, dtype=np.int64), np.stack(canvases)


def classify_labels(
    image: np.ndarray,
    labels: np.ndarray,
    classifier: Classifier | None = None,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(label ids, probs (n, 24))`` for each non-zero label of a karyogram's label image.

    ``scale`` None: 1.0, or for a model that learned per-cell sizes the cell's median-based
    estimate (``features.classify_cell`` refines it with the classes found).
    """
    from napari_karyotype.classification import scale as _scale

    classifier = classifier or load_classifier()
    if scale is None and _scale.is_per_cell(classifier):
        scale = _scale.estimate_scale(labels, _scale.model_stats(classifier), tolerance=0.0)
    ids, canvases = label_canvases(image, labels, scale)
    return ids, classifier.predict_proba(canvases)
