"""Whether a judging gave enough valid judgments to carry a verdict (the ``validity`` block).

A judge request is **valid** when it gave a verdict (a label); errors and replies without a
verdict are not. Two rules, both stated in the report:

- **judging failed** when fewer than :data:`MIN_VALID_RATE` (half) of the judge requests are
  valid. The verdicts that remain are a selection (the requests that failed are seldom a random
  share: long or hard examples fail first), so no verdict is drawn from them; the command exits
  with :data:`EXIT_JUDGING_FAILED`.
- **insufficient judgments** when fewer than ``min_valid`` examples (default
  :data:`DEFAULT_MIN_VALID`) have a verdict. Below 10, the exact sign test at 5% can call only
  a near-unanimous split (at most one loss; nothing at all below 6) and the bootstrap interval
  of the win rate is unreliable, so a "no significant difference" there would say nothing.

Either way the win rate's verdict is :data:`INSUFFICIENT` instead of "no significant
difference", and ``deltaeval gate --min-win-rate`` fails on it, saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deltaeval.errors import UsageError
from deltaeval.jsonable import num
from deltaeval.types import Judgment

#: Fewest examples with a verdict for a win-rate verdict (``--min-valid``).
DEFAULT_MIN_VALID = 10
#: Fewest valid judge requests, as a share of all, before the judging counts as failed.
MIN_VALID_RATE = 0.5
#: The win-rate verdict when either rule fails.
INSUFFICIENT = "insufficient judgments"
#: Exit code of `judge`, `behaviour` and `rank` when the judging failed (reports still written).
EXIT_JUDGING_FAILED = 3

STATUS_OK, STATUS_INSUFFICIENT, STATUS_FAILED = "ok", "insufficient", "failed"
#: What to do when the judging failed.
JUDGING_FAILED_HINT = (
    "read the judge's errors in the report; check that the judge answers (server, --timeout) and follows "
    "the verdict format (a larger judge model, --max-retries)"
)
#: What to do when too few examples have a verdict.
INSUFFICIENT_HINT = (
    "judge more examples; --min-valid lowers the minimum, but a verdict from fewer says little"
)


def check_min_valid(min_valid: int) -> int:
    """``min_valid`` validated (an int >= 1)."""
    if type(min_valid) is not int or min_valid < 1:
        raise UsageError(f"the minimum of valid judgments must be a whole number >= 1, not {min_valid!r}")
    return min_valid


def validity_block(
    judgments: Sequence[Judgment], n_valid_examples: int | None, min_valid: int | None
) -> dict[str, Any]:
    """The ``validity`` block of a judging (docs/report-schema.md).

    ``n_valid_examples`` is how many examples got a verdict; ``None`` (with ``min_valid``
    ``None``) where examples do not apply (``rank``), so only the share of valid requests counts.
    """
    n = len(judgments)
    valid = sum(j.label is not None for j in judgments)
    rate = valid / n if n else None
    errors = sorted({j.error for j in judgments if j.label is None and j.error is not None})
    status = STATUS_OK
    if rate is not None and rate < MIN_VALID_RATE:
        status = STATUS_FAILED
    elif min_valid is not None and (n_valid_examples or 0) < min_valid:
        status = STATUS_INSUFFICIENT
    block: dict[str, Any] = {
        "status": status,
        "n_requests": n,
        "n_valid_requests": valid,
        "n_failed_requests": n - valid,
        "valid_rate": num(rate),
        "min_valid_rate": MIN_VALID_RATE,
        "n_valid_examples": n_valid_examples,
        "min_valid": min_valid,
        "errors": errors[:5],
    }
    block["message"] = validity_message(block)
    block["hint"] = {STATUS_FAILED: JUDGING_FAILED_HINT, STATUS_INSUFFICIENT: INSUFFICIENT_HINT}.get(status)
    return block


def validity_message(block: Mapping[str, Any]) -> str | None:
    """One sentence on why there is no verdict (None when the status is ok)."""
    status = block.get("status")
    n, valid = block.get("n_requests"), block.get("n_valid_requests")
    if status == STATUS_FAILED:
        errors = block.get("errors") or []
        cause = f"; e.g. {errors[0]}" if errors else ""
        return (
            f"judging failed: {valid} of {n} judge requests gave a verdict, fewer than half"
            f" ({block.get('n_failed_requests')} errors or replies without a verdict{cause}),"
            " so the report draws no verdict from them"
        )
    if status == STATUS_INSUFFICIENT:
        return (
            f"insufficient judgments: {block.get('n_valid_examples')} example(s) with a verdict,"
            f" fewer than the minimum of {block.get('min_valid')} (--min-valid) needed for a verdict"
        )
    return None


def judging_failed(data: Mapping[str, Any]) -> bool:
    """Whether a report (or ranking) says its judging failed."""
    for holder in (data.get("preference"), data):
        block = holder.get("validity") if isinstance(holder, Mapping) else None
        if isinstance(block, Mapping) and block.get("status") == STATUS_FAILED:
            return True
    return False
