"""Drive a real napari viewer through classifications, edits and re-segmentation (a subprocess).

usage: python gui_stress.py stress SESSIONS | reopen IMAGE ROUNDS | save IMAGE OUT
       | restore IMAGE OUT | metaphase SESSIONS IMAGE [IMAGE ...]
Prints one line per step; exits 0 only if every step got through.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

COUNTS = (46, 25, 12, 1, 47)


def pump(app, seconds=0.05):
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.005)


def wait(app, widget, limit=300):
    t0 = time.time()
    while widget.worker is not None and time.time() - t0 < limit:
        app.processEvents()
        time.sleep(0.01)
    assert widget.worker is None, "worker did not finish"


def keep(labels, count):
    """Labels with ``count`` chromosomes: the first ids kept; 47 splits the largest one."""
    ids = [i for i in np.unique(labels) if i]
    out = np.where(np.isin(labels, ids[:count]), labels, 0).astype(np.int32)
    if count > len(ids):
        big = max(ids, key=lambda i: (labels == i).sum())
        rows = np.nonzero(out == big)[0]
        out[(out == big) & (np.arange(out.shape[0])[:, None] > np.median(rows))] = max(ids) + 1
    return out


def session(viewer_setup=None):
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_karyotype._widgets import open_demo

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    ws = open_demo(viewer, sample="hu2019")
    viewer.layers["rows"].selected_data = set()
    return viewer, app, ws


def stress(sessions: int) -> None:
    for k in range(sessions):
        viewer, app, ws = session()
        seg, cls = ws["segment"], ws["classify"]
        for _ in range(2):  # a user refining rows: segment, classify, segment again
            seg.run()
            wait(app, seg)
            cls.run()
            wait(app, cls)
        print(f"session {k}: re-segmented after classifying", flush=True)
        layer = viewer.layers["chromosomes"]
        full = np.array(layer.data, copy=True)
        for count in COUNTS:
            layer.data = keep(full, count)
            pump(app)
            cls.run()
            wait(app, cls)
            assert len(cls.current_table()) == len(np.unique(layer.data)) - 1
            print(f"session {k}: classified {count}", flush=True)
        ids = [i for i in np.unique(layer.data) if i]
        data = np.array(layer.data, copy=True)
        data[data == ids[1]] = ids[0]  # merge two chromosomes
        data[data == ids[2]] = 0  # delete one
        layer.data = data
        pump(app, 0.5)
        cls.run()
        wait(app, cls)
        print(f"session {k}: re-classified after merge and delete", flush=True)
        seg.run()
        wait(app, seg)
        cls.run()
        wait(app, cls)
        print(f"session {k}: re-segmented and classified", flush=True)
        viewer.close()
        pump(app)
    print("stress ok", flush=True)


def reopen(image, rounds: int) -> None:
    """Segment, then close every layer and open ``image`` with no idle time between, as a
    script or File > Open right after closing the layers does; then rows (a notification
    fades in over the canvas) and segment again.  The old plugin died here (Mesa segfault)."""
    viewer, app, ws = session()
    ws["segment"].run()
    wait(app, ws["segment"])
    for k in range(rounds):
        viewer.layers.clear()
        img = viewer.open(image, plugin="napari-karyotype")[0]
        for w in ws.values():
            w.image.value = img
        ws["rows"].run()
        if "rows" in viewer.layers:
            viewer.layers["rows"].selected_data = set()
        ws["segment"].run()
        wait(app, ws["segment"])
        pump(app, 0.3)
        count = len(np.unique(viewer.layers["chromosomes"].data)) - 1
        print(f"round {k}: {count} labels", flush=True)
    viewer.close()
    pump(app)
    print("reopen ok", flush=True)


def open_image(image):
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_karyotype._widgets import ClassifyWidget, RowsWidget, SegmentWidget

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    img = viewer.open(image, plugin="napari-karyotype")[0]
    ws = {"rows": RowsWidget(viewer), "segment": SegmentWidget(viewer)}
    ws["classify"] = ClassifyWidget(viewer)
    for w in ws.values():
        w.image.value = img
        viewer.window.add_dock_widget(w)
    pump(app)
    return viewer, app, ws


def save(image, out) -> None:
    """Segment, classify, relabel, wait for the autosave, then die without closing anything."""
    from napari_karyotype.cell.export import write_table_csv

    viewer, app, ws = open_image(image)
    ws["rows"].run()
    viewer.layers["rows"].selected_data = set()
    ws["segment"].run()
    wait(app, ws["segment"])
    ws["classify"].run()
    wait(app, ws["classify"])
    cls = ws["classify"]
    label = int(cls.current_table()["label"].iloc[0])
    table = cls.set_class("Y", label)
    pump(app, 0.5)
    assert cls._saver.flush(60)
    np.save(os.path.join(out, "labels.npy"), np.asarray(viewer.layers["chromosomes"].data))
    write_table_csv(os.path.join(out, "table.csv"), table)
    print("saved; killing the process", flush=True)
    os.kill(os.getpid(), 9)


def restore(image, out) -> None:
    viewer, app, ws = open_image(image)
    cls = ws["classify"]
    assert cls.restore_button.enabled, "no restore offered"
    table = cls.restore()
    pump(app, 0.5)
    from napari_karyotype.cell.export import write_table_csv

    np.save(os.path.join(out, "restored.npy"), np.asarray(viewer.layers["chromosomes"].data))
    write_table_csv(os.path.join(out, "restored.csv"), table)
    from skimage.io import imsave

    imsave(os.path.join(out, "restored.png"), viewer.screenshot(canvas_only=False))
    viewer.close()
    print("restore ok", flush=True)


def metaphase(sessions: int, images: list[str]) -> None:
    """``sessions`` metaphase sessions in a row, each in a new viewer on the next of ``images``
    (in turn): the one button, a cut, a merge, a drop, an undo, then the viewer closed."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_karyotype._widgets import MetaphaseWidget
    from napari_karyotype.cell import corrections as cc

    def centre(o):
        return np.argwhere(o.mask).mean(0) + np.array(o.box[:2], float)

    import shutil
    import tempfile

    work = tempfile.mkdtemp(prefix="metaphase-stress-")  # the reviews are autosaved there
    copies = [shutil.copy(image, work) for image in images]
    for k in range(sessions):
        image = copies[k % len(copies)]
        t0 = time.time()
        viewer = napari.Viewer(show=True)
        app = QApplication.instance()
        w = MetaphaseWidget(viewer)
        viewer.window.add_dock_widget(w)
        w.image.value = viewer.open(image, plugin="napari-karyotype")[0]
        w.run()
        wait(app, w, limit=600)
        assert w.cell is not None, f"session {k}: no result: {w.status.value}"
        first = w.cell
        longest = max(first.chromosomes, key=lambda o: o.area)
        mid = centre(longest)
        _c, _u, normal, half, _e = cc._axis(longest.mask)
        reach = 3 * half + 6
        viewer.layers["gestures"].add([np.array([mid - reach * normal, mid + reach * normal])],
                                      shape_type="line")  # fmt: skip
        w.cut()
        wait(app, w)
        cut = w.cell
        assert cut.summary.count > first.summary.count, f"session {k}: cut: {w.status.value}"
        pieces = sorted(cut.chromosomes, key=lambda o: -o.label)[:2]
        viewer.layers["gestures"].add([np.array([centre(p) for p in pieces])], shape_type="line")
        w.merge()
        wait(app, w)
        assert w.cell.summary.count < cut.summary.count, f"session {k}: merge"
        small = min(w.cell.chromosomes, key=lambda o: o.area)
        viewer.layers["chromosomes"].selected_label = small.label
        before = w.cell
        w.drop()
        wait(app, w)
        assert w.cell.summary.count == before.summary.count - 1, f"session {k}: drop"
        w.undo()
        pump(app, 0.3)
        assert w.cell is before, f"session {k}: undo did not give the cell back"
        assert np.array_equal(viewer.layers["chromosomes"].data, before.labels)
        name = os.path.basename(image)
        print(f"session {k}: {name}: {first.summary.count} chromosomes, cut, merged, dropped, "
              f"undone, closed ({time.time() - t0:.0f} s)", flush=True)  # fmt: skip
        viewer.close()
        pump(app)
    shutil.rmtree(work, ignore_errors=True)
    print("metaphase stress ok", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "stress":
        stress(int(sys.argv[2]))
    elif mode == "reopen":
        reopen(sys.argv[2], int(sys.argv[3]))
    elif mode == "metaphase":
        metaphase(int(sys.argv[2]), sys.argv[3:])
    elif mode == "save":
        save(sys.argv[2], sys.argv[3])
    else:
        restore(sys.argv[2], sys.argv[3])
