"""Dataset differences: how two datasets' inputs differ (``deltaeval datadiff``)."""

from deltaeval.datadiff.api import SCHEMA, datadiff

__all__ = ["SCHEMA", "datadiff"]
