"""What the HTML template's ``behaviour`` partial (``templates/behaviour.html.j2``) shows.

Texts from the report are made displayable (control characters, escape sequences and bidi
overrides visible, by :func:`deltaeval.textsafe.visible`) but not escaped: the template
autoescapes every value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltaeval.report import _behaviour as bh
from deltaeval.report import _format as fmt
from deltaeval.textsafe import visible


def _text(value: Any) -> str:
    return visible(fmt.text_of(value))


def _number(value: Any) -> Any:
    """A raw number for a ``data-sort`` attribute (empty when there is none)."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _example(axis: Mapping[str, Any]) -> dict[str, Any] | None:
    example = axis.get("example")
    if not isinstance(example, Mapping):
        return None
    digits = fmt.decimals_for(example.get("value_old"), example.get("value_new"))
    return {
        "id": _text(example.get("id")),
        "input": _text(example.get("input")),
        "old": _text(example.get("old")),
        "new": _text(example.get("new")),
        "value_text": _text(bh.example_values(axis)),
        "value_old": fmt.fixed(example.get("value_old"), digits),
        "value_new": fmt.fixed(example.get("value_new"), digits),
    }


def _axis(index: int, axis: Mapping[str, Any]) -> dict[str, Any]:
    proposed = axis.get("kind") == "proposed"
    description = axis.get("description")
    return {
        "index": index,
        "name": _text(axis.get("name")),
        "proposed": proposed,
        "description": None if proposed or not description else _text(description),
        "high": _text(axis.get("high")) if axis.get("high") else None,
        "low": _text(axis.get("low")) if axis.get("low") else None,
        "direction": str(axis.get("direction") or "none"),
        "passes": bool(axis.get("passes")),
        "cells": bh.axis_cells(axis),
        "sort": {
            key: _number(axis.get(key))
            for key in ("mean_old", "diff", "effect_size", "separability", "q_value", "n")
        }
        | {"pref": _number((axis.get("preference") or {}).get("coef"))},
        "n": axis.get("n"),
        "prevalence": f"{fmt.pct(axis.get('prevalence_old'))} → {fmt.pct(axis.get('prevalence_new'))}",
        "paired_auroc": fmt.num(axis.get("paired_auroc"), 2),
        "example": _example(axis),
    }


def _proposed(section: Mapping[str, Any]) -> dict[str, Any] | None:
    proposed = section.get("proposed")
    if not isinstance(proposed, Mapping):
        return None
    return {
        "line": _text(bh.proposed_line(proposed)),
        "scoring": _text(proposed.get("scoring")) if proposed.get("scoring") else None,
        "axes": [
            {k: _text(v) for k, v in bh.proposed_cells(a).items()}
            for a in proposed.get("axes") or []
            if isinstance(a, Mapping)
        ],
    }


def _changes(section: Mapping[str, Any]) -> dict[str, Any] | None:
    changes = section.get("changes")
    if not isinstance(changes, Mapping):
        return None
    clusters = []
    for i, cluster in enumerate(c for c in changes.get("clusters") or [] if isinstance(c, Mapping)):
        examples = [
            {
                "id": _text(e.get("id")),
                "similarity": fmt.num(e.get("similarity"), 2),
                "old": _text(e.get("old")),
                "new": _text(e.get("new")),
            }
            for e in cluster.get("examples") or []
            if isinstance(e, Mapping)
        ]
        cells = {k: _text(v) for k, v in bh.cluster_cells(cluster).items()}
        clusters.append({"index": i + 1, "cells": cells, "examples": examples})
    return {
        "line": _text(bh.changes_line(changes)),
        "clusters": clusters,
        "described": any(c["cells"]["description"] for c in clusters),
    }


def behaviour_view(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``behaviour`` section made displayable, or None when the report has none."""
    section = bh.section(report)
    if section is None:
        return None
    changed = [_axis(i, a) for i, a in enumerate(bh.changed_axes(section), 1)]
    unchanged = [_axis(i, a) for i, a in enumerate(bh.unchanged_axes(section), len(changed) + 1)]
    axes = changed + unchanged
    return {
        "n": section.get("n"),
        "n_axes": section.get("n_axes"),
        "n_passing": section.get("n_passing"),
        "level": fmt.level(section.get("level")),
        "n_boot": section.get("n_boot"),
        "seed": section.get("seed"),
        "alpha": section.get("alpha"),
        "method": fmt.method_name(section.get("multiple_testing")),
        "headline": _text(bh.headline(section)),
        "legend": _text(bh.legend(section, "“proposed”")),
        "prefs": bh.has_preferences(section),
        "axes": axes,
        "changed": changed,
        "unchanged": unchanged,
        "unchanged_summary": _text(bh.unchanged_summary(section)),
        "unchanged_line": _text(bh.unchanged_line(section)),
        "examples": [a for a in changed if a["example"] is not None],
        "unchanged_examples": [a for a in unchanged if a["example"] is not None],
        "combined": [_text(line) for line in bh.combined_lines(section)],
        "proposed": _proposed(section),
        "changes": _changes(section),
        "notes": [_text(n) for n in bh.notes(section)],
        "badge": f"{fmt.count(section.get('n_passing'))} of {fmt.count(section.get('n_axes'))} axes changed",
    }
