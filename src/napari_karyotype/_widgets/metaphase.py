"""The "Metaphase" widget: one button from a raw metaphase to a karyogram, and the corrections.

Thin glue over ``pipeline.analyze.analyze_image`` (page ``metaphase``) and
``cell.corrections``: the widget holds the current ``MetaphaseCell`` and the cells before it (undo
is showing the previous one again), runs the work in a worker, and shows a cell in layers:
``chromosomes`` (labels, features, class text), ``left out`` (nuclei and debris, faint),
``outlines`` (each crossing chromosome drawn whole) with ``crossings`` (their shared pixels
hatched), ``karyogram`` (beside the spread) and ``gestures`` (the user draws lines and shapes
there for cut, merge, cross and separate).
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
from magicgui.widgets import ComboBox, Container, ProgressBar, PushButton

from napari_karyotype import CLASSES
from napari_karyotype._widgets._base import ViewerWidget
from napari_karyotype._widgets._common import (
    KARYOGRAM_LAYER,
    LABELS_LAYER,
    Relay,
    find_layer,
    guarded,
    info,
    layer_karyogram,
    notify_error,
    start_worker,
    text_label,
)
from napari_karyotype.errors import KaryotypeError

LEFT_OUT_LAYER = "left out"
OUTLINES_LAYER = "outlines"
CROSSINGS_LAYER = "crossings"
GESTURES_LAYER = "gestures"
KARYOGRAM_GAP = 40
UNDO_STEPS = 50
LINES = ("line", "path")
AREAS = ("polygon", "rectangle", "ellipse")


class Cancelled(KaryotypeError):
    """The user cancelled the run."""


class MetaphaseWidget(ViewerWidget):
    """Karyotype a raw metaphase in one button, then correct it gesture by gesture."""

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, labels=False)
        self.image = self.layer_picker("Image", "image")
        self.run_button = PushButton(text="Karyotype this metaphase")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="progress", min=0, max=4, value=0)
        self.status = text_label("")
        self.summary = text_label("no metaphase karyotyped yet")
        self.buttons = {
            "separate": PushButton(text="Separate inside shape"),
            "cut": PushButton(text="Cut along line"),
            "merge": PushButton(text="Merge along line"),
            "cross": PushButton(text="Crossing (line end to end)"),
            "drop": PushButton(text="Drop as debris"),
            "restore": PushButton(text="Restore as chromosome"),
        }
        self.cls = ComboBox(label="class", choices=CLASSES)
        self.set_button = PushButton(text="Set class")
        self.undo_button = PushButton(text="Undo (Alt-Z)")
        self.restore_button = PushButton(text="Restore saved review", enabled=False)
        b = self.buttons
        rows = [
            [self.run_button, self.cancel_button],
            [b["separate"], b["cut"]],
            [b["merge"], b["cross"]],
            [b["drop"], b["restore"]],
            [self.cls, self.set_button, self.undo_button],
        ]
        boxes = [Container(widgets=r, layout="horizontal", labels=False) for r in rows]
        self.extend([self.image, boxes[0], self.progress, self.status, self.summary, *boxes[1:],
                     self.restore_button])  # fmt: skip
        self.native.setToolTip(
            "Draw in the 'gestures' layer: a shape around a cluster (Separate), a line across a "
            "chromosome (Cut), a line over pieces (Merge), a line from one crossing chromosome to "
            "the other (Crossing). Drop: the chromosome selected in 'chromosomes'; Restore: the "
            "object selected in 'left out'. Alt-Z undoes; the review is saved beside the image."
        )
        self.cell = None
        self.worker = None
        self._undo: list = []
        self._redo: list = []
        self._cancel = threading.Event()
        self._relay = Relay()
        self._relay.value.connect(self._on_progress)
        from napari_karyotype.cell.session import Autosaver

        self._save_errors = Relay()
        self._save_errors.value.connect(lambda err: notify_error(err, "Autosave"))
        self._saver = Autosaver(on_error=lambda err: self._save_errors.value.emit(err))
        self.run_button.changed.connect(lambda _=None: self.run())
        self.cancel_button.changed.connect(lambda _=None: self.cancel())
        for name, button in self.buttons.items():
            button.changed.connect(lambda _=None, n=name: getattr(self, n)())
        self.set_button.changed.connect(lambda _=None: self.set_class(self.cls.value))
        self.undo_button.changed.connect(lambda _=None: self.undo())
        self.restore_button.changed.connect(lambda _=None: self.restore_review())
        self.image.changed.connect(lambda _=None: self._offer_restore())
        self._offer_restore()

    # --------------------------------------------------------------------------- the button
    @guarded("Karyotyping the metaphase")
    def run(self):
        """Segment, classify and arrange the chosen image in a worker; returns the worker."""
        from napari_karyotype.cell.corrections import from_analysis
        from napari_karyotype.pipeline.analyze import analyze_image

        karyogram = layer_karyogram(self.image.value)
        cancel = self._cancel

        def progress(done, total, what):
            if cancel.is_set():
                raise Cancelled("cancelled: layers unchanged")
            self._relay.value.emit((int(done), int(total), str(what)))

        def work():
            return from_analysis(analyze_image(karyogram, page="metaphase", progress=progress))

        return self._start(work, "karyotyping the metaphase", fresh=True)

    def cancel(self):
        """Stop the run at its next step; the layers stay as they were."""
        if self.worker is not None:
            self._cancel.set()
            self.status.value = "cancelling…"

    def _start(self, work, what: str, fresh: bool = False):
        if self.worker is not None:
            raise KaryotypeError("busy: wait for the running step or cancel it")
        self._cancel.clear()
        image_layer = self.image.value
        worker = start_worker(
            work, lambda cell: self._apply(cell, image_layer, fresh), self._on_error,
            self._on_finished,
        )  # fmt: skip
        self.worker = worker
        self._enable(False)
        self.progress.value = 0
        self.status.value = what + "…"
        worker.start()
        return worker

    def _enable(self, on: bool):
        for w in [self.run_button, *self.buttons.values(), self.set_button, self.undo_button]:
            w.enabled = on
        self.cancel_button.enabled = not on

    def _on_progress(self, value):
        done, total, what = value
        self.progress.max = max(1, total)
        self.progress.value = min(done, max(1, total))
        self.status.value = what

    def _on_error(self, err):
        if isinstance(err, Cancelled):
            info(str(err))
            self.status.value = "cancelled"
            return
        self.status.value = notify_error(err, "Metaphase")

    def _on_finished(self):
        self.worker = None
        self._enable(True)

    def _apply(self, cell, image_layer, fresh=False):
        try:
            if image_layer is not None and image_layer not in self.viewer.layers:
                info("the image was closed while working: result dropped")
                return
            if self.cell is not None and not (fresh and self.cell.image.shape != cell.image.shape):
                self._push(self.cell)
            elif fresh:
                self._undo = []
            self.show(cell)
            self.progress.value = self.progress.max
        except Exception as err:  # noqa: BLE001 - every failure becomes one line
            self.status.value = notify_error(err, "Showing the metaphase")

    # ------------------------------------------------------------------------------ display
    def show(self, cell):
        """Show ``cell`` in the layers and the summary; autosave it."""
        from napari_karyotype._widgets.classify import summary_text
        from napari_karyotype._widgets.display import show_classes, store_table

        self.cell = cell
        image = self.image.value
        scale = tuple(image.scale) if image is not None else (1.0, 1.0)
        translate = tuple(image.translate) if image is not None else (0.0, 0.0)
        placed = {"scale": scale, "translate": translate}
        labels = self._labels_layer(LABELS_LAYER, cell.labels, placed, opacity=0.6)
        store_table(labels, cell.table)
        show_classes(self.viewer, labels, cell.table)
        left = self._labels_layer(LEFT_OUT_LAYER, cell.left_out_labels(), placed, opacity=0.3)
        kinds = {o.label: o.kind for o in cell.left_out}
        left.features = pd.DataFrame(
            {"index": list(kinds), "label": list(kinds), "kind": list(kinds.values())}
        )
        crossings = self._labels_layer(CROSSINGS_LAYER, hatch(cell), placed, opacity=0.9)
        crossings.colormap = _one_color((0.0, 0.0, 0.0, 1.0))
        self._outlines(cell, placed)
        self._karyogram(cell, scale, translate)
        gestures = self._gestures(placed)
        layers = self.viewer.layers
        if layers.index(gestures) != len(layers) - 1:
            layers.move(layers.index(gestures), len(layers))
        for layer in (labels, left, gestures):
            layer.bind_key("Alt-z", _key(self, "undo"), overwrite=True)
            layer.bind_key("Alt-Shift-z", _key(self, "redo"), overwrite=True)
        self.viewer.layers.selection.active = labels
        self.summary.value = summary_text(cell.summary)
        n_left = len(cell.left_out)
        self.status.value = (
            f"{cell.summary.count} chromosomes, {n_left} left out, "
            f"{len(cell.shared)} crossing{'s' if len(cell.shared) != 1 else ''}"
        )
        self.save_review()

    def _labels_layer(self, name, data, placed, opacity):
        from napari_karyotype._widgets.segment import write_labels

        layer = find_layer(self.viewer, name, "Labels")
        if layer is not None and np.asarray(layer.data).shape != data.shape:
            self.viewer.layers.remove(layer)
            layer = None
        if layer is None:
            return self.viewer.add_labels(data, name=name, opacity=opacity, **placed)
        write_labels(layer, data)
        return layer

    def _outlines(self, cell, placed):
        """Each crossing chromosome's whole outline as a polygon, in the colour of its class."""
        from napari_karyotype._widgets.display import class_colors, class_of

        crossing = sorted({lab for pair in cell.shared for lab in pair})
        table = cell.table.set_index("label")
        colors = class_colors()
        polygons, feats, edges = [], [], []
        for lab in crossing:
            poly = outline(cell.object(lab))
            if poly is None:
                continue
            cls = class_of(table.loc[lab]) if lab in table.index else ""
            polygons.append(poly)
            feats.append({"label": lab, "class": cls or "?"})
            edges.append(colors.get(cls, (0.2, 0.2, 0.2, 1.0)))
        layer = find_layer(self.viewer, OUTLINES_LAYER, "Shapes")
        if layer is not None:
            self.viewer.layers.remove(layer)
        if not polygons:
            return None
        return self.viewer.add_shapes(
            polygons, shape_type="polygon", name=OUTLINES_LAYER, edge_width=1.5,
            edge_color=edges, face_color="transparent", features=pd.DataFrame(feats), **placed,
        )  # fmt: skip

    def _karyogram(self, cell, scale, translate):
        width = cell.image.shape[1]
        at = (translate[0], translate[1] + (width + KARYOGRAM_GAP) * scale[1])
        layer = find_layer(self.viewer, KARYOGRAM_LAYER, "Image")
        if layer is None:
            self.viewer.add_image(cell.karyogram, name=KARYOGRAM_LAYER, colormap="gray",
                                  contrast_limits=(0, 255), scale=scale, translate=at)  # fmt: skip
            return
        layer.data = cell.karyogram
        layer.translate = at
        layer.contrast_limits = (0, 255)

    def _gestures(self, placed):
        layer = find_layer(self.viewer, GESTURES_LAYER, "Shapes")
        if layer is None:
            layer = self.viewer.add_shapes(
                name=GESTURES_LAYER,
                edge_color="#ff00ff",
                edge_width=2,
                face_color="transparent",
                **placed,
            )
        return layer

    # -------------------------------------------------------------------------- corrections
    def _cell(self):
        if self.cell is None:
            raise KaryotypeError("no metaphase yet: press 'Karyotype this metaphase'")
        return self.cell

    def _gesture(self, kinds):
        """``(shape type, (N, 2) image vertices)`` of the selected (else last) shape drawn in
        ``gestures`` of one of ``kinds``; its index too."""
        layer = find_layer(self.viewer, GESTURES_LAYER, "Shapes")
        if layer is not None and len(layer.data):
            chosen = sorted(layer.selected_data) or list(range(len(layer.data)))
            for i in reversed(chosen):
                if layer.shape_type[i] in kinds:
                    return layer.shape_type[i], np.asarray(layer.data[i], float)[:, -2:], i
        what = "a line or path" if kinds == LINES else "a polygon, rectangle or ellipse"
        raise KaryotypeError(f"draw {what} in the '{GESTURES_LAYER}' layer first")

    def _consume(self, index):
        layer = find_layer(self.viewer, GESTURES_LAYER, "Shapes")
        if layer is not None and index < len(layer.data):
            layer.selected_data = {index}
            layer.remove_selected()

    def _correct(self, make, what):
        """Run correction ``make(objects) -> objects`` in the worker, then classify again."""
        from napari_karyotype.cell.corrections import correct

        cell = self._cell()
        return self._start(lambda: correct(cell, make(list(cell.objects))), what)

    @guarded("Separating")
    def separate(self):
        """The segmenter again inside the shape drawn last."""
        from napari_karyotype.cell.corrections import separate
        from napari_karyotype.segmentation.shapes import shape_mask

        cell = self._cell()
        kind, vertices, i = self._gesture(AREAS)
        region = shape_mask(kind, vertices, cell.image.shape)
        self._consume(i)
        return self._correct(lambda objs: separate(objs, cell.image, region), "separating")

    @guarded("Cutting")
    def cut(self):
        """Cut the chromosome the line drawn last crosses most."""
        from napari_karyotype.cell.corrections import cut

        cell = self._cell()
        _kind, line, i = self._gesture(LINES)
        objs = cut(list(cell.objects), line, cell.image.shape)  # fails here: one line, no worker
        self._consume(i)
        return self._correct(lambda _o: objs, "cutting")

    @guarded("Merging")
    def merge(self):
        """Merge the chromosomes (or left-out pieces) the line drawn last runs over."""
        from napari_karyotype.cell.corrections import labels_along, merge

        cell = self._cell()
        _kind, line, i = self._gesture(LINES)
        kinds = ("chromosome", "nucleus", "debris")
        labels = labels_along(cell.objects, line, cell.image.shape, kinds)
        objs = merge(list(cell.objects), labels, cell.image.shape)
        self._consume(i)
        return self._correct(lambda _o: objs, "merging")

    @guarded("Marking a crossing")
    def cross(self):
        """The chromosomes under the two ends of the line drawn last cross."""
        from napari_karyotype.cell.corrections import cross

        cell = self._cell()
        _kind, line, i = self._gesture(LINES)
        ends = [end_label(cell.labels, p) for p in (line[0], line[-1])]
        if not all(ends):
            raise KaryotypeError("start and end the line on the two crossing chromosomes")
        objs = cross(list(cell.objects), ends[0], ends[1], cell.image.shape)
        self._consume(i)
        return self._correct(lambda _o: objs, "marking the crossing")

    @guarded("Dropping")
    def drop(self, label: int | None = None):
        """Leave the selected chromosome out as debris."""
        from napari_karyotype.cell.corrections import drop

        cell = self._cell()
        layer = find_layer(self.viewer, LABELS_LAYER, "Labels")
        label = int(layer.selected_label if label is None else label)
        objs = drop(list(cell.objects), label)
        return self._correct(lambda _o: objs, f"dropping {label}")

    @guarded("Restoring")
    def restore(self, label: int | None = None):
        """Take the object selected in 'left out' back as a chromosome."""
        from napari_karyotype.cell.corrections import restore

        cell = self._cell()
        layer = find_layer(self.viewer, LEFT_OUT_LAYER, "Labels")
        label = int(layer.selected_label if label is None else label)
        objs = restore(list(cell.objects), label)
        return self._correct(lambda _o: objs, f"restoring {label}")

    @guarded("Relabelling")
    def set_class(self, cls: str | None, label: int | None = None):
        """Give the selected chromosome class ``cls`` (verified); the karyogram follows."""
        from napari_karyotype.cell.corrections import relabel

        cell = self._cell()
        if self.worker is not None:
            raise KaryotypeError("busy: wait for the running step")
        layer = find_layer(self.viewer, LABELS_LAYER, "Labels")
        label = int(layer.selected_label if label is None else label)
        new = relabel(cell, label, cls)
        self._push(cell)
        self.show(new)
        return new

    def _push(self, cell):
        self._undo.append(cell)
        del self._undo[:-UNDO_STEPS]
        self._redo = []

    @guarded("Undo")
    def undo(self):
        """Show the cell as it was before the last step."""
        if self.worker is not None:
            raise KaryotypeError("busy: wait for the running step")
        if not self._undo:
            raise KaryotypeError("nothing to undo")
        self._redo.append(self.cell)
        self.show(self._undo.pop())
        self.status.value = "undone: " + self.status.value
        return self.cell

    @guarded("Redo")
    def redo(self):
        """Show again the cell the last undo took back."""
        if self.worker is not None:
            raise KaryotypeError("busy: wait for the running step")
        if not self._redo:
            raise KaryotypeError("nothing to redo")
        self._undo.append(self.cell)
        self.show(self._redo.pop())
        return self.cell

    # ----------------------------------------------------------------------------- autosave
    def image_path(self):
        """The file of the chosen image layer (None for an image from no file)."""
        layer = self.image.value
        path = getattr(getattr(layer, "source", None), "path", None)
        if path is None and layer is not None:
            path = (layer.metadata or {}).get("source")
        return Path(path) if path and Path(path).is_file() else None

    def save_review(self):
        """Save the cell (labels, table, objects) in the background; False if not saved."""
        from napari_karyotype.cell.session import autosave_dir

        path, cell = self.image_path(), self.cell
        if path is None or cell is None:
            return False
        meta = {"image": str(path), "layer": LABELS_LAYER, "kind": "metaphase",
                "scale": cell.summary.scale}  # fmt: skip
        self._saver.submit(autosave_dir(path), cell.labels, cell.table, meta, list(cell.objects))
        return True

    def _offer_restore(self):
        from napari_karyotype.cell.session import find_session

        path = self.image_path()
        found = None if path is None else find_session(path)
        self.restore_button.enabled = found is not None
        if found is not None:
            info(f"a saved review of {path.name} exists: 'Restore saved review' in Metaphase")
        return found

    @guarded("Restoring the review")
    def restore_review(self):
        """Show the saved review of the chosen image (its objects, table and classes)."""
        from napari_karyotype.cell.corrections import settle
        from napari_karyotype.cell.session import find_session, load_session

        path = self.image_path()
        where = None if path is None else find_session(path)
        if where is None:
            raise KaryotypeError("no saved review for this image")
        saved = load_session(where)
        if saved.objects is None or saved.features is None:
            raise KaryotypeError(f"{where}: not a metaphase review: restore it in Classify")
        image = layer_karyogram(self.image.value).image
        labels = {o.label for o in saved.objects if o.kind == "chromosome"}
        if image.shape != saved.labels.shape or labels != set(saved.features["label"].astype(int)):
            raise KaryotypeError(f"{where}: saved review does not match this image")
        table = saved.features[saved.features["kind"] == "chromosome"].reset_index(drop=True)
        scale = float(saved.meta.get("scale") or 0) or None
        cell = settle(image, saved.objects, table, scale)
        if self.cell is not None and self.cell.image.shape == cell.image.shape:
            self._push(self.cell)
        self.show(cell)
        self.status.value = f"restored from {where}"
        return cell


# ----------------------------------------------------------------------------------- helpers
def _one_color(rgba):
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: rgba})


def hatch(cell, period: int = 4) -> np.ndarray:
    """uint8 image: 1 on every ``period``-th diagonal of the pixels two chromosomes share."""
    count = np.zeros(cell.labels.shape, np.uint8)
    for o in cell.chromosomes:
        r0, c0, r1, c1 = o.box
        count[r0:r1, c0:c1] += o.mask
    rr, cc = np.indices(count.shape)
    return ((count >= 2) & ((rr + cc) % period == 0)).astype(np.uint8)


def outline(obj) -> np.ndarray | None:
    """The longest contour of an object's whole mask, image (row, col) vertices."""
    from skimage.measure import find_contours

    padded = np.pad(obj.mask, 1).astype(np.float32)
    contours = find_contours(padded, 0.5)
    if not contours:
        return None
    c = max(contours, key=len)[::2]
    return c - 1 + np.array(obj.box[:2], float)


def end_label(labels: np.ndarray, point) -> int:
    """The chromosome under ``point`` (row, col), or the nearest within 3 px; 0 if none."""
    r, c = (int(round(v)) for v in point)
    h, w = labels.shape
    win = labels[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4]
    if 0 <= r < h and 0 <= c < w and labels[r, c]:
        return int(labels[r, c])
    if not win.any():
        return 0
    rr, cc = np.nonzero(win)
    i = int(np.argmin((rr + max(r - 3, 0) - r) ** 2 + (cc + max(c - 3, 0) - c) ** 2))
    return int(win[rr[i], cc[i]])


def _key(widget: MetaphaseWidget, what: str):
    ref = weakref.ref(widget)

    def handler(_layer):
        w = ref()
        if w is not None:
            getattr(w, what)()

    handler.__doc__ = f"{what.capitalize()} the last metaphase correction"
    return handler
