"""The ``datadiff`` report (``deltaeval datadiff``) in the terminal, in Markdown and as HTML.

Every renderer reads the JSON report (:func:`deltaeval.datadiff.datadiff`). Inputs, cluster
labels, run and dataset names come from the user's files and are untrusted: in the terminal they
are plain rich ``Text`` with controls made visible; in Markdown they pass through
:func:`deltaeval.report.markdown.md_inline`; in HTML through :func:`deltaeval.textsafe.visible`
and :func:`html.escape`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from deltaeval.textsafe import visible

if TYPE_CHECKING:
    from rich.console import Console

_MISSING = "—"
#: Features and clusters listed.
TOP_ROWS = 12
#: Characters of an example shown in a table.
EXAMPLE_CHARS = 160
FEATURE_HEADER = ("feature", "old", "new", "new − old [interval]", "q")
CLUSTER_HEADER = ("cluster (top terms)", "status", "old", "new", "new − old [interval]", "q")
EXAMPLE_HEADER = ("side", "p(new)", "id", "input")


def _pct(x: Any) -> str:
    return _MISSING if x is None else f"{100 * float(x):.1f}%"


def _pp(x: Any) -> str:
    return _MISSING if x is None else f"{100 * float(x):+.1f}"


def _num(x: Any, digits: int = 3) -> str:
    return _MISSING if x is None else f"{float(x):.{digits}g}"


def _diff(row: Mapping[str, Any]) -> str:
    low, high = (row.get("ci") or [None, None])[:2]
    if row.get("kind") == "share":
        return f"{_pp(row['difference'])} pp [{_pp(low)}, {_pp(high)}]"
    return f"{_num(row['difference'])} [{_num(low)}, {_num(high)}]"


def _value(row: Mapping[str, Any], key: str) -> str:
    return _pct(row[key]) if row.get("kind") == "share" else _num(row[key], 4)


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:EXAMPLE_CHARS]


def _feature_cells(row: Mapping[str, Any]) -> list[str]:
    return [row["label"], _value(row, "old"), _value(row, "new"), _diff(row), _num(row["q_value"], 2)]


def _cluster_cells(row: Mapping[str, Any]) -> list[str]:
    return [
        row["label"],
        row["status"],
        f"{_pct(row['old'])} ({row['old_count']})",
        f"{_pct(row['new'])} ({row['new_count']})",
        _diff(row),
        _num(row["q_value"], 2),
    ]


def _example_rows(section: Mapping[str, Any]) -> list[list[str]]:
    examples = section.get("examples") or {}
    rows = []
    for item in [*examples.get("most_new", []), *examples.get("most_old", [])]:
        rows.append([item["side"], f"{item['p_new']:.3f}", str(item["id"]), _one_line(item["text"])])
    return rows


def finding_lines(section: Mapping[str, Any]) -> list[str]:
    """The two-sample tests and the accuracy estimate, one plain line each."""
    clf = section["classifier"]
    auc = clf["auroc"]
    acc = clf["accuracy"]
    mmd = section["mmd"]
    lines = [
        f"classifier two-sample test: held-out AUROC {_num(auc['value'])} [{_num(auc['ci'][0])},"
        f" {_num(auc['ci'][1])}] (DeLong), p {_num(clf['p_value'], 2)}; held-out accuracy"
        f" {_pct(acc['value'])} vs majority {_pct(acc['majority_rate'])}, p {_num(acc['p_value'], 2)}",
        f"MMD test on {mmd.get('vectors', '?')}: MMD² {_num(mmd.get('mmd2'))},"
        f" p {_num(mmd.get('p_value'), 2)} ({mmd.get('permutations', 0)} permutations)",
    ]
    acc_block = section.get("accuracy")
    if acc_block:
        old, rew = acc_block["old_accuracy"], acc_block["reweighted_accuracy"]
        shift = acc_block["data_shift"]
        ci = rew.get("ci") or [None, None]
        sci = shift.get("ci") or [None, None]
        lines.append(
            f"run {acc_block['run']}: accuracy {_pct(old['value'])} on the old data, reweighted to the new"
            f" data {_pct(rew['value'])} [{_pct(ci[0])}, {_pct(ci[1])}] (effective sample size"
            f" {acc_block['effective_sample_size']:.0f} of {acc_block['n']}, weights clipped at"
            f" {acc_block['clip']:g}); the data accounts for {_pp(shift['value'])} pp"
            f" [{_pp(sci[0])}, {_pp(sci[1])}]"
        )
        if acc_block.get("new_accuracy"):
            new = acc_block["new_accuracy"]
            drop = acc_block["drop"]
            lines.append(
                f"run {acc_block['new_run']} on the new data: {_pct(new['value'])}; change"
                f" {_pp(drop['total'])} pp = {_pp(drop['from_data'])} pp from the data +"
                f" {_pp(drop['rest'])} pp the rest"
            )
    return lines


def _head_lines(section: Mapping[str, Any]) -> list[str]:
    old, new = section["old"], section["new"]
    return [f"old: {old['name']} ({old['n']} inputs); new: {new['name']} ({new['n']} inputs)"]


# -- terminal ----------------------------------------------------------------------------------


def render_terminal(report: Mapping[str, Any], console: Console) -> None:
    """The report on a rich console (texts as plain ``Text``, controls made visible)."""
    from rich.text import Text

    from deltaeval.report.terminal import _table

    section = report["datadiff"]

    def line(text: str, style: str = "") -> None:
        console.print(Text(visible(text), style=style))

    for text in _head_lines(section):
        line(text)
    line(section["verdict"]["summary"], "bold")
    for text in finding_lines(section):
        line(text)
    for title, header, rows, cells in (
        ("input features", FEATURE_HEADER, section["features"], _feature_cells),
        ("clusters", CLUSTER_HEADER, section["clusters"], _cluster_cells),
    ):
        table = _table(title, *header)
        for row in rows[:TOP_ROWS]:
            table.add_row(*(Text(visible(c)) for c in cells(row)))
        console.print(table)
    examples = _example_rows(section)
    if examples:
        table = _table("most distinguishing inputs", *EXAMPLE_HEADER)
        for row in examples:
            table.add_row(*(Text(visible(c)) for c in row))
        console.print(table)


# -- Markdown ----------------------------------------------------------------------------------


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown (texts escaped by ``md_inline``)."""
    from deltaeval.report.markdown import _table, md_inline

    section = report["datadiff"]
    parts = [
        "## What changed in the data",
        f"**{md_inline(section['verdict']['summary'])}**",
        "\n".join(f"- {md_inline(t)}" for t in [*_head_lines(section), *finding_lines(section)]),
        "### Input features",
        _table(
            FEATURE_HEADER,
            [[md_inline(c) for c in _feature_cells(r)] for r in section["features"][:TOP_ROWS]],
            "lrrrr",
        ),
        "### Clusters",
        _table(
            CLUSTER_HEADER,
            [[md_inline(c) for c in _cluster_cells(r)] for r in section["clusters"][:TOP_ROWS]],
            "llrrrr",
        ),
    ]
    examples = _example_rows(section)
    if examples:
        parts += [
            "### Most distinguishing inputs",
            _table(EXAMPLE_HEADER, [[md_inline(c) for c in r] for r in examples], "lrll"),
        ]
    return "\n\n".join(parts) + "\n"


# -- HTML --------------------------------------------------------------------------------------


def _h(text: Any) -> str:
    return html.escape(visible(str(text)), quote=True)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Mapping[str, Any]) -> str:
    """A self-contained HTML page (no network, no script)."""
    from deltaeval.report.html import CONTENT_SECURITY_POLICY

    section = report["datadiff"]
    summary = section["verdict"]["summary"]
    body = [
        "<h1>What changed in the data</h1>",
        f'<p class="summary">{_h(summary)}</p>',
        "<ul>"
        + "".join(f"<li>{_h(t)}</li>" for t in [*_head_lines(section), *finding_lines(section)])
        + "</ul>",
        "<h2>Input features</h2>",
        _html_table(FEATURE_HEADER, [_feature_cells(r) for r in section["features"][:TOP_ROWS]]),
        "<h2>Clusters</h2>",
        _html_table(CLUSTER_HEADER, [_cluster_cells(r) for r in section["clusters"][:TOP_ROWS]]),
    ]
    examples = _example_rows(section)
    if examples:
        body += ["<h2>Most distinguishing inputs</h2>", _html_table(EXAMPLE_HEADER, examples)]
    style = (
        "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;"
        "text-align:left;vertical-align:top}.summary{font-size:1.1rem;font-weight:bold}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CONTENT_SECURITY_POLICY)}">'
        f"<title>deltaeval datadiff: {_h(summary)}</title><style>{style}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
