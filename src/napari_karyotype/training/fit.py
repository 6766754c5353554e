"""Train a chromosome classifier on Hu et al.-format data (backend-agnostic Keras 3).

Cells are split by case (:func:`~.chromosomes.case_of`), never by image. The best epoch
by validation accuracy (ties: lower loss) is kept; the softmax temperature is fitted on the
validation cells. The model is saved by :func:`~.model.save_model` as ``MODEL.keras`` with a JSON
side-car ``MODEL.json`` (classes, temperature, canvas statistics for scale estimation, training
record).

Determinism: with the same seed, data and TensorFlow on CPU, two runs give identical weights
(``keras.utils.set_random_seed`` plus TensorFlow op determinism). Other backends or GPUs are
not bit-identical.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_karyotype import CLASSES
from napari_karyotype.classification.backend import import_keras
from napari_karyotype.classification.canvas import canvas_stats, dataset_canvas
from napari_karyotype.classification.model import (
    is_per_cell,
    read_model_file,
    save_model,
    sidecar_path,
)
from napari_karyotype.classification.scale import PER_CELL, cell_scales, size_stats
from napari_karyotype.datasets.chromosomes import Chromosome, case_of
from napari_karyotype.errors import KaryotypeError

CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}


def canvases_of(
    chromosomes: Sequence[Chromosome], scales: Mapping[str, float] | None = None
) -> np.ndarray:
    """(n, 220, 100) float32 canvases of dataset chromosomes, through ``chromosome_canvas``.

    ``scales``: ``{cell: factor}`` resampling every chromosome of a cell (default 1.0).
    """
    scales = scales or {}
    return np.stack([dataset_canvas(c.image, scales.get(c.cell, 1.0)) for c in chromosomes]).astype(
        np.float32
    )


def labels_of(chromosomes: Sequence[Chromosome]) -> np.ndarray:
    """Class indices (into ``CLASSES``) of dataset chromosomes."""
    return np.array([CLASS_INDEX[c.cls] for c in chromosomes], dtype=np.int32)


def parse_cases(text: str | None) -> list[str] | None:
    """``"A,B"`` -> ``["A", "B"]`` (upper-cased); ``None`` -> automatic; ``"none"``/``""`` -> []."""
    if text is None:
        return None
    items = [t.strip().upper() for t in text.split(",") if t.strip()]
    return [] if items in ([], ["NONE"]) else items


def auto_val_cases(
    chromosomes: Sequence[Chromosome], seed: int, fraction: float = 0.2
) -> list[str]:
    """Whole cases, drawn with ``seed``, until about ``fraction`` of the images are held out."""
    counts: dict[str, int] = {}
    for c in chromosomes:
        counts[c.case] = counts.get(c.case, 0) + 1
    if len(counts) < 2:
        return []
    order = sorted(counts)
    rng = np.random.default_rng(seed)
    rng.shuffle(order)
    chosen, total = [], sum(counts.values())
    for case in order:
        if sum(counts[c] for c in chosen) >= fraction * total or len(chosen) == len(order) - 1:
            break
        chosen.append(case)
    return sorted(chosen)


def split_by_case(
    chromosomes: Sequence[Chromosome], val_cases: Sequence[str]
) -> tuple[list[Chromosome], list[Chromosome]]:
    """(train, validation) with every chromosome of a validation case in validation."""
    wanted = {case_of(c) for c in val_cases}
    known = {c.case for c in chromosomes}
    unknown = sorted(wanted - known)
    if unknown:
        raise KaryotypeError(f"validation case(s) not in the data: {', '.join(unknown)}")
    train = [c for c in chromosomes if c.case not in wanted]
    val = [c for c in chromosomes if c.case in wanted]
    if not train:
        raise KaryotypeError("every case is a validation case: nothing left to train on")
    return train, val


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the NLL of ``softmax(log p / T)`` (1.0 if no data)."""
    from scipy.optimize import minimize_scalar

    if len(labels) == 0:
        return 1.0
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0))

    def nll(log_t: float) -> float:
        z = logp / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(lse - z[np.arange(len(labels)), labels]))

    res = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    return float(math.exp(res.x))


@dataclass
class TrainResult:
    """What :func:`train` did: paths, the epoch kept, validation numbers, per-epoch history."""

    model_path: Path
    sidecar: dict
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    val_probs: np.ndarray | None = None
    val_chromosomes: list[Chromosome] = field(default_factory=list)


def _deterministic(seed: int) -> None:
    keras = import_keras()

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _predict(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    out = [
        np.asarray(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def train(
    chromosomes: Sequence[Chromosome],
    out: str | Path,
    *,
    arch: str = "compact",
    epochs: int | None = None,
    seed: int = 0,
    val_cases: Sequence[str] | None = None,
    init: str | Path | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    temperature: float | None = None,
    time_limit_s: float | None = None,
    keep: str = "best",
    repeat: Mapping[str, int] | None = None,
    checkpoint: bool = False,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train (or, with ``init``, fine-tune) a classifier and save it with its JSON side-car.

    ``val_cases``: case ids held out for validation; None picks about 20 % of the cases with the
    seed; an empty list trains on everything and keeps the last epoch (then ``temperature``, if
    given, is stored, e.g. the one fitted case-wise with the same recipe). ``time_limit_s`` stops
    after the epoch that passes it (recorded in the side-car). ``keep="last"`` keeps the last
    epoch instead of the best by validation (as a final all-data model must). ``repeat``
    ``{source: n}``: each training chromosome of that source appears n times an epoch (a small
    source beside a large one). ``learning_rate`` replaces the recipe's (lower it to fine-tune
    gently). ``checkpoint``: save the model after every epoch (``out``).
    """
    keras = import_keras()

    from napari_karyotype.classification.architectures import (
        RECIPES,
        augmentation,
        build_model,
        optimizer,
    )

    out = Path(out)
    if out.suffix != ".keras":
        raise KaryotypeError(f"{out}: the model file must end in .keras")
    if arch not in RECIPES:
        raise KaryotypeError(f"unknown architecture {arch!r}; choose one of {', '.join(RECIPES)}")
    init_meta: dict = {}
    if init is not None:
        init_meta = read_model_file(init, load_keras=False)[1]
        arch = init_meta.get("arch", arch)
    recipe = dict(RECIPES[arch])
    if learning_rate is not None:
        recipe["learning_rate"] = float(learning_rate)
    epochs = int(epochs if epochs is not None else recipe["epochs"])
    if epochs < 1:
        raise KaryotypeError(f"--epochs must be at least 1, got {epochs}")
    batch_size = int(batch_size or recipe["batch_size"])

    if val_cases is None:
        val_cases = auto_val_cases(chromosomes, seed)
    train_set, val_set = split_by_case(chromosomes, val_cases)
    sources = sorted({getattr(c, "source", "hu2019") for c in chromosomes})
    per_cell = is_per_cell(init_meta) if init is not None else bool(recipe.get("per_cell_scale"))
    reference = init_meta.get("size_stats") or size_stats(train_set)
    scales = {}
    if per_cell:  # training cells by their true classes; validation cells as new cells are
        scales = cell_scales(train_set, reference)
        scales.update(cell_scales(val_set, reference, use_classes=False))
    for source, n in (repeat or {}).items():
        extra = [c for c in train_set if getattr(c, "source", "hu2019") == source]
        train_set = train_set + extra * (int(n) - 1)
    x_train, y_train = canvases_of(train_set, scales)[..., None], labels_of(train_set)
    x_val = canvases_of(val_set, scales)[..., None] if val_set else None
    y_val = labels_of(val_set) if val_set else None
    log(
        f"{arch}: {len(train_set)} training images ({len({c.cell for c in train_set})} cells), "
        f"{len(val_set)} validation images ({len({c.cell for c in val_set})} cells, cases "
        f"{', '.join(sorted({c.case for c in val_set})) or 'none'}); backend "
        f"{keras.backend.backend()}, seed {seed}"
        + (
            f"; cells scaled to the training size ({min(scales.values()):.2f}x to "
            f"{max(scales.values()):.2f}x)"
            if scales
            else ""
        )
    )

    _deterministic(seed)
    if init is not None:
        core = read_model_file(init)[0]
    else:
        core = build_model(arch)
    inputs = keras.Input(core.input_shape[1:])
    trainer = keras.Model(inputs, core(augmentation(recipe, seed)(inputs)), name="trainer")
    steps = math.ceil(len(x_train) / batch_size)
    trainer.compile(
        optimizer=optimizer(recipe, steps, epochs),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    train_canvas_stats = canvas_stats(x_train[:: max(1, len(x_train) // 20000), ..., 0])

    def _meta(temperature: float, kept_epoch: int) -> dict:
        return {
            "format": "napari-karyotype classifier 1",
            "arch": arch,
            "classes": list(CLASSES),
            "input_shape": list(core.input_shape[1:]),
            "temperature": float(temperature),
            "preprocess": "preprocess.chromosome_canvas; dataset GIF mask = pixels < 245",
            "canvas_stats": train_canvas_stats,
            "size_stats": reference,
            "size_normalisation": PER_CELL if per_cell else "none",
            "parameters": int(core.count_params()),
            "training": {
                "seed": seed,
                "epochs": epochs,
                "epochs_run": len(history),
                "best_epoch": best["epoch"],
                "kept_epoch": kept_epoch,
                "recipe": recipe,
                "val_cases": sorted({c.case for c in val_set}),
                "n_train": len(train_set),
                "n_val": len(val_set),
                "sources": sources,
                "repeat": dict(repeat or {}),
                "train_cells": len({c.cell for c in train_set}),
                "val_cells": len({c.cell for c in val_set}),
                "init": str(init) if init else None,
                "backend": keras.backend.backend(),
                "keras": keras.__version__,
                "seconds": round(time.perf_counter() - start, 1),
            },
        }

    history: list[dict] = []
    best = {"epoch": 0, "key": (-1.0, -math.inf), "weights": None}
    start = time.perf_counter()

    class _Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - start, 1)}
            row.update({k: float(v) for k, v in logs.items()})
            history.append(row)
            key = (
                (logs["val_accuracy"], -logs["val_loss"])
                if "val_accuracy" in logs
                else (float(epoch), 0.0)
            )
            kept = key > best["key"]
            if kept:
                best.update(
                    epoch=epoch + 1, key=key, weights=[w.copy() for w in core.get_weights()]
                )
            val = (
                f" val_loss {logs['val_loss']:.4f} val_acc {logs['val_accuracy']:.4f}"
                if "val_loss" in logs
                else ""
            )
            log(
                f"epoch {epoch + 1}/{epochs} loss {logs.get('loss', float('nan')):.4f} "
                f"acc {logs.get('accuracy', float('nan')):.4f}{val}"
                f"{' *' if kept and val else ''} ({row['seconds']:.0f} s)"
            )
            if checkpoint:
                save_model(core, out, _meta(temperature or 1.0, epoch + 1))
            if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
                log(f"time limit of {time_limit_s:.0f} s reached: stopping after epoch {epoch + 1}")
                self.model.stop_training = True

    trainer.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        validation_data=(x_val, y_val) if val_set else None,
        callbacks=[_Progress()],
        verbose=0,
    )
    if keep == "best":
        core.set_weights(best["weights"])
    kept_epoch = best["epoch"] if keep == "best" else len(history)

    val_probs = None
    if val_set:
        val_probs = _predict(core, x_val)
        temperature = fit_temperature(val_probs, y_val)
        log(f"kept epoch {kept_epoch}; temperature fitted on validation: {temperature:.3f}")
    elif temperature is None:
        temperature = float(init_meta.get("temperature", 1.0))

    meta = _meta(temperature, kept_epoch)
    save_model(core, out, meta)
    log(f"saved {out} and {sidecar_path(out).name}")
    return TrainResult(out, meta, kept_epoch, history, val_probs, list(val_set))
