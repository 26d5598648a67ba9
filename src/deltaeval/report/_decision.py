"""The figures a ship decision reads first, as plain text shared by every renderer.

The verdict of a report with flips names two things, in the words ``deltaeval gate`` uses: the
accuracy change (exact McNemar, the report's verdict) and the regressions (negative flips) with
the one-sided upper bound of their rate, the figure ``gate --max-nfr`` compares with its
threshold (Clopper–Pearson at 1 − ``settings.alpha``, the gate's default). So a badge never says
"no significant change" alone while an NFR gate fails: it shows the NFR bound beside it.

Every function returns plain text; each renderer escapes it for its medium.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltaeval.gate import report_alpha
from deltaeval.report import _format as fmt

_ACCURACY_WORDS = {
    "regressed": "accuracy regressed",
    "improved": "accuracy improved",
    "no significant change": "accuracy: no significant change",
}


def _flips(report: Mapping[str, Any]) -> Mapping[str, Any]:
    flips = report.get("flips")
    return flips if isinstance(flips, Mapping) else {}


def one_sided_level(report: Mapping[str, Any]) -> str:
    """The level of the gate's default bound: ``one-sided 95%`` at alpha 0.05."""
    return f"one-sided {fmt.level(1 - report_alpha(dict(report)))}"


def nfr_upper_bound(report: Mapping[str, Any]) -> float | None:
    """The one-sided upper (1 − alpha) Clopper–Pearson bound of the NFR, as the gate computes it.

    None when the report's counts do not define it (no shared example, counts missing).
    """
    flips = _flips(report)
    negative, n = flips.get("negative"), flips.get("n")
    if type(negative) is not int or type(n) is not int or n <= 0 or not 0 <= negative <= n:
        return None
    from deltaeval.exact import clopper_pearson  # pure Python: a gate's job summary loads no numpy

    bound = clopper_pearson(negative, n, 1 - report_alpha(dict(report)), "upper")
    return None if bound is None else bound[1]


def regressions_text(report: Mapping[str, Any]) -> str:
    """``3 regressions (NFR 4.2%, ≤ 6.1% at one-sided 95%)``: negative flips and the NFR bound."""
    flips = _flips(report)
    negative = flips.get("negative")
    if negative == 0:
        count = "no regressions"
    elif isinstance(negative, int):
        count = f"{negative:,} regression{'s' if negative != 1 else ''}"
    else:
        count = "regressions"
    return (
        f"{count} (NFR {fmt.pct(flips.get('nfr'))}, ≤ {fmt.pct(nfr_upper_bound(report))}"
        f" at {one_sided_level(report)})"
    )


def accuracy_text(report: Mapping[str, Any]) -> str:
    """``accuracy: no significant change (-1.0 pp [-3.9, +1.9] pp, exact McNemar p = 0.45)``."""
    flips = _flips(report)
    accuracy = report.get("accuracy") if isinstance(report.get("accuracy"), Mapping) else {}
    verdict = str(flips.get("verdict") or "")
    word = _ACCURACY_WORDS.get(verdict, f"accuracy: {fmt.verdict_word(verdict).lower()}")
    return (
        f"{word} ({fmt.pp(accuracy.get('delta'))} {fmt.pp_ci(accuracy.get('delta_ci'))},"
        f" exact McNemar p = {fmt.pval(flips.get('mcnemar_p'))})"
    )


def verdict_line(report: Mapping[str, Any]) -> str:
    """The accuracy change and the regressions on one line, joined by `` · ``."""
    return f"{accuracy_text(report)} · {regressions_text(report)}"


def badge(report: Mapping[str, Any]) -> str:
    """A short verdict for a title or badge: ``Accuracy: no significant change · NFR 4.2%, upper
    bound 6.1%``."""
    verdict = str(_flips(report).get("verdict") or "")
    word = _ACCURACY_WORDS.get(verdict, fmt.verdict_word(verdict))
    nfr = fmt.pct(_flips(report).get("nfr"))
    return f"{word[:1].upper()}{word[1:]} · NFR {nfr}, upper bound {fmt.pct(nfr_upper_bound(report))}"
