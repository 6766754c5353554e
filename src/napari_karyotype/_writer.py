"""npe2 writers: the karyotype table of a Labels layer (its ``features``) as CSV; its chromosomes
as Pascal VOC or COCO; a Shapes layer of chromosome boxes (as the reader gives) as VOC."""

from __future__ import annotations

from typing import Any

import pandas as pd

from napari_karyotype.errors import KaryotypeError


def write_table(path: str, data: Any, attributes: dict) -> list[str]:
    """Write the features table of one Labels layer to ``path`` (CSV); returns ``[path]``.

    The table is what the Classify widget keeps in ``layer.features`` (napari's lookup column
    ``index`` is left out), so the file is the same as the Export widget's "Save table CSV".
    """
    from napari_karyotype.cell.export import write_table_csv

    features = attributes.get("features")
    name = attributes.get("name", "labels")
    if features is None or len(pd.DataFrame(features).columns) == 0:
        raise KaryotypeError(f"layer {name!r} has no karyotype table: classify it first")
    table = pd.DataFrame(features).drop(columns=["index"], errors="ignore")
    return [str(write_table_csv(path, table))]


def _image_name(attributes: dict, path: str) -> tuple[str, str]:
    """``(file name, path relative to the written file's folder)`` of the layer's image."""
    import os
    from pathlib import Path

    image = (attributes.get("metadata") or {}).get("image")
    if not image:
        return f"{attributes.get('name') or Path(path).stem}.png", ""
    where = os.path.relpath(Path(image).resolve(), Path(path).resolve().parent)
    return Path(image).name, where


def write_chromosomes(path: str, data: Any, attributes: dict) -> list[str]:
    """Write a classified Labels layer's chromosomes as Pascal VOC (``.xml``: boxes and classes)
    or COCO (``.json``: masks as RLE, confidence as score); verified labels are marked."""
    from pathlib import Path

    import numpy as np

    from napari_karyotype.datasets import coco, voc
    from napari_karyotype.datasets.annotated import from_labels

    features = attributes.get("features")
    name = attributes.get("name", "labels")
    if features is None or len(pd.DataFrame(features).columns) == 0:
        raise KaryotypeError(f"layer {name!r} has no karyotype table: classify it first")
    labels = np.asarray(data)
    items = from_labels(labels, pd.DataFrame(features))
    filename, where = _image_name(attributes, path)
    if Path(path).suffix.lower() == ".json":
        piece = coco.image_piece(where or filename, labels.shape, items)
        return [str(coco.write_coco(path, coco.merge([piece])))]
    return [str(voc.write_voc(path, filename, labels.shape, items, where))]


def write_boxes(path: str, data: Any, attributes: dict) -> list[str]:
    """Write a Shapes layer of chromosome boxes (``features`` ``class``, ``verified``; as the
    reader gives them) as a Pascal VOC ``.xml``."""
    import numpy as np

    from napari_karyotype.datasets.annotated import Annotated
    from napari_karyotype.datasets.record import class_name
    from napari_karyotype.datasets.voc import write_voc

    table = pd.DataFrame(attributes.get("features"))
    name = attributes.get("name", "shapes")
    if "class" not in table.columns or len(table) != len(data):
        raise KaryotypeError(f"layer {name!r} has no 'class' per shape: not chromosome boxes")
    items = []
    for k, (vertices, row) in enumerate(zip(data, table.to_dict("records"), strict=True)):
        v = np.asarray(vertices, float)[:, -2:] + 0.5  # pixel edges to end-exclusive pixels
        r0, c0 = np.round(v.min(axis=0)).astype(int)
        r1, c1 = np.round(v.max(axis=0)).astype(int)
        try:
            cls = class_name(str(row["class"]))
        except KaryotypeError:
            raise KaryotypeError(f"layer {name!r}: shape {k} has class {row['class']!r}") from None
        confidence = float(row.get("confidence", np.nan))
        verified = bool(row.get("verified", False))
        items.append(Annotated(k + 1, cls, (r0, c0, r1, c1), None, confidence, verified))
    shape = None
    image = (attributes.get("metadata") or {}).get("image")
    if image:
        from PIL import Image

        with Image.open(image) as im:
            shape = (im.height, im.width)
    if shape is None:
        shape = (max(a.box[2] for a in items), max(a.box[3] for a in items)) if items else (0, 0)
    filename, where = _image_name(attributes, path)
    return [str(write_voc(path, filename, shape, items, where))]
