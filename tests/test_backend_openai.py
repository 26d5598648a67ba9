"""The OpenAI-compatible backend against a real local HTTP server (tests/openai_server.py)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai_server import FAULT_KINDS, OpenAIServer, reply_text

import deltaeval
from deltaeval.backends import get_backend
from deltaeval.backends.base import GenerationParams
from deltaeval.backends.check import check_backend
from deltaeval.backends.openai_compat import (
    DEFAULT_BASE_URL,
    OpenAIBackend,
    from_spec,
    parse_retry_after,
    split_spec,
)
from deltaeval.errors import UsageError
from deltaeval.runner import run_model
from deltaeval.store import Store
from deltaeval.types import Example

PROMPT = "What is 2 + 3?"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


def examples(n: int) -> list[Example]:
    return [
        Example(id=f"e{i:03d}", input=f"question number {i}", reference=reply_text(f"question number {i}"))
        for i in range(n)
    ]


def ask(backend: OpenAIBackend, prompt: str = PROMPT, params: GenerationParams | None = None):
    [output] = backend.generate([Example(id="x", input=prompt)], params or GenerationParams())
    return output


class Sleeps:
    """An injectable sleep that records the delays and does not wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# conformance and request shape ----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["chat", "completion"])
def test_check_backend_passes(endpoint: str) -> None:
    with OpenAIServer() as server:
        backend = OpenAIBackend("test", base_url=server.url, endpoint=endpoint)
        generations = check_backend(backend)
    assert all(g.error is None for g in generations)
    assert generations[0].text == reply_text("What is the capital of France?")
    assert {r["endpoint"] for r in server.log} == {endpoint}


def test_chat_request_body() -> None:
    backend = OpenAIBackend("m", base_url="http://127.0.0.1:1/v1")
    params = GenerationParams(system="Be brief.", temperature=0.5, max_tokens=7, seed=None, stop=("\n",))
    body = backend.request(Example(id="1", input="Hi"), params)
    assert body == {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "temperature": 0.5,
        "max_tokens": 7,
        "stop": ["\n"],
    }
    body = backend.request(Example(id="1", input="Hi"), GenerationParams(top_p=0.9, extra={"n": 1}))
    assert body["top_p"] == 0.9 and body["seed"] == 0 and body["n"] == 1 and "stop" not in body


def test_completion_request_body_has_a_plain_prompt() -> None:
    backend = OpenAIBackend("m", base_url="http://127.0.0.1:1/v1", endpoint="completion")
    body = backend.request(Example(id="1", input="Hi"), GenerationParams(max_tokens=3))
    assert body == {"model": "m", "prompt": "Hi", "temperature": 0.0, "max_tokens": 3, "seed": 0}
    with_system = backend.request(Example(id="1", input="Hi"), GenerationParams(system="S"))
    assert with_system["prompt"] == "S\n\nHi"
    assert backend.call_key(body) != backend.call_key(with_system)


def test_cache_key_ignores_the_address() -> None:
    a = OpenAIBackend("m", base_url="http://127.0.0.1:1/v1")
    b = OpenAIBackend("m", base_url="http://10.0.0.1:8000/v1")
    request = a.request(Example(id="1", input="Hi"), GenerationParams())
    assert a.call_key(request) == b.call_key(request)
    assert a.cache_identity() == {"backend": "openai", "model": "m"}


# specs ---------------------------------------------------------------------------------------


def test_spec_with_colons_in_the_model_name() -> None:
    backend = get_backend("openai:llama3.2:1b@http://127.0.0.1:1234/v1", concurrency=3, trust=None)
    assert isinstance(backend, OpenAIBackend)
    assert backend.model == "llama3.2:1b"
    assert backend.base_url == "http://127.0.0.1:1234/v1"
    assert backend.url == "http://127.0.0.1:1234/v1/chat/completions"
    assert backend.concurrency == 3
    assert backend.spec == "openai:llama3.2:1b@http://127.0.0.1:1234/v1"
    assert get_backend(backend.spec).spec == backend.spec


def test_spec_without_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert from_spec("gpt-x").base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example/v1/")
    backend = get_backend("openai:gpt-x")
    assert (backend.model, backend.base_url) == ("gpt-x", "https://proxy.example/v1")


def test_spec_splits_at_the_last_at_before_a_url() -> None:
    assert split_spec("org/m@v2@https://h:1/v1") == ("org/m@v2", "https://h:1/v1")
    assert split_spec("a@b") == ("a@b", None)
    assert split_spec("m@http://u:p@h/v1") == ("m", "http://u:p@h/v1")


@given(
    model=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1).filter(
        lambda m: "@http" not in m and not m.endswith("@")
    ),
    port=st.integers(1, 65535),
)
def test_split_spec_round_trips(model: str, port: int) -> None:
    url = f"http://127.0.0.1:{port}/v1"
    assert split_spec(f"{model}@{url}") == (model, url)
    assert split_spec(model) == (model, None)


@pytest.mark.parametrize(
    ("rest", "options", "message"),
    [
        ("", {}, "no model name"),
        ("@http://127.0.0.1:1/v1", {}, "no model name"),
        ("m", {"colour": "red"}, "no option colour"),
        ("m", {"endpoint": "embeddings"}, "unknown endpoint"),
        ("m", {"base_url": "ftp://host"}, "invalid server URL"),
        ("m", {"concurrency": 0}, "concurrency"),
    ],
)
def test_bad_specs_are_usage_errors(rest: str, options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        from_spec(rest, **options)


def test_password_in_url_is_hidden_from_the_spec() -> None:
    backend = OpenAIBackend("m", base_url="http://user:hunter2@127.0.0.1:1/v1")
    assert "hunter2" not in backend.spec and "hunter2" not in repr(backend)


# the API key ---------------------------------------------------------------------------------

KEY = "sk-test-4f9c2a7e1b0d"


def test_api_key_is_sent_and_never_stored(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELTAEVAL_TEST_KEY", KEY)
    data = examples(5)
    with OpenAIServer(api_key=KEY) as server:
        backend = OpenAIBackend("test", base_url=server.url, api_key_env="DELTAEVAL_TEST_KEY")
        with Store(tmp_path / "store.sqlite") as store:
            run, stats = run_model(backend, data, name="keyed", store=store, quiet=True)
            assert stats.errors == 0 and server.outcomes() == {"ok": 5}
            loaded = store.load_run("keyed")
    request = backend.request(data[0], GenerationParams())
    visible = [
        json.dumps(request),
        backend.call_key(request),
        repr(backend),
        backend.spec,
        json.dumps(dict(run.params), default=str),
        json.dumps(dict(loaded.params), default=str),
        repr(vars(backend)),
        json.dumps(server.log, default=str),
    ]
    assert not [text for text in visible if KEY in text]
    for path in tmp_path.iterdir():  # the database and its WAL
        assert KEY.encode() not in path.read_bytes(), path.name


def test_wrong_key_is_an_error_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELTAEVAL_TEST_KEY", "sk-wrong")
    with OpenAIServer(api_key=KEY) as server:
        output = ask(OpenAIBackend("test", base_url=server.url, api_key_env="DELTAEVAL_TEST_KEY", **FAST))
    assert output.error is not None and output.error.startswith("HTTP 401: invalid or missing API key")
    assert server.outcomes() == {"unauthorized": 1}


def test_key_echoed_by_a_server_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELTAEVAL_TEST_KEY", KEY)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": f"bad key {request.headers['authorization']}"}})

    backend = OpenAIBackend(
        "m", api_key_env="DELTAEVAL_TEST_KEY", transport=httpx.MockTransport(handler), **FAST
    )
    output = ask(backend)
    assert output.error == "HTTP 401: bad key Bearer ***"


def test_unset_key_variable_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELTAEVAL_NO_SUCH_KEY", raising=False)
    with pytest.raises(UsageError, match="DELTAEVAL_NO_SUCH_KEY"):
        get_backend("openai:m", api_key_env="DELTAEVAL_NO_SUCH_KEY")


# retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault", ["429", "500", "502", "503", "504", "slow", "malformed", "nochoices", "drop"]
)
def test_each_fault_is_retried(fault: str) -> None:
    with OpenAIServer(script={PROMPT: [fault, fault]}, slow_s=0.5) as server:
        backend = OpenAIBackend("test", base_url=server.url, timeout=0.25, **FAST)
        output = ask(backend)
        assert output.error is None and output.text == reply_text(PROMPT)
        server.wait_idle()  # a slow answer is logged when given, after the client gave up on it
    assert [r["outcome"] for r in sorted(server.log, key=lambda r: r["attempt"])] == [fault, fault, "ok"]


def test_all_retries_failing_gives_an_error_not_an_exception() -> None:
    sleeps = Sleeps()
    with OpenAIServer(always_fail={PROMPT}) as server:
        backend = OpenAIBackend(
            "test", base_url=server.url, max_retries=3, sleep=sleeps, rng=random.Random(1)
        )
        output = ask(backend)
    assert output.error == "HTTP 500 after 4 attempts: injected fault 500 for this request"
    assert output.latency_s is not None and output.latency_s > 0
    assert len(server.log) == 4
    assert len(sleeps.delays) == 3
    for attempt, delay in enumerate(sleeps.delays):  # full jitter
        assert 0 <= delay <= 0.5 * 2**attempt


def test_backoff_is_capped() -> None:
    sleeps = Sleeps()
    with OpenAIServer(always_fail={PROMPT}) as server:
        backend = OpenAIBackend(
            "test", base_url=server.url, max_retries=8, backoff_base=1, backoff_max=3, sleep=sleeps
        )
        ask(backend)
    assert len(sleeps.delays) == 8 and max(sleeps.delays) <= 3


@pytest.mark.parametrize("status", ["429", "503"])
def test_retry_after_is_honoured(status: str) -> None:
    with OpenAIServer(script={PROMPT: [f"{status}:1"]}) as server:
        backend = OpenAIBackend("test", base_url=server.url, backoff_base=0.001)
        started = time.perf_counter()
        output = ask(backend)
        waited = time.perf_counter() - started
    assert output.error is None
    assert waited >= 1.0
    assert [r["outcome"] for r in server.log] == [f"{status}:1", "ok"]


def test_retry_after_is_capped_at_backoff_max() -> None:
    sleeps = Sleeps()
    with OpenAIServer(script={PROMPT: ["429:120", "429:0"]}) as server:
        output = ask(OpenAIBackend("test", base_url=server.url, backoff_max=0.5, sleep=sleeps))
    assert output.error is None
    assert sleeps.delays == [0.5, 0.0]


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-4") == 0.0


@pytest.mark.parametrize("status", ["400", "404", "422"])
def test_client_errors_are_not_retried(status: str) -> None:
    with OpenAIServer(script={PROMPT: [status]}) as server:
        output = ask(OpenAIBackend("test", base_url=server.url, **FAST))
    assert output.error == f"HTTP {status}: injected fault {status} for this request"
    assert len(server.log) == 1


def test_wrong_route_is_reported_with_the_status() -> None:
    with OpenAIServer() as server:
        output = ask(OpenAIBackend("test", base_url=server.url.replace("/v1", "/v2"), **FAST))
    assert output.error is not None and output.error.startswith("HTTP 404: no route /v2/chat/completions")


def test_long_server_messages_are_cut() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": "x" * 5000}})

    output = ask(OpenAIBackend("m", transport=httpx.MockTransport(handler)))
    assert output.error is not None and len(output.error) <= len("HTTP 400: ") + 300


def test_plain_text_error_bodies_are_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="<html>forbidden\n</html>")

    output = ask(OpenAIBackend("m", transport=httpx.MockTransport(handler)))
    assert output.error == "HTTP 403: <html>forbidden </html>"


def test_unreachable_server_fails_fast_after_the_first_full_retry() -> None:
    with OpenAIServer() as server:
        url = server.url  # a port that was free a moment ago; nothing listens there now
    sleeps = Sleeps()
    backend = OpenAIBackend("test", base_url=url, concurrency=1, max_retries=3, sleep=sleeps)
    outputs = backend.generate(examples(5), GenerationParams())
    assert all(o.error is not None and o.error.startswith("cannot connect") for o in outputs)
    assert "after 4 attempts" in (outputs[0].error or "")
    assert all("not retried" in (o.error or "") for o in outputs[1:])
    assert len(sleeps.delays) == 3


def test_acall_outside_a_run_opens_its_own_client() -> None:
    with OpenAIServer() as server:
        backend = OpenAIBackend("test", base_url=server.url)
        generation = asyncio.run(backend.acall(backend.request(Example("1", PROMPT), GenerationParams())))
    assert generation.text == reply_text(PROMPT)


# what is recorded ----------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["chat", "completion"])
def test_tokens_latency_and_finish_reason(endpoint: str) -> None:
    prompt = "one two three four five six"
    with OpenAIServer(delay=0.05) as server:
        backend = OpenAIBackend("test", base_url=server.url, endpoint=endpoint)
        full = ask(backend, prompt, GenerationParams(max_tokens=100))
        cut = ask(backend, prompt, GenerationParams(max_tokens=3))
    assert full.text == reply_text(prompt) and full.finish_reason == "stop"
    assert full.tokens == 7 and full.prompt_tokens == 6
    assert cut.text == "echo: xis evif" and cut.tokens == 3 and cut.finish_reason == "length"
    assert full.latency_s is not None and 0.05 <= full.latency_s < 5


def test_latency_is_that_of_the_successful_attempt() -> None:
    sleeps = Sleeps()
    with OpenAIServer(script={PROMPT: ["slow"]}, slow_s=0.5) as server:
        output = ask(OpenAIBackend("test", base_url=server.url, timeout=0.3, sleep=sleeps))
    assert output.error is None and output.latency_s is not None and output.latency_s < 0.3


# acceptance ----------------------------------------------------------------------------------


def test_faulty_server_gives_the_same_outputs_as_a_clean_one(tmp_path) -> None:
    data = examples(200)
    # 10 retries: with 20% faults, five retries run out in ~1% of runs (0.2**6 per example, 200
    # examples), more when a loaded machine's answers also time out at 0.25 s; 0.2**11 is ~2e-8
    options = {"concurrency": 8, "timeout": 0.25, "max_retries": 10, **FAST}
    with OpenAIServer() as clean, Store(tmp_path / "clean.sqlite") as store:
        reference, _ = run_model(
            OpenAIBackend("test", base_url=clean.url, **options), data, name="clean", store=store, quiet=True
        )
    with (
        OpenAIServer(fault_rate=0.2, seed=3, slow_s=0.5) as faulty,
        Store(tmp_path / "faulty.sqlite") as store,
    ):
        run, stats = run_model(
            OpenAIBackend("test", base_url=faulty.url, **options),
            data,
            name="faulty",
            store=store,
            quiet=True,
        )
        faulty.wait_idle()
        outcomes = faulty.outcomes()
        ok = faulty.ok_counts()
    assert stats.errors == 0
    assert [o.text for o in run.outputs] == [o.text for o in reference.outputs]
    assert [o.text for o in run.outputs] == [e.reference for e in data]
    assert set(outcomes) == {"ok", *FAULT_KINDS}
    faults = sum(outcomes.values()) - outcomes["ok"]
    assert 0.15 <= faults / sum(outcomes.values()) <= 0.25
    assert set(ok.values()) == {1}  # every example answered exactly once


def test_a_permanently_failing_example_is_reported(tmp_path) -> None:
    data = examples(40)
    broken = data[7]
    with OpenAIServer() as clean, Store(tmp_path / "store.sqlite") as store:
        old, _ = run_model(
            OpenAIBackend("test", base_url=clean.url, **FAST), data, name="old", store=store, quiet=True
        )
    with OpenAIServer(always_fail={broken.input}) as server, Store(tmp_path / "new.sqlite") as store:
        _, stats = run_model(
            OpenAIBackend("test", base_url=server.url, **FAST), data, name="new", store=store, quiet=True
        )
        stored = store.load_run("new")
    assert stats.errors == 1
    errors = {o.example_id: o.error for o in stored.outputs if o.error is not None}
    assert list(errors) == [broken.id]
    assert errors[broken.id].startswith("HTTP 500 after 6 attempts: injected fault 500")
    assert all(o.text == e.reference for e, o in zip(data, stored.outputs, strict=True) if e is not broken)
    report = deltaeval.compare(old, stored, scorer="exact", n_boot=50)
    assert report.data["alignment"]["errors_new"] == 1
    assert report.data["alignment"]["errors_old"] == 0
    assert report.flips["negative"] == 1
