"""Reading the Hu et al. format, with its quirks."""

import zipfile
from pathlib import Path

import numpy as np
import pytest

from napari_karyotype.datasets.chromosomes import case_of, class_name, load_chromosomes, parse_name
from napari_karyotype.errors import KaryotypeError


def test_parse_name_handles_aliases_and_quirks():
    assert parse_name("161923.054.K.chr1.1invert_pad.gif") == ("161923.054", "1", 1, False)
    assert parse_name("x/161923.054.K.chr23.2invert_pad.gif")[1] == "X"
    assert parse_name("161923.054.K.chrx.2invert_pad.gif")[1] == "X"
    assert parse_name("161923.054.K.chry.1invert_pad.gif")[1] == "Y"
    assert parse_name("161923.054.K.chr24.1invert_pad.gif")[1] == "Y"
    assert parse_name("161945.009.K.chr5.1 invert_pad.gif") == ("161945.009", "5", 1, False)
    assert parse_name("173449.006.K.chr7.1invert_padinvert_pad.gif")[3] is True
    assert parse_name("notes.txt") is None
    assert parse_name("161923.054.K.chr25.1invert_pad.gif") is None


def test_case_is_upper_cased_prefix():
    assert case_of("c172761.003") == "C172761"
    assert case_of("173451.010") == "173451"
    assert class_name("chr23") == "X" and class_name("07") == "7"


def test_shared_dataset_counts(chromosomes):
    assert len(chromosomes) == 3357  # 3,358 files less the inverted duplicate
    assert len({c.cell for c in chromosomes}) == 73
    assert len({c.case for c in chromosomes}) == 30
    counts = {}
    for c in chromosomes:
        counts[c.cls] = counts.get(c.cls, 0) + 1
    assert counts["X"] == 128 and counts["Y"] == 19 and counts["1"] == 146
    # every image is dark-on-white: the border is background
    for c in chromosomes[:200]:
        assert c.image.shape == (220, 100)
        assert np.median(np.r_[c.image[0], c.image[-1]]) > 240


def test_folder_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(KaryotypeError, match="no chromosome images"):
        load_chromosomes([tmp_path])


def test_wrong_size_image_names_the_file(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(
        tmp_path / "A.001.K.chr1.1invert_pad.gif"
    )
    with pytest.raises(
        KaryotypeError, match=r"A\.001\.K\.chr1\.1invert_pad\.gif.*expected 100 x 220"
    ):
        load_chromosomes([tmp_path])


def test_corrupt_zip_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(KaryotypeError, match="not a readable zip"):
        load_chromosomes([bad])
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("B.001/B.001.K.chr2.1invert_pad.gif", b"GIF89a garbage")
    with pytest.raises(KaryotypeError, match="not a readable image"):
        load_chromosomes([good])


def test_a_data_argument_can_name_its_source(tmp_path):
    from napari_karyotype.datasets.chromosomes import source_and_path

    assert source_and_path("Kshema=crops/a") == ("kshema", Path("crops/a"))
    assert source_and_path("crops/a") == (None, Path("crops/a"))
    odd = tmp_path / "x=y"  # an existing path with '=' in its name stays a path
    odd.mkdir()
    assert source_and_path(str(odd)) == (None, odd)
    assert source_and_path("/abs=olute") == (None, Path("/abs=olute"))  # not a source name
