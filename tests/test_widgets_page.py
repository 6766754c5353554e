"""The Classify widget reads the page as ``analyze`` does: on a raw metaphase it says so and claims
no karyotype, after every relabel, re-classification and restore too; on a karyogram it gives the
ISCN as before."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy import ndimage as ndi

import test_widgets_helpers as helpers
from napari_karyotype.samples.synthetic import synthetic_karyogram

pytestmark = pytest.mark.gui

ISCN = re.compile(r"\b\d\d,X")
"""An ISCN karyotype anywhere in a text (``46,XY``, ``47,XX,+21``)."""


def _strewn(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A raw metaphase drawn here: the 46 chromosomes of the drawn karyogram strewn at random
    angles over a page (no rows); ``(uint8 page, their labels)``."""
    from test_page import _metaphase

    return _metaphase(synthetic_karyogram(seed=1), seed, labelled=True)


def _shared_metaphase() -> tuple[np.ndarray, np.ndarray]:
    """A real raw metaphase beside nuclei (shared data), labelled by its dark components."""
    from skimage.filters import threshold_otsu
    from skimage.morphology import remove_small_objects

    from napari_karyotype.image.io import read_karyogram
    from test_page import _shared

    k = read_karyogram(_shared("metaphase_heihuifei_18-Y2906.050.O_raw.png"))
    ink = remove_small_objects(k.image < threshold_otsu(k.image), 60)
    labels = ndi.label(ink)[0].astype(np.int32)
    return np.round(k.image * 255).astype(np.uint8), labels


def _classify(viewer, qtbot, widget):
    assert widget.run() is not None
    helpers.wait_worker(qtbot, widget)


def _open(viewer, image, labels, model, folder, source=None):
    from napari_karyotype._widgets import ClassifyWidget

    metadata = {} if source is None else {"source": str(source)}
    viewer.add_image(image, name="page", metadata=metadata)
    layer = viewer.add_labels(labels, name="chromosomes")
    widget = ClassifyWidget(viewer)
    widget.model.value = model
    widget.session_folder.value = folder  # never beside a shared image
    return widget, layer


@pytest.mark.parametrize("page", ["drawn", "shared"])
def test_metaphase_is_named_and_no_karyotype_is_claimed(
    make_napari_viewer, qtbot, notes, tiny_model, tmp_path, page
):
    import imageio.v3 as iio

    from napari_karyotype._widgets.display import page_warnings, store_page_warnings
    from napari_karyotype.cell.session import find_session, load_session

    image, labels = _strewn() if page == "drawn" else _shared_metaphase()
    source = tmp_path / "metaphase.png"  # a file, so that the review is autosaved
    iio.imwrite(source, image)
    viewer = make_napari_viewer()
    widget, layer = _open(viewer, image, labels, tiny_model, tmp_path / "reviews", source)
    _classify(viewer, qtbot, widget)
    assert notes.errors == []
    warnings = page_warnings(layer)
    assert len(warnings) == 1 and warnings[0].startswith("page: not an arranged karyogram")
    n = len(np.unique(labels)) - 1

    def says_metaphase():
        lines = widget.summary.value.splitlines()
        assert lines[:2] == [f"{n} chromosomes", warnings[0]], lines
        assert not ISCN.search(widget.summary.value) and "too many" not in widget.summary.value

    says_metaphase()
    said = [t for t in notes.infos if t.startswith("classified:")]
    assert said == [f"classified: {n} chromosomes, {warnings[0]}"]
    # The user's review keeps saying it: a relabel, an undo, a second classification.
    first = int(layer.features["label"].iloc[0])
    widget.set_class("21", label=first)
    says_metaphase()
    widget.undo()
    says_metaphase()
    _classify(viewer, qtbot, widget)
    says_metaphase()
    # The autosaved review holds it, and restoring the review brings it back.
    assert widget._saver.flush(30)
    saved = load_session(find_session(source, tmp_path / "reviews"))
    assert saved.meta["page_warnings"] == warnings
    store_page_warnings(layer, [])
    widget.restore()
    assert page_warnings(layer) == warnings
    says_metaphase()
    meta = json.loads((tmp_path / "reviews" / "metaphase.karyotype" / "session.json").read_text())
    assert meta["page_warnings"] == warnings


@pytest.mark.parametrize("karyogram", ["drawn", "composed"])
def test_a_karyogram_still_shows_its_karyotype(
    make_napari_viewer, qtbot, notes, tiny_model, tmp_path, request, karyogram
):
    from napari_karyotype._widgets.display import page_warnings
    from napari_karyotype.cell.features import summarize

    if karyogram == "drawn":
        k = synthetic_karyogram(seed=1)
    else:
        from napari_karyotype.samples.compose import compose_karyogram

        k = compose_karyogram(request.getfixturevalue("cells")["C171543.044"], seed=2)
    viewer = make_napari_viewer()
    widget, layer = _open(viewer, k.image, k.labels, tiny_model, tmp_path)
    _classify(viewer, qtbot, widget)
    assert notes.errors == []
    assert page_warnings(layer) == []
    iscn = summarize(layer.features.drop(columns=["index"])).iscn
    assert ISCN.match(iscn)
    assert widget.summary.value.splitlines()[0] == f"46 chromosomes · {iscn}"
    assert [t for t in notes.infos if t.startswith("classified:")] == [
        f"classified: 46 chromosomes, {iscn}"
    ]
    assert "page:" not in widget.summary.value
