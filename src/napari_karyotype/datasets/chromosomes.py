"""Read the chromosome-image set of Hu et al. 2019 (zips or folders of 100 x 220 GIFs).

File names look like ``161923.054.K.chr1.1invert_pad.gif``: cell ``161923.054``, class ``1``,
homolog ``1``. X is written ``chr23`` or ``chrx``, Y ``chr24`` or ``chry``. The case (patient)
is the part of the cell id before the first dot, upper-cased.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from napari_karyotype.datasets.record import (  # noqa: F401 (re-exported: the datasets' record)
    CANVAS_SHAPE,
    Chromosome,
    case_of,
    case_of_cell,
    class_name,
)
from napari_karyotype.errors import KaryotypeError

_SOURCE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_NAME = re.compile(
    r"^(?P<cell>[^/\\]+?)\.K\.chr(?P<cls>\d{1,2}|x|y)\.(?P<homolog>\d+)\s*(?P<rest>[^/\\]*)\.gif$",
    re.IGNORECASE,
)


def parse_name(filename: str) -> tuple[str, str, int, bool] | None:
    """``(cell, class, homolog, is_duplicate)`` from a dataset file name, or None if not one.

    ``is_duplicate`` marks names like ``…invert_padinvert_pad.gif``: a second, inverted copy.
    """
    m = _NAME.match(Path(filename).name)
    if m is None:
        return None
    try:
        cls = class_name(m["cls"])
    except KaryotypeError:
        return None
    duplicate = m["rest"].lower().count("invert_pad") > 1
    return m["cell"], cls, int(m["homolog"]), duplicate


def decode_gif(data: bytes, name: str) -> np.ndarray:
    """Decode one dataset GIF to a 2-D uint8 grey array; a one-line error names a bad file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            grey = np.asarray(im.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise KaryotypeError(f"{name}: not a readable image ({err.__class__.__name__})") from None
    if grey.shape != CANVAS_SHAPE:
        h, w = grey.shape[:2]
        raise KaryotypeError(
            f"{name}: image is {w} x {h}, expected {CANVAS_SHAPE[1]} x {CANVAS_SHAPE[0]}"
            " (width x height)"
        )
    return grey


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield ``(display name, bytes)`` of every GIF in a zip, a folder (recursively) or one file."""
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.suffix.lower() == ".zip":
                yield from _members(f)
            elif f.suffix.lower() == ".gif" and f.is_file():
                yield str(f), f.read_bytes()
    elif path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                for info in sorted(zf.infolist(), key=lambda i: i.filename):
                    if info.filename.lower().endswith(".gif") and not info.is_dir():
                        yield f"{path}:{info.filename}", zf.read(info)
        except zipfile.BadZipFile:
            raise KaryotypeError(f"{path}: not a readable zip file") from None
    elif path.suffix.lower() == ".gif" and path.is_file():
        yield str(path), path.read_bytes()
    elif not path.exists():
        raise KaryotypeError(f"{path}: no such file or folder")


def load_chromosomes(
    paths: Iterable[str | Path],
    *,
    strict_size: bool = True,
    cache_dir: str | Path | None = None,
    cases=None,
    report: dict | None = None,
) -> list[Chromosome]:
    """Read every recognisable chromosome under ``paths``: Hu et al. zips, folders or GIF files,
    Taichung VOC folders (:mod:`~.taichung`; preprocessed crops cached in ``cache_dir``) and
    COCO files (:mod:`~.coco_set`).

    Inverted duplicates (``…invert_padinvert_pad.gif``) are dropped. An image of the wrong size
    raises a one-line :class:`KaryotypeError` naming the file (skipped if not ``strict_size``).
    ``cases``: a test ``(source, case) -> bool``; the box sets (VOC, COCO) then read only the
    images of those cases. ``report``: filled per box set (``"source:path"``) with its boxes
    used and left out (each named, with why). Raises if nothing recognisable is found.
    """
    from napari_karyotype.datasets import taichung
    from napari_karyotype.datasets.coco import is_coco
    from napari_karyotype.datasets.coco_set import SOURCE as COCO
    from napari_karyotype.datasets.coco_set import read_coco_set

    out: list[Chromosome] = []
    named = [source_and_path(p) for p in paths]
    paths = [path for _, path in named]
    for source, path in named:
        if taichung.is_taichung(path):
            src = taichung.SOURCE  # always: its case ids follow the Taichung rule
            want = (lambda case, s=src: cases(s, case)) if cases is not None else None
            chroms, info = taichung.load_cached(path, cache_dir, want)
            out.extend(chroms)
            if report is not None:
                report[f"{src}:{path}"] = info
            continue
        if is_coco(path):
            src = source or COCO
            stats = taichung.Stats()
            want = (lambda cell, s=src: cases(s, case_of_cell(cell, s))) if cases else None
            chroms = read_coco_set(path, src, stats, want)
            out.extend(chroms)
            if report is not None:
                report[f"{src}:{path}"] = stats.info(len(chroms))
            continue
        for name, data in _members(path):
            parsed = parse_name(name.replace(":", "/"))
            if parsed is None:
                continue
            cell, cls, homolog, duplicate = parsed
            if duplicate:
                continue
            try:
                image = decode_gif(data, name)
            except KaryotypeError:
                if strict_size:
                    raise
                continue
            out.append(Chromosome(cell, cls, homolog, name, image, source=source or "hu2019"))
    if not out:
        shown = ", ".join(str(p) for p in paths[:3]) + (" …" if len(paths) > 3 else "")
        raise KaryotypeError(
            f"{shown}: no chromosome images in the Hu et al. or Taichung format found"
        )
    return out


def source_and_path(item: str | Path) -> tuple[str | None, Path]:
    """``"kshema=crops/"`` -> ``("kshema", Path("crops/"))``: a data argument that names the
    source (laboratory) of its Hu-format GIFs for per-source evaluation, ``--repeat`` and
    ``--holdout``; a plain path (or one that exists with a ``=`` in its name) -> ``(None, path)``.
    Taichung folders are always the source ``taichung``."""
    text = str(item)
    name, sep, rest = text.partition("=")
    if isinstance(item, Path) or not sep or Path(text).exists() or not _SOURCE.match(name):
        return None, Path(text)
    return name.lower(), Path(rest)


def case_fraction(case: str, seed: int = 0) -> float:
    """A case's fixed place in [0, 1): a hash of the case id, for case-wise splits that do not
    depend on which other cases are present."""
    import hashlib

    digest = hashlib.sha256(f"{seed}:{case.upper()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def parse_holdout(text: str | None) -> dict[str, float]:
    """``"taichung=0.2,…"`` -> ``{"taichung": 0.2}``: per source, the fraction of cases held out."""
    out: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        source, _, value = item.partition("=")
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not 0.0 < fraction < 1.0:
            raise KaryotypeError(f"--holdout: expected SOURCE=FRACTION (0 < F < 1), got {item!r}")
        out[source.strip().lower()] = fraction
    return out


def held_out(c: Chromosome, holdout: dict[str, float], seed: int = 0) -> bool:
    """Whether chromosome ``c`` belongs to the held-out (test) cases of its source."""
    fraction = holdout.get(c.source)
    return fraction is not None and case_fraction(c.case, seed) < fraction


def group_by_cell(chromosomes: Iterable[Chromosome]) -> dict[str, list[Chromosome]]:
    """Chromosomes grouped by cell id, in file order."""
    cells: dict[str, list[Chromosome]] = {}
    for c in chromosomes:
        cells.setdefault(c.cell, []).append(c)
    return cells


def shared_data_dir() -> Path | None:
    """The shared dataset: ``$NAPARI_KARYOTYPE_DATA``, else ``../shared/data/chromosome-images``."""
    env = os.environ.get("NAPARI_KARYOTYPE_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    for start in (Path.cwd(), Path(__file__).resolve()):
        for parent in [start, *start.parents][:6]:
            candidate = parent.parent / "shared" / "data" / "chromosome-images"
            if candidate.is_dir():
                return candidate
    return None
