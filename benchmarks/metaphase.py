"""Raw metaphases through ``analyze`` (page auto): found, found and right, extras, karyotypes, time.

Usage: python benchmarks/metaphase.py [--taichung DIR] [--real DIR] [--limit N] [--share lo,hi]
[--overlays DIR] [--page auto|metaphase]

* **Taichung held-out share**: the cases whose hash (``datasets.chromosomes.case_fraction``) is
  under 0.2, never trained on by the segmenter or the classifier (``--share`` picks another
  range, e.g. 0.2,0.25 for the validation cases). Truth: one VOC box and class per chromosome.
  A chromosome is *found* when one chromosome label's whole box (the ``bbox-*`` columns) matches
  its box at IoU >= 0.5, one to one; *found and right* when that label's assigned class is the
  box's class. *Extra*: chromosome labels matching no box. *Count right*: as many chromosome
  labels as boxes. *Karyotype claimed*: an ISCN given; *right*: equal to the ISCN of the boxes'
  classes (``cell.assign.iscn_of``).
* **Other laboratories' metaphases** (``real-karyograms/metaphase_*``): count and karyotype or
  why there is none, per image; where the laboratory's own karyogram of the cell is there (the
  tuanvision ``.A`` / ``.K`` pairs), its stated karyotype is the truth.

Seconds are per image, end to end (reading, page, segmenter, classifier, karyogram), models
loaded beforehand; peak memory is the process's maximum resident set.
"""

from __future__ import annotations

import argparse
import re
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def truth_iscn(classes: list[str]) -> str:
    from napari_karyotype.cell.assign import iscn_of

    return iscn_of(classes)


def stated_karyotype(path: Path, folder: Path) -> str | None:
    """The karyotype the laboratory's own karyogram of this metaphase states (``.A`` -> ``.K``)."""
    m = re.match(r"metaphase_tuanvision_(.+)\.A_", path.name)
    if not m:
        return None
    for k in folder.glob(f"karyo_tuanvision_{m.group(1)}.K_*"):
        got = re.search(r"_(4[5-7])(X+Y*)_", k.name)
        if got:
            return f"{got.group(1)},{got.group(2)}"
    return None


def score_taichung(analysis, truth) -> dict:
    from napari_karyotype.segmentation.metrics import match_boxes

    table = analysis.features
    boxes = table[["bbox-0", "bbox-1", "bbox-2", "bbox-3"]].to_numpy(float)
    tb = np.array([(y0, x0, y1, x1) for _c, x0, y0, x1, y1 in truth], float).reshape(-1, 4)
    pairs = match_boxes(tb, boxes)
    classes = table["assigned"].tolist()
    right = sum(classes[p] == truth[t][0] for t, p in pairs)
    iscn = analysis.summary.iscn
    want = truth_iscn([c for c, *_ in truth])
    return {
        "boxes": len(tb), "found": len(pairs), "right": right, "extra": len(boxes) - len(pairs),
        "count_right": int(len(boxes) == len(tb)), "claimed": int(bool(iscn)),
        "claimed_right": int(bool(iscn) and iscn == want),
        "claimed_wrong_count": int(bool(iscn) and len(boxes) != len(tb)),
    }  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taichung", default=str(SHARED / "taichung"))
    parser.add_argument("--real", default=str(SHARED / "real-karyograms"))
    parser.add_argument("--limit", type=int, default=0, help="at most N Taichung images")
    parser.add_argument("--share", default="0,0.2", help="case-hash range of Taichung cases")
    parser.add_argument("--page", default="auto", help="analyze's page kind (auto: read it)")
    parser.add_argument("--overlays", default="", help="write each result's karyogram here")
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args(argv)

    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.datasets.chromosomes import case_fraction
    from napari_karyotype.datasets.taichung import case_of_id, read_boxes
    from napari_karyotype.pipeline.analyze import analyze_image
    from napari_karyotype.segmentation.spread_model import load_segmenter

    clf, seg = load_classifier(None), load_segmenter(None)
    lo, hi = (float(v) for v in args.share.split(","))
    tdir = Path(args.taichung)
    ids = [
        p.stem
        for p in sorted((tdir / "annotations").glob("*.xml"))
        if lo <= case_fraction(case_of_id(p.stem)) < hi
    ]
    if args.limit:
        ids = ids[: args.limit]
    overlays = Path(args.overlays) if args.overlays else None
    if overlays:
        overlays.mkdir(parents=True, exist_ok=True)
    totals: dict[str, float] = {}
    seconds, paths = [], []
    for i, image_id in enumerate(ids):
        truth = read_boxes(tdir / "annotations" / f"{image_id}.xml")
        t0 = time.perf_counter()
        try:
            a = analyze_image(
                tdir / "images" / f"{image_id}.jpg", classifier=clf, segmenter=seg, page=args.page
            )
        except Exception as err:  # noqa: BLE001 - reported, the run goes on
            print(f"{image_id}: {type(err).__name__}: {err}")
            totals["failed"] = totals.get("failed", 0) + 1
            totals["boxes"] = totals.get("boxes", 0) + len(truth)
            continue
        seconds.append(time.perf_counter() - t0)
        row = score_taichung(a, truth)
        if row["claimed"]:
            want = truth_iscn([c for c, *_ in truth])
            verdict = "right" if row["claimed_right"] else f"want {want}"
            print(f"  {image_id}: claimed {a.summary.iscn} ({len(a.features)} labels, "
                  f"{len(truth)} boxes): {verdict}", flush=True)  # fmt: skip
        for k, v in row.items():
            totals[k] = totals.get(k, 0) + v
        if overlays and i < 20:
            from napari_karyotype.cell.karyogram import save_karyogram

            save_karyogram(overlays / f"{image_id}_karyogram.png", a.karyogram)
        paths.append(image_id)
        if (i + 1) % 20 == 0:
            print(f"  {i + 1}/{len(ids)} images", flush=True)
    n = len(paths)
    if n:
        b = totals["boxes"]
        print(f"\nTaichung cases with hash in [{lo}, {hi}): {n} metaphases, {int(b)} chromosomes")
        print(f"  found (box IoU >= 0.5, one to one): {totals['found'] / b:.1%}")
        print(f"  found and classed right:            {totals['right'] / b:.1%}")
        print(f"  extra labels per image:             {totals['extra'] / n:.2f}")
        print(f"  count right:                        {int(totals['count_right'])} of {n}")
        print(
            f"  karyotype claimed / right:          {int(totals['claimed'])} / "
            f"{int(totals['claimed_right'])} of {n} "
            f"(claimed on a wrong count: {int(totals['claimed_wrong_count'])})"
        )
        print(f"  seconds per image: median {np.median(seconds):.2f}, max {max(seconds):.2f}")
        print(f"  failed: {int(totals.get('failed', 0))}")
    if not args.no_real:
        real = Path(args.real)
        print("\nOther laboratories' metaphases")
        for path in sorted(real.glob("metaphase_*")):
            t0 = time.perf_counter()
            try:
                a = analyze_image(path, classifier=clf, segmenter=seg, page=args.page)
            except Exception as err:  # noqa: BLE001
                print(f"  {path.name[:60]:60s} error: {err}")
                continue
            from napari_karyotype.cell.features import karyotype_or_why

            want = stated_karyotype(path, real)
            got = karyotype_or_why(a.summary)
            left = sum(o.kind != "chromosome" for o in a.objects)
            verdict = ""
            if want is not None:
                verdict = "right" if a.summary.iscn == want else f"want {want}"
            print(
                f"  {path.name[:60]:60s} {a.kind:9s} {a.summary.count:3d} chromosomes, "
                f"{left} left out, {time.perf_counter() - t0:.2f} s: {got} {verdict}"
            )
            if overlays:
                from napari_karyotype.cell.karyogram import save_karyogram

                save_karyogram(overlays / f"{path.stem}_karyogram.png", a.karyogram)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (resident, whole process incl. models): {peak:.0f} MB")


if __name__ == "__main__":
    main()
