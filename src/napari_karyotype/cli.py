"""``napari-karyotype`` command line: one sub-command per module in ``_cli``.

Bad input ends with a one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

from napari_karyotype.errors import KaryotypeError

# name -> help; napari_karyotype._cli.<name> provides ``add_arguments(parser)`` and ``run(args)``
COMMANDS = {
    "segment": "Segment karyogram images into one label per chromosome.",
    "train": "Train the chromosome classifier on Hu et al.-format data.",
    "train-segmenter": "Train the metaphase segmenter on a VOC folder of metaphases.",
    "evaluate": "Evaluate a classifier on Hu et al.-format data.",
    "analyze": "Rows, active contours, CNN and per-cell assignment over karyogram images.",
    "export-onnx": "Write a Keras model's ONNX twin (the engine that classifies and segments).",
    "demo": "Open napari with the sample karyogram (or run it headless).",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-karyotype", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--verbose", action="store_true",
        help="also show TensorFlow's, absl's and CUDA's own log lines",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f"napari_karyotype._cli.{name.replace('-', '_')}")
        except ModuleNotFoundError:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from napari_karyotype.classification.backend import quiet_native_logs

    quiet = contextlib.nullcontext() if args.verbose else quiet_native_logs()
    try:
        with quiet:
            return int(args._run(args) or 0)
    except KaryotypeError as err:
        print(f"napari-karyotype {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("napari-karyotype: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
