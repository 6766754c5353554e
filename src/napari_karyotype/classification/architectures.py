"""Classifier architectures (Keras 3, any backend) and their training recipes.

Both take a (220, 100, 1) canvas from :func:`~.canvas.chromosome_canvas`
(dark on white, [0, 1]) and output softmax probabilities over the 24 classes 1…22, X, Y.

- ``paper``: the CNN of Hu et al. 2019 as published: three blocks of (3x3 conv, 5x5 conv, ReLU,
  2x2 max-pool, dropout 0.25) with pool strides 1, 1 and 2, flatten, dense 256 + dropout 0.5,
  softmax 24; RMSprop (lr 1e-3, rho 0.9), batch 64, 80 epochs, rotation ±20°, zoom ±10 %. The paper
  gives no filter counts; we use 32, 64 and 128 with "same" convolutions and "valid" pooling,
  which makes 175,650,808 parameters (almost all in the dense layer after the 109 x 49 x 128
  flatten): trainable for the record, far too large to bundle.
- ``compact``: our design for the bundled model: the canvas averaged down to 110 x 50 inside the
  model, four conv-BN-ReLU blocks, global average pooling, dropout, softmax. The canvas is never
  resized to fill it, so chromosome size stays visible to the network. Its recipe trains on
  size-normalised cells (``per_cell_scale``: each cell resampled so that its chromosomes have the
  training set's size, :func:`~.scale.cell_scales`), so the size it learns is
  relative to the cell, and zoom augmentation stays small (± 5 %).

Augmentation lives in :func:`augmentation`, a separate block put in front of the model only while
training; the saved inference model holds none of it.
"""

from __future__ import annotations

import numpy as np

from napari_karyotype import CLASSES
from napari_karyotype.classification.canvas import CANVAS_SHAPE

ARCHITECTURES = ("compact", "paper")
INPUT_SHAPE = (*CANVAS_SHAPE, 1)

RECIPES: dict[str, dict] = {
    "paper": {
        "optimizer": "rmsprop",
        "learning_rate": 1e-3,
        "rho": 0.9,
        "batch_size": 64,
        "epochs": 80,
        "rotation_deg": 20.0,
        "zoom": 0.10,
        "flip": False,
        "shift": 0.0,
    },
    "compact": {
        "optimizer": "adamw",
        "learning_rate": 2e-3,
        "weight_decay": 1e-4,
        "batch_size": 64,
        "epochs": 40,
        "rotation_deg": 15.0,
        "zoom": 0.05,
        "per_cell_scale": True,
        "flip": True,
        "shift": 0.03,
        "contrast": 0.25,
        "gamma": 0.35,
        "blur": 1.0,
        "noise": 0.04,
        "ink_offset": 0.05,
    },
}
"""Training recipe per architecture (``paper`` as published; ``compact`` chosen case-wise)."""


def paper_model(filters: tuple[int, int, int] = (32, 64, 128), n_classes: int = len(CLASSES)):
    """The published architecture of Hu et al. 2019 (see the module docstring)."""
    import keras
    from keras import layers

    inputs = keras.Input(INPUT_SHAPE, name="canvas")
    x = inputs
    for i, (f, stride) in enumerate(zip(filters, (1, 1, 2), strict=True)):
        x = layers.Conv2D(f, 3, padding="same", name=f"b{i}_conv3")(x)
        x = layers.Conv2D(f, 5, padding="same", activation="relu", name=f"b{i}_conv5")(x)
        x = layers.MaxPooling2D(2, strides=stride, name=f"b{i}_pool")(x)
        x = layers.Dropout(0.25, name=f"b{i}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="dense")(x)
    x = layers.Dropout(0.5, name="dense_drop")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="paper")


def compact_model(widths: tuple[int, ...] = (24, 48, 96, 192), n_classes: int = len(CLASSES)):
    """Our small CNN: half-resolution input, conv-BN-ReLU blocks, global pooling (~0.8 M params)."""
    import keras
    from keras import layers

    inputs = keras.Input(INPUT_SHAPE, name="canvas")
    x = layers.Rescaling(-1.0, offset=1.0, name="ink")(inputs)  # chromosome bright, background 0
    x = layers.AveragePooling2D(2, name="half")(x)  # 110 x 50
    for i, width in enumerate(widths):
        convs = 1 if i == 0 else 2
        for j in range(convs):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"b{i}_conv{j}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"b{i}_bn{j}")(x)
            x = layers.ReLU(name=f"b{i}_relu{j}")(x)
        if i < len(widths) - 1:
            x = layers.MaxPooling2D(2, name=f"b{i}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.3, name="drop")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="compact")


def build_model(arch: str = "compact"):
    """A fresh, uncompiled model of the named architecture."""
    from napari_karyotype.errors import KaryotypeError

    if arch == "paper":
        return paper_model()
    if arch == "compact":
        return compact_model()
    raise KaryotypeError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")


def augmentation(recipe: dict, seed: int = 0):
    """Training-only augmentation for a recipe: one random affine map per image, white fill.

    Rotation (± ``rotation_deg``), zoom (± ``zoom``), shift (± ``shift`` of the canvas) and, if
    ``flip``, a left-right mirror; staining jitter of the chromosome's ink (1 - canvas): scaled by
    1 ± ``contrast`` and raised to the power exp(± ``gamma``), the white background unchanged.
    What differs between laboratories: band resolution (``blur``: the ink moved towards its
    Gaussian blur (sigma 1.2 px) by a in [-blur / 2, blur], a < 0 sharpens), staining depth
    (``ink_offset``: ± added to the chromosome's ink) and noise (``noise``: Gaussian, a sigma up
    to this, on the chromosome only) — the background stays white.
    Drawn with Keras' seeded random ops. Written with
    ``keras.ops`` so that it compiles (XLA) under JAX, unlike Keras' RandomRotation & co.
    """
    return _random_affine_class()(
        rotation_deg=float(recipe.get("rotation_deg", 0.0)),
        zoom=float(recipe.get("zoom", 0.0)),
        shift=float(recipe.get("shift", 0.0)),
        flip=bool(recipe.get("flip", False)),
        contrast=float(recipe.get("contrast", 0.0)),
        gamma=float(recipe.get("gamma", 0.0)),
        blur=float(recipe.get("blur", 0.0)),
        noise=float(recipe.get("noise", 0.0)),
        ink_offset=float(recipe.get("ink_offset", 0.0)),
        seed=seed,
        name="augmentation",
    )


def _random_affine_class():
    import keras
    from keras import ops

    class RandomAffine(keras.layers.Layer):
        """Random rotation, zoom, shift and mirror about the canvas centre (training only)."""

        def __init__(
            self, rotation_deg=0.0, zoom=0.0, shift=0.0, flip=False, contrast=0.0, gamma=0.0,
            blur=0.0, noise=0.0, ink_offset=0.0, seed=0, **kwargs,
        ):  # fmt: skip
            super().__init__(**kwargs)
            self.blur, self.noise, self.ink_offset = blur, noise, ink_offset
            t = np.arange(-2, 3, dtype=np.float32)
            g = np.exp(-(t**2) / (2 * 1.2**2))
            g = np.outer(g, g) / np.outer(g, g).sum()
            self.kernel = g[:, :, None, None].astype(np.float32)
            self.rotation_deg, self.zoom, self.shift, self.flip = rotation_deg, zoom, shift, flip
            self.contrast, self.gamma = contrast, gamma
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, x, training=False):
            if not training:
                return x
            n = ops.shape(x)[0]
            h, w = x.shape[1], x.shape[2]

            def draw(limit):
                return keras.random.uniform((n,), -limit, limit, seed=self.seed_generator)

            theta = (
                draw(self.rotation_deg * np.pi / 180.0) if self.rotation_deg else ops.zeros((n,))
            )
            k = 1.0 / (1.0 + draw(self.zoom)) if self.zoom else ops.ones((n,))
            tx = draw(self.shift * w) if self.shift else ops.zeros((n,))
            ty = draw(self.shift * h) if self.shift else ops.zeros((n,))
            if self.flip:
                f = ops.where(draw(1.0) < 0.0, -1.0, 1.0)
            else:
                f = ops.ones((n,))
            cos, sin = ops.cos(theta) * k, ops.sin(theta) * k
            m00, m01, m10, m11 = cos * f, -sin, sin * f, cos
            cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
            transform = ops.stack(
                [
                    m00,
                    m01,
                    cx - m00 * cx - m01 * cy + tx,
                    m10,
                    m11,
                    cy - m10 * cx - m11 * cy + ty,
                    ops.zeros((n,)),
                    ops.zeros((n,)),
                ],
                axis=1,
            )
            if self.blur or self.noise or self.ink_offset:
                ink = ops.clip(1.0 - x, 0.0, 1.0)  # zero background: blur pads with white
                on = ops.cast(ink > 0.02, ink.dtype)
                if self.blur:
                    a = keras.random.uniform(
                        (n,), -self.blur / 2, self.blur, seed=self.seed_generator
                    )
                    soft = ops.conv(ink, ops.convert_to_tensor(self.kernel), padding="same")
                    ink = ink + a[:, None, None, None] * (soft - ink)
                if self.ink_offset:
                    ink = ink + draw(self.ink_offset)[:, None, None, None] * on
                if self.noise:
                    sigma = keras.random.uniform((n,), 0.0, self.noise, seed=self.seed_generator)
                    eps = keras.random.normal(ops.shape(ink), seed=self.seed_generator)
                    ink = ink + eps * sigma[:, None, None, None] * on
                x = 1.0 - ops.clip(ink, 0.0, 1.0)
            if self.contrast or self.gamma:
                ink = ops.clip(1.0 - x, 0.0, 1.0)
                c = 1.0 + draw(self.contrast) if self.contrast else ops.ones((n,))
                g = ops.exp(draw(self.gamma)) if self.gamma else ops.ones((n,))
                ink = ops.power(ink + 1e-6, g[:, None, None, None]) * c[:, None, None, None]
                x = 1.0 - ops.clip(ink, 0.0, 1.0)
            return ops.image.affine_transform(
                x,
                ops.cast(transform, "float32"),
                interpolation="bilinear",
                fill_mode="constant",
                fill_value=1.0,
                data_format="channels_last",
            )

        def compute_output_shape(self, input_shape):
            return input_shape

    return RandomAffine


def optimizer(recipe: dict, steps_per_epoch: int, epochs: int):
    """The recipe's optimizer: RMSprop as published (``paper``), AdamW + cosine (``compact``)."""
    import keras

    if recipe["optimizer"] == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=recipe["learning_rate"], rho=recipe["rho"])
    schedule = keras.optimizers.schedules.CosineDecay(
        recipe["learning_rate"],
        decay_steps=max(1, steps_per_epoch * epochs),
        warmup_target=None,
    )
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=recipe["weight_decay"])
