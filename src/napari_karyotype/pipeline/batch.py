"""Many karyograms on N local worker processes, each loading the model once.

The N workers are this process and N-1 children, *spawned* (not forked: TensorFlow is not
fork-safe); each limits its BLAS, OpenMP, ONNX Runtime and TensorFlow threads to its share of
the cores (``classification.onnx_net.threads`` reads it), so N workers do not oversubscribe the
machine. Images are handed out as workers finish; results come
back in the order they finish. Only the standard library is imported here: a child sets its thread
limits before numpy or TensorFlow load.
"""

from __future__ import annotations

import os
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
"""This worker process's thread limit, and the one-line error of a model that failed to load."""

_STARTED: dict = {}
"""Children started ahead of their run (:func:`start_children`): ``(count, threads) -> pool``."""


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
    """Limit threads, then import the pipeline with those limits (once per process).

    TensorFlow is not imported: the bundled models run with ONNX Runtime; a model that needs
    Keras imports it when loaded, under the same limits."""
    if _WORKER.get("threads"):
        return
    limit_threads(threads)
    import napari_karyotype.pipeline.analyze  # noqa: F401  (numpy, scipy, scikit-image)

    _WORKER["threads"] = threads


def _init(threads: int) -> None:
    """Pool initializer: thread limits, then the pipeline's imports (in each child, first)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    prepare_process(threads)


def _ready() -> None:
    """A first task for each child: a pool starts its processes only as tasks come."""


def _work(index: int, path: str, stem: str, out_dir: str, model: str, options: dict):
    """One image in a child: ``(index, summary row)``; ``{"fatal": …}`` if the model failed.

    The model is loaded on the child's first image, once (``options``: ``analyze_one``'s)."""
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.errors import KaryotypeError
    from napari_karyotype.pipeline.analyze import analyze_one

    if ("fatal", model) in _WORKER:
        return index, {"fatal": _WORKER["fatal", model]}
    try:
        clf = load_classifier(model)  # cached: loaded once per child and model
    except KaryotypeError as err:
        _WORKER["fatal", model] = str(err)
        return index, {"fatal": str(err)}
    return index, analyze_one(path, stem, out_dir, classifier=clf, **options)


def check_model(model) -> Path:
    """The model's path, checked in the parent (exists, side-car fits) without importing Keras."""
    from napari_karyotype.classification.model import bundled_model_path, read_model_file

    path = Path(model) if model is not None else bundled_model_path()
    read_model_file(path, load_keras=False)
    return path.resolve()


_DIED = "a worker process died (killed or out of memory)"


def _start_children(count: int, threads: int):
    """A pool of ``count`` spawned processes, started now (each imports the pipeline at once)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init,
        initargs=(threads,),
    )
    for _ in range(count):
        pool.submit(_ready)
    return pool


def start_children(workers: int) -> None:
    """Start the children of a coming ``run_local`` with ``workers`` processes ahead of it, so
    their start overlaps the caller's own imports (:func:`end_children` ends them if unused);
    this process's threads get their share too, before numpy loads."""
    if workers > 1 and not _STARTED:
        threads = max(1, available_cores() // workers)
        limit_threads(threads)
        _STARTED[workers - 1, threads] = _start_children(workers - 1, threads)


def end_children() -> None:
    """End children started by :func:`start_children` that no run took."""
    while _STARTED:
        _end(_STARTED.popitem()[1])


def _end(pool) -> None:
    """End a pool's processes now, without waiting for their work (gone when this returns)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()


def _child_row(future, index: int) -> tuple[int, dict]:
    """A child's ``(index, row)``; its image failed with one line if the child died."""
    from concurrent.futures.process import BrokenProcessPool

    from napari_karyotype.errors import KaryotypeError

    try:
        index, row = future.result()
    except BrokenProcessPool:
        return index, {"error": _DIED}
    if "fatal" in row:
        raise KaryotypeError(row["fatal"])
    return index, row


def run_local(
    todo: Sequence[tuple[int, Path, str]],
    out_dir: str | Path,
    *,
    workers: int,
    model=None,
    classifier=None,
    **options,
) -> Iterator[tuple[int, dict]]:
    """Analyse ``todo`` (``(index, path, stem)``) on ``workers`` processes: this one and
    ``workers - 1`` spawned children.

    This process is a worker too (it imports the pipeline anyway): it starts the children first, so
    their start overlaps its own, then caps its threads, loads ``classifier`` (else ``model``) and
    analyses images in a thread while handing the next image to each child that finishes one.
    ``options``: ``analyze_one``'s (``rows``, ``assign``, ``classes``), the same for every image.
    Yields ``(index, summary row)`` as images finish. A model that fails to load stops the run
    with its one-line ``KaryotypeError``; a child that dies (killed, out of memory) fails the
    image it had, each with one line; fresh children take the rest where the dead ones had
    finished an image, else this process does (children that cannot start are not retried).
    """
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.pipeline.analyze import analyze_one

    model = str(check_model(model))
    workers = max(1, min(workers, len(todo)))
    threads = max(1, available_cores() // workers)
    queue = deque((i, str(path), stem) for i, path, stem in todo)
    pool, children, own = None, {}, None  # children: future -> index; own: (future, index)
    spawn, worked = workers > 1, False  # start children where there are none; they finished one
    here = ThreadPoolExecutor(1, thread_name_prefix="analyze")

    def feed() -> None:
        """One image to each idle child (starting children where there are none)."""
        nonlocal pool, worked
        if pool is None and queue and spawn:
            key = (workers - 1, threads)
            pool = _STARTED.pop(key, None) or _start_children(*key)
            end_children()  # started for more images than were left to do (--resume)
            worked = False
        while pool is not None and queue and len(children) < workers - 1:
            i, path, stem = queue.popleft()
            children[pool.submit(_work, i, path, stem, str(out_dir), model, options)] = i

    try:
        feed()  # the children start first: their imports overlap this process's
        prepare_process(threads)
        classifier = classifier if classifier is not None else load_classifier(model)
        while True:
            if own is None and queue:
                i, path, stem = queue.popleft()
                own = here.submit(analyze_one, path, stem, out_dir, classifier=classifier,
                                  **options), i  # fmt: skip
            if own is None and not children:
                break
            running = [*children, *([own[0]] if own else [])]
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            theirs = [_child_row(f, children.pop(f)) for f in [f for f in children if f in done]]
            broken = any(row.get("error") == _DIED for _, row in theirs)
            if broken:  # the pool ends all its children: collect the rest of their images
                theirs += [_child_row(f, children.pop(f)) for f in wait(list(children)).done]
            worked = worked or any(row.get("error") != _DIED for _, row in theirs)
            if broken:
                _end(pool)
                pool, spawn = None, worked  # fresh children for the rest if these had worked
            feed()
            if own is not None and own[0] in done:
                theirs.append((own[1], own[0].result()))
                own = None
            yield from theirs
    except BaseException:  # stopped, interrupted or fatal: end the children, do not wait for them
        if pool is not None:
            _end(pool)
        here.shutdown(wait=False, cancel_futures=True)
        raise
    here.shutdown(wait=True)
    if pool is not None:  # every image is in and the children idle: end them now
        _end(pool)
