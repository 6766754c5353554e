"""Saved reviews: labels and features table survive a save and a load, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from napari_karyotype.cell.features import empty_features, relabel
from napari_karyotype.cell.session import (
    Autosaver,
    find_session,
    load_session,
    save_session,
    session_dir,
)
from napari_karyotype.errors import KaryotypeError


def _review():
    labels = np.zeros((80, 120), np.int32)
    labels[5:30, 5:15], labels[40:70, 60:70] = 1, 2
    table = empty_features(2)
    table["label"] = [1, 2]
    return labels, relabel(table, 2, "X")


def test_round_trip_and_find(tmp_path):
    labels, table = _review()
    image = tmp_path / "cell.png"
    image.write_bytes(b"")
    save_session(session_dir(image), labels, table, {"image": str(image)})
    where = find_session(image)
    assert where == tmp_path / "cell.karyotype"
    saved = load_session(where)
    np.testing.assert_array_equal(saved.labels, labels)
    assert saved.features.equals(table)
    assert saved.meta["image"] == str(image)


def test_background_saver_writes_the_newest(tmp_path):
    labels, table = _review()
    saver = Autosaver()
    for k in range(5):
        saver.submit(tmp_path / "s", labels * (k + 1), None)
    assert saver.flush(30)
    np.testing.assert_array_equal(load_session(tmp_path / "s").labels, labels * 5)


def test_missing_session_is_one_line(tmp_path):
    with pytest.raises(KaryotypeError, match="no saved session"):
        load_session(tmp_path)


def test_read_only_folder_goes_to_the_cache(tmp_path, monkeypatch):
    from napari_karyotype.cell.session import autosave_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    images = tmp_path / "images"
    images.mkdir()
    assert autosave_dir(images / "a.png") == images / "a.karyotype"
    images.chmod(0o555)  # read-only, even where the tests run as root
    try:
        where = autosave_dir(images / "a.png")
    finally:
        images.chmod(0o755)
    assert where == tmp_path / "cache" / "napari-karyotype" / "sessions" / "a.karyotype"
