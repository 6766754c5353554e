"""How a classified cell looks in the viewer: labels coloured by class, class text per chromosome.

The features table (``features.COLUMNS``) lives in ``labels.features`` with an extra ``index``
column equal to ``label``, so that napari's status bar shows the features of the label under the
cursor (napari looks labels up through ``index``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from napari_karyotype import CLASSES
from napari_karyotype._widgets._common import CLASSES_LAYER, find_layer
from napari_karyotype.features import COLUMNS, LOW_CONFIDENCE, check_features

UNCLASSIFIED_COLOR = (0.6, 0.6, 0.6, 1.0)
TEXT_COLORS = {"ok": "#1f3fbf", "low": "#ff0000", "verified": "#008000", "none": "#808080"}
TEXT_BELOW_PX = 8


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
    """``(text, state)`` shown at a chromosome, e.g. ``("7 · 0.97", "ok")``."""
    cls = class_of(row)
    if not cls:
        return "?", "none"
    conf = float(row.confidence)
    conf_text = f"{conf:.2f}" if np.isfinite(conf) else "–"
    if row.verified:
        return f"{cls} ✓", "verified"
    state = "low" if np.isfinite(conf) and conf < threshold else "ok"
    return f"{cls} · {conf_text}" + (" ?" if state == "low" else ""), state


def text_positions(labels: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """(n, 2) (row, col) under each chromosome of the table: below its box, at its centre column."""
    slices = ndi.find_objects(np.asarray(labels))
    out = np.zeros((len(table), 2), float)
    for i, row in enumerate(table.itertuples(index=False)):
        lab = int(row.label)
        sl = slices[lab - 1] if 0 < lab <= len(slices) else None
        if sl is None:
            r, c = (float(v) for v in str(row.centroid or "0,0").split(","))
            out[i] = (r, c)
            continue
        mask = np.asarray(labels)[sl] == lab
        cols = np.nonzero(mask)[1]
        out[i] = (sl[0].stop + TEXT_BELOW_PX, sl[1].start + cols.mean())
    return out


def show_classes(viewer, labels_layer, table: pd.DataFrame | None, threshold=LOW_CONFIDENCE):
    """Colour ``labels_layer`` by class and write class text under each chromosome.

    The text lives in the Points layer "classes" (made or updated; removed when no table).
    Returns that layer (or None).
    """
    labels_layer.colormap = labels_colormap(table)
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
    positions = text_positions(labels_layer.data, table)
    border = [TEXT_COLORS["low"] if s == "low" else "transparent" for s in states]
    text = {
        "string": "{text}",
        "color": {"feature": "text_color"},
        "size": 9,
        "anchor": "center",
    }
    if points is None:
        points = viewer.add_points(
            positions,
            features=features,
            text=text,
            name=CLASSES_LAYER,
            size=5,
            face_color="transparent",
            border_color=border,
            border_width=0.25,
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
