"""``napari-karyotype export-onnx MODEL.keras...``: write each model's ONNX twin ``MODEL.onnx``.

``train`` and ``train-segmenter`` write the twin themselves; this command makes it for a model
trained by an older version or changed by hand. Classifying and segmenting then run with ONNX
Runtime and import no TensorFlow.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", help="Keras model files (classifier or segmenter)")


def run(args: argparse.Namespace) -> int:
    from napari_karyotype.classification.onnx_export import export_onnx

    for path in args.models:
        print(f"wrote {export_onnx(path)}", flush=True)
    return 0
