"""A metaphase session as a user drives it, in a real napari viewer (run it under Xvfb).

usage: xvfb-run -a python scripts/metaphase_session.py IMAGE --shots DIR

Opens IMAGE (a copy in a fresh folder, so that its review is saved beside it), docks the
Metaphase widget, presses "Karyotype this metaphase", then makes each correction once as a user
would (drawing in the 'gestures' layer or picking a label): separate inside a shape, cut along a
line, merge the two pieces again, mark two touching chromosomes as crossing, drop one as debris,
restore it, set a class, verify the cell. After each step a screenshot goes into DIR and undo is
checked to give back the previous state exactly (then redone). Finally the image is closed and
opened again: the saved review is offered and restored as it was. Prints ``session ok`` at the end.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def pump(seconds=0.05):
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.005)


def wait(widget, limit=600):
    t0 = time.time()
    while widget.worker is not None and time.time() - t0 < limit:
        pump(0.02)
    assert widget.worker is None, "the worker did not finish"
    pump(0.2)


def same_cell(a, b) -> bool:
    """Two cells show the same: objects, labels, table, karyogram."""
    objs = len(a.objects) == len(b.objects) and all(
        (x.label, x.kind, x.box) == (y.label, y.kind, y.box) and np.array_equal(x.mask, y.mask)
        for x, y in zip(a.objects, b.objects, strict=True)
    )
    return (
        objs
        and np.array_equal(a.labels, b.labels)
        and a.table.reset_index(drop=True).equals(b.table.reset_index(drop=True))
        and np.array_equal(a.karyogram, b.karyogram)
        and a.summary == b.summary
    )


def centre(obj):
    return np.argwhere(obj.mask).mean(0) + np.array(obj.box[:2], float)


class Session:
    def __init__(self, viewer, widget, shots: Path):
        self.v, self.w, self.shots, self.n = viewer, widget, shots, 0

    def shot(self, name):
        self.n += 1
        pump(0.3)
        path = self.shots / f"{self.n:02d}_{name.replace(' ', '_')}.png"
        self.v.screenshot(str(path), canvas_only=False, flash=False)
        return path

    def focus(self, before, after):
        """Zoom onto what a step changed (the objects one cell has and the other has not)."""
        key = lambda o: (o.label, o.kind)  # noqa: E731
        old, new = {key(o) for o in before.objects}, {key(o) for o in after.objects}
        changed = [o for o in before.objects if key(o) not in new]
        changed += [o for o in after.objects if key(o) not in old]
        self.focus_on(changed)

    def focus_on(self, objects, spans: float = 3.0):
        """Zoom onto ``objects``: their boxes over about 1 / ``spans`` of the view."""
        self.v.reset_view()
        if not objects:
            return
        boxes = np.array([o.box for o in objects], float)
        r0, c0 = boxes[:, :2].min(0)
        r1, c1 = boxes[:, 2:].max(0)
        h, w = self.w.cell.labels.shape
        scene = getattr(self.v, "scene", None)  # napari >= 0.9; viewer.camera before
        camera = scene.camera if scene is not None else self.v.camera
        camera.center = ((r0 + r1) / 2, (c0 + c1) / 2)
        span = max(r1 - r0, c1 - c0, 40.0) * spans
        camera.zoom = camera.zoom * max(h, 2 * w) / span / 1.5

    def gesture(self, kind, vertices):
        layer = self.v.layers["gestures"]
        layer.add([np.asarray(vertices, float)], shape_type=kind)
        pump(0.1)

    def crossing(self):
        """Zoom onto the most X-like crossing pair, check what hovering says, screenshot."""
        cell, shape = self.w.cell, self.w.cell.labels.shape
        if not cell.shared:
            print("crossing: none in this cell", flush=True)
            return None
        masks = {lab: cell.object(lab).full_mask(shape) for pair in cell.shared for lab in pair}
        a, b = max(cell.shared, key=lambda p: x_likeness(masks[p[0]], masks[p[1]]))
        both = masks[a] & masks[b]
        names = []
        for lab in (a, b):
            own = np.argwhere(masks[lab] & ~both & (cell.labels == lab))
            said = self.v.layers["chromosomes"].get_status(tuple(own[len(own) // 2]))["value"]
            assert f"label: {lab}" in said, f"hovering chromosome {lab} says {said!r}"
            names.append(said)
        at = tuple(np.argwhere(both)[0])
        said = self.v.layers["crossings"].get_status(at)["value"]
        assert f"(label {a})" in said and f"(label {b})" in said, f"the crossing says {said!r}"
        outlined = set(self.v.layers["outlines"].features["label"])
        assert {a, b} <= outlined, f"outlines {sorted(outlined)} lack {a} or {b}"
        self.focus_on([cell.object(a), cell.object(b)], 1.5)
        path = self.shot("crossing")
        self.v.reset_view()
        angle = x_likeness(masks[a], masks[b])
        how = f"an X, {angle:.0f} degrees apart" if angle >= 0 else "touching, not an X"
        print(f"crossing: {a} and {b} ({how}), {int(both.sum())} pixels shared; the crossing "
              f"says {said.split('; ', 1)[-1]!r}", flush=True)  # fmt: skip
        return path

    def step(self, name, action, check):
        """Run one correction, check it, screenshot, then undo (exact) and redo."""
        before = self.w.cell
        action()
        wait(self.w)
        after = self.w.cell
        assert after is not before, f"{name}: nothing happened ({self.w.status.value})"
        check(before, after)
        self.focus(before, after)
        self.shot(name)
        self.v.reset_view()
        self.w.undo()
        assert same_cell(self.w.cell, before), f"{name}: undo did not give the state back"
        self.w.redo()
        assert same_cell(self.w.cell, after), f"{name}: redo did not give the step back"
        print(f"{name}: {after.summary.count} chromosomes ({self.w.status.value})", flush=True)
        return after


def run(image: Path, shots: Path) -> None:
    import napari

    from napari_karyotype.cell import corrections as cc

    shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="metaphase-session-"))
    path = work / image.name
    shutil.copy(image, path)
    v = napari.Viewer(show=True)
    v.window.resize(1600, 1000)
    _dock, w = v.window.add_plugin_dock_widget("napari-karyotype", "Metaphase")
    layer = v.open(str(path), plugin="napari-karyotype")[0]
    w.image.value = layer
    s = Session(v, w, shots)

    # one button
    w.run()
    wait(w)
    assert w.cell is not None, f"no result: {w.status.value}"
    v.reset_view()
    cell = w.cell
    print(f"karyotyped: {w.summary.value.splitlines()[0]}", flush=True)
    assert {"chromosomes", "left out", "karyogram", "gestures"} <= {x.name for x in v.layers}
    s.shot("karyotyped")
    shape = cell.labels.shape

    # separate again inside a rectangle around the largest chromosome object (a cluster?)
    big = max(cell.chromosomes, key=lambda o: o.area)
    r0, c0, r1, c1 = big.box
    s.step(
        "separate",
        lambda: (s.gesture("rectangle", [[r0 - 4, c0 - 4], [r1 + 4, c1 + 4]]), w.separate()),
        lambda b, a: None,
    )

    # cut the longest chromosome across its middle
    cell = w.cell
    longest = max(cell.chromosomes, key=lambda o: o.area)
    mid = centre(longest)
    _c, _u, normal, half, _e = cc._axis(longest.mask)
    reach = 3 * half + 6
    s.step(
        "cut",
        lambda: (s.gesture("line", [mid - reach * normal, mid + reach * normal]), w.cut()),
        lambda b, a: _check(a.summary.count > b.summary.count, "cut: more chromosomes"),
    )

    # merge two pieces of the cut again: a short line across where they meet
    cell = w.cell
    pieces = sorted(cell.chromosomes, key=lambda o: -o.label)[:2]
    s.step(
        "merge",
        lambda: (s.gesture("line", _join_line(*pieces)), w.merge()),
        lambda b, a: _check(a.summary.count == b.summary.count - 1, "merge: one fewer"),
    )

    # two touching chromosomes marked as crossing: a line from one to the other
    cell = w.cell
    pair = _touching_pair(cell, shape)
    if pair is None:
        print("cross: no two chromosomes touch here: skipped", flush=True)
    else:
        a_obj, b_obj = (cell.object(lab) for lab in pair)
        s.step(
            "cross",
            lambda: (s.gesture("line", [_on(a_obj), _on(b_obj)]), w.cross()),
            lambda b, a: _check(
                a.summary.count == b.summary.count and len(a.shared) >= 1, "cross: a shared pair"
            ),
        )

    # the most X-like crossing of the cell as the viewer shows it: two whole outlines, the
    # shared pixels hatched; hovering each one's own arm names it, hovering the crossing both
    s.crossing()

    # drop the smallest chromosome as debris, then restore it
    cell = w.cell
    small = min(cell.chromosomes, key=lambda o: o.area)
    v.layers["chromosomes"].selected_label = small.label
    s.step(
        "drop",
        lambda: w.drop(),
        lambda b, a: _check(
            a.summary.count == b.summary.count - 1 and small.label in a.left_out_labels(), "drop"
        ),
    )
    v.layers["left out"].selected_label = small.label
    s.step(
        "restore",
        lambda: w.restore(),
        lambda b, a: _check(a.summary.count == b.summary.count + 1, "restore: counted again"),
    )

    # verify a class by hand
    first = int(w.cell.table["label"].iloc[0])
    v.layers["chromosomes"].selected_label = first
    s.step(
        "set class",
        lambda: w.set_class("7"),
        lambda b, a: _check(
            bool(a.table.set_index("label").loc[first, "verified"]), "set class: verified"
        ),
    )

    # walk to the chromosomes in doubt: each selected in turn, the view centred on it
    doubt = list(w.cell.summary.in_doubt)
    for k in range(min(2, len(doubt))):
        label = w.next_in_doubt()
        pump(0.2)
        _check(label == doubt[k], f"next in doubt: {label} is not {doubt[k]}")
        rows, cols = np.nonzero(v.layers["chromosomes"].data == label)
        _check(np.allclose(v.camera.center[-2:], (rows.mean(), cols.mean()), atol=1),
               "next in doubt: the view is not centred on it")  # fmt: skip
        print(f"next in doubt: label {label}", flush=True)
    if doubt:
        s.shot("in doubt")

    # sign the cell: every chromosome verified as shown (none in doubt any more)
    s.step(
        "verify",
        lambda: w.verify(),
        lambda b, a: _check(
            bool(a.table["verified"].all()) and "in doubt" not in " ".join(a.summary.flags)
            and not a.summary.in_doubt,
            "verify: every chromosome verified",
        ),
    )

    # close and reopen: the saved review is offered and restored
    final = w.cell
    assert w._saver.flush(60), "autosave did not finish"
    v.layers.clear()
    pump(0.3)
    layer = v.open(str(path), plugin="napari-karyotype")[0]
    w.image.value = layer
    pump(0.3)
    assert w.restore_button.enabled, "the saved review is not offered"
    restored = w.restore_review()
    assert restored is not None, w.status.value
    assert np.array_equal(restored.labels, final.labels), "restored labels differ"
    cols = ["label", "assigned", "verified"]
    assert restored.table[cols].equals(final.table[cols]), "restored classes differ"
    assert np.array_equal(restored.karyogram, final.karyogram), "restored karyogram differs"
    v.reset_view()
    s.shot("restored")
    print(f"restored: {w.summary.value.splitlines()[0]}", flush=True)
    v.close()
    shutil.rmtree(work, ignore_errors=True)


def _check(ok: bool, what: str) -> None:
    assert ok, what


def _on(obj):
    """A pixel of the object, the one nearest its centre."""
    pts = np.argwhere(obj.mask) + np.array(obj.box[:2])
    return pts[np.argmin(((pts - centre(obj)) ** 2).sum(1))].astype(float)


def _join_line(a, b):
    """A short line from ``a`` to ``b`` across the gap where they come nearest."""
    from scipy.spatial import cKDTree

    pa = np.argwhere(a.mask) + np.array(a.box[:2])
    pb = np.argwhere(b.mask) + np.array(b.box[:2])
    dist, j = cKDTree(pb).query(pa)
    i = int(np.argmin(dist))
    p, q = pa[i].astype(float), pb[j[i]].astype(float)
    step = (q - p) / max(np.hypot(*(q - p)), 1.0)
    return [p - 2 * step, q + 2 * step]


def x_likeness(ma, mb) -> float:
    """How much two chromosomes' whole masks look like an X: the angle (degrees) between their
    long axes where the pixels they share lie in the middle part of both (a true crossing);
    -1 where they do not (touching end to side, or end to end)."""
    from napari_karyotype.cell import corrections as cc

    shared = np.argwhere(ma & mb)
    if not len(shared):
        return -1.0
    angles = []
    for m in (ma, mb):
        centre, u, _n, _h, (lo, hi) = cc._axis(m)
        t = ((shared.mean(0) - centre) @ u - lo) / max(hi - lo, 1.0)
        if not 0.15 <= t <= 0.85:
            return -1.0
        angles.append(u)
    cos = abs(float(angles[0] @ angles[1]))
    return float(np.degrees(np.arccos(min(cos, 1.0))))


def _touching_pair(cell, shape):
    """Two chromosomes that touch and that ``cross`` accepts, the most X-like first (or None)."""
    from scipy import ndimage as ndi

    from napari_karyotype.cell import corrections as cc
    from napari_karyotype.errors import KaryotypeError

    labels = cell.labels
    pairs = set()
    for size in (3, 7):  # touching, or nearly (a pixel or two apart)
        grown = ndi.grey_dilation(labels, size=size)
        near = (labels > 0) & (grown != labels) & (grown > 0)
        pairs |= {tuple(sorted(p)) for p in zip(labels[near], grown[near], strict=True)}
    pairs = sorted((int(a), int(b)) for a, b in pairs)
    best, found = -2.0, None
    for a, b in pairs:
        try:
            crossed = cc.cross(list(cell.objects), a, b, shape)
        except KaryotypeError:
            continue
        score = x_likeness(*(o.full_mask(shape) for o in crossed[-2:]))
        if score > best:
            best, found = score, (a, b)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--shots", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.image.is_file():
        print(f"{args.image}: no such image", file=sys.stderr)
        return 2
    run(args.image, args.shots)
    print("session ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
