"""The ``weights`` report (``deltaeval weights``) in the terminal, in Markdown and as HTML.

Every renderer reads the JSON report (:func:`deltaeval.weights.compare_weights`). Tensor names,
paths and formats come from the checkpoint files and are untrusted: in the terminal they are
plain rich ``Text`` with controls made visible; in Markdown they pass through
:func:`deltaeval.report.markdown.md_inline`; in HTML (and in the SVG chart) through
:func:`deltaeval.textsafe.visible` and :func:`html.escape`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from deltaeval.textsafe import visible

if TYPE_CHECKING:
    from rich.console import Console

#: Tensors listed, largest relative change first.
TOP_TENSORS = 15
#: The rank whose energy share the tables show.
SHOWN_RANK = "8"
_MISSING = "—"


def _pct(x: Any, digits: int = 2) -> str:
    if x is None:
        return _MISSING
    value = 100 * float(x)
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.1e}%"
    return f"{value:.{digits}f}%"


def _num(x: Any, digits: int = 4) -> str:
    return _MISSING if x is None else f"{float(x):.{digits}g}"


def _shape(shape: Sequence[int]) -> str:
    return "×".join(str(s) for s in shape) or "scalar"


def _rank(spectrum: Mapping[str, Any] | None) -> str:
    if not spectrum:
        return _MISSING
    rank = spectrum.get("rank_at_energy")
    if rank is None:
        if spectrum.get("method") == "screened":  # a flat delta: its rank is only bounded from below
            return f">{spectrum['rank_at_energy_above']}"
        return f">{spectrum['searched']}" if spectrum.get("searched") else _MISSING
    return str(rank)


def _checkpoint_line(side: Mapping[str, Any]) -> str:
    return (
        f"{side['path']} ({side['format']}, {side['tensors']:,} tensors, {side['parameters']:,} parameters)"
    )


def _matching_line(report: Mapping[str, Any]) -> str:
    m = report["matching"]
    by = ", ".join(f"{n} by {how}" for how, n in sorted(m["by"].items()))
    return (
        f"{m['matched']} matched ({by or 'none'}); {len(m['renamed'])} renamed,"
        f" {len(m['transposed'])} transposed, {len(m['added'])} added, {len(m['removed'])} removed"
        + (f", {len(m['conflicts'])} with different shapes" if m["conflicts"] else "")
    )


#: Names listed per kind (added, removed, conflicting); the JSON lists them all.
LISTED_NAMES = 5


def _unmatched_lines(report: Mapping[str, Any]) -> list[str]:
    """``added: a, b, … (n)`` and the like, for what did not match."""
    m = report["matching"]
    lines = []
    for label, names in (
        ("only in new", m["added"]),
        ("only in old", m["removed"]),
        ("same name, different shape", [c["old"] for c in m["conflicts"]]),
    ):
        if names:
            shown = ", ".join(names[:LISTED_NAMES])
            more = f" and {len(names) - LISTED_NAMES} more" if len(names) > LISTED_NAMES else ""
            lines.append(f"{label}: {shown}{more}")
    return lines


def _top_tensors(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = [t for t in report["tensors"] if (t.get("rel_change") or 0) > 0]
    rows.sort(key=lambda t: -(t.get("rel_change") or 0))
    return rows[:TOP_TENSORS]


def _layer_cells(layer: Mapping[str, Any]) -> list[str]:
    top = (layer.get("top_share") or {}).get(SHOWN_RANK)
    return [
        f"{layer['moved']}/{layer['tensors']}",
        _pct(layer["rel_change"]),
        _num(layer["cosine"], 6),
        _pct(layer["changed_share"], 1),
        _pct(top, 1),
    ]


def _tensor_cells(t: Mapping[str, Any]) -> list[str]:
    spectrum = t.get("spectrum") or {}
    top = (spectrum.get("top_share") or {}).get(SHOWN_RANK)
    return [
        _shape(t["shape"]),
        _pct(t["rel_change"]),
        _num(t["cosine"], 6),
        _num(t["max_abs_change"], 3),
        _pct(t["changed_share"], 1),
        _pct(t["sign_agreement"], 1),
        _rank(t.get("spectrum")),
        _pct(top, 1),
    ]


_LAYER_HEADER = ["layer", "moved", "rel. change", "cosine", "changed", f"top-{SHOWN_RANK} energy"]
_TENSOR_HEADER = [
    "tensor",
    "shape",
    "rel. change",
    "cosine",
    "max Δ",
    "changed",
    "same sign",
    "rank",
    "top-8",
]


def _kinship_lines(report: Mapping[str, Any]) -> list[str]:
    kin = report.get("kinship")
    if not kin:
        return []
    lines = [
        f"kinship of the two deltas from the base ({kin['tensors']} tensors):"
        f" cosine {_num(kin['cosine'], 4)}, shared energy {_pct(kin['shared_energy'], 1)},"
        f" sign agreement {_pct(kin['sign_agreement'], 1)}"
        f" of {kin['both_changed']:,} entries both changed"
    ]
    tolerance = report["settings"]["dare"]["tolerance"]
    for side in ("old", "new"):
        dare = report["dare"][side]
        rates = ", ".join(
            f"p={r['p']:g}: {_pct(r['weights_rel_error'], 2)} of the weights"
            f" ({_num(r['delta_rel_error'], 3)}× the delta)"
            for r in dare["rates"]
        )
        best = dare["largest_p_within"]
        verdict = (
            f"up to {best:g} of the delta can be dropped" if best is not None else "no tested drop rate stays"
        )
        lines.append(f"DARE, {side} − base: {rates}; {verdict} within {_pct(tolerance, 1)} of the weights")
    return lines


# -- terminal ----------------------------------------------------------------------------------


def render_terminal(report: Mapping[str, Any], console: Console) -> None:
    """The report on a rich console (names as plain text, controls made visible)."""
    from rich.text import Text

    from deltaeval.report.terminal import _table

    def line(text: str, style: str = "") -> None:
        console.print(Text(visible(text), style=style))

    line(f"old: {_checkpoint_line(report['old'])}")
    line(f"new: {_checkpoint_line(report['new'])}")
    if report.get("base"):
        line(f"base: {_checkpoint_line(report['base'])}")
    summary = report["summary"]
    line(summary["text"], "bold")
    for item in summary["evidence"]:
        line(f"  {item}")
    line(_matching_line(report))
    for text in _unmatched_lines(report):
        line(f"  {text}")
    o = report["overall"]
    line(
        f"overall: relative change {_pct(o['rel_change'])}, cosine {_num(o['cosine'], 6)}, largest change"
        f" {_num(o['max_abs_change'], 3)}, {_pct(o['changed_share'], 1)} of entries changed,"
        f" {_pct(o['sign_agreement'], 1)} keep their sign"
    )
    layers = _table("per layer", *_LAYER_HEADER)
    for layer in report["layers"]:
        layers.add_row(Text(visible(layer["layer"])), *_layer_cells(layer))
    console.print(layers)
    top = _top_tensors(report)
    if top:
        tensors = _table(
            "largest changes",
            *_TENSOR_HEADER,
            caption=f"rank: singular values holding {report['settings']['rank_energy']:g}"
            " of the delta's energy",
        )
        for t in top:
            tensors.add_row(Text(visible(t["name"])), *_tensor_cells(t))
        console.print(tensors)
    for text in _kinship_lines(report):
        line(text)


# -- Markdown ----------------------------------------------------------------------------------


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown (names escaped by ``md_inline``)."""
    from deltaeval.report.markdown import _table, md_inline

    summary = report["summary"]
    parts = [
        "## What changed in the weights",
        f"**{md_inline(summary['text'])}**",
        "\n".join(f"- {md_inline(e)}" for e in summary["evidence"]),
        "\n".join(
            [
                f"- old: {md_inline(_checkpoint_line(report['old']))}",
                f"- new: {md_inline(_checkpoint_line(report['new']))}",
            ]
            + ([f"- base: {md_inline(_checkpoint_line(report['base']))}"] if report.get("base") else [])
            + [f"- {md_inline(_matching_line(report))}"]
            + [f"  - {md_inline(u)}" for u in _unmatched_lines(report)]
        ),
        "### Per layer",
        _table(
            _LAYER_HEADER,
            [[md_inline(layer["layer"]), *_layer_cells(layer)] for layer in report["layers"]],
            "lrrrrr",
        ),
    ]
    top = _top_tensors(report)
    if top:
        parts += [
            "### Largest changes",
            _table(_TENSOR_HEADER, [[md_inline(t["name"]), *_tensor_cells(t)] for t in top], "lrrrrrrrr"),
        ]
    kin = _kinship_lines(report)
    if kin:
        parts += ["### Kinship and DARE", "\n".join(f"- {md_inline(k)}" for k in kin)]
    return "\n\n".join(parts) + "\n"


# -- HTML --------------------------------------------------------------------------------------


def _h(text: Any) -> str:
    return html.escape(visible(str(text)), quote=True)


#: Characters of a layer name shown beside its bar (the bar's tooltip has the whole name).
CHART_LABEL = 28


def _short(name: str) -> str:
    return name if len(name) <= CHART_LABEL else name[: CHART_LABEL - 1] + "…"


def layer_chart(layers: Sequence[Mapping[str, Any]], *, width: int = 720, bar: int = 18) -> str:
    """An inline SVG: one horizontal bar per layer, its length the layer's relative change."""
    label_w, value_w = 200, 90
    span = width - label_w - value_w
    top = max((layer.get("rel_change") or 0.0 for layer in layers), default=0.0) or 1.0
    height = bar * len(layers) + 4
    rows = []
    for i, layer in enumerate(layers):
        rel = layer.get("rel_change") or 0.0
        y = i * bar + 2
        length = max(0.0, span * rel / top)
        rows.append(
            f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end">{_h(_short(layer["layer"]))}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{bar - 4}" fill="#4a7bd0">'
            f"<title>{_h(layer['layer'])}: {_h(_pct(rel))}</title></rect>"
            f'<text x="{label_w + length + 4:.1f}" y="{y + bar - 5}">{_h(_pct(rel))}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img"'
        f' aria-label="relative change per layer" font-family="sans-serif" font-size="12">'
        + "".join(rows)
        + "</svg>"
    )


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Mapping[str, Any]) -> str:
    """A self-contained HTML page (no network, no script) with the per-layer chart."""
    from deltaeval.report.html import CONTENT_SECURITY_POLICY

    summary = report["summary"]
    checkpoints = [f"old: {_checkpoint_line(report['old'])}", f"new: {_checkpoint_line(report['new'])}"]
    if report.get("base"):
        checkpoints.append(f"base: {_checkpoint_line(report['base'])}")
    body = [
        "<h1>What changed in the weights</h1>",
        f'<p class="summary">{_h(summary["text"])}</p>',
        "<ul>" + "".join(f"<li>{_h(e)}</li>" for e in summary["evidence"]) + "</ul>",
        "<ul>"
        + "".join(
            f"<li>{_h(c)}</li>" for c in [*checkpoints, _matching_line(report), *_unmatched_lines(report)]
        )
        + "</ul>",
        "<h2>Relative change per layer</h2>",
        layer_chart(report["layers"]),
        _html_table(_LAYER_HEADER, [[layer["layer"], *_layer_cells(layer)] for layer in report["layers"]]),
    ]
    top = _top_tensors(report)
    if top:
        body += [
            "<h2>Largest changes</h2>",
            _html_table(_TENSOR_HEADER, [[t["name"], *_tensor_cells(t)] for t in top]),
        ]
    kin = _kinship_lines(report)
    if kin:
        body += ["<h2>Kinship and DARE</h2>", "<ul>" + "".join(f"<li>{_h(k)}</li>" for k in kin) + "</ul>"]
    style = (
        "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;"
        "text-align:right}td:first-child,th:first-child{text-align:left;word-break:break-all}"
        ".summary{font-size:1.2rem;font-weight:bold}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CONTENT_SECURITY_POLICY)}">'
        f"<title>deltaeval weights: {_h(summary['text'])}</title><style>{style}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
