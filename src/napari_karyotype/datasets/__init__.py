"""Datasets of labelled chromosomes for training and evaluation."""
