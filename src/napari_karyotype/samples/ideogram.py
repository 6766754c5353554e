"""The human ISCN ideogram: band positions and Giemsa stains per chromosome (UCSC hg38 cytoBand).

The table ships as ``data/cytoband_hg38.tsv`` (see its header for the source). Positions are in
base pairs from the end of the p arm (p-ter) to the end of the q arm (q-ter).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

from napari_karyotype import CLASSES
from napari_karyotype.errors import KaryotypeError

STAIN_DENSITY = {
    "gneg": 0.0,
    "gpos25": 0.25,
    "gpos50": 0.5,
    "gpos75": 0.75,
    "gpos100": 1.0,
    "acen": 0.45,
    "gvar": 0.65,
    "stalk": 0.1,
}
"""How dark each Giemsa stain is, from 0 (pale, ``gneg``) to 1 (darkest, ``gpos100``)."""

_TABLE = "cytoband_hg38.tsv"


@dataclass(frozen=True)
class Band:
    start: int
    end: int
    name: str
    stain: str


@dataclass(frozen=True)
class Ideogram:
    """The bands of one chromosome class, p-ter to q-ter."""

    cls: str
    bands: tuple[Band, ...]

    @property
    def length(self) -> int:
        """Length in base pairs."""
        return self.bands[-1].end

    @property
    def centromere(self) -> int:
        """Position of the centromere: the boundary between the p and q arm's ``acen`` bands."""
        p_acen = [b.end for b in self.bands if b.stain == "acen" and b.name.startswith("p")]
        if p_acen:
            return p_acen[-1]
        q_first = [b.start for b in self.bands if b.name.startswith("q")]
        return q_first[0] if q_first else self.length // 2

    @property
    def centromere_index(self) -> float:
        """p arm length over total length (about 0.5 metacentric, under 0.2 acrocentric)."""
        return self.centromere / self.length

    def profile(self, n: int, *, field: str = "density") -> np.ndarray:
        """``n`` samples at equal steps from p-ter to q-ter of the stain density (0–1).

        ``field="acen"`` gives 1.0 inside the centromere bands, ``"stalk"`` inside stalks.
        """
        if n < 1:
            raise KaryotypeError(f"profile needs at least one sample, got {n}")
        ends = np.array([b.end for b in self.bands], float)
        pos = (np.arange(n) + 0.5) / n * self.length
        idx = np.minimum(np.searchsorted(ends, pos, side="right"), len(self.bands) - 1)
        if field == "density":
            values = np.array([STAIN_DENSITY[b.stain] for b in self.bands])
        elif field in ("acen", "stalk", "gvar"):
            values = np.array([float(b.stain == field) for b in self.bands])
        else:
            raise KaryotypeError(f"unknown profile field {field!r}")
        return values[idx]


@functools.cache
def load_ideograms() -> dict[str, Ideogram]:
    """The ideogram of every class in :data:`napari_karyotype.CLASSES` (read once, cached)."""
    text = resources.files("napari_karyotype.samples").joinpath("data", _TABLE).read_text("utf-8")
    bands: dict[str, list[Band]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("chrom\t"):
            continue
        chrom, start, end, name, stain = line.split("\t")
        if stain not in STAIN_DENSITY:
            raise KaryotypeError(f"{_TABLE}: unknown stain {stain!r} in band {chrom} {name}")
        cls = chrom.removeprefix("chr")
        bands.setdefault(cls, []).append(Band(int(start), int(end), name, stain))
    missing = [c for c in CLASSES if c not in bands]
    if missing:
        raise KaryotypeError(f"{_TABLE}: no bands for chromosome(s) {', '.join(missing)}")
    return {c: Ideogram(c, tuple(sorted(bands[c], key=lambda b: b.start))) for c in CLASSES}
