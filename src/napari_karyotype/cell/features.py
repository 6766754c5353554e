"""The per-label features table: CNN classes, per-cell assignment, user verification, geometry.

One row per label id, columns :data:`COLUMNS` (napari ``layer.features``, CSV export, ``analyze``).
``chromosome``/``second`` are the CNN's top two classes, ``assigned`` the class after per-cell
assignment (or the user's class when ``verified``); an empty string means "no class yet".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from napari_karyotype import CLASSES
from napari_karyotype.errors import KaryotypeError
from napari_karyotype.segmentation.labels import label_ids

COLUMNS = (
    "label",
    "chromosome",
    "confidence",
    "second",
    "second_confidence",
    "assigned",
    "verified",
    "area",
    "length",
    "centroid",
    "layout",
    "disagrees",
    "kind",
    "bbox-0",
    "bbox-1",
    "bbox-2",
    "bbox-3",
)
"""The features columns, in order."""

BOX_COLUMNS = ("bbox-0", "bbox-1", "bbox-2", "bbox-3")
"""The chromosome's **whole** box: min row, min col, max row, max col (end-exclusive), image
pixels. On a metaphase a crossing chromosome's box holds all of it, also the pixels the label
image gives to the other one."""

OPTIONAL_COLUMNS = {
    "layout": "",
    "disagrees": False,
    "kind": "chromosome",
    **{c: -1 for c in BOX_COLUMNS},
}
"""Columns a table may lack (older CSVs): ``layout`` is the class the arrangement gives ("" when
not read or unsure, see :mod:`.layout`), ``disagrees`` marks a CNN class that differs from it,
``kind`` is ``chromosome`` (or, in a metaphase's CSV, ``nucleus``/``debris``: left out, never
counted), the ``bbox-*`` columns the whole box (-1: not measured)."""

_DTYPES = {
    "label": "int64",
    "chromosome": object,
    "confidence": "float64",
    "second": object,
    "second_confidence": "float64",
    "assigned": object,
    "verified": "bool",
    "area": "int64",
    "length": "float64",
    "centroid": object,
    "layout": object,
    "disagrees": "bool",
    "kind": object,
    **{c: "int64" for c in BOX_COLUMNS},
}

Progress = Callable[[int, int, str], None]


# --------------------------------------------------------------------------------------- geometry
def skeleton_length(mask: np.ndarray) -> float:
    """Length in px of the longest path through the skeleton of a 2-D mask (0 for an empty mask)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra
    from skimage.morphology import skeletonize

    mask = np.asarray(mask, bool)
    if not mask.any():
        return 0.0
    sl = ndi.find_objects(mask.astype(np.uint8))[0]
    sub = np.pad(mask[sl], 1)
    sub = ndi.binary_fill_holes(sub)
    skel = skeletonize(sub)
    pts = np.argwhere(skel)
    if len(pts) <= 1:
        return float(len(pts))
    index = -np.ones(skel.shape, np.int64)
    index[tuple(pts.T)] = np.arange(len(pts))
    rows, cols, weights = [], [], []
    for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
        r2, c2 = pts[:, 0] + dr, pts[:, 1] + dc
        ok = (r2 >= 0) & (r2 < skel.shape[0]) & (c2 >= 0) & (c2 < skel.shape[1])
        j = np.full(len(pts), -1)
        j[ok] = index[r2[ok], c2[ok]]
        i = np.nonzero(j >= 0)[0]
        rows.append(i)
        cols.append(j[i])
        weights.append(np.full(len(i), np.hypot(dr, dc)))
    i, j, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(weights)
    graph = coo_matrix((w, (i, j)), shape=(len(pts), len(pts))).tocsr()
    # Longest shortest path (the diameter of the skeleton tree) by two sweeps from the far ends.
    d0 = dijkstra(graph, directed=False, indices=0)
    d0[~np.isfinite(d0)] = -1
    far = int(np.argmax(d0))
    d1 = dijkstra(graph, directed=False, indices=far)
    d1[~np.isfinite(d1)] = -1
    return float(d1.max())


def label_geometry(labels: np.ndarray, ids=None, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """``label, area, length, centroid`` of each label (of ``ids``, default all non-zero ids).

    ``known``: an earlier table with these columns; a label whose area and centroid are unchanged
    keeps its length (the skeleton is the costly part).
    """
    labels = _check_labels(labels)
    if ids is None:
        ids = label_ids(labels)
    ids = [int(i) for i in ids]
    reuse = {}
    if known is not None and len(known):
        reuse = {
            int(lab): (int(area), str(cen), float(length))
            for lab, area, cen, length in zip(
                known["label"], known["area"], known["centroid"], known["length"], strict=True
            )
        }
    slices = ndi.find_objects(labels)
    out = []
    for lab in ids:
        sl = slices[lab - 1] if 0 < lab <= len(slices) else None
        if sl is None:
            out.append((lab, 0, 0.0, ""))
            continue
        mask = labels[sl] == lab
        rr, cc = np.nonzero(mask)
        centroid = f"{rr.mean() + sl[0].start:.1f},{cc.mean() + sl[1].start:.1f}"
        area = int(len(rr))
        old = reuse.get(lab)
        if old is not None and old[0] == area and old[1] == centroid:
            length = old[2]
        else:
            length = round(skeleton_length(mask), 1)
        out.append((lab, area, length, centroid))
    return pd.DataFrame(out, columns=["label", "area", "length", "centroid"])


def label_boxes(labels: np.ndarray, ids) -> np.ndarray:
    """``(n, 4)`` end-exclusive boxes (min row, min col, max row, max col) of the labels ``ids``
    (-1 for an id not in the image)."""
    slices = ndi.find_objects(_check_labels(labels))
    out = np.full((len(ids), 4), -1, np.int64)
    for i, lab in enumerate(ids):
        sl = slices[int(lab) - 1] if 0 < int(lab) <= len(slices) else None
        if sl is not None:
            out[i] = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
    return out


def _check_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise KaryotypeError(f"labels must be a 2-D image, got {labels.ndim}-D")
    if not np.issubdtype(labels.dtype, np.integer):
        if labels.dtype == bool:
            return labels.astype(np.int32)
        raise KaryotypeError(f"labels must be integers, got {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise KaryotypeError("labels must not be negative")
    return labels


# ---------------------------------------------------------------------------------------- table
def empty_features(n: int = 0) -> pd.DataFrame:
    """A features table of ``n`` unclassified rows with the right columns and dtypes."""
    df = pd.DataFrame(
        {
            "label": np.zeros(n, np.int64),
            "chromosome": [""] * n,
            "confidence": np.full(n, np.nan),
            "second": [""] * n,
            "second_confidence": np.full(n, np.nan),
            "assigned": [""] * n,
            "verified": np.zeros(n, bool),
            "area": np.zeros(n, np.int64),
            "length": np.zeros(n, float),
            "centroid": [""] * n,
            "layout": [""] * n,
            "disagrees": np.zeros(n, bool),
            "kind": ["chromosome"] * n,
            **{c: np.full(n, -1, np.int64) for c in BOX_COLUMNS},
        }
    )
    return _typed(df)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.loc[:, list(COLUMNS)].copy()
    for col, dtype in _DTYPES.items():
        if dtype is object:
            df[col] = pd.Series(
                ["" if _missing(v) else str(v) for v in df[col]], index=df.index, dtype=object
            )
        else:
            df[col] = df[col].astype(dtype)
    return df.reset_index(drop=True)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA


def check_features(features: pd.DataFrame) -> pd.DataFrame:
    """Validate a features table (e.g. read from CSV or edited) and return it with proper dtypes."""
    if not isinstance(features, pd.DataFrame):
        raise KaryotypeError("features must be a table (pandas DataFrame)")
    missing = [c for c in COLUMNS if c not in features.columns and c not in OPTIONAL_COLUMNS]
    if missing:
        raise KaryotypeError(f"features table lacks column(s): {', '.join(missing)}")
    df = features.copy()
    for col, default in OPTIONAL_COLUMNS.items():
        if col not in df.columns:
            df[col] = default
    df["verified"] = df["verified"].map(_as_bool)
    df["disagrees"] = df["disagrees"].map(_as_bool)
    df = _typed(df)
    for col in ("chromosome", "second", "assigned", "layout"):
        bad = sorted({v for v in df[col] if v and v not in CLASSES})
        if bad:
            raise KaryotypeError(f"features column {col!r} has unknown class(es): {', '.join(bad)}")
    if df["label"].duplicated().any():
        raise KaryotypeError("features table has duplicate label ids")
    return df


def _as_bool(v) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return bool(v) if not _missing(v) else False


def verified_classes(features: pd.DataFrame | Mapping | None) -> dict[int, str]:
    """``{label: class}`` of the verified rows of a table (a mapping counts as all verified)."""
    if features is None:
        return {}
    if isinstance(features, Mapping):
        out = {}
        for lab, cls in features.items():
            cls = str(cls)
            if cls not in CLASSES:
                raise KaryotypeError(f"unknown chromosome class {cls!r} for label {lab}")
            out[int(lab)] = cls
        return out
    df = check_features(features)
    rows = df[df["verified"] & (df["assigned"] != "")]
    return dict(zip(rows["label"].astype(int), rows["assigned"], strict=True))


# ---------------------------------------------------------------------------------- summary
@dataclass
class CellSummary:
    """What a cytogeneticist reads first: count, ISCN numerical karyotype and what looks off."""

    count: int
    iscn: str
    extra: dict[str, int] = field(default_factory=dict)
    """Classes with more copies than expected: class -> number of extra copies."""
    missing: dict[str, int] = field(default_factory=dict)
    """Classes with fewer copies than expected: class -> number of missing copies."""
    mean_confidence: float = float("nan")
    flags: list[str] = field(default_factory=list)
    scale: float | None = None
    disagree: int = 0
    """Chromosomes whose CNN class differs from the class their place in the layout gives."""
    in_doubt: list[int] = field(default_factory=list)
    """Labels a reviewer should look at, least sure first: unverified chromosomes whose CNN
    class disagrees with the layout, that the layout classed against the CNN, that assignment
    moved off the CNN's top class, or whose confidence is low (:func:`doubtful_labels`)."""

    def as_row(self) -> dict:
        """One flat row (for ``summary.csv``)."""
        return {
            "count": self.count,
            "iscn": self.iscn,
            "mean_confidence": round(self.mean_confidence, 4)
            if np.isfinite(self.mean_confidence)
            else np.nan,
            "extra": " ".join(f"{c}x{n}" for c, n in self.extra.items()),
            "missing": " ".join(f"{c}x{n}" for c, n in self.missing.items()),
            "scale": np.nan if self.scale is None else round(self.scale, 3),
            "flags": "; ".join(self.flags),
            "disagree": self.disagree,
            "in_doubt": " ".join(str(v) for v in self.in_doubt),
        }


def copy_deviations(classes: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """``(extra, missing)`` copies per class against 46,XY (a Y present) or 46,XX."""
    counts = {c: 0 for c in CLASSES}
    for c in classes:
        counts[c] += 1
    base = {c: 2 for c in CLASSES[:22]}
    base.update({"X": 1, "Y": 1} if counts["Y"] else {"X": 2, "Y": 0})
    extra = {c: counts[c] - base[c] for c in CLASSES if counts[c] > base[c]}
    missing = {c: base[c] - counts[c] for c in CLASSES if counts[c] < base[c]}
    return extra, missing


LOW_CONFIDENCE = 0.5
"""Rows whose CNN confidence is below this are flagged for review."""

UNUSUAL_SCALE = 1.5
"""A size scale beyond this factor (either way) is flagged: the Hu et al. cells, imaged at one
magnification, need factors of 0.70 to 1.41 by condensation alone."""


FEWEST = 23
"""Fewer chromosomes than this are a partial cell (a few labels, a crop), not a karyotype: the
smallest human karyotypes, near-haploid leukaemias, keep 23 or more."""


def summarize(features: pd.DataFrame, scale: float | None = None) -> CellSummary:
    """Recompute the cell summary from a (possibly user-edited) features table.

    A partial cell (under :data:`FEWEST` chromosomes) keeps its classes per chromosome but gets
    no karyotype: an empty ``iscn``, no copy deviations and one flag that says so."""
    from napari_karyotype.cell import assign as _assign

    df = check_features(features)
    df = df[df["kind"] == "chromosome"]
    classes = [c for c in df["assigned"] if c]
    partial = len(df) < FEWEST
    if partial:
        iscn, extra, missing = "", {}, {}
    else:
        iscn = _assign.iscn_of(classes)
        extra, missing = copy_deviations(classes)
    unclassified = int((df["assigned"] == "").sum())
    conf = df["confidence"].to_numpy(float)
    mean_conf = float(np.nanmean(conf)) if np.isfinite(conf).any() else float("nan")
    flags = []
    if partial:
        n = len(df)
        flags.append(f"partial cell: {n} chromosome{'' if n == 1 else 's'}, no karyotype")
    elif len(df) != 46:
        flags.append(f"{len(df)} chromosomes (46 expected)")
    if unclassified:
        flags.append(f"{unclassified} unclassified")
    if extra:
        flags.append("extra: " + ", ".join(f"{c} (+{n})" for c, n in extra.items()))
    if missing:
        flags.append("missing: " + ", ".join(f"{c} (-{n})" for c, n in missing.items()))
    unverified = ~df["verified"].to_numpy(bool)
    # Classed by their place in the arrangement: the CNN's confidence is not what decided them.
    placed = ((df["layout"] != "") & (df["assigned"] == df["layout"])).to_numpy() & unverified
    low = int(((conf < LOW_CONFIDENCE) & unverified & ~placed).sum())
    if low:
        flags.append(f"{low} with confidence < {LOW_CONFIDENCE}")
    other = ((df["assigned"] != df["chromosome"]) & (df["chromosome"] != "")).to_numpy()
    changed = int((other & unverified & ~placed).sum())
    if changed:
        flags.append(f"{changed} reassigned from the CNN's top class")
    against = int((other & placed).sum())
    if against:
        flags.append(f"{against} classed by their place where the CNN's top class differs")
    if scale is not None and abs(np.log(scale)) > np.log(UNUSUAL_SCALE):
        flags.append(f"size scale {scale:.2f}")
    disagree = int((df["disagrees"] & unverified).sum())
    if disagree:
        flags.append(f"{disagree} disagree with the layout")
    doubt = doubtful_labels(df)
    if doubt:
        flags.append(f"look at {named_labels(doubt)}")
    return CellSummary(len(df), iscn, extra, missing, mean_conf, flags, scale, disagree, doubt)


NAMED = 10
"""The summary's flags name at most this many labels in doubt (``in_doubt`` keeps them all)."""


def named_labels(labels: list[int]) -> str:
    """``"label 5"`` or ``"labels 5, 9, 12"``, the first :data:`NAMED` of them and how many more."""
    shown = ", ".join(str(v) for v in labels[:NAMED])
    more = f" and {len(labels) - NAMED} more" if len(labels) > NAMED else ""
    return f"label{'s' if len(labels) > 1 else ''} {shown}{more}"


def doubtful_labels(features: pd.DataFrame) -> list[int]:
    """Labels of the unverified chromosomes a reviewer should look at, least sure first.

    In doubt: the CNN's class differs from the layout's (``disagrees``), the layout classed it
    against the CNN's top class, assignment moved it off the CNN's top class, or the CNN's
    confidence is under :data:`LOW_CONFIDENCE` (where the layout did not decide its class)."""
    df = features[(features["kind"] == "chromosome") & ~features["verified"].astype(bool)]
    conf = df["confidence"].to_numpy(float)
    placed = ((df["layout"] != "") & (df["assigned"] == df["layout"])).to_numpy()
    other = ((df["assigned"] != df["chromosome"]) & (df["chromosome"] != "")).to_numpy()
    low = np.nan_to_num(conf, nan=0.0) < LOW_CONFIDENCE
    doubt = df["disagrees"].to_numpy(bool) | other | (low & ~placed)
    order = np.argsort(np.where(np.isfinite(conf), conf, -1.0)[doubt], kind="stable")
    return [int(v) for v in df["label"].to_numpy()[doubt][order]]


NO_KARYOTYPE = ("page:", "partial cell:", "spread:")
"""Flags that say why a cell has no karyotype: a page that is not one karyogram
(``page.clean_page``'s warnings), too few chromosomes (:func:`summarize`) or a metaphase whose
cell is not complete (``cell.complete``)."""


def on_page(summary: CellSummary, warnings) -> CellSummary:
    """``summary`` of a cell on a page that ``warnings`` (``page.clean_page``) say is not one
    karyogram (a raw metaphase, karyograms side by side): the warnings first in the flags and no
    karyotype claimed (no ISCN, no copy deviations). No warnings: ``summary`` as it is."""
    warnings = [str(w) for w in warnings or ()]
    if not warnings:
        return summary
    kept = [
        f for f in summary.flags if f not in warnings and not f.startswith(("extra:", "missing:"))
    ]
    return replace(summary, iscn="", extra={}, missing={}, flags=[*warnings, *kept])


def karyotype_or_why(summary: CellSummary) -> str:
    """The one text to show for the cell's karyotype: its ISCN, else the flag that says why there
    is none (:data:`NO_KARYOTYPE`)."""
    if summary.iscn:
        return summary.iscn
    why = [f for f in summary.flags if f.startswith(NO_KARYOTYPE)]
    return why[0] if why else "no karyotype"


# ------------------------------------------------------------------------------ classification
def classify_cell(
    image: np.ndarray,
    labels: np.ndarray,
    classifier=None,
    scale: float | None = None,
    assign: bool = True,
    verified: pd.DataFrame | Mapping | None = None,
    progress: Progress | None = None,
    placed: Mapping[int, str] | None = None,
    objects: list | None = None,
) -> tuple[pd.DataFrame, CellSummary]:
    """Classify every label of one cell and assign classes over the whole cell.

    ``classifier``: a loaded classifier, a model path, or None for the bundled model.
    ``scale``: the size factor (``canvas.chromosome_canvas``); None estimates it from the
    cell's own chromosomes against the model's training statistics (:mod:`~.classification.scale`).
    ``verified``: a previous features table (its verified rows are kept exactly) or a mapping
    ``{label: class}``; verified labels are fixed, the assignment of the others takes them as given.
    ``progress(done, total, what)`` is called between steps. ``placed``: ``{label: class}`` that
    the arrangement gives (:func:`.layout.confident_classes`; ``classes="auto"``): those labels
    take that class (the ``layout`` column) and the assignment fits the CNN's classes of the
    others around them; None or empty (a metaphase) leaves the CNN's classes.
    ``objects``: a metaphase's chromosomes (``segmentation.objects.SpreadObject``, by label):
    each is classified from its own whole mask stood upright (:mod:`~.classification.upright`),
    and its whole box goes in the ``bbox-*`` columns; without them each label's pixels are
    classified as they stand (a karyogram) and the box is the label's.
    """
    from napari_karyotype.cell import assign as _assign
    from napari_karyotype.classification import scale as _scale

    labels = _check_labels(labels)
    image = np.asarray(image)
    if image.shape[:2] != labels.shape:
        raise KaryotypeError(
            f"image is {image.shape[1]} x {image.shape[0]} but labels are "
            f"{labels.shape[1]} x {labels.shape[0]} (width x height)"
        )
    fixed = verified_classes(verified)
    old = check_features(verified) if isinstance(verified, pd.DataFrame) else None
    step = _stepper(progress, 3)
    clf = _load(classifier)
    ids = label_ids(labels)
    step("measuring chromosomes")
    geometry = label_geometry(labels, ids, known=old)
    features = empty_features(len(ids))
    features["label"] = ids
    features[["area", "length", "centroid"]] = geometry[["area", "length", "centroid"]].to_numpy()
    by_label = {int(o.label): o for o in objects or ()}
    features[list(BOX_COLUMNS)] = [
        by_label[int(lab)].box if int(lab) in by_label else tuple(box)
        for lab, box in zip(ids, label_boxes(labels, ids), strict=True)
    ]
    features = _typed(features)
    if len(ids) == 0:
        step("done")
        return features, summarize(features, scale)
    fixed = {lab: cls for lab, cls in fixed.items() if lab in set(ids.tolist())}
    step("classifying")
    if by_label:
        from napari_karyotype.classification.upright import classify_upright
        from napari_karyotype.segmentation.objects import object_of_label

        index = {int(lab): i for i, lab in enumerate(ids)}
        scale, probs = classify_upright(
            image,
            [by_label.get(int(lab)) or object_of_label(labels, int(lab)) for lab in ids],
            clf,
            scale,
            fixed={index[lab]: cls for lab, cls in fixed.items()},
        )
    elif scale is None:
        index = {int(lab): i for i, lab in enumerate(ids)}
        scale, probs = _scale.cell_scale_and_probs(
            _scale.axis_lengths(labels, ids),
            clf.size_stats,
            lambda s: _probabilities(image, labels, ids, clf, s),
            fixed={index[lab]: cls for lab, cls in fixed.items()},
            tolerance=clf.scale_tolerance,
        )
    else:
        probs = _probabilities(image, labels, ids, clf, scale)
    ranked = np.argsort(-probs, axis=1)
    rows = np.arange(len(ids))
    features["chromosome"] = [CLASSES[k] for k in ranked[:, 0]]
    features["confidence"] = probs[rows, ranked[:, 0]]
    features["second"] = [CLASSES[k] for k in ranked[:, 1]]
    features["second_confidence"] = probs[rows, ranked[:, 1]]
    step("assigning classes")
    is_fixed = np.array([int(lab) in fixed for lab in ids])
    placed = {int(k): str(v) for k, v in (placed or {}).items()}
    if placed:
        features["layout"] = [placed.get(int(lab), "") for lab in ids]
    if assign:
        given = probs.copy()
        for i, lab in enumerate(ids):
            known = fixed.get(int(lab)) or placed.get(int(lab))
            if known:
                given[i] = 0.0
                given[i, CLASSES.index(known)] = 1.0
        features["assigned"] = list(_assign.assign_cell(given).classes)
    else:
        features["assigned"] = [
            placed.get(int(lab), c) for lab, c in zip(ids, features["chromosome"], strict=True)
        ]
    for i, lab in enumerate(ids):
        if is_fixed[i]:
            features.loc[i, "assigned"] = fixed[int(lab)]
            features.loc[i, "verified"] = True
            if old is not None and int(lab) in set(old["label"]):
                kept = old[old["label"] == int(lab)].iloc[0]
                if kept["verified"] and np.isclose(kept["area"], features.loc[i, "area"]):
                    features.loc[i] = kept[list(COLUMNS)].to_numpy()
    features = _typed(features)
    step("done")
    return features, summarize(features, scale)


def _probabilities(image, labels, ids, clf, scale) -> np.ndarray:
    """(len(ids), 24) class probabilities of the labels ``ids``, in that order."""
    from napari_karyotype.classification import model as _classifier

    got_ids, probs = _classifier.classify_labels(image, labels, clf, scale=scale)
    order = {int(lab): i for i, lab in enumerate(got_ids)}
    return np.asarray(probs, float)[[order[int(lab)] for lab in ids]]


def _load(classifier):
    from napari_karyotype.classification import model as _classifier

    if (
        classifier is None
        or isinstance(classifier, (str, bytes))
        or hasattr(classifier, "__fspath__")
    ):
        return _classifier.load_classifier(classifier)
    return classifier


def _stepper(progress: Progress | None, total: int):
    done = [0]

    def step(what: str) -> None:
        if progress is not None:
            progress(min(done[0], total), total, what)
        done[0] += 1

    return step


# ------------------------------------------------------------------------------- user edits
def with_left_out(features: pd.DataFrame, objects) -> pd.DataFrame:
    """The table with a row for each nucleus and debris of a metaphase (``objects``:
    ``segmentation.objects.SpreadObject``): ``kind``, whole box, area, no class. They have no
    label in the label image and :func:`summarize` never counts them."""
    left = [o for o in objects or () if o.kind != "chromosome"]
    if not left:
        return features
    extra = empty_features(len(left))
    extra["label"] = [int(o.label) for o in left]
    extra["kind"] = [o.kind for o in left]
    extra["area"] = [o.area for o in left]
    extra[list(BOX_COLUMNS)] = [tuple(o.box) for o in left]
    extra["centroid"] = [
        "{:.1f},{:.1f}".format(*(np.argwhere(o.mask).mean(0) + o.box[:2])) for o in left
    ]
    return _typed(pd.concat([check_features(features), extra], ignore_index=True))


def relabel(features: pd.DataFrame, label: int, cls: str | None) -> pd.DataFrame:
    """A new table with ``label`` set to class ``cls`` and marked verified.

    ``cls`` None or "" takes the user's class back: ``assigned`` returns to the CNN's class and
    ``verified`` to False. The input table is not changed (keep it for undo).
    """
    df = check_features(features)
    hit = np.nonzero(df["label"].to_numpy() == int(label))[0]
    if len(hit) == 0:
        raise KaryotypeError(f"label {label} is not in the features table")
    i = int(hit[0])
    if cls is None or str(cls) == "":
        df.loc[i, "assigned"] = df.loc[i, "chromosome"]
        df.loc[i, "verified"] = False
        return _typed(df)
    from napari_karyotype.datasets.chromosomes import class_name

    df.loc[i, "assigned"] = class_name(str(cls))
    df.loc[i, "verified"] = True
    return _typed(df)


def sync_features(
    features: pd.DataFrame, labels: np.ndarray, previous_labels: np.ndarray | None = None
) -> pd.DataFrame:
    """A table consistent with the label ids now in ``labels`` (after merges, splits, deletions).

    Rows of vanished ids go; new ids get unclassified rows; geometry is re-measured where a label
    changed. With ``previous_labels`` (the labels the table was made for), a label that absorbed a
    verified label (a merge) keeps that verified class when it has none of its own.
    """
    df = check_features(features)
    labels = _check_labels(labels)
    ids = label_ids(labels)
    class_cols = [
        "chromosome", "confidence", "second", "second_confidence", "assigned", "verified",
        "layout", "disagrees",
    ]  # fmt: skip
    rows = {int(r["label"]): r for r in df.to_dict("records")}
    if previous_labels is not None:
        prev = _check_labels(previous_labels)
        if prev.shape == labels.shape:
            present = set(ids.tolist())
            for lab, row in list(rows.items()):
                if lab in present or not row["verified"]:
                    continue
                taken = labels[prev == lab]
                if (taken > 0).sum() * 2 < taken.size:
                    continue  # deleted rather than merged
                heir = int(np.bincount(taken[taken > 0]).argmax())
                if not (heir in rows and rows[heir]["verified"]):
                    rows[heir] = {**row, "label": heir}  # the merged label keeps the class
    out = empty_features(len(ids)).to_dict("list")
    geometry = label_geometry(labels, ids, known=df)
    out["label"] = ids.tolist()
    for col in ("area", "length", "centroid"):
        out[col] = geometry[col].tolist()
    for i, lab in enumerate(ids.tolist()):
        row = rows.get(lab)
        if row is not None:
            for col in class_cols:
                out[col][i] = row[col]
    return _typed(pd.DataFrame(out))
