"""How a metaphase cell (``cell.corrections.MetaphaseCell``) is drawn in the viewer.

``chromosomes`` (labels, features, class text), ``left out`` (nuclei and debris, faint),
``crossings`` (the pixels two chromosomes share, hatched), ``outlines`` (each crossing chromosome
drawn whole, so that a crossing pair reads as two), ``karyogram`` (beside the spread) and
``gestures`` (where the user draws lines and shapes). GUI thread only.
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
    crossings = labels_layer(viewer, CROSSINGS_LAYER, hatch(cell), placed, opacity=0.9)
    crossings.colormap = one_color((0.0, 0.0, 0.0, 1.0))
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


def one_color(rgba):
    """A labels colormap: label 1 in ``rgba``, background transparent."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: rgba})


def hatch(cell, period: int = 4) -> np.ndarray:
    """uint8 image: 1 on every ``period``-th diagonal of the pixels two chromosomes share."""
    count = np.zeros(cell.labels.shape, np.uint8)
    for o in cell.chromosomes:
        r0, c0, r1, c1 = o.box
        count[r0:r1, c0:c1] += o.mask
    rr, cc = np.indices(count.shape)
    return ((count >= 2) & ((rr + cc) % period == 0)).astype(np.uint8)


def outline(obj) -> np.ndarray | None:
    """The longest contour of an object's whole mask, image (row, col) vertices."""
    from skimage.measure import find_contours

    padded = np.pad(obj.mask, 1).astype(np.float32)
    contours = find_contours(padded, 0.5)
    if not contours:
        return None
    c = max(contours, key=len)[::2]
    return c - 1 + np.array(obj.box[:2], float)
