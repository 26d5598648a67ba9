"""The store as a new user meets it: `runs` and `show` say where they looked and create nothing,
the hash `runs` prints is the report's `content_hash`, the import time is recorded and shown apart
from the source file's modification time, `show` prints no empty column, and a store written by
an older schema still opens (and is migrated when writable)."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_edge_inputs import reader_command, run_as_reader, shared_dir  # noqa: F401 (a fixture)

from deltaeval.cli import main
from deltaeval.store import Store
from deltaeval.store_schema import SCHEMA_VERSION, STORE_ENV

OLD_TIME = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``deltaeval ARGS`` in this process; (exit code, stdout on one line, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), err


def write_run(path: Path, outputs: list[str], *, correct: list[bool] | None = None) -> Path:
    """A JSONL run with references; correctness only when ``correct`` is given. Its modification
    time is set to 2001, so that it differs from any import time."""
    rows = []
    for i, output in enumerate(outputs):
        row: dict[str, object] = {"id": f"e{i}", "input": f"q{i}", "reference": "yes", "output": output}
        if correct is not None:
            row["correct"] = correct[i]
        rows.append(json.dumps(row))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    os.utime(path, (OLD_TIME.timestamp(), OLD_TIME.timestamp()))
    return path


@pytest.fixture
def empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory: an empty folder, with no $DELTAEVAL_STORE."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv(STORE_ENV, raising=False)
    return folder


def test_runs_and_show_in_an_empty_folder_create_no_store(empty_folder: Path, capsys) -> None:
    code, out, _ = cli(capsys, "runs")
    assert code == 0
    assert out.startswith("no store at .deltaeval/store.sqlite (the default)")
    assert "--store FILE" in out and f"${STORE_ENV}" in out
    code, _, err = cli(capsys, "show", "v1")
    assert code == 2 and err.startswith("error: no store at .deltaeval/store.sqlite (the default)")
    assert "--store FILE" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "compare", "v1", "v2")
    assert code == 2 and "'v1' is neither a file nor a stored run" in err
    assert list(empty_folder.iterdir()) == []  # no .deltaeval folder, no store file


def test_runs_after_the_demo_points_at_the_demo_store(empty_folder: Path, capsys) -> None:
    demo_store = Path("deltaeval-demo") / "store.sqlite"
    source = write_run(empty_folder / "v1.jsonl", ["yes", "no"])
    assert cli(capsys, "import", source, "--name", "v1", "--store", demo_store, "-q")[0] == 0
    code, out, _ = cli(capsys, "runs")
    assert code == 0 and out.startswith("no store at .deltaeval/store.sqlite (the default)")
    assert "stores nearby: deltaeval-demo/store.sqlite" in out
    code, _, err = cli(capsys, "show", "v1")
    assert code == 2 and "stores nearby: deltaeval-demo/store.sqlite" in err
    assert not Path(".deltaeval").exists()


def test_an_empty_store_says_where_it_is(empty_folder: Path, capsys, monkeypatch) -> None:
    store = empty_folder / "elsewhere.sqlite"
    Store(store).close()
    monkeypatch.setenv(STORE_ENV, str(store))
    code, out, _ = cli(capsys, "runs")
    assert code == 0
    assert out.startswith(f"no runs stored yet in {store} (from ${STORE_ENV})")
    assert "deltaeval import FILE --name NAME" in out and "--store FILE" in out


def test_runs_prints_the_hash_reports_show(tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.sqlite"
    old = write_run(tmp_path / "old.jsonl", ["yes", "yes", "no"])
    new = write_run(tmp_path / "new.jsonl", ["yes", "no", "yes"])
    for name, path in (("old", old), ("new", new)):
        assert cli(capsys, "import", path, "--name", name, "--store", store, "-q")[0] == 0
    code, listed, _ = cli(capsys, "runs", "--store", store)
    assert code == 0
    with Store(store) as db:
        stored = {info.name: info.content_hash for info in db.list_runs()}
    by_name = tmp_path / "by_name.json"
    by_file = tmp_path / "by_file.json"
    common = ["--scorer", "exact", "--no-behaviour", "-q"]  # scoring fills in correctness
    assert main(["compare", "old", "new", "--store", str(store), "--json", str(by_name), *common]) == 0
    assert main(["compare", str(old), str(new), "--json", str(by_file), *common]) == 0
    for report_path in (by_name, by_file):
        report = json.loads(report_path.read_text(encoding="utf-8"))
        assert report["flips"]["negative"] == 1  # it was scored
        for side in ("old", "new"):
            digest = report[side]["content_hash"]
            assert digest == stored[side]
            assert digest[:12] in listed


def test_import_time_is_stored_and_told_apart_from_the_file_time(tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.sqlite"
    source = write_run(tmp_path / "v1.jsonl", ["yes", "no"])
    before = datetime.now(UTC).replace(microsecond=0)
    assert cli(capsys, "import", source, "--name", "v1", "--store", store, "-q")[0] == 0
    with Store(store) as db:
        [info] = db.list_runs()
    assert info.created_at == OLD_TIME.isoformat()  # the run's own time: the file's
    assert info.imported_at is not None and datetime.fromisoformat(info.imported_at) >= before
    code, listed, _ = cli(capsys, "runs", "--store", store)
    assert code == 0 and "imported" in listed and info.imported_at in listed
    assert "2001" not in listed  # the listing shows when it was imported, not the file's time
    code, shown, _ = cli(capsys, "show", "v1", "--store", store)
    assert code == 0
    assert f"imported: {info.imported_at}" in shown
    assert f"source file modified: {OLD_TIME.isoformat()}" in shown


def test_show_prints_no_empty_column(tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.sqlite"
    plain = write_run(tmp_path / "plain.jsonl", ["yes", "no"])
    scored = write_run(tmp_path / "scored.jsonl", ["yes", "no"], correct=[True, False])
    for name, path in (("plain", plain), ("scored", scored)):
        assert cli(capsys, "import", path, "--name", name, "--store", store, "-q")[0] == 0
    code, shown, _ = cli(capsys, "show", "plain", "--store", store)
    assert code == 0
    assert "reference" in shown and "correct" not in shown
    code, shown, _ = cli(capsys, "show", "scored", "--store", store)
    assert code == 0
    assert "correct: 1/2" in shown and "┃ correct ┃" in shown and "│ yes │" in shown


def make_schema_1(store: Path) -> None:
    """Turn ``store`` into a store as schema 1 wrote it: no ``runs.imported_at``, version 1."""
    with sqlite3.connect(store) as db:
        db.execute("ALTER TABLE runs DROP COLUMN imported_at")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.close()


def test_a_schema_1_store_opens_and_is_migrated(tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.sqlite"
    source = write_run(tmp_path / "v1.jsonl", ["yes", "no"])
    assert cli(capsys, "import", source, "--name", "v1", "--store", store, "-q")[0] == 0
    make_schema_1(store)
    code, listed, err = cli(capsys, "runs", "--store", store)
    assert code == 0, err
    assert "v1" in listed
    with Store(store) as db:
        [info] = db.list_runs()
        assert info.imported_at is None  # stored before the import time was recorded
        db.save_run(db.load_run("v1").replace(name="v2"))
        assert db.run_info("v2").imported_at is not None
    with sqlite3.connect(store) as db:
        version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        columns = [row[1] for row in db.execute("PRAGMA table_info(runs)")]
    db.close()
    assert version == str(SCHEMA_VERSION) and columns[-1] == "imported_at"
    code, shown, _ = cli(capsys, "show", "v1", "--store", store)
    assert code == 0 and "imported: - (stored before deltaeval recorded it)" in shown


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_read_only_schema_1_store_can_be_read(shared_dir: Path, capsys) -> None:  # noqa: F811
    store_dir = shared_dir / "store"
    store_dir.mkdir()
    store = store_dir / "s.sqlite"
    source = write_run(shared_dir / "v1.jsonl", ["yes", "no"])
    assert cli(capsys, "import", source, "--name", "v1", "--store", store, "-q")[0] == 0
    make_schema_1(store)
    store.chmod(0o444)
    store_dir.chmod(0o555)
    before = store.read_bytes()
    reader = reader_command(shared_dir)
    listed = run_as_reader(reader, ["runs", "--store", store], shared_dir)
    assert listed.returncode == 0, listed.stderr
    assert "v1" in listed.stdout and " - " in listed.stdout  # no import time recorded
    shown = run_as_reader(reader, ["show", "v1", "--store", store], shared_dir)
    assert shown.returncode == 0, shown.stderr
    assert store.read_bytes() == before
