"""One labelled chromosome of any dataset, its class names and its case (patient)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_karyotype import CLASSES
from napari_karyotype.errors import KaryotypeError

CANVAS_SHAPE = (220, 100)
"""(height, width) of every dataset image and of the classifier's input canvas."""

_ALIASES = {"23": "X", "24": "Y", "X": "X", "Y": "Y"}


def class_name(token: str) -> str:
    """Normalise a class token (``1``…``22``, ``23``/``x``, ``24``/``y``) to a class name."""
    token = token.strip().upper()
    if token.startswith("CHR"):
        token = token[3:]
    token = _ALIASES.get(token, token.lstrip("0") or "0")
    if token not in CLASSES:
        raise KaryotypeError(f"unknown chromosome class {token!r}")
    return token


def case_of(cell: str) -> str:
    """The case (patient) of a cell id: the part before the first dot, upper-cased."""
    return cell.split(".", 1)[0].upper()


@dataclass
class Chromosome:
    """One dataset image: dark chromosome on white, uint8, 220 high x 100 wide."""

    cell: str
    cls: str
    homolog: int
    file: str
    image: np.ndarray = field(repr=False)
    source: str = "hu2019"
    """The laboratory: ``"hu2019"`` (Hu et al. zips) or ``"taichung"`` (VOC boxes)."""
    from_spread: bool = False
    """Cut from a raw metaphase and stood upright on its long axis (VOC or COCO boxes): its p-arm
    points up or down. False: cut from a karyogram, p-arm up."""

    @property
    def case(self) -> str:
        return case_of_cell(self.cell, self.source)


def case_of_cell(cell: str, source: str) -> str:
    """The case of a cell of ``source``: a Taichung image id less its last digit, else
    :func:`case_of`."""
    if source == "taichung":
        return cell[:-1].upper()
    return case_of(cell)
