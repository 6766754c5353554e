"""Package hygiene a user would notice: fast import, no Qt/TensorFlow at import, clean code."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


CORE = (
    "pipeline.analyze cell.assign classification.model samples.compose datasets.chromosomes "
    "cell.export cell.features image.io cell.karyogram classification.canvas segmentation.rows "
    "classification.scale segmentation.contours segmentation.shapes samples.synthetic "
    "training.fit training.evaluation _sample_data segmentation.spread_model "
    "classification.onnx_net classification.onnx_export"
).split()


def test_import_does_not_load_tensorflow_or_qt():
    """The core and the CLI, the samples drawn, load neither TensorFlow/Keras nor napari/Qt,
    nor ONNX Runtime (imported when a model is first loaded)."""
    modules = ", ".join(f"napari_karyotype.{m}" for m in CORE)
    code = (
        f"import sys, napari_karyotype.cli, {modules};"
        "napari_karyotype.cli.build_parser();"
        "napari_karyotype._sample_data.synthetic_sample();"
        "names = ('tensorflow', 'keras', 'napari', 'PyQt6', 'qtpy', 'onnxruntime', 'onnx',"
        " 'tf2onnx');"
        "heavy = [m for m in names if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "napari_karyotype.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for name in ("segment", "train", "evaluate", "analyze", "demo"):
        assert name in out.stdout


def test_code_is_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff not installed")
    out = subprocess.run(
        [ruff, "check", "src", "tests", "benchmarks", "models"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:]


def test_wheel_ships_the_model_manifest_and_data(tmp_path):
    """A non-editable install gets the bundled model, its card, the manifest and the ideogram."""
    import zipfile

    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("napari_karyotype-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "napari_karyotype/napari.yaml",
        "napari_karyotype/models/karyotype_cnn.keras",
        "napari_karyotype/models/karyotype_cnn.json",
        "napari_karyotype/models/MODEL_CARD.md",
        "napari_karyotype/samples/data/cytoband_hg38.tsv",
    ):
        assert name in names
