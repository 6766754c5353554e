"""The Classify widget with classes from the layout: a swapped pair flagged, a metaphase told."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

import test_widgets_helpers as helpers

pytestmark = [pytest.mark.gui, pytest.mark.data]


def class_of_row(table, label: int) -> str:
    return str(table.loc[table["label"] == label, "assigned"].item())


def test_both_flags_a_swapped_pair(make_napari_viewer, qtbot, notes, cells, bundled_classifier):
    from napari_karyotype._widgets import ClassifyWidget
    from napari_karyotype.samples.compose import compose_karyogram

    swap = {"7": "9", "9": "7"}
    chromosomes = [replace(c, cls=swap.get(c.cls, c.cls)) for c in cells["C171543.044"]]
    k = compose_karyogram(chromosomes, seed=2)
    viewer = make_napari_viewer()
    viewer.add_image(k.image, name="karyogram")
    layer = viewer.add_labels(k.labels, name="chromosomes")
    widget = ClassifyWidget(viewer)
    widget.classes.value = "both"  # the bundled model (the classifier fixture loaded it)
    assert widget.run() is not None
    helpers.wait_worker(qtbot, widget)
    assert notes.errors == []
    assert not any("layout not read" in n for n in notes.infos)
    table = layer.features
    misplaced = {lab for lab, cls in k.classes.items() if cls in swap}
    flagged = set(table.loc[table["disagrees"], "label"].astype(int))
    assert len(misplaced & flagged) >= 3 and len(flagged - misplaced) <= 2
    assert f"{len(flagged)} disagree with the layout" in widget.summary.value
    points = viewer.layers["classes"]
    texts = dict(zip(points.features["label"].astype(int), points.text.values, strict=True))
    assert all("≠" in texts[lab] for lab in flagged)
    assert all("≠" not in texts[lab] for lab in set(texts) - flagged)
    # The reviewer walks through the chromosomes in doubt (the flagged ones among them), the
    # view centred on each, then verifies them one by one until none is left.
    named = re.search(r"look at labels? ([\d, ]+)", widget.summary.value)
    assert named, widget.summary.value
    doubt = [int(v) for v in named.group(1).replace(",", " ").split()]
    walked = []
    for _ in range(len(table)):
        label = widget.next_in_doubt()
        if label in walked:
            break
        walked.append(label)
        rows, cols = np.nonzero(layer.data == label)
        assert np.allclose(viewer.camera.center[-2:], (rows.mean(), cols.mean()), atol=1)
    assert flagged <= set(walked) and walked[: len(doubt)] == doubt
    for label in walked:
        widget.set_class(class_of_row(layer.features, label), label)
    assert widget.next_in_doubt() is None
    assert "look at" not in widget.summary.value
    assert notes.errors == []


def test_auto_takes_the_place_and_says_so(
    make_napari_viewer, qtbot, notes, cells, bundled_classifier
):
    """By default (auto) a composed karyogram's chromosomes take the class of their place; the
    text on each is its class alone (no confidence: its place decided), and none is ringed as
    low confidence."""
    from napari_karyotype._widgets import ClassifyWidget
    from napari_karyotype.samples.compose import compose_karyogram

    k = compose_karyogram(cells["C171543.044"], seed=2)
    viewer = make_napari_viewer()
    viewer.add_image(k.image, name="karyogram")
    layer = viewer.add_labels(k.labels, name="chromosomes")
    widget = ClassifyWidget(viewer)
    assert widget.classes.value == "auto"
    assert widget.run() is not None
    helpers.wait_worker(qtbot, widget)
    assert notes.errors == []
    table = layer.features
    assigned = dict(zip(table["label"].astype(int), table["assigned"], strict=True))
    assert sum(assigned[lab] == cls for lab, cls in k.classes.items()) >= 0.99 * len(k.classes)
    points = viewer.layers["classes"]
    texts = dict(zip(points.features["label"].astype(int), points.text.values, strict=True))
    placed = set(table.loc[table["layout"] != "", "label"].astype(int))
    assert len(placed) >= 44
    assert all(texts[lab] == assigned[lab] for lab in placed)
    assert not any(points.features["state"][points.features["label"].isin(placed)] == "low")


def test_unreadable_layout_keeps_the_cnn(make_napari_viewer, qtbot, notes, bundled_classifier):
    from napari_karyotype._widgets import ClassifyWidget
    from napari_karyotype.samples.synthetic import synthetic_karyogram

    sample = synthetic_karyogram(seed=2)
    labels = np.array(sample.labels, copy=True)
    labels[labels.shape[0] // 3 :] = 0  # the top row only: no karyogram arrangement
    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="cell")
    layer = viewer.add_labels(labels, name="chromosomes")
    widget = ClassifyWidget(viewer)
    widget.classes.value = "layout"
    assert widget.run() is not None
    helpers.wait_worker(qtbot, widget)
    assert notes.errors == []
    assert any(n.startswith("layout not read") for n in notes.infos)
    assert (layer.features["layout"] == "").all()
    assert (layer.features["assigned"] != "").all()
