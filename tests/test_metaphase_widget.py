"""The Metaphase widget: one-line errors, a correction with undo, and a whole scripted session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import test_widgets_helpers as helpers

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SCRIPT = ROOT / "scripts" / "metaphase_session.py"


def test_corrections_before_a_metaphase_say_so_in_one_line(make_napari_viewer, notes):
    from napari_karyotype._widgets import MetaphaseWidget

    viewer = make_napari_viewer()
    w = MetaphaseWidget(viewer)
    assert w.run() is None
    helpers.one_error(notes, "image layer")
    for action in (w.separate, w.cut, w.merge, w.cross, w.drop, w.restore, w.verify):
        assert action() is None
        helpers.one_error(notes, "Karyotype this metaphase")
    assert w.undo() is None
    helpers.one_error(notes, "nothing to undo")
    assert len(viewer.layers) == 0


def test_a_cut_drawn_as_a_line_follows_everywhere_and_undo_gives_the_cell_back(
    make_napari_viewer, notes, qtbot
):
    from napari_karyotype._widgets import MetaphaseWidget
    from napari_karyotype._widgets.display import table_of
    from napari_karyotype.cell import corrections as cc
    from napari_karyotype.classification.model import bundled_model_path
    from test_corrections import SHAPE, _rod_cell

    if not bundled_model_path().is_file():
        pytest.skip("bundled classifier not present")
    image, objects = _rod_cell()
    viewer = make_napari_viewer()
    viewer.add_image(image, name="spread")
    w = MetaphaseWidget(viewer)
    cell = cc.classify(image, objects)
    w.show(cell)
    names = {layer.name for layer in viewer.layers}
    assert {"chromosomes", "left out", "karyogram", "gestures", "classes"} <= names
    assert viewer.layers["karyogram"].translate[1] > SHAPE[1]  # beside the spread
    assert len(table_of(viewer.layers["chromosomes"])) == 10
    viewer.layers["gestures"].add([np.array([[85.0, 120.0], [85.0, 140.0]])], shape_type="line")
    w.cut()
    qtbot.waitUntil(lambda: w.worker is None, timeout=60000)
    assert not notes.errors, notes.errors
    assert w.cell.summary.count == 11
    assert len(table_of(viewer.layers["chromosomes"])) == 11
    assert len(viewer.layers["gestures"].data) == 0  # the gesture is used up
    assert "11 chromosomes" in w.summary.value
    w.undo()
    assert w.cell is cell
    assert np.array_equal(viewer.layers["chromosomes"].data, cell.labels)
    assert len(table_of(viewer.layers["chromosomes"])) == 10
    viewer.layers["chromosomes"].selected_label = 3
    w.drop()
    qtbot.waitUntil(lambda: w.worker is None, timeout=60000)
    assert 3 in set(np.unique(viewer.layers["left out"].data))
    assert 3 not in set(np.unique(viewer.layers["chromosomes"].data))


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)")
@pytest.mark.skipif(not (SHARED / "taichung").is_dir(), reason="shared Taichung data absent")
def test_a_scripted_metaphase_session_gets_through(tmp_path):
    from napari_karyotype.segmentation.spread_model import bundled_segmenter

    if not bundled_segmenter().is_file():
        pytest.skip("metaphase segmenter not present")
    src = str(ROOT / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    image = SHARED / "taichung" / "images" / "103064.jpg"
    run = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(SCRIPT), str(image), "--shots", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "session ok" in run.stdout
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(shots) >= 7 and shots[0].endswith("karyotyped.png")
    assert shots[-1].endswith("restored.png")


def test_a_crossing_pair_is_drawn_as_two_chromosomes_and_hovering_names_them(make_napari_viewer):
    """Two chromosomes crossing in an X: the shared pixels hatched (hovering them names both),
    each chromosome's outline whole, and hovering either one's own arm names it."""
    from napari_karyotype._widgets import MetaphaseWidget
    from napari_karyotype.cell import corrections as cc
    from napari_karyotype.cell.features import empty_features
    from test_corrections import SHAPE, obj, rect

    upright, lying = rect((10, 40, 90, 46)), rect((47, 10, 53, 120))
    objects = cc.cross([obj(1, upright), obj(2, lying & ~upright)], 1, 2, SHAPE)
    image = np.full(SHAPE, 0.9, np.float32)
    image[upright | lying] = 0.3
    table = empty_features(2)
    table["label"], table["assigned"] = [3, 4], ["1", "2"]
    cell = cc.settle(image, objects, table, 1.0)
    assert list(cell.shared) == [(3, 4)]
    viewer = make_napari_viewer()
    viewer.add_image(image, name="spread")
    w = MetaphaseWidget(viewer)
    w.show(cell)

    crossings = viewer.layers["crossings"]
    shared = np.asarray(crossings.data)
    assert np.array_equal(shared > 0, upright & lying)  # every shared pixel, nothing else
    assert set(np.unique(shared)) == {0, 1, 2}  # 1: the hatch, 2: between its lines
    colors = crossings.colormap.color_dict
    assert colors[1][3] == 1 and colors[2][3] == 0  # the hatch black, the rest see-through
    for value in (1, 2):
        at = np.argwhere(shared == value)[0]
        said = crossings.get_status(tuple(at))["value"]
        assert "1 (label 3)" in said and "2 (label 4)" in said, said

    outlines = viewer.layers["outlines"]
    assert sorted(outlines.features["label"]) == [3, 4]
    for poly, lab in zip(outlines.data, outlines.features["label"], strict=True):
        whole = upright if lab == 3 else lying
        rows, cols = np.nonzero(whole)
        assert poly[:, 0].min() <= rows.min() and poly[:, 0].max() >= rows.max() - 1
        assert poly[:, 1].min() <= cols.min() and poly[:, 1].max() >= cols.max() - 1

    chromosomes = viewer.layers["chromosomes"]
    for lab, at in ((3, (20, 43)), (4, (50, 100))):  # each one's own arm, off the crossing
        said = chromosomes.get_status(at)["value"]
        assert f"label: {lab}" in said, said
