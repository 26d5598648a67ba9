"""MUSCLE: a compatibility adapter for a causal LM, trained with masked knowledge distillation.

Echterhoff et al., "MUSCLE: A Model Update Strategy for Compatible LLM Evolution" (EMNLP 2024):
a LoRA adapter on the new model, trained on the task data by distillation from two frozen
teachers chosen token by token. With the reference answer teacher-forced, at every answer token

* when the **old** model's most likely token is the reference token and the **new task model's**
  is not (a token-level negative flip), the target is the old model's distribution;
* at every other token, the target is the new task model's distribution.

The loss is the KL divergence from the chosen teacher's softmax to the adapter's, averaged over
answer tokens (:func:`masked_distillation_loss`). The new task model is the new model as given (a
whole model, or base + its task adapter); the compatibility adapter starts as that task adapter
(or, for a whole model, as a fresh LoRA, i.e. equal to it), so training moves it only where the
old model was right and the new one was not. ``ce_weight`` > 0 adds cross-entropy to the
reference tokens (default 0: the masked distillation alone).

Old and new must share the tokenizer (the paper leaves vocabulary changes out too). Everything
loads from local folders; nothing is downloaded. torch, transformers and peft come with the extra
``[train]`` and are imported on first use.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deltaeval.compat._lm_data import IGNORE_INDEX
from deltaeval.compat._lm_train import TrainConfig, TrainResult
from deltaeval.errors import InputError, UsageError
from deltaeval.types import Example, Run


def token_from_old(
    old_logits: Any, task_logits: Any, labels: Any, *, ignore_index: int = IGNORE_INDEX
) -> Any:
    """Boolean mask of the tokens distilled from the old model.

    True where the old model's argmax is the label and the new task model's is not (and the label
    is not ``ignore_index``).
    """
    valid = labels != ignore_index
    old_right = old_logits.argmax(dim=-1) == labels
    task_right = task_logits.argmax(dim=-1) == labels
    return valid & old_right & ~task_right


def masked_distillation_loss(
    new_logits: Any,
    old_logits: Any,
    task_logits: Any,
    labels: Any,
    *,
    mask: Any = None,
    temperature: float = 1.0,
    ce_weight: float = 0.0,
    ignore_index: int = IGNORE_INDEX,
) -> Any:
    """MUSCLE's loss for logits aligned with ``labels`` (``[..., T, V]`` and ``[..., T]``).

    Per counted token t, with teacher q_t = softmax(old_t / τ) where :func:`token_from_old` is
    true, else softmax(task_t / τ), and student p_t = softmax(new_t / τ)::

        loss = τ² · mean_t KL(q_t ‖ p_t)  +  ce_weight · mean_t −log softmax(new_t)[label_t]

    Counted tokens: labels other than ``ignore_index``, and where ``mask`` (same shape as
    ``labels``) is true. Returns a scalar tensor (0 when no token counts).
    """
    import torch
    import torch.nn.functional as F

    counted = labels != ignore_index
    if mask is not None:
        counted = counted & mask.bool()
    if not bool(counted.any()):
        return new_logits.sum() * 0.0
    from_old = token_from_old(old_logits, task_logits, labels, ignore_index=ignore_index)
    teacher = torch.where(from_old.unsqueeze(-1), old_logits, task_logits)[counted].float()
    student = new_logits[counted].float()
    t = float(temperature)
    log_q = F.log_softmax(teacher / t, dim=-1)
    log_p = F.log_softmax(student / t, dim=-1)
    kl = (log_q.exp() * (log_q - log_p)).sum(dim=-1)
    loss = kl.mean() * t * t
    if ce_weight:
        loss = loss + ce_weight * F.cross_entropy(student, labels[counted])
    return loss


@dataclass(frozen=True)
class MuscleConfig(TrainConfig):
    """:class:`~deltaeval.compat._lm_train.TrainConfig` plus the distillation's ``temperature``
    and ``ce_weight`` (see :func:`masked_distillation_loss`)."""

    temperature: float = 1.0
    ce_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.temperature > 0:
            raise UsageError(f"temperature must be positive, not {self.temperature}")
        if self.ce_weight < 0:
            raise UsageError(f"ce_weight must be >= 0, not {self.ce_weight}")


class _Teachers:
    """Logits of the old model and the new task model, from the training model's own base where
    they share it (adapters switched or disabled), else from a separate frozen model."""

    def __init__(self, model: Any, old: tuple[str, Any], task: tuple[str, Any]) -> None:
        self.model, self.old, self.task = model, old, task

    def _logits(self, how: tuple[str, Any], batch: Mapping[str, Any]) -> Any:
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        kind, what = how
        if kind == "model":
            return what(**inputs).logits
        if kind == "base":
            with self.model.disable_adapter():
                return self.model(**inputs).logits
        self.model.set_adapter(what)
        try:
            return self.model(**inputs).logits
        finally:
            self.model.set_adapter("default")

    def logits(self, batch: Mapping[str, Any]) -> tuple[Any, Any]:
        import torch

        self.model.eval()  # teachers without dropout
        try:
            with torch.no_grad():
                return self._logits(self.old, batch), self._logits(self.task, batch)
        finally:
            self.model.train()


def _same_vocabulary(old_tokenizer: Any, new_tokenizer: Any, old: str, new: str) -> None:
    if old_tokenizer.get_vocab() != new_tokenizer.get_vocab():
        raise InputError(
            f"the old model {old!r} and the new model {new!r} have different tokenizers",
            hint="MUSCLE distils token by token, so both models must share one vocabulary",
        )


def train_muscle(
    old: str,
    new: str,
    examples: Sequence[Example],
    out: str | os.PathLike[str],
    *,
    config: MuscleConfig | None = None,
    params: Any = None,
    progress: Any = None,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train the compatibility adapter of ``new`` towards ``old`` on task ``examples``.

    ``old`` and ``new`` are model specs (``hf:PATH`` of a model or adapter folder, ``PATH``, or
    ``smollm2``). The adapter goes to ``out``; ``hf:OUT`` then loads the compatible new model.
    Interrupted training resumes from ``OUT/checkpoint`` when rerun with the same arguments.
    """
    from deltaeval.compat._lm_models import require_train

    require_train()
    from peft import LoraConfig, PeftModel, get_peft_model

    from deltaeval.backends import GenerationParams
    from deltaeval.backends.transformers_backend import TransformersBackend
    from deltaeval.compat._lm_data import data_hash, encode_examples
    from deltaeval.compat._lm_models import load_causal_lm, load_reference, resolve_model
    from deltaeval.compat._lm_train import torch_seed, train_adapter

    config = config or MuscleConfig()
    params = params or GenerationParams()
    old_ref = resolve_model(old, progress=progress)
    new_ref = resolve_model(new, progress=progress)
    new_backend = TransformersBackend(new_ref.folder, device="cpu")
    old_backend = TransformersBackend(old_ref.folder, device="cpu")
    _same_vocabulary(old_backend.tokenizer(), new_backend.tokenizer(), old, new)
    data = encode_examples(new_backend, examples, params, max_length=config.max_length)

    torch_seed(config.seed)
    base = load_causal_lm(new_ref.base)
    if new_ref.adapter is not None:
        model = PeftModel.from_pretrained(
            base, str(new_ref.adapter), adapter_name="default", is_trainable=True
        )
        if type(model.peft_config["default"]).__name__ != "LoraConfig":
            raise InputError(
                "the new model's adapter is not a LoRA adapter",
                path=new_ref.adapter,
                hint="use a LoRA adapter",
            )
        model.load_adapter(str(new_ref.adapter), adapter_name="task", is_trainable=False)
        model.set_adapter("default")
        task: tuple[str, Any] = ("adapter", "task")
        start = "the new model's task adapter"
    else:
        lora = LoraConfig(
            r=config.rank,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            target_modules=list(config.target_modules),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(base, lora)
        task = ("base", None)
        start = "a fresh LoRA adapter (equal to the new model)"
    if old_ref.base == new_ref.base and old_ref.adapter is None:
        old_how: tuple[str, Any] = ("base", None)
    elif old_ref.base == new_ref.base:
        model.load_adapter(str(old_ref.adapter), adapter_name="old", is_trainable=False)
        model.set_adapter("default")
        old_how = ("adapter", "old")
    else:
        old_how = ("model", load_reference(old_ref))
    teachers = _Teachers(model, old_how, task)

    def loss_fn(model: Any, batch: Mapping[str, Any]) -> tuple[Any, dict[str, int]]:
        old_logits, task_logits = teachers.logits(batch)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labels = batch["labels"][:, 1:]
        old_l, task_l, new_l = old_logits[:, :-1], task_logits[:, :-1], logits[:, :-1]
        loss = masked_distillation_loss(
            new_l, old_l, task_l, labels, temperature=config.temperature, ce_weight=config.ce_weight
        )
        from_old = token_from_old(old_l, task_l, labels)
        return loss, {"tokens": int((labels != IGNORE_INDEX).sum()), "tokens_from_old": int(from_old.sum())}

    recipe = {
        "method": "muscle",
        "old": {"folder": str(old_ref.folder), "base": str(old_ref.base)},
        "new": {"folder": str(new_ref.folder), "base": str(new_ref.base)},
        "adapter_start": start,
        "config": config.to_dict(),
        "params": params.to_dict(),
        "data_hash": data_hash(data),
        "examples": len(data),
    }
    tokenizer = new_backend.tokenizer()
    return train_adapter(
        model,
        data,
        pad_id=tokenizer.pad_token_id,
        loss_fn=loss_fn,
        out=Path(out),
        config=config,
        recipe=recipe,
        tokenizer=tokenizer,
        base_folder=new_ref.base,
        progress=progress,
        description="training MUSCLE adapter",
        on_step=on_step,
    )


#: Below this share of answer tokens distilled from the old model, :func:`distillation_notes`
#: warns: on its own training pool, a v2 adapter was right on all but 24 of 1,263 answer tokens
#: (1.9%) and MUSCLE cut 8% of its negative flips; trained on examples v2 had not been fitted to,
#: 51 of 1,263 (4.0%) and 27% (``bench/_compat_llm.py``, SmolLM2-135M, seed 0).
FEW_TOKENS_FROM_OLD = 0.02


def distillation_notes(counters: dict[str, int]) -> list[str]:
    """Notes on how much the adapter had to learn: none when enough tokens came from the old model."""
    tokens, from_old = counters.get("tokens", 0), counters.get("tokens_from_old", 0)
    if not tokens or from_old >= FEW_TOKENS_FROM_OLD * tokens:
        return []
    return [
        f"only {from_old} of {tokens} answer tokens ({from_old / tokens:.1%}) were distilled from the "
        "old model: on this training data the new model is already right wherever the old one is, so "
        "the adapter had little to learn; train it on task data the new model was not fine-tuned on "
        "(e.g. the old model's training data)"
    ]


def peak_memory_mb() -> float:
    """The process's peak resident memory so far, in MiB (Linux and macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


@dataclass
class MuscleResult:
    """The compatible run, the old and new runs it is compared with, and the training."""

    run: Run
    old_run: Run
    new_run: Run
    training: TrainResult
    seconds: float
    peak_memory_mb: float
    notes: list[str] = field(default_factory=list)


def check_disjoint(train: Sequence[Example], evaluation: Sequence[Example]) -> None:
    """Refuse training data that shares ids or inputs with the evaluation data."""
    ids = {e.id for e in train} & {e.id for e in evaluation}
    inputs = {repr(e.input) for e in train} & {repr(e.input) for e in evaluation}
    if ids or inputs:
        shared = sorted(ids)[:3] or sorted(inputs)[:1]
        raise UsageError(
            f"the training data shares {len(ids)} ids and {len(inputs)} inputs with the evaluation "
            f"data (e.g. {', '.join(shared)})",
            hint="train on examples the compatible model is not evaluated on (e.g. deltaeval.compat.split)",
        )


def muscle(
    old: str,
    new: str,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    *,
    out: str | os.PathLike[str],
    name: str,
    store: Any,
    config: MuscleConfig | None = None,
    params: Any = None,
    old_name: str | None = None,
    new_name: str | None = None,
    overwrite: bool = False,
    console: Any = None,
    quiet: bool = False,
    progress: Any = None,
    on_step: Callable[[int], None] | None = None,
) -> MuscleResult:
    """Train the MUSCLE adapter of ``new`` (:func:`train_muscle`), then answer ``eval_examples``
    with the old model, the new model and the compatible new model (``hf:OUT``), and save all
    three as runs in ``store``: the compatible one as ``name`` with its recipe (method
    ``muscle``), the others as ``old_name``/``new_name`` (default ``NAME.old``/``NAME.new``).

    ``store`` is a :class:`~deltaeval.store.Store`, a path, or None (the default store).
    Generation goes through the call cache, so a rerun repeats no finished call. Training and
    evaluation data must not overlap (ids or inputs).
    """
    from deltaeval.store import Store

    if not isinstance(store, Store):
        with Store(store) as db:
            return muscle(
                old,
                new,
                train_examples,
                eval_examples,
                out=out,
                name=name,
                store=db,
                config=config,
                params=params,
                old_name=old_name,
                new_name=new_name,
                overwrite=overwrite,
                console=console,
                quiet=quiet,
                progress=progress,
                on_step=on_step,
            )
    from deltaeval.backends import GenerationParams, get_backend
    from deltaeval.compat._lm_models import resolve_model
    from deltaeval.compat.runs import Recipe, derived_run, save_run
    from deltaeval.runner import run_model

    check_disjoint(train_examples, eval_examples)
    names = {"old": old_name or f"{name}.old", "new": new_name or f"{name}.new"}
    if not overwrite:
        from deltaeval.errors import StoreError

        if store.has_run(name):
            raise StoreError(
                f"a run named {name!r} is already stored", hint="choose another --name or --overwrite"
            )
        stored = {info.name: info.source for info in store.list_runs()}
        for role, run_name in names.items():
            if run_name in stored and stored[run_name] != f"deltaeval compat muscle ({role})":
                raise StoreError(
                    f"a run named {run_name!r} is already stored, not made by compat muscle",
                    hint=f"choose another --{role}-name, or pass --overwrite to replace it",
                )
    params = params or GenerationParams(max_tokens=32)
    config = config or MuscleConfig()
    started = time.perf_counter()
    training = train_muscle(
        old, new, train_examples, out, config=config, params=params, progress=progress, on_step=on_step
    )
    runs: dict[str, Run] = {}
    for role, spec in (("old", old), ("new", new), ("compat", f"hf:{Path(out).resolve()}")):
        hf_spec = resolve_model(spec).hf_spec
        with get_backend(hf_spec, device="cpu") as backend:
            run, _ = run_model(
                backend,
                eval_examples,
                params,
                name=names.get(role, name),
                store=store,
                source=f"deltaeval compat muscle ({role})",
                console=console,
                quiet=quiet,
                overwrite=True if role != "compat" else overwrite,
                save=role != "compat",
            )
        runs[role] = run
    counters = training.counters
    recipe = Recipe(
        method="muscle",
        parameters={
            **config.to_dict(),
            "old_model": resolve_model(old).hf_spec,
            "new_model": resolve_model(new).hf_spec,
            "adapter": str(Path(out).resolve()),
            "train_examples": len(train_examples),
            "tokens": counters.get("tokens", 0),
            "tokens_from_old": counters.get("tokens_from_old", 0),
            "final_loss": training.losses[-1] if training.losses else None,
            "generation": params.to_dict(),
        },
        sources={"old": runs["old"], "new": runs["new"]},
    )
    compat = derived_run(
        name,
        eval_examples,
        runs["compat"].outputs,
        recipe,
        model=f"hf:{Path(out).resolve()}",
    )
    save_run(compat, store, overwrite=overwrite)
    return MuscleResult(
        compat,
        runs["old"],
        runs["new"],
        training,
        time.perf_counter() - started,
        peak_memory_mb(),
        notes=distillation_notes(training.counters),
    )


__all__ = [
    "MuscleConfig",
    "MuscleResult",
    "check_disjoint",
    "distillation_notes",
    "masked_distillation_loss",
    "muscle",
    "peak_memory_mb",
    "token_from_old",
    "train_muscle",
]
