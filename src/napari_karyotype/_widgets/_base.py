"""A magicgui container bound to a viewer, with layer pickers that follow the layer list."""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container

from napari_karyotype._widgets._common import first_layer
from napari_karyotype._widgets.gl_context import guard_layer_removal


class ViewerWidget(Container):
    """Base of the dock widgets: keeps its layer pickers in step with ``viewer.layers``."""

    def __init__(self, viewer, **kwargs):
        super().__init__(**kwargs)
        # napari hands plugin widgets a PublicOnlyProxy; the widgets compare layers by identity
        # (the layer napari passes to key bindings and events is never a proxy), so keep the viewer.
        self.viewer = getattr(viewer, "__wrapped__", viewer)
        viewer = self.viewer
        guard_layer_removal(viewer)
        self._pickers: list[tuple[ComboBox, str, str | None]] = []
        events = viewer.layers.events
        for emitter in (events.inserted, events.removed, events.moved):
            emitter.connect(self._refresh_pickers)

    def layer_picker(self, kind: str, label: str, prefer: str | None = None) -> ComboBox:
        """A combo box of the viewer's layers of ``kind``; picks layer ``prefer`` when present."""

        def choices(_widget=None):
            return [(lay.name, lay) for lay in self.viewer.layers if type(lay).__name__ == kind]

        combo = ComboBox(label=label, choices=choices, nullable=True)
        self._pickers.append((combo, kind, prefer))
        self._pick_default(combo, kind, prefer)
        return combo

    def _pick_default(self, combo: ComboBox, kind: str, prefer: str | None) -> None:
        current = combo.value
        present = [lay for lay in self.viewer.layers if type(lay).__name__ == kind]
        if current is not None and any(current is lay for lay in present):
            if prefer is None or current.name == prefer:
                return
            if not any(lay.name == prefer for lay in present):
                return
        combo.value = first_layer(self.viewer, kind, prefer)

    def _refresh_pickers(self, event=None) -> None:
        for combo, kind, prefer in self._pickers:
            try:
                combo.reset_choices()
                self._pick_default(combo, kind, prefer)
            except RuntimeError:  # the Qt widget is gone (viewer closing)
                continue
