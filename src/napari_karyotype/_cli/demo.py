"""``napari-karyotype demo``: napari with the sample karyogram, or the whole pipeline headless.

With a display (and napari importable) it opens napari with the sample karyogram, its proposed
rows and the plugin's widgets docked. The sample is a karyogram composed from one real cell of
Hu et al. 2019 (shared copy, cache, or a pinned download); offline it falls back to the synthetic
karyogram drawn from the ISCN ideogram. With ``--headless``, or where there is no display
or no napari/Qt, it runs rows, active contours, CNN and assignment on the same sample, writes the
outputs to a folder and prints a short report, accuracy against the sample's truth included.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_OUT = Path("karyotype-demo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--headless", action="store_true",
        help="run the pipeline on the sample without a window and write the outputs",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
        help=f"output folder of the headless run (default: ./{DEFAULT_OUT})",
    )  # fmt: skip
    parser.add_argument(
        "--sample", choices=("auto", "real", "synthetic"), default="auto",
        help="real Hu et al. cell, synthetic ideogram karyogram, or auto: real where it can be "
        "had, else synthetic (default: auto)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="layout/drawing seed (default: 0)")
    parser.add_argument(
        "--model", type=Path, default=None, metavar="MODEL.keras",
        help="classifier to use (default: the bundled model)",
    )  # fmt: skip


def display_problem() -> str | None:
    """Why no napari window can open here (None if one can)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "no display ($DISPLAY / $WAYLAND_DISPLAY unset)"
    import importlib.util

    for module in ("napari", "qtpy"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    return None


def load_sample(kind: str = "auto", seed: int = 0):
    """``(composed karyogram, description, napari sample key)`` of the chosen sample kind."""
    from napari_karyotype.errors import KaryotypeError

    if kind in ("auto", "real"):
        from napari_karyotype.samples.compose import compose_karyogram
        from napari_karyotype.samples.fetch import SAMPLE_CELL, load_cell

        try:
            composed = compose_karyogram(load_cell(SAMPLE_CELL), seed=seed)
            return composed, f"Hu et al. 2019 cell {SAMPLE_CELL}", "hu2019"
        except KaryotypeError as err:
            if kind == "real":
                raise
            print(f"napari-karyotype demo: {err}; using the synthetic sample", file=sys.stderr)
    from napari_karyotype.samples.synthetic import synthetic_karyogram

    return synthetic_karyogram(seed=seed), "synthetic (ISCN ideogram)", "synthetic"


def run(args: argparse.Namespace) -> int:
    if not args.headless:
        problem = display_problem()
        if problem is None:
            return open_window(args)
        print(f"napari-karyotype demo: {problem}: running headless", file=sys.stderr)
    return run_headless(args.out, seed=args.seed, model=args.model, sample=args.sample)


def open_window(args: argparse.Namespace) -> int:
    """napari with the sample, its rows and the widgets docked; blocks until closed."""
    try:
        import napari

        from napari_karyotype._widgets.demo import open_demo
    except ImportError as err:  # napari or Qt broken at import: do the headless run instead
        print(f"napari-karyotype demo: cannot import napari ({err}): running headless",
              file=sys.stderr)  # fmt: skip
        return run_headless(args.out, seed=args.seed, model=args.model, sample=args.sample)
    if args.model is not None and not Path(args.model).is_file():
        from napari_karyotype.errors import KaryotypeError

        raise KaryotypeError(f"{args.model}: model file not found")
    _, _, key = load_sample(args.sample, args.seed)  # fetches the real cell once, if it can
    viewer = napari.Viewer(title="napari-karyotype demo")
    open_demo(viewer, sample=key, model=None if args.model is None else str(args.model))
    napari.run()
    return 0


def run_headless(
    out: Path, *, seed: int = 0, model: Path | None = None, sample: str = "auto", log=None
) -> int:
    """The pipeline on the sample; outputs in ``out``; a short report on ``log``."""
    import imageio.v3 as iio

    from napari_karyotype.cell.assign import iscn_of
    from napari_karyotype.cell.features import karyotype_or_why
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.pipeline.analyze import analyze_image, score, write_outputs

    log = log or sys.stdout
    sample, description, key = load_sample(sample, seed)
    classifier = load_classifier(model)
    result = analyze_image(sample.image, rows="auto", classifier=classifier)
    paths = write_outputs(result, out, "sample")
    try:
        iio.imwrite(out / "sample.png", sample.image, extension=".png")
    except OSError as err:
        raise KaryotypeError(f"{out}: cannot write ({err.strerror or err})") from None
    s = result.summary
    got = score(result.labels, result.features, sample.labels, sample.classes)
    truth = iscn_of(list(sample.classes.values()))
    secs = result.seconds
    print(f"napari-karyotype demo (headless): {description}, {truth}, seed {seed}", file=log)
    print(f"  rows found:        {len(result.rows)}", file=log)
    print(f"  chromosomes:       {s.count} segmented (truth {got['n_true']})", file=log)
    print(f"  karyotype:         {karyotype_or_why(s)} (truth {truth})", file=log)
    print(
        f"  mean confidence:   {s.mean_confidence:.2f}; size scale {s.scale or 1.0:.2f}", file=log
    )
    print(
        f"  accuracy:          {got['correct']}/{got['n_true']} "
        f"({100 * got['accuracy']:.1f} %) segmented (IoU >= 0.5) and correctly classified",
        file=log,
    )
    if key == "synthetic":
        print(
            f"{'':21}(the sample is drawn from the ISCN ideogram, not photographed; the CNN,\n"
            f"{'':21}trained on real cells, does far better on real karyograms)",
            file=log,
        )
    else:
        print(f"{'':21}(this cell is among the bundled CNN's training data)", file=log)
    if s.flags:
        print(f"  flags:             {'; '.join(s.flags)}", file=log)
    print(
        f"  time:              {secs['total']:.1f} s (segmentation {secs['segment']:.1f} s, "
        f"classification {secs['classify']:.1f} s)",
        file=log,
    )
    names = ", ".join(p.name for p in [out / "sample.png", *paths.values()])
    print(f"  files in {out}/: {names}", file=log)
    return 0
