"""Segment chromosomes inside shapes (usually one rectangle per karyogram row) with active contours.

Per shape, on its bounding box only (after slow background shading is divided out):

1. A morphological active contour starts from the shape's mask (grown by a small pad of
   background, so a chromosome cut by the shape's edge still shows an outline) and shrinks onto
   the chromosomes: edge-based ``morphological_geodesic_active_contour`` on the
   ``inverse_gaussian_gradient`` (the paper's snakes; ``method="geodesic"``) or region-based
   ``morphological_chan_vese`` (``method="chan-vese"``). Thresholds are a strong prior: the edge
   map is taken of the image flattened below the background level (bands inside a chromosome do
   not stop the contour, its outline does) and the balloon never pushes inside a chromosome. The
   contour runs on a copy downsampled so that chromosomes are about 12-24 px wide, and stops
   once it no longer moves: a 46-chromosome karyogram takes a fraction of a second.
2. Each component of the pixels darker than the background (noise-aware threshold) that the
   contour holds is taken whole, with its holes filled: exact edges, pale bands and necks kept.
3. Ruled lines are taken out first, also where they touch chromosomes; the rest is judged
   against the cell's own chromosomes (:mod:`.cleanup`): debris and printed text go (size and
   thickness, ``min_size``), pieces of one broken chromosome join, lines and small ragged
   debris go by shape.
4. Chromosomes that touch are split only where the image shows two (:mod:`.split`): a light
   valley between two side-by-side dark cores giving parts of similar size, each part as wide
   as a chromosome (the pale line between sister chromatids is such a valley too, but each
   chromatid is half a chromosome wide). A bent or banded chromosome stays one.
5. Optionally (``refine=True``) each outline is refined with the parametric
   ``skimage.segmentation.active_contour``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.segmentation import cleanup
from napari_karyotype.segmentation.rows import background_level, flatten_background
from napari_karyotype.segmentation.shapes import normalize_shapes, shape_mask

METHODS = ("geodesic", "chan-vese")

COARSE_WIDTH = 12
"""The contour evolves on a copy downsampled so that chromosomes stay at least this wide (px)."""

START_REACH = 1.0
"""The contour starts this many chromosome widths around the dark pixels of its shape."""

SPLIT_DEPTH = 0.5
"""A valley between two dark cores counts as a gap between touching chromosomes when it is
lighter than this fraction of the background-to-darkest contrast below the background."""


CHECK_EVERY = 4
"""Every this many steps the contour is compared with the last check; unchanged means done."""


class _Converged(Exception):
    """Internal: the contour stopped moving."""


class SegmentationCancelled(KaryotypeError):
    """Raised when ``should_stop()`` returns True; the caller's labels are untouched."""


def _as_image(image) -> np.ndarray:
    if hasattr(image, "inverted") and hasattr(image, "image"):  # an io.Karyogram
        image = image.image
    image = np.asarray(image)
    if image.ndim != 2:
        from napari_karyotype.image.io import as_karyogram

        return as_karyogram(image).image
    if image.dtype.kind == "f" and image.size and 0 <= float(image.min()) and image.max() <= 1:
        return image.astype(np.float32, copy=False)
    from napari_karyotype.image.io import as_karyogram

    return as_karyogram(image).image


def segment(
    image,
    shapes: Sequence,
    *,
    method: str = "geodesic",
    iterations: int | None = None,
    smoothing: int = 1,
    balloon: float = -1.0,
    threshold: float | str = "auto",
    min_size: int | None = None,
    refine: bool = False,
    labels: np.ndarray | None = None,
    progress: Callable[[int, int, np.ndarray], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    downsample: int | None = None,
    sigma: float = 1.0,
    alpha: float = 100.0,
    arranged: bool = True,
) -> np.ndarray:
    """Label every chromosome inside ``shapes`` of a dark-on-light ``image``; int32 labels.

    ``image``: 2-D float in [0, 1], dark chromosomes on light (other images go through
    :func:`~.image.io.as_karyogram`). ``shapes``: ``(shape_type, (N, 2) vertices)`` pairs
    as napari holds them (rectangles, polygons, ellipses).

    ``method``: ``"geodesic"`` (edge-based, default) or ``"chan-vese"`` (region-based).
    ``iterations``: most contour steps on the downsampled copy; default enough to cross the shape
    (half its short side + 5, 20-80; 15 for Chan-Vese); it stops earlier once converged.
    ``smoothing`` (default 1), ``balloon`` (default -1: shrink) and ``threshold`` (edge-map level
    below which the balloon stops; "auto" = 0.5) are those of scikit-image's geodesic contour,
    ``alpha`` (100) and ``sigma`` (1 px) those of its ``inverse_gaussian_gradient``.
    ``min_size``: objects smaller than this many pixels are debris; default 10 % of the median
    object area found (at least 16 px). ``refine``: polish each outline with a parametric snake.
    ``labels``: existing labels; only pixels inside the shapes change, other labels keep their ids,
    new chromosomes get fresh ids. ``progress(done, total, level_set)``: called as the contours
    evolve, ``level_set`` a full-size bool image. ``should_stop()``: polled; True raises
    :class:`SegmentationCancelled` (nothing is modified). ``downsample``: factor for the contour
    (default: the typical chromosome width // 12). ``arranged``: the shapes are rows of an
    arranged karyogram (False for a raw metaphase, ``page.Page.arranged``): only there do pieces
    one above the other join as one chromosome broken across.
    """
    if method not in METHODS:
        raise KaryotypeError(f"unknown method {method!r} (use {' or '.join(METHODS)})")
    if iterations is not None and iterations < 1:
        raise KaryotypeError(f"iterations must be at least 1, got {iterations}")
    img = flatten_background(_as_image(image))
    h, w = img.shape
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != img.shape:
            raise KaryotypeError(
                f"labels are {labels.shape[1]} x {labels.shape[0]} but the image is {w} x {h}"
            )
    shapes = normalize_shapes(shapes)
    if not shapes:
        raise KaryotypeError("no shapes given: draw a rectangle around each row of chromosomes")
    masks = [shape_mask(t, v, img.shape) for t, v in shapes]
    level, noise = background_level(img)
    dark = float(np.percentile(img[:: max(h // 300, 1), :: max(w // 300, 1)], 1))
    contrast = max(level - dark, 0.05)
    t_fg = level - max(4 * noise, 0.04)
    t_faint = level - max(2 * noise, 0.02)  # on the smoothed image (see cleanup: faint ones)
    t_split = level - SPLIT_DEPTH * contrast

    plans = []
    for mask in masks:
        rows_any = np.flatnonzero(mask.any(axis=1))
        cols_any = np.flatnonzero(mask.any(axis=0))
        sl = (slice(rows_any[0], rows_any[-1] + 1), slice(cols_any[0], cols_any[-1] + 1))
        short = min(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        width = _chromosome_width(img[sl] < t_fg)
        f = downsample or max(1, int(width // COARSE_WIDTH))
        reach = int(np.ceil(START_REACH * width)) + 2 * f if width else 0
        way = min(short / 2, reach) if reach else short / 2  # what the contour must shrink
        n = iterations or int(np.clip(way / f + 5, 20, 80))
        if method == "chan-vese" and iterations is None:
            n = 15
        plans.append((mask, sl, f, n, width, reach))
    total = sum(p[3] for p in plans)
    state = {"done": 0, "finished": np.zeros(img.shape, bool) if progress else None}
    contour = _Contour(method, smoothing, balloon, threshold, sigma, alpha)
    run = _Run(state, total, progress, should_stop)

    regions = []  # per shape: (foreground, image crop, faint mask)
    for mask, sl, f, n, width, reach in plans:
        crop = img[sl]
        m = mask[sl]
        ink = (crop < t_fg) & m
        region = _evolve(crop, m, (level, level - t_fg), f, n, sl, contour, run, ink, reach)
        # The contour finds the chromosomes; the pixels darker than the background delineate
        # them: each dark component the contour holds is taken whole (pale necks and bands too).
        dark = _remove_lines(ink, width)
        dark_lab, _ = ndi.label(dark, structure=np.ones((3, 3), bool))
        held = np.unique(dark_lab[region & dark])
        fg = np.isin(dark_lab, held[held > 0])
        fg = ndi.binary_fill_holes(fg) & m
        faint = (ndi.gaussian_filter(crop, max(width / 8.0, 0.7), truncate=2.0) < t_faint) & m
        regions.append((fg, crop, faint))
        if progress is not None:
            state["finished"][sl] |= fg
            progress(state["done"], total, state["finished"].copy())
    if should_stop is not None and should_stop():
        raise SegmentationCancelled("segmentation cancelled")
    found = cleanup.chromosomes(regions, min_size, t_split, level, arranged=arranged)
    objects = [(p[1], obj) for p, objs in zip(plans, found, strict=True) for obj in objs]

    out = np.zeros(img.shape, np.int32) if labels is None else labels.astype(np.int32, copy=True)
    inside = np.zeros(img.shape, bool)
    for mask in masks:
        inside |= mask
    next_id = 1
    if labels is not None:
        out[inside] = 0
        next_id = int(labels.max(initial=0)) + 1
    if refine:
        objects = [(sl, _refine(img[sl], obj, level, level - t_fg)) for sl, obj in objects]
    # Number left to right within each row-shape (objects come shape by shape).
    first_new = next_id
    for sl, obj in objects:
        target = out[sl]
        write = obj & inside[sl]
        n_write = np.count_nonzero(write)
        if n_write == 0:
            continue
        if np.count_nonzero(target[write] >= first_new) > 0.5 * n_write:
            continue  # found already through an overlapping shape
        target[write] = next_id
        next_id += 1
    return out


@dataclass(frozen=True)
class _Contour:
    """The active contour's settings (see :func:`segment`)."""

    method: str
    smoothing: int
    balloon: float
    threshold: float | str
    sigma: float
    alpha: float


@dataclass(frozen=True)
class _Run:
    """Progress book-keeping shared by the shapes of one :func:`segment` call."""

    state: dict
    total: int
    progress: Callable | None
    should_stop: Callable[[], bool] | None


def _evolve(
    crop, m, prior_levels, f, n, sl, contour: _Contour, run: _Run, ink=None, reach: int = 0
) -> np.ndarray:
    """Run the active contour from the shape's mask on a (downsampled) copy of its bounding box.

    Outside the shape the copy holds background, and the start is the mask grown by a small pad,
    so that a chromosome cut by the shape's edge still shows an outline to stop at; with ``ink``
    (the shape's dark pixels) it starts only within ``reach`` px of them.
    Returns the contour's region at full resolution (bool, crop coordinates).
    """
    from skimage.segmentation import (
        inverse_gaussian_gradient,
        morphological_chan_vese,
        morphological_geodesic_active_contour,
    )

    level, delta = prior_levels
    method, smoothing, balloon = contour.method, contour.smoothing, contour.balloon
    threshold, sigma, alpha = contour.threshold, contour.sigma, contour.alpha
    state, total, progress, should_stop = run.state, run.total, run.progress, run.should_stop
    pad = 2 * f
    work = np.pad(np.where(m, crop, level), pad, mode="constant", constant_values=level)
    start_mask = ndi.binary_dilation(np.pad(m, pad), iterations=pad)
    if ink is not None and reach:  # start near the dark pixels: less way to shrink
        start_mask &= ndi.binary_dilation(np.pad(ink, pad), iterations=reach)
    small = _downsample(work, f)
    init = _downsample(start_mask.astype(np.float32), f) > 0.5
    start = state["done"]
    every = max(n // 8, 1)
    h, w = crop.shape

    def to_crop(level_set) -> np.ndarray:
        full = _upsample(np.asarray(level_set, bool), f, work.shape)
        return full[pad : pad + h, pad : pad + w]

    last = {"ls": None}

    def callback(level_set):
        step = min(state["done"] - start + 1, n)  # scikit-image also calls back at the start
        state["done"] = start + step
        if should_stop is not None and should_stop():
            raise SegmentationCancelled("segmentation cancelled")
        if progress is not None and step % every == 0:
            full = state["finished"].copy()
            full[sl] |= to_crop(level_set) & m
            progress(state["done"], total, full)
        if step % CHECK_EVERY == 0:
            # Converged: the contour has not moved for CHECK_EVERY steps.
            if last["ls"] is not None and np.array_equal(last["ls"], level_set):
                raise _Converged
            last["ls"] = np.array(level_set, copy=True)

    if method == "geodesic":
        # Threshold prior: edges are where the image leaves the background level; the bands
        # inside a chromosome are flattened away so that only its outline stops the contour.
        floor = level - 3.0 * delta
        prior = (np.clip(small, floor, level) - floor) / (level - floor)
        gimage = inverse_gaussian_gradient(prior, alpha=alpha, sigma=max(sigma / f, 0.5))
        stop = 0.5 if threshold == "auto" else float(threshold)
        # Inside a chromosome the balloon never pushes (just below the threshold), while the
        # outline's valley stays lower, so the contour settles on the outline.
        inside = prior < 2.0 / 3.0  # darker than the background by more than its noise
        gimage[inside] = np.minimum(gimage[inside], 0.9 * stop / max(abs(balloon), 1e-6))
        ls = _until_converged(
            lambda: morphological_geodesic_active_contour(
                gimage,
                n,
                init_level_set=init.astype(np.int8),
                smoothing=smoothing,
                threshold=stop,
                balloon=balloon,
                iter_callback=callback,
            ),
            last,
        )
    else:
        ls = _until_converged(
            lambda: morphological_chan_vese(
                small, n, init_level_set=init.astype(np.int8), smoothing=smoothing,
                iter_callback=callback,
            ),
            last,
        )  # fmt: skip
        # Take the darker phase inside the shape: chromosomes are dark.
        inner, outer = small[ls & init], small[~ls & init]
        if inner.size and outer.size and inner.mean() > outer.mean():
            ls = ~ls
        ls &= init
    state["done"] = start + n
    region = to_crop(ls)
    return region


def _until_converged(evolve: Callable[[], np.ndarray], last: dict) -> np.ndarray:
    """The level set of ``evolve()``, or the last one seen if the callback stopped it early."""
    try:
        return np.asarray(evolve(), bool)
    except _Converged:
        return np.asarray(last["ls"], bool)


def _downsample(a: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return a.astype(np.float32, copy=False)
    h, w = a.shape
    hh, ww = -(-h // f) * f, -(-w // f) * f
    pad = np.pad(a.astype(np.float32), ((0, hh - h), (0, ww - w)), mode="edge")
    return pad.reshape(hh // f, f, ww // f, f).mean(axis=(1, 3))


def _upsample(a: np.ndarray, f: int, shape) -> np.ndarray:
    if f == 1:
        return a
    return np.repeat(np.repeat(a, f, axis=0), f, axis=1)[: shape[0], : shape[1]]


def _refine(img: np.ndarray, obj: np.ndarray, level: float, delta: float) -> np.ndarray:
    """Polish one chromosome's outline with the parametric snake (``active_contour``) on the
    image flattened below the background level (so the snake finds the outline, not bands)."""
    from skimage.draw import polygon as fill_polygon
    from skimage.filters import gaussian
    from skimage.measure import find_contours
    from skimage.segmentation import active_contour

    rows = np.flatnonzero(obj.any(axis=1))
    cols = np.flatnonzero(obj.any(axis=0))
    pad = 4
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, obj.shape[0])
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, obj.shape[1])
    sub = obj[r0:r1, c0:c1]
    contours = find_contours(np.pad(sub, 1).astype(float), 0.5)
    if not contours:
        return obj
    snake = max(contours, key=len) - 1
    step = max(len(snake) // 120, 1)
    snake = snake[::step]
    floor = level - 3.0 * delta
    flat = (np.clip(img[r0:r1, c0:c1], floor, level) - floor) / (level - floor)
    smooth = gaussian(flat, sigma=1.0, preserve_range=True)
    snake = active_contour(
        smooth,
        snake,
        alpha=0.01,
        beta=0.5,
        gamma=0.01,
        w_line=0.0,
        w_edge=1.0,
        max_num_iter=30,
        boundary_condition="periodic",
    )
    out = np.zeros_like(obj)
    rr, cc = fill_polygon(snake[:, 0] + r0, snake[:, 1] + c0, shape=obj.shape)
    out[rr, cc] = True
    return out if out.sum() >= 0.5 * obj.sum() else obj


def _remove_lines(mask: np.ndarray, width: float) -> np.ndarray:
    """Drop straight thin lines (rules, frames, underlines) from a mask, also where they touch
    chromosomes: pixels in a horizontal (vertical) run of 1.5 chromosome widths or more that are
    at most a sixth of a chromosome width thick across it. Inside a chromosome nothing changes."""
    if width < 6:
        return mask
    long = int(1.5 * width)
    thick = max(2, int(width / 6))
    m = mask

    def runs(a: np.ndarray, axis: int, length: int) -> np.ndarray:
        """Pixels in a run of at least ``length`` along ``axis`` (a 1-D opening)."""
        length |= 1  # odd: centred
        eroded = ndi.minimum_filter1d(a.view(np.uint8), length, axis=axis, mode="constant")
        return ndi.maximum_filter1d(eroded, length, axis=axis, mode="constant") > 0

    lines = np.zeros(mask.shape, bool)
    for along, across in ((1, 0), (0, 1)):
        thin = runs(m, along, long) & ~runs(m, across, thick + 1)
        # A ruled line shows as many thin pixels along one image row (column), in pieces of
        # some length between the chromosomes it touches; the thin tips of a slanted
        # chromosome give only a pixel or two per row.
        pieces = runs(thin, along, 3)
        ruled = pieces.sum(axis=along, keepdims=True) >= long / 2
        lines |= thin & ruled
    if not lines.any():
        return mask
    return mask & ~ndi.binary_dilation(lines, iterations=1)


def _chromosome_width(fg: np.ndarray) -> float:
    """Typical width (px) of the objects in a foreground mask: twice their median inradius."""
    small = fg[::2, ::2]
    lab, n = ndi.label(small)
    if n == 0:
        return 0.0
    radii = ndi.maximum(
        ndi.distance_transform_edt(np.pad(small, 1))[1:-1, 1:-1], lab, np.arange(1, n + 1)
    )
    sizes = np.bincount(lab.ravel())[1:]
    radii = np.asarray(radii)[sizes >= max(8, 0.1 * sizes.max())]
    return 4.0 * float(np.median(radii)) if radii.size else 0.0
