"""The "Metaphase" widget: one button from a raw metaphase to a karyogram, and the corrections.

Thin glue over ``pipeline.analyze.analyze_image`` (page ``metaphase``) and
``cell.corrections``: the widget holds the current ``MetaphaseCell`` and the cells before it (undo
is showing the previous one again), runs the work in a worker and autosaves the review. How a
cell is drawn is :mod:`.metaphase_layers`; the correction tools (gestures) are
:mod:`.metaphase_tools`; the saved review's offer is :mod:`.review`, shared with Classify.
"""

from __future__ import annotations

import threading
import weakref

from magicgui.widgets import ComboBox, Container, ProgressBar, PushButton

from napari_karyotype import CLASSES
from napari_karyotype._widgets._base import ViewerWidget
from napari_karyotype._widgets._common import (
    LABELS_LAYER,
    Relay,
    guarded,
    info,
    layer_karyogram,
    notify_error,
    start_worker,
    text_label,
)
from napari_karyotype._widgets.metaphase_tools import CorrectionTools
from napari_karyotype._widgets.review import autosaver, image_path, offer_restore, saved_review
from napari_karyotype.errors import KaryotypeError

UNDO_STEPS = 50


class Cancelled(KaryotypeError):
    """The user cancelled the run."""


class MetaphaseWidget(CorrectionTools, ViewerWidget):
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
            "verify": PushButton(text="Verify all (sign the cell)"),
            "next_in_doubt": PushButton(text="Next in doubt"),
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
            [self.cls, self.set_button, b["next_in_doubt"]],
            [b["verify"], self.undo_button],
        ]
        boxes = [Container(widgets=r, layout="horizontal", labels=False) for r in rows]
        self.extend([self.image, boxes[0], self.progress, self.status, self.summary, *boxes[1:],
                     self.restore_button])  # fmt: skip
        self.native.setToolTip(
            "Draw in the 'gestures' layer: a shape around a cluster (Separate), a line across a "
            "chromosome (Cut), a line over pieces (Merge), a line from one crossing chromosome to "
            "the other (Crossing). Drop: the chromosome selected in 'chromosomes'; Restore: the "
            "object selected in 'left out'. Next in doubt: the next chromosome to look at. "
            "Verify all: every chromosome checked as shown. Alt-Z undoes; the review is saved "
            "beside the image."
        )
        self.cell = None
        self.worker = None
        self._undo: list = []
        self._redo: list = []
        self._cancel = threading.Event()
        self._relay = Relay()
        self._relay.value.connect(self._on_progress)
        self._saver, self._save_errors = autosaver(lambda err: notify_error(err, "Autosave"))
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
        from napari_karyotype._widgets.display import summary_text
        from napari_karyotype._widgets.metaphase_layers import draw_cell

        self.cell = cell
        labels, left, gestures = draw_cell(self.viewer, cell, self.image.value)
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

    # ---------------------------------------------------------------------------------- undo
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
        return image_path(self.image.value)

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
        return offer_restore(self.restore_button, self.image_path(), widget="Metaphase")

    @guarded("Restoring the review")
    def restore_review(self):
        """Show the saved review of the chosen image (its objects, table and classes)."""
        from napari_karyotype.cell.corrections import settle

        where, saved = saved_review(self.image_path())
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
def _key(widget: MetaphaseWidget, what: str):
    ref = weakref.ref(widget)

    def handler(_layer):
        w = ref()
        if w is not None:
            getattr(w, what)()

    handler.__doc__ = f"{what.capitalize()} the last metaphase correction"
    return handler
