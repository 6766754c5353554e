"""The chromosome classifier: one object for a model file and its side-car, and its use.

A model ``M.keras`` has a JSON side-car ``M.json`` (classes, temperature, size statistics and
size normalisation, canvas statistics, training record). :func:`save_model` writes both (training),
:func:`load_classifier` reads them into a :class:`Classifier` whose attributes are the side-car's
facts and whose :meth:`Classifier.predict_proba` is calibrated by its temperature.

A classifier runs with ONNX Runtime where its ONNX twin ``M.onnx`` is beside it and current
(:mod:`.onnx_net`; :func:`save_model` writes it, the bundled model has one), so classifying imports
no TensorFlow; a model without one, or ``NAPARI_KARYOTYPE_ENGINE=keras``, runs with Keras, imported
when such a model is first loaded. Training always uses Keras. The bundled model is
``napari_karyotype.models/karyotype_cnn.keras`` with its side-car ``karyotype_cnn.json`` and its
twin ``karyotype_cnn.onnx``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_karyotype import CLASSES
from napari_karyotype.classification.onnx_net import ENGINE_VARIABLE as ENGINE_VARIABLE
from napari_karyotype.classification.scale import (
    DATASET_CANVAS_LENGTH,
    DATASET_STATS,
    PER_CELL,
    TOLERANCE,
)
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


def sidecar_path(model_path: str | Path) -> Path:
    """``MODEL.json`` next to ``MODEL.keras``."""
    return Path(model_path).with_suffix(".json")


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)``, row-wise."""
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def save_model(model, path: str | Path, meta: Mapping) -> Classifier:
    """Write a Keras ``model`` to ``path`` (``.keras``), ``meta`` to its JSON side-car and the
    model's ONNX twin (``M.onnx``, :mod:`.onnx_export`).

    Returns the :class:`Classifier` that :func:`load_classifier` will read back from ``path``
    (a classifier cached from an earlier file at ``path`` is forgotten).
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise KaryotypeError(f"{path}: the model file must end in .keras")
    if list(meta.get("classes", CLASSES)) != list(CLASSES):
        raise KaryotypeError(f"{path}: classes differ from 1…22, X, Y")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    sidecar_path(path).write_text(json.dumps(meta, indent=2) + "\n")
    from napari_karyotype.classification.onnx_export import export_onnx

    export_onnx(path, model=model)
    with _LOCK:
        _CACHE.pop(str(path.resolve()), None)
    return Classifier(model, path, dict(meta))


def _load_keras(path: Path):
    _quiet_backend()
    import keras

    return keras.models.load_model(path, compile=False)


def read_model_file(path: str | Path, *, load_keras: bool = True):
    """``(keras model or None, side-car dict)``; a one-line KaryotypeError names a bad file."""
    path = Path(path)
    if not path.is_file():
        raise KaryotypeError(f"{path}: model file not found")
    meta_path = sidecar_path(path)
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
    from napari_karyotype.classification import inference

    try:
        model = inference.run(_load_keras, path)
    except Exception as err:  # Keras raises many types for a damaged file
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise KaryotypeError(f"{path}: not a readable Keras model ({reason})") from None
    shape = tuple(model.output_shape)
    if shape[-1] != len(CLASSES):
        raise KaryotypeError(f"{path}: model has {shape[-1]} outputs, expected {len(CLASSES)}")
    return model, meta


def is_per_cell(classifier_or_meta) -> bool:
    """Whether a classifier (or its side-car dict) was trained on size-normalised cells."""
    meta = getattr(classifier_or_meta, "meta", classifier_or_meta)
    return isinstance(meta, Mapping) and meta.get("size_normalisation") == PER_CELL


def tolerance_for(classifier) -> float:
    """The scale tolerance for a classifier: 0 if it learned per-cell sizes, else TOLERANCE."""
    return 0.0 if is_per_cell(classifier) else TOLERANCE


def model_stats(classifier) -> dict:
    """The training size statistics of a classifier (:data:`~.scale.DATASET_STATS` if none).

    Reads the side-car (``classifier.meta``): ``size_stats`` (keys of :func:`~.scale.size_stats`)
    as they are; else ``canvas_stats`` (:func:`~.canvas.canvas_stats`): ``DATASET_STATS``
    rescaled by the ratio of its median bounding-box height to that of the Hu et al. set.
    """
    meta = getattr(classifier, "meta", None)
    if isinstance(meta, Mapping):
        size = meta.get("size_stats")
        if isinstance(size, Mapping) and size.get("median_axis"):
            return dict(size)
        canvas = meta.get("canvas_stats")
        if isinstance(canvas, Mapping) and canvas.get("median_length_px"):
            ratio = float(canvas["median_length_px"]) / DATASET_CANVAS_LENGTH
            stats = dict(DATASET_STATS)
            stats["median_axis"] = round(stats["median_axis"] * ratio, 2)
            stats["class_median_axis"] = {
                k: round(v * ratio, 2) for k, v in DATASET_STATS["class_median_axis"].items()
            }
            stats["median_area"] = round(stats["median_area"] * ratio**2, 2)
            return stats
    return dict(DATASET_STATS)


@dataclass
class Classifier:
    """A loaded model and the facts of its side-car ``meta`` (see the module doc)."""

    model: object = field(repr=False)
    path: Path
    meta: dict = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes of the outputs, in order (always :data:`napari_karyotype.CLASSES`)."""
        return tuple(self.meta.get("classes", CLASSES))

    @property
    def temperature(self) -> float:
        """Softmax temperature fitted on validation cells (1.0: uncalibrated)."""
        return float(self.meta.get("temperature", 1.0))

    @property
    def size_normalisation(self) -> str:
        """``"per-cell"`` (:data:`~.scale.PER_CELL`) or ``"none"``: the size frame it learned."""
        return str(self.meta.get("size_normalisation", "none"))

    @property
    def per_cell(self) -> bool:
        """Whether it learned sizes relative to the cell: every cell is then scaled first."""
        return is_per_cell(self)

    @property
    def size_stats(self) -> dict:
        """Training chromosome sizes for :func:`~.scale.estimate_scale` (:func:`model_stats`)."""
        return model_stats(self)

    @property
    def scale_tolerance(self) -> float:
        """Scale estimates this close to 1 are taken as 1 (0 for a per-cell model)."""
        return tolerance_for(self)

    @property
    def canvas_stats(self) -> dict:
        """Median chromosome area / length / width (pixels) of the training canvases."""
        return dict(self.meta.get("canvas_stats", {}))

    def predict_raw(self, canvases: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Softmax outputs of the model as trained (no temperature), (n, 24).

        ``batch_size`` is kept for callers; Keras models always see ``inference.BATCH`` rows.
        """
        x = np.asarray(canvases, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[1:3] != (220, 100):
            raise KaryotypeError(f"canvases must be 220 x 100 (height x width), got {x.shape[1:3]}")
        if len(x) == 0:
            return np.zeros((0, len(CLASSES)), np.float32)
        from napari_karyotype.classification import inference, onnx_net

        if isinstance(self.model, onnx_net.OnnxNet):  # thread-safe: any thread may run it
            return self.model.predict_on_batch(x)

        # on the one inference thread, in fixed-size batches (no retracing: see inference)
        return inference.predict(self.model, x).astype(np.float32)

    def predict_proba(self, canvases: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Temperature-scaled class probabilities, (n, 24) over ``CLASSES``."""
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
            model, meta = _read_for_inference(path)
            _CACHE[key] = Classifier(model, path, meta)
        return _CACHE[key]


def _read_for_inference(path: Path):
    """``(model, side-car)``: the ONNX twin where there is a current one, else Keras'."""
    meta = read_model_file(path, load_keras=False)[1]
    from napari_karyotype.classification import onnx_net

    net = onnx_net.load(path, kind="classifier")
    if net is not None and net.output_shape[-1] == len(CLASSES):
        return net, meta
    return read_model_file(path)


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
    from napari_karyotype.classification.scale import estimate_scale

    classifier = classifier or load_classifier()
    if scale is None and classifier.per_cell:
        scale = estimate_scale(labels, classifier.size_stats, tolerance=0.0)
    ids, canvases = label_canvases(image, labels, scale)
    return ids, classifier.predict_proba(canvases)
