"""How a metaphase cell (``cell.corrections.MetaphaseCell``) is drawn in the viewer.

``chromosomes`` (labels, features, class text), ``left out`` (nuclei and debris, faint),
``crossings`` (the pixels two chromosomes share, hatched; hovering them names both chromosomes),
``outlines`` (each crossing chromosome's whole outline, so that a crossing pair reads as two),
``karyogram`` (beside the spread) and ``gestures`` (where the user draws lines and shapes).
GUI thread only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from napari_karyotype._widgets._common import KARYOGRAM_LAYER, LABELS_LAYER, find_layer

LEFT_OUT_LAYER = "left out"
OUTLINES_LAYER = "outlines"
CROSSINGS_LAYER = "crossings"
GESTURES_LAYER = "gestures"
KARYOGRAM_GAP = 40


def draw_cell(viewer, cell, image_layer):
    """Show ``cell`` in the layers, placed on ``image_layer``; returns the layers the user works
    in: ``(chromosomes, left out, gestures)``, gestures on top."""
    from napari_karyotype._widgets.display import show_classes, store_table

    scale = tuple(image_layer.scale) if image_layer is not None else (1.0, 1.0)
    translate = tuple(image_layer.translate) if image_layer is not None else (0.0, 0.0)
    placed = {"scale": scale, "translate": translate}
    labels = labels_layer(viewer, LABELS_LAYER, cell.labels, placed, opacity=0.6)
    store_table(labels, cell.table)
    show_classes(viewer, labels, cell.table)
    left = labels_layer(viewer, LEFT_OUT_LAYER, cell.left_out_labels(), placed, opacity=0.3)
    kinds = {o.label: o.kind for o in cell.left_out}
    left.features = pd.DataFrame(
        {"index": list(kinds), "label": list(kinds), "kind": list(kinds.values())}
    )
    shared, pairs = crossing_map(cell)
    crossings = labels_layer(viewer, CROSSINGS_LAYER, shared, placed, opacity=0.9)
    crossings.features = pairs
    crossings.colormap = hatched(len(pairs) // 2)
    draw_outlines(viewer, cell, placed)
    draw_karyogram(viewer, cell, scale, translate)
    gestures = gestures_layer(viewer, placed)
    layers = viewer.layers
    if layers.index(gestures) != len(layers) - 1:
        layers.move(layers.index(gestures), len(layers))
    return labels, left, gestures


def labels_layer(viewer, name, data, placed, opacity):
    """The Labels layer ``name`` showing ``data`` (made, or its data written in place)."""
    from napari_karyotype._widgets.segment import write_labels

    layer = find_layer(viewer, name, "Labels")
    if layer is not None and np.asarray(layer.data).shape != data.shape:
        viewer.layers.remove(layer)
        layer = None
    if layer is None:
        return viewer.add_labels(data, name=name, opacity=opacity, **placed)
    write_labels(layer, data)
    return layer


def draw_outlines(viewer, cell, placed):
    """Each crossing chromosome's whole outline as a polygon, in the colour of its class; its
    label and class as the polygon's features (the status bar names it on hover)."""
    from napari_karyotype._widgets.display import class_colors, class_of

    crossing = sorted({lab for pair in cell.shared for lab in pair})
    table = cell.table.set_index("label")
    colors = class_colors()
    polygons, feats, edges = [], [], []
    for lab in crossing:
        poly = outline(cell.object(lab))
        if poly is None:
            continue
        cls = class_of(table.loc[lab]) if lab in table.index else ""
        polygons.append(poly)
        feats.append({"label": lab, "class": cls or "?"})
        edges.append(colors.get(cls, (0.2, 0.2, 0.2, 1.0)))
    layer = find_layer(viewer, OUTLINES_LAYER, "Shapes")
    if layer is not None:
        viewer.layers.remove(layer)
    if not polygons:
        return None
    return viewer.add_shapes(
        polygons, shape_type="polygon", name=OUTLINES_LAYER, edge_width=1.5,
        edge_color=edges, face_color="transparent", features=pd.DataFrame(feats), **placed,
    )  # fmt: skip


def draw_karyogram(viewer, cell, scale, translate):
    """The arranged karyogram as an image layer beside the spread."""
    width = cell.image.shape[1]
    at = (translate[0], translate[1] + (width + KARYOGRAM_GAP) * scale[1])
    layer = find_layer(viewer, KARYOGRAM_LAYER, "Image")
    if layer is None:
        return viewer.add_image(cell.karyogram, name=KARYOGRAM_LAYER, colormap="gray",
                                contrast_limits=(0, 255), scale=scale, translate=at)  # fmt: skip
    layer.data = cell.karyogram
    layer.translate = at
    layer.contrast_limits = (0, 255)
    return layer


def gestures_layer(viewer, placed):
    """The Shapes layer the user draws the corrections' lines and shapes in."""
    layer = find_layer(viewer, GESTURES_LAYER, "Shapes")
    if layer is None:
        layer = viewer.add_shapes(
            name=GESTURES_LAYER, edge_color="#ff00ff", edge_width=2, face_color="transparent",
            **placed,
        )  # fmt: skip
    return layer


def crossing_map(cell, period: int = 4) -> tuple[np.ndarray, pd.DataFrame]:
    """The pixels each crossing pair shares, and what hovering them says.

    Pair ``k`` (1, 2, ...) of ``cell.shared`` is ``2k - 1`` on every ``period``-th diagonal (the
    hatch, drawn black by :func:`hatched`) and ``2k`` between (transparent); either value's row
    of the features names both chromosomes, so hovering the crossing names the two."""
    from napari_karyotype._widgets.display import class_of

    shape = cell.labels.shape
    out = np.zeros(shape, np.int32)
    rr, cc = np.indices(shape)
    lines = (rr + cc) % period == 0
    table = cell.table.set_index("label")
    rows = []
    for k, (a, b) in enumerate(sorted(cell.shared), start=1):
        both = cell.object(a).full_mask(shape) & cell.object(b).full_mask(shape)
        out[both & lines] = 2 * k - 1
        out[both & ~lines] = 2 * k
        names = [f"{class_of(table.loc[x]) or '?'} (label {x})" if x in table.index else str(x)
                 for x in (a, b)]  # fmt: skip
        rows += [{"crossing": " × ".join(names), "first": a, "second": b}] * 2
    features = pd.DataFrame(rows, columns=["crossing", "first", "second"])
    features.insert(0, "label", range(1, len(rows) + 1))
    features.insert(0, "index", range(1, len(rows) + 1))
    return out, features


def hatched(pairs: int):
    """The crossings' colormap: the hatch values (odd) black, all else transparent."""
    from napari.utils.colormaps import DirectLabelColormap

    clear, black = (0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)
    colors = {None: clear, 0: clear}
    for k in range(1, pairs + 1):
        colors[2 * k - 1], colors[2 * k] = black, clear
    return DirectLabelColormap(color_dict=colors)


def outline(obj) -> np.ndarray | None:
    """The longest contour of an object's whole mask, image (row, col) vertices."""
    from skimage.measure import find_contours

    padded = np.pad(obj.mask, 1).astype(np.float32)
    contours = find_contours(padded, 0.5)
    if not contours:
        return None
    c = max(contours, key=len)[::2]
    return c - 1 + np.array(obj.box[:2], float)
