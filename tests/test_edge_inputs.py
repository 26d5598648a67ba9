"""Inputs at the edges, through the command line: nothing is lost quietly and nothing ends in a traceback.

Each test reproduces a bad input (a CSV with an unclosed quote or short rows, JSON nested past
the recursion limit, a 5,000-digit id, a lone surrogate, a damaged, foreign, altered or
read-only store) and checks the outcome: one line ``error: FILE[:LINE]: … (fix: …)`` and exit
code 2, or a note where the input can be read, and never a partial report file.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deltaeval.cli import main
from deltaeval.store import Store

#: The CSV of the finding: q0's quote is never closed, so q1 and q2 would vanish into q0's input.
UNCLOSED_CSV = 'id,input,output\nq0,"a,b\nq1,x,y\nq2,z,w\n'


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``deltaeval ARGS`` in this process; (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(code: int, err: str, *parts: str) -> str:
    """Exit code 2 and one line ``error: … (fix: …)`` holding every one of ``parts``."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "(fix: " in lines[0], err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temporary files that a report writer left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def reference_run(tmp_path: Path, name: str = "ok.jsonl") -> Path:
    """A small, well-formed run with correctness, to compare against."""
    records = [{"id": f"q{i}", "output": "x", "correct": i % 2 == 0} for i in range(3)]
    return write_jsonl(tmp_path / name, records)


def stored_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str], store: Path) -> None:
    """Import two runs, v1 and v2, into ``store``."""
    source = reference_run(tmp_path)
    for name in ("v1", "v2"):
        code, _, err = cli(capsys, "import", source, "--name", name, "--store", store, "-q")
        assert code == 0, err


# -- finding 7: CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [[], ["--strict"]])
def test_unclosed_quote_is_an_error_naming_its_line(tmp_path, capsys, strict) -> None:
    data = tmp_path / "unclosed.csv"
    data.write_text(UNCLOSED_CSV, encoding="utf-8")
    store = tmp_path / "s.sqlite"

    code, _, err = cli(capsys, "import", data, "--store", store, *strict)
    assert_error(code, err, f"{data}:2:", "unclosed quote", "line 2", '""')
    code, out, _ = cli(capsys, "runs", "--store", store)
    assert code == 0 and "no runs stored yet" in out  # nothing half-imported

    report = tmp_path / "report.json"
    code, _, err = cli(capsys, "compare", data, reference_run(tmp_path), "--json", report)
    assert_error(code, err, f"{data}:2:", "unclosed quote")
    assert not report.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('id,input,output\nq0,"a"b,x\nq1,y,z\n', 2),  # text after a closing quote
        ('id,input,output\nq0,"a,b\nq1,"x,y\nq2,z,w\n', 3),  # a later quote closes q0's cell
    ],
)
def test_malformed_quoting_is_an_error_naming_its_line(tmp_path, capsys, text, line) -> None:
    data = tmp_path / "quotes.csv"
    data.write_text(text, encoding="utf-8")
    code, _, err = cli(capsys, "import", data, "--store", tmp_path / "s.sqlite")
    assert_error(code, err, f"{data}:{line}:", "malformed CSV")


def test_short_rows_are_reported_and_an_error_under_strict(tmp_path, capsys) -> None:
    data = tmp_path / "short.csv"
    data.write_text("id,input,output\nq0,a\nq1,x,y\n", encoding="utf-8")
    store = tmp_path / "s.sqlite"

    code, out, err = cli(capsys, "import", data, "--store", store)
    assert code == 0, err
    assert "note: row on line 2 has 2 cells but the header has 3: 'output' read as empty" in out
    with Store(store) as db:
        run = db.load_run("short")
    assert run.ids == ["q0", "q1"] and run.outputs[0].text is None
    assert any("line 2" in note for note in run.notes)

    code, _, err = cli(capsys, "import", data, "--store", store, "--name", "strict", "--strict")
    assert_error(code, err, f"{data}:2:", "2 cells but the header has 3", "drop --strict")


# -- finding 8: tracebacks become errors ----------------------------------------------------------


def deep(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("deep.jsonl", '{"id": "a", "output": "x"}\n\n{"id": "b", "output": ' + deep() + "}\n", 3),
        ("deep.json", '[\n{"id": "a", "output": "x"},\n{"id": "b", "output": ' + deep() + "}\n]\n", 3),
        ("deep_first.jsonl", '{"id": "a", "output": ' + deep() + "}\n", 1),  # format detection reads it
        # parses, but would exhaust the recursion limit further on (when the input is serialised)
        ("deep_975.jsonl", '{"id": "a", "input": ' + deep(975) + ', "output": "x"}\n', 1),
    ],
)
def test_deeply_nested_json_is_an_error_naming_its_line(tmp_path, capsys, name, text, line) -> None:
    data = tmp_path / name
    data.write_text(text, encoding="utf-8")
    code, _, err = cli(capsys, "import", data, "--store", tmp_path / "s.sqlite")
    assert_error(code, err, f"{data}:{line}:", "nested more than 200 levels deep", "flatten")

    report = tmp_path / "report.html"
    code, _, err = cli(capsys, "compare", reference_run(tmp_path), data, "--html", report)
    assert_error(code, err, f"{data}:{line}:")
    assert not report.exists() and leftovers(tmp_path) == []


def test_a_record_nested_150_levels_deep_is_read_and_reported(tmp_path, capsys) -> None:
    data = tmp_path / "nested.jsonl"
    nested_input = '{"id": "a", "input": ' + "[" * 150 + '"q"' + "]" * 150
    data.write_text(
        nested_input + ', "output": "y", "reference": "x"}\n{"id": "b", "output": "z", "reference": "z"}\n'
    )
    rows = [{"id": "a", "output": "x", "reference": "x"}, {"id": "b", "output": "z", "reference": "z"}]
    old = write_jsonl(tmp_path / "old.jsonl", rows)
    reports = ["--json", tmp_path / "r.json", "--md", tmp_path / "r.md", "--html", tmp_path / "r.html"]
    code, _, err = cli(capsys, "compare", old, data, "--scorer", "exact", *reports, "-q")
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["flips"]["negative"] == 1
    assert (tmp_path / "r.md").stat().st_size > 0 and (tmp_path / "r.html").stat().st_size > 0


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_an_integer_id_of_5000_digits_becomes_its_digits(tmp_path, capsys, suffix) -> None:
    digits = "9" * 5000
    lines = [
        f'{{"id": {digits}, "output": "x", "correct": true}}',
        '{"id": 7, "output": "y", "correct": false}',
    ]
    data = tmp_path / f"bigid{suffix}"
    text = "\n".join(lines) + "\n" if suffix == ".jsonl" else "[" + ",\n".join(lines) + "]\n"
    data.write_text(text, encoding="utf-8")
    store = tmp_path / "s.sqlite"

    code, out, err = cli(capsys, "import", data, "--store", store)
    assert code == 0, err
    assert "2 examples" in out
    with Store(store) as db:
        assert db.load_run("bigid").ids == [digits, "7"]
    code, out, err = cli(capsys, "show", "bigid", "--store", store)
    assert code == 0 and "999999" in out, err
    # ids pair as text: the same id written as a string in the other run matches
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": digits, "output": "x", "correct": True}])
    code, _, err = cli(capsys, "compare", data, other, "--json", tmp_path / "r.json", "-q")
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["alignment"]["n_shared"] == 1


SURROGATE_FILES = {
    "jsonl": (
        "surr.jsonl",
        '{"id": "a", "output": "x\\ud800y", "reference": "x"}\n{"id": "b", "output": "z"}\n',
    ),
    "json list": ("surr.json", '[{"id": "a", "output": "x\\ud800y", "reference": "x"},\n{"id": "b"}]\n'),
    "alpaca_outputs": (
        "model_outputs.json",
        '[{"instruction": "q\\udc00", "output": "x\\ud800y", "generator": "m"},\n'
        ' {"instruction": "r", "output": "z", "generator": "m"}]\n',
    ),
}


@pytest.mark.parametrize("kind", list(SURROGATE_FILES))
def test_a_lone_surrogate_becomes_u_fffd_with_a_note(tmp_path, capsys, kind) -> None:
    name, text = SURROGATE_FILES[kind]
    data = tmp_path / name
    data.write_text(text, encoding="utf-8")
    store = tmp_path / "s.sqlite"

    code, out, err = cli(capsys, "import", data, "--store", store, "--name", "surr")
    assert code == 0, err
    assert "note: line 1: lone surrogate (half a UTF-16 pair) replaced by U+FFFD" in out
    with Store(store) as db:
        assert db.load_run("surr").outputs[0].text == "x\ufffdy"

    code, _, err = cli(capsys, "import", data, "--store", store, "--name", "strict", "--strict")
    assert_error(code, err, f"{data}:1:", "lone surrogate", "drop --strict")


def test_a_lone_surrogate_reaches_a_whole_report(tmp_path, capsys) -> None:
    old = write_jsonl(tmp_path / "old.jsonl", [{"id": "a", "output": "x", "reference": "x"}, {"id": "b"}])
    new = tmp_path / "surr.jsonl"
    new.write_text('{"id": "a", "output": "x\\ud800y", "reference": "x"}\n{"id": "b"}\n', encoding="utf-8")
    out_dir = tmp_path / "reports"
    args = ["--json", out_dir / "surr.json", "--md", out_dir / "surr.md", "--html", out_dir / "surr.html"]

    code, _, err = cli(capsys, "compare", old, new, "--scorer", "exact", "--no-behaviour", *args)
    assert code == 0, err
    report = json.loads((out_dir / "surr.json").read_text(encoding="utf-8"))
    assert report["flips"]["negative"] == 1
    assert "x\ufffdy" in (out_dir / "surr.json").read_text(encoding="utf-8")
    for name in ("surr.md", "surr.html"):
        assert (out_dir / name).stat().st_size > 0
        (out_dir / name).read_text(encoding="utf-8")  # whole, valid UTF-8
    assert leftovers(out_dir) == []


def test_a_report_that_cannot_be_written_leaves_no_file(tmp_path, capsys) -> None:
    source = reference_run(tmp_path)
    occupied = tmp_path / "taken.json"
    occupied.mkdir()  # a folder where the report should go
    code, _, err = cli(capsys, "compare", source, source, "--json", occupied, "-q")
    assert_error(code, err, f"{occupied}:", "cannot write")
    assert occupied.is_dir() and list(occupied.iterdir()) == []
    assert leftovers(tmp_path) == []

    inside_a_file = tmp_path / "ok.jsonl" / "r.md"
    code, _, err = cli(capsys, "compare", source, source, "--md", inside_a_file, "-q")
    assert_error(code, err, f"{inside_a_file}:", "cannot write")


# -- the store ----------------------------------------------------------------------------------


def _corrupt_tables(store: Path, tables: tuple[str, ...]) -> None:
    """Overwrite the root pages of ``tables`` (and their indexes) with garbage; page 1 stays whole."""
    db = sqlite3.connect(store)
    db.execute("PRAGMA journal_mode=DELETE")  # checkpoint: every page is in the main file
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    marks = ",".join("?" * len(tables))
    pages = [
        r[0] for r in db.execute(f"SELECT rootpage FROM sqlite_master WHERE tbl_name IN ({marks})", tables)
    ]
    db.close()
    with store.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * page_size)
            handle.write(b"\xa5" * page_size)


def test_a_damaged_store_is_an_error_naming_it(tmp_path, capsys) -> None:
    store = tmp_path / "s.sqlite"
    stored_runs(tmp_path, capsys, store)
    _corrupt_tables(store, ("runs", "outputs"))
    report = tmp_path / "r.json"
    for args in (["runs"], ["show", "v1"], ["compare", "v1", "v2", "--json", report]):
        code, _, err = cli(capsys, *args, "--store", store)
        assert_error(code, err, f"{store}:", "damaged", "malformed", "restore", "delete it", "--store")
    assert not report.exists() and leftovers(tmp_path) == []


def test_a_file_that_is_not_a_database_is_an_error(tmp_path, capsys) -> None:
    store = tmp_path / "notes.txt"
    store.write_text("these are my notes, not a database\n" * 200)
    code, _, err = cli(capsys, "runs", "--store", store)
    assert_error(code, err, f"{store}:", "not an SQLite database", "--store")


def _foreign(db: sqlite3.Connection) -> None:
    db.execute("DROP TABLE meta")
    db.execute("CREATE TABLE users (id INTEGER, name TEXT)")


SCHEMA_DAMAGE = {
    # name: (change to the store, commands that must fail, words of the error)
    "foreign": (_foreign, (["runs"], ["show", "v1"]), ("not a deltaeval store", "users")),
    "renamed column": (
        lambda db: db.execute("ALTER TABLE runs RENAME COLUMN n TO count"),
        (["runs"], ["show", "v1"], ["compare", "v1", "v2"]),
        ("table 'runs' has been altered", "count"),
    ),
    "dropped column": (
        lambda db: db.execute("ALTER TABLE outputs DROP COLUMN finish_reason"),
        (["runs"], ["show", "v1"]),
        ("table 'outputs' has been altered", "finish_reason"),
    ),
    "schema version": (
        lambda db: db.execute("UPDATE meta SET value='one' WHERE key='schema_version'"),
        (["runs"], ["compare", "v1", "v2"]),
        ("schema_version is 'one'",),
    ),
    "notes not JSON": (
        lambda db: db.execute("UPDATE runs SET notes='not json'"),
        (["show", "v1"], ["compare", "v1", "v2"]),
        ("stored run 'v1' is damaged", "JSONDecodeError", "--overwrite"),
    ),
    "tags not JSON": (
        lambda db: db.execute("UPDATE outputs SET tags='{bad'"),
        (["show", "v2"],),
        ("stored run 'v2' is damaged",),
    ),
}


@pytest.mark.parametrize("damage", list(SCHEMA_DAMAGE))
def test_a_foreign_or_altered_store_is_an_error(tmp_path, capsys, damage) -> None:
    change, commands, words = SCHEMA_DAMAGE[damage]
    store = tmp_path / "s.sqlite"
    stored_runs(tmp_path, capsys, store)
    with sqlite3.connect(store) as db:
        change(db)
    db.close()
    before = store.read_bytes()
    for args in commands:
        code, _, err = cli(capsys, *args, "--store", store)
        assert_error(code, err, f"{store}:", *words)
    if damage == "foreign":
        assert store.read_bytes() == before  # no table was added to someone else's file


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder that another user can enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="deltaeval-ro-"))
    folder.chmod(0o755)
    yield folder
    for path in (folder, *folder.rglob("*")):
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder)


def reader_command(cwd: Path) -> list[str]:
    """The command that runs ``deltaeval`` as a user who cannot write the store: this user, or
    ``nobody`` (through ``setpriv``) when we are root, whom permissions do not stop."""
    command = [sys.executable, "-m", "deltaeval"]
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if setpriv else []
    probe = subprocess.run([*drop, *command, "--version"], cwd=cwd, capture_output=True, check=False)
    if not drop or probe.returncode != 0:
        pytest.skip("running as root, and deltaeval cannot run as an unprivileged user here")
    return [*drop, *command]


def run_as_reader(command: list[str], args: list[object], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(cwd), "COLUMNS": "200"}
    return subprocess.run(
        [*command, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_read_only_store_can_be_read(shared_dir, capsys) -> None:
    store_dir = shared_dir / "store"
    store_dir.mkdir()
    store = store_dir / "s.sqlite"
    stored_runs(shared_dir, capsys, store)
    out_dir = shared_dir / "out"
    out_dir.mkdir()
    out_dir.chmod(0o777)
    store.chmod(0o444)
    store_dir.chmod(0o555)
    before = store.read_bytes()
    reader = reader_command(shared_dir)

    listed = run_as_reader(reader, ["runs", "--store", store], shared_dir)
    assert listed.returncode == 0, listed.stderr
    assert "v1" in listed.stdout and "v2" in listed.stdout
    shown = run_as_reader(reader, ["show", "v1", "--store", store], shared_dir)
    assert shown.returncode == 0, shown.stderr
    assert "3 examples" in shown.stdout
    report = out_dir / "r.json"
    compared = run_as_reader(
        reader, ["compare", "v1", "v2", "--store", store, "--json", report, "-q"], shared_dir
    )
    assert compared.returncode == 0, compared.stderr
    assert json.loads(report.read_text())["alignment"]["n_shared"] == 3

    args = ["import", shared_dir / "ok.jsonl", "--name", "v3", "--store", store]
    imported = run_as_reader(reader, args, shared_dir)
    assert imported.returncode == 2 and "Traceback" not in imported.stderr
    assert imported.stderr.startswith(f"error: {store}: the store is read-only")
    assert "(fix: make the store file and its folder writable" in imported.stderr
    assert store.read_bytes() == before
    assert sorted(p.name for p in store_dir.iterdir()) == ["s.sqlite"]  # no -wal or -shm left
