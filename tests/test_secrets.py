"""No API key reaches the store, its WAL, a report, the terminal or a log.

`run`, `judge` and `behaviour` (LLM judge, proposer, axis judge, cluster describer) go through the
command line against the local server (tests/openai_server.py), which quotes the request's
``Authorization`` header in every error and in some answers, as careless proxies do. Keys with a
line break or a non-ASCII character are refused before any request, naming the variable only.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from openai_server import OpenAIServer

from deltaeval.backends.base import Generation
from deltaeval.backends.openai_compat import OpenAIBackend, header_value_problem
from deltaeval.cli import main
from deltaeval.errors import UsageError
from deltaeval.judging.llm import REASK
from deltaeval.redaction import Redactor
from deltaeval.types import Example

# every key holds SECRET: any piece of any key found anywhere is a leak
GOOD = "sk-test-Zq7SECRET-good-4821"
WRONG = "sk-test-Wv3SECRET-wrong-1937"  # well formed, refused by the server (401, quoted back)
NEWLINE = "sk-test-Nl5SECRET-line-2846\n"
NON_ASCII = "sk-test-\u00dc9SECRET-accent-5730"
KEYS = {
    "DELTAEVAL_KEY_GOOD": GOOD,
    "DELTAEVAL_KEY_WRONG": WRONG,
    "DELTAEVAL_KEY_NEWLINE": NEWLINE,
    "DELTAEVAL_KEY_NON_ASCII": NON_ASCII,
}
NEEDLES = (b"SECRET", *(key.strip().encode("utf-8") for key in KEYS.values()))
N = 16


class Answers(Mapping[str, str]):
    """The server's answers: verdicts for judges, axes for the proposer, else the default echo."""

    def get(self, prompt: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if "answered very differently" in prompt:
            return "The new answers open with a polite request."
        if prompt.startswith("Below are"):
            return json.dumps([{"name": "politeness", "high": "asks politely", "low": "plain"}])
        if "Property: " in prompt:
            return "A"
        if "<answer_A>" in prompt or prompt == REASK:
            return "A is clearer. [[A>B]]"
        return default

    def __getitem__(self, prompt: str) -> str:
        return self.get(prompt) or ""

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def leaks(data: bytes) -> list[bytes]:
    return [needle for needle in NEEDLES if needle in data]


def scan_tables(db: Path) -> dict[str, int]:
    """Every table of the store, every column as text: rows holding a piece of a key, per table."""
    hits: dict[str, int] = {}
    with sqlite3.connect(db) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                text = "\x00".join(str(v) if not isinstance(v, bytes) else v.hex() for v in row)
                if leaks(text.encode("utf-8")):
                    hits[table] = hits.get(table, 0) + 1
    return hits


def test_no_key_anywhere_after_run_judge_and_behaviour(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for env, key in KEYS.items():
        monkeypatch.setenv(env, key)
    data = tmp_path / "d.jsonl"
    rows = [{"id": f"q{i:02d}", "input": f"Question {i}: topic {i}?", "reference": "echo"} for i in range(N)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    db = tmp_path / "store.sqlite"
    out = tmp_path / "out"
    captured: list[str] = []

    def cli(*args: str, expect: int = 0) -> str:
        code = main([*args, "--store", str(db)])
        streams = capfd.readouterr()
        captured.extend((streams.out, streams.err))
        assert code == expect, streams.err
        return streams.err

    def reports(name: str) -> list[str]:
        return ["--json", f"{out / name}.json", "--md", f"{out / name}.md", "--html", f"{out / name}.html"]

    server = OpenAIServer(
        api_key=GOOD,
        echo_auth=True,
        answers=Answers(),
        fault_rate=0.3,
        fault_kinds=("400", "429", "echo"),
        max_faults_per_prompt=1,
        seed=2,
        log_path=tmp_path / "server-log.jsonl",
    )
    with server:
        model = f"openai:test@{server.url}"
        judge = f"openai:judge@{server.url}"
        good, wrong = ("--api-key-env", "DELTAEVAL_KEY_GOOD"), ("--api-key-env", "DELTAEVAL_KEY_WRONG")
        run = ["run", "--model", model, "--data", str(data)]
        cli(*run, "--name", "v1", *good)
        reader = sqlite3.connect(db)  # held open, so the WAL stays on disk to be scanned
        reader.execute("SELECT count(*) FROM runs").fetchone()
        cli(*run, "--name", "v2", "--template", "Please, briefly: {{ input }}", *good)
        cli(*run, "--name", "wrong", *wrong)

        judging = ["judge", "v1", "v2", "--judge", judge, "--n-boot", "100"]
        cli(*judging, *good, *reports("judge"))
        # every judge request refused (HTTP 401): judging failed, exit 3, the reports still written
        cli("judge", "v1", "wrong", "--judge", judge, "--n-boot", "100", *wrong, expect=3)
        behaviour = ["behaviour", "v1", "v2", "--judge", judge, "--proposer", model, "--describe", model]
        behaviour += ["--similarity", "tfidf", "--n-boot", "100", "--propose-pairs", str(N)]
        cli(*behaviour, *good, *reports("behaviour"))
        cli(*behaviour, *wrong, *reports("behaviour-wrong"))  # its judge calls come from the cache
        cli("compare", "v1", "v2", "--scorer", "contains", "--n-boot", "100", *reports("compare"))
        cli("compare", "v1", "wrong", "--scorer", "contains", "--n-boot", "100", *reports("compare-wrong"))

        # keys that cannot travel in a header: refused before any request, the variable named
        asked = len(server.log)
        for env, problem in (
            ("DELTAEVAL_KEY_NEWLINE", "ends with a line break"),
            ("DELTAEVAL_KEY_NON_ASCII", "has a non-ASCII character at character 9 of 28"),
        ):
            for command in (
                [*run, "--name", "bad", "--api-key-env", env],
                [*judging, "--api-key-env", env, *reports("bad")],
                [*behaviour, "--api-key-env", env, *reports("bad")],
            ):
                err = cli(*command, expect=2)
                assert err.startswith(f"error: the API key in the environment variable {env} {problem}")
        assert len(server.log) == asked
        outcomes = server.outcomes()
        wal = db.with_name(db.name + "-wal")
        assert wal.stat().st_size > 0
        paths = [path for path in tmp_path.rglob("*") if path.is_file()]
        files = {path.relative_to(tmp_path).as_posix(): path.read_bytes() for path in paths}
        hits = scan_tables(db)
        with reader:
            errors = [e for (e,) in reader.execute("SELECT error FROM outputs WHERE error IS NOT NULL")]
            texts = [t for (t,) in reader.execute("SELECT text FROM outputs WHERE text IS NOT NULL")]
            judged = [e for (e,) in reader.execute("SELECT error FROM judgments WHERE error IS NOT NULL")]
        reader.close()

    # every channel was exercised: errors and answers quoting the header, a refused key
    assert {"400", "429", "echo", "unauthorized"} <= set(outcomes)
    assert any("Authorization: Bearer ***" in e for e in errors if e.startswith("HTTP 400"))
    assert any(e.startswith("HTTP 401") and "Bearer ***" in e for e in errors)
    assert any(t == "you sent Authorization: Bearer ***" for t in texts)
    assert any("Bearer ***" in e for e in judged)
    for name in ("compare", "compare-wrong", "judge", "behaviour", "behaviour-wrong"):
        for suffix in (".json", ".md", ".html"):
            assert f"out/{name}{suffix}" in files
    assert "out/bad.json" not in files
    assert "store.sqlite-wal" in files and "server-log.jsonl" in files

    # ... and no piece of any key anywhere
    assert hits == {}
    assert {name: leaks(content) for name, content in files.items() if leaks(content)} == {}
    assert [text for text in captured if leaks(text.encode("utf-8"))] == []


def test_a_key_spoiled_after_the_start_fails_once_without_being_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DELTAEVAL_KEY_GOOD", GOOD)
    with OpenAIServer(api_key=GOOD) as server:
        backend = OpenAIBackend("test", base_url=server.url, api_key_env="DELTAEVAL_KEY_GOOD")
        monkeypatch.setenv("DELTAEVAL_KEY_GOOD", NEWLINE)
        [output] = backend.generate([Example(id="x", input="hi")])
        assert server.log == []
    assert output.error == (
        "invalid API key: the API key in the environment variable DELTAEVAL_KEY_GOOD ends with a line break"
    )


def test_a_request_that_cannot_be_sent_is_not_retried() -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value b'Bearer x\\n'")

    backend = OpenAIBackend("m", sleep=sleep, transport=httpx.MockTransport(refuse))
    [output] = backend.generate([Example(id="x", input="hi")])
    assert output.error is not None and output.error.startswith("request not sent: LocalProtocolError")
    assert delays == []


@pytest.mark.parametrize("variable", ["headers", "password"])
def test_other_secrets_of_the_backend_are_redacted(variable: str) -> None:
    secret = "hunter2-SECRET-42"

    def echo(request: httpx.Request) -> httpx.Response:
        sent = f"{request.headers.get('x-api-key')} {request.url} {request.headers.get('authorization')}"
        return httpx.Response(403, json={"error": {"message": f"refused {sent}"}})

    options: dict = {"transport": httpx.MockTransport(echo), "backoff_base": 0, "backoff_max": 0}
    if variable == "headers":
        backend = OpenAIBackend("m", headers={"X-Api-Key": secret}, **options)
    else:
        backend = OpenAIBackend("m", base_url=f"http://user:{secret}@127.0.0.1:9/v1", **options)
    [output] = backend.generate([Example(id="x", input="hi")])
    assert output.error is not None and output.error.startswith("HTTP 403: refused")
    assert "SECRET" not in output.error and "***" in output.error
    assert base64.b64encode(f"user:{secret}".encode()).decode() not in output.error


def test_a_header_that_cannot_be_sent_is_refused_at_the_start() -> None:
    with pytest.raises(UsageError, match="'X-Api-Key' ends with a line break") as caught:
        OpenAIBackend("m", headers={"X-Api-Key": "abc-SECRET\n"})
    assert "SECRET" not in str(caught.value)
    assert header_value_problem("Bearer abc", spaces=True) is None
    assert header_value_problem(" abc", spaces=True) == "starts with whitespace"


def test_the_redactor_finds_a_secret_in_its_escaped_forms() -> None:
    redact = Redactor()
    redact.add(NEWLINE)
    message = f"Illegal header value {('Bearer ' + NEWLINE).encode()!r}; json {json.dumps(NEWLINE)}"
    assert "SECRET" not in redact(message)
    assert "SECRET" not in redact(f"Bearer {NEWLINE.strip()}.")
    assert "SECRET" not in repr(redact)
    # short placeholder keys are kept out of errors, but answers keep their words
    redact.add("ollama")
    answer = Generation(text="ollama is a server", error="401 for Bearer ollama")
    assert answer.redacted(redact) == Generation(text="ollama is a server", error="401 for Bearer ***")
