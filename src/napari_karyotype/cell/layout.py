"""Classes from the layout of an arranged karyogram: in a karyogram the position is the class.

Chromosomes (as bounding boxes) are grouped into rows by their vertical extents; each row, left
to right, is cut into groups and matched to the row's expected pair sequence by dynamic
programming: a cut between neighbours is cheap where their gap is wide (relative to the page's
own gaps), a group's count is cheap where it is the expected one (2, X 1-2, Y 0-1), and a
missing, single or third chromosome (45,X; 47,+21) costs a penalty. Layouts: rows 1-5 / 6-12 /
13-18 / 19-22 with X after 12 or after 22 and Y after 22, or X and Y on a fifth row.
Each chromosome's read is *confident* when every other class costs clearly more (max-marginals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from napari_karyotype import CLASS_SOURCES

BASE_ROWS: tuple[tuple[str, ...], ...] = (
    ("1", "2", "3", "4", "5"),
    ("6", "7", "8", "9", "10", "11", "12"),
    ("13", "14", "15", "16", "17", "18"),
    ("19", "20", "21", "22"),
)
"""The autosome rows of the standard arrangement."""

LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "X after 22": BASE_ROWS[:3] + (BASE_ROWS[3] + ("X", "Y"),),
    "X after 12": (BASE_ROWS[0], BASE_ROWS[1] + ("X",), BASE_ROWS[2], BASE_ROWS[3] + ("Y",)),
    "X, Y on a fifth row": BASE_ROWS + (("X", "Y"),),
}
"""The arrangements read, by name: the classes of each row, left to right."""

COUNT_COST = {
    "autosome": {2: 0.0, 1: 2.5, 3: 2.5, 0: 4.0},
    "X": {1: 0.0, 2: 0.0, 0: 3.0, 3: 2.5},
    "Y": {0: 0.0, 1: 0.0, 2: 2.5},
}
"""Cost of ``k`` chromosomes in one class's group (absent ``k``: not allowed)."""

CONFIDENT_MARGIN = 1.0
"""A chromosome's read is confident when any other class costs at least this much more."""

MAX_COST_PER_CHROMOSOME = 1.0
"""A page whose best reading costs more than this per chromosome is unreadable."""


@dataclass
class LayoutRead:
    """The classes a karyogram's arrangement gives its chromosomes."""

    classes: dict[int, str] = field(default_factory=dict)
    """label -> class (empty when the layout could not be read)."""
    confident: dict[int, bool] = field(default_factory=dict)
    """label -> whether every other class is clearly worse."""
    layout: str = ""
    """The arrangement read (a key of :data:`LAYOUTS`), "" when unreadable."""
    message: str = ""
    """One line saying why the layout could not be read ("" when read)."""
    cost: float = float("nan")

    @property
    def ok(self) -> bool:
        return bool(self.classes)


def label_boxes(labels: np.ndarray) -> dict[int, tuple[float, float, float, float]]:
    """``{label: (top, left, bottom, right)}`` of every non-zero label (bottom/right exclusive)."""
    labels = np.asarray(labels)
    out = {}
    for i, sl in enumerate(ndi.find_objects(labels.astype(np.int64, copy=False)), start=1):
        if sl is not None:
            out[i] = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
    return out


def group_rows(boxes: Mapping[int, tuple]) -> list[list[int]]:
    """Labels grouped into rows, top to bottom, each row left to right.

    Two chromosomes share a row where the middle parts of their vertical extents (the centre
    +- 30 % of the height) overlap, directly or through others; very tall boxes (noise, merged
    rows) and specks (:data:`SPECK`) do not make rows and go to the row whose
    centre is nearest.
    """
    if not boxes:
        return []
    ids = list(boxes)
    b = np.array([boxes[i] for i in ids], float)
    h = b[:, 2] - b[:, 0]
    centre = (b[:, 0] + b[:, 2]) / 2
    tall = (h > 2.5 * np.median(h)) | (h < SPECK * np.median(h))
    lo, hi = centre - 0.3 * h, centre + 0.3 * h
    order = [i for i in np.argsort(lo) if not tall[i]]
    if not order:  # nothing but specks and long lines: each its own judge
        order, tall = list(np.argsort(lo)), np.zeros_like(tall)
    rows: list[list[int]] = []
    end = -np.inf
    for i in order:
        if not rows or lo[i] > end:
            rows.append([i])
            end = hi[i]
        else:
            rows[-1].append(i)
            end = max(end, hi[i])
    if rows:
        centres = np.array([np.median(centre[r]) for r in rows])
        for i in np.flatnonzero(tall):
            rows[int(np.argmin(np.abs(centres - centre[i])))].append(i)
    return [[ids[i] for i in sorted(r, key=lambda i: (b[i, 1] + b[i, 3]) / 2)] for r in rows]


def _gaps(boxes: Mapping[int, tuple], row: list[int], width: float) -> np.ndarray:
    """Gaps between neighbours of a row (left edge minus the furthest right edge so far) / width."""
    b = np.array([boxes[i] for i in row], float)
    right = np.maximum.accumulate(b[:, 3])
    return (b[1:, 1] - right[:-1]) / width


def _gap_costs(gaps: np.ndarray) -> tuple[float, float]:
    """``(threshold, softness)`` telling gaps inside a pair from gaps between pairs on this page.

    Two means of the page's gaps (clipped to [-0.5, 6] chromosome widths): the threshold is
    their midpoint and a gap a quarter of their distance beyond it costs 1.
    """
    g = np.clip(gaps, -0.5, 6.0)
    if g.size < 2 or np.ptp(g) < 1e-6:
        return 0.5, 0.25
    t = float(np.median(g))
    for _ in range(50):
        low, high = g[g <= t], g[g > t]
        if not len(low) or not len(high):
            break
        new = (low.mean() + high.mean()) / 2
        if abs(new - t) < 1e-6:
            break
        t = float(new)
    low, high = g[g <= t], g[g > t]
    spread = (high.mean() - low.mean()) / 4 if len(low) and len(high) else 0.25
    return t, max(float(spread), 0.05)


def _kind(cls: str) -> str:
    return cls if cls in ("X", "Y") else "autosome"


def _read_row(gaps, template, t, s, size_cost=None, lead=0.0, skip=None):
    """Best cost and per-item max-marginal costs of one row against ``template``.

    ``size_cost``: (n, len(template)) cost of each item in each class (None: sizes not used).
    ``lead``: how many group pitches the row's first object stands right of the page's left edge
    (a row whose first pairs are missing starts late). ``skip``: each item's cost of being left
    out (default :data:`SKIP_COST`).
    Returns ``(cost, marg)``: ``marg[i, j]`` is the best total cost with item ``i`` in class
    ``template[j]``, ``marg[i, -1]`` with item ``i`` left out (not a chromosome of this row).
    """
    n, m = len(gaps) + 1, len(template)
    skip = np.full(n, SKIP_COST) if skip is None else skip
    inside = np.maximum(gaps - t, 0) / s  # cost of a gap inside a group
    between = np.concatenate([np.maximum(t - gaps, 0) / s, [0.0]])  # after item i, between groups
    cin = np.concatenate([[0.0], np.cumsum(inside)])
    sc = np.zeros((n, m)) if size_cost is None else size_cost
    csc = np.vstack([np.zeros((1, m)), np.cumsum(sc, axis=0)])

    def group_cost(a: int, k: int, j: int) -> float:
        costs = COUNT_COST[_kind(template[j])]
        if k not in costs:
            return np.inf
        c = costs[k]
        if k:
            c += cin[a + k - 1] - cin[a] + between[a + k - 1] + csc[a + k, j] - csc[a, j]
        return c

    def moves(i: int, j: int):
        """``(cost, next i, next j, k or -1 for a skipped item)`` out of state (i, j)."""
        if j < m:
            for k in range(0, min(3, n - i) + 1):
                c = group_cost(i, k, j)
                if i == 0 and k:
                    c += LEAD_WEIGHT * min(abs(j - lead), 1.5)
                yield c, i + k, j + 1, k
        if i < n:
            yield skip[i] + between[i], i + 1, j, -1

    fwd = np.full((n + 1, m + 1), np.inf)
    fwd[0, 0] = 0.0
    for j in range(m + 1):
        for i in range(n + 1):
            if np.isfinite(fwd[i, j]):
                for c, i2, j2, _ in moves(i, j):
                    fwd[i2, j2] = min(fwd[i2, j2], fwd[i, j] + c)
    bwd = np.full((n + 1, m + 1), np.inf)
    bwd[n, m] = 0.0
    for j in range(m, -1, -1):
        for i in range(n, -1, -1):
            for c, i2, j2, _ in moves(i, j):
                bwd[i, j] = min(bwd[i, j], c + bwd[i2, j2])
    marg = np.full((n, m + 1), np.inf)
    for j in range(m + 1):
        for i in range(n + 1):
            if not np.isfinite(fwd[i, j]):
                continue
            for c, i2, j2, k in moves(i, j):
                total = fwd[i, j] + c + bwd[i2, j2]
                col = m if k < 0 else j
                marg[i:i2, col] = np.minimum(marg[i:i2, col], total)
    return fwd[n, m], marg


RELATIVE_LENGTH = {
    **dict(
        zip(
            [str(i) for i in range(1, 23)],
            [
                8.44,
                8.02,
                6.83,
                6.30,
                6.08,
                5.90,
                5.36,
                4.93,
                4.80,
                4.59,
                4.61,
                4.66,
                3.74,
                3.56,
                3.46,
                3.36,
                3.25,
                2.93,
                2.67,
                2.56,
                1.90,
                2.04,
            ],
            strict=True,
        )
    ),
    "X": 5.12,
    "Y": 2.15,
}
"""Relative lengths of the chromosomes (% of the haploid autosome length, ISCN)."""

SIZE_SIGMA = 0.3
"""Spread (natural log) of a chromosome's size about its class's expected size on the page."""

MAX_DROPPED = 3
"""A row of at most this many objects beyond the arrangement's rows (a marker chromosome set
apart, a legend) is left out rather than making the page unreadable."""

SKIP_COST = 3.0

SPECK = 0.2
"""An object shorter than this fraction of the typical height is a speck (a mark, a piece of a
frame, a fragment): it does not make a row of its own."""

THIN = 0.35
"""An object narrower than this fraction of the typical width (or twice as tall as its area
makes it long) is more likely a line than a chromosome: leaving it out costs little."""

LEAD_WEIGHT = 1.0
"""Cost per group pitch by which the first group's place misses the row's start (a tie-breaker:
rows start at the page's left edge in most arrangements, centred rows pay a little)."""
"""Cost of leaving an object out of the arrangement (a piece of frame, a stray mark)."""


def _stacked(boxes: dict, row: list[int]) -> list[list[int]]:
    """The row's objects, pieces of one chromosome joined.

    Two objects are pieces of one chromosome where their horizontal extents overlap by more
    than 60 % of the narrower and either their vertical extents overlap by less than 30 % of the
    shorter (a chromosome cut across) or one box lies (80 %) inside the other (cut lengthwise).
    """
    items: list[list[int]] = []
    for lab in row:
        t, left, b, r = boxes[lab]
        for item in items:
            it = [boxes[x] for x in item]
            t2, l2 = min(v[0] for v in it), min(v[1] for v in it)
            b2, r2 = max(v[2] for v in it), max(v[3] for v in it)
            h_over = min(r, r2) - max(left, l2)
            v_over = min(b, b2) - max(t, t2)
            inside = max(h_over, 0) * max(v_over, 0) > 0.8 * min(
                (r - left) * (b - t), (r2 - l2) * (b2 - t2)
            )
            stacked = v_over < 0.3 * min(b - t, b2 - t2)
            if h_over > 0.6 * min(r - left, r2 - l2) and (stacked or inside):
                item.append(lab)
                break
        else:
            items.append([lab])
    return items


def read_layout(boxes: Mapping[int, tuple], sizes: Mapping[int, float] | None = None) -> LayoutRead:
    """Read the class of every chromosome from where it stands.

    ``boxes``: ``{label: (top, left, bottom, right)}`` in image coordinates (see
    :func:`label_boxes`); ``sizes``: ``{label: length}`` (default: the box height). Returns an
    unreadable :class:`LayoutRead` (with its one-line message) when the rows or groups do not fit
    any arrangement of :data:`LAYOUTS`.
    """
    boxes = {int(k): tuple(float(x) for x in v) for k, v in boxes.items()}
    if sizes is None:
        sizes = {k: v[2] - v[0] for k, v in boxes.items()}
    n = len(boxes)
    if n < 23:
        return LayoutRead(message=f"layout not read: {n} objects are too few for a karyogram")
    rows = group_rows(boxes)
    # A few objects making a row of their own (a broken chromosome's piece, a mark standing
    # between rows) may belong to the nearest row: read both ways, keep the cheaper reading.
    candidates = [[list(r) for r in rows]] + [
        _join_nearest(boxes, rows, i)
        for i in range(len(rows))
        if len(rows[i]) <= MAX_DROPPED and len(rows) > 1
    ]
    reads = [_read_rows(boxes, sizes, c) for c in candidates]
    readable = [r for r in reads if r.ok]
    return min(readable, key=lambda r: r.cost) if readable else reads[0]


def _join_nearest(boxes: Mapping[int, tuple], rows: list[list[int]], small: int) -> list[list[int]]:
    """``rows`` with row ``small``'s objects moved into the row nearest to each (by centre)."""

    def centre(lab):
        return (boxes[lab][0] + boxes[lab][2]) / 2

    rest = [list(r) for i, r in enumerate(rows) if i != small]
    mid = [np.median([centre(x) for x in r]) for r in rest]
    for lab in rows[small]:
        rest[int(np.argmin([abs(m - centre(lab)) for m in mid]))].append(lab)
    return [sorted(r, key=lambda x: (boxes[x][1] + boxes[x][3]) / 2) for r in rest]


def _read_rows(boxes, sizes, rows: list[list[int]]) -> LayoutRead:
    """:func:`read_layout` of objects already grouped into ``rows``."""
    n = len(boxes)
    dropped = []
    while len(rows) > max(len(v) for v in LAYOUTS.values()) or (
        len(rows) not in {len(v) for v in LAYOUTS.values()} and min(map(len, rows)) <= MAX_DROPPED
    ):
        smallest = min(range(len(rows)), key=lambda i: len(rows[i]))
        if len(rows[smallest]) > MAX_DROPPED:
            break
        dropped += rows.pop(smallest)
    items = [_stacked(boxes, r) for r in rows]
    merged = {}
    for row in items:
        for item in row:
            bs = [boxes[x] for x in item]
            merged[item[0]] = (
                min(v[0] for v in bs), min(v[1] for v in bs),
                max(v[2] for v in bs), max(v[3] for v in bs),
            )  # fmt: skip
    size = {item[0]: sum(max(sizes[x], 1e-3) for x in item) for row in items for item in row}
    heads = [[item[0] for item in row] for row in items]
    widths = np.array([v[3] - v[1] for v in merged.values()], float)
    width = max(float(np.median(widths)), 1.0)
    # Lines (frames, rulers) are narrow, or much taller than their ink makes them long.
    thin = {
        x: (v[3] - v[1]) < THIN * width or (v[2] - v[0]) > 2 * size[x] for x, v in merged.items()
    }
    gaps = [_gaps(merged, r, width) for r in heads]
    t, s = _gap_costs(np.concatenate(gaps) if gaps else np.zeros(0))
    templates = {k: v for k, v in LAYOUTS.items() if len(v) == len(rows)}
    if not templates:
        return LayoutRead(
            message=f"layout not read: {len(rows)} rows of chromosomes (4 or 5 expected)"
        )

    starts = [merged[r[0]][1] for r in heads]
    ends = [merged[r[-1]][3] for r in heads]

    def best_reading(scale):
        best = None
        for name, template in templates.items():
            total, margins = 0.0, []
            pitch = np.median(
                [(e - b) / len(tm) for b, e, tm in zip(starts, ends, template, strict=True)]
            )
            for r, g, tmpl, start in zip(heads, gaps, template, starts, strict=True):
                lead = (start - min(starts)) / max(pitch, 1.0)
                cost_sz = None
                if scale is not None:
                    logs = np.log([size[x] for x in r])[:, None]
                    expect = np.log([RELATIVE_LENGTH[c] for c in tmpl])[None, :] + scale
                    cost_sz = 0.5 * ((logs - expect) / SIZE_SIGMA) ** 2
                skip = np.array([0.5 if thin[x] else SKIP_COST for x in r])
                cost, marg = _read_row(g, tmpl, t, s, cost_sz, lead, skip)
                total += cost
                margins.append(marg)
            if best is None or total < best[0]:
                best = (total, name, margins)
        return best

    def classes_of(reading):
        out = {}
        for r, tmpl, marg in zip(heads, LAYOUTS[reading[1]], reading[2], strict=True):
            for i, lab in enumerate(r):
                j = int(np.argmin(marg[i]))
                if j < len(tmpl):
                    out[lab] = tmpl[j]
        return out

    first = best_reading(None)
    if not np.isfinite(first[0]):
        return LayoutRead(message="layout not read: the rows do not split into the expected pairs")
    got = classes_of(first)
    scale = float(np.median([np.log(size[x]) - np.log(RELATIVE_LENGTH[c]) for x, c in got.items()]))
    total, name, margins = best_reading(scale)
    if not np.isfinite(total) or total > MAX_COST_PER_CHROMOSOME * n:
        return LayoutRead(
            message="layout not read: the rows do not split into the expected pairs", cost=total
        )
    classes, confident = {}, {}
    for row, tmpl, marg in zip(items, LAYOUTS[name], margins, strict=True):
        for i, item in enumerate(row):
            order = np.argsort(marg[i])
            if order[0] == len(tmpl):
                continue  # left out: not a chromosome of the arrangement
            sure = bool(marg[i, order[1]] - marg[i, order[0]] >= CONFIDENT_MARGIN)
            for lab in item:
                classes[lab] = tmpl[order[0]]
                confident[lab] = sure
    return LayoutRead(classes, confident, name, "", float(total))


def read_layout_labels(labels: np.ndarray) -> LayoutRead:
    """:func:`read_layout` of a label image (one label per chromosome; sizes from the areas)."""
    labels = np.asarray(labels)
    boxes = label_boxes(labels)
    if not boxes:
        return LayoutRead(message="layout not read: no chromosomes")
    area = np.bincount(labels.ravel().astype(np.int64))
    # The area over the typical width: a length that a bent chromosome or a thin line keeps honest.
    ratio = np.median([area[k] / max(v[2] - v[0], 1) for k, v in boxes.items()])
    return read_layout(boxes, {k: area[k] / ratio for k in boxes})


def confident_classes(labels: np.ndarray) -> dict[int, str]:
    """``{label: class}`` of the chromosomes whose place in the arrangement reads confidently.

    Empty where the labels do not stand as an arranged karyogram (a metaphase, a partial cell).
    """
    read = read_layout_labels(labels)
    return {lab: cls for lab, cls in read.classes.items() if read.confident.get(lab)}


def apply_layout(features, labels: np.ndarray, classes: str = "layout"):
    """A features table with the layout's classes; returns ``(table, LayoutRead)``.

    The ``layout`` column gets the class each confident read gives ("" elsewhere). ``classes``:
    ``"layout"`` makes it the ``assigned`` class (unsure reads and verified rows keep theirs);
    ``"both"`` keeps the CNN's ``assigned`` class and sets ``disagrees`` where the two differ;
    ``"cnn"`` returns the table unchanged. An unreadable layout leaves the CNN's classes (the
    read's ``message`` says why).
    """
    from napari_karyotype.cell.features import check_features

    if classes not in CLASS_SOURCES:
        raise ValueError(f"classes must be one of {', '.join(CLASS_SOURCES)}, got {classes!r}")
    df = check_features(features)
    if classes in ("cnn", "auto"):  # auto: read while classifying (features.classify_cell)
        return df, LayoutRead(message=f"layout not read afterwards ({classes} classes chosen)")
    read = read_layout_labels(labels)
    layout = [
        read.classes.get(int(lab), "") if read.confident.get(int(lab)) else ""
        for lab in df["label"]
    ]
    df["layout"] = layout
    has = (df["layout"] != "").to_numpy()
    verified = df["verified"].to_numpy(bool)
    if classes == "layout":
        take = has & ~verified
        df.loc[take, "assigned"] = df.loc[take, "layout"]
        df["disagrees"] = False
    else:
        df["disagrees"] = has & (df["assigned"] != df["layout"]).to_numpy()
    return check_features(df), read
