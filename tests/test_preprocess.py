"""chromosome_canvas: one preprocessing for training and inference."""

from __future__ import annotations

import numpy as np
import pytest

from napari_karyotype.classification.canvas import (
    CANVAS_SHAPE,
    canvas_stats,
    chromosome_canvas,
    dataset_canvas,
    dataset_mask,
)
from napari_karyotype.errors import KaryotypeError

pytestmark = pytest.mark.data


def _without_halo(gif: np.ndarray) -> np.ndarray:
    return np.where(gif < 245, gif, 255).astype(np.float32) / 255


def test_dataset_gifs_come_back_unchanged(chromosomes):
    # A dataset GIF passed through the function is the GIF itself, except its faint halo
    # (values 245..254 outside the mask), which becomes white.
    exact = 0
    for c in chromosomes:
        out = dataset_canvas(c.image)
        assert out.shape == CANVAS_SHAPE and out.dtype == np.float32
        if np.abs(out - _without_halo(c.image)).max() < 1e-6:
            exact += 1
    # ~2 % of the GIFs are centred a pixel off the dataset's own rule, so they shift by one.
    assert exact / len(chromosomes) > 0.97


def test_fixed_gifs_are_reproduced_pixel_for_pixel(cells):
    for c in cells["161923.054"][:10]:
        out = dataset_canvas(c.image)
        mask = c.image < 245
        np.testing.assert_allclose(out[mask], c.image[mask] / 255, atol=1e-6)
        assert np.all(out[~mask] == 1.0)
        # and close to the raw GIF everywhere (the halo is at most 10 grey levels)
        assert np.abs(out - c.image / 255).max() <= 10 / 255 + 1e-6


def test_uint8_and_float_inputs_agree(cells):
    gif = cells["161923.054"][0].image
    a = chromosome_canvas(gif, gif < 245)
    b = chromosome_canvas(gif.astype(np.float32) / 255, gif < 245)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_chromosome_in_a_large_image_is_centred_and_masked():
    image = np.full((400, 300), 255, np.uint8)
    image[100:160, 50:80] = 40  # the chromosome, 60 x 30
    image[300:320, 200:220] = 10  # another object, outside the mask
    mask = np.zeros(image.shape, bool)
    mask[100:160, 50:80] = True
    out = chromosome_canvas(image, mask)
    dark = out < 0.5
    rows, cols = np.flatnonzero(dark.any(1)), np.flatnonzero(dark.any(0))
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (80, 139, 35, 64)
    assert dark.sum() == 60 * 30


def test_light_on_dark_is_inverted():
    image = np.zeros((100, 100), np.float32)
    image[20:60, 40:60] = 0.8
    mask = image > 0.5
    out = chromosome_canvas(image, mask)
    assert out.min() == pytest.approx(0.2, abs=1e-6)
    assert out.max() == 1.0


def test_scale_and_oversized_crops():
    image = np.ones((600, 300), np.float32)
    image[50:550, 100:150] = 0.3  # 500 x 50: taller than the canvas
    mask = image < 0.5
    out = chromosome_canvas(image, mask)
    dark = out < 0.5
    h, w = dark.any(1).sum(), dark.any(0).sum()
    assert h == 220 and abs(w - 22) <= 1  # shrunk to fit, aspect kept
    small = chromosome_canvas(image[:200], mask[:200], scale=0.5)  # 150 x 50 -> 75 x 25
    d = small < 0.5
    assert abs(d.any(1).sum() - 75) <= 1 and abs(d.any(0).sum() - 25) <= 1


def test_bad_masks_are_one_line_errors():
    image = np.ones((50, 50), np.float32)
    with pytest.raises(KaryotypeError, match="empty"):
        chromosome_canvas(image, np.zeros((50, 50), bool))
    with pytest.raises(KaryotypeError, match="does not match"):
        chromosome_canvas(image, np.ones((40, 50), bool))
    with pytest.raises(KaryotypeError, match="scale"):
        chromosome_canvas(image, np.ones((50, 50), bool), scale=0)


def test_canvas_stats_measure_the_chromosomes(cells):
    gifs = [c.image for c in cells["161923.054"]]
    stats = canvas_stats(np.stack([dataset_canvas(g) for g in gifs]))
    areas = [dataset_mask(g).sum() for g in gifs]
    assert stats["median_area_px"] == pytest.approx(np.median(areas))
    assert 30 < stats["median_length_px"] < 200
