"""A COCO file as dataset chromosomes: each annotation's own mask (or, box only, the mask its
box gives, :mod:`~.box_masks`) becomes an upright crop exactly as a Taichung box does."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_karyotype.datasets.record import Chromosome
from napari_karyotype.errors import KaryotypeError

SOURCE = "coco"


def read_coco_set(
    path: str | Path, source: str | None = None, stats=None, cases=None
) -> list[Chromosome]:
    """Every usable chromosome of a COCO file (``cases``: a test ``cell -> bool``; the case of a
    COCO image is its file stem, as ``Chromosome.case`` reads a cell id)."""
    from napari_karyotype.datasets.coco import read_coco
    from napari_karyotype.datasets.taichung import Stats, cell_chromosomes
    from napari_karyotype.image.io import read_karyogram

    stats = stats if stats is not None else Stats()
    out: list[Chromosome] = []
    for image in read_coco(path):
        cell = Path(image.file_name).stem
        if cases is not None and not cases(cell):
            continue
        karyogram = read_karyogram(image.path)
        grey = np.round(karyogram.image * 255).astype(np.uint8)
        if grey.shape != image.shape:
            raise KaryotypeError(
                f"{path}: image {image.file_name!r} is {grey.shape[1]} x {grey.shape[0]}, "
                f"the file says {image.shape[1]} x {image.shape[0]}"
            )
        boxes = [(a.cls, a.box[1], a.box[0], a.box[3], a.box[2]) for a in image.items]
        masks = [a.mask for a in image.items]
        out.extend(
            cell_chromosomes(
                grey, boxes, cell, str(image.path), stats, masks=masks, source=source or SOURCE
            )
        )
    return out
