"""Autosave of a review: labels, features table (with verified classes) beside the image.

A session of image ``cell.jpg`` is the folder ``cell.karyotype/`` (next to the image, or in a
folder the user picks) holding ``labels.npz`` (compressed label image), ``features.csv`` and
``session.json`` (image path, image shape, time), and for a metaphase ``objects.npz`` (every
chromosome whole, nuclei and debris: ``segmentation.objects.pack_objects``). Writes go to
temporary names then are renamed, so a crash while saving leaves the previous save whole. Qt-free.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from napari_karyotype.errors import KaryotypeError

SUFFIX = ".karyotype"
LABELS_FILE = "labels.npz"
FEATURES_FILE = "features.csv"
META_FILE = "session.json"
OBJECTS_FILE = "objects.npz"


@dataclass
class Session:
    """A saved review: the label image, its features table (None before classifying), metadata."""

    labels: np.ndarray
    features: pd.DataFrame | None
    meta: dict
    objects: list | None = None
    """A metaphase's objects (``SpreadObject``), None where none were saved."""


def session_dir(image_path: str | Path, folder: str | Path | None = None) -> Path:
    """Where the session of ``image_path`` lives: ``<folder>/<stem>.karyotype``."""
    image_path = Path(image_path)
    base = Path(folder).expanduser() if folder else image_path.parent
    return base / f"{image_path.stem}{SUFFIX}"


def _replace(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def save_session(
    where: str | Path,
    labels: np.ndarray,
    features: pd.DataFrame | None,
    meta: dict | None = None,
    objects: list | None = None,
) -> Path:
    """Write a session into folder ``where`` (made if needed); returns the folder. ``objects``:
    a metaphase's objects (None leaves an earlier ``objects.npz`` as it is; the loader checks
    it against the labels)."""
    where = Path(where)
    try:
        where.mkdir(parents=True, exist_ok=True)
        labels = np.asarray(labels)
        tmp = where / f".{LABELS_FILE}.tmp.npz"
        np.savez_compressed(tmp, labels=labels)
        _replace(tmp, where / LABELS_FILE)
        if features is not None:
            from napari_karyotype.cell.export import write_table_csv

            tmp = where / f".{FEATURES_FILE}.tmp.csv"
            write_table_csv(tmp, features)
            _replace(tmp, where / FEATURES_FILE)
        else:
            (where / FEATURES_FILE).unlink(missing_ok=True)
        if objects is not None:
            from napari_karyotype.segmentation.objects import pack_objects

            tmp = where / f".{OBJECTS_FILE}.tmp.npz"
            np.savez_compressed(tmp, **pack_objects(objects))
            _replace(tmp, where / OBJECTS_FILE)
        info = {**(meta or {}), "shape": list(labels.shape), "saved": time.time()}
        tmp = where / f".{META_FILE}.tmp"
        tmp.write_text(json.dumps(info, indent=1, default=str))
        _replace(tmp, where / META_FILE)
    except OSError as err:
        raise KaryotypeError(f"{where}: cannot save the session ({err.strerror or err})") from None
    return where


def has_session(where: str | Path) -> bool:
    """Whether ``where`` holds a saved session."""
    where = Path(where)
    return (where / LABELS_FILE).is_file() and (where / META_FILE).is_file()


def load_session(where: str | Path) -> Session:
    """The session saved in ``where``; a one-line KaryotypeError if it is missing or damaged."""
    where = Path(where)
    if not has_session(where):
        raise KaryotypeError(f"{where}: no saved session")
    try:
        meta = json.loads((where / META_FILE).read_text())
        with np.load(where / LABELS_FILE) as npz:
            labels = np.asarray(npz["labels"])
        features = None
        if (where / FEATURES_FILE).is_file():
            from napari_karyotype.cell.export import read_table_csv

            features = read_table_csv(where / FEATURES_FILE)
        objects = None
        if (where / OBJECTS_FILE).is_file():
            from napari_karyotype.segmentation.objects import unpack_objects

            with np.load(where / OBJECTS_FILE) as npz:
                objects = unpack_objects(npz)
    except (OSError, ValueError, KeyError) as err:
        raise KaryotypeError(f"{where}: damaged session ({err})") from None
    return Session(labels, features, meta, objects)


class Autosaver:
    """Saves snapshots in one background thread; only the newest pending snapshot is written.

    ``submit`` copies nothing: pass arrays and tables that are not changed afterwards.
    """

    def __init__(self, on_error=None):
        self._cond = threading.Condition()
        self._pending: tuple | None = None
        self._busy = False
        self._thread: threading.Thread | None = None
        self.on_error = on_error
        self.last_path: Path | None = None
        self.last_seconds = 0.0

    def submit(self, where, labels, features, meta=None, objects=None) -> None:
        with self._cond:
            self._pending = (where, labels, features, meta, objects)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="karyotype-autosave")
                self._thread.daemon = True
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._pending is None:
                    self._busy = False
                    self._cond.notify_all()
                    return
                job, self._pending = self._pending, None
                self._busy = True
            t0 = time.perf_counter()
            try:
                self.last_path = save_session(*job)
            except Exception as err:  # noqa: BLE001 - reported, never raised in the thread
                if self.on_error is not None:
                    self.on_error(err)
            self.last_seconds = time.perf_counter() - t0

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted snapshot is written; False on timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True


def fallback_folder() -> Path:
    """Where sessions go when the image's folder is not writable (a per-user cache folder)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-karyotype" / "sessions"


def autosave_dir(image_path: str | Path, folder: str | Path | None = None) -> Path:
    """The session folder to write: ``folder`` if given, else beside the image when writable."""
    if folder:
        return session_dir(image_path, folder)
    parent = Path(image_path).parent
    if writable(parent):
        return session_dir(image_path)
    return session_dir(image_path, fallback_folder())


def writable(folder: Path) -> bool:
    """Whether ``folder`` may be written: allowed, and not marked read-only (even for root)."""
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & stat.S_IWUSR)
    except OSError:
        return False


def find_session(image_path: str | Path, folder: str | Path | None = None) -> Path | None:
    """The saved session of ``image_path`` (the chosen folder, beside the image, the cache)."""
    places = [folder] if folder else []
    for where in [*(session_dir(image_path, f) for f in places), session_dir(image_path)]:
        if has_session(where):
            return where
    where = session_dir(image_path, fallback_folder())
    return where if has_session(where) else None
