"""One annotated chromosome of an image, the common ground of the VOC and COCO files.

An :class:`Annotated` is what a dataset file holds per chromosome: its class, whole box and
(optionally) its own mask in that box. Masks of crossing chromosomes may overlap, so a list of
them, not a label image, is the exchange format; :func:`from_labels` derives the list from a
label image and its features table, :func:`to_labels` draws it back (a shared pixel goes to the
chromosome drawn last, i.e. the smaller one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_karyotype.datasets.record import class_name


@dataclass
class Annotated:
    """One chromosome: class, whole box and own mask, in image pixels."""

    label: int
    cls: str
    box: tuple[int, int, int, int]
    """``(min row, min col, max row, max col)``, end-exclusive."""
    mask: np.ndarray | None = None
    """bool of the box's shape, or None where only the box is known (VOC)."""
    confidence: float = float("nan")
    verified: bool = False

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The mask (the whole box where there is none) in an image of ``shape``."""
        out = np.zeros(shape, bool)
        r0, c0, r1, c1 = self.box
        out[r0:r1, c0:c1] = True if self.mask is None else self.mask
        return out


def table_class(row) -> str:
    """A features row's class: the assigned one where there is one, else the CNN's."""
    for col in ("assigned", "chromosome"):
        value = row.get(col, "")
        if isinstance(value, str) and value.strip():
            return class_name(value)
    return ""


def from_labels(labels: np.ndarray, table=None, objects=None) -> list[Annotated]:
    """One :class:`Annotated` per label id of ``labels`` (classes, confidence and verified from
    the features ``table`` where it has the label; unclassified labels are left out when a
    table is given). ``objects``: a metaphase's chromosomes (anything with ``label``, ``box``
    and ``mask``, e.g. ``segmentation.objects.SpreadObject``): their whole box and mask are
    written instead of the label's pixels, so a crossing chromosome stays whole."""
    from scipy import ndimage as ndi

    labels = np.asarray(labels)
    wholes = {int(o.label): o for o in objects or () if getattr(o, "kind", "") == "chromosome"}
    rows = {}
    if table is not None:
        for row in table.to_dict("records"):
            rows[int(row["label"])] = row
    out = []
    for lab, sl in enumerate(ndi.find_objects(labels.astype(np.int64, copy=False)), start=1):
        if sl is None:
            continue
        row = rows.get(lab)
        if table is not None and (row is None or not table_class(row)):
            continue
        confidence = float(row.get("confidence", np.nan)) if row else float("nan")
        whole = wholes.get(lab)
        out.append(
            Annotated(
                label=lab,
                cls=table_class(row) if row else "",
                box=tuple(int(v) for v in whole.box)
                if whole is not None
                else (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop),
                mask=whole.mask if whole is not None else labels[sl] == lab,
                confidence=confidence,
                verified=bool(row.get("verified", False)) if row else False,
            )
        )
    return out


def to_labels(items: list[Annotated], shape: tuple[int, int]) -> np.ndarray:
    """The annotations drawn as one int32 label image (larger ones first, so a smaller
    chromosome lying on a larger one stays whole; boxes without a mask are drawn whole)."""
    labels = np.zeros(shape, np.int32)
    for item in sorted(items, key=lambda a: -int(a.full_mask(shape).sum())):
        labels[item.full_mask(shape)] = item.label
    return labels
