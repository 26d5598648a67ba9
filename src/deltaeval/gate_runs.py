"""Compare two runs and gate the comparison in one call: what the pytest plugin runs.

The comparison is :func:`deltaeval.compare` (without the behaviour section, which no threshold
reads) and the checks are :func:`deltaeval.gate.evaluate_gate`'s, so a test decides exactly as
``deltaeval compare … --json r.json && deltaeval gate r.json …`` would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deltaeval.errors import UsageError
from deltaeval.plural import plural
from deltaeval.textsafe import visible

if TYPE_CHECKING:
    from deltaeval.comparison import Report
    from deltaeval.gate import GateCheck
    from deltaeval.types import Run

#: The gate's thresholds that a comparison report can be checked against (``--min-win-rate``
#: needs a judge report).
THRESHOLDS = ("max_nfr", "max_accuracy_drop", "min_accuracy_delta", "max_slice_nfr", "max_p")
#: Most regressed example ids named in a failure message.
MAX_IDS = 20


@dataclass(frozen=True, repr=False)
class GateOutcome:
    """A comparison (``report``) and the gate's checks of it (``checks``)."""

    report: Report
    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        """True when every threshold passed (a UsageError when no threshold was given)."""
        if not self.checks:
            raise UsageError(
                "no threshold was given, so nothing can pass or fail",
                hint="pass one of "
                + ", ".join(f"{name}=…" for name in THRESHOLDS)
                + " (or --max-nfr … on pytest's command line), or assert on .report",
            )
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[GateCheck]:
        """The checks that failed."""
        return [check for check in self.checks if not check.passed]

    @property
    def regressed_ids(self) -> list[str]:
        """Ids of the negative flips (old right, new wrong) the report holds (up to 1,000)."""
        flips = (self.report.data.get("examples") or {}).get("negative_flips") or []
        return [str(flip.get("id")) for flip in flips]

    @property
    def n_regressed(self) -> int:
        """How many examples went from right to wrong (0 for runs without correctness)."""
        negative = (self.report.data.get("flips") or {}).get("negative")
        return negative if isinstance(negative, int) else len(self.regressed_ids)

    @property
    def message(self) -> str:
        """The verdict, failing checks first, and the regressed ids (the first ``MAX_IDS``)."""
        return outcome_message(self.report.data, self.checks)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"<GateOutcome {self.message.splitlines()[0]}>"


def outcome_message(report: Mapping[str, Any], checks: Sequence[GateCheck], max_ids: int = MAX_IDS) -> str:
    """Plain text for a test report; untrusted text (names, ids) with its controls made visible."""
    from deltaeval.report.gate_markdown import ordered_checks

    old = visible(str((report.get("old") or {}).get("name", "old")))
    new = visible(str((report.get("new") or {}).get("name", "new")))
    failed = sum(not c.passed for c in checks)
    if not checks:
        verdict = "no threshold given"
    elif failed:
        verdict = f"FAILED {failed} of {plural(len(checks), 'threshold')}"
    else:
        verdict = f"passed {plural(len(checks), 'threshold')}"
    lines = [f"deltaeval {old} → {new}: {verdict}"]
    lines += [f"  {'PASS' if c.passed else 'FAIL'} {visible(c.description)}" for c in ordered_checks(checks)]
    negatives = (report.get("examples") or {}).get("negative_flips") or []
    total = (report.get("flips") or {}).get("negative")
    total = total if isinstance(total, int) else len(negatives)
    if total:
        ids = [visible(str(flip.get("id"))) for flip in negatives[:max_ids]]
        more = f" … and {total - len(ids):,} more" if total > len(ids) else ""
        lines.append(f"{plural(total, 'regressed example')} (old right, new wrong): {', '.join(ids)}{more}")
    elif isinstance(report.get("flips"), Mapping):
        lines.append("no regressed example (no example went from right to wrong)")
    return "\n".join(lines)


def load_runs(
    old: Run | str | Path, new: Run | str | Path, store: str | Path | None = None
) -> tuple[Run, Run]:
    """Two runs from files (``FILE`` or ``FILE::RUN``), stored run names, or ``Run`` objects.

    The store (``store``, else ``$DELTAEVAL_STORE`` or ``.deltaeval/store.sqlite``) is opened
    read-only, and only when a name is not a file.
    """
    from deltaeval.resolve import is_file_reference, resolve_run
    from deltaeval.types import Run

    refs = [ref if isinstance(ref, Run) else str(ref) for ref in (old, new)]
    names = [ref for ref in refs if isinstance(ref, str) and not is_file_reference(ref)]
    db = None
    if names:
        from deltaeval.store import Store, store_path

        if store_path(store).exists():
            db = Store(store, create=False)
    try:
        runs = [ref if isinstance(ref, Run) else resolve_run(ref, db) for ref in refs]
    finally:
        if db is not None:
            db.close()
    return runs[0], runs[1]


def gate_runs(
    old: Run | str | Path,
    new: Run | str | Path,
    *,
    store: str | Path | None = None,
    scorer: str | Any | None = None,
    by: str | Sequence[str] = (),
    alpha: float | None = None,
    estimate: bool = False,
    thresholds: Mapping[str, float | None] | None = None,
    **compare_options: Any,
) -> GateOutcome:
    """Compare ``old`` with ``new`` and check the comparison against ``thresholds``.

    Parameters
    ----------
    old, new:
        Runs, results files, or stored run names (see :func:`load_runs`).
    scorer, by, compare_options:
        As for :func:`deltaeval.compare` (the behaviour section is off unless asked for).
    alpha, estimate, thresholds:
        As for ``deltaeval gate``: ``thresholds`` maps names of :data:`THRESHOLDS` to values.
    """
    from deltaeval.comparison import compare
    from deltaeval.gate import evaluate_gate

    given = {name: value for name, value in (thresholds or {}).items() if value is not None}
    unknown = sorted(set(given) - set(THRESHOLDS))
    if unknown:
        raise UsageError(f"unknown threshold {unknown[0]!r}", hint="use one of " + ", ".join(THRESHOLDS))
    old_run, new_run = load_runs(old, new, store)
    options: dict[str, Any] = {"behaviour": False, **compare_options}
    if alpha is not None:
        options["alpha"] = alpha
    report = compare(old_run, new_run, scorer=scorer, by=by, **options)
    checks = evaluate_gate(report.data, alpha=alpha, estimate=estimate, **given) if given else []
    return GateOutcome(report, tuple(checks))
