"""Hugging Face transformers on a local model folder (extra ``[hf]``): spec ``hf:PATH``.

Only local folders are accepted (everything loads with ``local_files_only=True``; nothing is
downloaded). Remote code in the folder runs only with ``trust_remote_code=True``.

Requests are answered in batches of ``concurrency`` prompts (default 8), left-padded, on the CPU
or a CUDA GPU. Temperature 0 decodes greedily; above 0 it samples, seeded by the request's seed.
The prompt is rendered here — with the tokenizer's chat template when it has one, else as plain
text — and is part of the request, so the cache key covers the template.

A folder may also hold a LoRA adapter (peft's ``save_pretrained`` output: ``adapter_config.json``
and ``adapter_model.safetensors``, no ``config.json``): its base model is the local folder named by
``base_model_name_or_path`` (absolute, or relative to the adapter folder); the adapter is merged
into the base weights on load (needs ``peft``, extra ``[train]``). The tokenizer comes from the
adapter folder when it holds one, else from the base.

torch and transformers are imported on first use; without them the backend says how to install
them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from deltaeval.backends.base import (
    BatchBackend,
    Generation,
    GenerationParams,
    chat_messages,
)
from deltaeval.errors import InputError, UsageError
from deltaeval.threads import cpu_threads
from deltaeval.types import Example

INSTALL_HF = 'pip install "deltaeval[hf]"'
INSTALL_TRAIN = 'pip install "deltaeval[train]"'
#: the file that marks a folder as a peft adapter
ADAPTER_CONFIG = "adapter_config.json"
TORCH_NOTE = (
    "install torch first as your platform needs it (e.g. pip install torch==2.13.0 for a CPU "
    "build where that wheel is at hand): a plain 'torch' requirement can pull a multi-GB CUDA build"
)
DEFAULT_BATCH_SIZE = 8
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "float16", "bfloat16")
#: files whose content decides the answers (weights, configs, tokenizer, chat template)
_MODEL_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".jinja", ".py", ".tiktoken")
_MIB = 1 << 20


def hf_available() -> bool:
    """True when torch and transformers are installed (checked without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))


def _require_hf() -> None:
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"the hf backend needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            "not installed",
            hint=f"run: {INSTALL_HF} ({TORCH_NOTE})",
        )


def adapter_base(folder: Path) -> Path | None:
    """The base model folder of an adapter folder, or None when ``folder`` holds a whole model.

    An adapter folder has ``adapter_config.json`` and no ``config.json``; its
    ``base_model_name_or_path`` must name a local folder (absolute, or relative to the adapter).
    """
    config_path = folder / ADAPTER_CONFIG
    if not config_path.is_file() or (folder / "config.json").is_file():
        return None
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        base = config["base_model_name_or_path"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"cannot read the adapter's base model: {type(exc).__name__}: {exc}",
            path=config_path,
            hint="the file needs base_model_name_or_path, the local folder of the base model",
        ) from None
    if not isinstance(base, str) or not base:
        raise InputError(
            "the adapter names no base model (base_model_name_or_path is empty)",
            path=config_path,
            hint="set base_model_name_or_path to the local folder of the base model",
        )
    candidate = Path(base).expanduser()
    if not candidate.is_absolute():
        candidate = folder / candidate
    if not (candidate / "config.json").is_file():
        raise InputError(
            f"the adapter's base model folder {base!r} is not a local model folder",
            path=config_path,
            hint="set base_model_name_or_path to a local folder saved by save_pretrained "
            "(hub ids are never downloaded)",
        )
    return candidate.resolve()


def folder_fingerprint(folder: Path) -> str:
    """SHA-256 over the model files of a folder: names, sizes, first and last MiB of each."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in _MODEL_SUFFIXES and ".cache" not in p.parts
    )
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with path.open("rb") as handle:
            digest.update(handle.read(_MIB))
            if size > 2 * _MIB:
                handle.seek(size - _MIB)
                digest.update(handle.read(_MIB))
            elif size > _MIB:
                digest.update(handle.read())
    return digest.hexdigest()


def plain_prompt(messages: Sequence[Mapping[str, str]]) -> str:
    """Messages as plain text for a model without a chat template.

    A system prompt and one user message become ``SYSTEM\\n\\nUSER``; a longer conversation
    becomes ``role: content`` lines ending with ``assistant:``.
    """
    if (
        all(m["role"] in ("system", "user") for m in messages)
        and sum(m["role"] == "user" for m in messages) <= 1
    ):
        return "\n\n".join(m["content"] for m in messages)
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"


class TransformersBackend(BatchBackend):
    """A causal language model in a local folder, run by transformers.

    Parameters
    ----------
    model:
        A local folder holding the model and its tokenizer (``save_pretrained`` output). Hub ids
        are refused: nothing is downloaded.
    concurrency:
        Prompts per batch.
    device:
        ``"auto"`` (CUDA when available, else the CPU), ``"cpu"`` or ``"cuda"`` (``"cuda:1"`` …).
    dtype:
        Weights' type: default float32 on the CPU and ``"auto"`` (as saved) on a GPU.
    trust_remote_code:
        Run model code shipped in the folder (only when you pass True).
    chat_template:
        Use the tokenizer's chat template (default: when it has one); False sends plain text.
    threads:
        torch's CPU threads while this backend generates on the CPU (default:
        :func:`deltaeval.threads.cpu_threads`, the usable cores minus one on machines with up to 4).

    Examples
    --------
    >>> backend = TransformersBackend("models/my-model", device="cpu")  # doctest: +SKIP
    >>> backend.generate([Example(id="q", input="Hello")])  # doctest: +SKIP
    """

    kind: ClassVar[str] = "hf"

    def __init__(
        self,
        model: str | Path,
        *,
        concurrency: int = DEFAULT_BATCH_SIZE,
        device: str = "auto",
        dtype: str | None = None,
        trust_remote_code: bool = False,
        chat_template: bool | None = None,
        threads: int | None = None,
    ) -> None:
        path = Path(model).expanduser()
        if not path.is_dir():
            raise InputError(
                "model folder not found: the hf backend accepts only local paths, never hub ids",
                path=path,
                hint="download the model yourself, save it with save_pretrained, and give its folder",
            )
        _require_hf()
        super().__init__(str(path), concurrency=concurrency)
        if device.split(":")[0] not in DEVICES:
            raise UsageError(f"unknown device {device!r}", hint="use auto, cpu or cuda (cuda:N)")
        if dtype is not None and dtype not in DTYPES:
            raise UsageError(f"unknown dtype {dtype!r}", hint="use one of: " + ", ".join(DTYPES))
        self.path = path
        self.base_path = adapter_base(path)
        if self.base_path is not None and importlib.util.find_spec("peft") is None:
            raise UsageError(
                "the folder holds an adapter, and loading it needs peft, which is not installed",
                path=path,
                hint=f"run: {INSTALL_TRAIN} ({TORCH_NOTE})",
            )
        self.device_option = device
        self.dtype_option = dtype
        self.trust_remote_code = trust_remote_code is True
        self.chat_template_option = chat_template
        self.threads = cpu_threads(threads)
        self._tokenizer: Any = None
        self._model: Any = None
        self._device: str | None = None
        self._sha: str | None = None
        self._lock = threading.RLock()

    # -- identity and prompts ---------------------------------------------------------------

    def cache_identity(self) -> dict[str, Any]:
        """The folder's name, a fingerprint of its model files, and the weights' type."""
        if self._sha is None:
            self._sha = folder_fingerprint(self.path)
            if self.base_path is not None:  # an adapter answers as base + adapter
                both = f"{self._sha}\0{folder_fingerprint(self.base_path)}"
                self._sha = hashlib.sha256(both.encode()).hexdigest()
        return {"backend": self.kind, "model": self.path.name, "sha": self._sha, "dtype": self._dtype_name()}

    def _dtype_name(self) -> str:
        if self.dtype_option is not None:
            return self.dtype_option
        return "float32" if self._resolve_device() == "cpu" else "auto"

    def _resolve_device(self) -> str:
        if self._device is None:
            if self.device_option != "auto":
                self._device = self.device_option
            else:
                _require_hf()
                import torch

                self._device = "cuda" if torch.cuda.is_available() else "cpu"
        return self._device

    def tokenizer(self) -> Any:
        """The tokenizer (loaded on first use, left-padded, with a pad token)."""
        with self._lock:
            if self._tokenizer is None:
                _require_hf()
                from transformers import AutoTokenizer

                source = self.path
                if self.base_path is not None and not any(
                    (self.path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")
                ):
                    source = self.base_path
                try:
                    tokenizer = AutoTokenizer.from_pretrained(
                        str(source), local_files_only=True, trust_remote_code=self.trust_remote_code
                    )
                except Exception as exc:
                    raise InputError(
                        f"cannot load a tokenizer: {type(exc).__name__}: {exc}",
                        path=self.path,
                        hint="the folder needs the tokenizer files saved by save_pretrained",
                    ) from None
                tokenizer.padding_side = "left"
                if tokenizer.pad_token is None:
                    if tokenizer.eos_token is None:
                        raise InputError(
                            "the tokenizer has neither a pad nor an end-of-sequence token",
                            path=self.path,
                            hint="set tokenizer.eos_token (or pad_token) and save it again",
                        )
                    tokenizer.pad_token = tokenizer.eos_token
                self._tokenizer = tokenizer
            return self._tokenizer

    def uses_chat_template(self) -> bool:
        if self.chat_template_option is False:
            return False
        has = bool(getattr(self.tokenizer(), "chat_template", None))
        if self.chat_template_option and not has:
            raise UsageError(
                "chat_template=True, but the tokenizer has no chat template",
                path=self.path,
                hint="leave chat_template unset to send plain text",
            )
        return has

    def render_prompt(self, example: Example, params: GenerationParams) -> str:
        """The prompt text: the chat template applied, or plain text."""
        messages = chat_messages(example, params)
        if self.uses_chat_template():
            return self.tokenizer().apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return plain_prompt(messages)

    def request(self, example: Example, params: GenerationParams) -> dict[str, Any]:
        """The rendered prompt and the decoding parameters."""
        return {
            "prompt": self.render_prompt(example, params),
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "top_p": params.top_p,
            "seed": params.seed,
            "stop": list(params.stop),
            **dict(params.extra),
        }

    # -- the model --------------------------------------------------------------------------

    def load(self) -> Any:
        """Load the model now (it loads by itself on the first call)."""
        with self._lock:
            if self._model is not None:
                return self._model
            self.tokenizer()
            import torch
            import transformers
            from transformers import AutoModelForCausalLM

            device = self._resolve_device()
            name = self._dtype_name()
            dtype = name if name == "auto" else getattr(torch, name)
            major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
            dtype_key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
            from transformers.utils import logging as hf_logging

            bar = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # no "Loading weights" bar on stderr
            try:
                model = AutoModelForCausalLM.from_pretrained(
                    str(self.base_path or self.path),
                    local_files_only=True,
                    trust_remote_code=self.trust_remote_code,
                    **{dtype_key: dtype},
                )
                if self.base_path is not None:
                    from peft import PeftModel

                    model = PeftModel.from_pretrained(model, str(self.path)).merge_and_unload()
                model.to(device)
            except Exception as exc:
                raise InputError(
                    f"cannot load the model: {type(exc).__name__}: {exc}",
                    path=self.path,
                    hint="the folder needs a causal language model (or a peft adapter on one) "
                    "saved by save_pretrained",
                ) from None
            finally:
                if bar:
                    hf_logging.enable_progress_bar()
            model.eval()
            if device == "cpu":
                torch.set_num_threads(self.threads)  # process-wide in torch
            self._model = model
            return model

    def close(self) -> None:
        """Free the model (a later call loads it again)."""
        with self._lock:
            if self._model is not None and self._device and self._device.startswith("cuda"):
                import torch

                self._model = None
                torch.cuda.empty_cache()
            self._model = None

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for value in (self._model.generation_config.eos_token_id, self.tokenizer().eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list | tuple):
                ids.update(int(v) for v in value)
        return ids

    def call_batch(self, requests: Sequence[Mapping[str, Any]]) -> list[Generation]:
        """Answer one batch: requests with the same decoding parameters are generated together."""
        self.load()
        groups: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            decoding = {k: v for k, v in request.items() if k != "prompt"}
            groups.setdefault(repr(sorted(decoding.items())), []).append(i)
        results: list[Generation | None] = [None] * len(requests)
        for indices in groups.values():
            started = time.perf_counter()
            try:
                answers = self._generate([requests[i] for i in indices])
            except Exception as exc:
                elapsed = time.perf_counter() - started
                answers = [Generation(error=f"{type(exc).__name__}: {exc}"[:300], latency_s=elapsed)] * len(
                    indices
                )
            for i, answer in zip(indices, answers, strict=True):
                results[i] = answer
        return [r if r is not None else Generation(error="no result") for r in results]

    def _generate(self, requests: Sequence[Mapping[str, Any]]) -> list[Generation]:
        import torch

        tokenizer, model = self.tokenizer(), self._model
        first = requests[0]
        started = time.perf_counter()
        inputs = tokenizer(
            [r["prompt"] for r in requests],
            return_tensors="pt",
            padding=True,
            add_special_tokens=not self.uses_chat_template(),
        ).to(self._device)
        known = {"prompt", "temperature", "max_tokens", "top_p", "seed", "stop"}
        kwargs: dict[str, Any] = {
            "max_new_tokens": int(first["max_tokens"]),
            "pad_token_id": tokenizer.pad_token_id,
            **{k: v for k, v in first.items() if k not in known},
        }
        temperature = float(first["temperature"])
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0)
            kwargs["top_p"] = first["top_p"] if first["top_p"] is not None else 1.0
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        stop = [s for s in first["stop"] if s]
        prompt_len = inputs["input_ids"].shape[1]
        if stop:
            kwargs["stopping_criteria"] = _stop_on_strings(tokenizer, stop, prompt_len)
        devices = [torch.device(self._device).index or 0] if self._device.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            if first["seed"] is not None:
                torch.manual_seed(int(first["seed"]))
            output = model.generate(**inputs, **kwargs)
        share = (time.perf_counter() - started) / len(requests)
        new_tokens = output[:, prompt_len:].tolist()
        prompt_counts = inputs["attention_mask"].sum(dim=1).tolist()
        eos_ids = self._eos_ids()
        pad_id = tokenizer.pad_token_id
        results = []
        for row, prompt_tokens in zip(new_tokens, prompt_counts, strict=True):
            end = next((j for j, token in enumerate(row) if token in eos_ids), None)
            if end is not None:
                ids, finish, count = row[:end], "stop", end + 1
            else:
                while row and row[-1] == pad_id and pad_id not in eos_ids:
                    row = row[:-1]
                ids, finish, count = row, "length", len(row)
            text = tokenizer.decode(ids, skip_special_tokens=True)
            cut = min((text.find(s) for s in stop if s in text), default=-1)
            if cut >= 0:
                text, finish = text[:cut], "stop"
            results.append(
                Generation(
                    text=text,
                    tokens=count,
                    prompt_tokens=int(prompt_tokens),
                    latency_s=share,
                    finish_reason=finish,
                )
            )
        return results


def _stop_on_strings(tokenizer: Any, stop: Sequence[str], prompt_len: int) -> Any:
    """A stopping criterion: a row is done once its new text holds one of ``stop``.

    (transformers' own ``stop_strings`` cannot handle every tokenizer, e.g. word-level ones.)
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnStrings(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tokenizer.batch_decode(input_ids[:, prompt_len:], skip_special_tokens=True)
            done = [any(s in text for s in stop) for text in texts]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnStrings()])


_OPTIONS = frozenset({"concurrency", "device", "dtype", "trust_remote_code", "chat_template", "threads"})


def from_spec(rest: str, **options: Any) -> TransformersBackend:
    """Build the backend of a spec ``hf:PATH`` (a local folder).

    ``trust`` (the CLI's --trust, about pickles) is ignored: remote code needs
    ``trust_remote_code=True`` itself. Unset (``None``) options are ignored.
    """
    if not rest:
        raise UsageError("no folder in spec 'hf:'", hint="use hf:PATH/TO/MODEL_FOLDER")
    chosen = {k: v for k, v in options.items() if v is not None and k != "trust"}
    unknown = sorted(set(chosen) - _OPTIONS)
    if unknown:
        raise UsageError(
            f"the hf backend takes no option {', '.join(unknown)}",
            hint="options: " + ", ".join(sorted(_OPTIONS)),
        )
    return TransformersBackend(rest, **chosen)


__all__ = [
    "ADAPTER_CONFIG",
    "INSTALL_HF",
    "INSTALL_TRAIN",
    "TransformersBackend",
    "adapter_base",
    "folder_fingerprint",
    "from_spec",
    "hf_available",
    "plain_prompt",
]
