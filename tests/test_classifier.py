"""Bundled classifier: lazy loading, errors naming the file, classify_labels, a sanity floor."""

from __future__ import annotations

import numpy as np
import pytest

from napari_karyotype import CLASSES
from napari_karyotype.errors import KaryotypeError


def test_bundled_model_is_small_and_described():
    import json

    from napari_karyotype.classification.model import bundled_model_path

    path = bundled_model_path()
    assert path.is_file() and path.stat().st_size <= 5 * 1024 * 1024
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["classes"] == list(CLASSES)
    assert 0.2 < meta["temperature"] < 5
    assert meta["canvas_stats"]["median_area_px"] > 0


def test_load_is_cached_and_probabilities_sum_to_one():
    from napari_karyotype.classification.model import load_classifier

    clf = load_classifier()
    assert load_classifier() is clf
    p = clf.predict_proba(np.ones((3, 220, 100), np.float32))
    assert p.shape == (3, 24)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_missing_and_corrupt_model_files(tmp_path):
    from napari_karyotype.classification.model import load_classifier

    with pytest.raises(KaryotypeError, match="nothere.keras"):
        load_classifier(tmp_path / "nothere.keras")
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"this is not a model")
    with pytest.raises(KaryotypeError, match="broken.keras") as err:
        load_classifier(bad)
    assert "\n" not in str(err.value)


@pytest.mark.data
def test_classify_labels_on_a_pasted_karyogram(cells):
    from napari_karyotype.classification.model import classify_labels

    chosen = [c for c in cells["161923.054"] if c.cls in ("1", "9", "16", "X")]
    image = np.full((260, 100 * len(chosen)), 255, np.uint8)
    labels = np.zeros(image.shape, np.int32)
    for i, c in enumerate(chosen):
        image[20:240, i * 100 : (i + 1) * 100] = c.image
        labels[20:240, i * 100 : (i + 1) * 100][c.image < 245] = 10 + i
    ids, probs = classify_labels(image, labels)
    assert list(ids) == [10 + i for i in range(len(chosen))]
    predicted = [CLASSES[k] for k in probs.argmax(axis=1)]
    # 7 chromosomes are a partial cell (scale searched): all but at most one named right
    assert sum(p == c.cls for p, c in zip(predicted, chosen, strict=True)) >= len(chosen) - 1
    with pytest.raises(KaryotypeError, match="empty"):
        classify_labels(image, np.zeros_like(labels))


@pytest.mark.data
def test_bundled_model_sanity_floor_on_shared_cells(cells):
    # The bundled model was trained on these cells: this is a floor, not a held-out score.
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.training.evaluation import metrics, predict_cells
    from napari_karyotype.training.fit import labels_of

    chosen = [c for cid in ("161945.009", "173451.001", "C171543.099") for c in cells[cid]]
    probs, _ = predict_cells(chosen, load_classifier())
    m = metrics(probs, labels_of(chosen), [c.cell for c in chosen])
    assert m["top1"] >= 0.95 and m["top1_assigned"] >= 0.97
