"""From judgments to the report's ``preference`` section (docs/report-schema.md).

The statistics all come from ``analysis.preference``, ``analysis.length_control`` and
``analysis.adaptive``; this module only arranges their inputs (per-example outcomes, tags,
lengths) and their results as JSON-ready dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deltaeval import __version__
from deltaeval.analysis.agreement import NOMINAL_CATEGORIES, ORDINAL_RULE, panel_agreement
from deltaeval.analysis.length_control import estimate_instruction_difficulty, length_controlled_win_rate
from deltaeval.analysis.preference import (
    alpaca_win_rate,
    position_bias,
    verdict_scores,
    win_rate_by_tag,
    win_rate_stats,
)
from deltaeval.errors import UsageError
from deltaeval.jsonable import interval as _ci
from deltaeval.jsonable import num as _num
from deltaeval.jsonable import run_block as _run_block
from deltaeval.judging.base import Judge
from deltaeval.judging.protocol import Comparison, JudgingResult, Prices, judge_runs
from deltaeval.judging.validity import (
    DEFAULT_MIN_VALID,
    INSUFFICIENT,
    STATUS_OK,
    check_min_valid,
    validity_block,
)
from deltaeval.types import Judgment, Run, input_text

SCHEMA = "deltaeval.report"
SCHEMA_VERSION = 1
#: Longest judge explanation kept in the report, in characters.
MAX_EXPLANATION = 4000
#: A raw judge reply is shown as the explanation when there is none, if no longer than this.
MAX_RAW_AS_EXPLANATION = 2000
LC_BOOT = 200


@dataclass(frozen=True)
class JudgeSettings:
    """Statistics options of a judging report (validated at construction)."""

    by: tuple[str, ...] = ()
    seed: int = 0
    n_boot: int = 1000
    confidence_level: float = 0.95
    alpha: float = 0.05
    max_examples: int = 5
    min_valid: int = DEFAULT_MIN_VALID
    #: Slice discovery where the judge prefers old: True/False, or None from MIN_N to MAX_N_DEFAULT
    #: examples with a verdict (``deltaeval.judging.slices``).
    slice_discovery: bool | None = None
    #: What the input clusters among the slice candidates are of: "tfidf" or "minilm".
    slice_clusters: str = "tfidf"

    def __post_init__(self) -> None:
        check_min_valid(self.min_valid)
        if self.slice_clusters != "tfidf":  # the default needs no check (nor the slices module)
            from deltaeval.slices.api import check_slice_clusters

            check_slice_clusters(self.slice_clusters)
        if not 0.5 <= self.confidence_level < 1:
            raise UsageError(
                f"confidence level {self.confidence_level} is out of range", hint="use e.g. 0.95"
            )
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha {self.alpha} is out of range", hint="use e.g. 0.05")
        if self.n_boot < 0:
            raise UsageError("the number of bootstrap resamples must be >= 0")
        if self.max_examples < 0:
            raise UsageError("max_examples must be >= 0")


# -- blocks ---------------------------------------------------------------------------------------


def _win_rate_block(x: NDArray[np.float64], settings: JudgeSettings, seed: int) -> dict[str, Any]:
    s = win_rate_stats(x, n_boot=settings.n_boot, level=settings.confidence_level, seed=seed)
    return {
        "n": s.n,
        "wins": s.wins,
        "ties": s.ties,
        "losses": s.losses,
        "win_rate": _num(s.win_rate),
        "win_rate_ci": _ci(s.interval),
        "standard_error": _num(s.standard_error),
        "p_value": _num(s.p_value),
        "test": s.test,
        "sign_test_p": _num(s.sign_test_p),
        "t_test_p": _num(s.t_test_p),
        "verdict": s.verdict(settings.alpha),
    }


def _bias_block(new_first: NDArray[np.float64], new_second: NDArray[np.float64]) -> dict[str, Any]:
    b = position_bias(new_first, new_second)
    return {
        "n": b.n,
        "n_bias": b.n_bias,
        "rate": _num(b.rate),
        "first_position_win_rate": _num(b.first_position_win_rate),
    }


def _agreement_block(
    scores: list[NDArray[np.float64]], outcomes: list[NDArray[np.float64]], judges: Sequence[str]
) -> dict[str, Any] | None:
    """Panel agreement (``analysis.agreement``); items are (comparison, example) pairs judged."""
    if len(judges) < 2:
        return None
    a = panel_agreement(np.concatenate(scores, axis=0), np.concatenate(outcomes, axis=0))
    return {
        "method": f"krippendorff-alpha-{a.level}",
        "alpha": _num(a.alpha),
        "level": a.level,
        "levels": None if a.levels is None else list(a.levels),
        "score": ORDINAL_RULE,
        "n_judges": a.n_judges,
        "n_items": a.n_items,
        "n_complete": a.n_complete,
        "n_missing": a.n_missing,
        "weighted_kappa": None if a.weighted_kappa is None else _num(a.weighted_kappa),
        "weights": None if a.weighted_kappa is None else "linear",
        "nominal": {
            "categories": list(NOMINAL_CATEGORIES),
            "cohen_kappa": None if a.cohen_kappa is None else _num(a.cohen_kappa),
            "fleiss_kappa": None if a.fleiss_kappa is None else _num(a.fleiss_kappa),
            "n_items": a.n_nominal,
            "all_agree": a.all_agree,
            "all_agree_rate": _num(a.all_agree / a.n_nominal) if a.n_nominal else None,
        },
    }


def _cost_block(result: JudgingResult, judged: set[str]) -> dict[str, Any]:
    prices = result.prices

    def totals(items: list[Judgment]) -> dict[str, Any]:
        prompt = [j.prompt_tokens for j in items if j.prompt_tokens is not None]
        completion = [j.tokens for j in items if j.tokens is not None]
        costs = [j.cost for j in items if j.cost is not None]
        return {
            "requests": len(items),
            "attempts": sum(j.attempts for j in items),
            "cached": sum(j.cached for j in items),
            "errors": sum(j.error is not None for j in items),
            "prompt_tokens": sum(prompt) if prompt else None,
            "completion_tokens": sum(completion) if completion else None,
            "cost": _num(sum(costs)) if costs else None,
        }

    used = list(result.judgments)
    per_judge = [{"judge": name, **totals([j for j in used if j.judge == name])} for name in result.judges]
    per_comparison = [
        {"run_a": c.a, "run_b": c.b, **totals([j for j in used if (j.run_a, j.run_b) == (c.a, c.b)])}
        for c in result.comparisons
    ]
    total = totals(used)
    n_examples = len(judged)
    return {
        "price_in": None if prices is None else prices.input,
        "price_out": None if prices is None else prices.output,
        "price_unit": "per million tokens",
        "judges": per_judge,
        "comparisons": per_comparison,
        "total": total,
        "cost_per_example": _num(total["cost"] / n_examples)
        if total["cost"] is not None and n_examples
        else None,
    }


def _lc_block(
    outcome_b: NDArray[np.float64],
    len_b: NDArray,
    len_a: NDArray,
    settings: JudgeSettings,
    difficulty: Any = None,
) -> dict[str, Any] | None:
    """The length-controlled win rate as JSON; ``lc_win_rate`` is null when it was not estimated
    (``status`` and ``note`` say why, as they say when it was regularised)."""
    if not np.isfinite(outcome_b).any():
        return None
    try:
        r = length_controlled_win_rate(
            1.0 + outcome_b,
            len_b,
            len_a,
            difficulty=difficulty,
            n_boot=min(settings.n_boot, LC_BOOT),
            level=settings.confidence_level,
            seed=settings.seed,
        )
    except (ValueError, np.linalg.LinAlgError):
        return None
    return {
        "lc_win_rate": _num(r.lc_win_rate / 100),
        "lc_win_rate_ci": None
        if r.interval is None
        else [_num(r.interval[0] / 100), _num(r.interval[1] / 100)],
        "standard_error": None if r.standard_error is None else _num(r.standard_error / 100),
        "win_rate": _num(r.win_rate / 100),
        "n": r.n_fit,
        "uses_difficulty": r.uses_difficulty,
        "length_unit": "characters",
        "coefficients": {k: _num(v) for k, v in r.coefficients.items()},
        "status": r.status,
        "note": r.note,
        "ridge": r.ridge,
    }


def _lc_notes(lc: dict[str, Any] | None, who: str = "") -> list[str]:
    """The note of a length-control block, for the section's notes (every format shows them)."""
    if lc is None or not lc.get("note"):
        return []
    return [f"length-controlled win rate{who} {lc['note']}"]


def _strength(judgments: Sequence[Judgment]) -> float:
    """Mean verdict strength for the second run of each judgment, in [−2, 2]."""
    values = []
    for j in judgments:
        if j.label is None:
            continue
        if isinstance(j.label, str):
            first = float(verdict_scores([j.label])[0])
        else:
            first = 4.0 * (float(j.label) - 0.5)
        values.append(first if j.shown_first == j.run_b else -first)
    return float(np.mean(values)) if values else 0.0


def _explanation(j: Judgment) -> str | None:
    text = j.explanation
    if text is None:
        return None
    return text if len(text) <= MAX_EXPLANATION else text[: MAX_EXPLANATION - 1] + "…"


def says(j: Judgment, roles: dict[str, str]) -> str | None:
    """A judgment in words, by role: ``new ≫ old``, ``old > new``, ``tie``, ``P(new better) = 0.73``."""
    if j.label is None:
        return None
    a, b = roles.get(j.run_a, j.run_a), roles.get(j.run_b, j.run_b)
    first = roles.get(j.shown_first, j.shown_first)
    if not isinstance(j.label, str):
        return f"P({first} better) = {float(j.label):.2f}"
    score = float(verdict_scores([j.label])[0])
    for_b = score if j.shown_first == j.run_b else -score
    return {2: f"{b} ≫ {a}", 1: f"{b} > {a}", 0: "tie", -1: f"{a} > {b}", -2: f"{a} ≫ {b}"}[int(for_b)]


def _examples_block(
    result: JudgingResult,
    outcomes: NDArray[np.float64],
    bias_any: NDArray[np.bool_],
    indices: list[int],
    k: int,
) -> dict[str, Any]:
    by_example: dict[str, list[Judgment]] = {}
    for j in result.judgments:
        by_example.setdefault(j.example_id, []).append(j)
    strength = {i: _strength(by_example.get(result.examples[i].id, [])) for i in indices}
    wins = sorted((i for i in indices if outcomes[i] > 0.5), key=lambda i: (-outcomes[i], -strength[i], i))
    losses = sorted((i for i in indices if outcomes[i] < 0.5), key=lambda i: (outcomes[i], strength[i], i))
    names = {result.old.name: "old", result.new.name: "new"}
    if result.baseline is not None:
        names[result.baseline.name] = "baseline"

    def record(i: int) -> dict[str, Any]:
        example = result.examples[i]
        verdicts = []
        for j in by_example.get(example.id, []):
            outcome = j.outcome_for(j.run_b)
            verdicts.append(
                {
                    "judge": j.judge,
                    "run_a": j.run_a,
                    "run_b": j.run_b,
                    "order": j.order,
                    "shown_first": j.shown_first,
                    "label": j.label,
                    "says": says(j, names),
                    "outcome_b": _num(outcome),
                    "explanation": _explanation(j),
                    "error": j.error,
                }
            )
        entry = {
            "id": example.id,
            "input": input_text(example.input),
            "reference": example.reference,
            "tags": dict(sorted(example.tags.items())),
            "old_output": result.texts[result.old.name][i],
            "new_output": result.texts[result.new.name][i],
            "outcome": _num(outcomes[i]),
            "strength": _num(strength[i]),
            "position_bias": bool(bias_any[i]),
            "verdicts": verdicts,
        }
        if result.baseline is not None:
            entry["baseline_output"] = result.texts[result.baseline.name][i]
        return entry

    return {
        "wins": [record(i) for i in wins[:k]],
        "losses": [record(i) for i in losses[:k]],
        "n_wins": len(wins),
        "n_losses": len(losses),
        "roles": names,
    }


def _adaptive_block(result: JudgingResult) -> dict[str, Any] | None:
    a = result.adaptive
    if a is None:
        return None
    per_example = len(result.comparisons) * len(result.judges) * (2 if result.both_orders else 1)
    return {
        "verdict": a.verdict,
        "reason": a.reason,
        "n_examples": a.n_calls,
        "n_judged": len(result.judged),
        "n_available": len(result.examples) - len(result.skipped),
        "n_requests": len(result.judgments),
        "requests_per_example": per_example,
        "budget": result.budget,
        "mean": _num(a.mean),
        "interval": [_num(a.interval[0]), _num(a.interval[1])],
        "alpha": a.alpha,
        "alpha_sequential": a.alpha_sequential,
        "final_p": _num(a.final_p),
        "decided_by": a.decided_by,
        "null": a.null,
        "seed": result.seed,
        "method": "betting confidence sequence (Waudby-Smith & Ramdas 2024), anytime-valid, "
        "with a planned final t-test at the budget",
    }


def _judge_block(
    result: JudgingResult,
    k: int,
    name: str,
    kind: str,
    combined: dict[Comparison, tuple[NDArray, NDArray]],
    tables: dict[Comparison, NDArray],
    mask: NDArray[np.bool_],
    settings: JudgeSettings,
) -> dict[str, Any]:
    mine = [j for j in result.judgments if j.judge == name]
    parts_first = [tables[c][mask, k, 1] for c in result.comparisons]
    parts_second = [tables[c][mask, k, 0] for c in result.comparisons]
    if result.head_to_head:
        x = combined[result.comparisons[0]][0][mask, k]
    else:
        old_x = combined[result.comparisons[0]][0][mask, k]
        new_x = combined[result.comparisons[1]][0][mask, k]
        x = (1.0 + new_x - old_x) / 2.0
    block = {
        "name": name,
        "kind": kind,
        "n_judgments": len(mine),
        "n_errors": sum(j.error is not None for j in mine),
        "n_retried": sum(j.attempts > 1 and j.label is not None for j in mine),
        "errors": sorted({j.error for j in mine if j.error is not None})[:5],
        "position_bias": _bias_block(np.concatenate(parts_first), np.concatenate(parts_second)),
    }
    s = win_rate_stats(x, n_boot=0)
    block.update({"n": s.n, "wins": s.wins, "ties": s.ties, "losses": s.losses, "win_rate": _num(s.win_rate)})
    return block


def preference_section(result: JudgingResult, settings: JudgeSettings) -> dict[str, Any]:
    """The report's ``preference`` block for a judging (see docs/report-schema.md)."""
    n = len(result.examples)
    mask = np.zeros(n, dtype=bool)
    mask[list(result.judged)] = True
    tables = result.outcome_tables()
    combined = result.combined()
    scores = result.ordinal_scores()
    panel = result.panel()
    outcomes = result.outcomes()
    outcomes = np.where(mask, outcomes, np.nan)
    judged_x = outcomes[mask]
    bias_any = np.zeros(n, dtype=bool)
    for _, bias in combined.values():
        bias_any |= bias.any(axis=1)

    all_first = [tables[c][mask, k, 1] for c in result.comparisons for k in range(len(result.judges))]
    all_second = [tables[c][mask, k, 0] for c in result.comparisons for k in range(len(result.judges))]
    pooled_bias = _bias_block(np.concatenate(all_first), np.concatenate(all_second))
    pooled_bias["n_examples_with_bias"] = int((bias_any & mask).sum())

    section: dict[str, Any] = {
        "mode": "head_to_head" if result.head_to_head else "baseline",
        "baseline": None,
        "judges": [
            _judge_block(result, k, name, kind, combined, tables, mask, settings)
            for k, (name, kind) in enumerate(zip(result.judges, result.judge_kinds, strict=True))
        ],
        "protocol": {
            "both_orders": result.both_orders,
            "one_order_judges": list(result.one_order_judges),
            "aggregate": result.aggregate,
            "n_judges": len(result.judges),
            "outcome": "1 = new better, 0 = old better, 0.5 = tie; a strong and a weak win both count 1",
        },
        "n_examples": n,
        "n_judged": int(mask.sum()),
        "n_skipped": len(result.skipped),
        "skipped_ids": list(result.skipped[:100]),
        "n_no_verdict": int((~np.isfinite(judged_x)).sum()),
        "validity": validity_block(result.judgments, int(np.isfinite(judged_x).sum()), settings.min_valid),
        "win_rate": _win_rate_block(judged_x, settings, settings.seed),
        "position_bias": pooled_bias,
        "agreement": _agreement_block(
            [scores[c][mask] for c in result.comparisons],
            [combined[c][0][mask] for c in result.comparisons],
            result.judges,
        ),
        "length_control": None,
        "by_tag": [],
        "adaptive": _adaptive_block(result),
        "cost": _cost_block(result, {result.examples[i].id for i in result.judged}),
        "examples": _examples_block(result, outcomes, bias_any, list(result.judged), settings.max_examples),
        "notes": list(result.notes),
    }

    if section["validity"]["status"] != STATUS_OK:
        section["win_rate"]["verdict"] = INSUFFICIENT
    texts = result.texts
    lengths = {name: np.array([len(t) for t in values], dtype=float) for name, values in texts.items()}
    if result.head_to_head:
        section["length_control"] = _lc_block(
            outcomes[mask], lengths[result.new.name][mask], lengths[result.old.name][mask], settings
        )
        section["notes"] += _lc_notes(section["length_control"])
    else:
        section["baseline"] = _baseline_block(result, panel, mask, lengths, settings)
        section["length_control"] = section["baseline"]["length_control_difference"]
        section["notes"] += section["baseline"].pop("notes")

    tag_names = sorted({t for e in result.examples for t in e.tags})
    for tag in settings.by:
        if tag not in tag_names:
            from deltaeval.io.auto_tags import unknown_tag_error

            raise unknown_tag_error(tag, tag_names, (result.old, result.new))
        values = np.array([result.examples[i].tags.get(tag, "(none)") for i in range(n)], dtype=object)
        keep = mask & np.isfinite(outcomes)
        table = win_rate_by_tag(
            outcomes[keep],
            values[keep].astype(str),
            n_boot=settings.n_boot,
            level=settings.confidence_level,
            alpha=settings.alpha,
            seed=settings.seed,
        )
        section["by_tag"].append(
            {
                "tag": tag,
                "method": table.method,
                "alpha": table.alpha,
                "rows": [
                    {
                        "value": row.value,
                        "n": row.stats.n,
                        "wins": row.stats.wins,
                        "ties": row.stats.ties,
                        "losses": row.stats.losses,
                        "win_rate": _num(row.stats.win_rate),
                        "win_rate_ci": _ci(row.stats.interval),
                        "p_value": _num(row.stats.p_value),
                        "q_value": _num(row.q_value),
                        "significant": bool(row.q_value < table.alpha),
                        "direction": "new"
                        if row.stats.win_rate > 0.5
                        else ("old" if row.stats.win_rate < 0.5 else "tie"),
                    }
                    for row in table.rows
                ],
            }
        )
    if result.both_orders:
        for block in section["judges"]:
            if block["n_judgments"] > block["n_errors"] and not block["position_bias"]["n"]:
                section["notes"].append(
                    f"judge {block['name']} gave no example verdicts in both orders (recorded in one "
                    "order only): its position bias cannot be measured"
                )
    if result.adaptive is not None:
        section["notes"].append(
            "adaptive judging: the win rate, its interval and p-value are over the examples judged; "
            "after an adaptive stop the fixed-sample p-value overstates significance — the adaptive "
            "verdict and its confidence sequence are the valid ones"
        )
    return section


def _baseline_block(
    result: JudgingResult,
    panel: dict[Comparison, NDArray[np.float64]],
    mask: NDArray[np.bool_],
    lengths: dict[str, NDArray],
    settings: JudgeSettings,
) -> dict[str, Any]:
    assert result.baseline is not None
    base = result.baseline.name
    runs = [result.old.name, result.new.name]
    prefs = np.vstack([1.0 + panel[c][mask] for c in result.comparisons])
    len_model = np.vstack([lengths[r][mask] for r in runs])
    len_base = lengths[base][mask]
    difficulty = None
    try:
        if np.isfinite(prefs).sum(axis=1).min() >= 3:
            difficulty = estimate_instruction_difficulty(prefs, len_model, len_base)
    except (ValueError, np.linalg.LinAlgError):
        difficulty = None
    notes: list[str] = []
    if difficulty is not None and difficulty.separated:
        difficulty = None
        notes.append(
            "instruction difficulty not used: the two runs' preferences against the baseline are "
            "perfectly separated by length (the pooled length slope is infinite)"
        )
    block: dict[str, Any] = {"name": base, "runs": {}, "units": "percent (AlpacaEval conventions)"}
    lcs = []
    for k, (run, c) in enumerate(zip(runs, result.comparisons, strict=True)):
        figures = alpaca_win_rate(prefs[k]).as_dict()
        lc = _lc_block(prefs[k] - 1.0, len_model[k], len_base, settings, difficulty)
        notes += _lc_notes(lc, f" of {run}")
        if lc is not None and lc["lc_win_rate"] is None:
            lc = None
        lcs.append(lc)
        x = panel[c][mask]
        stats = win_rate_stats(x, n_boot=settings.n_boot, level=settings.confidence_level, seed=settings.seed)
        block["runs"][run] = {
            **{key: _num(v) if isinstance(v, float) else v for key, v in figures.items()},
            "win_rate_ci": None if stats.interval is None else [_num(v * 100) for v in stats.interval],
            "length_controlled_winrate": None if lc is None else _num(lc["lc_win_rate"] * 100),
            "lc_standard_error": None
            if lc is None or lc["standard_error"] is None
            else _num(lc["standard_error"] * 100),
            "avg_length": _num(float(np.mean(len_model[k]))) if mask.any() else None,
            "role": "old" if k == 0 else "new",
        }
    difference = None
    if lcs[0] is not None and lcs[1] is not None:
        difference = {
            "lc_win_rate": None,
            "lc_difference": _num(lcs[1]["lc_win_rate"] - lcs[0]["lc_win_rate"]),
            "old_lc_win_rate": lcs[0]["lc_win_rate"],
            "new_lc_win_rate": lcs[1]["lc_win_rate"],
            "uses_difficulty": difficulty is not None,
            "length_unit": "characters",
        }
    block["length_control_difference"] = difference
    block["difficulty_estimated_from"] = runs if difficulty is not None else []
    block["notes"] = notes
    return block


# -- the whole report -----------------------------------------------------------------------------


def build_report(result: JudgingResult, settings: JudgeSettings) -> dict[str, Any]:
    """The JSON report of a judging: runs, settings, alignment, the ``preference`` section and,
    when wanted, the ``discovered_slices`` section (the slices where the judge prefers old)."""
    from deltaeval.judging.slices import judged_slices

    a = result.alignment
    shared_ids = {e.id for e in result.examples}
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "deltaeval_version": __version__,
        "old": _run_block(result.old),
        "new": _run_block(result.new),
        "settings": {
            "seed": settings.seed,
            "n_boot": settings.n_boot,
            "confidence_level": settings.confidence_level,
            "by": list(settings.by),
            "alpha": settings.alpha,
            "max_examples": settings.max_examples,
            "min_valid": settings.min_valid,
        },
        "alignment": {
            "n_old": len(a.old_run),
            "n_new": len(a.new_run),
            "n_shared": len(shared_ids),
            "missing_in_new": list(a.missing_in_new[:100]),
            "n_missing_in_new": len(a.missing_in_new),
            "missing_in_old": list(a.missing_in_old[:100]),
            "n_missing_in_old": len(a.missing_in_old),
            "duplicates_old": list(a.old_run.duplicate_ids[:100]),
            "duplicates_new": list(a.new_run.duplicate_ids[:100]),
            "errors_old": sum(o.error is not None for o in a.old),
            "errors_new": sum(o.error is not None for o in a.new),
        },
        "preference": preference_section(result, settings),
    }
    slices = judged_slices(
        result,
        setting=settings.slice_discovery,
        alpha=settings.alpha,
        seed=settings.seed,
        clusters=settings.slice_clusters,
    )
    if slices is not None:
        data["discovered_slices"] = slices
    data["settings"]["slice_discovery"] = slices is not None
    return data


def judge(
    old: Run | str | Path,
    new: Run | str | Path,
    judges: Judge | str | Sequence[Judge | str],
    *,
    baseline: Run | str | Path | None = None,
    store: Any = None,
    both_orders: bool = True,
    aggregate: str = "majority",
    adaptive: bool = False,
    budget: int | None = None,
    by: str | Sequence[str] = (),
    seed: int = 0,
    n_boot: int = 1000,
    confidence_level: float = 0.95,
    alpha: float = 0.05,
    max_examples: int = 5,
    min_valid: int = DEFAULT_MIN_VALID,
    slices: bool | None = None,
    slice_clusters: str = "tfidf",
    prices: Prices | tuple[float, float] | None = None,
    strict: bool = False,
    progress: Callable[[int], Callable[[int], None]] | None = None,
    judge_options: dict[str, Any] | None = None,
) -> Any:
    """Judge ``new`` against ``old`` with one or more judges and build the report.

    Parameters
    ----------
    old, new, baseline:
        Runs, or paths of files to import. With ``baseline``, old and new are each judged
        against it (AlpacaEval conventions) and compared through it.
    judges:
        :class:`Judge` objects or judge specs (``openai:MODEL@URL``, ``python:mod:fn``, a
        judgment file …; see :func:`deltaeval.judging.get_judge`).
    store:
        A :class:`~deltaeval.store.Store` for the call cache and the judgments (None: no cache).
    both_orders, aggregate, adaptive, budget:
        The protocol (:func:`deltaeval.judging.protocol.judge_runs`).
    by, seed, n_boot, confidence_level, alpha, max_examples:
        Statistics: per-tag win rates (BH at ``alpha``), bootstrap settings, and how many of the
        strongest wins and losses the report keeps.
    min_valid:
        Fewest examples with a verdict for a win-rate verdict (``judging.validity``); below it,
        or when most judge requests fail, the verdict is "insufficient judgments".
    slices:
        Add the ``discovered_slices`` section: slices of the inputs and tags where the judge
        prefers old (a loss of new; ties are none), found on half of the examples with a verdict
        and confirmed on the other (:mod:`deltaeval.judging.slices`). None (default): from
        ``MIN_N`` to ``MAX_N_DEFAULT`` examples with a verdict (``deltaeval.slices.api``).
    slice_clusters:
        What the input clusters among the slice candidates are of: ``"tfidf"`` (default) or
        ``"minilm"`` (sentence embeddings, the ``embed`` extra), as in :func:`deltaeval.compare`.
    prices:
        ``Prices(input, output)`` or a tuple, per million tokens.
    judge_options:
        Options passed to :func:`~deltaeval.judging.get_judge` for judges given as specs.

    Returns
    -------
    deltaeval.comparison.Report
        ``report.data["preference"]`` (and ``report.data["discovered_slices"]``) hold the
        sections documented in docs/report-schema.md.
    """
    from deltaeval.comparison import Report

    settings = JudgeSettings(
        by=(by,) if isinstance(by, str) else tuple(by),
        seed=seed,
        n_boot=n_boot,
        confidence_level=confidence_level,
        alpha=alpha,
        max_examples=max_examples,
        min_valid=min_valid,
        slice_discovery=slices,
        slice_clusters=slice_clusters,
    )
    result = judging_result(
        old,
        new,
        judges,
        baseline=baseline,
        store=store,
        both_orders=both_orders,
        aggregate=aggregate,
        adaptive=adaptive,
        budget=budget,
        seed=seed,
        alpha=alpha,
        prices=prices,
        strict=strict,
        progress=progress,
        judge_options=judge_options,
    )
    return Report(build_report(result, settings))


def judging_result(
    old: Run | str | Path,
    new: Run | str | Path,
    judges: Judge | str | Sequence[Judge | str],
    *,
    baseline: Run | str | Path | None = None,
    store: Any = None,
    both_orders: bool = True,
    aggregate: str = "majority",
    adaptive: bool = False,
    budget: int | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    prices: Prices | tuple[float, float] | None = None,
    strict: bool = False,
    progress: Callable[[int], Callable[[int], None]] | None = None,
    judge_options: dict[str, Any] | None = None,
) -> JudgingResult:
    """Build the judges from specs, judge ``new`` against ``old`` and return the raw result
    (per-example outcomes in ``result.outcomes()``); the parameters are those of :func:`judge`."""
    from deltaeval.io import load_run
    from deltaeval.judging import get_judge, is_recorded_spec, recorded_judges

    old_run = old if isinstance(old, Run) else load_run(old, strict=strict)
    new_run = new if isinstance(new, Run) else load_run(new, strict=strict)
    base_run = None
    if baseline is not None:
        base_run = baseline if isinstance(baseline, Run) else load_run(baseline, strict=strict)
    items = [judges] if isinstance(judges, Judge | str) else list(judges)
    notes: list[str] = []
    built: list[Judge] = []
    owned: list[Judge] = []
    options = dict(judge_options or {})
    recorded = [item for item in items if isinstance(item, str) and is_recorded_spec(item)]
    if len(recorded) > 1 or (recorded and base_run is not None):
        # several files (or a baseline): merged per judge, run names as the files give them
        owned.extend(
            recorded_judges(
                recorded, preference=options.get("preference"), id_column=options.get("id_column")
            )
        )
        built.extend(owned)
        items = [item for item in items if item not in recorded]
    for item in items:
        if isinstance(item, Judge):
            built.append(item)
            continue
        owned.append(get_judge(item, runs=(old_run.name, new_run.name), notes=notes, **options))
        built.append(owned[-1])
    if isinstance(prices, tuple):
        prices = Prices(*prices)
    try:
        runs = [old_run, new_run] + ([base_run] if base_run is not None else [])
        built = _match_recorded(built, runs, notes)
        result = judge_runs(
            old_run,
            new_run,
            built,
            baseline=base_run,
            both_orders=both_orders,
            aggregate=aggregate,
            adaptive=adaptive,
            budget=budget,
            alpha=alpha,
            seed=seed,
            store=store,
            prices=prices,
            strict=strict,
            progress=progress,
        )
    finally:
        for j in owned:
            j.close()
    if notes:
        from dataclasses import replace

        result = replace(result, notes=(*result.notes, *notes))
    return result


def _match_recorded(judges: list[Judge], runs: Sequence[Run], notes: list[str]) -> list[Judge]:
    """Recorded judges keyed to the examples the runs share (by id, else by input text).

    A file that matches none of them is an error; a partial or by-text match adds a note.
    """
    from deltaeval.judging.recorded import RecordedJudge

    if not any(isinstance(j, RecordedJudge) for j in judges):
        return judges
    shared = set.intersection(*({o.example_id for o in run.outputs} for run in runs))
    examples = [e for e in runs[0].examples if e.id in shared]
    matched: list[Judge] = []
    for judge in judges:
        if isinstance(judge, RecordedJudge):
            judge, coverage = judge.matched(examples)
            note = coverage.note()
            if note:
                notes.append(note)
        matched.append(judge)
    return matched
