"""Sub-commands of the ``napari-karyotype`` command line; each module adds one."""
