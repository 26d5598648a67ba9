"""Write a section report's JSON, Markdown and HTML files (the ``--json/--md/--html`` options of
``deltaeval weights``, ``embeddings`` and ``datadiff``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from deltaeval.atomic_write import write_text_atomic

Renderer = Callable[[Mapping[str, Any]], str]


def write_report_files(
    report: Mapping[str, Any],
    *,
    json_out: Path | None,
    md_out: Path | None,
    html_out: Path | None,
    render_markdown: Renderer,
    render_html: Renderer,
    allow_nan: bool = True,
) -> list[Path]:
    """Write each file asked for (atomically) and return their paths, in the order JSON, Markdown,
    HTML. The JSON is indented, key-sorted UTF-8 with a final newline."""
    written = []
    for target, render in (
        (
            json_out,
            lambda r: json.dumps(r, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=allow_nan) + "\n",
        ),
        (md_out, render_markdown),
        (html_out, render_html),
    ):
        if target is not None:
            write_text_atomic(target, render(report))
            written.append(target)
    return written
