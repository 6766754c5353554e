"""Many karyograms on an existing Dask distributed cluster (``pip install "…[distributed]"``).

The workers read the images and write the per-image outputs themselves, so paths must be ones
they can see (a shared filesystem); the client only gathers the summary rows. Each worker
process loads the model once (``load_classifier`` caches it). A task whose worker dies is run
again by Dask on another worker; outputs are written atomically, so a retry cannot leave a
half-written file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from napari_karyotype.errors import KaryotypeError

INSTALL_HINT = 'pip install "napari-karyotype[distributed]"'


def connect(address: str):
    """A ``dask.distributed.Client`` on ``address``; one-line errors for every failure."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise KaryotypeError(f"--scheduler needs Dask distributed: {INSTALL_HINT}") from None
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    try:
        scheme, location = parse_address(address)
        if scheme not in backends:
            raise ValueError(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(location, 8786)
    except (ValueError, TypeError):
        raise KaryotypeError(
            f"{address}: not a Dask scheduler address (e.g. tcp://host:8786)"
        ) from None
    try:
        return Client(address, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise KaryotypeError(f"cannot reach the Dask scheduler at {address} ({reason})") from None


def analyze_task(path: str, stem: str, out_dir: str, model, options: dict) -> dict:
    """One image on a Dask worker: its summary row, or ``{"fatal": …}`` if the model fails."""
    from napari_karyotype.classification.model import load_classifier
    from napari_karyotype.pipeline.analyze import analyze_one
    from napari_karyotype.pipeline.batch import _WORKER, prepare_process

    if not _WORKER.get("threads"):
        try:
            from dask.distributed import get_worker

            threads = get_worker().state.nthreads
        except (ImportError, ValueError, AttributeError):
            threads = 1
        prepare_process(threads)
    try:
        clf = load_classifier(model)  # cached per process: loaded once per worker and model
    except KaryotypeError as err:
        return {"fatal": str(err)}
    return analyze_one(path, stem, out_dir, classifier=clf, **options)


def run_cluster(
    address: str,
    todo: Sequence[tuple[int, Path, str]],
    out_dir: str | Path,
    *,
    model=None,
    **options,
) -> Iterator[tuple[int, dict]]:
    """Analyse ``todo`` (``(index, path, stem)``) on the cluster at ``address``.

    Yields ``(index, summary row)`` as tasks finish. Paths go to the workers absolute; ``model``
    None means each worker's bundled model; ``options`` are ``analyze_one``'s.
    """
    client = connect(address)
    try:
        from dask.distributed import as_completed

        out = str(Path(out_dir).resolve())
        model = str(Path(model).resolve()) if model is not None else None
        run = uuid.uuid4().hex[:8]
        futures = {}
        for i, path, stem in todo:
            future = client.submit(
                analyze_task, str(Path(path).resolve()), stem, out, model, options,
                key=f"karyotype-{run}-{i}", pure=False,
            )  # fmt: skip
            futures[future] = i
        for future in as_completed(futures, loop=client.loop):
            i = futures.pop(future)
            try:
                row = future.result()
            except Exception as err:  # noqa: BLE001 - e.g. KilledWorker, a worker without the plugin
                text = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
                row = {"error": f"on the cluster: {type(err).__name__} {text}".strip()}
            future.release()
            if "fatal" in row:
                client.cancel(list(futures))
                raise KaryotypeError(row["fatal"])
            yield i, row
    finally:
        client.close()
