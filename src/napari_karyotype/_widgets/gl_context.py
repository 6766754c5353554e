"""Remove layers with the canvas's OpenGL context current.

When a layer goes, napari's canvas at once deletes its GL objects and uploads pending data
(``context.finish()`` on the layer-list event), outside any paint: vispy then runs those GL
calls in whatever context is current, usually Qt's compositor context of the main window.
With Mesa's software OpenGL (Xvfb, VMs) the next draw of the canvas can then segfault, e.g.
closing all layers and opening an image while a notification fades in. Making the canvas's
context current before each removal keeps those calls in the context that owns the objects.
"""

from __future__ import annotations

import weakref


def canvas_widget(viewer):
    """The viewer's OpenGL canvas widget (None without a Qt window)."""
    window = getattr(viewer, "window", None)
    qt_viewer = getattr(window, "_qt_viewer", None)
    canvas = getattr(qt_viewer, "canvas", None)
    return getattr(canvas, "native", None)


def make_canvas_current(viewer) -> bool:
    """Make the canvas's GL context current (GUI thread only); False if there is none."""
    native = canvas_widget(viewer)
    if native is None or not hasattr(native, "makeCurrent"):
        return False
    try:
        if native.context() is None:  # never shown: no GL objects to delete yet
            return False
        native.makeCurrent()
    except RuntimeError:  # the Qt widget is gone (viewer closing)
        return False
    return True


def guard_layer_removal(viewer) -> None:
    """Have every later layer removal of ``viewer`` run with the canvas context current."""
    layers = viewer.layers
    if layers in _GUARDED:
        return
    ref = weakref.ref(viewer)

    def removing(_event=None) -> None:
        if (alive := ref()) is not None:
            make_canvas_current(alive)

    layers.events.removing.connect(removing)
    _GUARDED.add(layers)


_GUARDED: weakref.WeakSet = weakref.WeakSet()
