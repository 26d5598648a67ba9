"""The gate's verdict in Markdown, for a GitHub job summary: failing thresholds first, then the
comparison's own Markdown summary (:func:`deltaeval.report.markdown.render_markdown`).

Every text from the report (run names, slice values inside a check's description) goes through
:func:`~deltaeval.report.markdown.md_inline`, so it stays inert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from deltaeval.report.markdown import md_inline, render_markdown

if TYPE_CHECKING:
    from deltaeval.gate import GateCheck

#: Longest description of one check (a slice check names up to five slices).
_CHECK_CHARS = 2_000


def ordered_checks(checks: Sequence[GateCheck]) -> list[GateCheck]:
    """The failing checks first, each group in the order given."""
    return [c for c in checks if not c.passed] + [c for c in checks if c.passed]


def gate_heading(report: Mapping[str, Any], checks: Sequence[GateCheck]) -> str:
    """The verdict heading and one line per check, failing ones first."""
    failed = sum(not c.passed for c in checks)
    old = md_inline((report.get("old") or {}).get("name", "old"), 80)
    new = md_inline((report.get("new") or {}).get("name", "new"), 80)
    if failed:
        verdict = f"❌ failed: {failed} of {len(checks)} thresholds"
    else:
        verdict = f"✅ passed: {'the threshold' if len(checks) == 1 else f'all {len(checks)} thresholds'}"
    lines = [f"## deltaeval gate {old} → {new}: {verdict}", ""]
    for check in ordered_checks(checks):
        mark = "**FAIL**" if not check.passed else "PASS"
        lines.append(f"- {mark} `{check.name}`: {md_inline(check.description, _CHECK_CHARS)}")
    return "\n".join(lines)


def render_gate_markdown(
    report: Mapping[str, Any], checks: Sequence[GateCheck], *, with_report: bool = True
) -> str:
    """The gate's verdict, then (``with_report``) the comparison's Markdown summary.

    The comparison part is the PR-comment rendering, which stays under GitHub's 65,536-character
    comment limit, so the whole is far under the 1 MiB a job summary may hold.
    """
    head = gate_heading(report, checks)
    if not with_report:
        return head + "\n"
    return f"{head}\n\n{render_markdown(report)}"
