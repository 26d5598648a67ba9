"""deltaeval: what changed between two versions of a model, and is it safe to ship?

Public API::

    import deltaeval
    report = deltaeval.compare("v1.jsonl", "v2.jsonl", scorer="exact", by="category")
    report.flips["nfr"], report.flips["nfr_ci"], report.flips["mcnemar_p"]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Imported on first use, so the command line starts fast (scipy loads only when needed).
_EXPORTS = {
    "Report": "deltaeval.comparison",
    "compare": "deltaeval.comparison",
    "compare_lineage": "deltaeval.lineage",
    "DeltaEvalError": "deltaeval.errors",
    "load_run": "deltaeval.io",
    "load_runs": "deltaeval.io",
    "load_dataset": "deltaeval.io.dataset",
    "ColumnMapping": "deltaeval.io.base",
    "Store": "deltaeval.store",
    "Example": "deltaeval.types",
    "Output": "deltaeval.types",
    "Run": "deltaeval.types",
    "GenerationParams": "deltaeval.backends.base",
    "get_backend": "deltaeval.backends",
    "run_model": "deltaeval.runner",
    "judge": "deltaeval.judging",
    "compare_behaviour": "deltaeval.behaviour.report",
    "get_judge": "deltaeval.judging",
}

__all__ = [  # noqa: RUF022 - grouped as in _EXPORTS
    "Report",
    "compare",
    "compare_lineage",
    "DeltaEvalError",
    "load_run",
    "load_runs",
    "load_dataset",
    "ColumnMapping",
    "Store",
    "Example",
    "Output",
    "Run",
    "GenerationParams",
    "get_backend",
    "run_model",
    "judge",
    "get_judge",
    "compare_behaviour",
    "__version__",
]

if TYPE_CHECKING:
    from deltaeval.backends import get_backend
    from deltaeval.backends.base import GenerationParams
    from deltaeval.behaviour.report import compare_behaviour
    from deltaeval.comparison import Report, compare
    from deltaeval.errors import DeltaEvalError
    from deltaeval.io import load_run, load_runs
    from deltaeval.io.base import ColumnMapping
    from deltaeval.io.dataset import load_dataset
    from deltaeval.judging import get_judge, judge
    from deltaeval.lineage import compare_lineage
    from deltaeval.runner import run_model
    from deltaeval.store import Store
    from deltaeval.types import Example, Output, Run


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deltaeval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
