"""The ``behaviour`` section in the terminal: the axes that changed (most significant first, the
others named in one line), the combined model, proposed axes, the changed-most clusters and a few
example pairs, compactly (the HTML report has everything).

Data strings go through :func:`deltaeval.report.terminal._data`, so rich never reads them as
markup, and the report through :func:`deltaeval.textsafe.visible_data`, so control characters,
escape sequences and bidi overrides are made visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console, RenderableType
from rich.text import Text

from deltaeval.report import _behaviour as bh
from deltaeval.report import _format as fmt
from deltaeval.report.terminal import _data, _table
from deltaeval.textsafe import visible_data

#: Most axes shown in the terminal; the JSON and HTML reports hold all of them.
MAX_AXES = 10
#: Most example pairs (of the first axes that changed) shown in the terminal.
MAX_AXIS_EXAMPLES = 3
#: Below this console width the axes table leaves out the effect size and the preference interval.
NARROW = 110
#: Below this width it also leaves out the interval of the difference.
VERY_NARROW = 90


def behaviour_header(report: Mapping[str, Any]) -> list[RenderableType]:
    """The header of a report with neither flips nor preferences (`deltaeval behaviour`)."""
    report = visible_data(report)
    old, new = report.get("old") or {}, report.get("new") or {}
    settings = report.get("settings") or {}
    section = bh.section(report) or {}
    line = Text.assemble(
        ("deltaeval behaviour ", "bold"),
        _data(old.get("name", "old"), style="bold"),
        " → ",
        _data(new.get("name", "new"), style="bold"),
        f"   n={fmt.count(section.get('n'))}"
        f" · {fmt.level(settings.get('confidence_level', section.get('level')))} intervals"
        f" ({fmt.count(settings.get('n_boot', section.get('n_boot')))} paired bootstrap resamples,"
        f" seed {settings.get('seed', section.get('seed', fmt.MISSING))})",
    )
    summary = Text.assemble(
        "Behaviour: ",
        (f"{fmt.count(section.get('n_passing'))} of {fmt.count(section.get('n_axes'))} axes changed", "bold"),
        f"  ({fmt.method_name(section.get('multiple_testing'))} at FDR {section.get('alpha', fmt.MISSING)},"
        " interval excludes 0)",
    )
    return [line, summary]


def _axes_table(section: Mapping[str, Any], width: int) -> RenderableType:
    """The axes that changed, most significant first; the unchanged ones named in the caption
    (a non-significant axis never takes the place of a significant one)."""
    changed = bh.changed_axes(section)
    shown = changed[:MAX_AXES]
    if not shown:
        text = Text.assemble(("Behaviour", "bold"), " · ", _data(bh.headline(section)))
        if bh.unchanged_line(section):
            text.append("\n").append_text(_data(bh.unchanged_line(section)))
        return text
    conf = fmt.level(section.get("level"))
    narrow = width < NARROW
    columns = [("", "arrow"), ("old → new", "means"), ("diff", "diff")]
    columns += [] if width < VERY_NARROW else [(f"{conf} CI", "diff_ci")]
    columns += [] if narrow else [("effect", "effect")]
    columns += [("sep.", "separability"), ("q", "q"), ("✓", "passes")]
    if bh.has_preferences(section):
        columns += [("pref.", "pref")] + ([] if narrow else [(f"{conf} CI", "pref_ci")])
    caption = bh.legend(section)
    unchanged = bh.unchanged_line(section)
    if unchanged:
        caption = f"{unchanged} " + caption
    if len(shown) < len(changed):
        more = fmt.counted(len(changed) - len(shown), "more changed axis", "more changed axes")
        caption = f"{more} in the JSON and HTML reports. " + caption
    if narrow:
        caption += " Effect sizes and intervals: a wider terminal or the HTML report."
    title = Text.assemble(("Behaviour", "bold"), " · ", _data(bh.headline(section)))
    table = _table(title, "axis", *(name for name, _ in columns), caption=caption)
    table.columns[0].no_wrap = True
    table.columns[1].justify = "center"
    for axis in shown:
        cells = bh.axis_cells(axis)
        style = "bold cyan" if axis.get("passes") else ""  # a change, neither good nor bad
        styles = {"arrow": style, "diff": style, "passes": "bold cyan"}
        row = [Text(cells[key], style=styles.get(key, "")) for _, key in columns]
        table.add_row(_data(bh.axis_name(axis), 30), *row)
    return table


def _proposed(section: Mapping[str, Any]) -> list[RenderableType]:
    proposed = section.get("proposed")
    if not isinstance(proposed, Mapping):
        return []
    table = _table(
        "Proposed axes",
        "axis",
        "kept",
        "new higher",
        "old higher",
        "equal",
        "order-dep.",
        caption=bh.proposed_line(proposed),
    )
    for axis in proposed.get("axes") or []:
        cells = bh.proposed_cells(axis)
        table.add_row(
            _data(cells["name"], 40),
            cells["kept"],
            cells["new_higher"],
            cells["old_higher"],
            cells["equal"],
            cells["order_dependent"],
        )
    return [table]


def _changes(section: Mapping[str, Any]) -> list[RenderableType]:
    changes = section.get("changes")
    if not isinstance(changes, Mapping):
        return []
    table = _table(
        "Where the outputs changed most",
        "cluster",
        "size",
        "similarity",
        "median words",
        "terms old",
        "terms new",
        caption=bh.changes_line(changes),
    )
    for column in table.columns[4:]:
        column.justify, column.no_wrap = "left", False
    for i, cluster in enumerate(changes.get("clusters") or [], 1):
        cells = bh.cluster_cells(cluster)
        label = Text(f"{i}")
        if cells["description"]:
            label.append(": ")
            label.append_text(_data(cells["description"], 60))
        table.add_row(
            label,
            cells["size"],
            cells["similarity"],
            cells["words"],
            _data(cells["terms_old"], 60),
            _data(cells["terms_new"], 60),
        )
    return [table]


def _examples(section: Mapping[str, Any], max_examples: int) -> list[RenderableType]:
    changed = [a for a in bh.changed_axes(section) if isinstance(a.get("example"), Mapping)]
    shown = changed[: max(min(max_examples, MAX_AXIS_EXAMPLES), 0)]
    if not shown:
        return []
    table = _table(
        f"Example pairs of the first {fmt.counted(len(shown), 'axis', 'axes')} that changed",
        "axis",
        "id",
        "value",
        "old",
        "new",
        caption="full texts: the HTML report",
    )
    for column in table.columns:
        column.justify, column.no_wrap, column.overflow = "left", False, "fold"
    for axis in shown:
        example = axis["example"]
        table.add_row(
            _data(bh.axis_name(axis), 24),
            _data(example.get("id"), 20),
            _data(bh.example_values(axis), 30),
            _data(example.get("old"), 50),
            _data(example.get("new"), 50),
        )
    return [table]


def render_behaviour(report: Mapping[str, Any], console: Console, *, max_examples: int = 5) -> None:
    """Print the ``behaviour`` section of ``report`` (nothing when it has none)."""
    section = bh.section(visible_data(report))
    if section is None:
        return
    parts: list[RenderableType] = [_axes_table(section, console.width)]
    parts += [Text(line) for line in bh.combined_lines(section)]
    parts += _proposed(section) + _changes(section) + _examples(section, max_examples)
    parts += [Text.assemble(("note: ", "dim"), _data(note, style="dim")) for note in bh.notes(section)]
    for part in parts:
        console.print()
        console.print(part)
