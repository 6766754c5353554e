"""napari-karyotype: segment and classify chromosomes in G-banded karyograms.

Importing the package is cheap: TensorFlow/Keras load only when a model is first used.
"""

__version__ = "0.1.0"

CLASSES = tuple([str(i) for i in range(1, 23)] + ["X", "Y"])
"""The 24 chromosome classes, in the order of the classifier's outputs."""

__all__ = ["CLASSES", "__version__"]
