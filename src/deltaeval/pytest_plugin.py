"""pytest plugin: gate a model update from a test run (registered as the ``pytest11`` entry point
``deltaeval``; ``-p no:deltaeval`` turns it off).

Two ways to use it:

- On the command line, ``pytest --deltaeval-old v1 --deltaeval-new v2 --max-nfr 0.02`` adds one
  test, ``deltaeval::no_regression``, that compares the two runs (files or stored run names) and
  fails like ``deltaeval gate`` would, naming the failed thresholds and the regressed examples.
- In a test, the fixture ``deltaeval_compare`` is a function
  ``deltaeval_compare(old=None, new=None, **options) -> GateOutcome``: it compares two runs
  (by default those of ``--deltaeval-old``/``--deltaeval-new``) and checks the thresholds given
  as keywords (by default the command line's), e.g.
  ``result = deltaeval_compare("v1.jsonl", "v2.jsonl", max_nfr=0.02); assert result.passed, result.message``.

Importing this module loads pytest and nothing heavy of deltaeval: runs are read and compared
only when the options or the fixture are used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from deltaeval.errors import DeltaEvalError

if TYPE_CHECKING:
    from deltaeval.gate_runs import GateOutcome

#: Threshold options: the gate's name (also the keyword of ``deltaeval_compare``), its
#: metavar and what it checks. The four distinctive ones also take the gate's own spelling.
_THRESHOLD_OPTIONS = (
    ("max_nfr", "X", "pass only when the one-sided upper bound of the negative flip rate is <= X", True),
    (
        "max_accuracy_drop",
        "D",
        "pass only when the one-sided upper bound of accuracy(old) - accuracy(new) is <= D",
        True,
    ),
    (
        "min_accuracy_delta",
        "Y",
        "pass only when the one-sided lower bound of accuracy(new) - accuracy(old) is >= Y",
        True,
    ),
    ("max_slice_nfr", "R", "fail when any --deltaeval-by slice's NFR is significantly above R", True),
    ("max_p", "Z", "fail unless the accuracy change is significant: McNemar p <= Z", False),
)
ITEM_NAME = "deltaeval::no_regression"
_OUTCOMES = pytest.StashKey[dict]()
_RUNS = pytest.StashKey[dict]()  # (old, new, store) → the two runs read when pytest starts


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deltaeval", "deltaeval: gate a model update (old run vs new run)")
    group.addoption(
        "--deltaeval-old",
        metavar="RUN_OR_FILE",
        help="old run: a results file, FILE::RUN, or a stored run name; with --deltaeval-new, adds "
        f"the test {ITEM_NAME}",
    )
    group.addoption("--deltaeval-new", metavar="RUN_OR_FILE", help="new run (as --deltaeval-old)")
    group.addoption(
        "--deltaeval-store",
        metavar="PATH",
        help="store of named runs (default: $DELTAEVAL_STORE or .deltaeval/store.sqlite)",
    )
    group.addoption(
        "--deltaeval-scorer",
        metavar="SCORER",
        help="score outputs against references (as `deltaeval compare --scorer`; default: chosen "
        "from the references)",
    )
    group.addoption(
        "--deltaeval-by", metavar="TAG", action="append", default=[], help="tag to slice on (repeatable)"
    )
    for name, metavar, text, short in _THRESHOLD_OPTIONS:
        flag = "--" + name.replace("_", "-")
        names = [f"--deltaeval-{flag[2:]}", *([flag] if short else [])]
        group.addoption(*names, dest=f"deltaeval_{name}", type=float, metavar=metavar, help=text)
    group.addoption(
        "--deltaeval-alpha",
        type=float,
        metavar="A",
        help="error rate of every check and the comparison's alpha (default 0.05)",
    )
    group.addoption(
        "--deltaeval-estimate",
        action="store_true",
        help="compare point estimates instead of confidence bounds (no statistical guarantee)",
    )


def _thresholds(config: pytest.Config) -> dict[str, float]:
    values = {name: config.getoption(f"deltaeval_{name}") for name, *_ in _THRESHOLD_OPTIONS}
    return {name: value for name, value in values.items() if value is not None}


def _configured_runs(config: pytest.Config) -> tuple[str, str] | None:
    old, new = config.getoption("deltaeval_old"), config.getoption("deltaeval_new")
    if old is None and new is None:
        return None
    if old is None or new is None:
        raise pytest.UsageError("deltaeval: --deltaeval-old and --deltaeval-new go together: give both")
    return old, new


def _defaults(config: pytest.Config) -> dict[str, Any]:
    """The command line's options of the comparison and the gate (thresholds apart)."""
    return {
        "store": config.getoption("deltaeval_store"),
        "scorer": config.getoption("deltaeval_scorer"),
        "by": tuple(config.getoption("deltaeval_by") or ()),
        "alpha": config.getoption("deltaeval_alpha"),
        "estimate": bool(config.getoption("deltaeval_estimate")),
    }


def pytest_configure(config: pytest.Config) -> None:
    """With --deltaeval-old/--deltaeval-new: check the options and that both runs can be read."""
    config.stash[_OUTCOMES] = {}
    config.stash[_RUNS] = {}
    runs = _configured_runs(config)
    if runs is None:
        return
    if not _thresholds(config):
        raise pytest.UsageError(
            f"deltaeval: {ITEM_NAME} needs at least one threshold: pass --max-nfr, --max-accuracy-drop, "
            "--min-accuracy-delta, --max-slice-nfr or --deltaeval-max-p"
        )
    from deltaeval.gate_runs import load_runs

    store = config.getoption("deltaeval_store")
    try:
        config.stash[_RUNS][(*runs, store)] = load_runs(*runs, store=store)
    except DeltaEvalError as exc:
        raise pytest.UsageError(f"deltaeval: {exc.one_line()}") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    runs = _configured_runs(config)
    if runs is None:
        return None
    from deltaeval.textsafe import visible

    limits = ", ".join(f"{name} {value:g}" for name, value in _thresholds(config).items())
    return f"deltaeval: {visible(runs[0])} → {visible(runs[1])} ({limits})"


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect items, so they apply to this one too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    if _configured_runs(config) is not None:
        items.append(NoRegressionItem.from_parent(session, name=ITEM_NAME, nodeid=ITEM_NAME))


class RegressionFound(Exception):
    """The configured update failed a threshold; the message says which and names the examples."""


class NoRegressionItem(pytest.Item):
    """The test ``deltaeval::no_regression``: the configured runs pass the configured thresholds."""

    def runtest(self) -> None:
        old, new = _configured_runs(self.config) or ("", "")
        outcome = _outcome(self.config, old, new, _defaults(self.config), _thresholds(self.config))
        if not outcome.passed:
            raise RegressionFound(outcome.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, RegressionFound):
            return str(excinfo.value)
        if isinstance(excinfo.value, DeltaEvalError):
            return f"deltaeval: {excinfo.value.one_line()}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, ITEM_NAME


def _outcome(
    config: pytest.Config, old: Any, new: Any, options: dict[str, Any], thresholds: dict[str, float]
) -> GateOutcome:
    """The comparison of ``old`` and ``new``, computed once per session for the same arguments."""
    from deltaeval.gate_runs import gate_runs

    cache = config.stash[_OUTCOMES]
    try:
        key: Any = (old, new, repr(sorted(options.items())), repr(sorted(thresholds.items())))
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in cache:
        return cache[key]
    compare_options = {k: v for k, v in options.items() if k not in ("store", "scorer", "by")}
    with contextlib.suppress(TypeError):  # unhashable runs are not the configured ones
        old, new = config.stash[_RUNS].get((old, new, options.get("store")), (old, new))
    outcome = gate_runs(
        old,
        new,
        store=options.get("store"),
        scorer=options.get("scorer"),
        by=options.get("by", ()),
        thresholds=thresholds,
        **compare_options,
    )
    if key is not None:
        cache[key] = outcome
    return outcome


@pytest.fixture
def deltaeval_compare(request: pytest.FixtureRequest) -> Callable[..., GateOutcome]:
    """``deltaeval_compare(old=None, new=None, **options)``: compare two runs and gate them.

    ``old``/``new`` are results files, stored run names or ``Run`` objects (default: the
    ``--deltaeval-old``/``--deltaeval-new`` runs). Keywords: the gate's thresholds (``max_nfr``,
    ``max_accuracy_drop``, ``min_accuracy_delta``, ``max_slice_nfr``, ``max_p``; when none is
    given, the command line's), ``alpha``, ``estimate``, ``store``, and any option of
    ``deltaeval.compare`` (``scorer``, ``by``, ``seed`` …; by default the command line's). Returns
    a ``GateOutcome``: ``.passed``, ``.failed``, ``.message`` (also its ``str``), ``.regressed_ids``
    and the comparison ``.report``, so a test reads ``assert result.passed, result.message``.
    """
    from deltaeval.gate_runs import THRESHOLDS

    config = request.config

    def compare(old: Any = None, new: Any = None, **options: Any) -> GateOutcome:
        configured = _configured_runs(config) or (None, None)
        old = configured[0] if old is None else old
        new = configured[1] if new is None else new
        if old is None or new is None:
            pytest.fail(
                "deltaeval_compare needs two runs: deltaeval_compare(OLD, NEW, …), or run pytest "
                "with --deltaeval-old OLD --deltaeval-new NEW",
                pytrace=False,
            )
        thresholds = {name: options.pop(name) for name in THRESHOLDS if name in options}
        if not thresholds:
            thresholds = _thresholds(config)
        try:
            return _outcome(config, old, new, {**_defaults(config), **options}, thresholds)
        except DeltaEvalError as exc:
            pytest.fail(f"deltaeval: {exc.one_line()}", pytrace=False)

    return compare
