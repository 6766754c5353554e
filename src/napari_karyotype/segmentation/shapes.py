"""Shapes as napari holds them: masks and napari's Shapes CSV format.

A shape is ``(shape_type, vertices)``: ``shape_type`` in ``rectangle | polygon | ellipse`` and
``vertices`` an (N, 2) float array of (row, col) image coordinates. A napari ellipse is given by the
4 corners of its (possibly rotated) bounding box; a rectangle may be rotated too.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from napari_karyotype.errors import KaryotypeError

AREA_TYPES = ("rectangle", "polygon", "ellipse")
"""Shape types that enclose an area and can start a contour."""

CSV_COLUMNS = ["index", "shape-type", "vertex-index", "axis-0", "axis-1"]
"""Header of napari's Shapes CSV (as napari_builtins writes it for 2-D shapes)."""

Shape = tuple[str, np.ndarray]


def _vertices(shape_type: str, vertices) -> np.ndarray:
    shape_type = str(shape_type).lower()
    if shape_type in ("line", "path"):
        raise KaryotypeError(
            f"a {shape_type} encloses no area: draw a rectangle, polygon or ellipse around the "
            "chromosomes"
        )
    if shape_type not in AREA_TYPES:
        raise KaryotypeError(f"unknown shape type {shape_type!r} (use {', '.join(AREA_TYPES)})")
    v = np.asarray(vertices, dtype=float)
    if v.ndim != 2 or v.shape[1] < 2:
        raise KaryotypeError(f"{shape_type}: vertices must be an (N, 2) array of (row, col)")
    v = v[:, -2:]  # napari may carry leading (e.g. time) axes: the image plane is the last two
    if not np.isfinite(v).all():
        raise KaryotypeError(f"{shape_type}: vertices must be finite numbers")
    if len(v) < 3 and shape_type == "polygon":
        raise KaryotypeError(f"polygon with {len(v)} vertices encloses no area (needs at least 3)")
    if shape_type == "rectangle" and len(v) == 2:
        (r0, c0), (r1, c1) = v
        v = np.array([[r0, c0], [r0, c1], [r1, c1], [r1, c0]])
    if shape_type in ("rectangle", "ellipse") and len(v) != 4:
        raise KaryotypeError(f"{shape_type} needs its 4 corner vertices, got {len(v)}")
    return v


def _polygon_area(v: np.ndarray) -> float:
    r, c = v[:, 0], v[:, 1]
    return 0.5 * abs(float(np.dot(r, np.roll(c, 1)) - np.dot(c, np.roll(r, 1))))


def _ellipse_polygon(corners: np.ndarray, n: int = 90) -> np.ndarray:
    """Boundary points of the ellipse inscribed in a (possibly rotated) box given by 4 corners."""
    centre = corners.mean(axis=0)
    a = (corners[1] - corners[0]) / 2  # half of one side
    b = (corners[3] - corners[0]) / 2  # half of the other side
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)[:, None]
    return centre + np.cos(t) * a + np.sin(t) * b


def shape_polygon(shape_type: str, vertices) -> np.ndarray:
    """The polygon (N, 2) of (row, col) that a shape encloses (ellipses as 90 points)."""
    v = _vertices(shape_type, vertices)
    if str(shape_type).lower() == "ellipse":
        return _ellipse_polygon(v)
    return v


def shape_mask(shape_type: str, vertices, image_shape) -> np.ndarray:
    """Boolean mask of the pixels a shape encloses in an image of ``image_shape``.

    Lines and paths, degenerate shapes (no area) and shapes entirely outside the image raise a
    one-line :class:`KaryotypeError`; shapes partly outside are clipped to the image.
    """
    from skimage.draw import polygon as fill_polygon

    h, w = int(image_shape[0]), int(image_shape[1])
    poly = shape_polygon(shape_type, vertices)
    if _polygon_area(poly) < 1.0:
        raise KaryotypeError(f"{shape_type} has zero area: draw it around the chromosomes")
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    if hi[0] < -0.5 or hi[1] < -0.5 or lo[0] > h - 0.5 or lo[1] > w - 0.5:
        raise KaryotypeError(
            f"{shape_type} at rows {lo[0]:.0f}-{hi[0]:.0f}, columns {lo[1]:.0f}-{hi[1]:.0f} lies "
            f"entirely outside the {w} x {h} image"
        )
    mask = np.zeros((h, w), dtype=bool)
    if _axis_aligned_box(poly):
        # Fast path (the common row rectangle): the pixels whose centres lie inside or on it.
        r0, r1 = max(int(np.ceil(lo[0])), 0), min(int(np.floor(hi[0])), h - 1)
        c0, c1 = max(int(np.ceil(lo[1])), 0), min(int(np.floor(hi[1])), w - 1)
        mask[r0 : r1 + 1, c0 : c1 + 1] = True
    else:
        rr, cc = fill_polygon(poly[:, 0], poly[:, 1], shape=(h, w))
        mask[rr, cc] = True
    if not mask.any():
        raise KaryotypeError(f"{shape_type} covers no whole pixel of the image")
    return mask


def _axis_aligned_box(poly: np.ndarray) -> bool:
    """True for 4 vertices forming a rectangle with sides along the image axes."""
    if len(poly) != 4:
        return False
    rows, cols = np.unique(poly[:, 0]), np.unique(poly[:, 1])
    if len(rows) != 2 or len(cols) != 2:
        return False
    corners = {(r, c) for r in rows for c in cols}
    return {(float(r), float(c)) for r, c in poly} == {(float(r), float(c)) for r, c in corners}


def shape_bbox(shape_type: str, vertices, image_shape) -> tuple[slice, slice]:
    """The (row, col) slices of a shape's bounding box, clipped to the image."""
    poly = shape_polygon(shape_type, vertices)
    h, w = int(image_shape[0]), int(image_shape[1])
    r0 = int(np.clip(np.floor(poly[:, 0].min()), 0, h))
    r1 = int(np.clip(np.ceil(poly[:, 0].max()) + 1, 0, h))
    c0 = int(np.clip(np.floor(poly[:, 1].min()), 0, w))
    c1 = int(np.clip(np.ceil(poly[:, 1].max()) + 1, 0, w))
    return slice(r0, r1), slice(c0, c1)


def normalize_shapes(shapes: Iterable) -> list[Shape]:
    """Shapes as a list of ``(type, (N, 2) float array)``; a bare (N, 2) array is a polygon."""
    out = []
    for item in shapes:
        if isinstance(item, np.ndarray):
            out.append(("polygon", _vertices("polygon", item)))
            continue
        try:
            shape_type, vertices = item
        except (TypeError, ValueError):
            raise KaryotypeError("a shape must be (shape_type, vertices)") from None
        out.append((str(shape_type).lower(), _vertices(shape_type, vertices)))
    return out


def write_shapes_csv(path: str | Path, shapes: Iterable) -> Path:
    """Write shapes in napari's Shapes CSV format (what napari's "Save layer" writes)."""
    path = Path(path)
    shapes = normalize_shapes(shapes)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=",", quotechar='"', quoting=csv.QUOTE_MINIMAL)
        writer.writerow(CSV_COLUMNS)
        for i, (shape_type, v) in enumerate(shapes):
            for j, (r, c) in enumerate(v):
                writer.writerow([i, shape_type, j, repr(float(r)), repr(float(c))])
    return path


def read_shapes_csv(path: str | Path) -> list[Shape]:
    """Read napari's Shapes CSV (extra leading axes are dropped: the last two are row, col)."""
    path = Path(path)
    if not path.is_file():
        raise KaryotypeError(f"{path}: no such file")
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as err:
        raise KaryotypeError(
            f"{path}: not a readable CSV file ({err.__class__.__name__})"
        ) from None
    if not rows:
        raise KaryotypeError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    need = {"index", "shape-type", "vertex-index", "axis-0", "axis-1"}
    if not need.issubset(header):
        raise KaryotypeError(
            f"{path}: not a napari Shapes CSV (needs columns {', '.join(CSV_COLUMNS)})"
        )
    axes = sorted((h for h in header if h.startswith("axis-")), key=lambda h: int(h[5:]))
    i_idx, i_type, i_vert = (header.index(k) for k in ("index", "shape-type", "vertex-index"))
    i_axes = [header.index(a) for a in axes[-2:]]
    grouped: dict[int, tuple[str, list[tuple[int, float, float]]]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not x.strip() for x in row):
            continue
        try:
            idx, vert = int(float(row[i_idx])), int(float(row[i_vert]))
            r, c = float(row[i_axes[0]]), float(row[i_axes[1]])
        except (ValueError, IndexError):
            raise KaryotypeError(f"{path}: line {n} is not a valid shape vertex") from None
        shape_type = row[i_type].strip().lower()
        entry = grouped.setdefault(idx, (shape_type, []))
        entry[1].append((vert, r, c))
    if not grouped:
        raise KaryotypeError(f"{path}: no shapes in the file")
    shapes = []
    for idx in sorted(grouped):
        shape_type, verts = grouped[idx]
        verts.sort()
        shapes.append((shape_type, np.array([[r, c] for _, r, c in verts], dtype=float)))
    return shapes
