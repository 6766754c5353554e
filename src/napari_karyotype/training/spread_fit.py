"""Train the metaphase segmenter: a compact U-Net with three heads, from scratch, in Keras.

Input: a spread's ink in the segmenter's frame (:mod:`~.segmentation.spread`). Output, per pixel:

* channel 0, logit of **chromosome pixel** (nuclei and debris are not);
* channel 1, logit of the **centre heatmap** (a Gaussian at each chromosome's box centre);
* channels 2-3, **log box height and width** (net px), read at the centre peaks.

Windows of the prepared spreads (:mod:`.spread_targets`) are cropped at random, flipped, turned by
quarter turns, rescaled (±25 %: another laboratory's width measured a little off), and their
contrast, gamma, blur and noise varied. Losses: binary cross-entropy + soft Dice (pixels),
CenterNet's penalty-reduced focal loss (centres), L1 at the centres (sizes).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from napari_karyotype.training.spread_targets import draw_centres

WINDOW = 192
LEVELS = (16, 32, 64, 96)
BOTTOM = 128


def build_unet(levels=LEVELS, bottom: int = BOTTOM):
    """The segmenter's Keras model (any input size divisible by 2**len(levels))."""
    from napari_karyotype.classification.backend import import_keras

    keras = import_keras()
    L = keras.layers

    def block(x, f):
        for _ in range(2):
            x = L.Conv2D(f, 3, padding="same", use_bias=False)(x)
            x = L.BatchNormalization()(x)
            x = L.ReLU()(x)
        return x

    inp = keras.Input((None, None, 1), name="ink")
    x, skips = inp, []
    for f in levels:
        x = block(x, f)
        skips.append(x)
        x = L.MaxPooling2D()(x)
    x = block(x, bottom)
    for f, skip in zip(reversed(levels), reversed(skips), strict=True):
        x = L.UpSampling2D()(x)
        x = L.Concatenate()([x, skip])
        x = block(x, f)
    heads = L.Conv2D(4, 1, name="heads")
    model = keras.Model(inp, heads(x), name="spread_unet")
    # start near the answer: few chromosome pixels and centres (prior 0.1), boxes ~20 px
    kernel, _ = heads.get_weights()
    heads.set_weights([kernel, np.array([-2.2, -2.2, 3.0, 3.0], np.float32)])
    return model


def spread_loss(y_true, y_pred):
    """Pixels (BCE + Dice) + centres (focal) + sizes (L1 at centres)."""
    from keras import ops

    fg, heat, size, where = y_true[..., 0], y_true[..., 1], y_true[..., 2:4], y_true[..., 4]
    fg_logit, heat_logit, size_pred = y_pred[..., 0], y_pred[..., 1], y_pred[..., 2:4]
    p = ops.sigmoid(fg_logit)
    bce = ops.mean(
        ops.maximum(fg_logit, 0) - fg_logit * fg + ops.log(1 + ops.exp(-ops.abs(fg_logit)))
    )
    inter = ops.sum(p * fg)
    dice = 1 - (2 * inter + 1) / (ops.sum(p) + ops.sum(fg) + 1)
    q = ops.clip(ops.sigmoid(heat_logit), 1e-4, 1 - 1e-4)
    pos = ops.cast(heat >= 0.999, "float32")
    focal = -(pos * ops.log(q) * (1 - q) ** 2 + (1 - pos) * ops.log(1 - q) * q**2 * (1 - heat) ** 4)
    n_pos = ops.maximum(ops.sum(pos), 1.0)
    l1 = ops.sum(ops.abs(size_pred - size) * where[..., None]) / ops.maximum(ops.sum(where), 1.0)
    return bce + dice + ops.sum(focal) / n_pos + l1


def _window(spread: dict, rng: np.random.Generator, size: int = WINDOW, augment: bool = True):
    """One (x (size, size, 1), y (size, size, 5)) training window of a prepared spread."""
    from scipy import ndimage as ndi

    ink = spread["ink"].astype(np.float32) * (1.5 / 255)
    fg = spread["fg"].astype(np.float32)
    boxes = spread["boxes"].astype(np.float32).copy()
    if augment:
        s = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
        ink = ndi.zoom(ink, s, order=1)
        fg = (ndi.zoom(fg, s, order=1) >= 0.5).astype(np.float32)
        boxes = boxes * np.array(
            [ink.shape[0] / spread["ink"].shape[0], ink.shape[1] / spread["ink"].shape[1]] * 2,
            np.float32,
        )
    h, w = ink.shape
    # a window inside the spread, or the spread centred in a larger window
    r0 = rng.integers(0, h - size + 1) if h > size else -((size - h) // 2)
    c0 = rng.integers(0, w - size + 1) if w > size else -((size - w) // 2)
    x = np.zeros((size, size), np.float32)
    m = np.zeros((size, size), np.float32)
    sr, sc = max(r0, 0), max(c0, 0)
    er, ec = min(r0 + size, h), min(c0 + size, w)
    x[sr - r0 : er - r0, sc - c0 : ec - c0] = ink[sr:er, sc:ec]
    m[sr - r0 : er - r0, sc - c0 : ec - c0] = fg[sr:er, sc:ec]
    b = boxes - np.array([r0, c0, r0, c0], np.float32)
    if augment:
        k = int(rng.integers(4))
        for _ in range(k):  # a quarter turn counter-clockwise: (r, c) -> (size - c, r)
            x, m = np.rot90(x), np.rot90(m)
            b = np.stack([size - b[:, 3], b[:, 0], size - b[:, 1], b[:, 2]], 1)
        if rng.random() < 0.5:
            x, m = x[:, ::-1], m[:, ::-1]
            b = np.stack([b[:, 0], size - b[:, 3], b[:, 2], size - b[:, 1]], 1)
        x = np.maximum(x, 0) ** rng.uniform(0.7, 1.4) * rng.uniform(0.75, 1.25)
        if rng.random() < 0.3:
            x = ndi.gaussian_filter(x, rng.uniform(0.3, 1.0))
        x = x + rng.normal(0, rng.uniform(0, 0.05), x.shape).astype(np.float32)
    heat, sz, where = draw_centres((size, size), b)
    y = np.concatenate([m[..., None], heat[..., None], sz, where[..., None]], -1)
    return np.ascontiguousarray(x[..., None], np.float32), y.astype(np.float32)


def batches(spreads: list[dict], batch: int, seed: int, augment: bool = True):
    """Endless shuffled batches of windows."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(spreads))
        for i in range(0, len(order) - batch + 1, batch):
            pairs = [_window(spreads[j], rng, augment=augment) for j in order[i : i + batch]]
            yield np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def train_spread_model(
    train: list[dict],
    val: list[dict],
    out: str | Path,
    *,
    epochs: int = 10,
    batch: int = 8,
    lr: float = 2e-3,
    seed: int = 0,
    init: str | Path | None = None,
    log=print,
):
    """Train from scratch (or ``init``), keep the epoch with the lowest validation loss at
    ``out`` (``.keras``) with its ONNX twin; returns the history (list of dicts)."""
    from napari_karyotype.classification.backend import import_keras
    from napari_karyotype.classification.onnx_export import export_onnx

    keras = import_keras()
    keras.utils.set_random_seed(seed)
    batch = max(1, min(batch, len(train)))
    model = keras.models.load_model(init, compile=False) if init else build_unet()
    steps = max(len(train) // batch, 1)
    schedule = keras.optimizers.schedules.CosineDecay(lr, epochs * steps, alpha=0.05)
    # the optimizer belongs to a wrapper: the file kept is the network alone (3.9 MB, not 11)
    inputs = keras.Input((None, None, 1), name="ink")
    trainer = keras.Model(inputs, model(inputs), name="trainer")
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss=spread_loss)
    rng = np.random.default_rng(seed + 1)
    vx, vy = zip(*(_window(s, rng, augment=False, size=WINDOW) for s in val), strict=True)
    vx, vy = np.stack(vx), np.stack(vy)
    gen = batches(train, batch, seed)
    best, history = math.inf, []
    for epoch in range(epochs):
        t0 = time.time()
        losses = [float(trainer.train_on_batch(*next(gen))) for _ in range(steps)]
        val_loss = float(trainer.evaluate(vx, vy, batch_size=batch, verbose=0))
        row = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "val_loss": val_loss,
            "seconds": time.time() - t0,
        }
        history.append(row)
        if val_loss < best:
            best = val_loss
            model.save(out)
            export_onnx(out, model=model)  # its ONNX twin: segmenting needs no TensorFlow
            row["kept"] = True
        log(row)
    return history
