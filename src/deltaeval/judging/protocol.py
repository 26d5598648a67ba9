"""The judging protocol: which pairs a panel of judges sees, in which orders, and when to stop.

For a comparison of run A with run B on one example, each judge sees the pair in both orders by
default — ``ab`` (A's output first) and ``ba`` (B's first) — and the two verdicts are combined
(``analysis.preference.combine_orders``: their mean, so a win in one order and a loss in the
other is a tie; a verdict whose winner changes with the order is a position-bias event).

Two shapes of comparison:

- **head to head** (``judge_runs(old, new)``): one comparison, old as A and new as B; the outcome
  of an example is the panel's combined outcome for new.
- **against a shared baseline** (``judge_runs(old, new, baseline=base)``): two comparisons, base
  vs old and base vs new, over the examples all three runs share; per example the outcome of new
  against old is ``(1 + outcome(new vs base) − outcome(old vs base)) / 2``.

**Adaptive judging** (``adaptive=True``): examples are judged in a seeded random order, a batch
at a time, and each example's outcome is fed to ``analysis.adaptive.AdaptiveJudge``; judging stops
as soon as its confidence sequence excludes 0.5, when ``budget`` judge requests would be exceeded,
or when the examples run out. Both ends are fixed before judging starts, so at that planned end
a fixed-sample test decides with the share of alpha kept for it (``analysis.adaptive``).

Judgments are returned oriented to the comparison (``run_a`` = old or baseline, ``run_b`` = new or
the model), saved to the store's ``judgments`` table as they complete when a store is given, and
every judge call goes through the store's call cache (LLM judges), so an interrupted judging
resumes without repeating finished calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deltaeval.alignment import Alignment, align
from deltaeval.analysis.adaptive import STOP_BUDGET, STOP_STREAM, AdaptiveJudge, AdaptiveResult
from deltaeval.analysis.agreement import ORDINAL_WEAK_WIN
from deltaeval.analysis.preference import combine_orders, majority_vote, mean_vote
from deltaeval.errors import AlignmentError, UsageError
from deltaeval.judging.base import Judge, Pair
from deltaeval.plural import plural
from deltaeval.types import Example, Judgment, Run

AGGREGATES = ("majority", "mean")
ORDERS = ("ab", "ba")


@dataclass(frozen=True)
class Prices:
    """Prices of judge tokens, per million: ``input`` (prompt) and ``output`` (completion)."""

    input: float
    output: float

    def __post_init__(self) -> None:
        if self.input < 0 or self.output < 0:
            raise UsageError("token prices must be >= 0")

    def cost(self, prompt_tokens: int | None, tokens: int | None) -> float | None:
        if prompt_tokens is None and tokens is None:
            return None
        return ((prompt_tokens or 0) * self.input + (tokens or 0) * self.output) / 1e6


@dataclass(frozen=True)
class Comparison:
    """Run ``a`` (shown as A in order ``ab``) against run ``b``; outcomes are for ``b``."""

    a: str
    b: str


@dataclass(frozen=True)
class JudgingResult:
    """Everything a judging produced, ready for the statistics (``judging.report``).

    ``examples``/``texts`` cover the examples all runs share (in the old run's order);
    ``judged`` lists the indices of the examples judged, in the order judged; ``judgments`` are
    oriented to their comparison. ``skipped`` lists ids left out because an output was an error.
    """

    old: Run
    new: Run
    baseline: Run | None
    alignment: Alignment
    examples: tuple[Example, ...]
    texts: dict[str, tuple[str, ...]]
    comparisons: tuple[Comparison, ...]
    judges: tuple[str, ...]
    judge_kinds: tuple[str, ...]
    judgments: tuple[Judgment, ...]
    judged: tuple[int, ...]
    skipped: tuple[str, ...]
    both_orders: bool
    aggregate: str
    adaptive: AdaptiveResult | None
    budget: int | None
    seed: int
    prices: Prices | None
    seconds: float
    notes: tuple[str, ...] = ()

    @property
    def head_to_head(self) -> bool:
        return self.baseline is None

    @property
    def one_order_judges(self) -> tuple[str, ...]:
        """Recorded judges asked for both orders whose verdicts all came in one (as the file held them).

        Empty when one order was asked for: then every judge gave one order by design.
        """
        recorded = {
            name for name, kind in zip(self.judges, self.judge_kinds, strict=True) if kind == "recorded"
        }
        if not self.both_orders or not recorded:
            return ()
        orders: dict[str, dict[tuple[str, str, str], set[str]]] = {}
        for j in self.judgments:
            if j.label is not None:
                seen = orders.setdefault(j.judge, {})
                seen.setdefault((j.example_id, j.run_a, j.run_b), set()).add(j.order)
        return tuple(
            name
            for name in self.judges
            if name in recorded and name in orders and all(len(o) < 2 for o in orders[name].values())
        )

    def outcome_tables(self) -> dict[Comparison, NDArray[np.float64]]:
        """Per comparison, outcomes for run b: (n_examples, n_judges, 2 orders) with NaN gaps.

        Order index 0 is ``ab`` (a shown first), 1 is ``ba`` (b shown first).
        """
        return outcome_tables(self.judgments, self.examples, self.comparisons, self.judges)

    def combined(self) -> dict[Comparison, tuple[NDArray[np.float64], NDArray[np.bool_]]]:
        """Per comparison: each judge's outcome for b with the orders combined, and bias flags.

        Both arrays are (n_examples, n_judges).
        """
        return {c: combine_table(t) for c, t in self.outcome_tables().items()}

    def ordinal_scores(self) -> dict[Comparison, NDArray[np.float64]]:
        """Per comparison, each judge's score for b keeping a verdict's strength, orders averaged.

        (n_examples, n_judges): b ≫ a 1, b > a 0.75, tie 0.5, a > b 0.25, a ≫ b 0, the mean of
        the two orders (``analysis.agreement.ORDINAL_RULE``); NaN where the judge gave no verdict.
        """
        tables = outcome_tables(
            self.judgments, self.examples, self.comparisons, self.judges, weak_win=ORDINAL_WEAK_WIN
        )
        return {c: combine_table(t)[0] for c, t in tables.items()}

    def panel(self) -> dict[Comparison, NDArray[np.float64]]:
        """Per comparison, the panel's outcome for b on each example (NaN: no verdict)."""
        return {c: aggregate_panel(combined, self.aggregate) for c, (combined, _) in self.combined().items()}

    def outcomes(self) -> NDArray[np.float64]:
        """The outcome of new against old on each example (NaN: not judged or no verdict)."""
        return example_outcomes(self.panel(), self.comparisons)


def outcome_tables(
    judgments: Sequence[Judgment],
    examples: Sequence[Example],
    comparisons: Sequence[Comparison],
    judges: Sequence[str],
    *,
    weak_win: float = 1.0,
) -> dict[Comparison, NDArray[np.float64]]:
    """Outcomes for each comparison's run b: (n_examples, n_judges, 2 orders), NaN where none.

    ``weak_win`` is the value of a weak win (``Judgment.outcome_for``).
    """
    index = {e.id: i for i, e in enumerate(examples)}
    judge_index = {name: k for k, name in enumerate(judges)}
    tables = {c: np.full((len(examples), len(judges), 2), np.nan) for c in comparisons}
    by_pair = {(c.a, c.b): c for c in comparisons}
    for j in judgments:
        comparison = by_pair.get((j.run_a, j.run_b))
        i = index.get(j.example_id)
        k = judge_index.get(j.judge)
        if comparison is None or i is None or k is None:
            continue
        value = j.outcome_for(j.run_b, weak_win=weak_win)
        if value is not None:
            tables[comparison][i, k, ORDERS.index(j.order)] = value
    return tables


def combine_table(table: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Each judge's two orders combined (``combine_orders``), and the position-bias flags."""
    combined = np.full(table.shape[:2], np.nan)
    bias = np.zeros(table.shape[:2], dtype=bool)
    for k in range(table.shape[1]):
        combined[:, k], bias[:, k] = combine_orders(table[:, k, 1], table[:, k, 0])
    return combined, bias


def aggregate_panel(combined: NDArray[np.float64], aggregate: str) -> NDArray[np.float64]:
    """The panel's outcome per example from the judges' outcomes (``majority`` or ``mean``).

    A panel of one is that judge's outcome as it is (a soft outcome stays soft).
    """
    if combined.shape[1] == 1:
        return combined[:, 0].copy()
    return majority_vote(combined) if aggregate == "majority" else mean_vote(combined)


def example_outcomes(
    panel: dict[Comparison, NDArray[np.float64]], comparisons: Sequence[Comparison]
) -> NDArray[np.float64]:
    """New-vs-old outcome per example: the panel's outcome (head to head), or from the baseline."""
    if len(comparisons) == 1:
        return panel[comparisons[0]]
    old_vs_base, new_vs_base = panel[comparisons[0]], panel[comparisons[1]]
    return (1.0 + new_vs_base - old_vs_base) / 2.0


def _shared(
    runs: Sequence[Run], strict: bool
) -> tuple[Alignment, list[Example], dict[str, list[str | None]]]:
    """Examples shared by every run (old run's order) and each run's text on them."""
    old, new = runs[0], runs[1]
    alignment = align(old, new, strict=strict)
    keep = list(range(alignment.n))
    extra: dict[str, dict[str, Any]] = {}
    for run in runs[2:]:
        outputs = {o.example_id: o for o in run.outputs}
        extra[run.name] = outputs
        missing = [alignment.ids[i] for i in keep if alignment.ids[i] not in outputs]
        if missing and strict:
            raise AlignmentError(
                f"run {run.name!r} lacks {plural(len(missing), 'example id')}, e.g. {missing[0]!r}",
                hint="compare runs over the same examples, or drop --strict",
            )
        keep = [i for i in keep if alignment.ids[i] in outputs]
    if not keep:
        raise AlignmentError(
            "the runs share no example id", hint="check that every run covers the same examples"
        )

    def text(output: Any) -> str | None:
        return None if output is None or output.error is not None else output.text

    texts: dict[str, list[str | None]] = {
        old.name: [text(alignment.old[i]) for i in keep],
        new.name: [text(alignment.new[i]) for i in keep],
    }
    for name, outputs in extra.items():
        texts[name] = [text(outputs[alignment.ids[i]]) for i in keep]
    return alignment, [alignment.examples[i] for i in keep], texts


def _distinct_names(runs: Sequence[Run]) -> list[Run]:
    """The runs, renamed ``role:name`` where two share a name (judgments need distinct names)."""
    roles = ("old", "new", "baseline")
    names = [r.name for r in runs]
    if len(set(names)) == len(names):
        return list(runs)
    return [r.replace(name=f"{role}:{r.name}") for role, r in zip(roles, runs, strict=False)]


def orient(judgment: Judgment, comparison: Comparison) -> Judgment:
    """A judgment of a pair (run names as shown) restated for the comparison's a and b."""
    shown = judgment.shown_first
    order = "ab" if shown == comparison.a else "ba"
    return replace(judgment, run_a=comparison.a, run_b=comparison.b, order=order)


ProgressHook = Callable[[int], None]


def judge_runs(
    old: Run,
    new: Run,
    judges: Sequence[Judge],
    *,
    baseline: Run | None = None,
    both_orders: bool = True,
    aggregate: str = "majority",
    adaptive: bool = False,
    budget: int | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    batch_size: int = 1,
    store: Any = None,
    prices: Prices | None = None,
    strict: bool = False,
    progress: Callable[[int], ProgressHook] | None = None,
) -> JudgingResult:
    """Judge ``new`` against ``old`` (or both against ``baseline``) with a panel of judges.

    Parameters
    ----------
    judges:
        One or more :class:`~deltaeval.judging.base.Judge` (distinct names).
    baseline:
        Judge old and new each against this run (AlpacaEval style) instead of head to head.
    both_orders:
        Show every pair in both orders (default); False shows old (or the baseline) first only.
    aggregate:
        ``majority`` or ``mean`` — how the panel's verdicts on an example combine.
    adaptive, budget, alpha, seed, batch_size:
        Adaptive judging (module docstring): stop once the confidence sequence at level
        1 − ``alpha`` excludes 0.5, or before ``budget`` judge requests are exceeded; examples in
        a ``seed``-ed random order, ``batch_size`` examples judged at a time.
    store:
        A :class:`~deltaeval.store.Store`: judge calls are cached in it and judgments saved.
    prices:
        Token prices; each judgment's ``cost`` is set from its tokens.
    progress:
        Called with the total number of judge requests planned; returns a function called with
        the number of requests just finished (e.g. to advance a progress bar).

    Returns
    -------
    JudgingResult
    """
    if not judges:
        raise UsageError("no judge given", hint="pass --judge SPEC (repeatable)")
    names = [j.name for j in judges]
    if len(set(names)) != len(names):
        raise UsageError(
            f"two judges share the name {next(n for n in names if names.count(n) > 1)!r}",
            hint="give each judge once",
        )
    if aggregate not in AGGREGATES:
        raise UsageError(f"unknown aggregation {aggregate!r}", hint="use majority or mean")
    if budget is not None and budget < 1:
        raise UsageError("the budget must be at least 1 judge request")
    if batch_size < 1:
        raise UsageError("batch_size must be >= 1")
    started = time.perf_counter()
    runs = _distinct_names([old, new] + ([baseline] if baseline is not None else []))
    old, new = runs[0], runs[1]
    base = runs[2] if baseline is not None else None
    alignment, examples, texts = _shared(runs, strict)
    comparisons = (
        (Comparison(old.name, new.name),)
        if base is None
        else (Comparison(base.name, old.name), Comparison(base.name, new.name))
    )
    usable = [i for i in range(len(examples)) if all(texts[r.name][i] is not None for r in runs)]
    skipped = tuple(examples[i].id for i in range(len(examples)) if i not in set(usable))
    orders = ORDERS if both_orders else ORDERS[:1]
    per_example = len(comparisons) * len(judges) * len(orders)
    if budget is not None and budget < per_example:
        raise UsageError(
            f"a budget of {budget} judge requests cannot judge one example ({per_example} requests each)",
            hint="raise --budget",
        )
    order_of_examples = list(usable)
    if adaptive:
        order_of_examples = [usable[i] for i in np.random.default_rng(seed).permutation(len(usable))]
    elif budget is not None:
        raise UsageError("--budget applies to adaptive judging", hint="add --adaptive, or drop --budget")

    judgments: list[Judgment] = []
    advance: ProgressHook | None = None
    if progress is not None:
        planned = len(order_of_examples) * per_example
        if budget is not None:
            planned = min(planned, budget - budget % per_example)
        advance = progress(planned)

    def judge_batch(indices: Sequence[int]) -> list[Judgment]:
        batch: list[Judgment] = []
        for judge in judges:
            pairs: list[Pair] = []
            owners: list[Comparison] = []
            for i in indices:
                for c in comparisons:
                    text_a, text_b = texts[c.a][i], texts[c.b][i]
                    assert text_a is not None and text_b is not None
                    for order in orders:
                        if order == "ab":
                            pairs.append(Pair(examples[i], text_a, text_b, c.a, c.b))
                        else:
                            pairs.append(Pair(examples[i], text_b, text_a, c.b, c.a))
                        owners.append(c)

            def done(k: int, judgment: Judgment, owners: list[Comparison] = owners) -> None:
                oriented = _priced(orient(judgment, owners[k]), prices)
                if store is not None:
                    store.save_judgments([oriented])
                if advance is not None:
                    advance(1)

            results = judge.judge(pairs, store=store, on_judgment=done)
            seen: set[tuple[str, str, str, str]] = set()
            for k, judgment in enumerate(results):
                oriented = _priced(orient(judgment, owners[k]), prices)
                key = (oriented.example_id, oriented.run_a, oriented.run_b, oriented.order)
                if key in seen:  # a recorded judge answering both orders with one verdict
                    continue
                seen.add(key)
                batch.append(oriented)
        return batch

    judged: list[int] = []
    adaptive_result: AdaptiveResult | None = None
    try:
        if not adaptive:
            judgments.extend(judge_batch(order_of_examples))
            judged = list(order_of_examples)
        else:
            monitor = AdaptiveJudge(alpha=alpha)
            used = 0
            stopped_for_budget = False
            position = 0
            while position < len(order_of_examples) and not monitor.done:
                room = len(order_of_examples) - position
                if budget is not None:
                    room = min(room, (budget - used) // per_example)
                    if room < 1:
                        stopped_for_budget = True
                        break
                chunk = order_of_examples[position : position + min(batch_size, room)]
                position += len(chunk)
                used += len(chunk) * per_example
                new_judgments = judge_batch(chunk)
                judgments.extend(new_judgments)
                tables = outcome_tables(judgments, examples, comparisons, names)
                panel = {c: aggregate_panel(combine_table(t)[0], aggregate) for c, t in tables.items()}
                values = example_outcomes(panel, comparisons)
                for i in chunk:
                    judged.append(i)
                    if np.isfinite(values[i]) and monitor.observe(float(values[i])):
                        break
            # the planned end (budget or examples run out) gets the final fixed-sample test
            if not monitor.done:
                monitor.finish(STOP_BUDGET if stopped_for_budget else STOP_STREAM)
            adaptive_result = replace(monitor.result(), budget=budget)
    except KeyboardInterrupt:
        from deltaeval.runner import RunInterrupted

        raise RunInterrupted(
            f"interrupted after {plural(len(judgments), 'judgment')}",
            hint="rerun the same command: finished judge calls are cached and are not repeated",
        ) from None

    notes: list[str] = []
    if skipped:
        notes.append(f"{plural(len(skipped), 'example')} left out: an output of one of the runs is an error")
    return JudgingResult(
        old=old,
        new=new,
        baseline=base,
        alignment=alignment,
        examples=tuple(examples),
        texts={name: tuple(t or "" for t in values) for name, values in texts.items()},
        comparisons=comparisons,
        judges=tuple(names),
        judge_kinds=tuple(j.kind for j in judges),
        judgments=tuple(judgments),
        judged=tuple(judged),
        skipped=skipped,
        both_orders=both_orders,
        aggregate=aggregate,
        adaptive=adaptive_result,
        budget=budget,
        seed=seed,
        prices=prices,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


def _priced(judgment: Judgment, prices: Prices | None) -> Judgment:
    if prices is None:
        return judgment
    cost = prices.cost(judgment.prompt_tokens, judgment.tokens)
    return judgment if cost is None else replace(judgment, cost=cost)
