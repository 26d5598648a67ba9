"""LLM-proposed behaviour axes, scored by a judge and validated like the built-in ones.

The method of VibeCheck and VisDiff — propose candidate differences, then keep those that
separate the two runs (and see whether they predict preference) — with any backend:

1. **Propose** (:mod:`deltaeval.behaviour.proposer`): a model reads batches of side-by-side
   pairs and names axes ``name: high … / low …``; near-duplicates are merged.
2. **Judge** every axis on every pair, in both orders: the judge says which of two outputs is
   higher on the axis (A, B or equal). Old shown first, a verdict gives +1 (the new output is
   higher), −1 (the old one is) or 0; new shown first likewise. When the two orders agree that
   is the pair's score; when they disagree the score is 0 and the pair counts as
   *order-dependent* (a *flip* when they name opposite outputs). A pair without a readable
   verdict in both orders has no score (left out of that axis).
3. **Validate** with :func:`deltaeval.analysis.behaviour.behaviour_stats`: per example, old = 0
   and new = the score, so the paired difference is the score. An axis is *kept* when it passes
   there — its difference interval excludes 0 and its Benjamini–Hochberg q-value (across the
   proposed axes) is below alpha. Preferences, when given, are fitted per axis and jointly.
4. **Iterate** (``iterations`` > 1): propose again on the pairs that the kept axes fail to
   tell apart (a cross-validated logistic model on their scores does not put the new output
   ahead), judge the new axes, validate all of them together.

Every call (proposer and judge) is cached in the store like the runner's calls, so a second
analysis with the same inputs asks the models nothing, and an interrupted one resumes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.analysis.behaviour import AxisResult, BehaviourStats, behaviour_stats, fit_logistic
from deltaeval.backends import get_backend
from deltaeval.backends.base import Backend, GenerationParams
from deltaeval.behaviour.proposer import (
    CallCounts,
    MergeMethod,
    Messages,
    Pair,
    ProposalCall,
    ProposedAxis,
    ask_parsed,
    cached_chat,
    merge_axes,
    propose_axes,
    truncate,
)
from deltaeval.errors import InputError, UsageError
from deltaeval.plural import plural
from deltaeval.store import Store

JUDGE_SYSTEM = "You are a careful, impartial annotator of language-model responses."

JUDGE_TEMPLATE = """\
Two responses to the same prompt are shown below. Compare them on one property only.

Property: {name}
High: {high}
Low: {low}

### Prompt
{input}

### Response A
{first}

### Response B
{second}

Which response is higher on the property "{name}"? Answer with one word: A, B, or equal."""

JUDGE_RETRY = "Answer with exactly one word: A, B, or equal."

#: Verdict words read as a tie.
_TIE_WORDS = ("equal", "tie", "same", "neither", "both", "similar")
_LEAD_RE = re.compile(
    r"^\W*(?:(?:final\s+)?(?:answer|verdict)\s*(?:is)?\s*[:=\-]?\s*)?\W*(?:response\s+)?(A|B)\b(?!')",
    re.IGNORECASE,
)
_LABEL_RE = re.compile(
    r"(?:answer|verdict)\s*(?:is)?\s*[:=]\s*\W*(?:response\s+)?(A|B|equal|tie)\b", re.IGNORECASE
)
_RESPONSE_RE = re.compile(r"\bresponse\s+(A|B)\b", re.IGNORECASE)


def parse_verdict(text: str) -> str | None:
    """Read a judge's answer as ``"A"``, ``"B"`` or ``"equal"``; None when it is unclear.

    >>> [parse_verdict(t) for t in ["B", "**A**", "Equal.", "Answer: B", "Response A is higher.", "maybe"]]
    ['B', 'A', 'equal', 'B', 'A', None]
    """
    stripped = text.strip()
    if not stripped:
        return None
    label = _LABEL_RE.search(stripped)
    if label is not None:
        word = label.group(1).lower()
        return "equal" if word in ("equal", "tie") else word.upper()
    words = re.findall(r"[a-z]+", stripped.lower())
    if words and words[0] in _TIE_WORDS:
        return "equal"
    lead = _LEAD_RE.match(stripped)
    if lead is not None:
        return lead.group(1).upper()
    mentioned = {m.upper() for m in _RESPONSE_RE.findall(stripped)}
    if len(mentioned) == 1:
        return mentioned.pop()
    if any(w in _TIE_WORDS for w in words[:12]):
        return "equal"
    return None


def judge_messages(
    axis: ProposedAxis, input: str, first: str, second: str, *, max_chars: int = 3000
) -> Messages:
    """The judge's chat messages: is Response A (``first``) or B (``second``) higher on ``axis``?"""
    prompt = JUDGE_TEMPLATE.format(
        name=axis.name.replace("_", " "),
        high=axis.high,
        low=axis.low,
        input=truncate(input, max_chars),
        first=truncate(first, max_chars),
        second=truncate(second, max_chars),
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}]


def verdict_score(verdict: str | None, *, new_first: bool) -> int | None:
    """+1 when the verdict names the new output, −1 the old one, 0 for equal (None: unread)."""
    if verdict is None:
        return None
    if verdict == "equal":
        return 0
    names_first = verdict == "A"
    return 1 if names_first == new_first else -1


def combine_orders(old_first: int | None, new_first: int | None) -> tuple[int | None, str]:
    """A pair's score from its two orders, and what happened: ``"agree"``, ``"order_dependent"``
    (they disagree: score 0), ``"flip"`` (they name opposite outputs: score 0) or
    ``"missing"`` (an order without a verdict: no score)."""
    if old_first is None or new_first is None:
        return None, "missing"
    if old_first == new_first:
        return old_first, "agree"
    return 0, "flip" if old_first == -new_first else "order_dependent"


@dataclass(frozen=True)
class LLMAxis:
    """One proposed axis: its scores per example (+1 new higher, −1 old higher, 0, None
    unscored), the verdicts in both orders, the counts, its validation, and whether it is kept.

    ``order_dependent`` counts every pair whose two orders disagreed (``flips`` of them named
    opposite outputs); ``unparsed`` counts verdicts the judge gave but that could not be read,
    ``errors`` calls that failed.
    """

    axis: ProposedAxis
    scores: tuple[int | None, ...]
    verdicts: tuple[tuple[str | None, str | None], ...]
    new_higher: int
    old_higher: int
    equal: int
    order_dependent: int
    flips: int
    unparsed: int
    errors: int
    validation: AxisResult | None = None
    kept: bool = False

    @property
    def name(self) -> str:
        return self.axis.name

    def to_dict(self, ids: Sequence[str] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            **self.axis.to_dict(),
            "kept": self.kept,
            "new_higher": self.new_higher,
            "old_higher": self.old_higher,
            "equal": self.equal,
            "order_dependent": self.order_dependent,
            "flips": self.flips,
            "unparsed": self.unparsed,
            "errors": self.errors,
            "validation": self.validation.to_dict() if self.validation is not None else None,
        }
        if ids is not None:
            data["scores"] = {i: s for i, s in zip(ids, self.scores, strict=True)}
        return data


@dataclass(frozen=True)
class DiscoveredAxes:
    """Result of :func:`discover_axes`: every proposed axis (kept ones first, then by
    separability), the validation over all of them, and what it cost (``calls``: called now,
    taken from the cache, failed — left out of :meth:`to_dict`, so that a rerun from the cache
    gives the same JSON)."""

    proposer: str
    judge: str
    ids: tuple[str, ...]
    axes: tuple[LLMAxis, ...]
    stats: BehaviourStats | None
    rounds: int
    merge_method: str
    proposal_calls: tuple[ProposalCall, ...]
    calls: dict[str, int]
    seed: int | None
    notes: tuple[str, ...] = field(default=())

    @property
    def kept(self) -> tuple[LLMAxis, ...]:
        return tuple(a for a in self.axes if a.kept)

    def axis(self, name: str) -> LLMAxis:
        for axis in self.axes:
            if axis.name == name:
                return axis
        raise KeyError(name)

    def to_dict(self, *, scores: bool = True) -> dict[str, Any]:
        return {
            "proposer": self.proposer,
            "judge": self.judge,
            "n": len(self.ids),
            "rounds": self.rounds,
            "merge_method": self.merge_method,
            "kept": [a.name for a in self.kept],
            "axes": [a.to_dict(self.ids if scores else None) for a in self.axes],
            "stats": self.stats.to_dict() if self.stats is not None else None,
            "proposal_calls": [c.to_dict() for c in self.proposal_calls],
            "seed": self.seed,
            "scoring": "judge in both orders; +1 new higher, -1 old higher, 0 equal or order-dependent",
            "notes": list(self.notes),
        }


def judge_axes(
    backend: Backend,
    axes: Sequence[ProposedAxis],
    pairs: Sequence[Pair],
    *,
    store: Store,
    params: GenerationParams | None = None,
    max_chars: int = 3000,
    max_retries: int = 1,
    counts: CallCounts | None = None,
    quiet: bool = True,
) -> list[LLMAxis]:
    """Score every axis on every pair with ``backend``, in both orders (all calls cached)."""
    params = params or GenerationParams(temperature=0.0, max_tokens=16)
    conversations = []
    for axis in axes:
        for pair in pairs:
            conversations.append(judge_messages(axis, pair.input, pair.old, pair.new, max_chars=max_chars))
            conversations.append(judge_messages(axis, pair.input, pair.new, pair.old, max_chars=max_chars))
    answers = ask_parsed(
        backend,
        conversations,
        params,
        parse_verdict,
        JUDGE_RETRY,
        store=store,
        label="judge-axes",
        max_retries=max_retries,
        counts=counts,
        quiet=quiet,
    )
    results = []
    n = len(pairs)
    for a, axis in enumerate(axes):
        scores: list[int | None] = []
        verdicts = []
        tally = dict.fromkeys(("agree", "order_dependent", "flip", "missing"), 0)
        unparsed = errors = 0
        for p in range(n):
            (v_old_first, _, e1), (v_new_first, _, e2) = (
                answers[2 * (a * n + p)],
                answers[2 * (a * n + p) + 1],
            )
            for verdict, error in ((v_old_first, e1), (v_new_first, e2)):
                if error is not None:
                    errors += 1
                elif verdict is None:
                    unparsed += 1
            score, outcome = combine_orders(
                verdict_score(v_old_first, new_first=False), verdict_score(v_new_first, new_first=True)
            )
            tally[outcome] += 1
            scores.append(score)
            verdicts.append((v_old_first, v_new_first))
        results.append(
            LLMAxis(
                axis=axis,
                scores=tuple(scores),
                verdicts=tuple(verdicts),
                new_higher=sum(s == 1 for s in scores),
                old_higher=sum(s == -1 for s in scores),
                equal=sum(s == 0 for s in scores) - tally["order_dependent"] - tally["flip"],
                order_dependent=tally["order_dependent"] + tally["flip"],
                flips=tally["flip"],
                unparsed=unparsed,
                errors=errors,
            )
        )
    return results


def score_matrix(axes: Sequence[LLMAxis]) -> NDArray[np.float64]:
    """Scores as an (examples × axes) float array, NaN where unscored."""
    if not axes:
        return np.empty((0, 0))
    return np.column_stack([[np.nan if s is None else float(s) for s in a.scores] for a in axes])


def validate_axes(
    axes: Sequence[LLMAxis],
    preference: ArrayLike | None = None,
    **options: Any,
) -> tuple[list[LLMAxis], BehaviourStats | None]:
    """Validate judged axes with :func:`~deltaeval.analysis.behaviour.behaviour_stats` (old = 0,
    new = the score) and mark those that pass as kept. Returns the axes (kept first, then by
    separability) and the statistics."""
    if not axes:
        return [], None
    S = score_matrix(axes)
    old = {a.name: np.where(np.isnan(S[:, k]), np.nan, 0.0) for k, a in enumerate(axes)}
    new = {a.name: S[:, k] for k, a in enumerate(axes)}
    stats = behaviour_stats(old, new, preference, **options)
    order = {result.name: position for position, result in enumerate(stats.axes)}
    validated = [
        LLMAxis(
            **{f: getattr(a, f) for f in a.__dataclass_fields__ if f not in ("validation", "kept")},
            validation=stats.axis(a.name),
            kept=stats.axis(a.name).passes,
        )
        for a in axes
    ]
    validated.sort(key=lambda a: (not a.kept, order[a.name]))
    return validated, stats


def misclassified(scores: ArrayLike, *, folds: int = 5, seed: int | None = 0) -> NDArray[np.bool_]:
    """Examples the axes fail to tell apart: for a pair of outputs, a cross-validated logistic
    model on the scores (no intercept; trained on each pair both ways round) does not put the
    new output ahead. Every example is misclassified when there is no axis.

    ``scores``: (examples × axes), NaN = unscored (read as 0).
    """
    S = np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0)
    if S.ndim != 2 or S.shape[1] == 0:
        return np.ones(S.shape[0] if S.ndim else 0, dtype=bool)
    n = S.shape[0]
    folds = min(folds, n // 2)
    if folds < 2:  # too few examples to hold any out: the fit on all of them
        coef, _ = fit_logistic(np.vstack([S, -S]), np.r_[np.ones(n), np.zeros(n)], intercept=False)
        return S @ coef <= 0
    fold = np.random.default_rng(seed).permutation(n) % folds
    margin = np.zeros(n)
    for f in range(folds):
        train, test = fold != f, fold == f
        X = np.vstack([S[train], -S[train]])
        y = np.concatenate([np.ones(train.sum()), np.zeros(train.sum())])
        coef, _ = fit_logistic(X, y, intercept=False)
        margin[test] = S[test] @ coef
    return margin <= 0


def _pairs(
    ids: Sequence[str] | None,
    inputs: Sequence[str | None] | None,
    old: Sequence[str | None],
    new: Sequence[str | None],
) -> tuple[list[str], list[Pair | None]]:
    n = len(old)
    ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(n)]
    inputs = list(inputs) if inputs is not None else [""] * n
    if not len(ids) == len(inputs) == len(old) == len(new):
        raise InputError(
            f"{len(ids)} ids, {len(inputs)} inputs, {len(old)} old and {len(new)} new outputs",
            hint="give one of each per example, paired by example",
        )
    if len(set(ids)) != len(ids):
        raise InputError("duplicate example ids", hint="give every example its own id")
    pairs: list[Pair | None] = []
    for i in range(n):
        o, w = old[i], new[i]
        pairs.append(
            Pair(id=ids[i], input=inputs[i] or "", old=o, new=w)
            if isinstance(o, str) and isinstance(w, str)
            else None
        )
    return ids, pairs


def _resolve_backend(backend: str | Backend, options: dict[str, Any]) -> tuple[Backend, bool]:
    if isinstance(backend, Backend):
        return backend, False
    if isinstance(backend, str):
        return get_backend(backend, **options), True
    raise UsageError(f"a backend or a model spec string is needed, not {type(backend).__name__}")


def discover_axes(
    old: Sequence[str | None],
    new: Sequence[str | None],
    *,
    proposer: str | Backend,
    judge: str | Backend | None = None,
    store: Store | None = None,
    ids: Sequence[str] | None = None,
    inputs: Sequence[str | None] | None = None,
    preference: ArrayLike | None = None,
    iterations: int = 1,
    propose_pairs: int = 40,
    batch_size: int = 5,
    max_axes: int = 10,
    judge_pairs: int | None = None,
    merge: MergeMethod = "auto",
    merge_threshold: float | None = None,
    max_chars: int = 1500,
    max_retries: int = 2,
    proposer_params: GenerationParams | None = None,
    judge_params: GenerationParams | None = None,
    backend_options: dict[str, Any] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    alpha: float = 0.05,
    folds: int = 5,
    seed: int | None = 0,
    quiet: bool = True,
) -> DiscoveredAxes:
    """Propose axes of difference between two runs with an LLM, score them with a judge in
    both orders, and keep those that separate the runs (see the module docstring).

    Parameters
    ----------
    old, new:
        The two runs' outputs, paired by example (None = no output: the example is left out).
    proposer, judge:
        Backends or model specs (``openai:MODEL@URL``, ``smollm2``, …); the judge defaults to
        the proposer.
    store:
        Where calls are cached (default: a store in memory, so nothing is kept).
    ids, inputs:
        Example ids (default ``"0"``, ``"1"``, …) and input texts (default empty).
    preference:
        Optional preference per example in [0, 1] (1 = new output preferred), for the
        preference fits of :func:`~deltaeval.analysis.behaviour.behaviour_stats`.
    iterations:
        Rounds of proposing; each round after the first proposes on the pairs the kept axes
        misclassify.
    propose_pairs, batch_size:
        Pairs shown to the proposer per round (a seeded sample) and pairs per call.
    max_axes:
        Axes judged per round (the most supported after merging).
    judge_pairs:
        Pairs every axis is judged and validated on (a seeded sample; default all).
    merge, merge_threshold:
        How near-duplicate axes are merged (see :func:`~deltaeval.behaviour.proposer.merge_axes`).
    max_chars, max_retries:
        Characters of each text shown to the proposer (the judge sees twice as many), and
        follow-up turns for an unreadable answer.
    proposer_params, judge_params:
        Decoding (defaults: temperature 0; 1024 tokens for the proposer, 16 for the judge).
    backend_options:
        Options for backends built from specs (``concurrency``, ``timeout`` …).
    n_boot, level, alpha, folds, seed:
        As in :func:`~deltaeval.analysis.behaviour.behaviour_stats`; ``seed`` also draws the
        samples and the sides shown to the proposer.
    quiet:
        No progress bars.

    Returns
    -------
    DiscoveredAxes
    """
    if iterations < 1:
        raise UsageError("iterations must be >= 1")
    if propose_pairs < 1 or max_axes < 1:
        raise UsageError("propose_pairs and max_axes must be >= 1")
    ids_list, pairs = _pairs(ids, inputs, old, new)
    pref = None
    if preference is not None:
        pref = np.asarray(preference, dtype=float).ravel()
        if pref.size != len(ids_list):
            raise InputError(
                f"{pref.size} preferences for {len(ids_list)} examples", hint="give one per example"
            )
    present = np.array([p is not None for p in pairs], dtype=bool)
    rng = np.random.default_rng(seed)
    judged_rows = np.flatnonzero(present)
    if judge_pairs is not None and judge_pairs < judged_rows.size:
        judged_rows = np.sort(rng.choice(judged_rows, size=judge_pairs, replace=False))
    if judged_rows.size == 0:
        raise InputError("no example has both outputs", hint="check that the runs are paired by example")
    judged = [pairs[i] for i in judged_rows]
    notes: list[str] = []
    if present.sum() < len(pairs):
        notes.append(f"{plural(len(pairs) - int(present.sum()), 'example')} without both outputs left out")

    options = dict(backend_options or {})
    owned_store = store is None
    store = store if store is not None else Store(":memory:")
    proposer_backend, close_proposer = _resolve_backend(proposer, options)
    judge_backend, close_judge = (
        (proposer_backend, False) if judge is None else _resolve_backend(judge, options)
    )
    counts = CallCounts()
    stat_options = {"n_boot": n_boot, "level": level, "alpha": alpha, "folds": folds, "seed": seed}
    judge_pref = pref[judged_rows] if pref is not None else None
    try:
        all_axes: list[ProposedAxis] = []
        judged_axes: list[LLMAxis] = []
        calls: list[ProposalCall] = []
        stats: BehaviourStats | None = None
        merge_method = "jaccard" if merge == "jaccard" else ""
        candidates = list(range(len(judged)))
        rounds = 0
        for round in range(1, iterations + 1):
            if not candidates:
                notes.append(f"round {round}: every judged pair is told apart; stopped")
                break
            rounds = round
            shown = candidates
            if len(shown) > propose_pairs:
                shown = sorted(rng.choice(shown, size=propose_pairs, replace=False).tolist())
            found = propose_axes(
                proposer_backend,
                [judged[i] for i in shown],  # type: ignore[misc]
                store=store,
                round=round,
                batch_size=batch_size,
                max_chars=max_chars,
                max_retries=max_retries,
                params=proposer_params,
                seed=seed,
                counts=counts,
                quiet=quiet,
            )
            calls.extend(found.calls)
            known = len(all_axes)
            merged, merge_method = merge_axes(
                all_axes + found.axes, method=merge, threshold=merge_threshold, keep_first=known
            )
            fresh = sorted(merged[known:], key=lambda a: -a.support)[:max_axes]
            dropped = len(merged) - known - len(fresh)
            if dropped:
                notes.append(f"round {round}: {dropped} less supported proposed axes not judged (max_axes)")
            all_axes = merged[:known] + fresh
            if not fresh:
                notes.append(f"round {round}: no new axis proposed")
                continue
            new_judged = judge_axes(
                judge_backend,
                fresh,
                judged,  # type: ignore[arg-type]
                store=store,
                params=judge_params,
                max_chars=2 * max_chars,
                max_retries=max(0, min(max_retries, 1)),
                counts=counts,
                quiet=quiet,
            )
            by_name = {a.name: a for a in all_axes}
            judged_axes = [
                LLMAxis(**{**{f: getattr(a, f) for f in a.__dataclass_fields__}, "axis": by_name[a.name]})
                for a in judged_axes
            ] + new_judged
            judged_axes, stats = validate_axes(judged_axes, judge_pref, **stat_options)
            kept = [a for a in judged_axes if a.kept]
            wrong = misclassified(score_matrix(kept), folds=folds, seed=seed)
            candidates = np.flatnonzero(wrong).tolist()
    finally:
        if close_proposer:
            proposer_backend.close()
        if close_judge:
            judge_backend.close()
        if owned_store:
            store.close()

    full_ids = [ids_list[i] for i in judged_rows]
    return DiscoveredAxes(
        proposer=proposer_backend.spec,
        judge=judge_backend.spec,
        ids=tuple(full_ids),
        axes=tuple(judged_axes),
        stats=stats,
        rounds=rounds,
        merge_method=merge_method or "jaccard",
        proposal_calls=tuple(calls),
        calls=counts.to_dict(),
        seed=seed,
        notes=tuple(notes),
    )


DESCRIBE_TEMPLATE = """\
Below are {n} examples where a new version of a model answered very differently from its old \
version.
Words typical of the old answers: {old_terms}.
Words typical of the new answers: {new_terms}.

{examples}

In one sentence, say how the new answers differ from the old ones in these examples. Reply with \
the sentence only."""


def describe_clusters(
    changes: Any,
    backend: str | Backend,
    *,
    store: Store | None = None,
    inputs: Mapping[str, str] | None = None,
    params: GenerationParams | None = None,
    backend_options: dict[str, Any] | None = None,
    quiet: bool = True,
) -> Any:
    """Describe each cluster of :func:`deltaeval.analysis.changes.change_stats` in one
    sentence with an LLM (its terms and the members it shows; calls cached in ``store``).

    Returns a copy of ``changes`` whose clusters carry a ``description`` (None where the call
    failed). ``inputs`` maps example ids to their input texts, to show the prompts too.
    """
    import dataclasses

    model, close = _resolve_backend(backend, dict(backend_options or {}))
    owned_store = store is None
    store = store if store is not None else Store(":memory:")
    params = params or GenerationParams(temperature=0.0, max_tokens=96)
    try:
        conversations = []
        for cluster in changes.clusters:
            blocks = []
            for number, example in enumerate(cluster.examples, start=1):
                prompt = (inputs or {}).get(example["id"])
                head = f"## Example {number}\n" + (f"### Prompt\n{truncate(prompt, 600)}\n" if prompt else "")
                blocks.append(f"{head}### Old answer\n{example['old']}\n### New answer\n{example['new']}")
            text = DESCRIBE_TEMPLATE.format(
                n=len(blocks),
                old_terms=", ".join(t for t, _ in cluster.terms_old) or "none",
                new_terms=", ".join(t for t, _ in cluster.terms_new) or "none",
                examples="\n\n".join(blocks),
            )
            conversations.append([{"role": "user", "content": text}])
        outputs = cached_chat(
            model, conversations, params, store=store, label="describe-changes", quiet=quiet
        )
    finally:
        if close:
            model.close()
        if owned_store:
            store.close()
    described = []
    for cluster, output in zip(changes.clusters, outputs, strict=True):
        lines = [line.strip() for line in (output.text or "").splitlines() if line.strip()]
        description = lines[0].strip("\"' ") if lines and output.error is None else None
        described.append(dataclasses.replace(cluster, description=description or None))
    return dataclasses.replace(changes, clusters=tuple(described))
