"""``compare_lineage(v1, v2, v3, …)``: every candidate compared with a baseline, and the lineage table.

Each candidate gets the full two-run comparison with the baseline (:func:`deltaeval.comparison`'s
preparation and analysis, unchanged), and the report adds the ``lineage`` block
(:func:`deltaeval.analysis.lineage.lineage_block`) computed on the examples every run shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval import __version__
from deltaeval.comparison import CompareSettings, Report, analyse, prepare_pair
from deltaeval.errors import AlignmentError, UsageError
from deltaeval.stats import ASYMPTOTIC_FROM
from deltaeval.types import Run

SCHEMA = "deltaeval.lineage"
SCHEMA_VERSION = 1
#: Gate-style thresholds a lineage can check per candidate (``deltaeval.gate.evaluate_gate``).
THRESHOLDS = ("max_nfr", "max_accuracy_drop", "min_accuracy_delta")


@dataclass(frozen=True)
class LineageReport(Report):
    """A lineage report: ``data`` follows the ``deltaeval.lineage`` schema (docs/report-schema.md)."""

    @property
    def lineage(self) -> dict[str, Any]:
        """The ``lineage`` block: the baseline row, one row per candidate, the steps."""
        return self.data["lineage"]

    #: Per comparison, what builds its HTML viewer's rows (as ``Report.examples``); empty when read back.
    pair_examples: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    @property
    def comparisons(self) -> list[Report]:
        """Each candidate's full comparison with the baseline, in the order given."""
        builders = self.pair_examples or (None,) * len(self.data["comparisons"])
        return [Report(c, examples=b) for c, b in zip(self.data["comparisons"], builders, strict=True)]

    def to_markdown(self) -> str:
        from deltaeval.report.sections.lineage import render_markdown

        return render_markdown(self.data)

    def to_html(self, max_examples: int | None = None) -> str:
        """The lineage page; each comparison's viewer holds up to ``max_examples`` examples."""
        from deltaeval.report.sections.lineage import render_html

        return render_html(self.data, pages=[c.to_html(max_examples) for c in self.comparisons])

    def _repr_html_(self) -> str:
        return self.to_html()

    def print(self, console: Any = None) -> None:
        from rich.console import Console

        from deltaeval.report.sections.lineage import render_terminal

        render_terminal(self.data, console or Console())


def check_names(names: Sequence[str], baseline: str | None) -> str:
    """The baseline's name; a UsageError for fewer than two runs, repeated names or an unknown baseline."""
    if len(names) < 2:
        raise UsageError(
            f"a lineage needs at least two runs, got {len(names)}", hint="give the runs in order: v1 v2 v3"
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UsageError(
                f"run {name!r} is given twice",
                hint="give each run once (import same-named files under distinct names: "
                "`deltaeval import FILE --name NAME`)",
            )
        seen.add(name)
    if baseline is None:
        return names[0]
    if baseline not in seen:
        raise UsageError(
            f"the baseline {baseline!r} is not among the runs ({', '.join(names)})",
            hint="name one of the runs given, or leave --baseline out to use the first",
        )
    return baseline


def _shared_correctness(pairs: Sequence[Any], names: Sequence[str]) -> tuple[int, list[np.ndarray]]:
    """Correctness of the baseline and each candidate on the examples every run shares (baseline order)."""
    shared = set(pairs[0].alignment.ids)
    for pair in pairs[1:]:
        shared &= set(pair.alignment.ids)
    if not shared:
        raise AlignmentError(
            f"the runs {', '.join(names)} share no example id",
            hint="compare runs of the same examples (same ids, or the same input texts when ids are hashed)",
        )
    order = [i for i in pairs[0].alignment.ids if i in shared]
    arrays = []
    for k, pair in enumerate(pairs):
        position = {example_id: j for j, example_id in enumerate(pair.alignment.ids)}
        index = np.fromiter((position[i] for i in order), dtype=np.int64, count=len(order))
        old, new = pair.alignment.correct()
        if k == 0:
            arrays.append(np.asarray(old, dtype=bool)[index])
        arrays.append(np.asarray(new, dtype=bool)[index])
    return len(order), arrays


def compare_lineage(
    runs: Sequence[Run | str | Path],
    *,
    baseline: str | None = None,
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
    max_nfr: float | None = None,
    max_accuracy_drop: float | None = None,
    min_accuracy_delta: float | None = None,
    quiet: bool = True,
) -> LineageReport:
    """Compare each candidate with the baseline (the first run, or ``baseline`` by name).

    Parameters
    ----------
    runs:
        Runs (or files to import) in lineage order, at least two, with distinct names.
    baseline:
        Name of the run the others are compared with (default: the first).
    max_nfr, max_accuracy_drop, min_accuracy_delta:
        Gate thresholds (as ``deltaeval gate``), checked for each candidate's comparison at
        ``alpha``; the lineage rows then say pass or fail.
    Other parameters are those of :func:`deltaeval.compare`, applied to every comparison.

    Returns
    -------
    LineageReport
        ``comparisons`` (one full report per candidate) and the ``lineage`` block: accuracy,
        NFR, PFR, the accuracy change with McNemar's p, Holm-adjusted across candidates, and a
        verdict per candidate; the consecutive steps as their own rows.
    """
    from deltaeval.io import load_run

    loaded = [r if isinstance(r, Run) else load_run(r, strict=strict) for r in runs]
    names = [r.name for r in loaded]
    base = check_names(names, baseline)
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
    base_run = loaded[names.index(base)]
    candidates = [r for r in loaded if r.name != base]
    pairs = [prepare_pair(base_run, run, settings, scorer) for run in candidates]
    if not all(p.alignment.any_correctness() for p in pairs):
        raise UsageError(
            "a lineage needs correctness on every run, and some runs carry none",
            hint="give --scorer (when the examples have references) or --threshold for score-only runs",
        )
    n, correct = _shared_correctness(pairs, [base, *(r.name for r in candidates)])
    from deltaeval.analysis.lineage import lineage_block

    lineage = lineage_block(
        names, _in_order(names, base, candidates, correct), base, level=confidence_level, alpha=alpha
    )
    viewers: list[dict[str, Any]] = [{} for _ in pairs]
    comparisons = [
        analyse(p.alignment, p.settings, quiet=quiet, scorer_choice=p.choice, runs=p.runs, viewer=v)
        for p, v in zip(pairs, viewers, strict=True)
    ]
    thresholds = {
        name: value
        for name, value in zip(THRESHOLDS, (max_nfr, max_accuracy_drop, min_accuracy_delta), strict=True)
        if value is not None
    }
    for row in lineage["rows"][1:]:
        row["gate"], row["gate_checks"] = None, None  # "pass"/"fail" and the checks, with thresholds
    lineage["gate"] = _gate(lineage, comparisons, thresholds, alpha) if thresholds else None
    data = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "deltaeval_version": __version__,
        "baseline": base,
        "runs": [_identity(pairs, name, base) for name in names],
        "settings": {
            "scorer": settings.scorer,
            "by": list(settings.by),
            "seed": seed,
            "n_boot": n_boot,
            "confidence_level": confidence_level,
            "alpha": alpha,
            "strict": strict,
            "threshold": threshold,
        },
        "lineage": lineage,
        "comparisons": comparisons,
        "notes": _notes(pairs, n),
    }
    return LineageReport(data, pair_examples=tuple(v["rows"] for v in viewers))


def _in_order(
    names: Sequence[str], base: str, candidates: Sequence[Run], correct: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """``correct`` (baseline first, then candidates) rearranged into the order of ``names``."""
    by_name = dict(zip([base, *(r.name for r in candidates)], correct, strict=True))
    return [by_name[name] for name in names]


def _identity(pairs: Sequence[Any], name: str, base: str) -> dict[str, Any]:
    """The identity block of run ``name`` as given (before scoring)."""
    if name == base:
        return pairs[0].runs[0]
    return next(p.runs[1] for p in pairs if p.runs[1]["name"] == name)


def _gate(
    lineage: dict[str, Any], comparisons: Sequence[dict[str, Any]], thresholds: dict[str, float], alpha: float
) -> dict[str, Any]:
    """Check each candidate's comparison as ``deltaeval gate`` would; mark the candidate rows pass/fail."""
    from deltaeval.gate import evaluate_gate

    for row, report in zip(lineage["rows"][1:], comparisons, strict=True):
        checks = evaluate_gate(report, alpha=alpha, **thresholds)
        row["gate"] = "pass" if all(c.passed for c in checks) else "fail"
        row["gate_checks"] = [
            {"name": c.name, "passed": c.passed, "description": c.description} for c in checks
        ]
    return {"thresholds": thresholds, "alpha": alpha, "confidence": "one-sided bounds, as `deltaeval gate`"}


def _notes(pairs: Sequence[Any], n: int) -> list[str]:
    """What a reader must know: examples left out of the lineage table, scorers that differ."""
    notes = []
    sizes = sorted({p.alignment.n for p in pairs})
    if sizes != [n]:
        notes.append(
            f"The lineage table uses the {n:,} examples every run shares; the comparisons pair each "
            f"candidate with the baseline on their own shared examples ("
            + ", ".join(f"{s:,}" for s in sizes)
            + ")."
        )
    scorers = sorted({str(p.settings.scorer) for p in pairs})
    if len(scorers) > 1:
        notes.append(f"The comparisons were scored differently ({', '.join(scorers)}): pass --scorer.")
    return notes
