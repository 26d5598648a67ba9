"""``compare_behaviour``: the behaviour report of two runs, with optional judge and LLM axes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval import __version__
from deltaeval.alignment import Alignment, align
from deltaeval.behaviour.section import Similarity, behaviour_section
from deltaeval.errors import UsageError
from deltaeval.jsonable import run_block
from deltaeval.types import Run


def _preferences(alignment: Alignment, result: Any) -> np.ndarray:
    """The judged outcome of new against old per aligned example (NaN where none)."""
    by_id = dict(zip((e.id for e in result.examples), result.outcomes(), strict=True))
    return np.array([by_id.get(i, np.nan) for i in alignment.ids], dtype=float)


def _llm_spec(judges: Sequence[Any]) -> Any:
    """The first judge that is a model spec (not a recorded file or a Python callable)."""
    from deltaeval.judging import is_recorded_spec

    for item in judges:
        if isinstance(item, str) and not item.startswith("python:") and not is_recorded_spec(item):
            return item
    return None


def _source(result: Any) -> str:
    from deltaeval.report._format import orders as orders_text

    protocol = {
        "both_orders": result.both_orders,
        "one_order_judges": result.one_order_judges,
        "n_judges": len(result.judges),
    }
    orders = orders_text(protocol)
    via = f", through the baseline {result.baseline.name}" if result.baseline is not None else ""
    return f"judge: {', '.join(result.judges)} ({orders}{via})"


def compare_behaviour(
    old: Run | str | Path,
    new: Run | str | Path,
    *,
    judges: Any = None,
    baseline: Run | str | Path | None = None,
    proposer: Any = None,
    axis_judge: Any = None,
    similarity: Similarity = "tfidf",
    describe: Any = None,
    axes: Sequence[str] | None = None,
    store: Any = None,
    seed: int = 0,
    n_boot: int = 1000,
    confidence_level: float = 0.95,
    alpha: float = 0.05,
    strict: bool = False,
    judge_options: dict[str, Any] | None = None,
    proposer_options: dict[str, Any] | None = None,
    progress: Callable[[int], Callable[[int], None]] | None = None,
    workers: int = 1,
    quiet: bool = True,
) -> Any:
    """How ``new``'s outputs differ from ``old``'s: the behaviour report.

    Parameters
    ----------
    old, new:
        Runs, or paths of files to import.
    judges, baseline:
        Optional pairwise judges (specs or :class:`~deltaeval.judging.Judge` objects, recorded
        judgment files included; with ``baseline``, each run judged against it). Their verdicts
        become the per-example preference that the axes are fitted to, and the report carries
        the ``preference`` section too.
    proposer, axis_judge:
        A model spec or backend that proposes axes from side-by-side pairs, and the one that
        scores them in both orders (default: the first model judge in ``judges``, else the
        proposer). ``proposer_options`` go to :func:`~deltaeval.behaviour.llm_axes.discover_axes`
        (``iterations``, ``propose_pairs``, ``max_axes``, ``judge_pairs``, ``backend_options`` …).
    similarity, describe:
        How the changed-most examples are found (``"tfidf"``, the default of every command;
        ``"minilm"``, which needs the ``[embed]`` extra; ``"auto"``: MiniLM when installed, else
        TF-IDF with a short note; ``"none"``) and an optional model that describes each cluster
        in a sentence.
    axes:
        Built-in or registered axes to compute (default: all default axes).
    store:
        A :class:`~deltaeval.store.Store` caching every model call (judge, proposer, describer).
    seed, n_boot, confidence_level, alpha:
        Statistics settings; the same seed gives the same report.

    Returns
    -------
    deltaeval.comparison.Report
        ``report.data["behaviour"]`` (and ``["preference"]`` with judges), as documented in
        docs/report-schema.md.
    """
    from deltaeval.comparison import SCHEMA, SCHEMA_VERSION, Report, alignment_block
    from deltaeval.io import load_run

    if not 0.5 <= confidence_level < 1:
        raise UsageError(f"confidence level {confidence_level} is out of range", hint="use e.g. 0.95")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha {alpha} is out of range", hint="use e.g. 0.05")
    old_run = old if isinstance(old, Run) else load_run(old, strict=strict)
    new_run = new if isinstance(new, Run) else load_run(new, strict=strict)
    alignment = align(old_run, new_run, strict=strict)
    if alignment.n == 0:
        raise UsageError(
            f"runs {old_run.name!r} and {new_run.name!r} share no example id",
            hint="check that both files use the same ids (or the same inputs when ids are hashed)",
        )
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "deltaeval_version": __version__,
        "old": run_block(old_run),
        "new": run_block(new_run),
        "settings": {
            "seed": seed,
            "n_boot": n_boot,
            "confidence_level": confidence_level,
            "alpha": alpha,
            "similarity": similarity,
        },
        "alignment": alignment_block(alignment),
    }
    preference = None
    source = None
    judge_list = [] if judges is None else [judges] if isinstance(judges, str) else list(judges)
    if judge_list:
        from deltaeval.judging.report import JudgeSettings, judging_result, preference_section

        result = judging_result(
            old_run,
            new_run,
            judge_list,
            baseline=baseline,
            store=store,
            seed=seed,
            alpha=alpha,
            strict=strict,
            progress=progress,
            judge_options=judge_options,
        )
        settings = JudgeSettings(seed=seed, n_boot=n_boot, confidence_level=confidence_level, alpha=alpha)
        data["preference"] = preference_section(result, settings)
        preference = _preferences(alignment, result)
        source = _source(result)
    elif baseline is not None:
        raise UsageError("--baseline needs a --judge", hint="give the judge (or judgment files) to use")
    if proposer is not None and axis_judge is None:
        axis_judge = _llm_spec(judge_list)
    data["behaviour"] = behaviour_section(
        alignment,
        preference=preference,
        preference_source=source,
        axes=axes,
        proposer=proposer,
        axis_judge=axis_judge,
        proposer_options=proposer_options,
        similarity=similarity,
        describe=describe,
        store=store,
        n_boot=n_boot,
        level=confidence_level,
        alpha=alpha,
        seed=seed,
        workers=workers,
        quiet=quiet,
    )
    return Report(data)
