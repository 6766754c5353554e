"""Segmentation: rows proposed on the page, shapes, active contours into one label each."""
