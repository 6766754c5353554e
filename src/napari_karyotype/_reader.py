"""napari reader: PNG, JPEG, TIFF, BMP and GIF karyograms as one grey Image layer; annotated
datasets (Pascal VOC ``.xml``, COCO ``.json``, or an image with a VOC file in the Taichung layout,
``../annotations/<stem>.xml``) also as their chromosomes: a Shapes layer of whole boxes
(``features``: ``label``, ``class``, ``verified``, ``confidence``) and, where masks are known
(COCO), a Labels layer ``chromosomes`` with the plugin's features table.

The image is brought into the package convention (dark chromosomes on light, float in [0, 1]) by
:func:`~.image.io.read_karyogram`; ``metadata["inverted"]`` says whether a light-on-dark
(fluorescent) input was inverted. A file that cannot be read gives a napari error notification
with one line, and no layer.
"""

from __future__ import annotations

from pathlib import Path

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
"""Image file endings this reader claims (case-insensitive)."""
DATASET_SUFFIXES = (".xml", ".json")
BOXES_LAYER = "chromosome boxes"
LABELS_LAYER = "chromosomes"


def _paths(path) -> list[str] | None:
    if isinstance(path, str | Path):
        return [str(path)]
    if isinstance(path, list | tuple) and path and all(isinstance(p, str | Path) for p in path):
        return [str(p) for p in path]
    return None


def get_reader(path):
    """The read function for karyogram image files, or None for anything else."""
    paths = _paths(path)
    if paths is None:
        return None
    if all(Path(p).suffix.lower() in DATASET_SUFFIXES for p in paths):
        return read_datasets if all(_is_dataset(p) for p in paths) else None
    if not all(Path(p).suffix.lower() in SUFFIXES for p in paths):
        return None
    return read_karyograms


def _is_dataset(path: str) -> bool:
    """Whether a .xml or .json file looks like a VOC annotation or a COCO file (its start)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    if path.lower().endswith(".xml"):
        return b"<annotation" in head
    return head.lstrip()[:1] == b"{" and b'"images"' in head


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
        layers.append(_image_layer(karyogram, Path(p)))
        from napari_karyotype.datasets.voc import annotation_of

        xml = annotation_of(p)
        if xml is not None:
            try:
                layers.extend(_voc_layers(xml, karyogram.image.shape, Path(p)))
            except KaryotypeError as err:
                _notify_error(str(err))
    return layers or [(None,)]


def read_datasets(path) -> list[tuple]:
    """The images of VOC or COCO files with their chromosomes as layers; errors become
    notifications."""
    from napari_karyotype.errors import KaryotypeError

    layers = []
    for p in _paths(path) or []:
        try:
            layers.extend(_dataset_layers(Path(p)))
        except KaryotypeError as err:
            _notify_error(str(err))
    return layers or [(None,)]


def _dataset_layers(path: Path) -> list[tuple]:
    from napari_karyotype.datasets import coco, voc
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.image.io import read_karyogram

    if path.suffix.lower() == ".xml":
        read = voc.read_voc(path)
        image = voc.image_of(path, read.filename, read.path)
        if image is None:
            raise KaryotypeError(f"{path}: image {read.filename or path.stem!r} not found")
        karyogram = read_karyogram(image)
        return [_image_layer(karyogram, image), *_voc_layers(path, karyogram.image.shape, image)]
    layers = []
    for entry in coco.read_coco(path):
        karyogram = read_karyogram(entry.path)
        if karyogram.image.shape != entry.shape:
            raise KaryotypeError(f"{path}: image {entry.file_name!r} is not the size it says")
        layers.append(_image_layer(karyogram, entry.path))
        layers.extend(_item_layers(entry.items, entry.shape, entry.path, masks=True))
    return layers


def _image_layer(karyogram, path: Path) -> tuple:
    """The grey Image layer; a colour page keeps its colourfulness in ``metadata["chroma"]``."""
    from napari_karyotype.image.io import pack_chroma

    metadata = {"inverted": karyogram.inverted, "source": karyogram.source}
    if karyogram.chroma is not None:
        # Coloured marks are told from grey chromosomes by it (``page.clean_page``): without it
        # the widgets would segment a colour page otherwise than ``analyze`` does.
        metadata["chroma"] = pack_chroma(karyogram.chroma)
    meta = {"name": path.stem, "colormap": "gray", "contrast_limits": (0.0, 1.0),
            "metadata": metadata}  # fmt: skip
    return (karyogram.image, meta, "image")


def _voc_layers(xml: Path, shape, image: Path) -> list[tuple]:
    from napari_karyotype.datasets.voc import read_voc

    return _item_layers(read_voc(xml).items, shape, image, masks=False)


def _item_layers(items, shape, image: Path, *, masks: bool) -> list[tuple]:
    """A Shapes layer of the chromosomes' boxes and, with ``masks``, a Labels layer."""
    import numpy as np
    import pandas as pd

    rects = [
        np.array([[r0, c0], [r0, c1], [r1, c1], [r1, c0]], float) - 0.5
        for r0, c0, r1, c1 in (a.box for a in items)
    ]
    features = pd.DataFrame(
        {
            "label": [a.label for a in items],
            "class": [a.cls for a in items],
            "verified": [bool(a.verified) for a in items],
            "confidence": [float(a.confidence) for a in items],
        }
    )
    boxes = {
        "name": BOXES_LAYER,
        "shape_type": "rectangle",
        "features": features,
        "edge_color": "#ffaa00",
        "face_color": "transparent",
        "edge_width": 2,
        "text": {"string": "{class}", "color": "#ffaa00", "anchor": "upper_left"},
        "metadata": {"image": str(image)},
    }
    layers = [(rects, boxes, "shapes")]
    if masks:
        from napari_karyotype.datasets.annotated import to_labels

        labels = to_labels(items, shape)
        meta = {
            "name": LABELS_LAYER,  # the widgets' layer name
            "features": _features_table(items, labels),
            "metadata": {"image": str(image)},
        }
        layers.append((labels, meta, "labels"))
    return layers


def _features_table(items, labels):
    """The plugin's features table of read chromosomes (their classes taken as assigned)."""
    from napari_karyotype.cell.features import check_features, empty_features, label_geometry

    table = empty_features(len(items))
    table["label"] = [a.label for a in items]
    table["chromosome"] = [a.cls for a in items]
    table["assigned"] = [a.cls for a in items]
    table["confidence"] = [float(a.confidence) for a in items]
    table["verified"] = [bool(a.verified) for a in items]
    geometry = label_geometry(labels, [a.label for a in items])
    for col in ("area", "length", "centroid"):
        if col in geometry.columns:
            table[col] = list(geometry.set_index("label").loc[table["label"], col])
    return check_features(table)


def _notify_error(message: str) -> None:
    try:
        from napari.utils.notifications import show_error
    except ImportError:  # pragma: no cover - the reader only runs inside napari
        import warnings

        warnings.warn(message, stacklevel=2)
        return
    show_error(message)
