"""napari widgets: thin magicgui glue over the Qt-free core.

Dock widgets (npe2 contributions in ``napari.yaml``): :class:`RowsWidget`, :class:`SegmentWidget`,
:class:`ClassifyWidget` (classification, review and relabelling), :class:`ExportWidget`,
:class:`MetaphaseWidget` (a raw metaphase to a karyogram in one button, and its corrections).
:func:`open_demo` puts the synthetic sample, its proposed rows and all four widgets into a viewer.
"""

from __future__ import annotations

from napari_karyotype._widgets.classify import ClassifyWidget
from napari_karyotype._widgets.demo import SAMPLE_KEY, open_demo
from napari_karyotype._widgets.export import ExportWidget
from napari_karyotype._widgets.metaphase import MetaphaseWidget
from napari_karyotype._widgets.rows import RowsWidget
from napari_karyotype._widgets.segment import SegmentWidget

__all__ = [
    "SAMPLE_KEY",
    "ClassifyWidget",
    "ExportWidget",
    "MetaphaseWidget",
    "RowsWidget",
    "SegmentWidget",
    "open_demo",
]
