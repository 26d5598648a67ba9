"""The terminal view of a selection (``SelectionResult.to_dict()``): the held-out trade-off curve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.text import Text

from deltaeval.report import _format as fmt
from deltaeval.report.terminal import _table
from deltaeval.textsafe import visible, visible_data


def _threshold(value: Any) -> str:
    return value if isinstance(value, str) else f"{value:.4g}"


def _row(label: str, calibration: Mapping[str, Any], held_out: Mapping[str, Any]) -> list[str]:
    return [
        label,
        fmt.pct(calibration["nfr"]),
        fmt.pct(calibration["accuracy"]),
        f"{fmt.pct(held_out['nfr'])} {fmt.pct_ci(held_out['nfr_ci'])}",
        f"{fmt.pct(held_out['accuracy'])} {fmt.pct_ci(held_out['accuracy_ci'])}",
        fmt.pct(held_out["use_old_rate"], 0),
    ]


def render_selection(data: Mapping[str, Any], console: Console) -> None:
    """Print the curve (one row per rule, the chosen one marked), v2 and v1 as its ends, and the choice."""
    data = visible_data(data)
    old, new = data["old"], data["new"]
    level = fmt.pct(data["level"], 0)
    table = _table(
        f"Selection {old} / {new}: held-out trade-off ({data['n_evaluation']} evaluation examples, "
        f"rule fitted on {data['n_calibration']})",
        "rule (t_new, t_old)",
        "calib NFR",
        "calib acc",
        f"held-out NFR [{level} CI]",
        f"held-out accuracy [{level} CI]",
        "uses old",
        caption=f"use old when {data['signal']}(new) < t_new and {data['signal']}(old) >= t_old; "
        "intervals exact (Clopper–Pearson); calibration figures are what the rule was chosen on",
    )
    table.add_row(*_row(f"plain {new}", data["plain_new_calibration"], data["plain_new"]))
    chosen = data["chosen"]
    for point in data["curve"]:
        mark = "→ " if (point["t_new"], point["t_old"]) == (chosen["t_new"], chosen["t_old"]) else "  "
        label = f"{mark}{_threshold(point['t_new'])}, {_threshold(point['t_old'])}"
        table.add_row(*_row(label, point["calibration"], point["evaluation"]))
    table.add_row(*_row(f"always {old}", data["always_old_calibration"], data["always_old"]))
    console.print(table)
    held, plain = chosen["evaluation"], data["plain_new"]
    relative = (
        f" ({(held['nfr'] - plain['nfr']) / plain['nfr'] * 100:+.0f}% relative)" if plain["nfr"] else ""
    )
    constraint = ", ".join(f"{k} {v:.4g}" for k, v in data["constraint"].items() if isinstance(v, float))
    lines = [
        f"chosen on calibration ({constraint}): t_new {_threshold(chosen['t_new'])}, "
        f"t_old {_threshold(chosen['t_old'])}",
        f"held-out NFR {fmt.pct(plain['nfr'])} → {fmt.pct(held['nfr'])}{relative}; "
        f"accuracy {fmt.pct(plain['accuracy'])} → {fmt.pct(held['accuracy'])} "
        f"({fmt.pp(held['accuracy_change_vs_new'])} {fmt.pp_ci(held['accuracy_change_vs_new_ci'])} paired, "
        f"McNemar p {fmt.pval(held['mcnemar_p_vs_new'])})",
    ]
    if data.get("run"):
        lines.append(
            f"run {data['run']} holds the evaluation examples: deltaeval compare {old} {data['run']}"
        )
    for line in lines + list(data.get("notes", [])):
        console.print(Text(visible(str(line))))
