"""Is a metaphase's cell complete enough to claim its karyotype?

A karyogram someone arranged shows every chromosome once. A metaphase segmented by the model may
not: a chromosome missed, two touching ones read as one, a cluster not taken apart, a piece of
debris taken for a small chromosome. Each changes the count, and a count that is wrong reads as a
numerical abnormality (``45,XX,-21``) that the cell does not have. So the ISCN is claimed only
when nothing stands in the way (:func:`completeness`); otherwise one line says what does, as
"spread: 2 clusters unresolved, 1 chromosome in doubt, 44 chromosomes: no karyotype".
"""

from __future__ import annotations

import numpy as np

from napari_karyotype.cell.features import named_labels

COUNT_RANGE = (44, 48)
"""Counts one cell plausibly has (monosomies and trisomies included); outside it, the spread
is not one whole cell, or not segmented right."""

DOUBT = 0.9
"""A chromosome the segmenter found with a chance under this is in doubt: it may be debris, a
piece of another, touching ones taken as one, or a second copy of one found twice. The chance is
the segmenter's learned rescoring of its centre (``segmentation.spread_candidates``). Measured on
20 Taichung validation spreads: 62 % of the objects that match no true box score under 0.9, and
19 % of the right ones do too, so a cell is rarely claimed: a claim on a count the segmenter could
not see is the error to avoid."""

USER_SCORE = 1.0
"""Score of a chromosome the user made or confirmed (``cell.corrections``)."""

CLUSTER = 2.6
"""A chromosome object this many times the cell's median area or more is a cluster of several
that were not taken apart."""


VIABLE_TRISOMIES = ("13", "18", "21")
"""The autosomes a live-born cell carries three of (Patau, Edwards, Down syndromes)."""

AUTO_FEWEST = 40
"""A page taken for a karyogram by ``--page auto`` on which the rows hold fewer chromosomes than
this gets no karyotype: far more often a spread whose ink happened to stand in bands (read down
the rows path, it gives "26,-1,-2,…") than a cell that lost six or more. Chosen by the user
(``--page karyogram``), the page keeps its claim down to ``features.FEWEST``."""


def auto_page_doubt(count: int) -> list[str]:
    """The warning that withholds the karyotype of a page read as a karyogram by ``--page auto``
    with ``count`` chromosomes; empty when the count is plausible for one karyogram."""
    if count >= AUTO_FEWEST:
        return []
    return [
        f"page: read as a karyogram, but only {count} chromosomes found in its rows: no "
        "karyotype (a metaphase? --page metaphase)"
    ]


def unlikely(iscn: str) -> str:
    """Why the numerical karyotype ``iscn`` read from a spread is more likely chromosomes missed
    or counted twice than the cell's own; empty when it is a karyotype cells have.

    A constitutional cell loses no autosome (a monosomy does not survive), gains at most one,
    and then a 13, 18 or 21, and carries one to four sex chromosomes with an X (45,X; 47,XXY;
    48,XXYY …), not both a gained autosome and a sex change. A spread read otherwise
    (``44,XY,-6,-9``) has almost always lost chromosomes to the segmenter."""
    parts = iscn.split(",")
    if len(parts) < 2:
        return ""
    sex, changes = parts[1], parts[2:]
    lost = [c[1:] for c in changes if c.startswith("-")]
    gained = [c[1:] for c in changes if c.startswith("+")]
    if lost:
        return f"{iscn} unlikely ({'an autosome' if len(lost) == 1 else 'autosomes'} lost)"
    if len(gained) > 1 or any(g not in VIABLE_TRISOMIES for g in gained):
        return f"{iscn} unlikely (gain of {', '.join(gained)})"
    if not 1 <= len(sex) <= 4 or "X" not in sex or (gained and sex not in ("XX", "XY")):
        return f"{iscn} unlikely (sex chromosomes {sex})"
    return ""


def completeness(objects, count: int, iscn: str = "") -> list[str]:
    """What stands in the way of claiming a karyotype on a spread's chromosomes ``objects``
    (``segmentation.objects.SpreadObject``) counted ``count`` and read ``iscn``; empty when
    nothing does. A karyotype no cell has (:func:`unlikely`) is not claimed unless the user
    verified or drew every chromosome."""
    chrom = [o for o in objects if o.kind == "chromosome"]
    areas = np.array([o.area for o in chrom], float)
    median = float(np.median(areas)) if areas.size else 0.0
    clusters = int(np.sum(areas >= CLUSTER * median)) if median else 0
    doubtful = sorted((o for o in chrom if o.score < DOUBT), key=lambda o: o.score)
    reasons = []
    if clusters:
        reasons.append(f"{clusters} cluster{'s' if clusters > 1 else ''} unresolved")
    if doubtful:
        n = len(doubtful)
        named = named_labels([o.label for o in doubtful])
        reasons.append(f"{n} chromosome{'s' if n > 1 else ''} in doubt ({named})")
    lo, hi = COUNT_RANGE
    odd = unlikely(iscn) if lo <= count <= hi else ""  # outside, the count says enough
    if odd and not all(o.score >= USER_SCORE for o in chrom):
        reasons.append(odd)
    if reasons or not lo <= count <= hi:
        reasons.append(f"{count} chromosome{'s' if count != 1 else ''}")
        return [f"spread: {', '.join(reasons)}: no karyotype"]
    return []
