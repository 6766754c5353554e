"""The features table: geometry, CNN classes, per-cell assignment, verification and user edits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_karyotype import CLASSES
from napari_karyotype.cell.features import (
    COLUMNS,
    check_features,
    classify_cell,
    empty_features,
    karyotype_or_why,
    label_geometry,
    on_page,
    relabel,
    skeleton_length,
    summarize,
    sync_features,
)
from napari_karyotype.errors import KaryotypeError

CELLS = ("C171543.044", "161923.054")
"""Cells composed in these tests (46,XY and 46,XX, two cases)."""


@pytest.fixture(scope="module")
def composed(cells):
    from napari_karyotype.samples.compose import compose_karyogram

    return compose_karyogram(cells[CELLS[0]], seed=1)


def truth_table(composed) -> pd.DataFrame:
    """A features table holding the true classes of a composed karyogram."""
    geometry = label_geometry(composed.labels)
    df = empty_features(len(geometry))
    for col in ("label", "area", "length", "centroid"):
        df[col] = geometry[col].to_numpy()
    truth = [composed.classes[int(lab)] for lab in geometry["label"]]
    df["chromosome"] = truth
    df["assigned"] = truth
    df["confidence"] = 0.9
    return check_features(df)


# ------------------------------------------------------------------------------------ geometry
def test_skeleton_length_of_simple_shapes():
    bar = np.zeros((120, 40), bool)
    bar[10:110, 15:25] = True  # 100 long, 10 wide
    assert 85 <= skeleton_length(bar) <= 100
    ell = np.zeros((120, 120), bool)
    ell[10:110, 10:20] = True
    ell[100:110, 10:110] = True  # two 100 px arms
    assert 170 <= skeleton_length(ell) <= 200
    assert skeleton_length(np.zeros((5, 5), bool)) == 0.0


@pytest.mark.data
def test_label_geometry_matches_the_masks(composed):
    g = label_geometry(composed.labels)
    assert list(g.columns) == ["label", "area", "length", "centroid"]
    assert len(g) == len(composed.classes) == 46
    lab = int(g["label"].iloc[0])
    rr, cc = np.nonzero(composed.labels == lab)
    assert g["area"].iloc[0] == len(rr)
    r, c = (float(v) for v in g["centroid"].iloc[0].split(","))
    assert abs(r - rr.mean()) < 0.06 and abs(c - cc.mean()) < 0.06
    # chromosome 1 is the longest class, 21 among the shortest
    lengths = {composed.classes[int(k)]: v for k, v in zip(g["label"], g["length"], strict=True)}
    assert lengths["1"] > 2 * lengths["21"]


# ------------------------------------------------------------------------------ classification
@pytest.mark.data
def test_classify_cell_fills_the_table(composed, classifier):
    seen = []
    table, summary = classify_cell(
        composed.image, composed.labels, classifier, progress=lambda *a: seen.append(a)
    )
    assert tuple(table.columns) == COLUMNS
    assert table["label"].tolist() == sorted(composed.classes)
    assert set(table["chromosome"]) <= set(CLASSES) and set(table["second"]) <= set(CLASSES)
    assert (table["chromosome"] != table["second"]).all()
    assert ((table["confidence"] >= table["second_confidence"]) & (table["confidence"] <= 1)).all()
    assert not table["verified"].any()
    assert set(table["assigned"]) <= set(CLASSES)
    # the per-cell assignment never gives a class more than its pair plus one extra copy here
    assert table["assigned"].value_counts().max() <= 3
    assert summary.count == 46 and summary.iscn.startswith("46,")
    assert 0 < summary.mean_confidence <= 1
    assert seen and seen[-1][0] == seen[-1][1]  # progress reaches its total


@pytest.mark.data
def test_no_assign_keeps_the_cnn_class(composed, classifier):
    table, _ = classify_cell(composed.image, composed.labels, classifier, assign=False)
    assert (table["assigned"] == table["chromosome"]).all()


@pytest.mark.data
def test_reclassifying_keeps_verified_labels(composed, classifier):
    table, _ = classify_cell(composed.image, composed.labels, classifier, scale=1.0)
    first, second = (int(v) for v in table["label"].iloc[:2])
    edited = relabel(relabel(table, first, "Y"), second, "21")
    again, summary = classify_cell(
        composed.image, composed.labels, classifier, scale=1.0, verified=edited
    )
    for lab, cls in ((first, "Y"), (second, "21")):
        row = again[again["label"] == lab].iloc[0]
        assert row["assigned"] == cls and row["verified"]
        pd.testing.assert_series_equal(
            row, edited[edited["label"] == lab].iloc[0], check_names=False
        )
    assert again["verified"].sum() == 2
    # a mapping works too; unknown classes are refused
    by_map, _ = classify_cell(
        composed.image, composed.labels, classifier, scale=1.0, verified={first: "X"}
    )
    assert by_map.loc[by_map["label"] == first, "assigned"].item() == "X"
    with pytest.raises(KaryotypeError, match="unknown chromosome class"):
        classify_cell(composed.image, composed.labels, classifier, verified={first: "Z"})


@pytest.mark.data
def test_classify_cell_rejects_mismatched_input(composed, classifier):
    with pytest.raises(KaryotypeError, match="width x height"):
        classify_cell(composed.image[:-5], composed.labels, classifier)
    with pytest.raises(KaryotypeError, match="integers"):
        classify_cell(composed.image, composed.labels.astype(float), classifier)


# -------------------------------------------------------------------------------- user edits
@pytest.mark.data
def test_relabel_returns_a_new_table(composed):
    table = truth_table(composed)
    lab = int(table["label"].iloc[3])
    new = relabel(table, lab, "chrx")
    assert new.loc[new["label"] == lab, "assigned"].item() == "X"
    assert new.loc[new["label"] == lab, "verified"].item()
    assert not table["verified"].any()  # the old table is untouched (undo)
    back = relabel(new, lab, None)
    assert not back["verified"].any()
    assert back.loc[back["label"] == lab, "assigned"].item() == table["chromosome"].iloc[3]
    with pytest.raises(KaryotypeError, match="not in the features table"):
        relabel(table, 999, "1")
    with pytest.raises(KaryotypeError, match="unknown chromosome class"):
        relabel(table, lab, "25")


@pytest.mark.data
def test_sync_after_delete_split_and_merge(composed):
    table = truth_table(composed)
    a, b, c = (int(v) for v in table["label"].iloc[:3])
    table = relabel(table, b, "2")  # b verified
    labels = composed.labels.copy()
    labels[labels == a] = 0  # delete a
    rr, cc = np.nonzero(labels == c)
    top = rr < np.median(rr)
    labels[rr[top], cc[top]] = 500  # split c: its top half becomes a new label
    synced = sync_features(table, labels)
    assert a not in synced["label"].tolist()
    new = synced[synced["label"] == 500].iloc[0]
    assert new["assigned"] == "" and not new["verified"] and np.isnan(new["confidence"])
    row_c = synced[synced["label"] == c].iloc[0]
    assert row_c["area"] == (labels == c).sum() < table.loc[table["label"] == c, "area"].item()
    assert set(synced["label"]) == set(np.unique(labels)) - {0}
    # merge the verified b into c (the user paints b with c's id)
    merged = labels.copy()
    merged[merged == b] = c
    after = sync_features(synced, merged, previous_labels=labels)
    assert b not in after["label"].tolist()
    row = after[after["label"] == c].iloc[0]
    assert row["assigned"] == "2" and row["verified"]
    # summary recomputed from the edited table
    s = summarize(after)
    assert s.count == len(after) and "unclassified" in "; ".join(s.flags)


@pytest.mark.data
def test_summarize_reads_numerical_karyotypes(composed):
    table = truth_table(composed)
    s = summarize(table)
    assert (s.count, s.iscn, s.extra, s.missing) == (46, "46,XY", {}, {})
    lab_18 = int(table.loc[table["assigned"] == "18", "label"].iloc[0])
    trisomy = relabel(table, lab_18, "21")
    s = summarize(trisomy)
    assert s.iscn == "46,XY,-18,+21"
    assert s.extra == {"21": 1} and s.missing == {"18": 1}
    assert any("extra" in f for f in s.flags) and any("missing" in f for f in s.flags)


def _classified(classes) -> pd.DataFrame:
    """A features table whose chromosomes have ``classes`` (CNN and assigned)."""
    df = empty_features(len(classes))
    df["label"] = range(1, len(classes) + 1)
    df["chromosome"] = df["assigned"] = list(classes)
    df["confidence"] = 0.9
    return check_features(df)


def test_a_partial_cell_keeps_its_classes_but_claims_no_karyotype():
    from napari_karyotype._widgets.display import summary_text
    from napari_karyotype.pipeline.files import _progress_line

    s = summarize(_classified(["1", "1", "21"]))
    assert (s.count, s.iscn, s.extra, s.missing) == (3, "", {}, {})
    assert s.flags == ["partial cell: 3 chromosomes, no karyotype"]
    assert s.as_row()["iscn"] == "" and "partial cell" in s.as_row()["flags"]
    text = summary_text(s)  # what the Classify widget shows
    assert text.splitlines()[:2] == ["3 chromosomes", "partial cell: 3 chromosomes, no karyotype"]
    assert "too few copies" not in text and "," not in text.splitlines()[0]
    line = _progress_line(1, 1, "a.png", {**s.as_row(), "seconds": 0.5})  # the CLI's line
    assert "a.png: 3 chromosomes, partial cell: 3 chromosomes, no karyotype" in line
    one = summarize(_classified(["X"]))
    assert one.iscn == "" and one.flags == ["partial cell: 1 chromosome, no karyotype"]
    # a near-haploid cell (23 chromosomes) is a karyotype
    near = summarize(_classified([*CLASSES[:22], "X"]))
    assert near.iscn.startswith("23,X") and not any("partial" in f for f in near.flags)
    assert near.missing["1"] == 1


METAPHASE = (
    "page: not an arranged karyogram (3 interphase nuclei): a raw metaphase? draw the rows by hand"
)


def test_a_page_that_is_no_karyogram_claims_no_karyotype():
    """A cell read on a raw metaphase (or karyograms side by side): what the page is comes first,
    and no ISCN or copy deviation is claimed, in the widget's summary and the CLI's line alike."""
    from napari_karyotype._widgets.display import summary_text
    from napari_karyotype.pipeline.files import _progress_line

    cell = summarize(_classified([*(c for c in CLASSES[:22] for _ in "ab"), "X", "Y", "21"]))
    assert karyotype_or_why(cell) == cell.iscn == "47,XY,+21"
    assert on_page(cell, []) is cell and on_page(cell, None) is cell
    s = on_page(cell, [METAPHASE])
    assert cell.iscn == "47,XY,+21"  # the summary given is not changed
    assert (s.count, s.iscn, s.extra, s.missing) == (47, "", {}, {})
    assert s.flags[0] == METAPHASE and not any(f.startswith("extra") for f in s.flags)
    assert karyotype_or_why(s) == METAPHASE
    assert on_page(s, [METAPHASE]).flags == s.flags  # said once, however often applied
    text = summary_text(s)
    assert text.splitlines()[:2] == ["47 chromosomes", METAPHASE]
    assert text.count(METAPHASE) == 1 and "47,XY" not in text and "too many" not in text
    line = _progress_line(1, 1, "m.png", {**s.as_row(), "seconds": 0.5})
    assert f"m.png: 47 chromosomes, {METAPHASE}" in line
    partial = on_page(summarize(_classified(["1", "1", "21"])), [METAPHASE])
    assert karyotype_or_why(partial) == METAPHASE  # the page first, then "partial cell"
    assert partial.flags[1].startswith("partial cell")


def test_three_chromosomes_are_classified_without_a_karyotype(bundled_classifier):
    """The scale search and the assignment run on a partial cell; each chromosome keeps a
    class, the cell gets no ISCN string."""
    from napari_karyotype.image.io import as_karyogram
    from napari_karyotype.samples.synthetic import synthetic_karyogram

    drawn = synthetic_karyogram(seed=1)
    keep = [lab for lab, c in drawn.classes.items() if c in ("1", "7", "X")][:3]
    labels = np.where(np.isin(drawn.labels, keep), drawn.labels, 0)
    table, summary = classify_cell(as_karyogram(drawn.image).image, labels, bundled_classifier)
    assert sorted(table["label"]) == sorted(keep) and (table["assigned"] != "").all()
    assert summary.count == 3 and summary.iscn == "" and summary.scale is not None
    assert "partial cell: 3 chromosomes, no karyotype" in summary.flags


def test_check_features_refuses_broken_tables():
    with pytest.raises(KaryotypeError, match="lacks column"):
        check_features(pd.DataFrame({"label": [1]}))
    bad = empty_features(1)
    bad.loc[0, "assigned"] = "33"
    with pytest.raises(KaryotypeError, match="unknown class"):
        check_features(bad)
