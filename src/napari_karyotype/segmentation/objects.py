"""The objects of a metaphase: each chromosome whole (crossing ones overlap), nuclei and debris.

A napari Labels image cannot overlap, so the core keeps each object as its own mask in its box
(:class:`SpreadObject`); :func:`paint` draws the chromosomes into one label image (a pixel two
chromosomes share goes to the one whose centre is nearer, and is recorded in ``shared``), and the
table keeps each chromosome's **whole** box. Nuclei and debris get no chromosome label: they are
kept as a record (``kind``), so a user sees what was left out and can take it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("chromosome", "nucleus", "debris")


@dataclass
class SpreadObject:
    """One object of a spread, in image pixels."""

    label: int
    kind: str
    box: tuple[int, int, int, int]
    """``(min row, min col, max row, max col)``, end-exclusive."""
    mask: np.ndarray
    """bool, the box's shape: the object's own pixels (a crossing chromosome's include the
    pixels it shares)."""
    score: float = 1.0
    """The segmenter's confidence that this is one whole chromosome."""

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The mask in an image of ``shape``."""
        out = np.zeros(shape, bool)
        r0, c0, r1, c1 = self.box
        out[r0:r1, c0:c1] = self.mask
        return out

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass
class Painted:
    """Chromosomes drawn as one label image, with what that drawing hides."""

    labels: np.ndarray
    """int32, one id per chromosome (the object's ``label``)."""
    shared: dict[tuple[int, int], int] = field(default_factory=dict)
    """``{(a, b): pixels}``: pixels chromosomes ``a < b`` both hold (a crossing)."""


def tight_box(mask: np.ndarray, offset=(0, 0)) -> tuple[int, int, int, int] | None:
    """The end-exclusive box of a mask's pixels (shifted by ``offset``), None when empty."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    r, c = offset
    return (int(rows[0] + r), int(cols[0] + c), int(rows[-1] + 1 + r), int(cols[-1] + 1 + c))


def crop_to_mask(obj: SpreadObject) -> SpreadObject:
    """``obj`` with its box cut to its mask's pixels."""
    box = tight_box(obj.mask)
    if box is None:
        return obj
    r0, c0, r1, c1 = box
    obj.mask = obj.mask[r0:r1, c0:c1]
    obj.box = (obj.box[0] + r0, obj.box[1] + c0, obj.box[0] + r1, obj.box[1] + c1)
    return obj


def paint(objects: list[SpreadObject], shape: tuple[int, int]) -> Painted:
    """The chromosomes of ``objects`` as one label image (nuclei and debris left out)."""
    labels = np.zeros(shape, np.int32)
    owner_dist = np.full(shape, np.inf, np.float32)
    shared: dict[tuple[int, int], int] = {}
    for obj in objects:
        if obj.kind != "chromosome":
            continue
        r0, c0, r1, c1 = obj.box
        rr, cc = np.nonzero(obj.mask)
        if rr.size == 0:
            continue
        cy, cx = rr.mean(), cc.mean()
        d = np.hypot(rr - cy, cc - cx).astype(np.float32)
        gr, gc = rr + r0, cc + c0
        held = labels[gr, gc]
        for other in np.unique(held[held > 0]):
            key = (int(min(other, obj.label)), int(max(other, obj.label)))
            shared[key] = shared.get(key, 0) + int((held == other).sum())
        take = d < owner_dist[gr, gc]
        labels[gr[take], gc[take]] = obj.label
        owner_dist[gr[take], gc[take]] = d[take]
    return Painted(labels, shared)


def object_of_label(labels: np.ndarray, label: int) -> SpreadObject:
    """A chromosome object of one label's pixels (a label drawn or changed by hand)."""
    box = tight_box(labels == label) or (0, 0, 0, 0)
    r0, c0, r1, c1 = box
    return SpreadObject(int(label), "chromosome", box, labels[r0:r1, c0:c1] == label)


def pack_objects(objects) -> dict[str, np.ndarray]:
    """Objects as plain arrays (for ``np.savez``): labels, kinds, boxes, scores, the masks'
    bits one after another."""
    objects = list(objects)
    bits = [np.packbits(o.mask.ravel()) for o in objects]
    return {
        "label": np.array([o.label for o in objects], np.int64),
        "kind": np.array([o.kind for o in objects], dtype="U10"),
        "box": np.array([o.box for o in objects], np.int64).reshape(-1, 4),
        "score": np.array([o.score for o in objects], np.float64),
        "ends": np.cumsum([len(b) for b in bits]).astype(np.int64),
        "bits": np.concatenate(bits) if bits else np.zeros(0, np.uint8),
    }


def unpack_objects(arrays) -> list[SpreadObject]:
    """The objects :func:`pack_objects` gave."""
    out, start = [], 0
    for lab, kind, box, score, end in zip(
        arrays["label"], arrays["kind"], arrays["box"], arrays["score"], arrays["ends"],
        strict=True,
    ):  # fmt: skip
        r0, c0, r1, c1 = (int(v) for v in box)
        n = (r1 - r0) * (c1 - c0)
        mask = np.unpackbits(arrays["bits"][start:end], count=n).astype(bool)
        mask = mask.reshape(r1 - r0, c1 - c0)
        out.append(SpreadObject(int(lab), str(kind), (r0, c0, r1, c1), mask, float(score)))
        start = int(end)
    return out
