"""How a classified cell looks in the viewer: labels coloured by class, class text per chromosome.

The features table (``features.COLUMNS``) lives in ``labels.features`` with an extra ``index``
column equal to ``label``, so that napari's status bar shows the features of the label under the
cursor (napari looks labels up through ``index``).
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd

from napari_karyotype import CLASSES
from napari_karyotype._widgets._common import CLASSES_LAYER, find_layer
from napari_karyotype.cell.features import (
    COLUMNS,
    LOW_CONFIDENCE,
    check_features,
    karyotype_or_why,
)

UNCLASSIFIED_COLOR = (0.6, 0.6, 0.6, 1.0)
FLAG_RING_PX = 40
"""Diameter (image px) of the red ring around the class text of a low-confidence chromosome."""
_ORIGINAL_COLORMAPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""The colormap a labels layer had before it was coloured by class."""
TEXT_COLORS = {"ok": "#000080", "low": "#ff0000", "verified": "#006400", "none": "#404040"}
PAGE_WARNINGS = "karyotype_page_warnings"
"""Key in the labels layer's ``metadata``: the lines that say the page its chromosomes come from
is not one karyogram (``page.clean_page``'s warnings, found when classifying); the summary keeps
saying them after every relabel and refresh."""


def page_warnings(layer) -> list[str]:
    """The page warnings kept with a labels layer (empty: one karyogram, or not classified)."""
    return [str(w) for w in (layer.metadata or {}).get(PAGE_WARNINGS) or ()]


def store_page_warnings(layer, warnings) -> None:
    """Keep ``warnings`` (``page.clean_page``'s) with the labels layer, replacing earlier ones."""
    layer.metadata = {**(layer.metadata or {}), PAGE_WARNINGS: [str(w) for w in warnings or ()]}


def class_colors() -> dict[str, tuple]:
    """A distinct RGBA colour per class (tab20 then Dark2), the same in every session."""
    from matplotlib import colormaps

    rgba = [tuple(colormaps["tab20"](i)) for i in range(20)]
    rgba += [tuple(colormaps["Dark2"](i)) for i in range(4)]
    return dict(zip(CLASSES, rgba, strict=True))


def table_of(layer) -> pd.DataFrame | None:
    """The features table of a Labels layer (checked), or None when it has not been classified."""
    df = layer.features
    if df is None or not all(col in df.columns for col in COLUMNS):
        return None
    return check_features(df.drop(columns=["index"], errors="ignore"))


def store_table(layer, table: pd.DataFrame | None) -> None:
    """Put ``table`` into ``layer.features`` (with napari's ``index`` column); None clears it."""
    if table is None:
        layer.features = pd.DataFrame()
        return
    shown = check_features(table)
    shown.insert(0, "index", shown["label"].to_numpy())
    layer.features = shown


def class_of(row) -> str:
    """The class shown for a table row: ``assigned``, else the CNN's ``chromosome``."""
    return row.assigned or row.chromosome or ""


def labels_colormap(table: pd.DataFrame | None):
    """A DirectLabelColormap: each label in the colour of its class (grey if unclassified)."""
    from napari.utils.colormaps import DirectLabelColormap

    colors = class_colors()
    color_dict: dict = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0)}
    if table is not None:
        for row in table.itertuples(index=False):
            color_dict[int(row.label)] = colors.get(class_of(row), UNCLASSIFIED_COLOR)
    return DirectLabelColormap(color_dict=color_dict)


def text_of(row, threshold: float) -> tuple[str, str]:
    """``(text, state)`` shown on a chromosome: class over confidence, e.g. ``("7\n0.97", "ok")``.

    Below ``threshold`` the class gets a ``?`` and the state is ``low`` (red); a verified class
    reads ``7 ✓`` (the user's word, no confidence); unclassified is ``?``. Where the layout gives
    another class (``disagrees``) it reads ``7 ≠ 9`` (CNN's class, then the layout's), red;
    where the class is the layout's (``classes="auto"`` or ``"layout"``) it reads ``7`` alone: its
    place decided it, not a confidence (a word under each of 46 small chromosomes hid the classes).
    """
    cls = class_of(row)
    if not cls:
        return "?", "none"
    if row.verified:
        return f"{cls} ✓", "verified"
    if getattr(row, "disagrees", False):
        return f"{cls} ≠ {row.layout}\nlayout?", "low"
    if getattr(row, "layout", "") and cls == row.layout:
        return cls, "ok"  # classed by its place: the CNN's confidence did not decide
    conf = float(row.confidence)
    if not np.isfinite(conf):
        return cls, "ok"
    state = "low" if conf < threshold else "ok"
    return f"{cls}{'?' if state == 'low' else ''}\n{conf:.2f}", state


def text_positions(table: pd.DataFrame) -> np.ndarray:
    """(n, 2) (row, col) of each chromosome's centroid (the table's ``centroid`` column)."""
    out = np.zeros((len(table), 2), float)
    for i, centroid in enumerate(table["centroid"]):
        parts = str(centroid or "").split(",")
        if len(parts) == 2:
            out[i] = (float(parts[0]), float(parts[1]))
    return out


def show_classes(viewer, labels_layer, table: pd.DataFrame | None, threshold=LOW_CONFIDENCE):
    """Colour ``labels_layer`` by class and write class and confidence on each chromosome.

    The text lives in the Points layer "classes" (made or updated; removed when no table).
    Returns that layer (or None).
    """
    if table is not None:
        _ORIGINAL_COLORMAPS.setdefault(labels_layer, labels_layer.colormap)
        labels_layer.colormap = labels_colormap(table)
    elif labels_layer in _ORIGINAL_COLORMAPS:  # not classified (any more): napari's colours
        labels_layer.colormap = _ORIGINAL_COLORMAPS.pop(labels_layer)
    points = find_layer(viewer, CLASSES_LAYER, "Points")
    if table is None or len(table) == 0:
        if points is not None:
            viewer.layers.remove(points)
        return None
    texts, states = zip(
        *(text_of(row, threshold) for row in table.itertuples(index=False)), strict=True
    )
    features = pd.DataFrame(
        {
            "label": table["label"].to_numpy(),
            "text": list(texts),
            "state": list(states),
            "text_color": [TEXT_COLORS[s] for s in states],
        }
    )
    positions = text_positions(table)
    border = [TEXT_COLORS["low"] if s == "low" else "transparent" for s in states]
    text = {
        "string": "{text}",
        "color": {"feature": "text_color"},
        "size": 8,
        "anchor": "center",
    }
    if points is None:
        points = viewer.add_points(
            positions,
            features=features,
            text=text,
            name=CLASSES_LAYER,
            size=FLAG_RING_PX,
            face_color="transparent",
            border_color=border,
            border_width=0.08,
            scale=labels_layer.scale,
            translate=labels_layer.translate,
        )
        viewer.layers.selection.active = labels_layer
    else:
        points.data = positions
        points.features = features
        points.border_color = border
        points.text = text
    return points


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
