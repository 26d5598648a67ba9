"""The lineage report (``deltaeval compare v1 v2 v3 …``) in the terminal, in Markdown and as HTML.

Every renderer reads the JSON report (:func:`deltaeval.lineage.compare_lineage`): first the lineage
table — the baseline, each candidate against it (``vs BASELINE`` rows, p-values adjusted across
candidates), then each consecutive step in the order given (``step`` rows, adjusted across steps) —
then each candidate's full two-run report, rendered by the two-run renderers. Run names are
untrusted: plain rich ``Text`` in the terminal, :func:`deltaeval.report.markdown.md_inline` in
Markdown, :func:`html.escape` in HTML (all after :func:`deltaeval.textsafe.visible`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from deltaeval.report import _format as fmt
from deltaeval.textsafe import visible, visible_data

if TYPE_CHECKING:
    from rich.console import Console

#: Shorter column names in the terminal, where 80 columns must hold the table.
TERMINAL_HEADER = {"accuracy": "acc.", "Δ accuracy": "Δ acc.", "McNemar p": "p", "adjusted p": "p adj."}
#: Below this console width the terminal table takes the fixed column widths ``NARROW_WIDTHS``.
WIDE = 110
RUN_WIDTH = 16
NARROW_WIDTHS = (
    None,  # the run column: its names, up to RUN_WIDTH
    7,
    8,
    7,
    8,
    7,
    7,
    11,
    4,
)
HEADER = ("row", "run", "accuracy", "Δ accuracy", "NFR", "PFR", "McNemar p", "adjusted p", "verdict")


def _kind(row: Mapping[str, Any], baseline: str) -> str:
    return {"baseline": "baseline", "candidate": f"vs {baseline}", "step": "step"}[row["kind"]]


def _run(row: Mapping[str, Any]) -> str:
    return row["run"] if row["kind"] != "step" else f"{row['from']} → {row['run']}"


def _ci(ci: Any, scale: str) -> str:
    """An interval in the unit of its column (``%`` or ``pp``), brief when ``scale`` is empty."""
    low, high = (ci or (None, None))[:2]
    if low is None or high is None:
        return fmt.MISSING
    if scale == "%":
        return f"[{low * 100:.1f}, {high * 100:.1f}]"
    return f"[{low * 100:+.1f}, {high * 100:+.1f}]"


def _rows(lineage: Mapping[str, Any], *, brief: bool = False) -> list[list[str]]:
    """The table's cells as plain text, one list per row.

    ``brief`` (the terminal): each value above its interval, the interval without its unit.
    """

    def cell(value: str, ci: Any, unit: str) -> str:
        if brief:
            return f"{value}\n{_ci(ci, unit)}"
        return f"{value} {fmt.pct_ci(ci) if unit == '%' else fmt.pp_ci(ci)}"

    gate = lineage.get("gate") is not None
    out = []
    for row in [*lineage["rows"], *lineage["steps"]]:
        pair = row["kind"] != "baseline"
        cells = [
            _kind(row, lineage["baseline"]),
            _run(row),
            cell(fmt.pct(row["accuracy"]), row["accuracy_ci"], "%"),
            cell(fmt.pp(row["delta"]), row["delta_ci"], "pp") if pair else "",
            cell(f"{fmt.pct(row['nfr'])} ({row['negative']})", row["nfr_ci"], "%") if pair else "",
            cell(f"{fmt.pct(row['pfr'])} ({row['positive']})", row["pfr_ci"], "%") if pair else "",
            fmt.pval(row["mcnemar_p"]) if pair else "",
            fmt.pval(row["p_adjusted"]) if pair else "",
            row["verdict"] if pair else "",
        ]
        if gate:
            cells.append((row.get("gate") or "").upper())
        out.append(cells)
    return out


def _header(lineage: Mapping[str, Any]) -> list[str]:
    return [*HEADER, "gate"] if lineage.get("gate") is not None else list(HEADER)


def _explanation(data: Mapping[str, Any]) -> str:
    """What the rows are, in one paragraph of plain text."""
    lin = data["lineage"]
    method = fmt.method_name(lin["adjustment"])
    text = (
        f"Baseline {lin['baseline']}; {fmt.counted(lin['n'], 'example')} shared by every run, "
        f'intervals at {fmt.level(lin["confidence_level"])}. Rows "vs {lin["baseline"]}" compare each '
        f"candidate with the baseline; their McNemar p-values are {method}-adjusted across candidates "
        f'and the verdict reads the adjusted p at alpha {lin["alpha"]:g}. Rows "step" compare '
        f"consecutive runs in the order given ({method}-adjusted across steps). NFR and PFR: negative "
        "and positive flips of the row's pair (their count in brackets)."
    )
    gate = lin.get("gate")
    if gate is not None:
        limits = ", ".join(f"{name} {value:g}" for name, value in gate["thresholds"].items())
        text += (
            f" Gate: {limits} on each candidate's comparison (one-sided bounds at alpha {gate['alpha']:g})."
        )
    return text


def _title(data: Mapping[str, Any]) -> str:
    return " → ".join(data["lineage"]["order"])


def render_terminal(data: Mapping[str, Any], console: Console, *, max_examples: int = 3) -> None:
    """The lineage table, then each candidate's terminal summary against the baseline."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from deltaeval.report import render_terminal as render_pair

    data = visible_data(data)
    lin = data["lineage"]
    console.print(Text(f"lineage: {_title(data)}", style="bold"))
    console.print(Text(_explanation(data)))
    narrow = console.width < WIDE  # fixed narrow columns: each interval wraps after its comma
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 0 if narrow else 1), pad_edge=False)
    rows = _rows(lin, brief=True)
    run_width = min(RUN_WIDTH, max(len(line) for cells in rows for line in cells[:2]))
    for i, name in enumerate(["run", *_header(lin)[2:]]):  # the row's kind under its run
        table.add_column(
            TERMINAL_HEADER.get(name, name),
            justify="left" if i in (0, 7, 8) else "right",
            no_wrap=i in (5, 6, 8),
            width=(NARROW_WIDTHS[i] or run_width) if narrow else None,
            overflow="fold",
        )
    for cells in rows:
        table.add_row(Text(f"{cells[1]}\n{cells[0]}"), *(Text(c) for c in cells[2:]), end_section=True)
    console.print(table)
    for note in data.get("notes", []):
        console.print(Text(f"note: {note}"))
    for comparison in data["comparisons"]:
        console.rule(Text(f"{comparison['old']['name']} → {comparison['new']['name']}"))
        render_pair(comparison, console, max_examples=max_examples)


def lineage_markdown(data: Mapping[str, Any]) -> str:
    """The lineage section alone: heading, explanation, table and notes."""
    from deltaeval.report.markdown import _table, md_inline

    lin = data["lineage"]
    rows = [[md_inline(c) for c in cells] for cells in _rows(lin)]
    parts = [
        f"## Lineage: {md_inline(_title(data))}",
        md_inline(_explanation(data)),
        _table(_header(lin), rows, "ll" + "r" * 6 + "ll"),
    ]
    parts += [f"*Note: {md_inline(note)}*" for note in data.get("notes", [])]
    return "\n\n".join(parts)


def render_markdown(data: Mapping[str, Any]) -> str:
    """The lineage section, then each candidate's Markdown report against the baseline."""
    from deltaeval.report.markdown import md_inline
    from deltaeval.report.markdown import render_markdown as render_pair

    parts = [f"# deltaeval lineage: {md_inline(_title(data))}", lineage_markdown(data)]
    for comparison in data["comparisons"]:
        parts += ["---", render_pair(comparison).rstrip("\n")]
    return "\n\n".join(parts) + "\n"


def lineage_html(data: Mapping[str, Any]) -> str:
    """The lineage section alone as an HTML ``<section>`` (every text escaped)."""
    lin = data["lineage"]

    def esc(text: str) -> str:
        return html.escape(visible(text), quote=True)

    head = "".join(f"<th>{esc(h)}</th>" for h in _header(lin))
    body = []
    for cells in _rows(lin):
        kind = "baseline" if cells[0] == "baseline" else ("step" if cells[0] == "step" else "candidate")
        tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
        body.append(f'<tr class="{kind}">{tds}</tr>')
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in data.get("notes", []))
    return (
        f'<section id="lineage"><h2>Lineage: {esc(_title(data))}</h2><p>{esc(_explanation(data))}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{notes}</section>"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:right;white-space:nowrap}td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}"
    "tr.baseline{background:#f3f3f3}tr.step{color:#555;font-style:italic}"
    "iframe{width:100%;height:720px;border:1px solid #ccc;resize:vertical}.note{color:#a50}"
)


def render_html(data: Mapping[str, Any], pages: Sequence[str] | None = None) -> str:
    """One offline page: the lineage table, then each candidate's HTML report in a sandboxed frame.

    Each two-run report is the page :func:`deltaeval.report.html.render_html` writes, whole, in the
    ``srcdoc`` of a frame sandboxed without same-origin (as a notebook shows it), so its script and
    ids stay inside; this page's Content-Security-Policy forbids any network load. ``pages``: those
    pages already rendered (a fresh comparison's viewer holds every paired example), else rendered
    from the JSON.
    """
    from deltaeval.report.html import CONTENT_SECURITY_POLICY
    from deltaeval.report.html import render_html as render_pair

    frames = []
    for i, comparison in enumerate(data["comparisons"]):
        title = html.escape(visible(f"{comparison['old']['name']} → {comparison['new']['name']}"), quote=True)
        page = html.escape(pages[i] if pages is not None else render_pair(comparison), quote=True)
        frames.append(
            f'<section id="comparison-{i + 1}"><h2>{title}</h2>'
            f'<iframe title="{title}" sandbox="allow-scripts" srcdoc="{page}"></iframe></section>'
        )
    title = html.escape(visible(_title(data)), quote=True)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f"<title>deltaeval lineage: {title}</title><style>{_STYLE}</style></head>"
        f"<body><h1>deltaeval lineage: {title}</h1>{lineage_html(data)}{''.join(frames)}</body></html>\n"
    )
