"""The banner every format shows first when a judging failed or gave too few verdicts.

It reads the ``validity`` block (``preference.validity`` of a report, ``validity`` of a ranking;
docs/report-schema.md) and nothing else, and is empty when the status is ``ok`` or the block is
absent (reports written before it existed). The message holds judges' error texts: the terminal
shows it through :func:`~deltaeval.textsafe.visible`, Markdown inline-escaped, HTML autoescaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from deltaeval.textsafe import visible

_TITLES = {"failed": "Judging failed", "insufficient": "Insufficient judgments"}
_STYLES = {"failed": "bold red", "insufficient": "bold yellow"}


def judging_problem(data: Mapping[str, Any]) -> dict[str, str] | None:
    """``{"status", "title", "message", "hint"}`` when the judging failed or was insufficient."""
    preference = data.get("preference")
    block = (preference if isinstance(preference, Mapping) else data).get("validity")
    if not isinstance(block, Mapping):
        return None
    status = block.get("status")
    if status not in _TITLES:
        return None
    message = str(block.get("message") or "")
    head, _, rest = message.partition(": ")
    detail = rest if head.lower() == _TITLES[status].lower() and rest else message
    return {
        "status": str(status),
        "title": _TITLES[status],
        "message": detail[:1].upper() + detail[1:],
        "hint": str(block.get("hint") or ""),
    }


def terminal_banner(data: Mapping[str, Any]) -> Text | None:
    """The banner as a rich Text (None when there is nothing to say)."""
    problem = judging_problem(data)
    if problem is None:
        return None
    style = _STYLES[problem["status"]]
    text = Text.assemble((f"{problem['title'].upper()}: ", style), visible(problem["message"]))
    if problem["hint"]:
        text.append(f"\n  What to do: {visible(problem['hint'])}")
    return text


def markdown_banner(data: Mapping[str, Any]) -> str | None:
    """The banner as a Markdown blockquote (None when there is nothing to say)."""
    from deltaeval.report.markdown import md_inline

    problem = judging_problem(data)
    if problem is None:
        return None
    line = f"> **{problem['title']}:** {md_inline(problem['message'])}"
    if problem["hint"]:
        line += f"\n>\n> What to do: {md_inline(problem['hint'])}"
    return line
