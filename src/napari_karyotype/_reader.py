"""napari reader: PNG, JPEG, TIFF, BMP and GIF karyograms as one grey Image layer.

The image is brought into the package convention (dark chromosomes on light, float in [0, 1]) by
:func:`~.image.io.read_karyogram`; ``metadata["inverted"]`` says whether a light-on-dark
(fluorescent) input was inverted. A file that cannot be read gives a napari error notification
with one line, and no layer.
"""

from __future__ import annotations

from pathlib import Path

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
"""File endings this reader claims (case-insensitive)."""


def _paths(path) -> list[str] | None:
    if isinstance(path, str | Path):
        return [str(path)]
    if isinstance(path, list | tuple) and path and all(isinstance(p, str | Path) for p in path):
        return [str(p) for p in path]
    return None


def get_reader(path):
    """The read function for karyogram image files, or None for anything else."""
    paths = _paths(path)
    if paths is None or not all(Path(p).suffix.lower() in SUFFIXES for p in paths):
        return None
    return read_karyograms


def read_karyograms(path) -> list[tuple]:
    """One Image layer data tuple per readable file; errors become notifications.

    Returns napari's "read, but no layers" value ``[(None,)]`` when no file could be read, so
    napari adds nothing and shows no second error.
    """
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.image.io import read_karyogram

    layers = []
    for p in _paths(path) or []:
        try:
            karyogram = read_karyogram(p)
        except KaryotypeError as err:
            _notify_error(str(err))
            continue
        meta = {
            "name": Path(p).stem,
            "colormap": "gray",
            "contrast_limits": (0.0, 1.0),
            "metadata": {"inverted": karyogram.inverted, "source": karyogram.source},
        }
        layers.append((karyogram.image, meta, "image"))
    return layers or [(None,)]


def _notify_error(message: str) -> None:
    try:
        from napari.utils.notifications import show_error
    except ImportError:  # pragma: no cover - the reader only runs inside napari
        import warnings

        warnings.warn(message, stacklevel=2)
        return
    show_error(message)
