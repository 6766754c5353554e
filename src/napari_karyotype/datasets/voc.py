"""Pascal VOC annotations: one ``<object>`` per chromosome (class name and axis-aligned box).

Class names are ``1``…``22``, ``X``, ``Y``; the Taichung set's group-prefixed names (``A1``,
``G22``) are read too. Boxes are read as the Taichung files mean them (0-based pixels, ``xmax``
and ``ymax`` inclusive) and held end-exclusive; :func:`write_voc` writes them back the same way,
so a file read and written again is unchanged. A reviewed chromosome is written with
``<verified>1</verified>`` (and ``<difficult>0</difficult>``); the plugin's confidence goes into
``<score>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from napari_karyotype.datasets.annotated import Annotated
from napari_karyotype.datasets.record import class_name
from napari_karyotype.errors import KaryotypeError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif")
IMAGE_FOLDERS = ("images", "JPEGImages")
"""Where a VOC folder keeps its images beside ``annotations/`` (Taichung) or ``Annotations/``."""


@dataclass
class VocFile:
    """What one VOC file says: the image's name and size and its chromosomes."""

    filename: str
    shape: tuple[int, int] | None
    """(height, width) from ``<size>``, None when absent."""
    items: list[Annotated] = field(default_factory=list)
    path: str = ""
    """``<path>``: where the image was (absolute, or relative to the xml's folder)."""


def voc_class(name: str) -> str:
    """A VOC ``<name>`` as a class: ``7``, ``chr7``, ``X``, or Taichung's ``C7``."""
    token = name.strip()
    if token[:1].upper() in "ABCDEFG" and token[1:].isdigit():
        token = token[1:]
    return class_name(token)


def _int(obj, key: str, path) -> int:
    text = obj.findtext(key)
    try:
        return int(round(float(text)))
    except (TypeError, ValueError):
        raise KaryotypeError(f"{path}: <bndbox> lacks a number in <{key}>") from None


def read_voc(path: str | Path, *, strict: bool = True) -> VocFile:
    """Read a VOC annotation. ``strict``: an unknown class name or a box without numbers is a
    one-line error naming the file; otherwise such objects are skipped."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise KaryotypeError(f"{path}: not a readable VOC annotation ({err})") from None
    except OSError as err:
        raise KaryotypeError(f"{path}: cannot read ({err.strerror or err})") from None
    if root.tag != "annotation":
        raise KaryotypeError(f"{path}: not a VOC annotation (root <{root.tag}>)")
    shape = None
    size = root.find("size")
    if size is not None and size.findtext("width") and size.findtext("height"):
        shape = (_int(size, "height", path), _int(size, "width", path))
    out = VocFile((root.findtext("filename") or "").strip(), shape)
    out.path = (root.findtext("path") or "").strip()
    for obj in root.iter("object"):
        name = obj.findtext("name") or ""
        box = obj.find("bndbox")
        try:
            if box is None:
                raise KaryotypeError(f"{path}: an <object> ({name.strip()}) has no <bndbox>")
            try:
                cls = voc_class(name)
            except KaryotypeError:
                raise KaryotypeError(f"{path}: unknown chromosome class {name.strip()!r}") from None
            x0, y0, x1, y1 = (_int(box, k, path) for k in ("xmin", "ymin", "xmax", "ymax"))
        except KaryotypeError:
            if strict:
                raise
            continue
        verified = (obj.findtext("verified") or "0").strip().lower() in ("1", "true", "yes")
        try:
            score = float(obj.findtext("score") or "nan")
        except ValueError:
            score = float("nan")
        item = Annotated(len(out.items) + 1, cls, (y0, x0, y1 + 1, x1 + 1), None, score, verified)
        out.items.append(item)
    return out


def voc_xml(filename: str, shape: tuple[int, int], items: list[Annotated], path: str = "") -> str:
    """The VOC XML text of an image's chromosomes (boxes written inclusive, as read);
    ``path``: the image's path (relative to the xml's folder) where it is not beside it."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "images"
    ET.SubElement(root, "filename").text = filename
    if path:
        ET.SubElement(root, "path").text = path
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(int(shape[1]))
    ET.SubElement(size, "height").text = str(int(shape[0]))
    ET.SubElement(size, "depth").text = "1"
    ET.SubElement(root, "segmented").text = "0"
    for item in items:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = item.cls
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        ET.SubElement(obj, "verified").text = "1" if item.verified else "0"
        if item.confidence == item.confidence:  # not NaN
            ET.SubElement(obj, "score").text = f"{item.confidence:.4f}"
        r0, c0, r1, c1 = (int(v) for v in item.box)
        box = ET.SubElement(obj, "bndbox")
        for key, value in (("xmin", c0), ("ymin", r0), ("xmax", c1 - 1), ("ymax", r1 - 1)):
            ET.SubElement(box, key).text = str(value)
    ET.indent(root, space="   ")
    return ET.tostring(root, encoding="unicode") + "\n"


def write_voc(
    path: str | Path, filename: str, shape, items: list[Annotated], path_text: str = ""
) -> Path:
    """Write :func:`voc_xml` to ``path``; returns it."""
    path = Path(path)
    try:
        path.write_text(voc_xml(filename, shape, items, path=path_text))
    except OSError as err:
        raise KaryotypeError(f"{path}: cannot write ({err.strerror or err})") from None
    return path


def image_of(xml_path: str | Path, filename: str = "", path: str = "") -> Path | None:
    """The image a VOC file annotates: its ``<path>`` (relative to the xml's folder), else its
    ``<filename>`` or its stem with an image suffix in the xml's folder or a sibling
    ``images/`` / ``JPEGImages/`` folder; None if not found."""
    xml_path = Path(xml_path)
    if path and "\\" not in path and (xml_path.parent / path).is_file():
        return xml_path.parent / path
    folders = [xml_path.parent, *(xml_path.parent.parent / f for f in IMAGE_FOLDERS)]
    names = [Path(filename).name] if filename else []
    names += [xml_path.stem + s for s in IMAGE_SUFFIXES]
    for folder in folders:
        for name in names:
            if name and (folder / name).is_file():
                return folder / name
    return None


def annotation_of(image_path: str | Path) -> Path | None:
    """The VOC file of an image in the Taichung/VOC layout (``../annotations/<stem>.xml`` or
    ``../Annotations/<stem>.xml``), or a ``<stem>.xml`` beside it; None if there is none."""
    image_path = Path(image_path)
    for folder in ("annotations", "Annotations"):
        candidate = image_path.parent.parent / folder / f"{image_path.stem}.xml"
        if candidate.is_file():
            return candidate
    beside = image_path.with_suffix(".xml")
    return beside if beside.is_file() else None
