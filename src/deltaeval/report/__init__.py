"""Renderers of the JSON report: JSON on disk, terminal, Markdown and a self-contained HTML page.

The JSON report (docs/report-schema.md) is the source of truth; every other format is rendered
from it and from nothing else. Each renderer is imported on first use (HTML loads jinja2), so
reading a report, as ``deltaeval gate`` does, loads none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "dumps_report": "deltaeval.report.json_report",
    "load_report": "deltaeval.report.json_report",
    "write_report": "deltaeval.report.json_report",
    "render_html": "deltaeval.report.html",
    "render_markdown": "deltaeval.report.markdown",
    "render_terminal": "deltaeval.report.terminal",
}

__all__ = [
    "dumps_report",
    "load_report",
    "render_html",
    "render_markdown",
    "render_terminal",
    "write_report",
]

if TYPE_CHECKING:
    from deltaeval.report.html import render_html
    from deltaeval.report.json_report import dumps_report, load_report, write_report
    from deltaeval.report.markdown import render_markdown
    from deltaeval.report.terminal import render_terminal


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deltaeval.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
