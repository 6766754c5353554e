"""napari widgets: thin magicgui glue over the Qt-free core."""
