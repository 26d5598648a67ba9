"""CI gate: check a JSON report against thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deltaeval.errors import InputError


@dataclass(frozen=True)
class GateCheck:
    """One threshold check and whether it passed."""

    name: str
    passed: bool
    description: str


def _field(report: dict[str, Any], section: str, key: str) -> Any:
    try:
        return report[section][key]
    except (KeyError, TypeError):
        raise InputError(
            f"the report has no {section}.{key}",
            hint="pass a JSON report written by `deltaeval compare --json` (or `deltaeval judge --json` "
            "for --min-win-rate)",
        ) from None


def evaluate_gate(
    report: dict[str, Any],
    *,
    max_nfr: float | None = None,
    min_accuracy_delta: float | None = None,
    max_p: float | None = None,
    use_upper: bool = False,
    min_win_rate: float | None = None,
) -> list[GateCheck]:
    """Evaluate the thresholds that are given; each yields a ``GateCheck``.

    ``max_nfr``: the negative flip rate (or, with ``use_upper``, the upper end of its interval)
    must not exceed it. ``min_accuracy_delta``: accuracy(new) − accuracy(old) must be at least it.
    ``max_p``: McNemar's p must be at most it (the accuracy change must be significant).
    ``min_win_rate``: the judged win rate of new (a report of ``deltaeval judge``, or one with a
    ``preference`` section) must be at least it — with ``use_upper``, the lower end of its
    interval (the conservative bound).
    """
    checks: list[GateCheck] = []
    if max_nfr is not None:
        nfr = _field(report, "flips", "nfr")
        label = "NFR"
        if use_upper:
            ci = _field(report, "flips", "nfr_ci")
            nfr = ci[1] if ci else nfr
            label = "NFR upper bound"
        passed = nfr is not None and nfr <= max_nfr
        checks.append(
            GateCheck(
                "max_nfr",
                passed,
                f"{label} {_pct(nfr)} {'<=' if passed else '>'} {_pct(max_nfr)} "
                f"({_field(report, 'flips', 'negative')} negative flips of {_field(report, 'flips', 'n')})",
            )
        )
    if min_accuracy_delta is not None:
        delta = _field(report, "accuracy", "delta")
        passed = delta is not None and delta >= min_accuracy_delta
        checks.append(
            GateCheck(
                "min_accuracy_delta",
                passed,
                f"accuracy delta {_pct(delta, signed=True)} {'>=' if passed else '<'} "
                f"{_pct(min_accuracy_delta, signed=True)}",
            )
        )
    if max_p is not None:
        p = _field(report, "flips", "mcnemar_p")
        passed = p is not None and p <= max_p
        checks.append(
            GateCheck(
                "max_p",
                passed,
                f"McNemar p {p:.4g} {'<=' if passed else '>'} {max_p:g}",
            )
        )
    if min_win_rate is not None:
        win = _field(report, "preference", "win_rate")
        rate = win.get("win_rate") if isinstance(win, dict) else None
        label = "win rate"
        if use_upper:
            ci = win.get("win_rate_ci") if isinstance(win, dict) else None
            rate = ci[0] if ci else rate
            label = "win rate lower bound"
        passed = rate is not None and rate >= min_win_rate
        checks.append(
            GateCheck(
                "min_win_rate",
                passed,
                f"{label} {_pct(rate)} {'>=' if passed else '<'} {_pct(min_win_rate)} "
                f"({win.get('wins')} wins, {win.get('ties')} ties, {win.get('losses')} losses)",
            )
        )
    return checks


def _pct(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "undefined"
    return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"
