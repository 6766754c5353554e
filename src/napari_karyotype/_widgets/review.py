"""The saved review, as the Classify and Metaphase widgets share it: the image's file, the
background autosaver whose errors reach the GUI thread, and the offer to restore on reopening."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from napari_karyotype._widgets._common import Relay, info
from napari_karyotype.errors import KaryotypeError


def image_path(layer) -> Path | None:
    """The file an image layer was read from (None for an image that came from no file)."""
    path = getattr(getattr(layer, "source", None), "path", None)
    if path is None and layer is not None:
        path = (layer.metadata or {}).get("source")
    return Path(path) if path and Path(path).is_file() else None


def autosaver(on_error: Callable[[Exception], object]):
    """``(saver, relay)``: a ``cell.session.Autosaver`` whose failures (in its thread) reach
    ``on_error`` on the GUI thread through ``relay``; keep both alive with the widget."""
    from napari_karyotype.cell.session import Autosaver

    relay = Relay()
    relay.value.connect(on_error)
    return Autosaver(on_error=lambda err: relay.value.emit(err)), relay


def offer_restore(button, path: Path | None, folder=None, widget: str = "Classify"):
    """Enable ``button`` where a saved review of ``path`` exists, and say so; returns its folder."""
    from napari_karyotype.cell.session import find_session

    found = None if path is None else find_session(path, folder)
    button.enabled = found is not None
    if found is not None:
        info(f"a saved review of {path.name} exists: 'Restore saved review' in {widget}")
    return found


def saved_review(path: Path | None, folder=None):
    """``(where, saved)``: the saved review of ``path`` read back (``cell.session.Session``)."""
    from napari_karyotype.cell.session import find_session, load_session

    where = None if path is None else find_session(path, folder)
    if where is None:
        raise KaryotypeError("no saved review for this image")
    return where, load_session(where)
