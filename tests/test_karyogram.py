"""Arranging a classified cell as a standard karyogram image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_karyotype.cell.features import relabel
from napari_karyotype.cell.karyogram import arrange_karyogram, save_karyogram
from napari_karyotype.errors import KaryotypeError
from test_features import CELLS, truth_table


@pytest.fixture(scope="module")
def composed(cells):
    from napari_karyotype.samples.compose import compose_karyogram

    return compose_karyogram(cells[CELLS[0]], seed=2, numbers=False)


def ink_bands(image: np.ndarray) -> list[tuple[int, int]]:
    """(top, bottom) of each horizontal band of image rows that hold ink."""
    ink = (image < 200).any(axis=1)
    lab, n = ndi.label(ink)
    return [tuple(np.flatnonzero(lab == i)[[0, -1]]) for i in range(1, n + 1)]


@pytest.mark.data
def test_arranged_in_standard_rows_with_names(composed):
    table = truth_table(composed)
    out = arrange_karyogram(composed.image, composed.labels, table)
    assert out.dtype == np.uint8 and out.ndim == 2
    assert (out[:5] == 255).all() and (out[:, :5] == 255).all()  # white margin
    # every chromosome pixel is placed once: the ink equals that of the cell (names add a little)
    dark = lambda a: int((a < 128).sum())  # noqa: E731
    cell_dark = dark(np.where(composed.labels > 0, composed.image, 255))
    assert cell_dark <= dark(out) <= cell_dark * 1.1
    # four rows of chromosomes, each followed by a band of class names
    bands = ink_bands(out)
    heights = [b - a + 1 for a, b in bands]
    assert len(bands) == 8
    assert all(h == 14 for h in heights[1::2])  # the 7-dot font at 2 px per dot
    # chromosome 1 is tallest: it sits in the first row; 21/22 in the last (shortest) row
    assert heights[0] > heights[6]


@pytest.mark.data
def test_unassigned_go_to_an_extra_row(composed):
    table = truth_table(composed)
    table.loc[table.index[:3], "assigned"] = ""
    table.loc[table.index[:3], "chromosome"] = ""
    out = arrange_karyogram(composed.image, composed.labels, table)
    assert len(ink_bands(out)) == 9  # 4 rows + names, then the unassigned row (no name)


@pytest.mark.data
def test_extra_copy_sits_with_its_pair(composed):
    table = truth_table(composed)
    lab = int(table.loc[table["assigned"] == "18", "label"].iloc[0])
    plain = arrange_karyogram(composed.image, composed.labels, table)
    moved = arrange_karyogram(composed.image, composed.labels, relabel(table, lab, "21"))

    def ink_cols(image, band):  # columns with ink in the band of chromosome row ``band``
        top, bottom = ink_bands(image)[2 * band]
        return int((image[top : bottom + 1] < 200).any(axis=0).sum())

    # the 18 now stands as a third 21 in the last row: row 3 narrows, row 4 widens
    assert ink_cols(moved, 2) < ink_cols(plain, 2)
    assert ink_cols(moved, 3) > ink_cols(plain, 3)


@pytest.mark.data
def test_save_png_round_trip(composed, tmp_path):
    import imageio.v3 as iio

    out = arrange_karyogram(composed.image, composed.labels, truth_table(composed))
    path = save_karyogram(tmp_path / "k.png", out)
    assert np.array_equal(iio.imread(path), out)
    with pytest.raises(KaryotypeError, match="cannot write"):
        save_karyogram(tmp_path / "missing" / "k.png", out)
    with pytest.raises(KaryotypeError, match="differ in size"):
        arrange_karyogram(composed.image[:-1], composed.labels, truth_table(composed))
