"""Bundled classifier weights and their model card (shipped as ``napari_karyotype.models``)."""
