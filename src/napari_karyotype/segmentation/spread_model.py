"""The learned metaphase segmenter: load it, run it on a spread, read its maps into objects.

The network (trained by ``training.spread_fit`` on labelled metaphases) gives, in the segmenter's
frame (:mod:`.spread`), the chance of each pixel being chromosome (not nucleus or debris), a
heatmap of chromosome centres and each chromosome's box size. :func:`find_objects` reads them:

1. the **chromosome pixels** (chance over one half, at the image's own resolution) fall into
   parts; a part with no centre is one chromosome;
2. a part holding two centres or more is **touching chromosomes**, cut where they meet by a
   watershed from each centre's nearest chromosome pixel. The centres are the candidates the
   segmenter's learned rescorer keeps (:mod:`.spread_candidates`), each chromosome's score the
   chance it gives; a segmenter without one takes the heatmap peaks over :data:`SPLIT` (a box
   that mostly repeats a stronger one dropped, ``spread_candidates.SAME_BOX``), scored by their
   height;
3. an X-shaped part is two chromosomes **crossing** (:func:`crossing`): each is kept whole, with
   the pixels where they cross, which the label image can give to one only
   (:func:`.objects.paint` records them);
4. dark parts of the spread that hold no chromosome are kept as **nuclei** (round, solid, three
   chromosome widths thick or more) or **debris**, never counted.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.segmentation.objects import SpreadObject, crop_to_mask
from napari_karyotype.segmentation.spread import Spread
from napari_karyotype.segmentation.spread_candidates import boxes_from_maps

SPLIT = 0.2
"""A heatmap peak this high or more is a centre that cuts touching chromosomes apart."""

CROSS_ZONE = (1.8, 2.3)
"""Half-widths around a crossing's centre that both crossing chromosomes hold, tried in turn
(a short arm is lost in the larger zone; two arms at an acute angle stay joined in the
smaller)."""

NUCLEUS = 2.5
"""A solid part this many chromosome half-widths thick or more is an interphase nucleus: two
chromosomes lying side by side are about two half-widths thick, and leave a groove between them."""

CROSS_AREA = 14.0
"""Only a part this many squared half-widths or larger can be two chromosomes crossing (each of
them at least 2.5 discs)."""

ARM = 0.3
"""An arm of a crossing covers this many squared half-widths or more (less: a bump)."""

STRAIGHT = 0.7
"""Two arms are one chromosome through a crossing when their directions from it are this close
to opposite (cosine under minus this, about 45 degrees off straight at most)."""

BOX_MARGIN = 0.5
"""A chromosome's whole box reaches this many half-widths beyond its pixels on each side, as
people draw boxes round chromosomes (measured on the Taichung training cases' boxes against the
segmenter's masks: a median 0.5-0.7 half-widths a side)."""

IN_BOX = 0.7
"""A chromosome takes the box the segmenter drew round its centre when that box holds this share
of its pixels or more; otherwise (the watershed gave it a neighbour's part) its pixels' box."""

SMALLEST = 1.0
"""A chromosome covers at least this many discs of the typical half-width (the smallest, 21, 22
and Y, about 2.5); smaller dark specks are debris."""

VIEWS = 4
"""A segmenter trained with its rescorer from now reads each spread in this many views (as it
lies, mirrored left-right, mirrored top-bottom, turned over its diagonal; the maps turned back
and averaged): fewer stray labels for the same chromosomes found (``models/MODEL_CARD.md``).
The rescorer records the views it learned from; a segmenter reads as many."""

_VIEWS = (
    (lambda x: x, lambda y: y),
    (lambda x: x[:, :, ::-1], lambda y: y[:, ::-1]),
    (lambda x: x[:, ::-1], lambda y: y[::-1]),
    (lambda x: x.transpose(0, 2, 1, 3), lambda y: y.transpose(1, 0, 2)[..., [0, 1, 3, 2]]),
)
"""Each view of the net input (batch, rows, cols, 1) with the map that turns its output
(rows, cols, 4: chromosome, centre, log height, log width) back; the diagonal swaps height
and width."""

MODEL_NAME = "spread_segmenter.keras"

_CACHE: dict = {}
_LOCK = threading.Lock()


def bundled_segmenter() -> Path:
    """The bundled segmenter's path."""
    from importlib.resources import files

    return Path(str(files("napari_karyotype.models").joinpath(MODEL_NAME)))


class Segmenter:
    """A loaded segmenter: ``maps(ink)`` -> ``(chromosome, centre, log_size (h, w, 2))``.

    ``model``: its ONNX twin (``classification.onnx_net``, any thread runs it) or a Keras
    model (run on the inference thread); ``rescorer``: the learned candidate rescorer beside
    it, or None."""

    def __init__(self, model, path: Path, rescorer=None, views: int | None = None):
        self.model = model
        self.path = path
        self.rescorer = rescorer
        self.views = views if views is not None else rescorer.views if rescorer else 1

    def centres(self, chrom, centre, log_size) -> list:
        """``[(score, (r, c), box)]`` of the chromosome centres in the maps (net frame)."""
        if self.rescorer is None:
            return boxes_from_maps(centre, log_size, SPLIT)
        from napari_karyotype.segmentation.spread_candidates import candidates

        found, x = candidates(chrom, centre, log_size)
        if not found:
            return []
        chance = self.rescorer.chance(x)
        keep = self.rescorer.keep
        return [(float(p), c.peak, c.box) for p, c in zip(chance, found, strict=True) if p >= keep]

    def maps(self, ink: np.ndarray):
        from napari_karyotype.classification import inference, onnx_net

        h, w = ink.shape
        ph, pw = (-h) % 16, (-w) % 16
        x = np.pad(ink, ((0, ph), (0, pw)))[None, ..., None].astype(np.float32)

        def run(v: np.ndarray) -> np.ndarray:
            v = np.ascontiguousarray(v)
            if isinstance(self.model, onnx_net.OnnxNet):
                return self.model(v)[0]
            return inference.run(lambda: np.asarray(self.model(v, training=False)))[0]

        views = _VIEWS[: max(1, min(self.views, len(_VIEWS)))]
        out = np.mean([back(run(view(x))) for view, back in views], axis=0)[:h, :w]
        sig = 1.0 / (1.0 + np.exp(-out[..., :2]))
        return sig[..., 0], sig[..., 1], out[..., 2:4]


def forget_segmenter(path: str | Path) -> None:
    """Load the segmenter at ``path`` afresh next time (its rescorer was rewritten)."""
    with _LOCK:
        _CACHE.pop(Path(path), None)


def load_segmenter(path: str | Path | None = None) -> Segmenter:
    """The segmenter at ``path`` (the bundled one when None), loaded once per process: its
    ONNX twin ``M.onnx`` where there is a current one (no TensorFlow), else with Keras."""
    p = Path(path) if path is not None else bundled_segmenter()
    if not p.is_file():
        raise KaryotypeError(f"{p}: no such segmenter model")
    with _LOCK:
        if p not in _CACHE:
            from napari_karyotype.classification import inference, onnx_net
            from napari_karyotype.segmentation.spread_candidates import Rescorer, rescorer_path

            beside = rescorer_path(p)
            rescorer = Rescorer.load(beside) if beside.is_file() else None
            net = onnx_net.load(p, kind="segmenter")
            if net is not None:
                _CACHE[p] = Segmenter(net, p, rescorer)
                return _CACHE[p]
            from napari_karyotype.classification.backend import import_keras

            def load():
                keras = import_keras()
                try:
                    return keras.models.load_model(p, compile=False)
                except Exception as err:  # noqa: BLE001 - any load failure is one line
                    raise KaryotypeError(f"{p}: not a segmenter model ({err})") from None

            _CACHE[p] = Segmenter(inference.run(load), p, rescorer)
        return _CACHE[p]


def find_objects(spread: Spread, seg: Segmenter, image: np.ndarray) -> list[SpreadObject]:
    """The chromosomes, nuclei and debris of a spread (image pixels); see the module's steps."""
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    from napari_karyotype.segmentation.spread import NET_RADIUS, resample

    chrom, centre, log_size = seg.maps(spread.ink)
    f = spread.factor
    h, w = spread.shape
    # chromosome pixels and centre heights at the image's resolution
    fg = _fit(resample(chrom, 1.0 / f), (h, w)) > 0.5
    height = _fit(resample(centre, 1.0 / f), (h, w))
    # the half-width the net reads its chromosomes at (the measured one where the spread's
    # size is set by its width alone; a condensed spread's is wider, ``spread.net_factor``)
    radius = NET_RADIUS / f
    markers = np.zeros((h, w), np.int32)
    chance, drawn = {}, {}
    for k, (score, (r, c), box) in enumerate(seg.centres(chrom, centre, log_size), start=1):
        r0, c0, r1, c1 = (v / f for v in box)
        lim = (max(int(r0), 0), max(int(c0), 0), min(int(np.ceil(r1)), h), min(int(np.ceil(c1)), w))
        y, x = _nearest_on(fg, (r + 0.5) / f, (c + 0.5) / f, lim)
        if y is not None and markers[y, x] == 0:
            markers[y, x] = k
            chance[k] = score
            drawn[k] = (max(int(r0), 0), max(int(c0), 0), min(int(round(r1)), h),
                        min(int(round(c1)), w))  # fmt: skip
    # touching chromosomes: a part with two centres or more is cut between them
    region = watershed(-height, markers, mask=fg)
    _own_boxes(region, fg, drawn)
    parts, n = ndi.label(fg)
    unmarked = (region == 0) & fg  # a part with no centre is one chromosome
    region[unmarked] = parts[unmarked] + int(markers.max())
    objects: list[SpreadObject] = []
    smallest = SMALLEST * np.pi * radius**2
    for sl_id, sl in enumerate(ndi.find_objects(region), start=1):
        if sl is None:
            continue
        own = ndi.binary_fill_holes(region[sl] == sl_id)
        if own.sum() < smallest:
            continue
        score = chance.get(sl_id, float(height[sl][own].max()))
        box = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
        if own.sum() >= NUCLEUS**2 * np.pi * radius**2 and _nucleus(own, radius):
            box = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
            objects.append(SpreadObject(0, "nucleus", box, own, 0.0))
            continue
        pair = crossing(own, radius) if own.sum() >= CROSS_AREA * radius**2 else None
        if pair is None and sl_id in drawn:
            obj = _in_box(SpreadObject(0, "chromosome", box, own, score), drawn[sl_id])
            if obj is not None:
                objects.append(obj)
                continue
        for mask in pair or [own]:
            obj = crop_to_mask(SpreadObject(0, "chromosome", box, mask, score))
            objects.append(_grown(obj, BOX_MARGIN * radius, (h, w)))
    objects += _leftovers(image, spread, fg, objects)
    for i, obj in enumerate(objects, start=1):
        obj.label = i
    return objects


def _nucleus(mask: np.ndarray, radius: float) -> bool:
    """A solid blob :data:`NUCLEUS` half-widths thick or more: an interphase nucleus (round,
    kidney-shaped, or cut by the image's edge) that the segmenter took for chromosome. Touching
    chromosomes side by side are two or three half-widths thick, and not solid."""
    from scipy import ndimage as ndi

    from napari_karyotype.segmentation.metaphase import SOLID, _solidity

    inner = float(ndi.distance_transform_edt(np.pad(mask, 1)).max())
    return inner >= NUCLEUS * radius and _solidity(mask) >= SOLID


def _own_boxes(region: np.ndarray, fg: np.ndarray, drawn: dict) -> None:
    """Give each chromosome pixel that lies in one centre's box alone to that centre (in place):
    the heatmap's basins part touching chromosomes where their centres' pull meets, which may
    be well inside the longer one; the boxes say whose pixel it is where only one claims it."""
    cover = np.zeros(region.shape, np.int16)
    owner = np.zeros(region.shape, np.int32)
    for k, (r0, c0, r1, c1) in drawn.items():
        cover[r0:r1, c0:c1] += 1
        owner[r0:r1, c0:c1] = k
    alone = (cover == 1) & fg
    region[alone] = owner[alone]


def _in_box(obj: SpreadObject, box) -> SpreadObject | None:
    """``obj`` in the box the segmenter drew round its centre (its pixels outside it, leaked
    into a neighbour, dropped); None where that box holds under :data:`IN_BOX` of them."""
    r0, c0, r1, c1 = obj.box
    b0, b1, b2, b3 = box
    if b2 <= b0 or b3 <= b1:
        return None
    mask = np.zeros((b2 - b0, b3 - b1), bool)
    y0, x0, y1, x1 = max(r0, b0), max(c0, b1), min(r1, b2), min(c1, b3)
    if y1 <= y0 or x1 <= x0:
        return None
    mask[y0 - b0 : y1 - b0, x0 - b1 : x1 - b1] = obj.mask[y0 - r0 : y1 - r0, x0 - c0 : x1 - c0]
    if mask.sum() < IN_BOX * obj.mask.sum():
        return None
    return SpreadObject(obj.label, obj.kind, (b0, b1, b2, b3), mask, obj.score)


def _grown(obj: SpreadObject, margin: float, shape) -> SpreadObject:
    """``obj`` with its box grown by ``margin`` px each side (inside the image), its mask
    padded: the box as a person draws it around a chromosome."""
    m = int(round(margin))
    r0, c0, r1, c1 = obj.box
    g0, h0 = max(r0 - m, 0), max(c0 - m, 0)
    g1, h1 = min(r1 + m, shape[0]), min(c1 + m, shape[1])
    mask = np.zeros((g1 - g0, h1 - h0), bool)
    mask[r0 - g0 : r1 - g0, c0 - h0 : c1 - h0] = obj.mask
    return SpreadObject(obj.label, obj.kind, (g0, h0, g1, h1), mask, obj.score)


def crossing(mask: np.ndarray, radius: float) -> list[np.ndarray] | None:
    """The two whole chromosomes of an X-shaped part (two chromosomes crossing), each with the
    pixels where they cross; None for any other shape.

    Two chromosomes cross where the part is thickest (the widest disc inside it); taken out
    there (a disc of :data:`CROSS_ZONE` half-widths), the part falls into four arms, and the arms
    pair into two nearly straight lines through the crossing (opposite directions,
    :data:`STRAIGHT`)."""
    from scipy import ndimage as ndi

    edt = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    cy, cx = np.unravel_index(int(np.argmax(edt)), edt.shape)
    yy, xx = np.ogrid[: mask.shape[0], : mask.shape[1]]
    near = (yy - cy) ** 2 + (xx - cx) ** 2
    for zone_radius in CROSS_ZONE:
        zone = near <= (zone_radius * radius) ** 2
        arms, n = ndi.label(mask & ~zone)
        sizes = np.bincount(arms.ravel(), minlength=n + 1)[1:]
        big = np.flatnonzero(sizes >= ARM * radius**2) + 1
        if len(big) != 4:
            continue
        dirs = []
        for a in big:
            v = np.argwhere(arms == a).mean(axis=0) - (cy, cx)
            dirs.append(v / max(np.hypot(*v), 1e-6))
        pairs = [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))]
        cost = [float(dirs[a] @ dirs[b] + dirs[c] @ dirs[d]) for (a, b), (c, d) in pairs]
        best = int(np.argmin(cost))
        if cost[best] > -2 * STRAIGHT:
            return None
        shared = mask & zone
        return [
            ndi.binary_fill_holes((arms == big[i]) | (arms == big[j]) | shared)
            for i, j in pairs[best]
        ]
    return None


def _fit(a: np.ndarray, shape) -> np.ndarray:
    """``a`` cut or padded (edge) to ``shape``."""
    h, w = shape
    a = a[:h, :w]
    return np.pad(a, ((0, h - a.shape[0]), (0, w - a.shape[1])), mode="edge")


def _nearest_on(fg: np.ndarray, r: float, c: float, lim) -> tuple[int | None, int | None]:
    """The chromosome pixel inside ``lim`` nearest to ``(r, c)``."""
    r0, c0, r1, c1 = lim
    rr, cc = np.nonzero(fg[r0:r1, c0:c1])
    if rr.size == 0:
        return None, None
    i = int(np.argmin((rr + r0 - r) ** 2 + (cc + c0 - c) ** 2))
    return int(rr[i] + r0), int(cc[i] + c0)


def _leftovers(image, spread: Spread, fg, objects) -> list[SpreadObject]:
    """Nuclei and debris: dark parts that hold no chromosome."""
    from scipy import ndimage as ndi

    from napari_karyotype.segmentation.spread import NET_RADIUS, on_slide, to_ink

    ink = to_ink(ndi.gaussian_filter(np.asarray(image, np.float32), 1.0), spread.background,
                 spread.dark)  # fmt: skip
    ink = on_slide(ink, image, spread.slide)  # a frame or a line across the margin: no debris
    dark = ink > 0.3
    taken = np.zeros(dark.shape, bool)
    for obj in objects:
        r0, c0, r1, c1 = obj.box
        taken[r0:r1, c0:c1] |= obj.mask
    lab, n = ndi.label(dark)
    if n == 0:
        return []
    f = max(spread.factor, 1e-3)
    radius = max(NET_RADIUS / f, 1.0) if spread.radius else 4.0 / f
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    held = np.bincount(lab[taken], minlength=n + 1)
    edt = ndi.distance_transform_edt(dark)
    inr = ndi.maximum(edt, lab, np.arange(n + 1))
    out = []
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None or held[i] > 0.2 * areas[i] or areas[i] < np.pi * radius**2:
            continue
        mask = lab[sl] == i
        round_ = areas[i] < 2.5 * np.pi * max(inr[i], 0.5) ** 2
        kind = "nucleus" if round_ and inr[i] >= 3 * radius else "debris"
        box = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
        out.append(SpreadObject(0, kind, box, mask & ~taken[sl], 0.0))
    return out
