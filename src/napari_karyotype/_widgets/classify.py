"""The "Classify" widget: CNN + per-cell assignment in a worker, then review and relabel.

The features table lives in ``labels.features`` (see :mod:`.display`). Relabelling goes through
``features.relabel`` (the row becomes ``verified``) and can be undone; after the user merges,
splits or deletes labels with napari's own tools, ``features.sync_features`` brings the table back
in line with the label ids (automatically shortly after each edit, or with "Refresh").
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    ProgressBar,
    PushButton,
)
from qtpy.QtCore import QTimer

from napari_karyotype import CLASS_SOURCES, CLASSES
from napari_karyotype._widgets._base import ViewerWidget
from napari_karyotype._widgets._common import (
    LABELS_LAYER,
    Relay,
    find_layer,
    guarded,
    info,
    layer_image,
    layer_karyogram,
    layer_labels,
    notify_error,
    require_layer,
    start_worker,
    text_label,
)
from napari_karyotype._widgets.classify_review import ReviewTools, review_table
from napari_karyotype._widgets.display import (
    page_warnings,
    store_page_warnings,
    store_table,
    table_of,
)
from napari_karyotype._widgets.review import autosaver, image_path, offer_restore, saved_review
from napari_karyotype.cell.features import LOW_CONFIDENCE, karyotype_or_why, on_page
from napari_karyotype.cell.layout import confident_classes
from napari_karyotype.errors import KaryotypeError

KEY_WAIT_MS = 1200
SYNC_DELAY_MS = 300


class ClassifyWidget(ReviewTools, ViewerWidget):
    """Classify the chromosomes of a Labels layer, show the cell summary, review and relabel."""

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, labels=True)
        self.image = self.layer_picker("Image", "image")
        self.labels_picker = self.layer_picker("Labels", "labels", prefer=LABELS_LAYER)
        self.model = FileEdit(label="model", mode="r", filter="Keras model (*.keras)")
        self.model.tooltip = "Empty: the bundled CNN. Or a .keras model trained with `train`."
        self.assign = CheckBox(text="per-cell assignment (46 chromosomes, pairs)", value=True)
        self.classes = ComboBox(label="classes from", choices=CLASS_SOURCES, value="auto")
        self.classes.tooltip = (
            "auto: each chromosome's place in an arranged karyogram where it reads clearly, the "
            "classifier elsewhere (and on metaphases). cnn: the classifier. layout: the place "
            "(rows 1-5 / 6-12 / 13-18 / 19-22, X, Y). both: the classifier's classes, those the "
            "layout contradicts flagged for review. An unreadable layout keeps the CNN's classes."
        )
        self.auto_scale = CheckBox(text="estimate scale", value=True)
        self.scale = FloatSpinBox(
            label="scale", min=0.2, max=5.0, step=0.01, value=1.0, enabled=False
        )
        self.scale.tooltip = "Size factor of this karyogram relative to the training crops."
        self.threshold = FloatSpinBox(
            label="flag below", min=0.0, max=1.0, step=0.05, value=LOW_CONFIDENCE
        )
        self.run_button = PushButton(text="Classify")
        self.progress = ProgressBar(label="progress", min=0, max=1, value=0)
        self.status = text_label("")
        self.summary = text_label("not classified yet")
        self.selected = text_label("no chromosome selected")
        self.cls = ComboBox(label="class", choices=CLASSES)
        self.set_button = PushButton(text="Set class")
        self.undo_button = PushButton(text="Undo")
        self.refresh_button = PushButton(text="Refresh")
        self.doubt_button = PushButton(text="Next in doubt")
        self.doubt_button.tooltip = (
            "Select the next chromosome to look at (the CNN unsure, against the layout, or moved "
            "by the assignment; least sure first) and centre the view on it."
        )
        self.autosave = CheckBox(text="autosave the review", value=True)
        self.autosave.tooltip = (
            "After each segmentation, classification and relabel: <image>.karyotype/ beside the "
            "image (or in the folder below; a cache folder where the image's is read-only)."
        )
        self.session_folder = FileEdit(label="session folder", mode="d")
        self.restore_button = PushButton(text="Restore saved review", enabled=False)
        review_row = Container(
            widgets=[self.cls, self.set_button, self.undo_button, self.doubt_button],
            layout="horizontal",
            labels=False,
        )
        self.extend(
            [
                self.image,
                self.labels_picker,
                self.model,
                self.assign,
                self.classes,
                self.auto_scale,
                self.scale,
                self.threshold,
                self.run_button,
                self.progress,
                self.status,
                self.summary,
                self.selected,
                review_row,
                self.refresh_button,
                self.autosave,
                self.session_folder,
                self.restore_button,
            ]
        )
        self.table = review_table()
        self.native.layout().addWidget(self.table)
        self.native.setToolTip(
            "Review: pick a chromosome (picker tool, key L, or a table row), then choose its class "
            "and 'Set class', or type it with Alt (Alt-7, Alt-1 Alt-5, Alt-X); Alt-Z undoes."
        )

        self.worker = None
        self._layer = None
        self._snapshot: np.ndarray | None = None
        self._undo: list = []
        self._keys = ""
        self._updating = False
        self._bound: weakref.WeakSet = weakref.WeakSet()
        self._relay = Relay()
        self._relay.value.connect(self._on_progress)
        self._key_timer = QTimer(self.native)
        self._key_timer.setSingleShot(True)
        self._key_timer.setInterval(KEY_WAIT_MS)
        self._key_timer.timeout.connect(self._flush_keys)
        self._sync_timer = QTimer(self.native)
        self._sync_timer.setSingleShot(True)
        self._sync_timer.setInterval(SYNC_DELAY_MS)
        self._sync_timer.timeout.connect(self._auto_refresh)
        # Layer events are answered after they return: a colormap replaced while napari's own
        # handlers of the same event are still pending leaves vispy drawing a texture it never
        # uploaded ("Could not find texture with id …", then abort).
        self._redraw_timer = QTimer(self.native)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(self._deferred_redraw)

        self._saver, self._save_errors = autosaver(self._on_save_error)
        self._save_failed = False
        self.run_button.changed.connect(self.run)
        self.restore_button.changed.connect(lambda _=None: self.restore())
        self.image.changed.connect(lambda _=None: self._offer_restore())
        self.set_button.changed.connect(lambda _=None: self.set_class(self.cls.value))
        self.undo_button.changed.connect(lambda _=None: self.undo())
        self.refresh_button.changed.connect(lambda _=None: self.refresh())
        self.doubt_button.changed.connect(lambda _=None: self.next_in_doubt())
        self.auto_scale.changed.connect(lambda on: setattr(self.scale, "enabled", not on))
        self.threshold.changed.connect(lambda _=None: self.redraw())
        self.labels_picker.changed.connect(self._watch)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        self._watch(self.labels_picker.value)
        self._offer_restore()

    # ----------------------------------------------------------------------------- autosave
    def image_path(self):
        """The file of the chosen image layer (None for an image that came from no file)."""
        return image_path(self.image.value)

    def _folder(self):
        text = str(self.session_folder.line_edit.value or "").strip()
        return None if not text or text == "." else text

    def save_review(self):
        """Save labels and table in the background (a snapshot of now); False if not saved."""
        from napari_karyotype.cell.session import autosave_dir

        path = self.image_path()
        layer = self._layer
        if not self.autosave.value or path is None or layer is None:
            return False
        labels = np.array(layer.data, copy=True)
        if labels.ndim != 2 or not labels.any():
            return False
        table = table_of(layer)
        meta = {"image": str(path), "layer": layer.name, "page_warnings": page_warnings(layer)}
        self._saver.submit(autosave_dir(path, self._folder()), labels, table, meta)
        return True

    def _on_save_error(self, err):
        if not self._save_failed:  # once per widget: a read-only disk must not flood
            self._save_failed = True
            notify_error(err, "Autosave")

    def _offer_restore(self):
        return offer_restore(self.restore_button, self.image_path(), self._folder(), "Classify")

    @guarded("Restoring the review")
    def restore(self):
        """Load the saved review of the chosen image into the labels layer; returns the table."""
        from napari_karyotype._widgets.segment import write_labels

        where, saved = saved_review(self.image_path(), self._folder())
        image = layer_image(self.image.value)
        if saved.labels.shape != image.shape[:2]:
            raise KaryotypeError(f"{where}: saved labels do not match the image's size")
        layer = find_layer(self.viewer, LABELS_LAYER, "Labels")
        labels = saved.labels.astype(np.int32, copy=False)
        if layer is None:
            layer = self.viewer.add_labels(labels, name=LABELS_LAYER, opacity=0.6)
            layer.scale = self.image.value.scale
            layer.translate = self.image.value.translate
        else:
            layer.features = pd.DataFrame()
            write_labels(layer, labels)
        self.labels_picker.value = layer
        self._watch(layer)
        store_page_warnings(layer, saved.meta.get("page_warnings"))
        store_table(layer, saved.features)
        self._snapshot = np.array(layer.data, copy=True) if saved.features is not None else None
        self.redraw()
        n = 0 if saved.features is None else len(saved.features)
        self.status.value = f"restored from {where} ({n} chromosomes classified)"
        info(self.status.value)
        return saved.features

    # ----------------------------------------------------------------------------- classify
    @guarded("Classification")
    def run(self, _=None):
        """Classify every label in a worker thread; returns the worker (None if input is bad)."""
        from napari_karyotype.cell.features import classify_cell

        if self.worker is not None:
            raise KaryotypeError("a classification is already running")
        karyogram = layer_karyogram(self.image.value)
        image, chroma = karyogram.image, karyogram.chroma
        layer = require_layer(self.labels_picker.value, "Labels", "chromosome labels")
        labels = np.array(layer_labels(layer, image.shape), copy=True)
        if not (labels > 0).any():
            raise KaryotypeError(f"labels layer {layer.name!r} has no labels: segment first")
        model = self.model_path()
        previous = self.refresh() if table_of(layer) is not None else None
        scale = None if self.auto_scale.value else float(self.scale.value)
        assign = bool(self.assign.value)
        source = str(self.classes.value)

        def progress(done, total, what):
            self._relay.value.emit((int(done), int(total), str(what)))

        def work():
            from napari_karyotype.segmentation.page import clean_page

            # What the page is (a raw metaphase, karyograms side by side): no karyotype to claim.
            warnings = clean_page(image, chroma).warnings
            table, summary = classify_cell(
                image,
                labels,
                classifier=model,
                scale=scale,
                assign=assign,
                verified=previous,
                progress=progress,
                placed=confident_classes(labels) if source == "auto" else None,
            )
            if source in ("cnn", "auto"):
                return table, summary, "", warnings
            from napari_karyotype.cell.layout import apply_layout

            table, read = apply_layout(table, labels, source)
            return table, summary, read.message, warnings

        def on_value(table_and_summary):
            self._on_classified(table_and_summary, layer, labels)

        worker = start_worker(work, on_value, self._on_error, self._on_finished)
        self.worker = worker
        self.run_button.enabled = False
        self.progress.value = 0
        self.status.value = "loading the classifier…"
        worker.start()
        return worker

    def model_path(self) -> str | None:
        """The model file chosen (None: the bundled model); a missing file is an error."""
        text = str(self.model.line_edit.value or "").strip()
        if not text or text == ".":
            return None
        from pathlib import Path

        path = Path(text).expanduser()
        if not path.is_file():
            raise KaryotypeError(f"{path}: model file not found")
        return str(path)

    def _on_progress(self, value):
        done, total, what = value
        self.progress.max = max(1, total)
        self.progress.value = min(done, max(1, total))
        self.status.value = what

    def _on_classified(self, result, layer, labels):
        try:
            table, summary, layout_message, warnings = result
            if layout_message:
                info(f"{layout_message}: CNN classes kept")
            if layer not in self.viewer.layers:
                info("the labels layer was removed while classifying: result dropped")
                return
            current = np.asarray(layer.data)
            if not np.array_equal(current, labels):
                from napari_karyotype.cell.features import sync_features

                table = sync_features(table, current, previous_labels=labels)
            old = table_of(layer)
            if old is not None and layer is self._layer and self._snapshot is not None:
                self._push_undo(old)
            store_page_warnings(layer, warnings)
            store_table(layer, table)
            if layer is self._layer:
                self._snapshot = np.array(current, copy=True)
            if self.auto_scale.value and summary.scale is not None:
                self.scale.value = float(np.clip(summary.scale, self.scale.min, self.scale.max))
            self.progress.value = self.progress.max
            self.status.value = f"{len(table)} chromosomes classified"
            self.redraw()
            said = karyotype_or_why(on_page(summary, warnings))
            info(f"classified: {summary.count} chromosomes, {said}")
        except Exception as err:  # noqa: BLE001 - every failure becomes one line
            self.status.value = notify_error(err, "Classification")

    def _on_error(self, err):
        self.status.value = notify_error(err, "Classification")

    def _on_finished(self):
        self.worker = None
        self.run_button.enabled = True
