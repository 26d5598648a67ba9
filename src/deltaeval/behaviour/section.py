"""The ``behaviour`` section of a report: how two runs' outputs differ, axis by axis.

Built from an :class:`~deltaeval.alignment.Alignment` of two runs with text outputs:

* every default built-in axis (:func:`~deltaeval.behaviour.compute_axes`) validated with
  :func:`~deltaeval.analysis.behaviour.behaviour_stats` (paired difference with bootstrap
  interval, effect size, separability, Benjamini–Hochberg across the built-in axes, and — when
  preferences are given — how each axis predicts them; a combined cross-validated model);
* optionally LLM-proposed axes (:func:`~deltaeval.behaviour.llm_axes.discover_axes`), validated
  the same way (Benjamini–Hochberg across the proposed axes);
* optionally where the outputs changed most (:func:`~deltaeval.behaviour.embedding.where_changed`):
  similarity per example and c-TF-IDF-described clusters of the most-changed examples.

Axes are listed most separable first, each with the example pair where it differs most in the
direction of the change. The layout is documented in docs/report-schema.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.alignment import Alignment
from deltaeval.analysis.behaviour import AxisResult, behaviour_stats
from deltaeval.behaviour.axes import compute_axes, default_axis_names, skipped_axes
from deltaeval.behaviour.registry import AXES
from deltaeval.errors import UsageError
from deltaeval.jsonable import clean
from deltaeval.stats import ASYMPTOTIC_FROM
from deltaeval.types import input_text

Similarity = Literal["auto", "minilm", "tfidf", "none"]

#: Characters of each text kept in an axis's example pair.
EXAMPLE_CHARS = 1200
#: Median words per output from which outputs count as text (and compare adds the section).
TEXT_MIN_WORDS = 3


def _texts(outputs: Sequence[Any]) -> list[str | None]:
    return [o.text if o.error is None and isinstance(o.text, str) else None for o in outputs]


def _texts_and_inputs(alignment: Alignment) -> tuple[tuple[list[str | None], list[str | None]], list[str]]:
    """The pairs' old and new output texts (None: no text or an error) and their inputs as text;
    from a columnar alignment's columns, without building its per-row objects."""
    from deltaeval.columnar import ColumnarAlignment

    if isinstance(alignment, ColumnarAlignment):
        texts = (alignment.output_texts("old"), alignment.output_texts("new"))
        return texts, [input_text(value) for value in alignment.input_values()]
    return (_texts(alignment.old), _texts(alignment.new)), [input_text(e.input) for e in alignment.examples]


def has_text_outputs(alignment: Alignment) -> bool:
    """Whether the paired outputs are prose (median of at least three words), not labels."""
    words = [len(t.split()) for t in _texts(alignment.old) + _texts(alignment.new) if t]
    return bool(words) and float(np.median(words)) >= TEXT_MIN_WORDS


def _clip(text: str | None, limit: int = EXAMPLE_CHARS) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _example_index(old: NDArray[np.float64], new: NDArray[np.float64], direction: str) -> int | None:
    """The pair where the axis differs most in the direction of the change (any, when none)."""
    diff = new - old
    finite = np.isfinite(diff)
    if not finite.any():
        return None
    signed = {"up": diff, "down": -diff}.get(direction, np.abs(diff))
    signed = np.where(finite, signed, -np.inf)
    best = int(np.argmax(signed))
    return best if signed[best] > 0 else None


def _example(
    alignment: Alignment,
    texts: tuple[list[str | None], list[str | None]],
    index: int | None,
    values: tuple[float | None, float | None],
) -> dict[str, Any] | None:
    if index is None:
        return None
    example = alignment.row(index)[0]  # one row: a columnar alignment builds no others
    return {
        "id": example.id,
        "input": _clip(input_text(example.input)),
        "old": _clip(texts[0][index]),
        "new": _clip(texts[1][index]),
        "value_old": values[0],
        "value_new": values[1],
    }


def _axis_row(
    result: AxisResult,
    kind: str,
    meta: dict[str, Any],
    example: dict[str, Any] | None,
) -> dict[str, Any]:
    return {**result.to_dict(), "kind": kind, **meta, "example": example}


def _builtin_meta(name: str) -> dict[str, Any]:
    spec = AXES.get(name)
    if spec is None:
        return {"description": None, "unit": None, "family": None}
    return {"description": spec.description, "unit": spec.unit, "family": spec.family}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def behaviour_section(
    alignment: Alignment,
    *,
    preference: ArrayLike | None = None,
    preference_source: str | None = None,
    axes: Sequence[str] | None = None,
    proposer: Any = None,
    axis_judge: Any = None,
    proposer_options: dict[str, Any] | None = None,
    similarity: Similarity = "tfidf",
    describe: Any = None,
    store: Any = None,
    n_boot: int = 1000,
    level: float = 0.95,
    alpha: float = 0.05,
    folds: int = 5,
    seed: int | None = 0,
    workers: int | None = None,
    quiet: bool = True,
    asymptotic_from: int = ASYMPTOTIC_FROM,
    axis_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the JSON ``behaviour`` section for two aligned runs.

    Parameters
    ----------
    alignment:
        The two runs paired by example; error outputs are left out of every axis.
    preference:
        Optional, one value per aligned example in [0, 1] (1 = new preferred; NaN = none).
    preference_source:
        Where the preferences came from (shown in the report).
    axes:
        Built-in or registered axis names (default: every default axis computable here).
    proposer, axis_judge, proposer_options:
        A backend or model spec that proposes axes, the one that scores them (default: the
        proposer), and options for :func:`~deltaeval.behaviour.llm_axes.discover_axes`.
    similarity:
        How "changed most" is measured: ``"tfidf"`` (fast, lexical), ``"minilm"`` (MiniLM
        embeddings, the ``[embed]`` extra), ``"auto"`` (MiniLM when installed), ``"none"``.
    describe:
        A backend or model spec that describes each changed-most cluster in a sentence.
    store:
        Store for the call cache of the proposer, judge and describer.
    n_boot, level, alpha, folds, seed:
        Statistics settings (bootstrap replicates, interval level, false discovery rate,
        cross-validation folds, seed).
    workers:
        Processes for the built-in axes (None: every usable core from
        :data:`AUTO_WORKERS_FROM` distinct outputs, else one). The values do not depend on it.
    quiet:
        No progress; otherwise each stage (axes, statistics, proposed axes, similarity) reports
        its progress on stderr (:mod:`deltaeval.progress`).
    asymptotic_from:
        From this many examples, the built-in axes' intervals are normal approximations
        (DeLong's for the AUROC, Wald's for preference coefficients) instead of the bootstrap;
        0 = always the bootstrap. The section names each interval's method (``ci_methods``).
    axis_values:
        A dict to receive the built-in axes' values per example (``{"old": {axis: array},
        "new": {...}}``), for callers that need them too (the output changes' lengths).
    """
    if similarity not in ("auto", "minilm", "tfidf", "none"):
        raise UsageError(f"unknown similarity {similarity!r}", hint="use auto, minilm, tfidf or none")
    texts, inputs = _texts_and_inputs(alignment)
    names = list(axes) if axes else default_axis_names(with_inputs=True)
    background = _changes_beside(alignment, texts, inputs, similarity, describe, seed)
    try:
        return _section(
            alignment, texts, inputs, names, background,
            preference=preference, preference_source=preference_source, axes=axes, proposer=proposer,
            axis_judge=axis_judge, proposer_options=proposer_options, similarity=similarity,
            describe=describe, store=store, n_boot=n_boot, level=level, alpha=alpha, folds=folds,
            seed=seed, workers=workers, quiet=quiet, asymptotic_from=asymptotic_from,
            axis_values=axis_values,
        )  # fmt: skip
    finally:
        if background is not None:
            background.close()


#: From this many pairs with both outputs, the TF-IDF change analysis runs in a forked child
#: beside the axes (when the machine has a second core).
BESIDE_FROM = 400


def _changes_beside(
    alignment: Alignment,
    texts: tuple[list[str | None], list[str | None]],
    inputs: list[str],
    similarity: Similarity,
    describe: Any,
    seed: int | None,
) -> Any:
    """The TF-IDF change analysis started in a forked child (:mod:`.forked`), or None where it
    runs in order: another similarity (a model, a store), a describer (model calls), few pairs,
    or one core."""
    from deltaeval.threads import usable_cores

    if similarity != "tfidf" or describe is not None or usable_cores() < 2:
        return None
    if sum(1 for a, b in zip(*texts, strict=True) if a is not None and b is not None) < BESIDE_FROM:
        return None
    from deltaeval.behaviour.forked import Forked

    return Forked(lambda: _changes(alignment, texts, inputs, similarity, None, None, seed, True))


def _section(
    alignment: Alignment,
    texts: tuple[list[str | None], list[str | None]],
    inputs: list[str],
    names: list[str],
    background: Any,
    *,
    preference: ArrayLike | None,
    preference_source: str | None,
    axes: Sequence[str] | None,
    proposer: Any,
    axis_judge: Any,
    proposer_options: dict[str, Any] | None,
    similarity: Similarity,
    describe: Any,
    store: Any,
    n_boot: int,
    level: float,
    alpha: float,
    folds: int,
    seed: int | None,
    workers: int | None,
    quiet: bool,
    asymptotic_from: int,
    axis_values: dict[str, Any] | None,
) -> dict[str, Any]:
    from deltaeval.progress import make_progress

    with make_progress(quiet=quiet) as progress:
        old_values, new_values = _axis_values(texts, inputs, names, workers, progress)
        if axis_values is not None:
            axis_values.update(old=old_values, new=new_values)
        pref = None if preference is None else np.asarray(preference, dtype=float)
        with progress.stage("behaviour: statistics"):
            stats = behaviour_stats(
                old_values,
                new_values,
                pref,
                n_boot=n_boot,
                level=level,
                alpha=alpha,
                folds=folds,
                seed=seed,
                asymptotic_from=asymptotic_from,
            )
        rows = []
        for result in stats.axes:
            index = _example_index(old_values[result.name], new_values[result.name], result.direction)
            values = (
                (_finite(old_values[result.name][index]), _finite(new_values[result.name][index]))
                if index is not None
                else (None, None)
            )
            example = _example(alignment, texts, index, values)
            rows.append(_axis_row(result, "built-in", _builtin_meta(result.name), example))
        notes = list(stats.notes)
        proposed_block = None
        if proposer is not None:
            with progress.stage("behaviour: proposed axes"):
                proposed_block, proposed_rows = _proposed(
                    alignment, texts, inputs, pref, proposer, axis_judge, proposer_options, store,
                    n_boot=n_boot, level=level, alpha=alpha, folds=folds, seed=seed, quiet=quiet,
                )  # fmt: skip
            rows.extend(proposed_rows)
        rows.sort(key=lambda r: -(r["separability"] or 0.5))
        changes_block = None
        if similarity != "none":
            with progress.stage("behaviour: similarity"):
                changes_block = (
                    background.result()
                    if background is not None
                    else _changes(alignment, texts, inputs, similarity, describe, store, seed, quiet)
                )
    skipped = skipped_axes(with_inputs=True) if not axes else {}
    return clean(
        {
            "n": stats.n,
            "level": level,
            "alpha": alpha,
            "n_boot": n_boot,
            "asymptotic_from": asymptotic_from,
            "ci_methods": stats.ci_methods,
            "seed": seed,
            "effect_size": stats.effect_size,
            "multiple_testing": "benjamini-hochberg",
            "multiple_testing_families": ["built-in", "proposed"] if proposed_block else ["built-in"],
            "sorted_by": "separability",
            "preference_source": preference_source,
            "preference_mode": stats.preference_mode,
            "n_preferences": int(np.isfinite(pref).sum()) if pref is not None else 0,
            "n_axes": len(rows),
            "n_passing": sum(bool(r["passes"]) for r in rows),
            "axes": rows,
            "combined": stats.combined.to_dict() if stats.combined else None,
            "proposed": proposed_block,
            "changes": changes_block,
            "skipped_axes": skipped,
            "notes": notes,
        }
    )


#: With ``workers=None``, the built-in axes use every usable core from this many distinct outputs.
AUTO_WORKERS_FROM = 4000


def _axis_values(
    texts: tuple[list[str | None], list[str | None]],
    inputs: list[str],
    names: list[str],
    workers: int | None,
    progress: Any,
) -> tuple[dict[str, NDArray[np.float64]], dict[str, NDArray[np.float64]]]:
    """Every axis of the old and the new outputs, each distinct (output, input) computed once:
    an output the new run left as it was has the old one's values (an axis reads only the
    output and its example's input). A missing output is NaN on every axis."""
    from deltaeval.threads import usable_cores

    distinct: dict[tuple[str, str], int] = {}
    where = np.full((2, len(inputs)), -1, dtype=np.int64)
    for side in (0, 1):
        for i, (text, source) in enumerate(zip(texts[side], inputs, strict=True)):
            if text is not None:
                where[side, i] = distinct.setdefault((text, source), len(distinct))
    if workers is None:
        workers = usable_cores() if len(distinct) >= AUTO_WORKERS_FROM else 1
    with progress.stage("behaviour: axes", total=len(distinct)) as advance:
        values = compute_axes(
            [text for text, _ in distinct],
            [source for _, source in distinct],
            names,
            workers=workers,
            progress=advance,
        )
    missing = where < 0
    sides = []
    for side in (0, 1):
        index = np.where(missing[side], 0, where[side])
        sides.append(
            {
                name: np.where(missing[side], np.nan, column[index] if column.size else np.nan)
                for name, column in values.items()
            }
        )
    return sides[0], sides[1]


def _proposed(
    alignment: Alignment,
    texts: tuple[list[str | None], list[str | None]],
    inputs: list[str],
    preference: NDArray[np.float64] | None,
    proposer: Any,
    axis_judge: Any,
    options: dict[str, Any] | None,
    store: Any,
    **stats_options: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from deltaeval.behaviour.llm_axes import discover_axes

    found = discover_axes(
        texts[0],
        texts[1],
        proposer=proposer,
        judge=axis_judge,
        store=store,
        ids=list(alignment.ids),
        inputs=inputs,
        preference=preference,
        **dict(options or {}),
        **stats_options,
    )
    rows = []
    for axis in found.axes:
        if axis.validation is None:
            continue
        scores = np.array([np.nan if s is None else float(s) for s in axis.scores])
        zeros = np.where(np.isnan(scores), np.nan, 0.0)
        index = _example_index(zeros, scores, axis.validation.direction)
        pair_values = (0.0, float(scores[index])) if index is not None else (None, None)
        example = _example(alignment, texts, index, pair_values)
        meta = {
            "description": f"high: {axis.axis.high} / low: {axis.axis.low}",
            "unit": "judge score (+1 new higher, -1 old higher)",
            "family": "proposed",
            "high": axis.axis.high,
            "low": axis.axis.low,
        }
        rows.append(_axis_row(axis.validation, "proposed", meta, example))
    block = {
        "proposer": found.proposer,
        "judge": found.judge,
        "rounds": found.rounds,
        "merge_method": found.merge_method,
        "n_proposed": len(found.axes),
        "kept": [a.name for a in found.kept],
        "axes": [
            {
                "name": a.name,
                "high": a.axis.high,
                "low": a.axis.low,
                "support": a.axis.support,
                "kept": a.kept,
                "new_higher": a.new_higher,
                "old_higher": a.old_higher,
                "equal": a.equal,
                "order_dependent": a.order_dependent,
                "flips": a.flips,
                "unparsed": a.unparsed,
                "errors": a.errors,
            }
            for a in found.axes
        ],
        "combined": found.stats.combined.to_dict() if found.stats and found.stats.combined else None,
        "scoring": "judge in both orders; +1 new higher, -1 old higher, 0 equal or order-dependent",
        "notes": list(found.notes),
    }
    return block, rows


def _changes(
    alignment: Alignment,
    texts: tuple[list[str | None], list[str | None]],
    inputs: list[str],
    similarity: Similarity,
    describe: Any,
    store: Any,
    seed: int | None,
    quiet: bool,
) -> dict[str, Any] | None:
    from deltaeval.behaviour.embedding import where_changed

    usable = sum(1 for a, b in zip(*texts, strict=True) if a is not None and b is not None)
    if usable < 4:
        return None
    changes = where_changed(
        list(alignment.ids), texts[0], texts[1], method=similarity, seed=seed, store=store, quiet=quiet
    )
    if describe is not None and changes.clusters:
        from deltaeval.behaviour.llm_axes import describe_clusters

        changes = describe_clusters(
            changes, describe, store=store, inputs=dict(zip(alignment.ids, inputs, strict=True)), quiet=quiet
        )
    block = changes.to_dict()
    block.pop("similarity", None)  # one number per example: kept out of the report
    block.pop("changed_ids", None)
    for cluster in block.get("clusters") or []:
        for example in cluster.get("examples") or []:
            for key in ("old", "new"):
                if isinstance(example.get(key), str):
                    example[key] = _clip(example[key])
    return block
