"""Glue shared by the widgets: one-line error notifications, layer look-ups, worker plumbing."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Signal

from napari_karyotype.errors import KaryotypeError

log = logging.getLogger("napari_karyotype")

ROWS_LAYER = "rows"
LABELS_LAYER = "chromosomes"
CLASSES_LAYER = "classes"
PREVIEW_LAYER = "contours (running)"
KARYOGRAM_LAYER = "karyogram"


def one_line(err: BaseException, what: str) -> str:
    """The message a user sees for ``err``: a KaryotypeError as is, anything else prefixed."""
    if isinstance(err, KaryotypeError):
        text = str(err)
    else:
        text = f"{what} failed: {type(err).__name__}: {err}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else f"{what} failed"


def notify_error(err: BaseException, what: str) -> str:
    """Show ``err`` as a one-line napari error notification (unexpected ones are also logged)."""
    if not isinstance(err, KaryotypeError):
        log.error("%s failed", what, exc_info=(type(err), err, err.__traceback__))
    message = one_line(err, what)
    show_error(message)
    return message


def guarded(what: str) -> Callable:
    """Decorate a button callback: any exception becomes a one-line notification."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - every failure becomes one line
                notify_error(err, what)
                return None

        return wrapper

    return decorate


def info(message: str) -> None:
    show_info(message)


def require_layer(layer, kind: str, role: str):
    """``layer`` if it is a napari layer of ``kind`` ("Image", "Labels", "Shapes"), else raise."""
    if layer is None:
        raise KaryotypeError(f"no {kind.lower()} layer chosen for the {role}: add or pick one")
    if type(layer).__name__ != kind:
        raise KaryotypeError(f"layer {layer.name!r} is not a {kind.lower()} layer")
    return layer


def warn(message: str) -> None:
    show_warning(message)


def layer_image(layer) -> np.ndarray:
    """The karyogram of an Image layer as the core's 2-D float image (dark chromosomes on light)."""
    return layer_karyogram(layer).image


def layer_karyogram(layer):
    """The karyogram of an Image layer as an ``io.Karyogram`` (grey image, polarity, colour)."""
    from napari_karyotype.image.io import as_karyogram, unpack_chroma

    layer = require_layer(layer, "Image", "karyogram image")
    data = np.asarray(layer.data)
    if (layer.rgb and data.ndim != 3) or (not layer.rgb and data.ndim != 2):
        raise KaryotypeError(
            f"layer {layer.name!r} is not a 2-D image (shape {data.shape}): "
            "open a single karyogram image"
        )
    karyogram = as_karyogram(data)
    packed = (layer.metadata or {}).get("chroma")  # the reader's: a colour page opened grey
    if karyogram.chroma is None and packed is not None and np.shape(packed) == data.shape:
        karyogram = replace(karyogram, chroma=unpack_chroma(packed))
    return karyogram


def layer_labels(layer, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The int32 label image of a Labels layer, checked against the image's shape."""
    layer = require_layer(layer, "Labels", "chromosome labels")
    data = np.asarray(layer.data)
    if data.ndim != 2:
        raise KaryotypeError(f"labels layer {layer.name!r} is not 2-D (shape {data.shape})")
    if image_shape is not None and data.shape != tuple(image_shape[:2]):
        raise KaryotypeError(
            f"labels layer {layer.name!r} is {data.shape[1]} x {data.shape[0]} but the image is "
            f"{image_shape[1]} x {image_shape[0]} (width x height)"
        )
    return data.astype(np.int32, copy=False)


def find_layer(viewer, name: str, kind: str | None = None):
    """The layer called ``name`` (of ``kind`` when given), or None."""
    for layer in viewer.layers:
        if layer.name == name and (kind is None or type(layer).__name__ == kind):
            return layer
    return None


def first_layer(viewer, kind: str, prefer: str | None = None):
    """The layer ``prefer`` if it is of ``kind``, else the last layer of ``kind``, else None."""
    if prefer is not None:
        found = find_layer(viewer, prefer, kind)
        if found is not None:
            return found
    layers = [layer for layer in viewer.layers if type(layer).__name__ == kind]
    return layers[-1] if layers else None


def text_label(value: str = ""):
    """A magicgui Label whose text wraps (long lines must not widen the dock)."""
    from magicgui.widgets import Label
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QSizePolicy

    label = Label(value=value)
    label.native.setWordWrap(True)
    label.native.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    label.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


class Outcome(NamedTuple):
    """What a worker's function gave: its value, or the exception it raised."""

    value: object
    error: Exception | None


def catching(func: Callable) -> Callable[[], Outcome]:
    """Wrap a worker's function so that it returns its exception instead of raising it.

    napari's workers turn a raised exception into a traceback notification of their own; the
    widgets show their one-line message instead.
    """

    @functools.wraps(func)
    def run() -> Outcome:
        try:
            return Outcome(func(), None)
        except Exception as err:  # noqa: BLE001 - handed to the GUI thread as a value
            return Outcome(None, err)

    return run


def start_worker(func: Callable, on_value: Callable, on_error: Callable, on_finished: Callable):
    """A napari worker (not started) running ``func`` off the GUI thread.

    Its value reaches ``on_value`` and any exception ``on_error`` (as a value, so that the widget
    shows one line, not napari's traceback notification); ``on_finished`` runs in either case.
    """
    from napari.qt.threading import create_worker

    def outcome(result: Outcome) -> None:
        if result.error is not None:
            on_error(result.error)
        else:
            on_value(result.value)

    worker = create_worker(catching(func), _start_thread=False)
    worker.returned.connect(outcome)
    worker.errored.connect(on_error)
    worker.finished.connect(on_finished)
    return worker


class Relay(QObject):
    """Carries values from a worker thread to the GUI thread (queued Qt signal)."""

    value = Signal(object)


def visit_next(viewer, layer, labels: list[int]) -> int | None:
    """Select the label after ``layer``'s selected one in ``labels`` (the first where it is none
    of them) and centre the view on it; None, with a note, when ``labels`` is empty."""
    if not labels:
        info("no chromosome in doubt: every one is verified or sure")
        return None
    current = int(layer.selected_label)
    label = labels[(labels.index(current) + 1) % len(labels)] if current in labels else labels[0]
    layer.selected_label = label
    rows, cols = np.nonzero(np.asarray(layer.data) == label)
    if rows.size:
        # close enough to judge it (about AROUND of its lengths across), unless already closer
        now = viewer.camera.zoom
        viewer.reset_view()  # the zoom at which every layer fits
        lo, hi = np.asarray(viewer.layers.extent.world, float)[:, -2:]
        span = max(np.ptp(rows), np.ptp(cols), 8) * float(np.max(layer.scale[-2:])) * AROUND
        viewer.camera.zoom = max(now, viewer.camera.zoom * float(np.max(hi - lo)) / span)
        viewer.camera.center = tuple(layer.data_to_world((rows.mean(), cols.mean())))[-2:]
    return label


AROUND = 4.0
"""'Next in doubt' shows about this many of the chromosome's lengths across the view."""
