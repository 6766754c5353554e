"""The label image: what segmentation hands on (one int id per chromosome, 0 = background)."""

from __future__ import annotations

import numpy as np


def label_ids(labels: np.ndarray) -> np.ndarray:
    """The non-zero label ids present, ascending."""
    ids = np.unique(labels)
    return ids[ids > 0].astype(np.int64)
