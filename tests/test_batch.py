"""``analyze --workers N``, ``--resume`` and ``--scheduler`` (a real local Dask cluster)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_karyotype.cli import main
from napari_karyotype.pipeline.files import analyze_files

STEMS = ("cell_a", "cell_b", "cell_c")
CLASSES = "both"  # a per-image option other than the default: every path must pass it on
OUTPUTS = ("_labels.tif", ".csv", "_karyogram.png")


@pytest.fixture(scope="module")
def karyograms(cells, tmp_path_factory):
    """Three karyograms composed from real cells, as PNG."""
    import imageio.v3 as iio

    from napari_karyotype.samples.compose import compose_karyogram

    folder = tmp_path_factory.mktemp("batch_in")
    chosen = ("C171543.044", "161923.054", sorted(cells)[0])
    for i, (stem, cell) in enumerate(zip(STEMS, chosen, strict=True)):
        iio.imwrite(folder / f"{stem}.png", compose_karyogram(cells[cell], seed=i).image)
    return folder


@pytest.fixture(scope="module")
def reference(karyograms, classifier, tmp_path_factory):
    """One process, one image after another: the outputs every other path must reproduce."""
    out = tmp_path_factory.mktemp("batch_ref")
    summary, failures = analyze_files(
        [karyograms], out, classifier=classifier, classes=CLASSES, log=io.StringIO()
    )
    assert not failures
    return out


def assert_same_outputs(out: Path, ref: Path, stems=STEMS) -> None:
    """Same labels, tables and summary rows (all but the time taken) as the reference."""
    for stem in stems:
        got = tifffile.imread(out / f"{stem}_labels.tif")
        assert np.array_equal(got, tifffile.imread(ref / f"{stem}_labels.tif")), stem
        pd.testing.assert_frame_equal(
            pd.read_csv(out / f"{stem}.csv"), pd.read_csv(ref / f"{stem}.csv")
        )
        assert (out / f"{stem}_karyogram.png").is_file()
    got = pd.read_csv(out / "summary.csv").drop(columns="seconds")
    want = pd.read_csv(ref / "summary.csv").drop(columns="seconds")
    got = got[got["file"].map(lambda f: Path(f).stem in stems)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_dtype=False)
    assert not list(out.glob(".*.tmp-*")), "a temporary file was left"


@pytest.mark.data
def test_workers_give_the_same_outputs_and_a_bad_file_fails_alone(
    karyograms, reference, model, tmp_path, capsys
):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00garbage")
    out = tmp_path / "out"
    files = [str(karyograms / f"{s}.png") for s in STEMS]
    code = main(["analyze", files[0], str(bad), *files[1:], "--out", str(out), "--model", model,
                 "--workers", "2", "--classes", CLASSES])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert sum("broken.tif: skipped" in line for line in err.splitlines()) == 1
    assert "Traceback" not in err
    for i in range(1, 5):  # the progress counts finished images, each once
        assert sum(line.startswith(f"[{i}/4]") for line in err.splitlines()) == 1
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["file"]) == [files[0], str(bad), *files[1:]]  # input order
    assert summary["error"].notna().tolist() == [False, True, False, False]
    assert not (out / "broken.csv").exists()
    assert_same_outputs(out, reference)


def _copies(karyograms: Path, folder: Path, extra: dict[str, str]) -> None:
    """The three karyograms in ``folder``, and ``{new stem: copied stem}``."""
    folder.mkdir()
    for stem in STEMS:
        shutil.copy(karyograms / f"{stem}.png", folder / f"{stem}.png")
    for stem, of in extra.items():
        shutil.copy(karyograms / f"{of}.png", folder / f"{stem}.png")


def _here_records(monkeypatch, gate: threading.Event | None = None) -> list[str]:
    """The stems this process analyses itself (spawned children run the real function).

    With ``gate``, each of its images after the first waits until ``gate`` is set."""
    from napari_karyotype.pipeline import analyze as analyze_module

    mine: list[str] = []
    real = analyze_module.analyze_one

    def analyze_one(path, stem, *args, **kwargs):
        if mine and gate is not None:
            assert gate.wait(300), "no child finished an image"
        mine.append(stem)
        return real(path, stem, *args, **kwargs)

    monkeypatch.setattr(analyze_module, "analyze_one", analyze_one)
    return mine


def _assert_same_as_reference(out: Path, reference: Path, stems, copies: dict[str, str]) -> None:
    for stem in stems:
        ref = reference / copies.get(stem, stem)
        labels = tifffile.imread(out / f"{stem}_labels.tif")
        assert np.array_equal(labels, tifffile.imread(f"{ref}_labels.tif")), stem
        pd.testing.assert_frame_equal(pd.read_csv(out / f"{stem}.csv"), pd.read_csv(f"{ref}.csv"))
        assert (out / f"{stem}_done.json").is_file()
    assert not list(out.glob(".*.tmp-*")), "a temporary file was left"


DIED = "a worker process died (killed or out of memory)"


@pytest.mark.data
def test_a_child_killed_at_start_fails_only_its_image(
    karyograms, reference, model, tmp_path, monkeypatch
):
    """``--workers 2`` is this process and one child: kill the child while it starts. Its image
    fails with one line; this process analyses the rest (a child that cannot start is not
    started again)."""
    import multiprocessing

    copies = {"cell_d": "cell_a"}
    _copies(karyograms, tmp_path / "in", copies)
    mine = _here_records(monkeypatch)
    out = tmp_path / "out"
    result = {}
    before = set(multiprocessing.active_children())

    def run():
        result["value"] = analyze_files(
            [tmp_path / "in"], out, model=model, classes=CLASSES, workers=2, log=io.StringIO()
        )

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not (set(multiprocessing.active_children()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = set(multiprocessing.active_children()) - before
    os.kill(child.pid, signal.SIGKILL)
    thread.join(timeout=600)
    assert not thread.is_alive()
    summary, failures = result["value"]
    assert [Path(f).stem for f in summary["file"]] == [*STEMS, "cell_d"]  # input order
    assert [error for _, error in failures] == [DIED]
    ok = [Path(f).stem for f, e in zip(summary["file"], summary["error"], strict=True) if not e]
    assert sorted(mine) == sorted(ok) and len(ok) == 3
    _assert_same_as_reference(out, reference, ok, copies)
    assert not set(multiprocessing.active_children()) - before, "a worker was left running"


@pytest.mark.data
def test_a_child_killed_after_it_worked_is_replaced(
    karyograms, reference, model, tmp_path, monkeypatch
):
    """Kill the child as soon as it has finished an image (it has its next one): that image
    fails alone and a fresh child takes an image of the rest."""
    import multiprocessing

    copies = {"cell_d": "cell_a", "cell_e": "cell_b"}
    _copies(karyograms, tmp_path / "in", copies)
    child_done = threading.Event()
    mine = _here_records(monkeypatch, gate=child_done)  # one image here before the child's
    before = set(multiprocessing.active_children())
    killed = []

    class Log(io.StringIO):
        def write(self, text):
            name = text.split("] ", 1)[-1].split(" ", 1)[-1].split(": ")[0]
            if text.startswith("[") and Path(name).stem not in mine and not killed:
                (child,) = set(multiprocessing.active_children()) - before
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)
                child_done.set()
            return super().write(text)

    out = tmp_path / "out"
    summary, failures = analyze_files(
        [tmp_path / "in"], out, model=model, classes=CLASSES, workers=2, log=Log()
    )
    assert killed, "the child never finished an image"
    assert [error for _, error in failures] == [DIED]
    ok = [Path(f).stem for f, e in zip(summary["file"], summary["error"], strict=True) if not e]
    assert len(ok) == 4 and len(mine) == 2
    assert len(set(ok) - set(mine)) == 2  # the killed child's first image and the fresh child's
    _assert_same_as_reference(out, reference, ok, copies)
    assert not set(multiprocessing.active_children()) - before, "a worker was left running"


def _stat(pid: int) -> list[str]:
    """A process's state, parent, … (``/proc/PID/stat`` after the name); [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def _children_of(pid: int) -> list[int]:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [k for k in pids if _stat(k)[1:2] == [str(pid)] and _alive(k)]


@pytest.mark.data
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs /proc")
def test_ctrl_c_ends_the_children(karyograms, model, tmp_path):
    """Ctrl-C while this process and its child analyse: status 130, one line, no process left."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "napari_karyotype.cli", "analyze", *[str(karyograms)] * 3,
         "--out", str(tmp_path / "out"), "--model", model, "--workers", "2"],
        env=_dask_env(), stderr=subprocess.PIPE, text=True,
        # a shell's background job starts with SIGINT ignored, and Python then keeps it ignored:
        # give the command the default, as a terminal does
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        for line in proc.stderr:  # the first image finished: both processes are at work
            if line.startswith("[1/9]"):
                break
        kids = _children_of(proc.pid)
        assert kids, "no child process"
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and err.strip().endswith("napari-karyotype: interrupted"), err
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [k for k in kids if _alive(k)], "a child outlived the command"


def test_a_model_that_fails_to_load_stops_workers_with_one_line(tmp_path, capsys):
    from napari_karyotype.classification.model import bundled_model_path, sidecar_path

    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip")
    side = sidecar_path(bundled_model_path())
    if side.is_file():
        shutil.copy(side, sidecar_path(bad))
    images = []
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"")
        images.append(str(tmp_path / name))
    code = main(["analyze", *images, "--out", str(tmp_path / "o"), "--model", str(bad),
                 "--workers", "2"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "broken.keras: not a readable Keras model" in err, err
    assert len(err.splitlines()) == 1, err


@pytest.mark.data
def test_resume_skips_complete_images_only(karyograms, reference, classifier, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    (out / "cell_b_done.json").unlink()  # stopped before its marker: redone
    (out / "cell_c_labels.tif").unlink()  # an output lost: redone
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("cell_a*")}
    log = io.StringIO()
    summary, failures = analyze_files(
        [karyograms], out, classifier=classifier, classes=CLASSES, resume=True, log=log
    )
    assert not failures and len(summary) == 3
    lines = log.getvalue().splitlines()
    assert lines[0] == "resuming: 1 of 3 images already analysed, skipped"
    assert [line.split("] ")[0] for line in lines[1:]] == ["[2/3", "[3/3"]
    assert "cell_a" not in log.getvalue()
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("cell_a*")} == kept
    assert_same_outputs(out, reference)
    # without --resume everything runs again
    log = io.StringIO()
    analyze_files([karyograms], out, classifier=classifier, log=log)
    assert "resuming" not in log.getvalue() and "cell_a.png" in log.getvalue()


@pytest.mark.data
def test_resume_redoes_an_output_of_another_input(karyograms, reference, classifier, tmp_path):
    """Same stem, different file: the marker names its source, so nothing is taken for done."""
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(karyograms / "cell_a.png", other / "cell_a.png")
    log = io.StringIO()
    analyze_files([other / "cell_a.png"], out, classifier=classifier, resume=True, log=log)
    assert "resuming" not in log.getvalue() and "[1/1]" in log.getvalue()


# --------------------------------------------------------------------------------- Dask
def _dask_env() -> dict:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A scheduler and two one-thread workers, real processes on 127.0.0.1 (no nanny: killing a
    worker's process kills the worker). Yields ``(address, {name: Popen})``."""
    pytest.importorskip("distributed")
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    file = folder / "scheduler.json"
    env = _dask_env()
    procs: dict[str, subprocess.Popen] = {}
    logs = []

    def start(name, module, *args):
        log = open(folder / f"{name}.log", "w")  # noqa: SIM115 - closed at teardown
        logs.append(log)
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", module, *args], env=env, stdout=log, stderr=log
        )

    try:
        start("scheduler", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
              "0", "--no-dashboard", "--scheduler-file", str(file))  # fmt: skip
        deadline = time.monotonic() + 120
        while not file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        for name in ("w0", "w1"):
            start(name, "distributed.cli.dask_worker", "--scheduler-file", str(file),
                  "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", "--no-dashboard",
                  "--name", name)  # fmt: skip
        with Client(scheduler_file=str(file), timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
        yield address, procs
    finally:
        for proc in reversed(list(procs.values())):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


@pytest.mark.data
def test_cluster_gives_the_same_results_as_one_process(
    dask_cluster, karyograms, reference, model, tmp_path, capsys
):
    address, _ = dask_cluster
    out = tmp_path / "out"
    missing = tmp_path / "missing.png"
    code = main(["analyze", str(karyograms), str(missing), "--out", str(out), "--model", model,
                 "--scheduler", address, "--classes", CLASSES])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if "missing.png" in line]) == 2  # line, list
    assert "missing.png: skipped" in err and "Traceback" not in err
    assert "3 of 4 images analysed" in err
    assert_same_outputs(out, reference)


@pytest.mark.data
def test_a_killed_worker_loses_no_image(dask_cluster, karyograms, reference, model, tmp_path):
    """Kill a worker while it analyses an image: Dask runs the task again on the other."""
    from distributed import Client

    address, procs = dask_cluster
    out = tmp_path / "out"
    result = {}

    def run():
        result["value"] = analyze_files(
            [karyograms], out, model=model, classes=CLASSES, scheduler=address, log=io.StringIO()
        )

    thread = threading.Thread(target=run)
    with Client(address, timeout="60s") as client:
        names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
        victim = next(a for a, n in names.items() if n == "w1")
        thread.start()
        deadline = time.monotonic() + 300
        while not client.processing().get(victim) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.processing().get(victim), "the worker never got an image"
        time.sleep(1.0)  # mid-task: loading the model or analysing
        os.kill(procs["w1"].pid, signal.SIGKILL)
        procs["w1"].wait()
        thread.join(timeout=600)
    assert not thread.is_alive()
    summary, failures = result["value"]
    assert not failures
    assert sorted(Path(f).stem for f in summary["file"]) == sorted(STEMS)  # each once
    assert_same_outputs(out, reference)


def test_unreachable_or_bad_scheduler_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    import dask

    image = tmp_path / "a.png"
    image.write_bytes(b"")
    for address, message in [
        ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler at tcp://127.0.0.1:1"),
        ("nonsense:/x", "nonsense:/x: not a Dask scheduler address"),
    ]:
        with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
            code = main(
                ["analyze", str(image), "--out", str(tmp_path / "o"), "--scheduler", address]
            )
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_scheduler_without_dask_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if not installed
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    code = main(["analyze", str(image), "--out", str(tmp_path / "o"), "--scheduler", "tcp://x:1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and 'pip install "napari-karyotype[distributed]"' in err
    assert len(err.splitlines()) == 1
