"""The ``deltaeval embeddings`` report in the terminal, in Markdown and as one HTML file.

Each renders the JSON report (:func:`deltaeval.embeddings.api.compare_embeddings`) and nothing
else: the 2×2 table (old/new query × old/new gallery) of recall@k and MRR with intervals, the
differences that decide the verdict, linear CKA, the learned maps' recovery, and the verdict.
Every text from the report (model names, paths, notes) is untrusted: control characters are made
visible, and Markdown and HTML escape it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from deltaeval.report import _format as fmt
from deltaeval.textsafe import visible

if TYPE_CHECKING:
    from rich.console import Console

METRICS = ("recall@1", "recall@5", "recall@10", "mrr")
#: (query model, gallery model) → direction key
CELLS = {
    ("old", "old"): "old->old",
    ("old", "new"): "old->new",
    ("new", "old"): "new->old",
    ("new", "new"): "new->new",
}


def _est(block: Any, *, diff: bool = False, plain: bool = False) -> str:
    """``61.2% [58.0%, 64.5%]``, ``+1.0 pp [-0.5, +2.4] pp`` for a difference, ``0.712 [0.690, 0.735]``
    for a plain number (MRR)."""
    if not isinstance(block, Mapping):
        return fmt.MISSING
    if plain:
        number = fmt.signed if diff else fmt.num
        low, high = (block.get("ci") or [None, None])[:2]
        return f"{number(block.get('value'))} [{number(low)}, {number(high)}]"
    if diff:
        return f"{fmt.pp(block.get('value'))} {fmt.pp_ci(block.get('ci'))}"
    return f"{fmt.pct(block.get('value'))} {fmt.pct_ci(block.get('ci'))}"


def _arrow(direction: str) -> str:
    """``new->old`` → ``new→old`` (query model → gallery model)."""
    return direction.replace("->", "→").replace(" - ", " − ")


def _text(value: Any) -> str:
    return visible(str(value if value is not None else ""))


def summary_lines(report: Mapping[str, Any]) -> dict[str, Any]:
    """What every format shows, as plain (not yet escaped) strings."""
    section = report.get("embeddings") or {}
    settings = section.get("settings") or {}
    verdict = section.get("verdict") or {}
    retrieval = section.get("retrieval") or {}
    table = []
    for query in ("old", "new"):
        row = [f"{query} queries"]
        for gallery in ("old", "new"):
            block = retrieval.get(CELLS[(query, gallery)])
            row.append("n/a (dimensions differ)" if block is None else _est(block.get("recall@1")))
        table.append(row)
    metrics = []
    for key in ("old->old", "new->new", "new->old", "old->new"):
        block = retrieval.get(key)
        metrics.append(
            [_arrow(key)] + [_est(block.get(m), plain=m == "mrr") if block else "n/a" for m in METRICS]
        )
    diffs = [
        [_arrow(name)] + [_est(block.get(m), diff=True, plain=m == "mrr") for m in METRICS]
        for name, block in (section.get("differences") or {}).items()
    ]
    maps = section.get("maps")
    map_rows = []
    split = ""
    if maps:
        s = maps["split"]
        split = (
            f"fitted on {s['train_queries'] + s['validation_queries']} queries"
            f" ({s['validation_queries']} of them"
            f" choose the ridge penalty) and {s['fit_gallery_items']} gallery items; tested on"
            f" {s['test_queries']} held-out queries"
        )
        test = maps["test"]
        map_rows.append(["new→new (target)", _est(test["new->new"]["recall@1"]), "100%"])
        if test.get("new->old"):
            map_rows.append(["new→old, no map", _est(test["new->old"]["recall@1"]), ""])
        for m in maps["maps"]:
            label = m["method"] + (f" (penalty {m['penalty']:.3g})" if m["method"] == "ridge" else "")
            rec = m["recovery"]
            map_rows.append(
                [
                    f"new→mapped old: {label}",
                    _est(m["retrieval"]["recall@1"]),
                    f"{fmt.pct(rec['value'])} {fmt.pct_ci(rec['ci'])}",
                ]
            )
    share = verdict.get("cross_share_of_old")
    cka = section.get("cka") or {}
    return {
        "title": f"Can new queries search the old gallery? {_text((report.get('old') or {}).get('model'))}"
        f" → {_text((report.get('new') or {}).get('model'))}",
        "verdict": str(verdict.get("label", "")),
        "reason": _text(verdict.get("reason", "")),
        "criterion": _text(verdict.get("criterion", "")),
        "task": f"{_text((report.get('task') or {}).get('source'))}: {section.get('n_queries')} queries,"
        f" {section.get('n_gallery')} gallery items, dimensions old {(section.get('dims') or {}).get('old')}"
        f" / new {(section.get('dims') or {}).get('new')}",
        "table": table,
        "metrics": metrics,
        "diffs": diffs,
        "share": f"{fmt.pct((share or {}).get('value'))} {fmt.pct_ci((share or {}).get('ci'))}"
        if share
        else "n/a",
        "cka": f"{fmt.num(cka.get('linear'))} (linear CKA on the {cka.get('n')} gallery items)",
        "maps": map_rows,
        "split": split,
        "intervals": f"{fmt.level(settings.get('confidence_level'))} intervals:"
        " paired bootstrap over queries,"
        f" {settings.get('n_boot')} replicates, seed {settings.get('seed')} (one set of replicates for every"
        " metric and difference)",
        "notes": [_text(n) for n in report.get("notes") or []],
    }


def render_terminal(report: Mapping[str, Any], console: Console) -> None:
    """The report on a rich console (no markup read from the report)."""
    from rich.table import Table
    from rich.text import Text

    s = summary_lines(report)
    console.print(Text(s["title"], style="bold"))
    console.print(Text(s["task"]))
    grid = Table(title="recall@1: query model × gallery model", title_justify="left")
    grid.add_column("")
    grid.add_column("old gallery")
    grid.add_column("new gallery")
    for row in s["table"]:
        grid.add_row(*(Text(c) for c in row))
    console.print(grid)
    table = Table(title="retrieval", title_justify="left")
    for head in ("direction", *METRICS):
        table.add_column(head)
    for row in s["metrics"] + s["diffs"]:
        table.add_row(*(Text(c) for c in row))
    console.print(table)
    console.print(Text(f"new→old keeps {s['share']} of old→old recall@1; {s['cka']}"))
    if s["maps"]:
        maps = Table(title=f"learned maps old → new ({s['split']})", title_justify="left")
        for head in ("held-out queries search", "recall@1", "recovers of new→new"):
            maps.add_column(head)
        for row in s["maps"]:
            maps.add_row(*(Text(c) for c in row))
        console.print(maps)
    style = {"compatible": "green", "partly": "yellow", "incompatible": "red"}.get(s["verdict"], "")
    console.print(Text(f"verdict: {s['verdict']} — {s['reason']}", style=style))
    console.print(Text(s["intervals"]))
    for note in s["notes"]:
        console.print(Text(f"note: {note}"))


def _md(text: str) -> str:
    """Markdown-safe text (table cells included)."""
    out = html.escape(text, quote=False)
    for char in "\\`*_[]|#!":
        out = out.replace(char, "\\" + char)
    return out.replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown."""
    s = summary_lines(report)
    lines = [f"## {_md(s['title'])}", "", _md(s["task"]), ""]
    lines += [f"**Verdict: {_md(s['verdict'])}** — {_md(s['reason'])}", "", _md(s["criterion"]), ""]
    lines += ["### recall@1: query model × gallery model", ""]
    lines += [*_md_table(["", "old gallery", "new gallery"], s["table"]), ""]
    lines += ["### Retrieval", "", *_md_table(["direction", *METRICS], s["metrics"] + s["diffs"]), ""]
    lines += [_md(f"new→old keeps {s['share']} of old→old recall@1; {s['cka']}"), ""]
    if s["maps"]:
        lines += ["### Learned maps old → new", "", _md(s["split"]), ""]
        lines += [*_md_table(["held-out queries search", "recall@1", "recovers of new→new"], s["maps"]), ""]
    lines += [_md(s["intervals"]), ""]
    lines += [f"- note: {_md(n)}" for n in s["notes"]]
    return "\n".join(lines).rstrip() + "\n"


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.compatible{color:#060}.partly{color:#960}"
    ".incompatible{color:#a00}"
)


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_h(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "".join(out) + "</table>"


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page (every text escaped)."""
    s = summary_lines(report)
    verdict_class = s["verdict"] if s["verdict"] in ("compatible", "partly", "incompatible") else ""
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{_h(s['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_h(s['title'])}</h1><p>{_h(s['task'])}</p>",
        f"<p class={verdict_class}><strong>Verdict: {_h(s['verdict'])}</strong> — {_h(s['reason'])}</p>",
        f"<p>{_h(s['criterion'])}</p>",
        "<h2>recall@1: query model × gallery model</h2>",
        _html_table(["", "old gallery", "new gallery"], s["table"]),
        "<h2>Retrieval</h2>",
        _html_table(["direction", *METRICS], s["metrics"] + s["diffs"]),
        f"<p>{_h('new→old keeps ' + s['share'] + ' of old→old recall@1; ' + s['cka'])}</p>",
    ]
    if s["maps"]:
        parts += [
            f"<h2>Learned maps old → new</h2><p>{_h(s['split'])}</p>",
            _html_table(["held-out queries search", "recall@1", "recovers of new→new"], s["maps"]),
        ]
    parts.append(f"<p>{_h(s['intervals'])}</p>")
    parts += [f"<p>note: {_h(n)}</p>" for n in s["notes"]]
    parts.append("</body></html>\n")
    return "".join(parts)
