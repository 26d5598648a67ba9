"""``compare(old, new)``: align two runs, score them if needed, analyse, and build the report."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deltaeval import __version__
from deltaeval.alignment import Alignment, align
from deltaeval.analysis.continuous import ContinuousStats, continuous_stats, is_binary
from deltaeval.analysis.flips import (
    INTERVAL_METHODS,
    FlipStats,
    cell_codes,
    cell_counts,
    flip_stats_from_counts,
)
from deltaeval.analysis.slices import SliceTable, slice_stats
from deltaeval.atomic_write import write_text_atomic
from deltaeval.errors import UsageError
from deltaeval.jsonable import interval as _ci
from deltaeval.jsonable import num as _num
from deltaeval.jsonable import run_block as _run_block
from deltaeval.stats import ASYMPTOTIC_FROM, BOOTSTRAP, CLOPPER_PEARSON
from deltaeval.types import Run, input_text

if TYPE_CHECKING:
    from deltaeval.scoring.auto import ScorerChoice

SCHEMA = "deltaeval.report"
SCHEMA_VERSION = 1
MAX_LISTED_IDS = 100
#: Negative flips listed in full in a report (the first in the old run's order); the rest are
#: counted (``examples.n_negative_flips``) so that a report of a million examples stays small.
MAX_NEGATIVE_FLIPS = 1000


@dataclass(frozen=True)
class CompareSettings:
    """Options of one comparison (validated at construction)."""

    scorer: str | None = None
    by: tuple[str, ...] = ()
    seed: int = 0
    n_boot: int = 1000
    confidence_level: float = 0.95
    epsilon: float | None = None
    alpha: float = 0.05
    strict: bool = False
    max_examples: int = 100
    threshold: float | None = None
    behaviour: bool | None = None  # None: when the outputs are text
    similarity: str = "tfidf"
    asymptotic_from: int = ASYMPTOTIC_FROM
    slice_discovery: bool | None = None  # None: from deltaeval.slices.api.MIN_N to MAX_N_DEFAULT examples
    slice_clusters: str = "tfidf"  # what the input clusters among the slice candidates are of

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence_level < 1:
            raise UsageError(
                f"confidence level {self.confidence_level} is out of range",
                hint="use a level between 0.5 and 1, e.g. 0.95",
            )
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha {self.alpha} is out of range", hint="use e.g. 0.05")
        if self.slice_clusters != "tfidf":  # the default needs no check (nor the slices module)
            from deltaeval.slices.api import check_slice_clusters

            check_slice_clusters(self.slice_clusters)
        if self.n_boot < 0:
            raise UsageError("the number of bootstrap resamples must be >= 0")
        if self.asymptotic_from < 0:
            raise UsageError(
                f"--asymptotic-from {self.asymptotic_from} is negative", hint="use 0 to always bootstrap"
            )
        if self.epsilon is not None and self.epsilon < 0:
            raise UsageError("epsilon must be >= 0")
        if self.similarity not in ("auto", "minilm", "tfidf", "none"):
            raise UsageError(
                f"unknown similarity {self.similarity!r}", hint="use auto, minilm, tfidf or none"
            )

    @classmethod
    def from_options(cls, scorer: Any, by: str | Sequence[str], **options: Any) -> CompareSettings:
        """Settings from the public API's arguments: a scorer object is recorded by its name, and
        ``by`` may be one tag or several."""
        return cls(
            scorer=scorer if isinstance(scorer, str) or scorer is None else scorer.name,
            by=(by,) if isinstance(by, str) else tuple(by),
            **options,
        )


@dataclass(frozen=True)
class Report:
    """The result of a comparison: a JSON-ready dict (``data``) and ways to render it.

    ``examples`` (a fresh comparison's) builds the HTML viewer's rows of every paired example,
    at most N of them (:mod:`deltaeval.report.viewer`); the JSON keeps its own caps.
    """

    data: dict[str, Any]
    examples: Callable[[int], list[dict[str, Any]]] | None = field(default=None, compare=False, repr=False)

    @property
    def flips(self) -> dict[str, Any] | None:
        """The ``flips`` block; None when the runs carry no correctness (see ``notes``)."""
        return self.data["flips"]

    @property
    def accuracy(self) -> dict[str, Any] | None:
        """The ``accuracy`` block; None when the runs carry no correctness (see ``notes``)."""
        return self.data["accuracy"]

    def to_json(self) -> str:
        from deltaeval.report import dumps_report

        return dumps_report(self.data)

    def to_markdown(self) -> str:
        from deltaeval.report import render_markdown

        return render_markdown(self.data)

    def to_html(self, max_examples: int | None = None) -> str:
        """The HTML page; its viewer holds up to ``max_examples`` examples (default 10,000)."""
        from deltaeval.report import render_html
        from deltaeval.report.viewer import DEFAULT_MAX_EXAMPLES

        if self.examples is None:
            return render_html(self.data)
        limit = DEFAULT_MAX_EXAMPLES if max_examples is None else max_examples
        total = (self.data.get("alignment") or {}).get("n_shared")
        return render_html(self.data, examples=self.examples(limit), total=total)

    def _repr_html_(self) -> str:
        """The HTML report inline in a notebook: the page in a sandboxed frame (report/notebook.py).

        ``compare``, ``judge`` and ``compare_behaviour`` all return a Report, so each shows inline.
        """
        from deltaeval.report.notebook import notebook_html

        return notebook_html(self.data)

    def save(self, path: str | Path) -> Path:
        """Write the report atomically; the format follows the suffix (.json, .md, .html)."""
        target = Path(path)
        renderers = {".json": self.to_json, ".md": self.to_markdown, ".html": self.to_html}
        render = renderers.get(target.suffix.lower())
        if render is None:
            raise UsageError(
                f"cannot tell the report format of {target.name!r}",
                hint="use a .json, .md or .html file name",
            )
        return write_text_atomic(target, render())

    def print(self, console: Any = None) -> None:
        """Print the terminal summary."""
        from rich.console import Console

        from deltaeval.report import render_terminal

        render_terminal(self.data, console or Console())


def _prepare(run: Run, scorer: Any, threshold: float | None) -> Run:
    if scorer is not None:
        from deltaeval.scoring import score_run

        return score_run(run, scorer)
    if threshold is not None and run.has_scores:
        outputs = tuple(
            o if o.score is None else dataclasses.replace(o, correct=bool(o.score >= threshold))
            for o in run.outputs
        )
        return run.replace(outputs=outputs)
    return run


def compare(
    old: Run | str | Path,
    new: Run | str | Path,
    *,
    scorer: str | Any | None = None,
    by: str | Sequence[str] = (),
    seed: int = 0,
    n_boot: int = 1000,
    confidence_level: float = 0.95,
    epsilon: float | None = None,
    alpha: float = 0.05,
    strict: bool = False,
    max_examples: int = 100,
    threshold: float | None = None,
    behaviour: bool | None = None,
    similarity: str = "tfidf",
    asymptotic_from: int = ASYMPTOTIC_FROM,
    slice_discovery: bool | None = None,
    slice_clusters: str = "tfidf",
    quiet: bool = True,
) -> Report:
    """Compare two runs of a model on the same examples.

    Parameters
    ----------
    old, new:
        Runs, or paths of files to import (``deltaeval.load_run``).
    scorer:
        A scorer name/spec (``exact``, ``numeric``, ``choice``, ``regex:PAT``, ``contains``,
        ``rouge_l``, ``module:function``) or a ``Scorer``. Without one, runs that lack
        correctness are scored by a default chosen from their references and named in the
        report (:mod:`deltaeval.scoring.auto`); runs without references get no flips: the report
        then holds churn, lengths and behaviour, and ``notes`` says why.
    by:
        Tag name(s) to slice on; slices get Benjamini–Hochberg control at ``alpha``.
    seed, n_boot, confidence_level:
        Paired bootstrap settings; the same seed gives the same report.
    asymptotic_from:
        From this many examples, the behaviour statistics and the output changes take normal
        (and DeLong, Wald) intervals instead of the bootstrap; 0 = always the bootstrap.
    epsilon:
        Tolerance for continuous score changes (default: 0 for 0/1 scores, else 5% of the range).
    strict:
        Make missing or repeated ids an error instead of a reported warning.
    threshold:
        Derive correctness as ``score >= threshold`` for runs that only carry scores.
    behaviour, similarity:
        Add the ``behaviour`` section (how the outputs differ: built-in axes, changed-most
        clusters): ``None`` adds it when the outputs are text; ``similarity`` picks how the
        changed-most examples are found (``tfidf``, ``minilm``, ``auto``, ``none``).
    slice_discovery:
        Add the ``discovered_slices`` section (:func:`deltaeval.slices.discover_slices`: slices
        of the inputs and tags where the NFR is elevated, found on one half of the examples and
        confirmed on the other). ``None``: with correctness, from 200 to 20,000 examples.
    slice_clusters:
        What the input clusters among the slice candidates are of: ``"tfidf"`` (the inputs'
        TF-IDF, truncated SVD; default) or ``"minilm"`` (MiniLM sentence embeddings, the
        ``embed`` extra: finds topics that share few words, at a few seconds per thousand inputs).
    quiet:
        No progress on stderr while the behaviour section is computed (False: show it).

    Returns
    -------
    Report
        ``report.data`` follows the documented JSON schema (docs/report-schema.md).

    Examples
    --------
    >>> report = deltaeval.compare("v1.jsonl", "v2.jsonl", scorer="exact", by="category")
    ... # doctest: +SKIP
    >>> report.flips["nfr"], report.flips["nfr_ci"]  # doctest: +SKIP
    """
    settings = CompareSettings.from_options(
        scorer,
        by,
        seed=seed,
        n_boot=n_boot,
        confidence_level=confidence_level,
        epsilon=epsilon,
        alpha=alpha,
        strict=strict,
        max_examples=max_examples,
        threshold=threshold,
        behaviour=behaviour,
        similarity=similarity,
        asymptotic_from=asymptotic_from,
        slice_discovery=slice_discovery,
        slice_clusters=slice_clusters,
    )
    pair = prepare_pair(old, new, settings, scorer)
    viewer: dict[str, Any] = {}
    data = analyse(
        pair.alignment, pair.settings, quiet=quiet, scorer_choice=pair.choice, runs=pair.runs, viewer=viewer
    )
    return Report(data, examples=viewer["rows"])


@dataclass(frozen=True)
class PreparedPair:
    """Two runs scored and aligned as :func:`compare` analyses them (see :func:`prepare_pair`)."""

    alignment: Alignment
    settings: CompareSettings  # with the automatically chosen scorer named, when one was chosen
    choice: ScorerChoice | None
    runs: tuple[dict[str, Any], dict[str, Any]]  # the identity blocks of the runs as given


def prepare_pair(
    old: Run | str | Path, new: Run | str | Path, settings: CompareSettings, scorer: str | Any | None = None
) -> PreparedPair:
    """Load (when paths), score and align two runs exactly as :func:`compare` does.

    ``scorer`` is the scorer name/spec or object (``settings.scorer`` names it).
    """
    from deltaeval.io import load_run

    strict, threshold = settings.strict, settings.threshold
    old_run = old if isinstance(old, Run) else load_run(old, strict=strict)
    new_run = new if isinstance(new, Run) else load_run(new, strict=strict)
    from deltaeval.columnar import hash_concurrently

    hash_concurrently(old_run, new_run)
    runs = (_run_block(old_run), _run_block(new_run))  # the runs as given, before any scoring
    scorer_obj = None
    if scorer is not None:
        from deltaeval.scoring import get_scorer

        scorer_obj = get_scorer(scorer) if isinstance(scorer, str) else scorer
    old_run = _prepare(old_run, scorer_obj, threshold)
    new_run = _prepare(new_run, scorer_obj, threshold)
    choice = None
    if scorer_obj is None and not (old_run.filled("correct") or new_run.filled("correct")):
        # runs that carry correctness need no scorer (score_by_default returns them as they are)
        from deltaeval.scoring.auto import score_by_default

        old_run, new_run, choice = score_by_default(old_run, new_run)
        if choice is not None and choice.name is not None:
            settings = dataclasses.replace(settings, scorer=choice.name)
    alignment = align(old_run, new_run, strict=strict)
    return PreparedPair(alignment, settings, choice, runs)


def analyse(
    alignment: Alignment,
    settings: CompareSettings,
    *,
    quiet: bool = True,
    scorer_choice: ScorerChoice | None = None,
    runs: tuple[dict[str, Any], dict[str, Any]] | None = None,
    viewer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every analysis on an alignment and assemble the JSON report dict (``quiet``: no progress).

    ``scorer_choice`` is the automatic scorer choice (see :mod:`deltaeval.scoring.auto`), named
    in the report; ``runs`` the identity blocks of the runs as given (default: the aligned runs).
    Without correctness on any output the report has no ``accuracy``, ``flips``, ``slices`` or
    ``examples``; it has ``output_changes`` (churn, lengths) and says so in ``notes``.
    """
    unscored = not alignment.any_correctness()
    if unscored:
        correct_old = correct_new = np.zeros(alignment.n, dtype=bool)
    else:
        correct_old, correct_new = alignment.correct()
    same = alignment.same_output()
    codes = cell_codes(correct_old, correct_new, same)
    flips = flip_stats_from_counts(
        cell_counts(codes), outputs_known=same is not None, level=settings.confidence_level
    )
    for tag in settings.by:
        if tag not in alignment.tag_names():
            from deltaeval.io.auto_tags import unknown_tag_error

            raise unknown_tag_error(tag, alignment.tag_names(), (alignment.old_run, alignment.new_run))
    slices = [
        slice_stats(
            tag,
            codes,
            alignment.tag_values(tag),
            outputs_known=same is not None,
            level=settings.confidence_level,
            alpha=settings.alpha,
        )
        for tag in settings.by
        if not unscored
    ]
    scores = alignment.scores()
    continuous = None
    if scores is not None and not (is_binary(scores[0]) and is_binary(scores[1])):
        continuous = continuous_stats(
            scores[0],
            scores[1],
            epsilon=settings.epsilon,
            n_boot=settings.n_boot,
            level=settings.confidence_level,
            seed=settings.seed,
        )
    data = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "deltaeval_version": __version__,
        "old": runs[0] if runs else _run_block(alignment.old_run),
        "new": runs[1] if runs else _run_block(alignment.new_run),
        "settings": {
            "scorer": settings.scorer,
            "scorer_auto": scorer_choice.reason if scorer_choice and scorer_choice.name else None,
            "seed": settings.seed,
            "n_boot": settings.n_boot,
            "confidence_level": settings.confidence_level,
            "epsilon": continuous.epsilon if continuous else settings.epsilon,
            "by": list(settings.by),
            "alpha": settings.alpha,
            "strict": settings.strict,
            "max_examples": settings.max_examples,
            "threshold": settings.threshold,
        },
        "alignment": alignment_block(alignment),
        "accuracy": None if unscored else _accuracy_block(flips),
        "flips": None if unscored else _flips_block(flips, settings.alpha),
        "continuous": _continuous_block(continuous) if continuous else None,
        "slices": [_slice_block(s) for s in slices],
        "examples": None
        if unscored
        else _examples_block(alignment, correct_old, correct_new, settings.max_examples),
        "output_changes": None,
        "notes": _notes(settings, scorer_choice, unscored),
    }
    # the behaviour section first: its length axes are the output changes' lengths (computed once)
    axis_values: dict[str, Any] = {}
    behaviour = None
    if settings.behaviour or (settings.behaviour is None and _text_outputs(alignment)):
        from deltaeval.behaviour.section import behaviour_section

        behaviour = behaviour_section(
            alignment,
            n_boot=settings.n_boot,
            level=settings.confidence_level,
            alpha=settings.alpha,
            seed=settings.seed,
            similarity=settings.similarity,  # type: ignore[arg-type]
            asymptotic_from=settings.asymptotic_from,
            quiet=quiet,
            axis_values=axis_values,
        )
    if unscored:
        data["output_changes"] = _output_changes_block(alignment, settings, axis_values)
    if behaviour is not None:
        data["behaviour"] = behaviour
    if not unscored:
        from deltaeval.slices.api import discovery_wanted

        if discovery_wanted(settings.slice_discovery, alignment.n):
            from deltaeval.slices.api import discover_slices

            data["discovered_slices"] = discover_slices(
                alignment, alpha=settings.alpha, seed=settings.seed, clusters=settings.slice_clusters
            )
    data["settings"]["behaviour"] = "behaviour" in data
    data["settings"]["slice_discovery"] = "discovered_slices" in data
    data["settings"]["similarity"] = settings.similarity
    data["settings"]["asymptotic_from"] = settings.asymptotic_from
    if viewer is not None:  # the HTML viewer's rows, built when the page is written
        viewer["rows"] = functools.partial(
            _viewer_rows,
            alignment,
            data,
            None if unscored else (correct_old, correct_new),
            same,
            axis_values,
        )
    return data


def _viewer_rows(
    alignment: Alignment,
    data: dict[str, Any],
    correct: tuple[np.ndarray, np.ndarray] | None,
    same: np.ndarray | None,
    axis_values: dict[str, Any],
    limit: int,
) -> list[dict[str, Any]]:
    from deltaeval.report.viewer import rows_from_alignment

    return rows_from_alignment(
        alignment, data, correct=correct, same=same, axis_values=axis_values, limit=limit
    )


def _notes(settings: CompareSettings, choice: ScorerChoice | None, unscored: bool) -> list[str]:
    """What the reader must know about how the report was scored (or why it was not)."""
    notes = []
    if choice is not None and choice.name is not None:
        notes.append(
            f"Scored with {choice.name} (chosen automatically: {choice.reason}; pass --scorer to change)."
        )
    if unscored:
        why = f", and no scorer was chosen ({choice.reason})" if choice is not None else ""
        notes.append(
            f"No flips or accuracy: the runs carry no correctness{why}. Flips need a scorer"
            " (--scorer, when the examples have references) or a judge (deltaeval judge OLD NEW)."
        )
        if settings.by:
            notes.append(f"Slices by {', '.join(settings.by)} need correctness too: none computed.")
    return notes


def _output_changes_block(
    alignment: Alignment, settings: CompareSettings, axis_values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Churn and the outputs' lengths in words and characters (the behaviour axes' measures;
    taken from ``axis_values``, the behaviour section's per-example values, where it has them)."""
    from deltaeval.analysis.output_changes import output_changes
    from deltaeval.behaviour.reference import length_chars, length_words
    from deltaeval.columnar import ColumnarAlignment

    same = alignment.same_output()
    if isinstance(alignment, ColumnarAlignment):  # the same texts, without building per-row objects
        texts = [alignment.output_texts("old"), alignment.output_texts("new")]
    else:
        texts = [
            [o.text if o.error is None else None for o in side] for side in (alignment.old, alignment.new)
        ]
    units = {"words": length_words, "characters": length_chars}  # the length axes' definitions
    axes = {"words": "length_words", "characters": "length_chars"}

    def lengths(side: int, unit: str) -> np.ndarray:
        known = (axis_values or {}).get(("old", "new")[side], {}).get(axes[unit])
        if known is not None:
            return np.asarray(known, dtype=float)
        measure, cache = units[unit], {}

        def once(text: str) -> float:  # an unchanged output is measured once
            value = cache.get(text)
            if value is None:
                value = cache[text] = measure(text)
            return value

        return np.array([np.nan if t is None else once(t) for t in texts[side]], dtype=float)

    result = output_changes(
        same if same is not None else np.zeros(alignment.n, dtype=bool),
        {unit: (lengths(0, unit), lengths(1, unit)) for unit in units},
        n_boot=settings.n_boot,
        level=settings.confidence_level,
        seed=settings.seed,
        asymptotic_from=settings.asymptotic_from,
    )
    return result.to_dict()


def _text_outputs(alignment: Alignment) -> bool:
    from deltaeval.behaviour.section import TEXT_MIN_WORDS, has_text_outputs
    from deltaeval.columnar import ColumnarAlignment

    if isinstance(alignment, ColumnarAlignment):  # the same test, on the columns
        # counts capped at 2 × the threshold: the median reaches it exactly when the capped median
        # does (capping keeps the order, and a middle pair of a, b >= 2T has a + b >= 2T either way)
        words = alignment.output_word_counts(cap=2 * TEXT_MIN_WORDS)
        return bool(len(words)) and float(np.median(words)) >= TEXT_MIN_WORDS
    return has_text_outputs(alignment)


def alignment_block(a: Alignment) -> dict[str, Any]:
    """The ``alignment`` block of a report: run sizes, missing and repeated ids, errors."""
    return {
        "n_old": len(a.old_run),
        "n_new": len(a.new_run),
        "n_shared": a.n,
        "missing_in_new": list(a.missing_in_new[:MAX_LISTED_IDS]),
        "n_missing_in_new": len(a.missing_in_new),
        "missing_in_old": list(a.missing_in_old[:MAX_LISTED_IDS]),
        "n_missing_in_old": len(a.missing_in_old),
        "duplicates_old": list(a.old_run.duplicate_ids[:MAX_LISTED_IDS]),
        "duplicates_new": list(a.new_run.duplicate_ids[:MAX_LISTED_IDS]),
        "errors_old": a.error_counts()[0],
        "errors_new": a.error_counts()[1],
    }


def _accuracy_block(f: FlipStats) -> dict[str, Any]:
    return {
        "n": f.n,
        "old": _num(f.estimates["accuracy_old"]),
        "old_ci": _ci(f.intervals["accuracy_old"]),
        "new": _num(f.estimates["accuracy_new"]),
        "new_ci": _ci(f.intervals["accuracy_new"]),
        "delta": _num(f.estimates["delta"]),
        "delta_ci": _ci(f.intervals["delta"]),
        "ci_methods": {
            "old_ci": INTERVAL_METHODS["accuracy_old"],
            "new_ci": INTERVAL_METHODS["accuracy_new"],
            "delta_ci": INTERVAL_METHODS["delta"],
        },
    }


def _flips_block(f: FlipStats, alpha: float) -> dict[str, Any]:
    block: dict[str, Any] = {
        "n": f.n,
        "both_correct": f.both_correct,
        "both_wrong": f.both_wrong,
        "negative": f.negative,
        "positive": f.positive,
    }
    names = ("nfr", "pfr", "churn", "nfr_mc", "btc", "bec")
    for name in names:
        block[name] = _num(f.estimates[name])
        block[f"{name}_ci"] = _ci(f.intervals[name])
    block["ci_methods"] = {f"{name}_ci": INTERVAL_METHODS[name] for name in names}
    block["mcnemar_p"] = _num(f.mcnemar_p)
    block["verdict"] = f.verdict(alpha)
    return block


def _continuous_block(c: ContinuousStats) -> dict[str, Any]:
    return {
        "n": c.n,
        "epsilon": c.epsilon,
        "old_mean": _num(c.old_mean),
        "new_mean": _num(c.new_mean),
        "mean_delta": _num(c.mean_delta),
        "mean_delta_ci": _ci(c.mean_delta_ci),
        "gains": c.gains,
        "losses": c.losses,
        "ties": c.ties,
        "gain_rate": _num(c.gain_rate),
        "gain_rate_ci": _ci(c.gain_rate_ci),
        "loss_rate": _num(c.loss_rate),
        "loss_rate_ci": _ci(c.loss_rate_ci),
        "mean_gain": _num(c.mean_gain),
        "mean_loss": _num(c.mean_loss),
        "wilcoxon_p": _num(c.wilcoxon_p),
        "ci_methods": {
            "mean_delta_ci": BOOTSTRAP,
            "gain_rate_ci": CLOPPER_PEARSON,
            "loss_rate_ci": CLOPPER_PEARSON,
        },
    }


def _slice_block(table: SliceTable) -> dict[str, Any]:
    rows = []
    for row in table.rows:
        s = row.stats
        rows.append(
            {
                "value": row.value,
                "n": s.n,
                "accuracy_old": _num(s.estimates["accuracy_old"]),
                "accuracy_new": _num(s.estimates["accuracy_new"]),
                **s.change_fields(),
                "q_value": _num(row.q_value),
                "regressed": row.regressed,
                "improved": row.improved,
            }
        )
    return {
        "tag": table.tag,
        "method": table.method,
        "alpha": table.alpha,
        "ci_methods": {
            "delta_ci": INTERVAL_METHODS["delta"],
            "nfr_ci": INTERVAL_METHODS["nfr"],
            "pfr_ci": INTERVAL_METHODS["pfr"],
        },
        "rows": rows,
    }


def _example_record(a: Alignment, i: int) -> dict[str, Any]:
    example, old, new = a.row(i)
    return {
        "id": example.id,
        "input": input_text(example.input),
        "reference": example.reference,
        "old_output": old.text,
        "new_output": new.text,
        "old_score": _num(old.score),
        "new_score": _num(new.score),
        "old_error": old.error,
        "new_error": new.error,
        "tags": dict(sorted(example.tags.items())),
    }


def _examples_block(
    a: Alignment, correct_old: np.ndarray, correct_new: np.ndarray, max_examples: int
) -> dict[str, Any]:
    negative = np.flatnonzero(correct_old & ~correct_new)
    positive = np.flatnonzero(~correct_old & correct_new)
    return {
        "negative_flips": [_example_record(a, int(i)) for i in negative[:MAX_NEGATIVE_FLIPS]],
        "n_negative_flips": int(negative.size),
        "positive_flips": [_example_record(a, int(i)) for i in positive[:max_examples]],
        "n_positive_flips": int(positive.size),
    }
