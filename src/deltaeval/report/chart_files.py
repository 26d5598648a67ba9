"""Chart files beside a Markdown report (``report.md`` → ``report.charts/<name>.svg``), linked from it.

The charts are those of :func:`deltaeval.report.charts.charts_for`, written as SVG only (a PNG
would need a rasteriser, a heavy dependency for a core install; every browser, GitHub and most
Markdown viewers show SVG). Each file is written atomically. Files of earlier runs that this
report does not chart are left as they are (and not linked).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from deltaeval.report.charts import Chart, charts_for


def default_directory(markdown: Path) -> Path:
    """Where the charts of ``markdown`` go by default: ``report.md`` → ``report.charts``."""
    return markdown.with_name(markdown.stem + ".charts")


def write_charts(charts: Sequence[Chart], directory: Path) -> list[Path]:
    """Write each chart as ``directory/<name>.svg`` (the folder is created); the paths written."""
    from deltaeval.atomic_write import write_text_atomic

    if not charts:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    return [write_text_atomic(directory / f"{chart.name}.svg", chart.svg) for chart in charts]


def link_prefix(markdown: Path, directory: Path) -> str:
    """The charts folder as a URL relative to the Markdown file (absolute when no relative path exists)."""
    try:
        rel = os.path.relpath(directory.resolve(), markdown.resolve().parent)
    except ValueError:  # another drive
        return directory.resolve().as_uri()
    return "/".join(quote(part) for part in Path(rel).parts)


def markdown_block(charts: Sequence[Chart], prefix: str) -> str | None:
    """A ``#### Charts`` block with one image link per chart, or None without charts."""
    from deltaeval.report.markdown import md_inline

    if not charts:
        return None
    links = [f"![{md_inline(c.title, 120)}]({prefix}/{quote(c.name)}.svg)" for c in charts]
    return "#### Charts\n\n" + "\n\n".join(links)


def write_markdown_with_charts(
    report: Mapping[str, Any], markdown: Path, directory: Path | None
) -> list[Path]:
    """Write the Markdown report to ``markdown``, with its charts in ``directory`` (None: no charts).

    Returns the chart files written.
    """
    from deltaeval.atomic_write import write_text_atomic
    from deltaeval.report.markdown import render_markdown

    charts = charts_for(report) if directory is not None else []
    written = write_charts(charts, directory) if directory is not None else []
    block = markdown_block(charts, link_prefix(markdown, directory)) if directory is not None else None
    write_text_atomic(markdown, render_markdown(report, charts=block))
    return written
