"""Inference runtimes side by side, in one run: NumPy, Keras, LiteRT and ONNX Runtime.

    python benchmarks/runtimes.py [--rounds 5] [--image SPREAD.jpg]

On the bundled classifier (46 chromosome-like canvases) and the bundled metaphase segmenter (one
spread: ``--image``, else the first Taichung image in ``../shared``, else a synthetic one) it
prints, for each engine:

- chromosomes/s at batch 1 (46 calls of one canvas) and batch 46 (one call), spreads/s for the
  segmenter: the median of ``--rounds`` rounds, the engines taking turns in each round, so a
  machine that is busy for part of the run slows them all alike;
- the time to import the runtime, to load the model and to make the first prediction, each in a
  fresh process;
- the installed size of the runtime (its distribution and what it requires, NumPy left out);
- the largest difference of its outputs from Keras'.

The engines: the retired NumPy engine (``numpy_engine.py`` beside this file, classifier only);
Keras (TensorFlow), each batch in one ``predict_on_batch`` of its own size (and, at batch 46, as
the plugin's fallback runs it: every call padded to 64 rows, so that it traces once); LiteRT
(``ai-edge-litert``, XNNPACK) on ``.tflite`` files converted here by Keras' own export; ONNX
Runtime as the plugin runs it (``classification.onnx_net``, the bundled ``.onnx`` twins). Every
engine gets all the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ENGINES = ("numpy", "keras", "litert", "onnx")
RUNTIME_DISTS = {"numpy": ["h5py"], "keras": ["tensorflow", "keras"],
                 "litert": ["ai-edge-litert"], "onnx": ["onnxruntime"]}  # fmt: skip
BATCH = 46


def _models() -> dict[str, Path]:
    from napari_karyotype.classification.model import bundled_model_path
    from napari_karyotype.segmentation.spread_model import bundled_segmenter

    return {"classifier": bundled_model_path(), "segmenter": bundled_segmenter()}


def canvases(n: int = BATCH, seed: int = 0) -> np.ndarray:
    """Chromosome-like canvases (white, a dark banded rod of random length), (n, 220, 100, 1)."""
    rng = np.random.default_rng(seed)
    x = np.ones((n, 220, 100, 1), np.float32)
    for i in range(n):
        length, width = rng.integers(40, 200), rng.integers(10, 25)
        top, left = (220 - length) // 2, (100 - width) // 2
        x[i, top : top + length, left : left + width, 0] = rng.uniform(0.1, 0.8, (length, 1))
    return x


def spread_input(image: str | None) -> np.ndarray:
    """The segmenter's input for one spread (1, h, w, 1), padded to a multiple of 16."""
    from napari_karyotype.segmentation.spread import read_spread

    if image is None:
        found = sorted(Path(HERE.parent.parent / "shared/data/taichung/images").glob("*.jpg"))
        found = found or sorted(Path("/work/shared/data/taichung/images").glob("*.jpg"))
        image = str(found[0]) if found else None
    if image is not None:
        from napari_karyotype.image.io import read_karyogram

        img = read_karyogram(image).image
    else:
        img = np.full((600, 800), 0.92, np.float32)
        img[100:400:40, 100:700] = 0.3
    ink = read_spread(img).ink
    h, w = ink.shape
    return np.pad(ink, ((0, (-h) % 16), (0, (-w) % 16)))[None, ..., None].astype(np.float32)


# ------------------------------------------------------------------------------- engines
def _import(engine: str):
    if engine == "numpy":
        sys.path.insert(0, str(HERE))
        import numpy_engine

        return numpy_engine
    if engine == "keras":
        from napari_karyotype.classification.backend import import_keras

        return import_keras()
    if engine == "litert":
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    import onnxruntime  # noqa: F401

    from napari_karyotype.classification import onnx_net

    return onnx_net


def _litert_runner(interpreter_class, path: Path):
    """``run(x)`` on a LiteRT interpreter per input shape (its tensors are sized per shape)."""
    interpreters = {}

    def run(x):
        it = interpreters.get(x.shape)
        if it is None:
            it = interpreter_class(model_path=str(path), num_threads=os.cpu_count() or 1)
            it.resize_tensor_input(it.get_input_details()[0]["index"], list(x.shape))
            it.allocate_tensors()
            interpreters[x.shape] = it
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])

    return run


def load(engine: str, kind: str, module, tflite: dict):
    """``run(x) -> outputs`` of ``engine`` for the bundled ``kind``; None where it cannot."""
    path = _models()[kind]
    if engine == "numpy":
        net = module.load(path) if kind == "classifier" else None
        return None if net is None else net.predict_on_batch
    if engine == "keras":
        model = module.models.load_model(path, compile=False)
        if kind == "classifier":
            return model.predict_on_batch
        return lambda x: np.asarray(model(x, training=False))
    if engine == "litert":
        lite = tflite.get(kind)
        return None if lite is None else _litert_runner(module, Path(lite))
    net = module.load(path, kind=kind)
    return net.predict_on_batch if kind == "classifier" else net


def export_tflite(out_dir: Path, spread_shape) -> dict[str, str]:
    """The bundled models as ``.tflite`` (Keras' LiteRT export), in a child process (it imports
    TensorFlow). LiteRT runs no convolution of unknown height and width without TensorFlow's
    own ops (Flex), so the segmenter is converted for the benchmark spread's size alone."""
    code = f"""
import json, sys, numpy as np
sys.path.insert(0, {str(HERE)!r})
from runtimes import _models
from napari_karyotype.classification.backend import import_keras
keras = import_keras()
out = {{}}
for kind, path in _models().items():
    model = keras.models.load_model(path, compile=False)
    shape = (1, 220, 100, 1) if kind == "classifier" else tuple({list(spread_shape)!r})
    model(np.zeros(shape, np.float32))
    target = {str(out_dir)!r} + f"/{{kind}}.tflite"
    spec = None if kind == "classifier" else [keras.InputSpec(shape=shape, dtype="float32")]
    try:
        model.export(target, format="litert", verbose=False, input_signature=spec)
        out[kind] = target
    except Exception as err:
        print(f"litert export of the {{kind}}: {{err}}", file=sys.stderr)
print(json.dumps(out))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr[-2000:], file=sys.stderr)
        return {}
    return json.loads(run.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- probes
def probe(engine: str, kind: str, tflite: dict, x: np.ndarray) -> dict:
    """In this (fresh) process: import, load and first-prediction times of one engine."""
    t0 = time.perf_counter()
    module = _import(engine)
    t1 = time.perf_counter()
    run = load(engine, kind, module, tflite)
    t2 = time.perf_counter()
    if run is None:
        return {}
    run(x)
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "load_s": t2 - t1, "first_s": t3 - t2}


def probe_in_child(engine: str, kind: str, tflite: dict, image: str | None) -> dict:
    args = [sys.executable, __file__, "--probe", engine, kind, "--tflite", json.dumps(tflite)]
    if image:
        args += ["--image", image]
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"{engine} {kind}: {run.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return {}
    return json.loads(run.stdout.strip().splitlines()[-1])


def installed_mb(engine: str) -> float:
    """MB on disk of the runtime's distributions and everything they require (NumPy left out)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen, todo, total = {"numpy"}, list(RUNTIME_DISTS[engine]), 0
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        total += sum(f.size or 0 for f in dist.files or [] if f.size)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return total / 1e6


# ------------------------------------------------------------------------------- timing
def throughput(runs: dict, x: np.ndarray, spread: np.ndarray, rounds: int) -> dict:
    """Median chromosomes/s (batch 1, batch 46) and spreads/s, engines taking turns."""
    times: dict = {}
    for name, run in runs.items():  # warm-up: every shape seen once
        if name[0] == "keras-plugin":
            run(x)
        elif name[1] == "classifier":
            run(x[:1]), run(x)
        else:
            run(spread)
    order = list(runs.items())
    for r in range(rounds):  # each round in another order: no engine always runs after another
        for (engine, kind), run in order[r % len(order) :] + order[: r % len(order)]:
            if engine == "keras-plugin":  # batch 46 only: it pads every call to 64 rows
                t0 = time.perf_counter()
                run(x)
                times.setdefault((engine, "b46"), []).append(len(x) / (time.perf_counter() - t0))
            elif kind == "classifier":
                t0 = time.perf_counter()
                for i in range(len(x)):
                    run(x[i : i + 1])
                t1 = time.perf_counter()
                run(x)
                t2 = time.perf_counter()
                times.setdefault((engine, "b1"), []).append(len(x) / (t1 - t0))
                times.setdefault((engine, "b46"), []).append(len(x) / (t2 - t1))
            else:
                t0 = time.perf_counter()
                run(spread)
                times.setdefault((engine, "spread"), []).append(1 / (time.perf_counter() - t0))
    return {key: float(np.median(v)) for key, v in times.items()}


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), load average {load:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", default=None, help="a metaphase for the segmenter")
    parser.add_argument("--probe", nargs=2, metavar=("ENGINE", "KIND"), help=argparse.SUPPRESS)
    parser.add_argument("--tflite", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    spread = spread_input(args.image)
    if args.probe:
        engine, kind = args.probe
        x = canvases()[:1] if kind == "classifier" else spread
        print(json.dumps(probe(engine, kind, json.loads(args.tflite), x)))
        return
    print(f"machine at start: {machine()}")
    print(f"segmenter input: {spread.shape[1]} x {spread.shape[2]} (one spread)")
    tmp = Path(tempfile.mkdtemp(prefix="runtimes-"))
    tflite = export_tflite(tmp, spread.shape)
    probes = {(e, k): probe_in_child(e, k, tflite, args.image)
              for e in ENGINES for k in ("classifier", "segmenter")}  # fmt: skip
    x = canvases()
    runs, outputs = {}, {}
    for engine in ENGINES:
        module = _import(engine)
        for kind in ("classifier", "segmenter"):
            run = load(engine, kind, module, tflite)
            if run is not None:
                runs[engine, kind] = run
                outputs[engine, kind] = np.asarray(run(x if kind == "classifier" else spread))
    from napari_karyotype.classification import inference

    keras_model = _import("keras").models.load_model(_models()["classifier"], compile=False)
    runs["keras-plugin", "classifier"] = lambda a: inference.predict(keras_model, a)
    speed = throughput(runs, x, spread, args.rounds)
    print(f"machine at end: {machine()}")
    sizes = {e: installed_mb(e) for e in ENGINES}
    head = ("| engine | model | batch 1 /s | batch 46 /s | import s | load s | first s "
            "| installed MB | max diff vs Keras |")  # fmt: skip
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for kind in ("classifier", "segmenter"):
        for engine in ENGINES:
            p = probes.get((engine, kind)) or {}
            if (engine, kind) not in runs:
                print(f"| {engine} | {kind} | – | – | – | – | – | {sizes[engine]:.0f} | "
                      "cannot run it |")  # fmt: skip
                continue
            diff = float(np.abs(outputs[engine, kind] - outputs["keras", kind]).max())
            if kind == "classifier":
                rate = f"{speed[engine, 'b1']:.0f} | {speed[engine, 'b46']:.0f}"
            else:
                rate = f"{speed[engine, 'spread']:.2f} spreads/s | –"
            cells = " | ".join(f"{p[k]:.2f}" if k in p else "–"
                               for k in ("import_s", "load_s", "first_s"))  # fmt: skip
            print(f"| {engine} | {kind} | {rate} | {cells} | {sizes[engine]:.0f} | {diff:.1e} |")
    plugin = speed["keras-plugin", "b46"]
    print(f"| keras as the plugin's fallback runs it (inference.predict: on its thread, padded to "
          f"{inference.BATCH} rows) | classifier | – | {plugin:.0f} | | | | | |")  # fmt: skip
    keras_b46 = speed.get(("keras", "b46"))
    if keras_b46:
        for engine in ENGINES:
            if (engine, "b46") in speed:
                print(f"{engine}: {speed[engine, 'b46'] / keras_b46:.2f}x Keras at batch 46 "
                      f"({speed[engine, 'b46'] / plugin:.2f}x the plugin's Keras fallback), "
                      f"{speed[engine, 'b1'] / speed['keras', 'b1']:.2f}x at batch 1")  # fmt: skip


if __name__ == "__main__":
    main()
