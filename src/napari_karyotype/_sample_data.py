"""napari sample data: a synthetic karyogram and a karyogram composed from one Hu et al. cell.

Each provider returns layer data tuples: the karyogram as an Image layer and its truth as a Labels
layer named ``truth`` whose ``features`` hold the class of every label (``label``, ``chromosome``).
Nothing here imports napari or TensorFlow.
"""

from __future__ import annotations

import numpy as np


def _truth_features(classes: dict[int, str]):
    import pandas as pd

    ids = np.array(sorted(classes), dtype=np.int32)
    # ``index`` lets napari map a label id to its row; ``label`` is the package's column.
    return pd.DataFrame({"index": ids, "label": ids, "chromosome": [classes[int(i)] for i in ids]})


def karyogram_layers(composed, name: str, source: str) -> list[tuple]:
    """Layer data tuples (image, truth labels) of :class:`~.samples.compose.Composed`."""
    rows = [np.asarray(v, float).tolist() for _, v in composed.rows]
    image_meta = {
        "name": name,
        "colormap": "gray",
        "contrast_limits": (0, 255),
        "metadata": {"inverted": False, "source": source, "rows": rows},
    }
    truth_meta = {
        "name": "truth",
        "features": _truth_features(composed.classes),
        "opacity": 0.4,
        "visible": False,
        "metadata": {"source": source},
    }
    return [(composed.image, image_meta, "image"), (composed.labels, truth_meta, "labels")]


def synthetic_sample(seed: int = 0, sex: str = "XY") -> list[tuple]:
    """A synthetic G-banded 46,XY karyogram drawn from the ISCN ideogram, with its truth."""
    from napari_karyotype.samples.synthetic import synthetic_karyogram

    composed = synthetic_karyogram(seed=seed, sex=sex)
    return karyogram_layers(composed, "synthetic karyogram", f"synthetic seed={seed} sex={sex}")


def hu2019_sample(seed: int = 0) -> list[tuple]:
    """A karyogram composed from the chromosomes of one published Hu et al. 2019 cell.

    Uses the shared dataset if present, else downloads the pinned cell once (see
    :mod:`napari_karyotype.samples.fetch`); offline, raises a one-line :class:`KaryotypeError`.
    """
    from napari_karyotype.samples.compose import compose_karyogram
    from napari_karyotype.samples.fetch import SAMPLE_CELL, load_cell

    composed = compose_karyogram(load_cell(SAMPLE_CELL), seed=seed)
    return karyogram_layers(
        composed, f"Hu et al. 2019 cell {SAMPLE_CELL}", f"Hu et al. 2019, cell {SAMPLE_CELL}"
    )
