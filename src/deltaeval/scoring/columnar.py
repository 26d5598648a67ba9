"""Scoring runs held as columns (:class:`~deltaeval.columnar.ColumnarRun`) without a Python object
per row, with the results :func:`~deltaeval.scoring.base.score_run` and
:func:`~deltaeval.scoring.auto.choose_scorer` give row by row.

A scorer whose verdict depends on the prediction and the reference alone (``exact``,
``contains``, ``numeric``, ``choice``, ``regex``) is called once per distinct (output text,
reference) pair; the verdicts are spread back to the rows with numpy. When a scorer raises, or
a row lacks the reference the scorer needs, the run is scored row by row, which raises the
per-row error naming the first example concerned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from deltaeval.errors import DeltaEvalError
from deltaeval.scoring.auto import ScorerChoice, decide_scorer, longest_words
from deltaeval.scoring.base import Scorer
from deltaeval.types import Example, Run

if TYPE_CHECKING:
    import pyarrow as pa

    from deltaeval.columnar import ColumnarRun


def _pure_scorers() -> tuple[type[Scorer], ...]:
    """The scorers whose verdict depends on (prediction, reference) alone (the example only
    names itself in their errors)."""
    from deltaeval.scoring.choice import ChoiceMatch
    from deltaeval.scoring.numeric import NumericMatch
    from deltaeval.scoring.text import Contains, ExactMatch, RegexMatch

    return (ExactMatch, Contains, NumericMatch, ChoiceMatch, RegexMatch)


def _columnar(runs: Sequence[Run]) -> bool:
    from deltaeval.columnar import ColumnarRun

    return all(isinstance(run, ColumnarRun) for run in runs)


def _codes(array: pa.Array | None, n: int) -> tuple[NDArray[np.int64], list[Any]]:
    """Integer codes of ``array``'s values (-1: null, or no column) and the distinct values."""
    import pyarrow.compute as pc

    if array is None:
        return np.full(n, -1, dtype=np.int64), []
    encoded = pc.dictionary_encode(array)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def _no_error(run: ColumnarRun) -> NDArray[np.bool_]:
    import pyarrow.compute as pc

    if run.columns.error is None:
        return np.ones(len(run), dtype=bool)
    return pc.is_null(run.columns.error).to_numpy(zero_copy_only=False)


def choose_scorer_columns(runs: Sequence[Run]) -> ScorerChoice | None:
    """:func:`~deltaeval.scoring.auto.choose_scorer` of the (reference, output text) pairs of
    ``runs`` without an error, read from the columns; None unless every run is columnar."""
    if not _columnar(runs):
        return None
    import pyarrow.compute as pc

    from deltaeval.columnar import _WORD
    from deltaeval.references import split_alternatives

    n, missing = 0, 0
    alternatives: set[str] = set()
    longest: list[NDArray[np.int64]] = []
    words: list[tuple[Any, NDArray[np.bool_]]] = []
    for run in runs:
        keep = _no_error(run)
        c = run.columns
        n += int(keep.sum())
        codes, references = _codes(c.reference, len(run))
        blank = np.array([not r.strip() for r in references] + [True], dtype=bool)
        missing += int((blank[codes] & keep).sum())
        split = [split_alternatives(r) for r in references]
        alternatives.update(alt for alts in split for alt in alts)
        most = np.array([longest_words(alts) for alts in split] + [0], dtype=np.int64)
        longest.append(most[codes][keep])
        words.append((c.text, keep))

    def median() -> float:
        return float(np.median(np.concatenate(longest)))

    def word_counts(text: Any, keep: NDArray[np.bool_]) -> NDArray[np.int64]:
        if text is None:
            return np.zeros(int(keep.sum()), dtype=np.int64)
        counts = pc.fill_null(pc.count_substring_regex(text, _WORD), 0)
        return counts.to_numpy(zero_copy_only=False).astype(np.int64)[keep]

    def labels() -> bool:  # the outputs' words are counted only when the rule asks (a regex over every text)
        counts = np.concatenate([word_counts(text, keep) for text, keep in words])
        return bool((counts <= np.concatenate(longest)).all())

    return decide_scorer(n, missing, alternatives, median, labels)


def score_columns(run: Run, scorer: Scorer) -> Run | None:
    """``score_run(run, scorer)`` computed on the columns; None when ``run`` is not columnar, the
    scorer is not one of the pure ones, or the per-row route must give its error."""
    import pyarrow as pa

    if not _columnar((run,)) or type(scorer) not in _pure_scorers():
        return None
    import dataclasses

    c, n = run.columns, len(run)  # type: ignore[attr-defined]
    text_codes, texts = _codes(c.text, n)
    ref_codes, references = _codes(c.reference, n)
    active = _no_error(run) & (text_codes >= 0)  # errors and missing texts score (0.0, False)
    if scorer.needs_reference and (active & (ref_codes < 0)).any():
        return None  # score_run's error, naming the examples without a reference
    rows = np.flatnonzero(active)
    factored = _factored(scorer)
    if factored is not None:
        correct = factored(scorer, texts, references, text_codes[rows], ref_codes[rows])
        scores = None if correct is None else correct.astype(np.float64)
    else:
        scores, correct = _by_pair(run, scorer, texts, references, text_codes[rows], ref_codes[rows], rows)
    if scores is None or correct is None:
        return None
    all_scores, all_correct = np.zeros(n, dtype=np.float64), np.zeros(n, dtype=bool)
    all_scores[rows], all_correct[rows] = scores, correct
    columns = dataclasses.replace(c, score=pa.array(all_scores), correct=pa.array(all_correct))
    return run.replace(columns=columns)


Verdicts = Any  # (scorer, texts, references, text codes, reference codes) -> correct per row, or None


def _factored(scorer: Scorer) -> Verdicts | None:
    """The verdicts of a binary scorer computed once per distinct text and once per distinct
    reference (``numeric``, ``exact``), or None."""
    from deltaeval.scoring.numeric import NumericMatch
    from deltaeval.scoring.text import ExactMatch

    return {NumericMatch: _numeric, ExactMatch: _exact}.get(type(scorer))


def _used(codes: NDArray[np.int64], size: int) -> list[bool]:
    used = np.zeros(size, dtype=bool)
    used[codes] = True
    return used.tolist()


def _numeric(
    scorer: Any, texts: list[str], references: list[str], tc: NDArray[np.int64], rc: NDArray[np.int64]
) -> NDArray[np.bool_] | None:
    """:meth:`NumericMatch._score` on every row: the final number of the text close (as
    :func:`math.isclose` decides) to the number of one of the reference's alternatives."""
    from deltaeval.references import split_alternatives
    from deltaeval.scoring.numeric import extract_number

    alternatives = [
        split_alternatives(r) if used else []
        for r, used in zip(references, _used(rc, len(references)), strict=True)
    ]
    targets = np.full((len(references), max(map(len, alternatives), default=1) or 1), np.nan)
    for i, alts in enumerate(alternatives):
        for k, alt in enumerate(alts):
            value = extract_number(alt)
            if value is None:
                return None  # the scorer's error, per row
            targets[i, k] = value
    found = [
        extract_number(t) if used else None for t, used in zip(texts, _used(tc, len(texts)), strict=True)
    ]
    predicted = np.array([np.nan if v is None else v for v in found], dtype=np.float64)[tc][:, None]
    target = targets[rc]
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(target - predicted)
        rel, tol = scorer.rel_tol, scorer.abs_tol
        near = (diff <= np.abs(rel * target)) | (diff <= np.abs(rel * predicted)) | (diff <= tol)
    finite = ~np.isinf(target) & ~np.isinf(predicted)
    return ((target == predicted) | (finite & near)).any(axis=1)


def _exact(
    scorer: Any, texts: list[str], references: list[str], tc: NDArray[np.int64], rc: NDArray[np.int64]
) -> NDArray[np.bool_] | None:
    """:meth:`ExactMatch._score` on every row: the prepared text equal to one of the prepared
    alternatives of the reference."""
    from deltaeval.references import split_alternatives
    from deltaeval.scoring.text import _prepare

    lookup: dict[str, int] = {}
    prepared = [
        [_prepare(alt, scorer.normalize) for alt in split_alternatives(r)] if used else []
        for r, used in zip(references, _used(rc, len(references)), strict=True)
    ]
    table = np.full((len(references), max(map(len, prepared), default=1) or 1), -1, dtype=np.int64)
    for i, alts in enumerate(prepared):
        table[i, : len(alts)] = [lookup.setdefault(alt, len(lookup)) for alt in alts]
    words = [
        lookup.get(_prepare(t, scorer.normalize), -2) if used else -2
        for t, used in zip(texts, _used(tc, len(texts)), strict=True)
    ]
    return (table[rc] == np.array(words, dtype=np.int64)[tc][:, None]).any(axis=1)


def _by_pair(
    run: Run,
    scorer: Scorer,
    texts: list[str],
    references: list[str],
    tc: NDArray[np.int64],
    rc: NDArray[np.int64],
    rows: NDArray[np.int64],
) -> tuple[NDArray[np.float64] | None, NDArray[np.bool_] | None]:
    """The scorer called once per distinct (text, reference) pair; (None, None) when it raises."""
    width = len(references) + 1
    distinct, first, inverse = np.unique(tc * width + (rc + 1), return_index=True, return_inverse=True)
    scores = np.empty(len(distinct), dtype=np.float64)
    correct = np.empty(len(distinct), dtype=bool)
    ids = run.columns.ids  # type: ignore[attr-defined]
    for j, key in enumerate(distinct.tolist()):
        text, reference = divmod(key, width)
        example = Example(id=ids[int(rows[first[j]])].as_py())
        try:
            result = scorer.score(texts[text], references[reference - 1] if reference else None, example)
        except DeltaEvalError:
            return None, None
        scores[j], correct[j] = result.score, result.correct
    inverse = inverse.reshape(-1)
    return scores[inverse], correct[inverse]
