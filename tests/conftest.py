"""Shared fixtures: the public dataset in ../shared, and a quiet Keras backend."""

from __future__ import annotations

import atexit
import os
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def data_dir():
    """Folder of the 73 Hu et al. cell zips; tests that need it skip where it is absent."""
    from napari_karyotype.datasets.chromosomes import shared_data_dir

    path = shared_data_dir()
    if path is None:
        pytest.skip("shared dataset (../shared/data/chromosome-images) not found")
    return path


@pytest.fixture(scope="session")
def chromosomes(data_dir):
    """Every chromosome image of the shared dataset, read once per session."""
    from napari_karyotype.datasets.chromosomes import load_chromosomes

    return load_chromosomes([data_dir])


@pytest.fixture(scope="session")
def cells(chromosomes):
    """The shared dataset grouped by cell id."""
    from napari_karyotype.datasets.chromosomes import group_by_cell

    return group_by_cell(chromosomes)


@pytest.fixture(scope="session")
def classifier(cells, tmp_path_factory):
    """The bundled classifier; where it has not landed, a small model trained here (seconds).

    The small model is a real Keras CNN trained by ``training.train`` on two cells for two epochs:
    its classes are mostly wrong, which the plumbing tests that use it do not depend on.
    """
    from napari_karyotype.classification.model import bundled_model_path, load_classifier

    if bundled_model_path().is_file():
        return load_classifier()
    from napari_karyotype.training.fit import train

    chosen = [c for cell in ("C171543.044", "161923.054") for c in cells[cell]]
    out = tmp_path_factory.mktemp("model") / "small.keras"
    train(chosen, out, epochs=2, val_cases=[], seed=0, log=lambda _: None)
    return load_classifier(out)


@pytest.fixture(scope="session")
def model(classifier):
    """Path of the classifier used (the bundled one where it is there), for CLI arguments."""
    return str(classifier.path)


@pytest.fixture(scope="session")
def bundled_classifier():
    """The bundled classifier; tests that need its accuracy skip where it has not landed."""
    from napari_karyotype.classification.model import bundled_model_path, load_classifier

    if not bundled_model_path().is_file():
        pytest.skip("the bundled model (models/karyotype_cnn.keras) is not there")
    return load_classifier()


def pytest_sessionfinish(session, exitstatus):
    """Leave with pytest's status before C++ static destructors run.

    With a napari canvas on Mesa (which loads libLLVM) and TensorFlow (which bundles its own LLVM)
    in one process, LLVM's static destructors free each other's memory at exit and the run aborts
    with "free(): invalid pointer" (status 134) after every test passed. atexit handlers run before
    those destructors; registered last, this one runs first.
    """

    def leave():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(exitstatus))

    atexit.register(leave)


@pytest.fixture
def notes(monkeypatch):
    """The notifications the widgets show during one test."""
    import test_widgets_helpers as helpers

    return helpers.capture_notifications(monkeypatch)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A saved tiny model file: the user's own model in the Classify widget."""
    import test_widgets_helpers as helpers

    return helpers.save_tiny_model(tmp_path_factory.mktemp("model") / "tiny.keras")
