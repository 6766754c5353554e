"""``open_demo(viewer)``: the synthetic sample, its proposed rows and the four widgets, docked."""

from __future__ import annotations

PLUGIN = "napari-karyotype"
SAMPLE_KEY = "synthetic"
"""The key of the synthetic karyogram sample in ``napari.yaml``."""


def open_demo(viewer, *, sample: str = SAMPLE_KEY, model=None) -> dict:
    """Add the synthetic sample (with proposed rows) to ``viewer`` and dock the widgets.

    Returns ``{"rows": RowsWidget, "segment": SegmentWidget, "classify": ClassifyWidget,
    "export": ExportWidget}``. Nothing is segmented or classified: the user runs each step.
    ``model``: a model file for the Classify widget (default: the bundled model).
    """
    from napari_karyotype._widgets.classify import ClassifyWidget
    from napari_karyotype._widgets.export import ExportWidget
    from napari_karyotype._widgets.rows import RowsWidget
    from napari_karyotype._widgets.segment import SegmentWidget

    viewer = getattr(viewer, "__wrapped__", viewer)
    layers = viewer.open_sample(PLUGIN, sample)
    image = next(layer for layer in layers if type(layer).__name__ == "Image")
    widgets = {
        "rows": RowsWidget(viewer),
        "segment": SegmentWidget(viewer),
        "classify": ClassifyWidget(viewer),
        "export": ExportWidget(viewer),
    }
    titles = {"rows": "Rows", "segment": "Segment", "classify": "Classify", "export": "Export"}
    docks = {}
    for key, widget in widgets.items():
        widget.image.value = image
        docks[key] = viewer.window.add_dock_widget(
            widget, name=titles[key], area="right", tabify=key != "rows"
        )
    docks["segment"].raise_()  # rows are proposed below: segmenting is the next step
    if model is not None:
        widgets["classify"].model.value = str(model)
    widgets["rows"].run()
    viewer.reset_view()  # the docks took room from the canvas: show the whole karyogram
    return widgets
