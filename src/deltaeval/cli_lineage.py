"""``deltaeval compare v1 v2 v3 …``: several runs, each compared with a baseline (wired into cli.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deltaeval.errors import UsageError
from deltaeval.textsafe import visible

if TYPE_CHECKING:
    from rich.console import Console

    from deltaeval.io.base import ColumnMapping
    from deltaeval.types import Run


def _ref_names(ref: str) -> set[str]:
    """The names a run reference may go by: itself, a file's stem, the RUN of ``FILE::RUN``."""
    names = {ref}
    if "::" in ref:
        names.add(ref.rsplit("::", 1)[1])
    else:
        names.add(Path(ref).stem)
    return names


def _check_refs(refs: Sequence[str]) -> None:
    """At least two references, none given twice (a one-line UsageError otherwise)."""
    from deltaeval.lineage.api import check_names

    check_names(list(refs), None)


def baseline_first(refs: Sequence[str], baseline: str | None) -> list[str]:
    """Two run references with the one ``baseline`` names first (``baseline`` None: as given)."""
    _check_refs(refs)
    if baseline is None:
        return list(refs)
    matches = [ref for ref in refs if baseline in _ref_names(ref)]
    if not matches:
        raise UsageError(
            f"the baseline {baseline!r} is not among the runs ({', '.join(refs)})",
            hint="name one of the runs given, or leave --baseline out to use the first",
        )
    first = matches[0]
    return [first, *(ref for ref in refs if ref != first)]


def _resolve(
    refs: Sequence[str], store: Path | None, format: str | None, mapping: ColumnMapping, strict: bool
) -> list[Run]:
    """The runs the references name, as ``compare`` resolves two (a stored run or a file)."""
    from deltaeval.cli import _is_file, _store, _store_exists
    from deltaeval.resolve import resolve_run

    needs_store = not all(_is_file(ref) for ref in refs) and _store_exists(store)
    db = _store(store, create=False) if needs_store else None  # reading runs creates no store
    try:
        return [resolve_run(ref, db, format=format, mapping=mapping, strict=strict) for ref in refs]
    finally:
        if db is not None:
            db.close()


def _baseline_name(refs: Sequence[str], runs: Sequence[Run], baseline: str | None) -> str | None:
    """The run name ``baseline`` stands for: a run's name, or the reference it was given as."""
    if baseline is None or any(run.name == baseline for run in runs):
        return baseline
    for ref, run in zip(refs, runs, strict=True):
        if baseline in _ref_names(ref):
            return run.name
    return baseline  # not among them: compare_lineage says so


def compare_lineage_cmd(
    refs: Sequence[str],
    baseline: str | None,
    options: dict[str, Any],
    store: Path | None,
    format: str | None,
    mapping: ColumnMapping,
    console: Console,
    outputs: tuple[Path | None, Path | None, Path | None],
    *,
    html_examples: int | None = None,
) -> None:
    """Compare every run with the baseline, print the lineage, and write the reports asked for.

    ``html_examples``: the examples each comparison's HTML viewer holds (``--html-examples``).
    The Markdown report has no charts (``--charts`` applies to two runs).
    """
    from deltaeval.cli import _save_as
    from deltaeval.lineage import compare_lineage

    _check_refs(refs)
    runs = _resolve(refs, store, format, mapping, options.get("strict", False))
    report = compare_lineage(runs, baseline=_baseline_name(refs, runs, baseline), **options)
    report.print(console)
    for target, suffix in zip(outputs, (".json", ".md", ".html"), strict=True):
        if target is not None:
            _save_as(report, target, suffix, None, html_examples=html_examples)
            console.print(f"wrote {visible(str(target))}", markup=False)


def gate_lineage_cmd(
    report: dict[str, Any], thresholds: dict[str, Any], console: Console, summary: Path | None, explicit: bool
) -> bool:
    """Gate every candidate of a lineage report on its comparison with the baseline; True when all pass.

    Each candidate is checked as ``deltaeval gate`` checks a two-run report, at the same alpha: the
    lineage passes only when every candidate passes, so a candidate that should fail makes the
    whole gate pass with probability at most alpha, however many candidates there are.
    """
    from rich.text import Text

    from deltaeval.cli import _append_gate_summary, _plain
    from deltaeval.errors import InputError
    from deltaeval.gate import evaluate_gate

    comparisons = report.get("comparisons")
    if (
        not isinstance(comparisons, list)
        or not comparisons
        or not all(isinstance(c, dict) for c in comparisons)
    ):
        raise InputError(
            "the lineage report has no comparisons",
            hint="write it again with `deltaeval compare v1 v2 v3 --json`",
        )
    failed = []
    for comparison in comparisons:
        checks = evaluate_gate(comparison, **thresholds)
        pair = f"{comparison.get('old', {}).get('name')} → {comparison.get('new', {}).get('name')}"
        console.print(Text.assemble(Text(visible(pair), style="bold"), ":"))
        for check in checks:
            mark = Text("PASS", style="green") if check.passed else Text("FAIL", style="red")
            console.print(Text.assemble("  ", mark, " ", _plain(check.description)))
        if not all(c.passed for c in checks):
            failed.append(pair)
        if summary is not None:
            _append_gate_summary(summary, comparison, checks, explicit=explicit)
    verdict = f"{len(comparisons) - len(failed)} of {len(comparisons)} candidates pass"
    console.print(Text(visible(verdict + (f"; failing: {', '.join(failed)}" if failed else ""))))
    return not failed
