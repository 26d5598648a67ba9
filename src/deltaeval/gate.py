"""CI gate: check a JSON report against thresholds, with one-sided confidence bounds.

Every check decides at the gate's own ``alpha`` from the counts in the report, not from the
report's two-sided intervals (whose ends are one-sided bounds at ``alpha / 2``, made at the
report's level). What each check tests:

- ``max_nfr`` X: passes when the one-sided upper (1 − alpha) Clopper–Pearson bound of the
  negative flip rate is ≤ X. If the true NFR is above X, the chance of passing is at most alpha.
- ``max_accuracy_drop`` D (non-inferiority): passes when the one-sided upper (1 − alpha) bound of
  accuracy(old) − accuracy(new) (Tango's paired score interval) is ≤ D.
- ``min_accuracy_delta`` Y: passes when the one-sided lower (1 − alpha) bound of
  accuracy(new) − accuracy(old) is ≥ Y (Y = 0: a significant improvement is required).
- ``max_slice_nfr`` R: for every slice of every ``--by`` tag, and every discovered slice of the
  ``discovered_slices`` section (on its held-out half), tests H0 "the slice's NFR ≤ R"
  against "above R" (exact binomial, one-sided) and adjusts the p-values with Holm across all
  slices; fails when any slice rejects H0. The chance that a release whose slices are all
  within R fails this check is at most alpha, however many slices there are. It finds
  regressions; it does not prove every slice fine (a slice too small to show a regression
  passes; ``max_nfr`` bounds the whole).
- ``max_slice_loss_rate`` R (judge reports): the same test as ``max_slice_nfr`` on the rate at
  which the judge prefers old (a loss of new; ties are none): for every row of the
  ``preference.by_tag`` tables (losses of the examples with a verdict) and every discovered slice
  of a judge report's ``discovered_slices`` section (event "judge prefers old", on its held-out
  half), exact one-sided binomial tests of "loss rate ≤ R", Holm across all. A judging whose
  ``preference.validity.status`` is ``failed`` or ``insufficient`` fails it, saying which.
  ``max_slice_nfr`` on a judge report is an error naming this check.
- ``max_p`` Z: McNemar's exact p must be ≤ Z.
- ``min_win_rate`` W (judge reports): the lower end of the report's win-rate interval must be
  ≥ W (a one-sided bound at (1 − level) / 2; the report holds no per-example outcomes to
  recompute it at another alpha). A report whose ``preference.validity.status`` is ``failed``
  (most judge requests gave no verdict) or ``insufficient`` (too few judged examples) fails,
  saying which.

With ``estimate=True`` every check compares the point estimate instead (no confidence: a
release whose true NFR is just above X passes about half the time).

The bounds and tests are computed in pure Python (``deltaeval.exact``): the gate loads neither
numpy nor SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deltaeval.errors import InputError, UsageError
from deltaeval.exact import binomial_sf, clopper_pearson, holm, tango_interval
from deltaeval.plural import plural


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


def _count(report: dict[str, Any], section: str, key: str) -> int:
    value = _field(report, section, key)
    if type(value) is not int or value < 0:
        raise InputError(
            f"the report's {section}.{key} is {value!r}, not a count",
            hint="write the report again with `deltaeval compare --json`",
        )
    return value


def report_alpha(report: dict[str, Any]) -> float:
    """The report's significance level (``settings.alpha``), 0.05 when it has none."""
    settings = report.get("settings")
    value = settings.get("alpha") if isinstance(settings, dict) else None
    return float(value) if isinstance(value, int | float) and 0 < value < 1 else 0.05


def evaluate_gate(
    report: dict[str, Any],
    *,
    max_nfr: float | None = None,
    max_accuracy_drop: float | None = None,
    min_accuracy_delta: float | None = None,
    max_slice_nfr: float | None = None,
    max_p: float | None = None,
    min_win_rate: float | None = None,
    max_slice_loss_rate: float | None = None,
    alpha: float | None = None,
    estimate: bool = False,
) -> list[GateCheck]:
    """Evaluate the thresholds that are given; each yields a ``GateCheck`` (see the module doc).

    ``alpha`` defaults to the report's ``settings.alpha``. ``estimate`` compares point
    estimates instead of confidence bounds.
    """
    a = report_alpha(report) if alpha is None else float(alpha)
    if not 0 < a < 0.5:
        raise UsageError(f"alpha {a} is out of range", hint="use e.g. 0.05")
    confidence = f"one-sided {1 - a:.0%}"
    flip_checks = (max_nfr, max_accuracy_drop, min_accuracy_delta, max_slice_nfr, max_p)
    if any(value is not None for value in flip_checks):
        _require_flips(report)
    checks: list[GateCheck] = []
    if max_nfr is not None:
        checks.append(_nfr_check(report, max_nfr, a, confidence, estimate))
    if max_accuracy_drop is not None or min_accuracy_delta is not None:
        checks.extend(
            _accuracy_checks(report, max_accuracy_drop, min_accuracy_delta, a, confidence, estimate)
        )
    if max_slice_nfr is not None:
        checks.append(_slice_check(report, max_slice_nfr, a, estimate))
    if max_p is not None:
        p = _field(report, "flips", "mcnemar_p")
        passed = p is not None and p <= max_p
        shown = "undefined" if p is None else f"{p:.4g}"
        checks.append(GateCheck("max_p", passed, f"McNemar p {shown} {'<=' if passed else '>'} {max_p:g}"))
    if min_win_rate is not None:
        checks.append(_win_rate_check(report, min_win_rate, estimate))
    if max_slice_loss_rate is not None:
        checks.append(_loss_rate_check(report, max_slice_loss_rate, a, estimate))
    return checks


def _require_flips(report: dict[str, Any]) -> None:
    """Refuse a comparison report written without correctness (its ``flips`` is null)."""
    if isinstance(report, dict) and "flips" in report and report["flips"] is None:
        raise InputError(
            "the report has no flips: it was made without a scorer, and its runs carry no correctness",
            hint="compare again with --scorer SCORER (the examples need references), or judge the runs "
            "with `deltaeval judge OLD NEW --json FILE` and gate that report with --min-win-rate",
        )


def _nfr_check(
    report: dict[str, Any], threshold: float, alpha: float, confidence: str, estimate: bool
) -> GateCheck:
    negative = _count(report, "flips", "negative")
    n = _count(report, "flips", "n")
    counts = f"{negative} negative flips of {n}"
    if n == 0:
        return GateCheck("max_nfr", False, f"NFR undefined: no shared example ({counts})")
    if estimate:
        value = negative / n
        label = "NFR estimate"
        method = "point estimate, no confidence"
    else:
        bound = clopper_pearson(negative, n, 1 - alpha, "upper")
        assert bound is not None
        value = bound[1]
        label = "NFR upper bound"
        method = f"{confidence}, Clopper–Pearson"
    passed = value <= threshold
    return GateCheck(
        "max_nfr",
        passed,
        f"{label} {_pct(value)} {'<=' if passed else '>'} {_pct(threshold)} ({method}; {counts})",
    )


def _accuracy_checks(
    report: dict[str, Any],
    max_drop: float | None,
    min_delta: float | None,
    alpha: float,
    confidence: str,
    estimate: bool,
) -> list[GateCheck]:
    negative = _count(report, "flips", "negative")
    positive = _count(report, "flips", "positive")
    n = _count(report, "flips", "n")
    counts = f"{negative} negative and {positive} positive flips of {n}"
    if n == 0:
        given = (("max_accuracy_drop", max_drop), ("min_accuracy_delta", min_delta))
        return [
            GateCheck(name, False, "accuracy change undefined: no shared example")
            for name, value in given
            if value is not None
        ]
    # both checks read one figure: accuracy(new) − accuracy(old), or its one-sided lower bound
    if estimate:
        low = (positive - negative) / n
        method = "point estimate, no confidence"
    else:
        bound = tango_interval(negative, positive, n, 1 - alpha, "lower")
        assert bound is not None
        low = bound[0]
        method = f"{confidence}, Tango score"
    suffix = "" if estimate else " upper bound"
    checks = []
    if max_drop is not None:
        drop = -low
        passed = drop <= max_drop + 1e-12
        checks.append(
            GateCheck(
                "max_accuracy_drop",
                passed,
                f"accuracy drop (old − new){suffix} {_pp(drop)} {'<=' if passed else '>'} {_pp(max_drop)} "
                f"({method}; {counts})",
            )
        )
    if min_delta is not None:
        passed = low >= min_delta - 1e-12
        label = "accuracy change (new − old)" + ("" if estimate else " lower bound")
        checks.append(
            GateCheck(
                "min_accuracy_delta",
                passed,
                f"{label} {_pp(low)} {'>=' if passed else '<'} {_pp(min_delta)} ({method}; {counts})",
            )
        )
    return checks


def _discovered_rows(
    report: dict[str, Any], event: str = "negative flip"
) -> list[tuple[str, int, int]] | None:
    """The discovered slices' held-out counts (events, examples); None without a section of ``event``.

    Each discovered slice (confirmed or not) counts on its confirmation half, which played no
    part in finding it, so the test of its rate there is valid.
    """
    section = report.get("discovered_slices")
    if not isinstance(section, dict) or section.get("event") != event:
        return None
    rows = []
    for item in [*(section.get("confirmed") or []), *(section.get("unconfirmed") or [])]:
        conf = item.get("confirmation") if isinstance(item, dict) else None
        n, negative = (conf.get("support"), conf.get("events")) if isinstance(conf, dict) else (None, None)
        if type(n) is not int or type(negative) is not int or not 0 <= negative <= n:
            raise InputError(
                "a discovered slice has no valid counts",
                hint="write the report again with `deltaeval compare --json`",
            )
        rows.append((f"discovered slice {item.get('description')!r} (held-out half)", negative, n))
    return rows


def _slice_rows(report: dict[str, Any]) -> list[tuple[str, int, int]]:
    if "flips" not in report and isinstance(report.get("preference"), dict):
        raise InputError(
            "a judge report has no NFR: --max-slice-nfr gates the slices of `deltaeval compare` reports",
            hint="gate a judge report's slices on the rate the judge prefers old: --max-slice-loss-rate R",
        )
    slices = report.get("slices")
    discovered = _discovered_rows(report)
    if (not isinstance(slices, list) or not slices) and discovered is None:
        raise InputError(
            "the report has no slices",
            hint="write it with `deltaeval compare … --by TAG --json FILE` (or --slices) to gate on slices",
        )
    return _tag_rows(slices, "negative", "compare") + (discovered or [])


def _tag_rows(tables: Any, key: str, command: str) -> list[tuple[str, int, int]]:
    """(tag=value, events, n) of each row of per-tag tables; ``key`` names the events' count."""
    rows = []
    for table in tables if isinstance(tables, list) else []:
        tag = str(table.get("tag")) if isinstance(table, dict) else "?"
        for row in table.get("rows", []) if isinstance(table, dict) else []:
            n, events = row.get("n"), row.get(key)
            if type(n) is not int or type(events) is not int or not 0 <= events <= n:
                raise InputError(
                    f"slice {tag}={row.get('value')!r} has no valid counts",
                    hint=f"write the report again with `deltaeval {command} --json`",
                )
            rows.append((f"{tag}={row.get('value')}", events, n))
    return rows


def _slice_check(report: dict[str, Any], threshold: float, alpha: float, estimate: bool) -> GateCheck:
    return _rate_check("max_slice_nfr", ("NFR", "an NFR"), _slice_rows(report), threshold, alpha, estimate)


def _loss_rows(report: dict[str, Any]) -> list[tuple[str, int, int]]:
    """A judge report's slices: the ``preference.by_tag`` rows and the discovered slices (losses, n)."""
    preference = report.get("preference")
    if not isinstance(preference, dict):
        raise InputError(
            "the report has no preference section: --max-slice-loss-rate gates `deltaeval judge` reports",
            hint="gate a comparison's slices with --max-slice-nfr R, or judge the runs with "
            "`deltaeval judge OLD NEW --json FILE`",
        )
    tables = preference.get("by_tag")
    discovered = _discovered_rows(report, "judge prefers old")
    if (not isinstance(tables, list) or not tables) and discovered is None:
        raise InputError(
            "the judge report has no slices",
            hint="write it with `deltaeval judge … --by TAG --json FILE` (or --slices) to gate on slices",
        )
    return _tag_rows(tables, "losses", "judge") + (discovered or [])


def _loss_rate_check(report: dict[str, Any], threshold: float, alpha: float, estimate: bool) -> GateCheck:
    rows = _loss_rows(report)
    validity = report["preference"].get("validity")
    if isinstance(validity, dict) and validity.get("status") in ("failed", "insufficient"):
        return GateCheck(
            "max_slice_loss_rate",
            False,
            f"no slice loss rate to gate on (needs <= {_pct(threshold)}): {validity.get('message')}",
        )
    return _rate_check("max_slice_loss_rate", ("loss rate", "a loss rate"), rows, threshold, alpha, estimate)


def _rate_check(
    name: str,
    names: tuple[str, str],
    all_rows: list[tuple[str, int, int]],
    threshold: float,
    alpha: float,
    estimate: bool,
) -> GateCheck:
    """Each slice's rate of events against ``threshold``: one-sided exact tests, Holm across slices.

    ``names`` names the rate, bare and with its article (``("NFR", "an NFR")``).
    """
    rows = [r for r in all_rows if r[2] > 0]
    if not rows:
        return GateCheck(name, True, "no slice with examples")
    metric, a_metric = names
    if estimate:
        over = [(label, k, n) for label, k, n in rows if k / n > threshold]
        detail = "; ".join(f"{label}: {metric} {_pct(k / n)} ({k}/{n})" for label, k, n in over[:5])
        if over:
            return GateCheck(
                name,
                False,
                f"{len(over)} of {plural(len(rows), 'slice')} {'has' if len(over) == 1 else 'have'} "
                f"{a_metric} estimate above {_pct(threshold)} "
                f"(point estimates, no confidence): {detail}",
            )
        return GateCheck(
            name,
            True,
            f"every slice's {metric} estimate <= {_pct(threshold)} "
            f"({plural(len(rows), 'slice')}; point estimates)",
        )
    adjusted = holm([binomial_sf(k, m, threshold) for _, k, m in rows])
    method = (
        f"exact one-sided binomial test per slice, Holm across {plural(len(rows), 'slice')} "
        f"at alpha {alpha:g}"
    )
    failing = [i for i in sorted(range(len(rows)), key=adjusted.__getitem__) if adjusted[i] <= alpha]
    if failing:
        detail = "; ".join(
            f"{rows[i][0]}: {metric} {_pct(rows[i][1] / rows[i][2])} ({rows[i][1]}/{rows[i][2]}), "
            f"adjusted p {adjusted[i]:.3g}"
            for i in failing[:5]
        )
        return GateCheck(
            name,
            False,
            f"{plural(len(failing), 'slice')} with {a_metric} significantly above {_pct(threshold)} "
            f"({method}): {detail}",
        )
    worst = min(range(len(rows)), key=adjusted.__getitem__)
    label, k, m = rows[worst]
    return GateCheck(
        name,
        True,
        f"no slice's {metric} is significantly above {_pct(threshold)} ({method}; "
        f"lowest adjusted p {adjusted[worst]:.3g} at {label}, {k}/{m})",
    )


def _win_rate_check(report: dict[str, Any], threshold: float, estimate: bool) -> GateCheck:
    win = _field(report, "preference", "win_rate")
    validity = report["preference"].get("validity") if isinstance(report["preference"], dict) else None
    if isinstance(validity, dict) and validity.get("status") in ("failed", "insufficient"):
        return GateCheck(
            "min_win_rate",
            False,
            f"no win rate to gate on (needs >= {_pct(threshold)}): {validity.get('message')}",
        )
    rate = win.get("win_rate") if isinstance(win, dict) else None
    label = "win rate"
    if not estimate:
        ci = win.get("win_rate_ci") if isinstance(win, dict) else None
        rate = ci[0] if ci else None
        settings = report.get("settings") if isinstance(report.get("settings"), dict) else {}
        level = settings.get("confidence_level", 0.95)
        label = f"win rate lower bound (the report's {level:.0%} interval)"
    passed = rate is not None and rate >= threshold
    counts = (
        f"{plural(win.get('wins') or 0, 'win')}, {plural(win.get('ties') or 0, 'tie')}, "
        f"{plural(win.get('losses') or 0, 'loss', 'losses')}"
        if isinstance(win, dict)
        else "no judgments"
    )
    return GateCheck(
        "min_win_rate",
        passed,
        f"{label} {_pct(rate)} {'>=' if passed else '<'} {_pct(threshold)} ({counts})",
    )


def _pct(value: float | None) -> str:
    return "undefined" if value is None else f"{value * 100:.2f}%"


def _pp(value: float | None) -> str:
    return "undefined" if value is None else f"{value * 100:+.2f} pp"
