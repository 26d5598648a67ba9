"""Killing `deltaeval run` (SIGKILL, Ctrl-C) and rerunning repeats no committed call.

The command runs as a subprocess against the local OpenAI-compatible server (in this process);
the server's request log says what was asked, the store's call table what was committed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from openai_server import OpenAIServer, reply_text

from deltaeval.store import Store

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")

N = 120
CONCURRENCY = 4
DELAY = 0.05  # per request: 4 in flight -> about 80 requests/s, 1.5 s for the whole run
#: Per request once the interrupt is due: the rest of the run would take about 9 s.
SLOW_DELAY = 0.5


def prompts() -> list[str]:
    return [f"resume question {i}" for i in range(N)]


def write_dataset(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i, prompt in enumerate(prompts()):
            f.write(json.dumps({"id": f"q{i:03d}", "input": prompt, "reference": reply_text(prompt)}) + "\n")
    return path


def command(url: str, data: Path, db: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "deltaeval",
        "run",
        "--model",
        f"openai:test@{url}",
        "--data",
        str(data),
        "--name",
        "r1",
        "--store",
        str(db),
        "--concurrency",
        str(CONCURRENCY),
        "--quiet",
    ]


def committed_prompts(db: Path) -> set[str]:
    """Prompts whose answers are in the store's call cache (read after the process died)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT request FROM calls").fetchall()
    finally:
        con.close()
    return {json.loads(r[0])["messages"][-1]["content"] for r in rows}


def interrupt_at(server: OpenAIServer, proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    """Send ``sig`` to ``proc`` once about 40% of the examples have been answered.

    From then on the server answers slowly (``SLOW_DELAY`` a request), so that on a loaded machine
    the run cannot finish before the signal lands (it once did, and exited 0).
    """
    deadline = time.monotonic() + 60
    while sum(server.ok_counts().values()) < 0.4 * N:
        assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.communicate()}"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.005)
    server.config = replace(server.config, delay=SLOW_DELAY)
    proc.send_signal(sig)


def check_resumed(server: OpenAIServer, cut: int, committed: set[str], db: Path) -> None:
    """The rerun asked for every uncommitted prompt once and for no committed one."""
    after = server.log[cut:]
    asked_again = Counter(r["prompt"] for r in after)
    assert not committed & set(asked_again), "a committed call was asked again"
    assert set(asked_again) == set(prompts()) - committed
    assert set(asked_again.values()) <= {1}
    with Store(db) as store:
        run = store.load_run("r1")
    assert len(run) == N
    assert [o.error for o in run.outputs] == [None] * N
    assert [o.text for o in run.outputs] == [reply_text(p) for p in prompts()]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "sigint"])
def test_interrupted_run_resumes_without_repeating_committed_calls(
    tmp_path: Path, sig: signal.Signals
) -> None:
    data = write_dataset(tmp_path / "data.jsonl")
    db = tmp_path / "store.sqlite"
    with OpenAIServer(delay=DELAY) as server:
        cmd = command(server.url, data, db)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        interrupt_at(server, proc, sig)
        _, stderr = proc.communicate(timeout=30)
        if sig == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
        else:
            assert proc.returncode not in (0, None), stderr
            lines = [line for line in stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and "interrupted" in lines[0], stderr
            assert "Traceback" not in stderr
        server.wait_idle()  # requests in flight at the kill are answered (and logged) now
        cut = len(server.log)
        answered = {r["prompt"] for r in server.log if r["outcome"] == "ok"}
        committed = committed_prompts(db)
        # everything committed was answered; what was answered but not committed was in flight
        assert committed <= answered
        assert 0.3 * N <= len(committed) < N
        assert len(answered - committed) <= CONCURRENCY

        server.config = replace(server.config, delay=DELAY)
        rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        check_resumed(server, cut, committed, db)
