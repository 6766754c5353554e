"""COCO instance annotations: one ``annotations.json`` for many images, one entry per chromosome.

Written by the plugin: categories ``1``…``22``, ``X``, ``Y`` (ids 1–24); per chromosome its whole
box ``[x, y, width, height]``, its own mask as **uncompressed RLE** (column-major runs, as
``pycocotools`` reads them: crossing chromosomes each whole), ``score`` (the confidence) and
``attributes`` ``{"label", "verified"}``. Read: RLE (uncompressed or compressed strings) and
polygon masks; an annotation with neither is a box only. Everything is numpy (no
``pycocotools`` needed at run time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_karyotype import CLASSES
from napari_karyotype.datasets.annotated import Annotated
from napari_karyotype.datasets.record import class_name
from napari_karyotype.errors import KaryotypeError

CATEGORIES = [
    {"id": i + 1, "name": c, "supercategory": "chromosome"} for i, c in enumerate(CLASSES)
]


# ------------------------------------------------------------------------------------ masks
def rle_encode(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE of a full-image bool mask (runs over columns, zeros first)."""
    flat = np.asarray(mask, bool).ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def _uncompress(text: str) -> list[int]:
    """The counts of a compressed RLE string (COCO's LEB128-like encoding)."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_decode(rle: dict) -> np.ndarray:
    """A bool mask from a COCO RLE (uncompressed list or compressed string)."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        counts = _uncompress(counts.decode() if isinstance(counts, bytes) else counts)
    counts = np.asarray(counts, np.int64)
    if counts.sum() != h * w or (counts < 0).any():
        raise ValueError("RLE counts do not cover the image")
    values = np.arange(counts.size) % 2 == 1
    return np.repeat(values, counts).reshape((w, h)).T


def polygons_decode(polygons: list, shape: tuple[int, int]) -> np.ndarray:
    """A bool mask from COCO polygons ``[[x0, y0, x1, y1, …], …]``."""
    from skimage.draw import polygon

    mask = np.zeros(shape, bool)
    for poly in polygons:
        xy = np.asarray(poly, float).reshape(-1, 2)
        rr, cc = polygon(xy[:, 1] - 0.5, xy[:, 0] - 0.5, shape)
        mask[rr, cc] = True
    return mask


# ------------------------------------------------------------------------------------ write
def image_piece(file_name: str, shape: tuple[int, int], items: list[Annotated]) -> dict:
    """One image's share of a COCO file (ids still 0: :func:`merge` numbers them)."""
    h, w = int(shape[0]), int(shape[1])
    anns = []
    for item in items:
        r0, c0, r1, c1 = (int(v) for v in item.box)
        full = item.full_mask((h, w))
        ann = {
            "id": 0,
            "image_id": 0,
            "category_id": CLASSES.index(item.cls) + 1,
            "bbox": [c0, r0, c1 - c0, r1 - r0],
            "area": int(full.sum()),
            "iscrowd": 0,
            "segmentation": rle_encode(full),
            "attributes": {"label": int(item.label), "verified": bool(item.verified)},
        }
        if item.confidence == item.confidence:
            ann["score"] = round(float(item.confidence), 4)
        anns.append(ann)
    image = {"id": 0, "file_name": file_name, "width": w, "height": h}
    return {"images": [image], "annotations": anns}


def merge(pieces: list[dict]) -> dict:
    """One COCO document from image pieces (in order): image and annotation ids from 1."""
    doc = {
        "info": {"description": "chromosomes, written by napari-karyotype"},
        "images": [],
        "annotations": [],
        "categories": [dict(c) for c in CATEGORIES],
    }
    for piece in pieces:
        ids = {}
        for image in piece["images"]:
            ids[image["id"]] = len(doc["images"]) + 1
            doc["images"].append({**image, "id": ids[image["id"]]})
        for ann in piece["annotations"]:
            doc["annotations"].append(
                {**ann, "id": len(doc["annotations"]) + 1, "image_id": ids[ann["image_id"]]}
            )
    return doc


def write_coco(path: str | Path, doc: dict) -> Path:
    """Write a COCO document as JSON; returns the path."""
    path = Path(path)
    try:
        path.write_text(json.dumps(doc, separators=(",", ":")))
    except OSError as err:
        raise KaryotypeError(f"{path}: cannot write ({err.strerror or err})") from None
    return path


# ------------------------------------------------------------------------------------ read
@dataclass
class CocoImage:
    """One image of a COCO file, its path resolved, with its chromosomes."""

    file_name: str
    path: Path
    shape: tuple[int, int]
    items: list[Annotated] = field(default_factory=list)


def _categories(doc: dict, path: Path) -> dict[int, str]:
    out = {}
    for cat in doc.get("categories") or []:
        try:
            out[int(cat["id"])] = class_name(str(cat["name"]))
        except (KeyError, TypeError, ValueError):
            raise KaryotypeError(
                f"{path}: category {cat.get('name')!r} is not a chromosome class"
            ) from None
    return out


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def find_image(json_path: Path, file_name: str) -> Path | None:
    """An image named in a COCO file: as given, beside the file, or in ``images/`` beside it."""
    name = Path(file_name)
    for candidate in (
        name,
        json_path.parent / name,
        json_path.parent / name.name,
        json_path.parent / "images" / name.name,
    ):
        if candidate.is_file():
            return candidate
    return None


def read_coco(path: str | Path, *, need_images: bool = True) -> list[CocoImage]:
    """Every image of a COCO file with its chromosomes. A truncated file, a category that is no
    chromosome class, an annotation of an unknown image or (``need_images``) an image file
    that cannot be found is a one-line error naming the file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except OSError as err:
        raise KaryotypeError(f"{path}: cannot read ({err.strerror or err})") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise KaryotypeError(f"{path}: not a readable COCO file ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise KaryotypeError(f"{path}: not a COCO file (no 'images' list)")
    cats = _categories(doc, path)
    images: dict[int, CocoImage] = {}
    for entry in doc["images"]:
        try:
            name, shape = str(entry["file_name"]), (int(entry["height"]), int(entry["width"]))
            image_id = int(entry["id"])
        except (KeyError, TypeError, ValueError):
            raise KaryotypeError(f"{path}: an image lacks id, file_name, width or height") from None
        found = find_image(path, name)
        if found is None and need_images:
            raise KaryotypeError(f"{path}: image {name!r} not found")
        images[image_id] = CocoImage(name, found or Path(name), shape)
    for ann in doc.get("annotations") or []:
        which = ann.get("id")
        image = images.get(_as_int(ann.get("image_id")))
        if image is None:
            raise KaryotypeError(f"{path}: annotation {which} refers to an unknown image")
        cls = cats.get(_as_int(ann.get("category_id")))
        if cls is None:
            raise KaryotypeError(f"{path}: annotation {which} has an unknown category")
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
        except (KeyError, TypeError, ValueError):
            raise KaryotypeError(f"{path}: annotation {which} has no valid bbox") from None
        hh, ww = image.shape
        r0, c0 = max(int(np.floor(y)), 0), max(int(np.floor(x)), 0)
        r1, c1 = min(int(np.ceil(y + h)), hh), min(int(np.ceil(x + w)), ww)
        mask = None
        seg = ann.get("segmentation")
        try:
            if isinstance(seg, dict) and "counts" in seg:
                mask = rle_decode(seg)
            elif isinstance(seg, list) and seg:
                mask = polygons_decode(seg, image.shape)
        except (ValueError, TypeError, KeyError):
            raise KaryotypeError(f"{path}: annotation {ann.get('id')} has a bad mask") from None
        if mask is not None:
            if mask.shape != image.shape:
                raise KaryotypeError(f"{path}: annotation {ann.get('id')}: mask size differs")
            mask = mask[r0:r1, c0:c1]
        attrs = ann.get("attributes") or {}
        label = int(attrs.get("label", len(image.items) + 1))
        score = float(ann.get("score", np.nan))
        item = Annotated(label, cls, (r0, c0, r1, c1), mask, score, bool(attrs.get("verified")))
        image.items.append(item)
    return list(images.values())


def is_coco(path: str | Path) -> bool:
    """Whether ``path`` looks like a COCO file (a ``.json`` file)."""
    p = Path(path)
    return p.suffix.lower() == ".json" and p.is_file()
