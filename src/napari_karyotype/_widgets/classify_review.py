"""The Classify widget's review: it follows the labels layer (edits, selection, keys), keeps the
features table in step with it, relabels with undo and shows the table, colours and summary.

Mixed into ``ClassifyWidget`` (:class:`ReviewTools`); GUI thread only.
"""

from __future__ import annotations

import weakref

import numpy as np
from qtpy.QtGui import QColor
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from napari_karyotype import CLASSES
from napari_karyotype._widgets._common import CLASSES_LAYER, find_layer, guarded, visit_next
from napari_karyotype._widgets.display import (
    TEXT_COLORS,
    class_of,
    page_warnings,
    show_classes,
    store_table,
    summary_text,
    table_of,
)
from napari_karyotype.cell.features import on_page
from napari_karyotype.errors import KaryotypeError

TABLE_COLUMNS = ("label", "class", "CNN", "confidence", "verified", "layout")
CLASS_KEYS = tuple("0123456789") + ("x", "y")
UNDO_STEPS = 100


def review_table() -> QTableWidget:
    """The table of classified chromosomes (one row each, one selected at a time, read-only)."""
    table = QTableWidget(0, len(TABLE_COLUMNS))
    table.setHorizontalHeaderLabels(TABLE_COLUMNS)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setMinimumHeight(180)
    return table


class ReviewTools:
    """Needs ``viewer``, ``_layer``, ``_snapshot``, ``_undo``, ``_keys``, ``_updating``,
    ``_bound``, the timers, ``table``, ``summary``, ``selected``, ``cls``, ``threshold``,
    ``scale`` and ``save_review`` of the widget."""

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

    @guarded("Finding the next chromosome in doubt")
    def next_in_doubt(self) -> int | None:
        """Select the next chromosome a reviewer should look at (``cell.features.doubtful_labels``,
        least sure first, after the one selected) and centre the view on it; None when none is."""
        from napari_karyotype.cell.features import doubtful_labels

        doubt = doubtful_labels(self._require_table())
        return visit_next(self.viewer, self._layer, doubt)

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


def _key_handler(widget: ReviewTools, key: str):
    ref = weakref.ref(widget)

    def handler(layer):
        w = ref()
        if w is not None and w._layer is layer:
            w.type_class(key)

    handler.__doc__ = f"Relabel the selected chromosome: class key {key!r}"
    return handler


def _undo_handler(widget: ReviewTools):
    ref = weakref.ref(widget)

    def handler(layer):
        w = ref()
        if w is not None and w._layer is layer:
            w.undo()

    handler.__doc__ = "Undo the last relabel"
    return handler
