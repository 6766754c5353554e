"""The model object: its file (Keras + side-car) written by save_model, read back with its facts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_karyotype import CLASSES
from napari_karyotype.errors import KaryotypeError


def test_saved_model_reads_back_with_its_side_car_facts(classifier, tmp_path):
    from napari_karyotype.classification.model import (
        apply_temperature,
        load_classifier,
        read_model_file,
        save_model,
    )
    from napari_karyotype.classification.scale import PER_CELL

    stats = {"median_axis": 60.0, "class_median_axis": {"1": 110.0}, "median_area": 2000.0}
    meta = {
        **classifier.meta,
        "temperature": 2.0,
        "size_stats": stats,
        "size_normalisation": PER_CELL,
    }
    path = tmp_path / "sub" / "m.keras"
    keras_model = read_model_file(classifier.path)[0]  # training's view: a Keras model
    save_model(keras_model, path, meta)
    assert json.loads(path.with_suffix(".json").read_text()) == meta

    loaded = load_classifier(path)
    assert loaded.path == path and loaded.classes == CLASSES
    assert loaded.temperature == 2.0 and loaded.per_cell and loaded.scale_tolerance == 0.0
    assert loaded.size_normalisation == PER_CELL and loaded.size_stats == stats
    assert loaded.canvas_stats == classifier.canvas_stats

    rng = np.random.default_rng(0)
    canvases = rng.uniform(0.2, 1.0, (5, 220, 100)).astype(np.float32)
    raw = loaded.predict_raw(canvases)
    probs = loaded.predict_proba(canvases)
    np.testing.assert_allclose(raw, classifier.predict_raw(canvases), atol=1e-5)
    np.testing.assert_allclose(probs, apply_temperature(raw, 2.0), atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs.max(axis=1) <= raw.max(axis=1) + 1e-6).all()  # T > 1 flattens

    save_model(keras_model, path, {**meta, "temperature": 0.5})  # written again: read anew
    assert load_classifier(path).temperature == 0.5


def test_a_side_car_without_size_facts_means_absolute_sizes(classifier):
    from napari_karyotype.classification.model import Classifier
    from napari_karyotype.classification.scale import DATASET_STATS, TOLERANCE

    bare = Classifier(classifier.model, classifier.path, {})
    assert bare.classes == CLASSES and bare.temperature == 1.0 and bare.canvas_stats == {}
    assert not bare.per_cell and bare.size_normalisation == "none"
    assert bare.size_stats == DATASET_STATS and bare.scale_tolerance == TOLERANCE


def test_save_model_refuses_a_wrong_name_or_classes(classifier, tmp_path):
    from napari_karyotype.classification.model import save_model

    with pytest.raises(KaryotypeError, match="must end in .keras"):
        save_model(classifier.model, tmp_path / "m.h5", classifier.meta)
    with pytest.raises(KaryotypeError, match="classes differ"):
        save_model(classifier.model, tmp_path / "m.keras", {"classes": ["1", "2"]})
    assert not list(tmp_path.iterdir())
