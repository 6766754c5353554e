"""The Metaphase widget's correction tools: each one gesture in the viewer (a line or a shape in
``gestures``, or a label picked), read on the GUI thread and handed to the Qt-free
``cell.corrections``; the cell is then classified again in the widget's worker."""

from __future__ import annotations

import numpy as np

from napari_karyotype._widgets._common import LABELS_LAYER, find_layer, guarded, visit_next
from napari_karyotype._widgets.metaphase_layers import GESTURES_LAYER, LEFT_OUT_LAYER
from napari_karyotype.errors import KaryotypeError

LINES = ("line", "path")
AREAS = ("polygon", "rectangle", "ellipse")


class CorrectionTools:
    """Mixed into ``MetaphaseWidget``: needs ``viewer``, ``cell``, ``worker``, ``_start``,
    ``_push`` and ``show``."""

    def _cell(self):
        if self.cell is None:
            raise KaryotypeError("no metaphase yet: press 'Karyotype this metaphase'")
        return self.cell

    def _gesture(self, kinds):
        """``(shape type, (N, 2) image vertices, index)`` of the selected (else last) shape drawn
        in ``gestures`` of one of ``kinds``."""
        layer = find_layer(self.viewer, GESTURES_LAYER, "Shapes")
        if layer is not None and len(layer.data):
            chosen = sorted(layer.selected_data) or list(range(len(layer.data)))
            for i in reversed(chosen):
                if layer.shape_type[i] in kinds:
                    return layer.shape_type[i], np.asarray(layer.data[i], float)[:, -2:], i
        what = "a line or path" if kinds == LINES else "a polygon, rectangle or ellipse"
        raise KaryotypeError(f"draw {what} in the '{GESTURES_LAYER}' layer first")

    def _consume(self, index):
        layer = find_layer(self.viewer, GESTURES_LAYER, "Shapes")
        if layer is not None and index < len(layer.data):
            layer.selected_data = {index}
            layer.remove_selected()

    def _correct(self, make, what):
        """Run correction ``make(objects) -> objects`` in the worker, then classify again."""
        from napari_karyotype.cell.corrections import correct

        cell = self._cell()
        return self._start(lambda: correct(cell, make(list(cell.objects))), what)

    def _along_line(self, make, what):
        """A correction drawn as a line: ``make(cell, line) -> objects`` runs here (a gesture
        that does not fit fails in one line, before any worker), the line is used up."""
        cell = self._cell()
        _kind, line, i = self._gesture(LINES)
        objs = make(cell, line)
        self._consume(i)
        return self._correct(lambda _o: objs, what)

    def _picked(self, layer_name):
        return int(find_layer(self.viewer, layer_name, "Labels").selected_label)

    @guarded("Separating")
    def separate(self):
        """The segmenter again inside the shape drawn last."""
        from napari_karyotype.cell.corrections import separate
        from napari_karyotype.segmentation.shapes import shape_mask

        cell = self._cell()
        kind, vertices, i = self._gesture(AREAS)
        region = shape_mask(kind, vertices, cell.image.shape)
        self._consume(i)
        return self._correct(lambda objs: separate(objs, cell.image, region), "separating")

    @guarded("Cutting")
    def cut(self):
        """Cut the chromosome the line drawn last crosses most."""
        from napari_karyotype.cell.corrections import cut

        return self._along_line(
            lambda cell, line: cut(list(cell.objects), line, cell.image.shape), "cutting"
        )

    @guarded("Merging")
    def merge(self):
        """Merge the chromosomes (or left-out pieces) the line drawn last runs over."""
        from napari_karyotype.cell.corrections import labels_along, merge

        def make(cell, line):
            kinds = ("chromosome", "nucleus", "debris")
            labels = labels_along(cell.objects, line, cell.image.shape, kinds)
            return merge(list(cell.objects), labels, cell.image.shape)

        return self._along_line(make, "merging")

    @guarded("Marking a crossing")
    def cross(self):
        """The chromosomes under the two ends of the line drawn last cross."""
        from napari_karyotype.cell.corrections import cross

        def make(cell, line):
            ends = [end_label(cell.labels, p) for p in (line[0], line[-1])]
            if not all(ends):
                raise KaryotypeError("start and end the line on the two crossing chromosomes")
            return cross(list(cell.objects), ends[0], ends[1], cell.image.shape)

        return self._along_line(make, "marking the crossing")

    @guarded("Dropping")
    def drop(self, label: int | None = None):
        """Leave the selected chromosome out as debris."""
        from napari_karyotype.cell.corrections import drop

        return self._on_picked(drop, LABELS_LAYER, label, "dropping")

    @guarded("Restoring")
    def restore(self, label: int | None = None):
        """Take the object selected in 'left out' back as a chromosome."""
        from napari_karyotype.cell.corrections import restore

        return self._on_picked(restore, LEFT_OUT_LAYER, label, "restoring")

    def _on_picked(self, change, layer: str, label: int | None, what: str):
        """Apply ``change(objects, label)`` to the label picked in ``layer`` (or ``label``)."""
        cell = self._cell()
        label = self._picked(layer) if label is None else int(label)
        objs = change(list(cell.objects), label)
        return self._correct(lambda _o: objs, f"{what} {label}")

    @guarded("Relabelling")
    def set_class(self, cls: str | None, label: int | None = None):
        """Give the selected chromosome class ``cls`` (verified); the karyogram follows."""
        from napari_karyotype.cell.corrections import relabel

        cell = self._idle_cell()
        label = self._picked(LABELS_LAYER) if label is None else int(label)
        return self._settled(cell, relabel(cell, label, cls))

    @guarded("Verifying")
    def verify(self, labels=None):
        """Sign the cell: every chromosome (or ``labels``) verified as it is now shown, classes
        kept; no longer in doubt, so a complete cell's karyotype is claimed."""
        from napari_karyotype.cell.corrections import verify

        cell = self._idle_cell()
        return self._settled(cell, verify(cell, labels))

    @guarded("Finding the next chromosome in doubt")
    def next_in_doubt(self) -> int | None:
        """Select the next chromosome to look at (the segmenter's doubts, then the CNN's; least
        sure first) in ``chromosomes`` and centre the view on it; None when none is left."""
        cell = self._cell()
        layer = find_layer(self.viewer, LABELS_LAYER, "Labels")
        if layer is None:
            raise KaryotypeError(f"no '{LABELS_LAYER}' layer: karyotype the metaphase again")
        return visit_next(self.viewer, layer, list(cell.summary.in_doubt))

    def _idle_cell(self):
        cell = self._cell()
        if self.worker is not None:
            raise KaryotypeError("busy: wait for the running step")
        return cell

    def _settled(self, cell, new):
        """Show ``new`` (made here, no CNN: relabel, verify); ``cell`` goes on the undo stack."""
        self._push(cell)
        self.show(new)
        return new


def end_label(labels: np.ndarray, point) -> int:
    """The chromosome under ``point`` (row, col), or the nearest within 3 px; 0 if none."""
    r, c = (int(round(v)) for v in point)
    h, w = labels.shape
    win = labels[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4]
    if 0 <= r < h and 0 <= c < w and labels[r, c]:
        return int(labels[r, c])
    if not win.any():
        return 0
    rr, cc = np.nonzero(win)
    i = int(np.argmin((rr + max(r - 3, 0) - r) ** 2 + (cc + max(c - 3, 0) - c) ** 2))
    return int(win[rr[i], cc[i]])
