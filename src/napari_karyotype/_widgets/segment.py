"""The "Segment" widget: active contours per row in a worker, with progress, preview and cancel."""

from __future__ import annotations

import inspect
import threading
import time

import numpy as np
import pandas as pd
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    ProgressBar,
    PushButton,
    SpinBox,
)

from napari_karyotype._widgets._base import ViewerWidget
from napari_karyotype._widgets._common import (
    LABELS_LAYER,
    PREVIEW_LAYER,
    ROWS_LAYER,
    Relay,
    find_layer,
    guarded,
    info,
    layer_karyogram,
    layer_labels,
    notify_error,
    require_layer,
    start_worker,
    text_label,
)
from napari_karyotype.errors import KaryotypeError

SHAPE_TYPES = ("rectangle", "polygon", "ellipse")
METHODS = ("geodesic", "chan-vese")
AUTO = "auto"
"""Shown where a field is at its minimum: segment.segment then chooses the value itself."""
# Used only where segment.segment gives no default of its own (0 = auto for the counts).
FALLBACK_DEFAULTS = {
    "iterations": 0,
    "smoothing": 1,
    "balloon": -1.0,
    "threshold": 0.0,
    "min_size": 0,
    "refine": False,
}
PREVIEW_EVERY_S = 0.1


def segment_defaults() -> dict:
    """The keyword defaults of ``segment.segment`` as field values (0 where it chooses itself)."""
    from napari_karyotype.segmentation.contours import segment

    out = dict(FALLBACK_DEFAULTS)
    for name, param in inspect.signature(segment).parameters.items():
        if name not in out or param.default is inspect.Parameter.empty:
            continue
        value = param.default
        if value is None or value == AUTO:
            value = type(out[name])(0)
        out[name] = value
    return out


def rows_shapes(layer, only_selected: bool = False) -> list[tuple[str, np.ndarray]]:
    """The ``(shape_type, vertices)`` of a Shapes layer (only its selection if asked)."""
    layer = require_layer(layer, "Shapes", "rows")
    indices = sorted(layer.selected_data) if only_selected else range(len(layer.data))
    shapes = []
    for i in indices:
        kind = str(layer.shape_type[i])
        if kind not in SHAPE_TYPES:
            raise KaryotypeError(
                f"shape {i + 1} of layer {layer.name!r} is a {kind}: rows must be rectangles, "
                "polygons or ellipses"
            )
        shapes.append((kind, np.asarray(layer.data[i], float)[:, -2:]))
    if not shapes:
        raise KaryotypeError(
            f"layer {layer.name!r} has no shapes: propose rows or draw rectangles around rows"
        )
    return shapes


def write_labels(layer, labels: np.ndarray) -> None:
    """Put ``labels`` into a Labels layer of the same shape in place, as napari's brush does.

    Replacing ``layer.data`` of a layer coloured by class (a direct colormap) made vispy draw a
    colour texture it never uploaded ("Could not find texture with id …", then abort); writing
    the changed pixels keeps the layer's textures and is one undoable edit.
    """
    current = layer.data
    if not isinstance(current, np.ndarray) or current.shape != labels.shape:
        layer.data = labels
        return
    changed = np.nonzero(current != labels)
    if changed[0].size:
        layer.data_setitem(changed, labels[changed].astype(current.dtype, copy=False))


class SegmentWidget(ViewerWidget):
    """Segment the chromosomes inside the rows into the Labels layer "chromosomes".

    With exactly one shape selected in the rows layer (and "chromosomes" present) only that shape
    is re-segmented; every other label keeps its id and pixels.
    """

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, labels=True)
        try:
            defaults = segment_defaults()
        except ImportError:
            defaults = dict(FALLBACK_DEFAULTS)
        self.image = self.layer_picker("Image", "image")
        self.rows = self.layer_picker("Shapes", "rows", prefer=ROWS_LAYER)
        self.method = ComboBox(label="method", choices=METHODS, value=METHODS[0])
        # 0 (or "auto" for the threshold): segment.segment chooses the value from the image
        self.iterations = SpinBox(
            label="iterations (0: auto)", min=0, max=5000, value=defaults["iterations"]
        )
        self.smoothing = SpinBox(label="smoothing", min=0, max=20, value=defaults["smoothing"])
        self.balloon = FloatSpinBox(
            label="balloon", min=-10, max=10, step=0.1, value=defaults["balloon"]
        )
        self.threshold = FloatSpinBox(
            label="threshold", min=0, max=1, step=0.01, value=defaults["threshold"]
        )
        self.min_size = SpinBox(
            label="minimum size (0: auto)", min=0, max=10**6, value=defaults["min_size"]
        )
        self.threshold.native.setSpecialValueText(AUTO)
        for field in (self.iterations, self.threshold, self.min_size):
            field.tooltip = "at its minimum, chosen from the image"
        self.refine = CheckBox(text="refine outlines (parametric snake)", value=defaults["refine"])
        self.run_button = PushButton(text="Segment")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="progress", min=0, max=1, value=0)
        self.status = text_label("")
        buttons = Container(
            widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False
        )
        self.extend(
            [
                self.image,
                self.rows,
                self.method,
                self.iterations,
                self.smoothing,
                self.balloon,
                self.threshold,
                self.min_size,
                self.refine,
                buttons,
                self.progress,
                self.status,
            ]
        )
        self.worker = None
        self._stop = threading.Event()
        self._relay = Relay()
        self._relay.value.connect(self._on_progress)
        self._last_emit = 0.0
        self._job: dict = {}
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)

    # ------------------------------------------------------------------------------------ run
    def parameters(self) -> dict:
        """The keyword arguments for ``segment.segment`` from the widget's fields."""
        return {
            "method": self.method.value,
            "iterations": int(self.iterations.value) or None,
            "smoothing": int(self.smoothing.value),
            "balloon": float(self.balloon.value),
            "threshold": float(self.threshold.value) or AUTO,
            "min_size": int(self.min_size.value) or None,
            "refine": bool(self.refine.value),
        }

    @guarded("Segmentation")
    def run(self, _=None):
        """Start segmenting in a worker thread; returns the worker (None if input is bad)."""
        from napari_karyotype.segmentation.contours import segment

        if self.worker is not None:
            raise KaryotypeError("a segmentation is already running: wait or cancel it")
        karyogram = layer_karyogram(self.image.value)
        image = karyogram.image
        rows_layer = require_layer(self.rows.value, "Shapes", "rows")
        target = find_layer(self.viewer, LABELS_LAYER, "Labels")
        one = len(rows_layer.selected_data) == 1 and target is not None
        shapes = rows_shapes(rows_layer, only_selected=one)
        previous = layer_labels(target, image.shape).copy() if one else None
        params = self.parameters()
        self._stop.clear()
        self._last_emit = 0.0
        self._job = {"image_layer": self.image.value, "shape": image.shape, "one": one}

        def progress(done, total, level_set=None):
            now = time.monotonic()
            if done >= total or now - self._last_emit >= PREVIEW_EVERY_S:
                self._last_emit = now
                snapshot = None if level_set is None else np.array(level_set, copy=True)
                self._relay.value.emit((int(done), int(total), snapshot))

        def work():
            from napari_karyotype.segmentation.page import clean_page

            # Numbers, lines, frames and marks out first (as the rows were proposed).
            page = clean_page(image, karyogram.chroma)
            return segment(
                page.image,
                shapes,
                arranged=page.arranged,
                labels=previous,
                progress=progress,
                should_stop=self._stop.is_set,
                **params,
            )

        worker = start_worker(work, self._on_done, self._on_error, self._on_finished)
        self.worker = worker
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        self.progress.max = max(1, len(shapes))
        self.progress.value = 0
        what = "1 selected shape" if one else f"{len(shapes)} rows"
        self.status.value = f"segmenting {what} ({params['method']})…"
        worker.start()
        return worker

    def cancel(self, _=None):
        """Ask the running segmentation to stop; the layers stay as they were."""
        if self.worker is not None:
            # segment.segment polls should_stop and raises SegmentationCancelled; the worker is not
            # quit(), as a quit worker never reports back.
            self._stop.set()
            self.status.value = "cancelling…"

    # -------------------------------------------------------------------------------- results
    def _on_progress(self, value):
        done, total, level_set = value
        if self.worker is None:
            return
        self.progress.max = max(1, total)
        self.progress.value = min(done, max(1, total))
        if level_set is not None:
            self._show_preview(level_set)

    def _show_preview(self, level_set):
        level_set = np.asarray(level_set)
        if level_set.shape != tuple(self._job.get("shape", ())[:2]):
            return  # a partial level set we cannot place: the progress bar still moves
        preview = (level_set > 0).astype(np.uint8)
        layer = find_layer(self.viewer, PREVIEW_LAYER, "Labels")
        if layer is None:
            layer = self.viewer.add_labels(preview, name=PREVIEW_LAYER, opacity=0.5)
            layer.contour = 1
            source = self._job.get("image_layer")
            if source is not None:
                layer.scale = source.scale
                layer.translate = source.translate
        else:
            layer.data = preview

    def _remove_preview(self):
        layer = find_layer(self.viewer, PREVIEW_LAYER, "Labels")
        if layer is not None:
            self.viewer.layers.remove(layer)

    def _on_done(self, labels):
        if self._stop.is_set():
            info("segmentation cancelled: layers unchanged")
            self.status.value = "cancelled"
            return
        try:
            self._write_labels(np.asarray(labels, np.int32))
        except Exception as err:  # noqa: BLE001 - every failure becomes one line
            notify_error(err, "Segmentation")

    def _write_labels(self, labels):
        n = int(len(np.unique(labels[labels > 0])))
        layer = find_layer(self.viewer, LABELS_LAYER, "Labels")
        if layer is None:
            layer = self.viewer.add_labels(labels, name=LABELS_LAYER, opacity=0.6)
            source = self._job.get("image_layer")
            if source is not None:
                layer.scale = source.scale
                layer.translate = source.translate
        else:
            if not self._job.get("one"):
                # A new segmentation: the old classes belonged to other chromosomes.
                layer.features = pd.DataFrame()
            write_labels(layer, labels)
        self.progress.value = self.progress.max
        self.status.value = f"{n} chromosomes segmented"
        info(f"{n} chromosomes segmented into layer {LABELS_LAYER!r}")

    def _on_error(self, err):
        if self._stop.is_set():
            info("segmentation cancelled: layers unchanged")
            self.status.value = "cancelled"
            return
        self.status.value = notify_error(err, "Segmentation")

    def _on_finished(self):
        self.worker = None
        self._remove_preview()
        self.run_button.enabled = True
        self.cancel_button.enabled = False
