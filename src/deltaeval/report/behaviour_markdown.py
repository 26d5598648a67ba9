"""The ``behaviour`` section in Markdown, compact enough for a GitHub PR comment.

The axes that changed (most significant first; the unchanged ones folded in ``<details>``), the
combined model, proposed axes, the changed-most clusters and, folded in ``<details>``, the example
pairs of the first axes that changed (one line each; the HTML report has the full texts). Every
text from the data goes through :func:`md_inline`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltaeval.report import _behaviour as bh
from deltaeval.report import _format as fmt
from deltaeval.report.markdown import _names, _table, md_inline

#: Most axes in the Markdown table; the JSON and HTML reports hold all of them.
MAX_AXES = 15
#: Most example pairs (of the first axes that changed) in the folded block.
MAX_AXIS_EXAMPLES = 5
#: Characters of each text in an example pair.
EXAMPLE_CHARS = 160


def behaviour_heading(report: Mapping[str, Any]) -> str:
    """Heading of a report with neither flips nor preferences (`deltaeval behaviour`)."""
    old, new = _names(report)
    section = bh.section(report) or {}
    settings = report.get("settings") or {}
    changed = bh.changed_axes(section)[:3]
    lead = (
        f"{fmt.counted(section.get('n'), 'example')};"
        f" {fmt.level(settings.get('confidence_level', section.get('level')))} paired bootstrap intervals"
        f" ({fmt.count(settings.get('n_boot', section.get('n_boot')))} resamples,"
        f" seed {md_inline(settings.get('seed', section.get('seed')))}),"
        f" {md_inline(fmt.method_name(section.get('multiple_testing')))}"
        f" at FDR {md_inline(section.get('alpha'))}."
    )
    if changed:
        lead += " Most significant: " + ", ".join(
            f"{md_inline(bh.axis_name(a), 60)} {fmt.arrow(a.get('direction'))}"
            f" ({fmt.num(a.get('separability'), 2)})"
            for a in changed
        )
        lead += "."
    title = f"{fmt.count(section.get('n_passing'))} of {fmt.count(section.get('n_axes'))} axes changed"
    return f"### Behaviour: {title}: {old} → {new}\n\n{lead}"


def _axes_table(section: Mapping[str, Any], axes: list[Mapping[str, Any]]) -> str:
    conf = fmt.level(section.get("level"))
    header = ["Axis", "", "Old → new", "Diff", f"{conf} CI", "Effect", "Sep.", "q", "✓"]
    keys = ["arrow", "means", "diff", "diff_ci", "effect", "separability", "q", "passes"]
    if bh.has_preferences(section):
        header += ["Pref.", f"{conf} CI"]
        keys += ["pref", "pref_ci"]
    rows = []
    for axis in axes:
        cells = bh.axis_cells(axis)
        name = md_inline(bh.axis_name(axis), 60)
        rows.append([f"**{name}**" if axis.get("passes") else name, *(cells[k] for k in keys)])
    return _table(header, rows, "ll" + "r" * (len(header) - 2))


def _axes(section: Mapping[str, Any]) -> str:
    """The axes that changed, most significant first; the others folded in ``<details>``."""
    changed = bh.changed_axes(section)
    shown = changed[:MAX_AXES]
    text = f"#### Behaviour\n\n{md_inline(bh.headline(section), 400)}\n\n"
    if shown:
        text += _axes_table(section, shown) + "\n\n"
    if len(shown) < len(changed):
        text += f"Showing {len(shown)} of {len(changed)} changed axes (all of them in the HTML report). "
    text += md_inline(bh.legend(section), 2_000)
    unchanged = bh.unchanged_axes(section)
    if unchanged:
        summary = md_inline(bh.unchanged_summary(section), 200)
        text += (
            f"\n\n<details>\n<summary>{summary}</summary>\n\n"
            f"{md_inline(bh.unchanged_line(section), 2_000)}\n\n"
            f"{_axes_table(section, unchanged)}\n\n</details>"
        )
    return text


def _combined(section: Mapping[str, Any]) -> str | None:
    lines = bh.combined_lines(section)
    return " ".join(md_inline(line, 600) for line in lines) or None


def _proposed(section: Mapping[str, Any]) -> str | None:
    proposed = section.get("proposed")
    if not isinstance(proposed, Mapping):
        return None
    rows = []
    for axis in proposed.get("axes") or []:
        cells = bh.proposed_cells(axis)
        rows.append(
            [
                md_inline(cells["name"], 60),
                cells["kept"],
                cells["new_higher"],
                cells["old_higher"],
                cells["equal"],
                cells["order_dependent"],
            ]
        )
    header = ["Axis", "Kept", "New higher", "Old higher", "Equal", "Order-dependent"]
    return f"##### Proposed axes\n\n{md_inline(bh.proposed_line(proposed), 1_000)}\n\n" + _table(
        header, rows, "llrrrr"
    )


def _changes(section: Mapping[str, Any]) -> str | None:
    changes = section.get("changes")
    if not isinstance(changes, Mapping):
        return None
    clusters = [c for c in changes.get("clusters") or [] if isinstance(c, Mapping)]
    described = any(c.get("description") for c in clusters)
    header = ["#", "Size", "Similarity", "Median words old → new", "Terms old", "Terms new"]
    header += ["Description"] if described else []
    rows = []
    for i, cluster in enumerate(clusters, 1):
        cells = bh.cluster_cells(cluster)
        row = [
            str(i),
            cells["size"],
            cells["similarity"],
            cells["words"],
            md_inline(cells["terms_old"], 120),
            md_inline(cells["terms_new"], 120),
        ]
        rows.append(row + ([md_inline(cells["description"], 200)] if described else []))
    text = f"##### Where the outputs changed most\n\n{md_inline(bh.changes_line(changes), 1_000)}"
    return text + ("\n\n" + _table(header, rows, "rrrrll" + "l" * described) if rows else "")


def _examples(section: Mapping[str, Any]) -> str | None:
    changed = [a for a in bh.changed_axes(section) if isinstance(a.get("example"), Mapping)]
    shown = changed[:MAX_AXIS_EXAMPLES]
    if not shown:
        return None
    rows = [
        [
            md_inline(bh.axis_name(a), 60),
            md_inline(a["example"].get("id"), 40),
            md_inline(bh.example_values(a), 60),
            md_inline(a["example"].get("old"), EXAMPLE_CHARS),
            md_inline(a["example"].get("new"), EXAMPLE_CHARS),
        ]
        for a in shown
    ]
    table = _table(["Axis", "Id", "Value old → new", "Old", "New"], rows)
    first = fmt.counted(len(shown), "axis", "axes")
    summary = f"Example pairs of the first {first} that changed (full texts in the HTML report)"
    return f"<details>\n<summary>{summary}</summary>\n\n{table}\n\n</details>"


def behaviour_blocks(report: Mapping[str, Any]) -> list[str]:
    """The Markdown blocks of the ``behaviour`` section (none when the report has none)."""
    section = bh.section(report)
    if section is None:
        return []
    blocks = [_axes(section), _combined(section), _proposed(section), _changes(section)]
    notes = bh.notes(section)
    if notes:
        blocks.append(" ".join(f"*Note: {md_inline(note, 500)}*" for note in notes))
    blocks.append(_examples(section))
    return [b for b in blocks if b]
