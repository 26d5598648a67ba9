"""More than two versions: each candidate against a baseline, with a lineage table (:mod:`.api`)."""

from deltaeval.lineage.api import LineageReport, compare_lineage

__all__ = ["LineageReport", "compare_lineage"]
