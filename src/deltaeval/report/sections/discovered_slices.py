"""The ``discovered_slices`` section (:func:`deltaeval.slices.discover_slices`) in every format.

One line per confirmed slice: its description, the rate on the confirmation half with its
interval, the lift over the rest, the Holm-adjusted p and the slice's size. Nothing when no slice
is confirmed. Descriptions carry tag values (untrusted): plain rich ``Text`` in the terminal,
:func:`deltaeval.report.markdown.md_inline` in Markdown, autoescaped in HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from deltaeval.report import _format as fmt

if TYPE_CHECKING:
    from rich.console import RenderableType


def confirmed(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The confirmed slices of ``report`` (none when it has no section)."""
    section = report.get("discovered_slices")
    if not isinstance(section, Mapping):
        return []
    return [s for s in section.get("confirmed") or [] if isinstance(s, Mapping)]


def _lift(conf: Mapping[str, Any]) -> str:
    lift = conf.get("lift")
    if not isinstance(lift, int | float):
        return "lift —"
    low, high = [*(conf.get("lift_interval") or []), None, None][:2]
    ends = [fmt.MISSING if v is None else f"{v:.1f}" for v in (low, high)]
    return f"{lift:.1f}× the rest [{ends[0]}, {ends[1]}]"


def figures(item: Mapping[str, Any], event: str) -> str:
    """The line's figures after the description (plain text)."""
    conf = item.get("confirmation") or {}
    rate = f"{event} rate {fmt.pct(conf.get('rate'))} {fmt.pct_ci(conf.get('rate_interval'))}"
    return (
        f"{rate} on the held-out half (n = {fmt.count(conf.get('support'))}, rest "
        f"{fmt.pct(conf.get('rest_rate'))}), {_lift(conf)}, Holm p {fmt.pval(conf.get('holm_p'))}; "
        f"{fmt.count(item.get('support'))} examples ({fmt.pct(item.get('support_fraction'))})"
    )


def caption(report: Mapping[str, Any]) -> str:
    """How the slices were found, and (a judge report's) what the event is and what was left out."""
    section = report.get("discovered_slices") or {}
    text = (
        f"found on one half of the examples among {fmt.count(section.get('candidates'))} candidates "
        f"(one-sided Fisher, Benjamini–Hochberg at {section.get('discovery_alpha')}), confirmed on the "
        f"other (Holm at {section.get('alpha')}); the figures are the confirmation half's"
    )
    if section.get("event_rule"):
        text += f"; {section.get('event')}: {section.get('event_rule')}"
    left_out = section.get("n_no_verdict")
    if isinstance(left_out, int) and left_out > 0:
        text += f"; {fmt.counted(left_out, 'judged example')} without a verdict left out"
    return text


def terminal(report: Mapping[str, Any]) -> list[RenderableType]:
    """A heading and one line per confirmed slice (nothing when none is)."""
    from rich.text import Text

    items = confirmed(report)
    if not items:
        return []
    event = str((report.get("discovered_slices") or {}).get("event") or "event")
    text = Text.assemble(("Discovered slices", "bold"), " ", (f"({caption(report)})", "dim"))
    for item in items:
        text.append("\n▼ ", style="bold red")
        text.append(fmt.one_line(str(item.get("description", "")), 120), style="bold")
        text.append(": " + figures(item, event))
    return [text]


def markdown(report: Mapping[str, Any]) -> list[str]:
    """A heading and one bullet per confirmed slice (nothing when none is)."""
    from deltaeval.report.markdown import md_inline

    items = confirmed(report)
    if not items:
        return []
    event = str((report.get("discovered_slices") or {}).get("event") or "event")
    lines = ["### Discovered slices", "", f"*{md_inline(caption(report))}*", ""]
    lines += [
        f"- **{md_inline(item.get('description'), 200)}**: {md_inline(figures(item, event))}"
        for item in items
    ]
    return ["\n".join(lines)]


def html_view(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the HTML template shows: the caption and one (description, figures) line per slice."""
    items = confirmed(report)
    if not items:
        return None
    event = str((report.get("discovered_slices") or {}).get("event") or "event")
    return {
        "caption": caption(report),
        "lines": [
            {"description": str(item.get("description", "")), "figures": figures(item, event)}
            for item in items
        ],
    }
