"""Slice discovery: where a regression concentrates, among the examples nobody tagged."""

from deltaeval.slices.api import discover_slices, discover_slices_arrays

__all__ = ["discover_slices", "discover_slices_arrays"]
