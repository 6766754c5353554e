"""Is a page an arranged karyogram, or a raw metaphase? Evidence that holds for any laboratory.

A karyogram is made of cut-out chromosomes: they stand upright in rows, and nothing on the page is
much wider than a chromosome. A raw metaphase (or any slide image) shows the chromosomes as they
fell, at every angle, often beside interphase nuclei: solid round blobs many chromosome widths
across. Both are judged against the page's own chromosomes, never against sizes in pixels:

* **nuclei**: solid (they fill their convex hull), compact (area under :data:`COMPACT` times the
  disc of their inradius; a chromosome is a long strip) and :data:`NUCLEUS` times as thick as the
  typical chromosome or more; one is enough, since no karyogram holds one;
* **directions**: of the chromosome-like parts that have a direction (axes 2 : 1 or longer),
  :data:`TILTED` or more (and at least :data:`FEW` of them) lie diagonally, 30° to 60° off
  upright. Chromosomes that fell at random lie so a third of the time; in a karyogram the
  chromosomes stand within 30° of upright, and what lies flat (homologs touching side by side
  into one short wide blob, text) lies flat, not diagonally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMPACT = 2.5
"""A blob whose area is under this many times ``pi * inradius**2`` is round (a disc gives 1, a
2 : 1 ellipse 2); a chromosome, long against its width, gives more, save the smallest."""

NUCLEUS = 3.0
"""A round solid blob this many typical chromosome widths thick or more is a nucleus: two
chromosomes lying side by side are about two widths thick."""

SOLID = 0.75
"""A nucleus fills this much of its convex hull or more (a kidney-shaped one about 0.9)."""

TILTED = 0.15
"""The share of directed chromosomes lying diagonally that makes a metaphase (half the third
that random angles give)."""

FEW = 3
"""Fewer diagonal chromosomes than this are no evidence (a bent one, a mark)."""

ROWS = 3
"""Ink in fewer bands than this stands in no rows (the ISCN layout has four or five: 1-5, 6-12,
13-18, 19-22 with X and Y; a bridge across one gap still leaves three)."""

TALL = 0.35
"""Ink this tall against the page's width or taller is a cell's worth (held-out Taichung spreads
are 0.4 to 1.4; karyogram pages 0.34 to 0.78, in four bands or more; a cut-out row about 0.2)."""


@dataclass
class Part:
    """One ink component of the page: its mask (in its box), area and inradius (px)."""

    mask: np.ndarray
    area: int
    radius: float


def typical_radius(parts: list[Part]) -> float:
    """The area-weighted median inradius of the parts that are not round blobs (nuclei, with
    their large areas, would otherwise set it): the typical chromosome's half-width."""
    long = [p for p in parts if not _compact(p)] or parts
    if not long:
        return 0.0
    r = np.array([p.radius for p in long])
    a = np.array([p.area for p in long], float)
    order = np.argsort(r)
    cum = np.cumsum(a[order])
    return float(r[order][np.searchsorted(cum, cum[-1] / 2)])


def _compact(p: Part) -> bool:
    return p.area < COMPACT * np.pi * max(p.radius, 0.5) ** 2


def _solidity(mask: np.ndarray) -> float:
    from skimage.morphology import convex_hull_image

    hull = convex_hull_image(np.pad(mask, 1))
    return float(mask.sum() / max(hull.sum(), 1))


def nuclei(parts: list[Part], ref: float) -> int:
    """How many parts are interphase nuclei (round, solid, :data:`NUCLEUS` times as thick as the
    typical chromosome ``ref`` or more)."""
    if ref <= 0:
        return 0
    big = [p for p in parts if p.radius >= NUCLEUS * ref and _compact(p)]
    return sum(_solidity(p.mask) >= SOLID for p in big)


def directions(parts: list[Part], ref: float, thin: float) -> tuple[int, int, int]:
    """``(upright, diagonal, flat)``: chromosome-like parts (inradius between ``thin`` and 2
    times ``ref``) with a direction, by the angle of their major axis off upright: under 30°,
    30° to 60°, over 60°."""
    counts = [0, 0, 0]
    for p in parts:
        if not thin * ref <= p.radius <= 2 * ref:
            continue
        rr, cc = np.nonzero(p.mask)
        if rr.size < 6:
            continue
        evals, evecs = np.linalg.eigh(np.cov(np.vstack([rr, cc]).astype(float)))
        if evals[1] < 4.0 * max(evals[0], 0.25):  # axes under 2 : 1: no direction
            continue
        off = np.degrees(np.arccos(min(abs(evecs[0, 1]), 1.0)))  # the major axis off vertical
        counts[min(int(off // 30), 2)] += 1
    return counts[0], counts[1], counts[2]


def bands(rows: np.ndarray, gap: float) -> int:
    """How many horizontal bands of ink the page holds: ``rows`` tells which pixel rows hold
    ink; bands are parted by ``gap`` or more empty rows."""
    ys = np.flatnonzero(rows)
    if ys.size == 0:
        return 0
    return 1 + int(np.count_nonzero(np.diff(ys) > max(gap, 1.0)))


def metaphase_warning(
    parts: list[Part], thin: float, *, rows: int | None = None, tall: float = 0.0
) -> str | None:
    """One line if ``parts`` look like a raw metaphase rather than an arranged karyogram.

    ``rows``: the bands the page's ink stands in (:func:`bands`), ``tall`` the ink's height
    over the page's width; None leaves the rows evidence out."""
    ref = typical_radius(parts)
    reasons = []
    if rows is not None and rows < ROWS and tall >= TALL:
        reasons.append(f"the chromosomes stand in {rows} band{'s' * (rows != 1)}, not in rows")
    upright, diagonal, flat = directions(parts, ref, thin)
    directed = upright + diagonal + flat
    if diagonal >= FEW and diagonal >= TILTED * directed:
        reasons.append(f"chromosomes lie in all directions, {diagonal} of {directed} diagonal")
    found = nuclei(parts, ref)
    if found:
        reasons.append(f"{found} interphase nucle{'us' if found == 1 else 'i'}")
    if not reasons:
        return None
    return (
        f"page: not an arranged karyogram ({'; '.join(reasons)}): a raw metaphase? "
        "draw the rows by hand"
    )
