"""Charts of a report as self-contained SVG: pure, deterministic, no dependency.

:func:`charts_for` reads a JSON report (docs/report-schema.md) and returns one :class:`Chart`
per figure worth looking at:

- ``flips_by_<tag>``: NFR and PFR per slice of each ``slices`` block, with their intervals;
- ``behaviour_axes``: each behaviour axis's AUROC (new vs old) with its interval, 0.5 = no change;
- ``win_rate_by_<tag>``: the judge's win rate of new per tag value (``preference.by_tag``), 0.5 = tie;
- ``ranking``: Bradley–Terry ratings with intervals (a ``deltaeval rank`` report).

Each chart is a dot plot with one row per item: a point at the estimate and a whisker from the
interval's low to its high end, clipped to the axis (a clipped end is marked ``clipped``). Marks
carry classes for tools and tests: ``point`` and ``whisker`` (plus the series, e.g. ``nfr``),
``reference`` for the zero or chance line. At most :data:`MAX_ROWS` rows are drawn; the chart
says which were kept. Labels (tag values, axis and run names) are untrusted: they pass through
:func:`deltaeval.textsafe.visible` and are XML-escaped, and long ones are cut (the row's tooltip
has the whole label). The same report gives byte-identical SVG. The palette is Okabe–Ito
(colour-blind safe), and series differ by shape as well as colour.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deltaeval.textsafe import visible

#: Rows drawn at most per chart (the largest slices, the most separable axes …).
MAX_ROWS = 25
#: Characters of a row label shown (its tooltip keeps the whole label).
LABEL_CHARS = 28
WIDTH = 760
_ROW = 22
_LABEL_W = 200
_VALUE_W = 190
_X0 = _LABEL_W
_X1 = WIDTH - _VALUE_W
# Okabe–Ito: vermillion, blue, bluish green; grey for reference lines.
_VERMILLION = "#D55E00"
_BLUE = "#0072B2"
_GREEN = "#009E73"
_GREY = "#888888"


@dataclass(frozen=True)
class Chart:
    """One chart: a file-safe ``name``, a plain-text ``title``, the ``svg`` text, and ``marks``,
    the number of point marks drawn (one per estimate shown)."""

    name: str
    title: str
    svg: str
    marks: int


@dataclass(frozen=True)
class _Series:
    key: str  # CSS class of the series' marks
    label: str
    colour: str
    shape: str  # "circle" | "square"


@dataclass(frozen=True)
class _Row:
    label: str
    values: tuple[tuple[float | None, float | None, float | None], ...]  # (estimate, low, high) per series
    text: str  # the value column
    hollow: bool = False


def _h(text: Any) -> str:
    return html.escape(visible(str(text)), quote=True)


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _short(label: str) -> str:
    """``label`` cut to LABEL_CHARS columns (a wide CJK character counts two)."""
    if sum(_width(c) for c in label) <= LABEL_CHARS:
        return label
    out, used = [], 0
    for char in label:
        used += _width(char)
        if used > LABEL_CHARS - 1:
            break
        out.append(char)
    return "".join(out) + "…"


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _ci(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _num(value[0]), _num(value[1])
    return None, None


def _f(x: float) -> str:
    """A coordinate, fixed to one decimal (deterministic text)."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / target if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power * (1 + 1e-9):
            return m * power
    return 10 * power


def _ticks(lo: float, hi: float) -> list[float]:
    step = _nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def slug(text: str, used: set[str] | None = None) -> str:
    """A file-name-safe form of untrusted ``text`` (``[a-z0-9_]``, at most 40 characters).

    With ``used``, a suffix (``_2``, ``_3`` …) keeps it unique there, and it is added to ``used``.
    """
    base = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:40] or "tag"
    name, k = base, 2
    while used is not None and name in used:
        name, k = f"{base}_{k}", k + 1
    if used is not None:
        used.add(name)
    return name


def _dot_plot(
    *,
    title: str,
    series: Sequence[_Series],
    rows: Sequence[_Row],
    domain: tuple[float, float],
    tick_text: Callable[[float], str],
    axis_label: str,
    reference: float | None = None,
    note: str | None = None,
) -> tuple[str, int]:
    """The SVG text of a dot plot with whiskers, and its number of point marks."""
    lo, hi = domain

    def x(v: float) -> float:
        return _X0 + (_X1 - _X0) * (v - lo) / (hi - lo)

    def clip(v: float) -> tuple[float, bool]:
        return (min(max(x(v), _X0), _X1), v < lo or v > hi)

    top = 30 + (18 if len(series) > 1 else 0) + (18 if note else 0)
    plot_h = max(1, len(rows)) * _ROW
    height = top + plot_h + 44
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="deltaeval-chart" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_h(title)}"'
        ' font-family="sans-serif" font-size="12">',
        f"<title>{_h(title)}</title>",
        f'<text class="chart-title" x="8" y="18" font-size="14" font-weight="bold">{_h(title)}</text>',
    ]
    y = 30
    if len(series) > 1:
        lx = _X0
        for s in series:
            parts.append(_shape(s, lx + 5, y + 6, hollow=False, cls="legend-mark"))
            parts.append(f'<text class="legend" x="{_f(lx + 14)}" y="{y + 10}">{_h(s.label)}</text>')
            lx += 24 + 7 * len(s.label)
        y += 18
    if note:
        parts.append(f'<text class="note" x="8" y="{y + 10}" fill="#555">{_h(note)}</text>')
    plot_top, plot_bottom = top, top + plot_h
    grid = []
    for t in _ticks(lo, hi):
        tx = _f(x(t))
        grid.append(f'<line x1="{tx}" y1="{plot_top}" x2="{tx}" y2="{plot_bottom}" stroke="#e4e4e4"/>')
        grid.append(f'<text x="{tx}" y="{plot_bottom + 14}" text-anchor="middle">{_h(tick_text(t))}</text>')
    parts.append('<g class="grid">' + "".join(grid) + "</g>")
    parts.append(
        f'<line class="axis" x1="{_X0}" y1="{plot_bottom}" x2="{_X1}" y2="{plot_bottom}" stroke="#444"/>'
    )
    if reference is not None and lo <= reference <= hi:
        rx = _f(x(reference))
        parts.append(
            f'<line class="reference" x1="{rx}" y1="{plot_top}" x2="{rx}" y2="{plot_bottom}"'
            ' stroke="#444" stroke-dasharray="4 3"/>'
        )
    parts.append(
        f'<text class="axis-label" x="{_f((_X0 + _X1) / 2)}" y="{plot_bottom + 32}"'
        f' text-anchor="middle">{_h(axis_label)}</text>'
    )
    marks = 0
    offsets = [0.0] if len(series) == 1 else [-4.0, 4.0][: len(series)]
    for i, row in enumerate(rows):
        cy = plot_top + i * _ROW + _ROW / 2
        cells = [
            f'<text class="label" x="{_X0 - 8}" y="{_f(cy + 4)}" text-anchor="end">'
            f"<title>{_h(row.label)}</title>{_h(_short(row.label))}</text>"
        ]
        for s, dy, (est, low, high) in zip(series, offsets, row.values, strict=False):
            yy = cy + dy
            if low is not None and high is not None:
                (x_lo, cut_lo), (x_hi, cut_hi) = clip(low), clip(high)
                cls = f"whisker {s.key}" + (" clipped" if cut_lo or cut_hi else "")
                cells.append(
                    f'<line class="{cls}" x1="{_f(x_lo)}" y1="{_f(yy)}" x2="{_f(x_hi)}" y2="{_f(yy)}"'
                    f' stroke="{s.colour}" stroke-width="1.5"/>'
                )
            if est is not None and lo <= est <= hi:
                tip = f"{row.label}: {s.label}"
                cells.append(_shape(s, x(est), yy, hollow=row.hollow, cls=f"point {s.key}", tip=tip))
                marks += 1
        cells.append(f'<text class="value" x="{_X1 + 8}" y="{_f(cy + 4)}">{_h(row.text)}</text>')
        parts.append('<g class="row">' + "".join(cells) + "</g>")
    parts.append("</svg>")
    return "".join(parts), marks


def _shape(s: _Series, cx: float, cy: float, *, hollow: bool, cls: str, tip: str | None = None) -> str:
    fill = "#ffffff" if hollow else s.colour
    title = f"<title>{_h(tip)}</title>" if tip else ""
    if s.shape == "square":
        return (
            f'<rect class="{cls}" x="{_f(cx - 3.5)}" y="{_f(cy - 3.5)}" width="7" height="7"'
            f' fill="{fill}" stroke="{s.colour}" stroke-width="1.5">{title}</rect>'
        )
    return (
        f'<circle class="{cls}" cx="{_f(cx)}" cy="{_f(cy)}" r="4" fill="{fill}"'
        f' stroke="{s.colour}" stroke-width="1.5">{title}</circle>'
    )


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _pct_tick(t: float) -> str:
    return f"{100 * t:.4g}%"


def _largest(rows: Sequence[Mapping[str, Any]], noun: str) -> tuple[list[Mapping[str, Any]], str | None]:
    """At most MAX_ROWS rows, the largest by ``n`` (report order kept), and a note when some were left out."""
    if len(rows) <= MAX_ROWS:
        return list(rows), None
    ranked = sorted(range(len(rows)), key=lambda i: (-(_num(rows[i].get("n")) or 0.0), i))
    keep = sorted(ranked[:MAX_ROWS])
    return [rows[i] for i in keep], f"Showing the {MAX_ROWS} largest of {len(rows)} {noun} (by examples)."


def _rate_domain(highs: Sequence[float | None]) -> tuple[float, float]:
    top = max((h for h in highs if h is not None), default=0.0)
    if top <= 0:
        return 0.0, 0.05
    step = _nice_step(top)
    return 0.0, min(1.0, math.ceil(top / step - 1e-9) * step)


_NFR = _Series("nfr", "negative flip rate (NFR)", _VERMILLION, "circle")
_PFR = _Series("pfr", "positive flip rate (PFR)", _BLUE, "square")


def _flip_chart(block: Mapping[str, Any], name: str, level: str) -> Chart | None:
    tag = str(block.get("tag", ""))
    rows_in, note = _largest([r for r in block.get("rows") or [] if isinstance(r, Mapping)], "slices")
    if not rows_in:
        return None
    rows = []
    highs: list[float | None] = []
    for r in rows_in:
        nfr, pfr = _num(r.get("nfr")), _num(r.get("pfr"))
        nci, pci = _ci(r.get("nfr_ci")), _ci(r.get("pfr_ci"))
        highs += [nfr, pfr, nci[1], pci[1]]
        n = _num(r.get("n"))
        rows.append(
            _Row(
                label=str(r.get("value", "")),
                values=((nfr, *nci), (pfr, *pci)),
                text=f"{_pct(nfr)} / {_pct(pfr)}" + ("" if n is None else f" · n={int(n):,}"),
            )
        )
    title = f"Flip rates by {tag}"
    svg, marks = _dot_plot(
        title=title,
        series=(_NFR, _PFR),
        rows=rows,
        domain=_rate_domain(highs),
        tick_text=_pct_tick,
        axis_label=f"share of the slice's examples ({level} intervals)",
        reference=0.0,
        note=note,
    )
    return Chart(name, title, svg, marks)


def _behaviour_chart(behaviour: Mapping[str, Any], level: str) -> Chart | None:
    axes = [a for a in behaviour.get("axes") or [] if isinstance(a, Mapping)]
    shown = []
    for a in axes:
        key = "auroc" if _num(a.get("auroc")) is not None else "paired_auroc"
        value = _num(a.get(key))
        if value is not None:
            shown.append((a, value, _ci(a.get(f"{key}_interval"))))
    if not shown:
        return None
    note = None
    if len(shown) > MAX_ROWS:  # axes come most separable first
        note = f"Showing the {MAX_ROWS} most separable of {len(shown)} axes."
        shown = shown[:MAX_ROWS]
    reach = max(abs(v - 0.5) for a, est, ci in shown for v in (est, *ci) if v is not None)
    step = _nice_step(max(reach, 0.05), 2)
    half = min(0.5, math.ceil(max(reach, 0.05) / step - 1e-9) * step)
    rows = [
        _Row(
            label=str(a.get("name", "")),
            values=((est, *ci),),
            text=f"{est:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if None not in ci else ""),
            hollow=not a.get("passes"),
        )
        for a, est, ci in shown
    ]
    title = "Behaviour axes: AUROC of new vs old outputs"
    series = (_Series("auroc", "AUROC", _GREEN, "circle"),)
    svg, marks = _dot_plot(
        title=title,
        series=series,
        rows=rows,
        domain=(0.5 - half, 0.5 + half),
        tick_text=lambda t: f"{t:.2f}",
        axis_label=f"P(new output's value > old's); 0.5 = no difference; filled = passes ({level} intervals)",
        reference=0.5,
        note=note,
    )
    return Chart("behaviour_axes", title, svg, marks)


def _win_rate_chart(block: Mapping[str, Any], name: str, level: str) -> Chart | None:
    tag = str(block.get("tag", ""))
    rows_in, note = _largest([r for r in block.get("rows") or [] if isinstance(r, Mapping)], "tag values")
    if not rows_in:
        return None
    rows = []
    for r in rows_in:
        est, ci, n = _num(r.get("win_rate")), _ci(r.get("win_rate_ci")), _num(r.get("n"))
        rows.append(
            _Row(
                label=str(r.get("value", "")),
                values=((est, *ci),),
                text=_pct(est) + ("" if n is None else f" · n={int(n):,}"),
                hollow=not r.get("significant"),
            )
        )
    title = f"Judge win rate of new by {tag}"
    svg, marks = _dot_plot(
        title=title,
        series=(_Series("win-rate", "win rate", _BLUE, "circle"),),
        rows=rows,
        domain=(0.0, 1.0),
        tick_text=_pct_tick,
        axis_label=f"win rate of new (ties half); 50% = no preference; filled = significant ({level})",
        reference=0.5,
        note=note,
    )
    return Chart(name, title, svg, marks)


def _ranking_chart(report: Mapping[str, Any], level: str) -> Chart | None:
    runs = [r for r in report.get("runs") or [] if isinstance(r, Mapping)]
    runs = [r for r in runs if _num(r.get("rating")) is not None]
    if not runs:
        return None
    note = None
    if len(runs) > MAX_ROWS:  # best first
        note = f"Showing the {MAX_ROWS} best of {len(runs)} runs."
        runs = runs[:MAX_ROWS]
    values = [v for r in runs for v in (_num(r.get("rating")), *_ci(r.get("ci"))) if v is not None]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    step = _nice_step(hi - lo)
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    rows = []
    for r in runs:
        est, ci = _num(r.get("rating")), _ci(r.get("ci"))
        text = f"{est:.0f}" + (f" [{ci[0]:.0f}, {ci[1]:.0f}]" if None not in ci else "")
        rows.append(_Row(label=str(r.get("name", "")), values=((est, *ci),), text=text))
    title = "Bradley–Terry ratings"
    svg, marks = _dot_plot(
        title=title,
        series=(_Series("rating", "rating", _BLUE, "circle"),),
        rows=rows,
        domain=(lo, hi),
        tick_text=lambda t: f"{t:.6g}",
        axis_label=f"rating, best first ({level} bootstrap intervals)",
        note=note,
    )
    return Chart("ranking", title, svg, marks)


def _level(report: Mapping[str, Any]) -> str:
    level = _num((report.get("settings") or {}).get("confidence_level"))
    return "95%" if level is None else f"{100 * level:.4g}%"


def charts_for(report: Mapping[str, Any]) -> list[Chart]:
    """The charts of a JSON report (comparison, judge, behaviour or ranking), in reading order.

    An empty list when the report has nothing to chart (no slices, no tags, no axes).
    """
    level = _level(report)
    if report.get("schema") == "deltaeval.ranking":
        chart = _ranking_chart(report, level)
        return [chart] if chart else []
    charts: list[Chart | None] = []
    used_flips: set[str] = set()
    used_wins: set[str] = set()
    for block in report.get("slices") or []:
        if isinstance(block, Mapping):
            charts.append(_flip_chart(block, "flips_by_" + slug(block.get("tag", ""), used_flips), level))
    preference = report.get("preference")
    if isinstance(preference, Mapping):
        for block in preference.get("by_tag") or []:
            if isinstance(block, Mapping):
                name = "win_rate_by_" + slug(block.get("tag", ""), used_wins)
                charts.append(_win_rate_chart(block, name, level))
    behaviour = report.get("behaviour")
    if isinstance(behaviour, Mapping):
        charts.append(_behaviour_chart(behaviour, level))
    return [c for c in charts if c is not None]
