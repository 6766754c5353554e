"""napari-karyotype: segment and classify chromosomes in G-banded karyograms.

Importing the package is cheap: TensorFlow/Keras load only when a model is first used.
"""

__version__ = "0.1.0"

CLASSES = tuple([str(i) for i in range(1, 23)] + ["X", "Y"])
"""The 24 chromosome classes, in the order of the classifier's outputs."""

CLASS_SOURCES = ("auto", "cnn", "layout", "both")
"""Where chromosome classes come from. ``auto``: the layout where a chromosome's place reads
confidently, the CNN (assigned around those) elsewhere and on pages that are no arranged
karyogram; ``cnn``: the CNN; ``layout``: the layout over the CNN's; ``both``: the CNN's, checked
by the layout (disagreements flagged)."""

__all__ = ["CLASSES", "CLASS_SOURCES", "__version__"]
