"""Shared fixtures: the public dataset in ../shared, and a quiet Keras backend."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def data_dir():
    """Folder of the 73 Hu et al. cell zips; tests that need it skip where it is absent."""
    from napari_karyotype.dataset import shared_data_dir

    path = shared_data_dir()
    if path is None:
        pytest.skip("shared dataset (../shared/data/chromosome-images) not found")
    return path


@pytest.fixture(scope="session")
def chromosomes(data_dir):
    """Every chromosome image of the shared dataset, read once per session."""
    from napari_karyotype.dataset import load_chromosomes

    return load_chromosomes([data_dir])


@pytest.fixture(scope="session")
def cells(chromosomes):
    """The shared dataset grouped by cell id."""
    from napari_karyotype.dataset import group_by_cell

    return group_by_cell(chromosomes)
