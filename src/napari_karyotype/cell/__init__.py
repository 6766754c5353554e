"""The cell: features table, per-cell assignment (ISCN), karyogram arrangement and exports."""
