"""Many karyograms on N local worker processes, each loading the model once.

Workers are *spawned* (not forked: TensorFlow is not fork-safe) and each limits its BLAS, OpenMP
and TensorFlow threads to its share of the cores, so N workers do not oversubscribe the machine.
Images are handed out as workers finish; results come back in the order they finish. Only the
standard library is imported here: a worker sets its thread limits before numpy or TensorFlow load.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)

_WORKER: dict = {}
"""This worker process's settings, model, and the one-line error if the model failed to load."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def limit_threads(threads: int) -> None:
    """Cap BLAS, OpenMP and TensorFlow threads of this process to ``threads``.

    The environment variables act only on libraries not loaded yet; TensorFlow's own setting is
    applied too where it is loaded but has not started its runtime.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # the runtime is initialised already: keep its pools
            pass


def prepare_process(threads: int) -> None:
    """Limit threads and import TensorFlow with those limits (once per process)."""
    if _WORKER.get("threads"):
        return
    limit_threads(threads)
    from napari_karyotype.classification.backend import import_tensorflow

    import_tensorflow()
    limit_threads(threads)
    _WORKER["threads"] = threads


def _init(threads: int, model, out_dir: str, options: bytes) -> None:
    """Pool initializer: runs once in each worker process.

    ``options`` (``analyze_one``'s ``rows``, ``assign``, ``classes``) come pickled: unpickling
    arrays imports numpy, which must wait for the thread limits.
    """
    from napari_karyotype.errors import KaryotypeError

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    limit_threads(threads)
    _WORKER.update(out_dir=out_dir, options=pickle.loads(options))
    prepare_process(threads)
    try:
        from napari_karyotype.classification.model import load_classifier

        _WORKER["classifier"] = load_classifier(model)
    except KaryotypeError as err:
        _WORKER["fatal"] = str(err)


def _work(index: int, path: str, stem: str) -> tuple[int, dict]:
    """One image in a worker: ``(index, summary row)``; ``{"fatal": …}`` if the model failed."""
    if "fatal" in _WORKER:
        return index, {"fatal": _WORKER["fatal"]}
    from napari_karyotype.pipeline.analyze import analyze_one

    clf = _WORKER["classifier"]
    return index, analyze_one(path, stem, _WORKER["out_dir"], classifier=clf, **_WORKER["options"])


def check_model(model) -> Path:
    """The model's path, checked in the parent (exists, side-car fits) without importing Keras."""
    from napari_karyotype.classification.model import bundled_model_path, read_model_file

    path = Path(model) if model is not None else bundled_model_path()
    read_model_file(path, load_keras=False)
    return path.resolve()


def run_local(
    todo: Sequence[tuple[int, Path, str]],
    out_dir: str | Path,
    *,
    workers: int,
    model=None,
    **options,
) -> Iterator[tuple[int, dict]]:
    """Analyse ``todo`` (``(index, path, stem)``) on ``workers`` spawned processes.

    ``options``: ``analyze_one``'s (``rows``, ``assign``, ``classes``), the same for every image.
    Yields ``(index, summary row)`` as images finish. A model that fails to load in the workers
    stops the run with its one-line ``KaryotypeError``; a worker that dies (killed, out of memory)
    fails the images it left undone, each with one line.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from napari_karyotype.errors import KaryotypeError

    model_path = check_model(model)
    workers = max(1, min(workers, len(todo)))
    threads = max(1, available_cores() // workers)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init,
        initargs=(threads, str(model_path), str(out_dir), pickle.dumps(options)),
    )
    try:
        futures = {pool.submit(_work, i, str(path), stem): i for i, path, stem in todo}
        for future in as_completed(futures):
            try:
                index, row = future.result()
            except BrokenProcessPool:
                index = futures[future]
                row = {"error": "a worker process died (killed or out of memory)"}
            if "fatal" in row:
                raise KaryotypeError(row["fatal"])
            yield index, row
    except BaseException:  # stopped, interrupted or fatal: end the workers, do not wait for them
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    pool.shutdown(wait=True)
