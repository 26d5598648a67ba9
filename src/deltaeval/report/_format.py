"""Formatting shared by the renderers: numbers, intervals, p-values, and untrusted text.

Every function returns plain text; each renderer escapes it for its own medium. Untrusted text
is made visible by :func:`deltaeval.textsafe.visible` (controls, ESC and bidi characters escaped).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from deltaeval.plural import plural

#: Shown for a value that is ``null`` in the report ("not defined for this input").
MISSING = "—"

_METHOD_NAMES = {
    "benjamini-hochberg": "Benjamini–Hochberg",
    "bh": "Benjamini–Hochberg",
    "bonferroni": "Bonferroni",
    "holm": "Holm",
    "none": "no correction",
}

_WHITESPACE = re.compile(r"\s+")


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x == x  # NaN != NaN


def count(n: Any) -> str:
    """An integer count with thousands separators (``1,000``)."""
    return f"{n:,}" if _is_number(n) else MISSING


def counted(n: Any, word: str, many: str | None = None) -> str:
    """A count and its noun, singular for 1: ``1 example``, ``1,200 examples`` (``— examples`` if null)."""
    return plural(n, word, many) if _is_number(n) else f"{MISSING} {many or word + 's'}"


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.029`` → ``2.9%``."""
    return f"{x * 100:.{digits}f}%" if _is_number(x) else MISSING


def pct_ci(ci: Any, digits: int = 1) -> str:
    """An interval of fractions as percentages: ``[1.9%, 4.0%]``."""
    low, high = _pair(ci)
    if low is None or high is None:
        return MISSING
    return f"[{pct(low, digits)}, {pct(high, digits)}]"


def pp(x: Any, digits: int = 1) -> str:
    """A difference of fractions in signed percentage points: ``0.03`` → ``+3.0 pp``."""
    return f"{x * 100:+.{digits}f} pp" if _is_number(x) else MISSING


def pp_ci(ci: Any, digits: int = 1) -> str:
    """An interval of differences in percentage points: ``[+1.0, +5.0] pp``."""
    low, high = _pair(ci)
    if low is None or high is None:
        return MISSING
    return f"[{low * 100:+.{digits}f}, {high * 100:+.{digits}f}] pp"


def num(x: Any, digits: int = 3) -> str:
    """A plain number (a mean score, an epsilon)."""
    return f"{x:.{digits}f}" if _is_number(x) else MISSING


def signed(x: Any, digits: int = 3) -> str:
    """A signed number (a mean difference)."""
    return f"{x:+.{digits}f}" if _is_number(x) else MISSING


def num_ci(ci: Any, digits: int = 3) -> str:
    """An interval of signed numbers: ``[+0.010, +0.050]``."""
    low, high = _pair(ci)
    if low is None or high is None:
        return MISSING
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def pval(p: Any) -> str:
    """A p- or q-value: two significant digits, ``<0.0001`` below that."""
    if not _is_number(p):
        return MISSING
    if p < 1e-4:
        return "<0.0001"
    return f"{p:.2g}"


def decimals_for(*values: Any, digits: int = 3, most: int = 4) -> int:
    """Decimals that show the largest of ``values`` with ``digits`` significant digits.

    0 when every value is a whole number; at most ``most``. Values of different sizes (a mean
    of 0.4 bullets, of 1,080 characters) then read alike, and an interval shares its estimate's.
    """
    finite = [float(v) for v in values if _is_number(v) and math.isfinite(v)]
    if all(v == int(v) for v in finite):
        return 0
    biggest = max(abs(v) for v in finite)
    return min(most, max(0, digits - 1 - math.floor(math.log10(biggest))))


def fixed(x: Any, decimals: int, *, sign: bool = False) -> str:
    """A number with thousands separators and ``decimals`` decimals: ``1,079.5``, ``+0.41``."""
    if not _is_number(x):
        return MISSING
    return f"{x:{'+' if sign else ''},.{decimals}f}"


def fixed_ci(ci: Any, decimals: int) -> str:
    """An interval of signed numbers with ``decimals`` decimals: ``[+263, +399]``."""
    low, high = _pair(ci)
    if low is None or high is None:
        return MISSING
    return f"[{fixed(low, decimals, sign=True)}, {fixed(high, decimals, sign=True)}]"


def arrow(direction: Any) -> str:
    """The arrow of a change's direction: ``up`` → ``↑``, ``down`` → ``↓``, else ``–``."""
    return {"up": "↑", "down": "↓"}.get(str(direction), "–")


def count_rate_mean(n: Any, rate: Any, mean: Any) -> str:
    """Gains or losses of a continuous score: ``30 (15.2%), mean +0.123``."""
    return f"{count(n)} ({pct(rate)}), mean {signed(mean)}"


def level(confidence: Any) -> str:
    """A confidence level as a percentage: ``0.95`` → ``95%``."""
    return f"{confidence * 100:g}%" if _is_number(confidence) else MISSING


def method_name(method: Any) -> str:
    """The readable name of a multiple-testing correction."""
    key = str(method or "none").strip().lower()
    return _METHOD_NAMES.get(key, str(method))


def verdict_word(verdict: Any) -> str:
    """The status word for a verdict: ``Regressed``, ``Improved``, ``No significant change``."""
    text = str(verdict or "unknown").strip()
    return text[:1].upper() + text[1:]


def orders(protocol: Mapping[str, Any]) -> str:
    """What the judging's orders were: both, one, or one as a recorded file held them.

    Every word comes from this function (no name from the report), so renderers need not escape it.
    """
    if not protocol.get("both_orders"):
        return "one order"
    single = len(protocol.get("one_order_judges") or [])
    if not single:
        return "both orders"
    if single >= (protocol.get("n_judges") or 1):
        return "one order, as recorded"
    return f"both orders; {single} judge{'s' if single != 1 else ''} recorded in one order only"


def adaptive_summary(adaptive: Mapping[str, Any]) -> str:
    """One sentence on an adaptive stop: calls used, why it stopped, verdict and what decided it."""
    text = (
        f"stopped after {counted(adaptive.get('n_examples'), 'example')}"
        f" ({counted(adaptive.get('n_requests'), 'judge request')}"
    )
    if adaptive.get("budget") is not None:
        text += f", budget {count(adaptive.get('budget'))}"
    alpha = adaptive.get("alpha")
    alpha_seq = adaptive.get("alpha_sequential")
    alpha_seq = alpha if alpha_seq is None else alpha_seq
    text += (
        f"): {adaptive.get('reason')}; verdict {adaptive.get('verdict')}"
        f"; {level(1 - alpha_seq) if _is_number(alpha_seq) else MISSING}"
        f" confidence sequence {pct_ci(adaptive.get('interval'))}"
    )
    if adaptive.get("decided_by") == "final test":
        text += f"; decided by the planned final test at the end (p = {pval(adaptive.get('final_p'))})"
    elif adaptive.get("final_p") is not None:
        text += f"; final test p = {pval(adaptive.get('final_p'))}"
    if _is_number(alpha):
        text += f"; overall error rate at most {alpha:g}"
    return text + "."


def lc_status(lc: Mapping[str, Any]) -> str:
    """`` (regularised)`` after the length-controlled win rate's label when it was regularised."""
    return " (regularised)" if lc.get("status") == "regularised" else ""


def agreement_summary(agreement: Mapping[str, Any]) -> tuple[str, str, str]:
    """Judge agreement as (measure, value, details): Krippendorff's alpha, then the kappas.

    Every word comes from this function (none from the report), so renderers need not escape it.
    """
    method = str(agreement.get("method") or "")
    if not method.startswith("krippendorff-alpha-"):  # reports from before the ordinal measures
        name = "Cohen's κ" if method == "cohen" else "Fleiss' κ"
        return name, num(agreement.get("kappa"), 2), f"all agree on {pct(agreement.get('all_agree_rate'))}"
    level = {"krippendorff-alpha-ordinal": "ordinal", "krippendorff-alpha-interval": "interval"}.get(method)
    name = f"Krippendorff's α, {level}" if level else "Krippendorff's α"
    details = []
    if agreement.get("weighted_kappa") is not None:
        weighted = "linearly weighted" if agreement.get("weights") == "linear" else "weighted"
        details.append(f"{weighted} κ {num(agreement.get('weighted_kappa'), 2)}")
    nominal = agreement.get("nominal")
    nominal = nominal if isinstance(nominal, Mapping) else {}
    kappas = [
        f"{label} {num(nominal.get(key), 2)}, "
        for key, label in (("cohen_kappa", "Cohen's κ"), ("fleiss_kappa", "Fleiss' κ"))
        if nominal.get(key) is not None
    ]
    details.append(
        f"on old/tie/new: {''.join(kappas)}all agree on {pct(nominal.get('all_agree_rate'))}"
        f" of {count(nominal.get('n_items'))}"
    )
    if _is_number(agreement.get("n_missing")) and agreement["n_missing"] > 0:
        details.append(f"{counted(agreement.get('n_missing'), 'verdict')} missing")
    return name, num(agreement.get("alpha"), 2), "; ".join(details)


def _pair(ci: Any) -> tuple[float | None, float | None]:
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        low, high = ci
        return (low if _is_number(low) else None, high if _is_number(high) else None)
    return None, None


def text_of(value: Any) -> str:
    """Untrusted example content (text, chat messages, a feature row) as plain text.

    ``None`` becomes an empty string; chat messages become ``role: content`` paragraphs;
    any other non-string value is written as compact JSON.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if (
        isinstance(value, Sequence)
        and value
        and all(isinstance(m, Mapping) and "content" in m for m in value)
    ):
        return "\n\n".join(f"{m.get('role', 'message')}: {text_of(m['content'])}" for m in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def reference(value: Any) -> str:
    """A reference as people read it: alternatives as ``1000 or 1,000`` (never the separator)."""
    from deltaeval.references import reference_text

    return (reference_text(value) or "") if isinstance(value, str) else text_of(value)


def one_line(text: str, limit: int | None = None) -> str:
    """Collapse all whitespace runs to one space and cut to ``limit`` characters with ``…``."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return truncate(flat, limit)


def truncate(text: str, limit: int | None) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending in ``…`` when cut."""
    if limit is None or len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def tags_text(tags: Any) -> str:
    """Example tags as ``key=value, key=value`` (sorted by key)."""
    if not isinstance(tags, Mapping) or not tags:
        return ""
    return ", ".join(f"{k}={text_of(v)}" for k, v in sorted(tags.items(), key=lambda kv: kv[0]))


def alignment_warnings(report: Mapping[str, Any], max_ids: int = 10) -> list[str]:
    """Plain-text warnings about ids that did not pair up and outputs that were errors."""
    alignment = report.get("alignment") or {}
    old_name = str((report.get("old") or {}).get("name", "old"))
    new_name = str((report.get("new") or {}).get("name", "new"))
    warnings: list[str] = []

    def ids(values: Any, total: int) -> str:
        shown = [str(v) for v in (values or [])][:max_ids]
        more = total - len(shown)
        return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")

    for key, count_key, side, other in (
        ("missing_in_new", "n_missing_in_new", old_name, new_name),
        ("missing_in_old", "n_missing_in_old", new_name, old_name),
    ):
        values = alignment.get(key) or []
        n = alignment.get(count_key)
        n = n if isinstance(n, int) else len(values)
        if n:
            noun = "id" if n == 1 else "ids"
            warnings.append(f"{n:,} {noun} of {side} missing in {other} (not compared): {ids(values, n)}")
    for key, side in (("duplicates_old", old_name), ("duplicates_new", new_name)):
        values = alignment.get(key) or []
        if values:
            noun = "id" if len(values) == 1 else "ids"
            warnings.append(
                f"{len(values):,} duplicate {noun} in {side} (first kept): {ids(values, len(values))}"
            )
    for key, side in (("errors_old", old_name), ("errors_new", new_name)):
        n = alignment.get(key)
        if isinstance(n, int) and n > 0:
            noun = "output" if n == 1 else "outputs"
            warnings.append(f"{n:,} {noun} of {side} ended in an error (counted as wrong)")
    return warnings
