"""Classes from the layout: the standard arrangement read from where each chromosome stands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_karyotype.cell.features import classify_cell, summarize
from napari_karyotype.cell.layout import (
    apply_layout,
    confident_classes,
    read_layout,
    read_layout_labels,
)

LAYOUT_CELLS = ("C171543.044", "161923.054", "173449.035", "162004.003", "161945.009")


def _roboflow_dir() -> Path:
    from napari_karyotype.datasets.chromosomes import shared_data_dir

    base = shared_data_dir()
    folder = None if base is None else base.parent / "real-karyograms" / "roboflow"
    if folder is None or not (folder / "classes.txt").is_file():
        pytest.skip("shared real karyograms (../shared/data/real-karyograms/roboflow) not found")
    return folder


def _roboflow_truth(txt: Path, names: list[str], shape) -> list[tuple[str, tuple]]:
    """``[(class, (top, left, bottom, right))]`` of a YOLO label file."""
    h, w = shape
    out = []
    for line in txt.read_text().splitlines():
        if line.strip():
            c, x, y, bw, bh = line.split()
            x, y, bw, bh = float(x) * w, float(y) * h, float(bw) * w, float(bh) * h
            out.append((names[int(c)], (y - bh / 2, x - bw / 2, y + bh / 2, x + bw / 2)))
    return out


def _swap(chromosomes, a: str, b: str):
    """The cell's chromosomes with classes ``a`` and ``b`` exchanged (so their places swap)."""
    from dataclasses import replace

    other = {a: b, b: a}
    return [replace(c, cls=other.get(c.cls, c.cls)) for c in chromosomes]


@pytest.mark.data
@pytest.mark.parametrize(
    "options",
    [{}, {"gap": (0, 1), "seed": 1}, {"frame": True, "scale": 0.6, "pair_gap": (12, 20)}],
)
def test_composed_karyograms_are_read_right(cells, options):
    """Composed karyograms (rows 1-5 / 6-12, X / 13-18 / 19-22, Y): every chromosome's class."""
    from napari_karyotype.samples.compose import compose_karyogram

    right = total = 0
    for cell in LAYOUT_CELLS:
        k = compose_karyogram(cells[cell], **options)
        read = read_layout_labels(k.labels)
        assert read.ok, read.message
        assert read.layout == "X after 12"
        right += sum(read.classes.get(lab) == cls for lab, cls in k.classes.items())
        total += len(k.classes)
    assert right / total >= 0.99


@pytest.mark.data
def test_trisomy_and_a_missing_chromosome(cells):
    """47,+21 is read with three 21s; a karyogram short of one chromosome 5 still reads right."""
    from napari_karyotype.samples.compose import compose_karyogram

    base = cells[LAYOUT_CELLS[0]]
    extra = next(c for c in cells[LAYOUT_CELLS[1]] if c.cls == "21")
    k = compose_karyogram([*base, extra], seed=3)
    read = read_layout_labels(k.labels)
    assert [read.classes[lab] for lab in k.classes].count("21") == 3
    assert all(read.classes[lab] == cls for lab, cls in k.classes.items())
    fives = [i for i, c in enumerate(base) if c.cls == "5"]
    k = compose_karyogram([c for i, c in enumerate(base) if i != fives[0]], seed=3)
    read = read_layout_labels(k.labels)
    assert all(read.classes[lab] == cls for lab, cls in k.classes.items())


@pytest.mark.data
def test_roboflow_positions_are_read_right():
    """The shared arranged karyograms with a box per chromosome (X, Y after 22): >= 99 % right."""
    from PIL import Image

    folder = _roboflow_dir()
    names = (folder / "classes.txt").read_text().split()
    right = total = 0
    for jpg in sorted(folder.glob("*.jpg")):
        with Image.open(jpg) as im:
            shape = im.size[::-1]
        truth = _roboflow_truth(jpg.with_suffix(".txt"), names, shape)
        read = read_layout({i + 1: box for i, (_, box) in enumerate(truth)})
        assert read.ok, f"{jpg.name}: {read.message}"
        right += sum(read.classes.get(i + 1) == cls for i, (cls, _) in enumerate(truth))
        total += len(truth)
    assert total > 2000
    assert right / total >= 0.99


@pytest.mark.data
def test_roboflow_segmented_confident_reads_are_right():
    """On today's segmentation of every third shared karyogram (labels matched to the truth
    boxes), the reads the layout calls confident are >= 99 % right and cover most chromosomes."""
    from napari_karyotype.image.io import read_karyogram
    from napari_karyotype.pipeline.analyze import resolve_rows
    from napari_karyotype.segmentation.contours import segment

    folder = _roboflow_dir()
    names = (folder / "classes.txt").read_text().split()
    n_truth = confident = right = 0
    for jpg in sorted(folder.glob("*.jpg"))[::3]:
        image = read_karyogram(jpg).image
        labels = np.asarray(segment(image, resolve_rows("auto", image)), np.int32)
        truth = _roboflow_truth(jpg.with_suffix(".txt"), names, image.shape)
        read = read_layout_labels(labels)
        n_truth += len(truth)
        area = np.bincount(labels.ravel())
        for lab in read.classes:
            if not read.confident[lab]:
                continue
            inside = [
                (labels[int(t) : int(np.ceil(b)), int(lf) : int(np.ceil(r))] == lab).sum()
                for _, (t, lf, b, r) in truth
            ]
            j = int(np.argmax(inside))
            if inside[j] > 0.5 * area[lab]:  # labels outside every box are not chromosomes
                confident += 1
                right += read.classes[lab] == truth[j][0]
    assert confident >= 0.75 * n_truth
    assert right / confident >= 0.99


def test_unreadable_layouts_say_so():
    rng = np.random.default_rng(0)
    # a raw metaphase: chromosomes scattered over the page
    scattered = {}
    for i in range(46):
        y, x = rng.uniform(0, 900, 2)
        h, w = rng.uniform(20, 80), rng.uniform(10, 20)
        scattered[i + 1] = (y, x, y + h, x + w)
    read = read_layout(scattered)
    assert not read.ok and read.message.startswith("layout not read")
    assert "\n" not in read.message
    # three rows of pairs are no karyogram arrangement
    rows3 = {}
    for r in range(3):
        for i in range(16):
            rows3[len(rows3) + 1] = (r * 200, i * 40 + (i // 2) * 30, r * 200 + 60, i * 40 + 20)
    read = read_layout(rows3)
    assert not read.ok and "3 rows" in read.message
    assert not read_layout({1: (0, 0, 10, 5)}).ok


@pytest.mark.data
def test_swapped_pair_is_flagged_with_both(cells, bundled_classifier):
    """Pairs 7 and 9 put in each other's place: with classes from both, the CNN's classes stay,
    the four misplaced chromosomes are flagged (table, summary) and nothing much else is."""
    from napari_karyotype.samples.compose import compose_karyogram

    k = compose_karyogram(_swap(cells[LAYOUT_CELLS[0]], "7", "9"), seed=2)
    image = k.image.astype(np.float32) / 255
    table, _ = classify_cell(image, k.labels, classifier=bundled_classifier)
    both, read = apply_layout(table, k.labels, "both")
    assert read.ok
    assert list(both["assigned"]) == list(table["assigned"])
    # k.classes holds each chromosome's place; what it really is, the swap undoes
    swap = {"7": "9", "9": "7"}
    misplaced = {lab for lab, cls in k.classes.items() if cls in swap}
    layout = dict(zip(both["label"], both["layout"], strict=True))
    assert all(layout[lab] == k.classes[lab] for lab in k.classes)
    flagged = set(both.loc[both["disagrees"], "label"].astype(int))
    cnn_right = {
        int(lab)
        for lab, cls in zip(table["label"], table["assigned"], strict=True)
        if cls == swap.get(k.classes[int(lab)], k.classes[int(lab)])
    }
    assert misplaced & cnn_right <= flagged
    assert len(misplaced & cnn_right) >= 3
    assert len(flagged - misplaced) <= 2
    summary = summarize(both)
    assert summary.disagree == len(flagged)
    assert f"{len(flagged)} disagree with the layout" in summary.flags
    # classes from the layout: the arrangement's classes, no flags; cnn: unchanged
    from_layout, _ = apply_layout(table, k.labels, "layout")
    assert not from_layout["disagrees"].any()
    assert all(
        from_layout.loc[from_layout["label"] == lab, "assigned"].item() == k.classes[lab]
        for lab in misplaced
    )
    same, _ = apply_layout(table, k.labels, "cnn")
    assert list(same["assigned"]) == list(table["assigned"]) and not same["layout"].any()


@pytest.mark.data
def test_layout_export_harvests_the_arrangement(cells, classifier, tmp_path):
    """Crops exported with classes='layout' carry the class of their place, and train reads them."""
    from napari_karyotype.cell.export import export_crops, read_table_csv, write_table_csv
    from napari_karyotype.datasets.chromosomes import load_chromosomes
    from napari_karyotype.samples.compose import compose_karyogram

    k = compose_karyogram(cells[LAYOUT_CELLS[2]], seed=5)
    image = k.image.astype(np.float32) / 255
    table, _ = classify_cell(image, k.labels, classifier=classifier)
    table, _ = apply_layout(table, k.labels, "both")
    written = export_crops(image, k.labels, table, tmp_path / "crops", "lab1.001", classes="layout")
    assert len(written) == (table["layout"] != "").sum() >= 44
    got = sorted(c.cls for c in load_chromosomes([tmp_path / "crops"]))
    want = sorted(k.classes[int(lab)] for lab in table.loc[table["layout"] != "", "label"])
    assert got == want
    # the columns survive a CSV round trip; older tables without them still read
    path = write_table_csv(tmp_path / "t.csv", table)
    again = read_table_csv(path)
    assert list(again["layout"]) == list(table["layout"])
    old = table.drop(columns=["layout", "disagrees"])
    old.to_csv(tmp_path / "old.csv", index=False)
    assert (read_table_csv(tmp_path / "old.csv")["layout"] == "").all()


@pytest.mark.data
def test_cli_analyze_classes_both_and_layout(cells, bundled_classifier, tmp_path, capsys):
    """``analyze --classes both`` flags the swapped pair (table, summary.csv, the log line);
    ``--classes layout`` gives the arrangement's classes; a bad choice is exit status 2."""
    import imageio.v3 as iio
    import pandas as pd

    from napari_karyotype.cli import main
    from napari_karyotype.samples.compose import compose_karyogram

    k = compose_karyogram(_swap(cells[LAYOUT_CELLS[0]], "7", "9"), seed=2)
    iio.imwrite(tmp_path / "swapped.png", k.image)
    model = str(bundled_classifier.path)
    args = ["analyze", str(tmp_path / "swapped.png"), "--model", model]
    assert main([*args, "--out", str(tmp_path / "both"), "--classes", "both"]) == 0
    assert "disagree with the layout" in capsys.readouterr().err
    table = pd.read_csv(tmp_path / "both" / "swapped.csv", dtype={"layout": str})
    flagged = table[table["disagrees"]]
    assert len(flagged) >= 3 and set(flagged["layout"]) <= {"7", "9"}
    summary = pd.read_csv(tmp_path / "both" / "summary.csv")
    assert summary["disagree"].iloc[0] == len(flagged)
    assert main([*args, "--out", str(tmp_path / "layout"), "--classes", "layout"]) == 0
    table = pd.read_csv(tmp_path / "layout" / "swapped.csv", dtype={"assigned": str})
    assert (table["assigned"] == table["layout"].astype(str)).mean() >= 0.95
    assert table["assigned"].value_counts().get("7", 0) == 2
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path / "x"), "--classes", "pairs"])
    assert exc.value.code == 2


def _arranged_boxes() -> tuple[dict[int, tuple], dict[int, str]]:
    """Boxes of a 46,XY karyogram laid out the usual way (X, Y after 22), and their classes."""
    from napari_karyotype.cell.layout import LAYOUTS, RELATIVE_LENGTH

    boxes, classes = {}, {}
    for r, row in enumerate(LAYOUTS["X after 22"]):
        base, x = 200.0 * (r + 1), 20.0
        for cls in row:
            for _ in range(1 if cls in ("X", "Y") else 2):
                h = 8 * RELATIVE_LENGTH[cls]
                boxes[len(boxes) + 1] = (base - h, x, base, x + 12)
                classes[len(classes) + 1] = cls
                x += 20
            x += 30
    return boxes, classes


def test_a_speck_or_a_piece_between_rows_leaves_the_reading_right():
    """A mark standing between two rows, or the top piece of a broken X above its row, neither
    makes a row of its own nor shifts the classes of the chromosomes around it."""
    boxes, classes = _arranged_boxes()
    read = read_layout(boxes)
    assert read.ok and all(read.classes[lab] == cls for lab, cls in classes.items())
    speck = {**boxes, 99: (548.0, 200.0, 552.0, 204.0)}
    read = read_layout(speck)
    assert read.ok, read.message
    assert all(read.classes[lab] == cls for lab, cls in classes.items())
    x = next(lab for lab, cls in classes.items() if cls == "X")
    top, left, bottom, right = boxes[x]
    broken = {**boxes, x: (top + 15, left, bottom, right), 99: (top, left, top + 13, right)}
    read = read_layout(broken)
    assert read.ok, read.message
    assert read.classes[x] == read.classes[99] == "X"
    assert all(read.classes[lab] == cls for lab, cls in classes.items())


@pytest.mark.data
def test_auto_classes_take_the_place_and_the_cnn_elsewhere(cells, bundled_classifier):
    """``classes='auto'`` (the default): on an arranged karyogram every chromosome whose place
    reads clearly gets that class (the CNN's assignment fits the rest around them); on a handful
    of chromosomes, which no arrangement reads, the classes are the CNN's."""
    from napari_karyotype.samples.compose import compose_karyogram

    k = compose_karyogram(_swap(cells[LAYOUT_CELLS[0]], "7", "9"), seed=2)
    image = k.image.astype(np.float32) / 255
    table, summary = classify_cell(
        image, k.labels, classifier=bundled_classifier, placed=confident_classes(k.labels)
    )
    assigned = dict(zip(table["label"].astype(int), table["assigned"], strict=True))
    assert sum(assigned[lab] == cls for lab, cls in k.classes.items()) >= 0.99 * len(k.classes)
    assert (table["layout"] != "").sum() >= 44
    assert summary.count == 46 and not summary.extra and not summary.missing
    few = np.where(np.isin(k.labels, list(k.classes)[:8]), k.labels, 0)
    placed = confident_classes(few)
    assert placed == {}
    auto, _ = classify_cell(image, few, classifier=bundled_classifier, placed=placed)
    cnn, _ = classify_cell(image, few, classifier=bundled_classifier)
    assert (auto["layout"] == "").all()
    assert list(auto["assigned"]) == list(cnn["assigned"])
