"""The report's ``notes`` and its ``output_changes`` block, in every format.

``notes`` say how the outputs were scored (a scorer chosen automatically is named with the
reason) or why there are no flips; ``output_changes`` is what a comparison without correctness
can still say: how often the output changed (churn) and how the outputs' lengths moved. The rows
are plain text built once (:func:`rows`); each renderer escapes them for its medium.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltaeval.report import _format as fmt

#: The badge of a report without flips or preferences: it was not scored.
NOT_SCORED = "not scored"

_UNITS = (("words", "Words"), ("characters", "Characters"))


def notes(report: Mapping[str, Any]) -> list[str]:
    """The report's notes, as plain text."""
    return [fmt.text_of(note) for note in report.get("notes") or []]


def block(report: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``output_changes`` block, or None when the report has none (it has flips)."""
    changes = report.get("output_changes")
    return changes if isinstance(changes, Mapping) else None


def _lengths(changes: Mapping[str, Any], unit: str) -> Mapping[str, Any]:
    value = (changes.get("lengths") or {}).get(unit)
    return value if isinstance(value, Mapping) else {}


def _length_text(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """Means old → new, the change and its interval, with decimals that suit their size."""
    decimals = fmt.decimals_for(row.get("old_mean"), row.get("new_mean"), row.get("mean_delta"))
    means = f"{fmt.fixed(row.get('old_mean'), decimals)} → {fmt.fixed(row.get('new_mean'), decimals)}"
    return (
        means,
        fmt.fixed(row.get("mean_delta"), decimals, sign=True),
        fmt.fixed_ci(row.get("mean_delta_ci"), decimals),
    )


def summary(report: Mapping[str, Any]) -> str:
    """``outputs changed 4 of 5 (80.0%); words 5.8 → 8.8 (+3.0 [+1.2, +4.8])``."""
    changes = block(report) or {}
    words = _lengths(changes, "words")
    means, delta, ci = _length_text(words)
    return (
        f"outputs changed {fmt.count(changes.get('changed'))} of {fmt.count(changes.get('n'))}"
        f" ({fmt.pct(changes.get('churn'))}); mean words {means} ({delta} {ci})"
    )


def rows(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, value, interval, meaning) rows of the ``output_changes`` block."""
    changes = block(report) or {}
    out = [
        (
            "Churn",
            f"{fmt.pct(changes.get('churn'))} ({fmt.count(changes.get('changed'))} of"
            f" {fmt.count(changes.get('n'))})",
            fmt.pct_ci(changes.get("churn_ci")),
            "output changed (Clopper–Pearson)",
        )
    ]
    for unit, label in _UNITS:
        lengths = _lengths(changes, unit)
        means, delta, ci = _length_text(lengths)
        out.append((f"{label} old → new", means, "", f"mean per output, over {fmt.count(lengths.get('n'))}"))
        out.append((f"Δ {unit}", delta, ci, f"new − old{_interval_kind(report, changes)}"))
    return out


def _interval_kind(report: Mapping[str, Any], changes: Mapping[str, Any]) -> str:
    """How the Δ intervals were computed: ``paired bootstrap``, or the normal interval and why."""
    methods = changes.get("ci_methods")
    if not (isinstance(methods, Mapping) and methods.get("mean_delta_ci") == "normal"):
        return ", paired bootstrap"
    from deltaeval.report._behaviour import asymptotic_line

    threshold = (report.get("settings") or {}).get("asymptotic_from")
    return "; " + asymptotic_line(changes.get("n"), threshold, "normal interval").rstrip(".")


# -- terminal ------------------------------------------------------------------------------------


def terminal_header(report: Mapping[str, Any]) -> list[Any]:
    """The header of a report without flips that has ``output_changes``."""
    from rich.text import Text

    from deltaeval.report.terminal import _data

    old, new = report.get("old") or {}, report.get("new") or {}
    settings = report.get("settings") or {}
    line = Text.assemble(
        ("deltaeval ", "bold"),
        _data(old.get("name", "old"), style="bold"),
        " → ",
        _data(new.get("name", "new"), style="bold"),
        f"   n={fmt.count((block(report) or {}).get('n'))}"
        f" · {fmt.level(settings.get('confidence_level'))} intervals",
    )
    verdict = Text.assemble("Verdict: ", (NOT_SCORED.upper(), "bold yellow"), f"  ({summary(report)})")
    return [line, verdict]


def terminal_sections(report: Mapping[str, Any]) -> list[Any]:
    """The notes (always) and the ``output_changes`` table (when the report has one)."""
    from rich.text import Text

    from deltaeval.report.terminal import _data, _table

    out: list[Any] = [Text.assemble(("note: ", "bold yellow"), _data(note)) for note in notes(report)]
    if block(report) is not None:
        conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
        table = _table("Outputs (no correctness)", "", "value", f"{conf} CI")
        table.add_column("meaning", style="dim", no_wrap=False)
        for row in rows(report):
            table.add_row(*row)
        out.append(table)
    return out


# -- Markdown ------------------------------------------------------------------------------------


def markdown_heading(report: Mapping[str, Any]) -> str:
    """The heading of a report without flips that has ``output_changes``."""
    from deltaeval.report.markdown import _names, md_inline

    old, new = _names(report)
    line = summary(report)
    return f"### Not scored: {old} → {new}\n\n{md_inline(line[:1].upper() + line[1:])}."


def markdown_blocks(report: Mapping[str, Any]) -> list[str]:
    """The notes (always) and the ``output_changes`` table (when the report has one)."""
    from deltaeval.report.markdown import _table, md_inline

    out = []
    if notes(report):
        out.append("\n".join(f"> **Note:** {md_inline(note, 1_000)}  " for note in notes(report)).rstrip())
    if block(report) is not None:
        conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
        body = [[md_inline(cell) for cell in row] for row in rows(report)]
        out.append(
            "#### Outputs (no correctness)\n\n" + _table(["", "Value", f"{conf} CI", "Meaning"], body, "lrrl")
        )
    return out


# -- HTML ----------------------------------------------------------------------------------------


def html_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """What ``output_changes.html.j2`` shows (plain text; the template escapes it)."""
    return {
        "notes": notes(report),
        "rows": rows(report) if block(report) is not None else [],
        "summary": summary(report) if block(report) is not None else None,
    }
