"""Evaluation with the bundled model: cells are scaled as in the plugin, so magnification and
condensation do not change the classes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.data

CELLS = ("161923.054", "C171543.044", "173449.035")


def _resampled(chromosome, factor):
    """The dataset crop as if imaged at ``factor`` times the magnification."""
    from napari_karyotype.classification.canvas import dataset_canvas

    image = np.round(dataset_canvas(chromosome.image, factor) * 255).astype(np.uint8)
    return dataclasses.replace(chromosome, image=image)


def test_cells_at_another_size_get_the_same_classes(cells, bundled_classifier):
    """The same cells shrunk to 0.75x (a lower magnification, or more condensed chromosomes):
    each cell's scale follows (about 1 / 0.75 of its own) and the classes barely change."""
    from napari_karyotype.training.evaluation import predict_cells
    from napari_karyotype.training.fit import labels_of

    members = [c for cell in CELLS for c in cells[cell]]
    small = [_resampled(c, 0.75) for c in members]
    probs, scales = predict_cells(members, bundled_classifier)
    probs_small, scales_small = predict_cells(small, bundled_classifier)
    for cell in CELLS:
        assert scales_small[cell] * 0.75 == pytest.approx(scales[cell], rel=0.04), cell
    agree = np.mean(probs.argmax(axis=1) == probs_small.argmax(axis=1))
    truth = labels_of(members)
    assert agree >= 0.95
    assert (
        np.mean(probs_small.argmax(axis=1) == truth)
        >= np.mean(probs.argmax(axis=1) == truth) - 0.03
    )


def test_models_without_per_cell_sizes_see_the_crops_as_they_are(cells, bundled_classifier):
    """An older model (side-car without ``size_normalisation``) is given the crops unscaled."""
    from napari_karyotype.classification.model import Classifier
    from napari_karyotype.training.evaluation import predict_cells
    from napari_karyotype.training.fit import canvases_of

    members = cells[CELLS[0]]
    absolute = Classifier(
        bundled_classifier.model,
        bundled_classifier.path,
        {"temperature": bundled_classifier.temperature},
    )
    probs, scales = predict_cells(members, absolute)
    assert scales == {}
    np.testing.assert_allclose(probs, absolute.predict_proba(canvases_of(members)), atol=1e-6)
