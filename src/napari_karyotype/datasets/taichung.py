"""Read the Taichung metaphase set (Pascal-VOC boxes) as dataset chromosomes.

A folder holds ``images/<id>.jpg`` (raw metaphases, dark on light) and ``annotations/<id>.xml``
(one ``<object>`` per chromosome: ``<name>`` such as ``A1`` … ``G22``, ``X``, ``Y`` and an
axis-aligned ``<bndbox>``). A box is not a mask, so each box becomes a chromosome crop like the
Hu et al. cut-outs (dark on white, uint8, 220 x 100, chromosome = pixels < 245):

1. Threshold the cell (Otsu over the pixels around its boxes, after a 1-pixel Gaussian); in the
   box grown by :data:`PAD` pixels the chromosome is the union of the dark components lying
   almost wholly inside the box (:data:`OUTSIDE`; one that runs on outside is a neighbour, or
   this chromosome fused with one) and not wholly inside a smaller other box (a neighbour nested
   in a bent chromosome's box); holes are filled. Pixels claimed by two boxes' masks are a
   crossing or a fusion: both are rejected (:data:`OVERLAP`).
2. The box is **rejected** when nothing is left or the union fails to span it (:data:`SPAN`:
   the chromosome touches a neighbour or fell apart) — :func:`read_taichung` counts these.
3. The crop is rotated so that the mask's major axis is vertical (p-arm up or down: unknown).
4. The whole cell (the image) is brought to the Hu et al. set's contrast (background 255, the
   darkest 5 % of chromosome pixels at 62) and, without its classes, to the set's size (the cell's
   median major axis to :data:`~.scale.DATASET_STATS` ``cell_median_axis``); a crop still
   larger than the canvas is shrunk alone. Per-cell size normalisation
   (:func:`~.scale.cell_scales`) then works on these crops as on Hu et al.'s.

The case is the id less its last digit. Preprocessed crops are cached by :func:`load_cached`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_karyotype.datasets.record import CANVAS_SHAPE, Chromosome
from napari_karyotype.errors import KaryotypeError

SOURCE = "taichung"
PAD = 8
"""Pixels added around each box: the ring that tells a neighbour from the box's own chromosome."""
SPAN = 0.5
"""A box's own pixels must span this fraction of its longer side."""
MIN_PIXELS = 20
"""A box with fewer own pixels than this has no chromosome of its own."""


@dataclass
class Stats:
    """Boxes read and rejected (by reason) over a set of images."""

    boxes: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    named: list[tuple[str, str]] = field(default_factory=list)
    """``(file#box, why)`` of every rejected box."""

    def reject(self, why: str, what: str = "") -> None:
        self.rejected[why] = self.rejected.get(why, 0) + 1
        if what:
            self.named.append((what, why))

    def info(self, used: int) -> dict:
        """What a report says of these boxes: counts, reasons, and every unused box named."""
        return {
            "boxes": self.boxes,
            "used": used,
            "rejected": dict(self.rejected),
            "rejection_rate": round(self.rejection_rate, 4),
            "unused": [list(item) for item in self.named],
        }

    @property
    def rejection_rate(self) -> float:
        return sum(self.rejected.values()) / self.boxes if self.boxes else 0.0


def is_taichung(path: str | Path) -> bool:
    """Whether ``path`` is a folder in the Taichung layout (``images/`` and ``annotations/``)."""
    p = Path(path)
    return (p / "annotations").is_dir() and (p / "images").is_dir()


def case_of_id(image_id: str) -> str:
    """The case of an image id: the id less its last digit."""
    return image_id[:-1].upper()


def read_boxes(xml_path: str | Path) -> list[tuple[str, int, int, int, int]]:
    """``[(class, x0, y0, x1, y1)]`` of a VOC annotation (end-exclusive pixel box); objects with
    an unknown class or no box are skipped (:func:`~.voc.read_voc` reads them strictly)."""
    from napari_karyotype.datasets.voc import read_voc

    items = read_voc(xml_path, strict=False).items
    return [(a.cls, a.box[1], a.box[0], a.box[3], a.box[2]) for a in items]


def _cell_threshold(smooth: np.ndarray, boxes: np.ndarray) -> float:
    """Otsu threshold of the pixels in the cell's boxes grown by :data:`PAD` (chromosomes and
    the background around them: a tight box alone would split light bands from dark ones)."""
    from skimage.filters import threshold_otsu

    inside = np.zeros(smooth.shape, bool)
    for x0, y0, x1, y1 in boxes:
        inside[max(y0 - PAD, 0) : y1 + PAD, max(x0 - PAD, 0) : x1 + PAD] = True
    values = smooth[inside] if inside.any() else smooth.ravel()
    return float(threshold_otsu(values))


def _unusable(mask: np.ndarray) -> str:
    """Why a box's own mask cannot be a chromosome crop ("" when it can)."""
    if mask.sum() < MIN_PIXELS:
        return "no dark pixels of its own"
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    span = max((rows[-1] - rows[0] + 1) / mask.shape[0], (cols[-1] - cols[0] + 1) / mask.shape[1])
    if span < SPAN:
        return "its own pixels span too little of the box"
    return ""


def cell_chromosomes(
    grey: np.ndarray,
    boxes: list,
    image_id: str,
    file: str,
    stats: Stats | None = None,
    *,
    masks: list | None = None,
    source: str = SOURCE,
) -> list[Chromosome]:
    """The chromosomes of one metaphase (grey uint8, dark on light) as Hu et al.-style crops.

    ``boxes``: ``[(class, x0, y0, x1, y1)]``; ``masks``: per box its own mask (box-shaped bool,
    e.g. from COCO) or None to derive it from the box (:func:`~.box_masks.own_masks`)."""
    from scipy import ndimage as ndi

    from napari_karyotype.classification.upright import cell_canvases
    from napari_karyotype.datasets.box_masks import own_masks

    stats = stats if stats is not None else Stats()
    grey_f = grey.astype(np.float32) / 255.0
    arr = np.array([b[1:] for b in boxes], dtype=np.int64).reshape(-1, 4)
    h, w = grey.shape
    arr = np.clip(arr, 0, [w, h, w, h])  # boxes reaching past the image's edge
    smooth = ndi.gaussian_filter(grey_f, 1.0)
    fg = smooth < _cell_threshold(smooth, arr)
    derived = own_masks(fg, arr) if masks is None or any(m is None for m in masks) else None
    given = masks if masks is not None else [None] * len(boxes)
    pieces = []
    for k, (cls, *_box) in enumerate(boxes):
        mask = given[k] if given[k] is not None else derived[k]
        stats.boxes += 1
        why = _unusable(mask)
        if why:
            stats.reject(why, f"{file}#{k}")
            continue
        x0, y0, _x1, _y1 = arr[k]
        pieces.append((k, cls, mask, y0, x0))
    canvases = cell_canvases(grey_f, [(m, r0, c0) for _k, _c, m, r0, c0 in pieces])
    out = []
    for (k, cls, *_rest), canvas in zip(pieces, canvases, strict=True):
        if canvas is None:
            stats.reject("vanished when scaled", f"{file}#{k}")
            continue
        out.append(
            Chromosome(image_id, cls, k, f"{file}#{k}", canvas, source=source, from_spread=True)
        )
    return out


def read_taichung(
    folder: str | Path, ids: list[str] | None = None, stats: Stats | None = None
) -> list[Chromosome]:
    """Every usable chromosome of a Taichung folder (optionally only the image ``ids``)."""
    from PIL import Image

    folder = Path(folder)
    if not is_taichung(folder):
        raise KaryotypeError(f"{folder}: not a Taichung folder (images/ and annotations/)")
    stats = stats if stats is not None else Stats()
    out: list[Chromosome] = []
    xmls = sorted((folder / "annotations").glob("*.xml"))
    for xml in xmls:
        if ids is not None and xml.stem not in ids:
            continue
        image_path = folder / "images" / f"{xml.stem}.jpg"
        if not image_path.is_file():
            continue
        with Image.open(image_path) as im:
            grey = np.asarray(im.convert("L"))
        out.extend(cell_chromosomes(grey, read_boxes(xml), xml.stem, str(image_path), stats))
    return out


def cache_path(folder: str | Path, cache_dir: str | Path) -> Path:
    """Where the preprocessed crops of ``folder`` are cached."""
    return Path(cache_dir) / f"taichung-{Path(folder).resolve().name}-v2.npz"


def load_cached(
    folder: str | Path, cache_dir: str | Path | None, cases=None
) -> tuple[list[Chromosome], dict]:
    """:func:`read_taichung` through an npz cache in ``cache_dir`` (None: no cache).

    ``cases``: a test ``case -> bool``; only the images of those cases are read (not cached).
    Returns ``(chromosomes, info)`` with ``info`` = boxes, used, rejected (by reason),
    rejection rate and ``unused``: ``[file#box, why]`` of every box left out.
    """
    ids = None
    if cases is not None:
        xmls = Path(folder, "annotations").glob("*.xml")
        ids = [x.stem for x in xmls if cases(case_of_id(x.stem))]
        cache_dir = None
    path = cache_path(folder, cache_dir) if cache_dir else None
    if path is not None and path.is_file():
        z = np.load(path, allow_pickle=False)
        chroms = [
            Chromosome(str(cell), str(cls), int(h), str(f), img, source=SOURCE, from_spread=True)
            for cell, cls, h, f, img in zip(
                z["cell"], z["cls"], z["homolog"], z["files"], z["image"], strict=True
            )
        ]
        import json

        return chroms, json.loads(str(z["info"]))
    stats = Stats()
    chroms = read_taichung(folder, ids=ids, stats=stats)
    info = stats.info(len(chroms))
    if path is not None:
        import json

        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            cell=np.array([c.cell for c in chroms]),
            cls=np.array([c.cls for c in chroms]),
            homolog=np.array([c.homolog for c in chroms]),
            files=np.array([c.file for c in chroms]),
            image=np.stack([c.image for c in chroms]) if chroms else np.zeros((0, *CANVAS_SHAPE)),
            info=np.array(json.dumps(info)),
        )
    return chroms, info
