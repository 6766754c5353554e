"""Run the pipeline over real karyograms of other laboratories and score the labels.

Usage: python benchmarks/real_karyograms.py [FOLDER] [--every N] [--limit N] [--segment-only]
[--overlays DIR] [--match TEXT]

FOLDER defaults to ``../shared/data/real-karyograms`` (its ``roboflow/`` subfolder included).
Per image it prints the label count against the count the file name implies, and for images with
YOLO box truth (``<stem>.txt`` beside the image) how many chromosomes were found with one label
each; then totals per style (G-banded, light-on-dark framed, metaphase, other) and per source
(laboratory or workstation), with the small acrocentrics (13-15, 21, 22) and Y found and classed
right apart: they are where cells are lost.

Expected count, from the file name: the number of boxes where a ``.txt`` is present; 47 for
``47``/``+21``/``ds`` (Down syndrome); 46 for ``46XX``/``46XY``/``46,XX``/``nf``/``nm``/``cml``
(CML, 46 with t(9;22)); otherwise unknown (unlabelled karyograms, raw metaphases).

Box matching (``found with one label``): every label *belongs* to the box holding the largest
part of its area, provided that part is at least half of the label (else it belongs to no box: a
stray label, e.g. page furniture). A box's *dominant* label is the one with most pixels inside
the box. A chromosome (box) is *found with one label* when exactly one label belongs to it and
that label is the dominant label of no other box (a label spanning two chromosomes fails both).
``extra`` is the number of labels beyond the expected count (0 when fewer); ``stray`` the labels
belonging to no box. ``--segment-only`` runs rows + contours without the CNN (the labels are the
same; faster). Page warnings (``flags`` that start with "page:") are printed when raised.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "real-karyograms"
SMALL_ACROCENTRICS = ("13", "14", "15", "21", "22")
SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def expected_count(path: Path) -> int | None:
    """The chromosome count the file name (or a box file beside it) implies; None if unknown."""
    boxes = path.with_suffix(".txt")
    if boxes.exists():
        return len(read_boxes(boxes, (1, 1)))
    name = path.name.lower()
    if name.startswith("metaphase"):
        return None
    if re.search(r"47[,_]?\+|47,?x[xy]|\+21|\dds_|downsyndrome", name):
        return 47
    if re.search(r"46,?x[xy]|\d+n[fm]_|\d+cml_|normal(fe)?male", name):
        return 46
    return None


def source(path: Path) -> str:
    """The laboratory or workstation: ``roboflow`` (its subfolder), else the name's second part
    (``karyo_kshema_…`` -> ``kshema``, ``metaphase_tuanvision_…`` -> ``tuanvision``)."""
    if path.parent.name == "roboflow":
        return "roboflow"
    parts = path.stem.split("_")
    return parts[1] if len(parts) > 1 and parts[0] in ("karyo", "metaphase") else "other"


def style(path: Path) -> str:
    """``G-banded``, ``framed`` (light-on-dark framed), ``metaphase`` or ``other``."""
    name = path.name.lower()
    if name.startswith("metaphase"):
        return "metaphase"
    if "roboflow" in name or "lightondark" in name or "framed" in name:
        return "framed"
    if name.startswith("karyo"):
        return "G-banded"
    return "other"


def read_boxes(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """YOLO boxes (``class xc yc w h``, normalised) as ``(n, 4)`` int rows ``r0, r1, c0, c1``."""
    h, w = shape
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue
        _, xc, yc, bw, bh = (float(p) for p in parts)
        r0, r1 = (yc - bh / 2) * h, (yc + bh / 2) * h
        c0, c1 = (xc - bw / 2) * w, (xc + bw / 2) * w
        out.append([max(int(np.floor(r0)), 0), int(np.ceil(r1)), max(int(np.floor(c0)), 0),
                    int(np.ceil(c1))])  # fmt: skip
    return np.array(out, dtype=int).reshape(-1, 4)


def read_box_classes(path: Path) -> list[str]:
    """The class name of each YOLO box (``classes.txt`` beside the file maps index to name)."""
    names = (path.parent / "classes.txt").read_text().split()
    return [names[int(line.split()[0])] for line in path.read_text().splitlines() if line.split()]


def expected_classes(path: Path) -> Counter | None:
    """The karyotype (class -> count) the boxes or the file name state; None if not stated.

    Names state it for ``46XX``/``46XY``/``nf``/``nm`` and Down syndrome with its sex
    (``47,XY,+21``); a CML karyotype (a translocation) or a sex left unsaid states none.
    """
    boxes = path.with_suffix(".txt")
    if boxes.exists():
        return Counter(read_box_classes(boxes))
    name = path.name.lower()
    sex = "XY" if re.search(r"46,?xy|\dnm_|normalmale", name) else ""
    sex = sex or ("XX" if re.search(r"46,?xx|\dnf_|normalfemale", name) else "")
    if not sex or name.startswith("metaphase"):
        return None
    out = Counter({str(i): 2 for i in range(1, 23)}) + Counter(sex)
    if expected_count(path) == 47:
        out["21"] += 1
    return out


def match_boxes(labels: np.ndarray, boxes: np.ndarray) -> tuple[dict[int, int], int]:
    """``({box: its one label} of the boxes found with one label, stray labels)``.

    As defined in the module docstring.
    """
    ids = np.unique(labels)
    ids = ids[ids > 0]
    if ids.size == 0:
        return {}, 0
    area = np.bincount(labels.ravel(), minlength=int(ids.max()) + 1)[ids]
    inside = np.zeros((len(boxes), len(ids)), np.int64)  # pixels of each label in each box
    for b, (r0, r1, c0, c1) in enumerate(boxes):
        sub = labels[r0:r1, c0:c1]
        got = np.bincount(sub.ravel(), minlength=int(ids.max()) + 1)
        inside[b] = got[ids]
    best = inside.argmax(axis=0)
    belongs = np.where(inside[best, np.arange(len(ids))] * 2 >= area, best, -1)
    dominant = np.where(inside.max(axis=1) > 0, inside.argmax(axis=1), -1)
    found = {}
    for b in range(len(boxes)):
        mine = np.flatnonzero(belongs == b)
        if mine.size != 1:
            continue
        k = int(mine[0])
        if not any(o != b and dominant[o] == k for o in range(len(boxes))):
            found[b] = int(ids[k])
    return found, int(np.sum(belongs < 0))


def write_overlay(path: Path, image: np.ndarray, labels: np.ndarray, boxes, rows=()) -> None:
    """A PNG of the image with labels in colour, outlines red, truth boxes green, rows blue."""
    import imageio.v3 as iio
    from skimage.color import label2rgb
    from skimage.segmentation import find_boundaries

    rgb = label2rgb(labels, image=image, alpha=0.3, bg_label=0)
    edge = find_boundaries(labels, mode="inner")
    rgb[edge] = (1.0, 0.0, 0.0)
    if boxes is not None:
        for r0, r1, c0, c1 in boxes:
            r1, c1 = min(r1, image.shape[0]) - 1, min(c1, image.shape[1]) - 1
            rgb[r0, c0:c1] = rgb[r1, c0:c1] = (0, 0.8, 0)
            rgb[r0:r1, c0] = rgb[r0:r1, c1] = (0, 0.8, 0)
    for _, verts in rows:
        (r0, c0), (r1, c1) = np.clip(verts.min(0), 0, None), verts.max(0)
        r0, c0 = int(r0), int(c0)
        r1, c1 = min(int(r1), image.shape[0] - 1), min(int(c1), image.shape[1] - 1)
        rgb[r0, c0:c1] = rgb[r1, c0:c1] = (0, 0, 1)
        rgb[r0:r1, c0] = rgb[r0:r1, c1] = (0, 0, 1)
    iio.imwrite(path, (np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def run_one(path: Path, segment_only: bool, classifier, classes: str = "cnn"):
    """``(image, labels, flags, rows, {label: assigned class})`` of one file, through analyze."""
    from napari_karyotype.image.io import read_karyogram
    from napari_karyotype.pipeline.analyze import analyze_image, resolve_rows

    if segment_only:  # what analyze does up to the labels
        from napari_karyotype.segmentation.contours import segment

        k = read_karyogram(path)
        image, flags, rows, options = k.image, [], None, {}
        try:
            from napari_karyotype.segmentation.page import clean_page
        except ImportError:  # a version without page analysis (a baseline)
            rows = resolve_rows("auto", image)
        else:
            page = clean_page(k.image, k.chroma)
            image, flags = page.image, list(page.warnings)
            if hasattr(page, "arranged"):  # a version that judges the page's arrangement
                options["arranged"] = page.arranged
            rows = resolve_rows("auto", image, clean=False)
        labels = np.asarray(segment(image, rows, **options), np.int32)
        return image, labels, flags, rows, {}
    kwargs = {} if classes == "default" else {"classes": classes}
    result = analyze_image(path, classifier=classifier, **kwargs)
    flags = [f for f in result.summary.flags if f.startswith("page:")]
    table = result.features
    assigned = dict(zip(table["label"].astype(int), table["assigned"].astype(str), strict=True))
    return result.image, result.labels, flags, result.rows, assigned


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT))
    parser.add_argument("--every", type=int, default=1, help="take every N-th image")
    parser.add_argument("--limit", type=int, default=0, help="at most N images (0: all)")
    parser.add_argument("--match", default="", help="only files whose name contains this")
    parser.add_argument("--segment-only", action="store_true", help="rows + contours, no CNN")
    parser.add_argument("--overlays", default="", help="write <stem>_overlay.png here")
    parser.add_argument(
        "--classes",
        default="default",
        help="analyze's class source: cnn, layout, both (default: analyze's own default)",
    )
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such folder (give the real-karyograms folder)")
    paths = sorted(
        p
        for p in [*folder.iterdir(), *(folder / "roboflow").glob("*")]
        if p.suffix.lower() in SUFFIXES and args.match in p.name
    )
    paths = paths[:: max(args.every, 1)]
    if args.limit:
        paths = paths[: args.limit]
    classifier = None
    if not args.segment_only:
        from napari_karyotype.classification.model import load_classifier

        classifier = load_classifier(None)
    overlays = Path(args.overlays) if args.overlays else None
    if overlays:
        overlays.mkdir(parents=True, exist_ok=True)
    totals: dict[str, dict] = {}
    by_source: dict[str, dict] = {}
    print(f"{'file':58s} {'style':9s} labels expect  found/boxes right stray s  class  flags")
    for path in paths:
        kind = style(path)
        expect = expected_count(path)
        t0 = time.perf_counter()
        try:
            image, labels, flags, rows, assigned = run_one(
                path, args.segment_only, classifier, args.classes
            )
            error = ""
        except Exception as err:  # noqa: BLE001 - a failing image is reported, not fatal
            image, labels, flags, rows, assigned = None, None, [], [], {}
            error = f"{type(err).__name__}: {str(err).splitlines()[0][:80] if str(err) else ''}"
        seconds = time.perf_counter() - t0
        keys = ("images", "known", "right", "extra", "boxed", "boxes", "found", "stray", "warned",
                "classed", "stated", "karyotype", "acro", "acro_right", "y", "y_right")  # fmt: skip
        ts = [totals.setdefault(kind, dict.fromkeys(keys, 0)),
              by_source.setdefault(source(path), dict.fromkeys(keys, 0))]  # fmt: skip

        def add(key, value, ts=ts):
            for t in ts:
                t[key] += value

        add("images", 1)
        add("warned", bool(flags))
        if labels is None:
            print(f"{path.name[:58]:58s} {kind:9s} error: {error}")
            if expect is not None:
                add("known", 1)
                add("boxes", expect if path.with_suffix(".txt").exists() else 0)
            continue
        n = int(len(np.unique(labels)) - (labels == 0).any())
        boxes = None
        box_text = ""
        if expect is not None:
            add("known", 1)
            add("right", n == expect)
            add("extra", max(n - expect, 0))
        if path.with_suffix(".txt").exists():
            boxes = read_boxes(path.with_suffix(".txt"), labels.shape)
            found, stray = match_boxes(labels, boxes)
            truth = read_box_classes(path.with_suffix(".txt"))
            right = {b for b, lab in found.items() if assigned.get(lab) == truth[b]}
            classed = len(right)
            add("boxed", 1)
            add("boxes", len(boxes))
            add("found", len(found))
            add("classed", classed)
            add("stray", stray)
            for key, group in (("acro", SMALL_ACROCENTRICS), ("y", ("Y",))):
                mine = [b for b, name in enumerate(truth) if name in group]
                add(key, len(mine))
                add(f"{key}_right", sum(b in right for b in mine))
            box_text = f"{len(found):3d}/{len(boxes):<3d} {classed:3d} {stray:3d}"
        stated = expected_classes(path)
        karyotype_text = ""
        if stated is not None and assigned:
            add("stated", 1)
            right = Counter(assigned.values()) == stated
            add("karyotype", right)
            karyotype_text = "karyotype right" if right else "karyotype wrong"
        exp = "?" if expect is None else str(expect)
        print(
            f"{path.name[:58]:58s} {kind:9s} {n:5d}  {exp:>5s}  {box_text:17s} {seconds:4.1f} "
            f"{karyotype_text:15s} {' | '.join(flags)}"
        )
        sys.stdout.flush()
        if overlays is not None:
            write_overlay(overlays / f"{path.stem}_overlay.png", image, labels, boxes, rows)
    print()
    for kind, t in totals.items():
        print(summary_line(kind, t))
    print("\nper source (small acrocentrics 13-15, 21, 22 and Y: found and classed right)")
    for name, t in sorted(by_source.items()):
        print(summary_line(name, t))


def summary_line(name: str, t: dict) -> str:
    """One line of totals: counts, boxes found, classes right, karyotypes, warnings."""
    known = t["known"]
    line = f"{name:9s} {t['images']:3d} images"
    if known:
        line += (
            f"  count right {t['right']}/{known} ({t['right'] / known:.0%})"
            f"  mean extra {t['extra'] / known:.2f}"
        )
    if t["boxes"]:
        line += (
            f"  found with one label {t['found']}/{t['boxes']} ({t['found'] / t['boxes']:.1%})"
            f"  stray {t['stray'] / max(t['boxed'], 1):.2f}/image"
        )
    if t["boxes"] and t["classed"]:
        line += (
            f"  found and classed right {t['classed']}/{t['boxes']}"
            f" ({t['classed'] / t['boxes']:.1%})"
        )
        for key, label in (("acro", "small acrocentrics"), ("y", "Y")):
            if t[key]:
                line += f"  {label} {t[f'{key}_right']}/{t[key]}"
    if t["stated"]:
        line += f"  karyotype right {t['karyotype']}/{t['stated']}"
    return line + f"  page warnings {t['warned']}"


if __name__ == "__main__":
    main()
