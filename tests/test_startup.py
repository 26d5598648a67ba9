"""What each command imports: `--help` and `gate` load none of the heavy libraries (start-up).

Each command runs in a fresh interpreter, which then lists the heavy modules it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Libraries that cost a noticeable part of a second (or seconds) to import.
HEAVY = (
    "scipy",
    "sklearn",
    "onnxruntime",
    "jinja2",
    "httpx",
    "torch",
    "transformers",
    "nltk",
    "pandas",
    "pydantic",
)

#: A heavy name with a dot names that module alone (``numpy.ma``), without it a whole package.
PROBE = """
import json, sys
from deltaeval.cli import main
code = main(json.loads(sys.argv[1]))
heavy = set(json.loads(sys.argv[2]))
top = {m.split(".")[0] for m in sys.modules if m.split(".")[0] in heavy}
print(json.dumps([code, sorted(top | {m for m in sys.modules if m in heavy})]))
"""


def _imports(args: list[str], cwd: Path, heavy: tuple[str, ...] = HEAVY) -> tuple[int, list[str]]:
    """Run ``deltaeval ARGS`` in a new interpreter: its exit code and the heavy modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(heavy)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    code, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    return code, loaded


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A comparison report with flips and slices, written by `deltaeval compare`."""
    folder = tmp_path_factory.mktemp("startup")
    old_path, new_path = folder / "v1.jsonl", folder / "v2.jsonl"
    with old_path.open("w") as old, new_path.open("w") as new:
        for i in range(120):
            base = {"id": f"q{i}", "input": f"question {i}", "reference": "yes", "category": "abc"[i % 3]}
            old.write(json.dumps({**base, "output": "yes" if i % 5 else "no"}) + "\n")
            new.write(json.dumps({**base, "output": "yes" if i % 7 else "no"}) + "\n")
    path = folder / "report.json"
    args = ["compare", str(old_path), str(new_path), "--scorer", "exact", "--by", "category"]
    code, loaded = _imports([*args, "--no-behaviour", "--json", str(path)], folder)
    assert code == 0
    # a comparison without the behaviour section loads no model runtime, HTTP client or templates
    assert not set(loaded) & {"sklearn", "onnxruntime", "jinja2", "httpx", "torch", "nltk"}, loaded
    return path


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    assert _imports(["--help"], tmp_path) == (0, [])


@pytest.mark.parametrize("command", [["formats"], ["runs", "--store", "missing.sqlite"]])
def test_listing_commands_import_nothing_heavy(command: list[str], tmp_path: Path) -> None:
    code, loaded = _imports(command, tmp_path)
    assert loaded == [] and code in (0, 2)


def test_gate_imports_nothing_heavy(report: Path) -> None:
    every_check = ["--max-nfr", "0.5", "--max-accuracy-drop", "0.5", "--min-accuracy-delta", "-0.5"]
    every_check += ["--max-slice-nfr", "0.5", "--max-p", "1"]
    code, loaded = _imports(["gate", str(report), *every_check], report.parent, (*HEAVY, "numpy"))
    assert (code, loaded) == (0, [])
    # a failing gate and a refused one import no more
    assert _imports(["gate", str(report), "--max-nfr", "0"], report.parent) == (1, [])
    assert _imports(["gate", str(report)], report.parent) == (2, [])


def test_compare_of_two_files_loads_only_what_it_uses(tmp_path: Path) -> None:
    """Two AlpacaEval annotation files (correctness from the preference), `--no-behaviour`: no
    scorer (the runs carry correctness), no store or sqlite3 (two files, no run names), no
    ``numpy.ma`` (which ``np.quantile`` imports), no pydantic."""
    for name, preference in (("old", 1.0), ("new", 2.0)):
        records = [
            {
                "instruction": f"question {i}",
                "output_1": "baseline answer",
                "output_2": f"{name} answer {i}",
                "generator_1": "baseline",
                "generator_2": name,
                "preference": preference if i % 3 else 1.5,
            }
            for i in range(60)
        ]
        (tmp_path / f"{name}.json").write_text(json.dumps(records, indent=2))
    unused = ("deltaeval.scoring", "deltaeval.store", "sqlite3", "numpy.ma", "pydantic", "scipy", "sklearn")
    args = ["compare", "old.json", "new.json", "--no-behaviour", "--json", "report.json"]
    code, loaded = _imports(args, tmp_path, unused)
    assert (code, loaded) == (0, [])
    assert json.loads((tmp_path / "report.json").read_text())["flips"]["n"] == 60


@pytest.mark.parametrize("group", [None, "compat"])
def test_root_help_page_is_the_whole_apps(group: str | None) -> None:
    """`deltaeval --help` is built from option-less copies of the commands (cli._listing): the
    page must be the one the whole app gives, command names and one-line helps included."""
    import click
    import typer

    from deltaeval import cli

    def page(typer_app: typer.Typer) -> str:
        command = typer.main.get_command(typer_app)
        if group is not None:
            assert isinstance(command, click.Group)
            command = command.commands[group]
        with click.Context(command, info_name="deltaeval", terminal_width=100, max_content_width=100) as ctx:
            return command.get_help(ctx)

    listed, whole = page(cli._listing(cli.app)), page(cli.app)
    assert listed == whole
    for name in ("select", "pct", "muscle") if group else ("compare", "gate", "compat"):
        assert f"  {name} " in whole, whole


def test_bare_command_prints_its_help_without_an_error_prefix(tmp_path: Path) -> None:
    """`deltaeval` alone shows the help page (exit 2, as click does), not an `error:` line."""
    result = subprocess.run(
        [sys.executable, "-m", "deltaeval"], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Usage: deltaeval"), result.stderr[:200]
    assert "error:" not in result.stderr


@pytest.mark.parametrize(
    ("args", "suggested"), [(["comapre"], "'compare'"), (["compat", "selct"], "'select'")]
)
def test_misspelled_command_is_suggested_once(args: list[str], suggested: str, tmp_path: Path) -> None:
    """One "did you mean" (click's), not typer's second copy of it."""
    result = subprocess.run(
        [sys.executable, "-m", "deltaeval", *args], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 2
    assert result.stderr.count(suggested) == 1, result.stderr
    assert result.stderr.lower().count("did you mean") == 1, result.stderr
