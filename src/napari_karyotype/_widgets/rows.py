"""The "Rows" widget: propose one rectangle per karyogram row into an editable Shapes layer."""

from __future__ import annotations

import numpy as np
from magicgui.widgets import PushButton

from napari_karyotype._widgets._base import ViewerWidget
from napari_karyotype._widgets._common import (
    ROWS_LAYER,
    find_layer,
    guarded,
    info,
    layer_karyogram,
    text_label,
    warn,
)

ROW_STYLE = {"edge_width": 3, "edge_color": "#ff8c00", "face_color": "transparent"}


class RowsWidget(ViewerWidget):
    """Propose rows (``rows.propose_rows``) into the Shapes layer "rows", for the user to edit."""

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, labels=False)
        self.image = self.layer_picker("Image", "image")
        self.propose = PushButton(text="Propose rows")
        self.status = text_label("")
        self.extend([self.image, self.propose, self.status])
        self.native.setToolTip(
            "Propose one rectangle per karyogram row; then move, resize, add or delete shapes "
            "in the 'rows' layer (rectangles, polygons or ellipses)."
        )
        self.propose.changed.connect(self.run)

    @guarded("Proposing rows")
    def run(self, _=None):
        """Propose rows for the chosen image; returns the Shapes layer."""
        from napari_karyotype.segmentation.page import clean_page
        from napari_karyotype.segmentation.rows import propose_rows

        k = layer_karyogram(self.image.value)
        page = clean_page(k.image, k.chroma)
        for warning in page.warnings:  # not one karyogram: the user may still draw rows
            warn(warning)
        shapes = propose_rows(page.image, clean=False)
        return self.show_rows(shapes, self.image.value)

    def show_rows(self, shapes, image_layer=None):
        """Put ``shapes`` (``[(type, vertices)]``) into the "rows" layer (made if needed)."""
        types = [str(t) for t, _ in shapes]
        data = [np.asarray(v, float) for _, v in shapes]
        layer = find_layer(self.viewer, ROWS_LAYER, "Shapes")
        if layer is None:
            layer = self.viewer.add_shapes(data, shape_type=types, name=ROWS_LAYER, **ROW_STYLE)
        else:
            layer.data = []
            if data:
                layer.add(data, shape_type=types, **ROW_STYLE)
        layer.current_edge_color = ROW_STYLE["edge_color"]
        layer.current_face_color = ROW_STYLE["face_color"]
        layer.current_edge_width = ROW_STYLE["edge_width"]
        if image_layer is not None:
            layer.scale = image_layer.scale
            layer.translate = image_layer.translate
        self.viewer.layers.selection.active = layer
        layer.mode = "select"
        self.status.value = f"{len(data)} rows proposed: edit them, then segment"
        info(f"{len(data)} rows proposed")
        return layer
