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
from qtpy.QtGui import QColor
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from napari_karyotype import CLASS_SOURCES, CLASSES
from napari_karyotype._widgets._base import ViewerWidget
from napari_karyotype._widgets._common import (
    CLASSES_LAYER,
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
from napari_karyotype._widgets.display import (
    TEXT_COLORS,
    class_of,
    page_warnings,
    show_classes,
    store_page_warnings,
    store_table,
    table_of,
)
from napari_karyotype.cell.features import LOW_CONFIDENCE, karyotype_or_why, on_page
from napari_karyotype.cell.layout import confident_classes
from napari_karyotype.errors import KaryotypeError

TABLE_COLUMNS = ("label", "class", "CNN", "confidence", "verified", "layout")
CLASS_KEYS = tuple("0123456789") + ("x", "y")
KEY_WAIT_MS = 1200
SYNC_DELAY_MS = 300
UNDO_STEPS = 100


def summary_text(summary) -> str:
    """The cell summary as a few short lines: count and ISCN (or why there is none: a page that
    is not one karyogram, a partial cell), then what looks off."""
    said = karyotype_or_why(summary)
    lines = [f"{summary.count} chromosomes" + (f" · {said}" if summary.iscn else "")]
    if not summary.iscn:
        lines.append(said)
    if summary.extra:
        extra = ", ".join(f"{c} (+{n})" for c, n in summary.extra.items())
        lines.append(f"too many copies: {extra}")
    if summary.missing:
        lines.append(
            "too few copies: " + ", ".join(f"{c} (−{n})" for c, n in summary.missing.items())
        )
    others = [
        f
        for f in summary.flags
        if not f.startswith(("extra", "missing")) and "expected" not in f and f != said
    ]
    lines.extend(others)
    if np.isfinite(summary.mean_confidence):
        lines.append(f"mean confidence {summary.mean_confidence:.2f}")
    return "\n".join(lines)


class ClassifyWidget(ViewerWidget):
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
        self.autosave = CheckBox(text="autosave the review", value=True)
        self.autosave.tooltip = (
            "After each segmentation, classification and relabel: <image>.karyotype/ beside the "
            "image (or in the folder below; a cache folder where the image's is read-only)."
        )
        self.session_folder = FileEdit(label="session folder", mode="d")
        self.restore_button = PushButton(text="Restore saved review", enabled=False)
        review_row = Container(
            widgets=[self.cls, self.set_button, self.undo_button],
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
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(180)
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

        from napari_karyotype.cell.session import Autosaver

        self._saver = Autosaver(on_error=lambda err: self._save_errors.value.emit(err))
        self._save_errors = Relay()
        self._save_errors.value.connect(self._on_save_error)
        self._save_failed = False
        self.run_button.changed.connect(self.run)
        self.restore_button.changed.connect(lambda _=None: self.restore())
        self.image.changed.connect(lambda _=None: self._offer_restore())
        self.set_button.changed.connect(lambda _=None: self.set_class(self.cls.value))
        self.undo_button.changed.connect(lambda _=None: self.undo())
        self.refresh_button.changed.connect(lambda _=None: self.refresh())
        self.auto_scale.changed.connect(lambda on: setattr(self.scale, "enabled", not on))
        self.threshold.changed.connect(lambda _=None: self.redraw())
        self.labels_picker.changed.connect(self._watch)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        self._watch(self.labels_picker.value)
        self._offer_restore()

    # ------------------------------------------------------------------------- layer tracking
    def _watch(self, layer=None):
        """Follow ``layer``: its edits, its selected label, its key bindings."""
        if layer is self._layer:
            return
        if self._layer is not None:
            for name, slot in self._slots():
                try:
                    getattr(self._layer.events, name).disconnect(slot)
                except (RuntimeError, TypeError, ValueError):
                    pass
        self._layer = layer
        self._undo = []
        self._snapshot = None
        if layer is None:
            self._redraw_timer.start()  # not while the layer list is changing
            return
        for name, slot in self._slots():
            getattr(layer.events, name).connect(slot)
        self._bind_keys(layer)
        if table_of(layer) is not None:
            self._snapshot = np.array(layer.data, copy=True)
        self._redraw_timer.start()

    def _slots(self):
        return [
            ("paint", self._schedule_refresh),
            ("labels_update", self._schedule_refresh),
            ("data", self._on_data),
            ("selected_label", self._on_selected_label),
            ("features", self._on_features),
        ]

    def _bind_keys(self, layer):
        if layer in self._bound:
            return
        for key in CLASS_KEYS:
            layer.bind_key(f"Alt-{key}", _key_handler(self, key), overwrite=True)
        layer.bind_key("Alt-z", _undo_handler(self), overwrite=True)
        self._bound.add(layer)

    def _schedule_refresh(self, event=None):
        self._sync_timer.start()

    def _on_data(self, event=None):
        if self._layer is not None and table_of(self._layer) is None:
            self._snapshot = None
            self._undo = []
            self._redraw_timer.start()
            return
        self._schedule_refresh()

    def _on_features(self, event=None):
        if self._layer is not None and table_of(self._layer) is None:  # classes cleared
            self._snapshot = None
            self._redraw_timer.start()

    @guarded("Showing the classes")
    def _deferred_redraw(self):
        if self._layer is not None:
            self.redraw()
            return
        self._fill_table(None)
        points = find_layer(self.viewer, CLASSES_LAYER, "Points")
        if points is not None:  # its chromosomes are gone
            self.viewer.layers.remove(points)
        self.summary.value = "not classified yet"

    @guarded("Refreshing the features")
    def _auto_refresh(self):
        if self._layer is not None and self._layer in self.viewer.layers:
            if table_of(self._layer) is not None:  # nothing to keep in step before classifying
                self.refresh()
            else:
                self.save_review()

    # ----------------------------------------------------------------------------- autosave
    def image_path(self):
        """The file of the chosen image layer (None for an image that came from no file)."""
        from pathlib import Path

        layer = self.image.value
        path = getattr(getattr(layer, "source", None), "path", None)
        if path is None and layer is not None:
            path = (layer.metadata or {}).get("source")
        return Path(path) if path and Path(path).is_file() else None

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
        from napari_karyotype.cell.session import find_session

        path = self.image_path()
        found = None if path is None else find_session(path, self._folder())
        self.restore_button.enabled = found is not None
        if found is not None:
            info(f"a saved review of {path.name} exists: 'Restore saved review' in Classify")
        return found

    @guarded("Restoring the review")
    def restore(self):
        """Load the saved review of the chosen image into the labels layer; returns the table."""
        from napari_karyotype._widgets.segment import write_labels
        from napari_karyotype.cell.session import find_session, load_session

        path = self.image_path()
        where = None if path is None else find_session(path, self._folder())
        if where is None:
            raise KaryotypeError("no saved review for this image")
        saved = load_session(where)
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

    # ------------------------------------------------------------------------------- review
    def current_table(self):
        """The features table of the watched labels layer (None if not classified)."""
        return None if self._layer is None else table_of(self._layer)

    def _require_table(self):
        if self._layer is None:
            raise KaryotypeError("no labels layer chosen: segment first")
        table = table_of(self._layer)
        if table is None:
            name = self._layer.name
            raise KaryotypeError(f"layer {name!r} is not classified yet: classify first")
        return table

    def refresh(self):
        """Bring the table in line with the label ids now in the layer; returns the table."""
        from napari_karyotype.cell.features import sync_features

        table = self._require_table()
        current = np.asarray(self._layer.data)
        if self._snapshot is None or not np.array_equal(current, self._snapshot):
            table = sync_features(table, current, previous_labels=self._snapshot)
            store_table(self._layer, table)
            self._snapshot = np.array(current, copy=True)
        self.redraw()
        return table

    @guarded("Relabelling")
    def set_class(self, cls: str | None, label: int | None = None):
        """Give chromosome ``label`` (default: the selected label) class ``cls``; mark it verified.

        ``cls`` None or "" gives the chromosome back to the classifier. Returns the new table.
        """
        from napari_karyotype.cell.features import relabel

        table = self.refresh()
        label = int(self._layer.selected_label if label is None else label)
        if label <= 0 or label not in set(table["label"].tolist()):
            raise KaryotypeError(
                f"label {label} is not a chromosome: pick one (picker tool, key L) or a table row"
            )
        new = relabel(table, label, cls)
        self._push_undo(table)
        store_table(self._layer, new)
        self.redraw()
        row = new[new["label"] == label].iloc[0]
        self.status.value = f"label {label} is now {row.assigned or '(unclassified)'}"
        return new

    def _push_undo(self, table):
        # Snapshots are replaced, never changed in place: entries share them (no copy per step).
        self._undo.append((table, self._snapshot))
        del self._undo[:-UNDO_STEPS]

    @guarded("Undo")
    def undo(self):
        """Restore the table as it was before the last relabel (or classification)."""
        from napari_karyotype.cell.features import sync_features

        if not self._undo:
            raise KaryotypeError("nothing to undo")
        table, snapshot = self._undo.pop()
        current = np.asarray(self._layer.data)
        if not np.array_equal(current, snapshot):
            table = sync_features(table, current, previous_labels=snapshot)
        store_table(self._layer, table)
        self._snapshot = np.array(current, copy=True)
        self.redraw()
        self.status.value = "undone"
        return table

    def type_class(self, key: str):
        """Keyboard relabelling: digits build the class (1 then 5 is 15), x / y set X / Y."""
        key = str(key).lower()
        if key in ("x", "y"):
            self._keys = ""
            self._key_timer.stop()
            self.set_class(key.upper())
            return
        self._keys += key
        longer = [c for c in CLASSES if c.startswith(self._keys) and c != self._keys]
        if self._keys in CLASSES and not longer:
            self._flush_keys()
        elif not longer:
            from napari.utils.notifications import show_warning

            show_warning(f"no chromosome class {self._keys!r}")
            self._keys = ""
            self._key_timer.stop()
        else:
            self._key_timer.start()

    def _flush_keys(self):
        self._key_timer.stop()
        keys, self._keys = self._keys, ""
        if keys in CLASSES:
            self.set_class(keys)

    # ------------------------------------------------------------------------------ display
    def redraw(self):
        """Colours, class text, summary, table and selection from the layer's features."""
        layer = self._layer
        if layer is None or layer not in self.viewer.layers:
            return
        table = table_of(layer)
        show_classes(self.viewer, layer, table, float(self.threshold.value))
        if table is None:
            self.summary.value = "not classified yet"
        else:
            from napari_karyotype.cell.features import summarize

            # the estimate of the last run (auto) or the user's override
            summary = summarize(table, scale=float(self.scale.value))
            self.summary.value = summary_text(on_page(summary, page_warnings(layer)))
        self._fill_table(table)
        self._on_selected_label()
        self.save_review()

    def _fill_table(self, table):
        self._updating = True
        try:
            self.table.setRowCount(0 if table is None else len(table))
            if table is None:
                return
            threshold = float(self.threshold.value)
            for i, row in enumerate(table.itertuples(index=False)):
                conf = float(row.confidence)
                cells = (
                    str(int(row.label)),
                    class_of(row) or "?",
                    row.chromosome or "",
                    f"{conf:.2f}" if np.isfinite(conf) else "",
                    "yes" if row.verified else "",
                    row.layout + (" ≠" if row.disagrees else ""),
                )
                low = (np.isfinite(conf) and conf < threshold or row.disagrees) and not row.verified
                for j, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if low:
                        item.setForeground(QColor(TEXT_COLORS["low"]))
                    self.table.setItem(i, j, item)
        finally:
            self._updating = False

    def _on_table_selection(self):
        if self._updating or self._layer is None:
            return
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) != 1:
            return
        item = self.table.item(rows.pop(), 0)
        if item is not None:
            self._layer.selected_label = int(item.text())

    def _on_selected_label(self, event=None):
        layer = self._layer
        if layer is None:
            return
        label = int(layer.selected_label)
        table = table_of(layer)
        if table is None or label not in set(table["label"].tolist()):
            self.selected.value = f"label {label}: not a classified chromosome"
            return
        row = table[table["label"] == label].iloc[0]
        cls = class_of(row)
        conf = float(row.confidence)
        conf_text = f", confidence {conf:.2f}" if np.isfinite(conf) else ""
        verified = ", verified" if row.verified else ""
        self.selected.value = f"label {label}: {cls or '?'}{conf_text}{verified}"
        if cls:
            self.cls.value = cls
        self._updating = True
        try:
            index = int(np.nonzero(table["label"].to_numpy() == label)[0][0])
            if self.table.rowCount() > index:
                self.table.selectRow(index)
        finally:
            self._updating = False


def _key_handler(widget: ClassifyWidget, key: str):
    ref = weakref.ref(widget)

    def handler(layer):
        w = ref()
        if w is not None and w._layer is layer:
            w.type_class(key)

    handler.__doc__ = f"Relabel the selected chromosome: class key {key!r}"
    return handler


def _undo_handler(widget: ClassifyWidget):
    ref = weakref.ref(widget)

    def handler(layer):
        w = ref()
        if w is not None and w._layer is layer:
            w.undo()

    handler.__doc__ = "Undo the last relabel"
    return handler
