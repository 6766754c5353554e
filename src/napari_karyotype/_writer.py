"""npe2 writer: the karyotype table of a Labels layer (its ``features``) as CSV."""

from __future__ import annotations

from typing import Any

import pandas as pd

from napari_karyotype.errors import KaryotypeError


def write_table(path: str, data: Any, attributes: dict) -> list[str]:
    """Write the features table of one Labels layer to ``path`` (CSV); returns ``[path]``.

    The table is what the Classify widget keeps in ``layer.features`` (napari's lookup column
    ``index`` is left out), so the file is the same as the Export widget's "Save table CSV".
    """
    from napari_karyotype.cell.export import write_table_csv

    features = attributes.get("features")
    name = attributes.get("name", "labels")
    if features is None or len(pd.DataFrame(features).columns) == 0:
        raise KaryotypeError(f"layer {name!r} has no karyotype table: classify it first")
    table = pd.DataFrame(features).drop(columns=["index"], errors="ignore")
    return [str(write_table_csv(path, table))]
