"""The "Export" widget: features table as CSV, crops as Hu et al. training data, karyogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, LineEdit, PushButton

from napari_karyotype._widgets._base import ViewerWidget
from napari_karyotype._widgets._common import (
    KARYOGRAM_LAYER,
    LABELS_LAYER,
    find_layer,
    guarded,
    info,
    layer_image,
    layer_labels,
    require_layer,
    text_label,
)
from napari_karyotype._widgets.display import table_of
from napari_karyotype.errors import KaryotypeError

KARYOGRAM_GAP_PX = 40
TABLE_FORMATS = {"CSV table": ".csv", "Pascal VOC boxes": ".xml", "COCO masks": ".json"}


def _path_of(edit: FileEdit, what: str) -> Path:
    text = str(edit.line_edit.value or "").strip()
    if not text or text == ".":
        raise KaryotypeError(f"choose a {what} first")
    return Path(text).expanduser()


class ExportWidget(ViewerWidget):
    """Save the table (CSV), the chromosome crops (dataset GIFs) and the karyogram (PNG)."""

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, labels=True)
        self.image = self.layer_picker("Image", "image")
        self.labels_picker = self.layer_picker("Labels", "labels", prefer=LABELS_LAYER)
        self.table_format = ComboBox(label="format", choices=list(TABLE_FORMATS))
        self.table_path = FileEdit(
            label="table", mode="w", filter="CSV, VOC, COCO (*.csv *.xml *.json)"
        )
        self.save_table = PushButton(text="Save table")
        self.folder = FileEdit(label="crops folder", mode="d")
        self.cell = LineEdit(label="cell id", value="")
        self.cell.tooltip = "Names: <cell>.K.chr<N>.<k>invert_pad.gif; empty: the image name"
        self.verified_only = CheckBox(text="verified chromosomes only", value=False)
        self.overwrite = CheckBox(text="overwrite this cell's crops", value=False)
        self.save_crops = PushButton(text="Export crops")
        self.png_path = FileEdit(label="karyogram PNG", mode="w", filter="PNG (*.png)")
        self.arrange = PushButton(text="Arrange karyogram")
        self.status = text_label("")
        self.extend(
            [
                self.image,
                self.labels_picker,
                self.table_format,
                self.table_path,
                self.save_table,
                self.folder,
                self.cell,
                self.verified_only,
                self.overwrite,
                self.save_crops,
                self.png_path,
                self.arrange,
                self.status,
            ]
        )
        self.save_table.changed.connect(lambda _=None: self.export_table())
        self.save_crops.changed.connect(lambda _=None: self.export_crops())
        self.arrange.changed.connect(lambda _=None: self.export_karyogram())

    def _table(self):
        layer = require_layer(self.labels_picker.value, "Labels", "chromosome labels")
        table = table_of(layer)
        if table is None:
            raise KaryotypeError(f"layer {layer.name!r} is not classified yet: classify first")
        return layer, table

    def _done(self, message: str) -> None:
        self.status.value = message
        info(message)

    @guarded("Saving the table")
    def export_table(self, path: str | Path | None = None) -> Path:
        """Write the labels layer's features table in the chosen format (CSV; Pascal VOC boxes;
        COCO masks); returns the path."""
        from napari_karyotype._writer import write_chromosomes
        from napari_karyotype.cell.export import write_table_csv

        layer, table = self._table()
        path = Path(path) if path is not None else _path_of(self.table_path, "table file")
        suffix = TABLE_FORMATS[self.table_format.value]
        if path.suffix.lower() != suffix:
            path = path.with_suffix(suffix)
        if suffix == ".csv":
            written = write_table_csv(path, table)
        else:
            image = self.image.value
            metadata = dict(layer.metadata)
            source = getattr(getattr(image, "source", None), "path", None)
            if source and "image" not in metadata:
                metadata["image"] = str(source)
            attributes = {"name": layer.name, "features": table, "metadata": metadata}
            written = Path(write_chromosomes(str(path), layer.data, attributes)[0])
        self._done(f"{len(table)} chromosomes saved to {written}")
        return written

    @guarded("Exporting crops")
    def export_crops(self, folder: str | Path | None = None, cell: str | None = None):
        """Write the classified chromosomes as dataset GIFs; returns the written paths."""
        from napari_karyotype.cell.export import cell_id, export_crops

        layer, table = self._table()
        image = layer_image(self.image.value)
        labels = layer_labels(layer, image.shape)
        folder = Path(folder) if folder is not None else _path_of(self.folder, "crops folder")
        cell = cell or self.cell.value.strip() or cell_id(self.image.value.name)
        written = export_crops(
            image,
            labels,
            table,
            folder,
            cell,
            verified_only=bool(self.verified_only.value),
            overwrite=bool(self.overwrite.value),
        )
        self._done(f"{len(written)} chromosome crops of cell {cell} written to {folder}")
        return written

    @guarded("Arranging the karyogram")
    def export_karyogram(self, path: str | Path | None = None):
        """Arrange the chromosomes into a karyogram: an Image layer, and a PNG if a path is set."""
        from napari_karyotype.cell.karyogram import arrange_karyogram, save_karyogram

        layer, table = self._table()
        image_layer = self.image.value
        image = layer_image(image_layer)
        labels = layer_labels(layer, image.shape)
        arranged = arrange_karyogram(image, labels, table)
        if path is None:
            text = str(self.png_path.line_edit.value or "").strip()
            path = Path(text).expanduser() if text and text != "." else None
        saved = save_karyogram(Path(path), arranged) if path is not None else None
        shown = find_layer(self.viewer, KARYOGRAM_LAYER, "Image")
        offset = np.array([0.0, image.shape[1] + KARYOGRAM_GAP_PX]) * np.asarray(image_layer.scale)
        if shown is None:
            shown = self.viewer.add_image(
                arranged,
                name=KARYOGRAM_LAYER,
                colormap="gray",
                contrast_limits=(0, 255),
                scale=image_layer.scale,
                translate=np.asarray(image_layer.translate) + offset,
            )
        else:
            shown.data = arranged
        where = f" and saved to {saved}" if saved is not None else ""
        self._done(f"karyogram arranged in layer {KARYOGRAM_LAYER!r}{where}")
        return arranged
