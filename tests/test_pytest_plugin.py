"""The pytest plugin (entry point ``pytest11``): the generated test ``deltaeval::no_regression``,
the ``deltaeval_compare`` fixture, usage errors, and a light footprint on runs that do not use it.

Each case runs a real pytest session (pytester) on run files written here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from deltaeval.cli import main

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
N = 60


def _write_run(path: Path, wrong: set[int], n: int = N) -> None:
    """A JSONL run of ``n`` questions with reference ``yes``, answered wrongly on ``wrong``."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            record = {"id": f"q{i}", "input": f"question {i}", "reference": "yes", "category": "ab"[i % 2]}
            out.write(json.dumps({**record, "output": "no" if i in wrong else "yes"}) + "\n")


@pytest.fixture
def runs(pytester: pytest.Pytester) -> Path:
    """v1 (all right), v2-ok (the same), v2-bad (30 regressions: q0, q2, … q58)."""
    _write_run(pytester.path / "v1.jsonl", set())
    _write_run(pytester.path / "v2-ok.jsonl", set())
    _write_run(pytester.path / "v2-bad.jsonl", set(range(0, N, 2)))
    return pytester.path


@pytest.fixture(scope="module", autouse=True)
def _imported_here(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Import what a comparison loads lazily (numpy, scipy, the store …) in this process first:
    pytester's in-process runs drop the modules they import, and numpy cannot load twice."""
    from deltaeval.gate_runs import gate_runs
    from deltaeval.store import Store

    folder = tmp_path_factory.mktemp("warm")
    _write_run(folder / "a.jsonl", set())
    _write_run(folder / "b.jsonl", {1})
    gate_runs(
        folder / "a.jsonl", folder / "b.jsonl", scorer="exact", by="category", thresholds={"max_nfr": 1}
    )
    gate_runs(folder / "a.jsonl", folder / "b.jsonl", thresholds={"max_nfr": 1})  # a default scorer
    Store(folder / "store.sqlite").close()


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("deltaeval") == "deltaeval.pytest_plugin"


def test_generated_test_passes_a_safe_update(pytester: pytest.Pytester, runs: Path) -> None:
    result = pytester.runpytest(
        "--deltaeval-old", "v1.jsonl", "--deltaeval-new", "v2-ok.jsonl", "--max-nfr", "0.06", "-v"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["deltaeval: v1.jsonl → v2-ok.jsonl (max_nfr 0.06)", "*no_regression PASSED*"]
    )


def test_generated_test_names_the_regressed_examples(pytester: pytest.Pytester, runs: Path) -> None:
    args = ["--deltaeval-old", "v1.jsonl", "--deltaeval-new", "v2-bad.jsonl", "--deltaeval-scorer", "exact"]
    result = pytester.runpytest(*args, "--max-accuracy-drop", "0.9", "--max-nfr", "0.02")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ deltaeval::no_regression _*",
            "deltaeval v1 → v2-bad: FAILED 1 of 2 thresholds",
            "  FAIL NFR upper bound 61.26% > 2.00% (one-sided 95%, Clopper–Pearson; 30 negative flips of 60)",
            "  PASS accuracy drop (old − new) upper bound *",
            "30 regressed examples (old right, new wrong): q0, q2, q4, *, q38 … and 10 more",
            "FAILED deltaeval::no_regression - deltaeval v1 → v2-bad: FAILED 1 of 2 thresh*",
        ]
    )
    assert "q40" not in result.stdout.str()  # the ids are capped at 20, with a count of the rest
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_generated_test_gates_slices_and_follows_k(pytester: pytest.Pytester, runs: Path) -> None:
    args = ["--deltaeval-old", "v1.jsonl", "--deltaeval-new", "v2-bad.jsonl", "--deltaeval-by", "category"]
    result = pytester.runpytest(*args, "--max-slice-nfr", "0.1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["  FAIL 1 slice with an NFR significantly above 10.00% *category=a: NFR 100.00%*"]
    )
    deselected = pytester.runpytest(*args, "--max-slice-nfr", "0.1", "-k", "not no_regression")
    deselected.assert_outcomes(deselected=1)


def test_tests_written_with_the_fixture(pytester: pytest.Pytester, runs: Path) -> None:
    """How a team writes it: one passing and one failing release check in a test module."""
    pytester.makepyfile(
        test_release="""
        def test_candidate_ok(deltaeval_compare):
            result = deltaeval_compare("v1.jsonl", "v2-ok.jsonl", max_nfr=0.06)
            assert result.passed, result.message
            assert result.report.flips["negative"] == 0

        def test_candidate_bad(deltaeval_compare):
            result = deltaeval_compare("v1.jsonl", "v2-bad.jsonl", scorer="exact", max_nfr=0.02)
            assert result.passed, result.message
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: deltaeval v1 → v2-bad: FAILED 1 of 1 threshold*",
            "*FAIL NFR upper bound 61.26% > 2.00%*",
            "*30 regressed examples (old right, new wrong): q0, q2, q4,*",
            "FAILED test_release.py::test_candidate_bad - AssertionError: deltaeval v1 → v*",
        ]
    )


def test_fixture_defaults_to_the_command_line(pytester: pytest.Pytester, runs: Path) -> None:
    """Without arguments the fixture compares the configured runs, once for the whole session."""
    pytester.makepyfile(
        test_configured="""
        def test_configured(deltaeval_compare):
            result = deltaeval_compare()
            assert not result.passed
            assert [c.name for c in result.failed] == ["max_nfr"]
            assert result.n_regressed == 30 and result.regressed_ids[:3] == ["q0", "q2", "q4"]
            assert deltaeval_compare() is result

        def test_own_thresholds(deltaeval_compare):
            result = deltaeval_compare(max_accuracy_drop=0.9)
            assert [c.name for c in result.checks] == ["max_accuracy_drop"] and result.passed
        """
    )
    result = pytester.runpytest(
        "--deltaeval-old", "v1.jsonl", "--deltaeval-new", "v2-bad.jsonl", "--max-nfr", "0.02"
    )
    result.assert_outcomes(passed=2, failed=1)  # the generated test fails, the two above pass


def test_stored_runs_by_name(pytester: pytest.Pytester, runs: Path) -> None:
    store = runs / "store.sqlite"
    for name, file in (("v1", "v1.jsonl"), ("v2", "v2-bad.jsonl")):
        assert main(["import", str(runs / file), "--name", name, "--store", str(store)]) == 0
    args = ["--deltaeval-old", "v1", "--deltaeval-new", "v2", "--deltaeval-store", str(store)]
    result = pytester.runpytest(*args, "--max-nfr", "0.02")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["deltaeval v1 → v2: FAILED 1 of 1 threshold"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--deltaeval-old", "v1.jsonl", "--deltaeval-new", "v9", "--max-nfr", "0.02"],
            "ERROR: deltaeval: 'v9' is neither a file nor a stored run *",
        ),
        (
            ["--deltaeval-old", "v1.jsonl", "--deltaeval-new", "broken.jsonl", "--max-nfr", "0.02"],
            "ERROR: deltaeval: *broken.jsonl:2*",
        ),
        (
            ["--deltaeval-old", "v1.jsonl", "--max-nfr", "0.02"],
            "ERROR: deltaeval: --deltaeval-old and --deltaeval-new go together: give both",
        ),
        (
            ["--deltaeval-old", "v1.jsonl", "--deltaeval-new", "v2-ok.jsonl"],
            "ERROR: deltaeval: deltaeval::no_regression needs at least one threshold: pass --max-nfr*",
        ),
        (
            [
                "--deltaeval-old",
                "v1",
                "--deltaeval-new",
                "v2",
                "--deltaeval-store",
                "missing.sqlite",
                "--max-nfr",
                "1",
            ],
            "ERROR: deltaeval: 'v1' is neither a file nor a stored run *",
        ),
    ],
    ids=["unknown-run", "malformed-file", "one-run", "no-threshold", "missing-store"],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, runs: Path, args: list[str], message: str
) -> None:
    (runs / "broken.jsonl").write_text('{"id": "q0", "output": "yes"}\n{"id": \n', encoding="utf-8")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_threshold_value_is_a_usage_error(pytester: pytest.Pytester, runs: Path) -> None:
    result = pytester.runpytest(
        "--deltaeval-old", "v1.jsonl", "--deltaeval-new", "v2-ok.jsonl", "--max-nfr", "two"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--deltaeval-max-nfr/--max-nfr: invalid float value: 'two'*"])


def test_fixture_errors_name_the_problem(pytester: pytest.Pytester, runs: Path) -> None:
    pytester.makepyfile(
        test_errors="""
        def test_no_runs(deltaeval_compare):
            deltaeval_compare(max_nfr=0.1)

        def test_missing_file(deltaeval_compare):
            deltaeval_compare("v1.jsonl", "missing.jsonl", max_nfr=0.1)

        def test_no_threshold(deltaeval_compare):
            assert deltaeval_compare("v1.jsonl", "v2-ok.jsonl").passed
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*deltaeval_compare needs two runs: deltaeval_compare(OLD, NEW, …), or run pytest with*",
            "*deltaeval: 'missing.jsonl' is neither a file nor a stored run*",
            "*no threshold was given, so nothing can pass or fail*",
        ]
    )


def test_a_run_without_the_options_is_untouched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    assert True\n")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    assert "no_regression" not in result.stdout.str() and "deltaeval:" not in result.stdout.str()


PROBE = """
import json, sys
import pytest
code = pytest.main(["--co", "-q", "-p", "no:cacheprovider", "tests/test_startup.py"])
heavy = ("numpy", "scipy", "deltaeval.comparison", "deltaeval.gate_runs", "deltaeval.io", "deltaeval.store")
loaded = [m for m in heavy if m in sys.modules]
print(json.dumps([int(code), "deltaeval.pytest_plugin" in sys.modules, loaded]))
"""


def test_collecting_without_the_options_loads_nothing_heavy() -> None:
    """`pytest --co` with the plugin installed: the plugin is loaded and brings in neither numpy
    nor scipy, nor deltaeval's comparison, run loading or store."""
    command = [sys.executable, "-X", "importtime", "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, "tests/test_startup.py"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"numpy", "scipy"}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert json.loads(probe.stdout.strip().splitlines()[-1]) == [0, True, []], probe.stderr[-2000:]
