"""A reader that closes the pipe early (``deltaeval … | head``) loses no report file and no exit code."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deltaeval.pipes import PipeSafeStdout


def _runs(folder: Path) -> None:
    """Two runs of 40 examples: v2 breaks ten that v1 got right."""
    for name, wrong in (("v1", range(30, 40)), ("v2", range(0, 10))):
        rows = [
            {"id": f"q{i}", "input": f"question {i}", "output": "x", "correct": i not in wrong}
            for i in range(40)
        ]
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _closed_reader(command: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``deltaeval COMMAND`` with a stdout pipe that nothing reads (closed at once)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "deltaeval", *command],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # like `| head -0`
    err = child.stderr.read().decode()
    return child.wait(timeout=120), err


def test_compare_writes_every_report_and_exits_0_when_the_reader_is_gone(tmp_path: Path) -> None:
    _runs(tmp_path)
    code, err = _closed_reader(
        ["compare", "v1.jsonl", "v2.jsonl", "--json", "r.json", "--md", "r.md", "--html", "r.html"],
        tmp_path,
    )
    assert code == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["flips"]["negative"] == 10
    assert "negative" in (tmp_path / "r.md").read_text().lower()
    assert (tmp_path / "r.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_gate_keeps_its_verdict_when_the_reader_is_gone(tmp_path: Path) -> None:
    _runs(tmp_path)
    assert _closed_reader(["compare", "v1.jsonl", "v2.jsonl", "--json", "r.json"], tmp_path)[0] == 0
    failing, err = _closed_reader(["gate", "r.json", "--max-nfr", "0.01"], tmp_path)
    assert failing == 1, err  # 10 of 40 broken: the gate fails, printed or not
    passing, err = _closed_reader(["gate", "r.json", "--max-nfr", "0.9"], tmp_path)
    assert passing == 0, err


class _Pipe(io.StringIO):
    """A stream whose reader leaves after ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, text: str) -> int:
        if self.tell() + len(text) > self.limit:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")


def test_writes_after_the_break_go_nowhere_and_raise_nothing() -> None:
    pipe = _Pipe(limit=5)
    safe = PipeSafeStdout(pipe)  # type: ignore[arg-type]
    assert safe.write("abc") == 3
    assert not safe.broken
    assert safe.write("defgh") == 5  # the reader left here
    assert safe.broken
    safe.write("more")
    safe.flush()
    assert pipe.getvalue() == "abc"


def test_a_harness_stream_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from deltaeval.pipes import protect_stdout

    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replaced)
    assert protect_stdout() is None
    assert sys.stdout is replaced
