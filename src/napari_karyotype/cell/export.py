"""Exports: the features table as CSV, and reviewed chromosomes as Hu et al.-format training data.

:func:`export_crops` writes each classified chromosome as a 100 x 220 grey GIF named
``<cell>.K.chr<N>.<k>invert_pad.gif`` (X and Y as ``chrx``, ``chry``; ``k`` = 1, 2, 3… per class),
made by the same ``canvas.chromosome_canvas`` as the classifier's input, so ``datasets
.load_chromosomes`` and ``napari-karyotype train`` read a relabelled cell unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from napari_karyotype.errors import KaryotypeError

_CELL_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def write_table_csv(path: str | Path, features: pd.DataFrame) -> Path:
    """Write the features table (columns of ``features.COLUMNS``) as CSV, without the index."""
    from napari_karyotype.cell.features import check_features

    path = Path(path)
    df = check_features(features)
    try:
        df.to_csv(path, index=False)
    except OSError as err:
        raise KaryotypeError(f"{path}: cannot write ({err.strerror or err})") from None
    return path


def read_table_csv(path: str | Path) -> pd.DataFrame:
    """Read a features CSV written by :func:`write_table_csv` (checked, with proper dtypes)."""
    from napari_karyotype.cell.features import check_features

    path = Path(path)
    try:
        df = pd.read_csv(
            path, dtype={"chromosome": str, "second": str, "assigned": str, "layout": str}
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise KaryotypeError(
            f"{path}: not a readable features table ({err.__class__.__name__})"
        ) from None
    return check_features(df)


def cell_id(name: str) -> str:
    """A dataset-safe cell id from a layer or file name (``sample karyogram`` ->
    ``sample_karyogram``), as :func:`export_crops` accepts it."""
    cell = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._-")
    cell = cell.replace(".K.", "_K_")
    return cell or "cell"


def crop_name(cell: str, cls: str, k: int) -> str:
    """The dataset file name of the ``k``-th copy of class ``cls`` in ``cell``."""
    token = {"X": "x", "Y": "y"}.get(cls, cls)
    return f"{cell}.K.chr{token}.{k}invert_pad.gif"


def export_crops(
    image: np.ndarray,
    labels: np.ndarray,
    features: pd.DataFrame,
    out_dir: str | Path,
    cell: str,
    *,
    scale: float = 1.0,
    verified_only: bool = False,
    overwrite: bool = False,
    classes: str = "assigned",
) -> list[Path]:
    """Write the classified chromosomes of one cell as dataset GIFs into ``out_dir``.

    The class is ``assigned``; rows without a class are skipped (and, with ``verified_only``, rows
    the user has not verified). ``classes="layout"`` takes the class from the ``layout`` column
    instead (a karyogram's own arrangement: a training set harvested from an archive without
    labelling by hand); rows the layout did not read confidently are skipped, verified rows keep
    the user's class. Copies are numbered in label order. ``scale`` as in
    ``chromosome_canvas`` (1.0 keeps the karyogram's size, as the dataset does). Refuses to
    overwrite existing files of the same cell unless ``overwrite``. Returns the written paths.
    """
    from PIL import Image

    from napari_karyotype.cell.features import check_features
    from napari_karyotype.classification.canvas import chromosome_canvas

    cell = str(cell).strip()
    if not _CELL_OK.match(cell) or ".K." in cell:
        raise KaryotypeError(
            f"cell id {cell!r} must be letters, digits, '.', '_' or '-' (e.g. 161923.054)"
        )
    df = check_features(features)
    labels = np.asarray(labels)
    if labels.shape != np.asarray(image).shape[:2]:
        raise KaryotypeError("image and labels differ in size")
    if classes not in ("assigned", "layout"):
        raise KaryotypeError(f"classes must be 'assigned' or 'layout', got {classes!r}")
    if classes == "layout":
        df["assigned"] = df["layout"].where(~df["verified"], df["assigned"])
    rows = df[df["assigned"] != ""]
    if verified_only:
        rows = rows[rows["verified"]]
    if rows.empty:
        raise KaryotypeError("no classified chromosomes to export")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KaryotypeError(f"{out_dir}: cannot create folder ({err.strerror or err})") from None
    if not overwrite and any(out_dir.glob(f"{glob_escape(cell)}.K.chr*.gif")):
        raise KaryotypeError(f"{out_dir} already holds chromosomes of cell {cell}")
    count: dict[str, int] = {}
    planned = []
    for row in rows.sort_values("label").itertuples(index=False):
        mask = labels == int(row.label)
        if not mask.any():
            raise KaryotypeError(f"label {row.label} is in the table but not in the labels")
        count[row.assigned] = count.get(row.assigned, 0) + 1
        canvas = chromosome_canvas(image, mask, scale=scale)
        grey = np.round(canvas * 255).astype(np.uint8)
        planned.append((out_dir / crop_name(cell, row.assigned, count[row.assigned]), grey))
    written = []
    for path, grey in planned:
        try:
            Image.fromarray(grey).save(path, format="GIF")
        except OSError as err:
            raise KaryotypeError(f"{path}: cannot write ({err.strerror or err})") from None
        written.append(path)
    return written


def glob_escape(text: str) -> str:
    """``text`` with glob wildcards escaped."""
    import glob

    return glob.escape(text)
