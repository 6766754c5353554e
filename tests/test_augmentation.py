"""Training augmentation: geometry and staining jitter keep a white background, change the ink."""

import numpy as np

from napari_karyotype.classification.architectures import RECIPES, augmentation


def _canvas(n=8):
    x = np.ones((n, 220, 100, 1), np.float32)
    x[:, 80:140, 40:60] = 0.3  # a grey "chromosome"
    return x


def test_staining_jitter_keeps_background_and_varies_ink():
    aug = augmentation({"contrast": 0.25, "gamma": 0.35}, seed=1)
    x = _canvas()
    y = np.asarray(aug(x, training=True))
    # the background stays white (to far below one 8-bit grey level)
    assert np.all(y[:, :60] > 0.9999) and np.all(y[:, 160:] > 0.9999)
    ink = y[:, 100, 50, 0]
    assert ink.min() >= 0.0 and ink.max() < 1.0  # the chromosome stays a chromosome
    assert np.ptp(ink) > 0.02  # images get different staining
    assert np.array_equal(np.asarray(aug(x, training=False)), x)  # inference is untouched


def test_shipped_recipe_moves_and_restains_but_keeps_size_roughly():
    aug = augmentation(RECIPES["compact"], seed=0)
    x = _canvas(32)
    y = np.asarray(aug(x, training=True))
    area = (y < 0.9).sum(axis=(1, 2, 3))
    assert np.all(np.abs(area / 1200.0 - 1.0) < 0.35)  # zoom ±12 %: area within about ±25 %
    assert not np.allclose(y[0], y[1])
