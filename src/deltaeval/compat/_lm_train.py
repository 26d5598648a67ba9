"""A resumable LoRA training loop for causal LMs (plain fine-tuning and MUSCLE share it).

Every ``checkpoint_every`` steps the adapter weights, the optimizer state and the step are written
to ``OUT/checkpoint/`` (atomically: a crash leaves the previous checkpoint). A rerun with the same
settings continues from there; the batches and the dropout noise of each step are pure functions
of the seed and the step number, so an interrupted and resumed run ends with the same adapter as
one that was never interrupted. Settings that differ from the checkpoint's are refused.

At the end the adapter is saved in ``OUT`` with peft's ``save_pretrained`` (its base model folder
recorded as an absolute path, so ``hf:OUT`` loads base + adapter), with the tokenizer beside it and
the recipe in ``OUT/deltaeval-recipe.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deltaeval.atomic_write import write_text_atomic
from deltaeval.compat._lm_data import IGNORE_INDEX, Encoded, batch_order, collate, data_hash
from deltaeval.errors import DeltaEvalError, UsageError

RECIPE_FILE = "deltaeval-recipe.json"
CHECKPOINT = "checkpoint"


class TrainingInterrupted(DeltaEvalError):
    """Training stopped (Ctrl-C); a rerun of the same command continues from the last checkpoint."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a LoRA training run.

    ``rank``, ``alpha``, ``dropout`` and ``target_modules`` shape a new adapter (an adapter that
    training continues keeps its own); ``max_length`` caps prompt + answer tokens (the prompt is
    cut from the left).
    """

    steps: int = 100
    batch_size: int = 4
    learning_rate: float = 2e-4
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    max_length: int = 128
    seed: int = 0
    checkpoint_every: int = 10

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "rank", "max_length", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise UsageError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise UsageError(f"learning_rate must be positive, not {self.learning_rate}")
        if not 0 <= self.dropout < 1:
            raise UsageError(f"dropout must be in [0, 1), not {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data


@dataclass
class TrainResult:
    """What training did: the adapter folder, steps, where it resumed, the losses of every step."""

    adapter: Path
    steps: int
    resumed_from: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)


def recipe_hash(recipe: Mapping[str, Any]) -> str:
    """SHA-256 of the settings that decide the trained weights (not where the result goes)."""
    text = json.dumps(recipe, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _save_checkpoint(model: Any, optimizer: Any, folder: Path, state: Mapping[str, Any]) -> None:
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    weights = {k: v.detach().contiguous().cpu() for k, v in get_peft_model_state_dict(model).items()}
    save_file(weights, str(partial / "adapter.safetensors"))
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    (partial / "state.json").write_text(json.dumps(dict(state), sort_keys=True), encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.replace(old)
    partial.replace(folder)
    shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(model: Any, optimizer: Any, folder: Path, wanted: str) -> dict[str, Any] | None:
    """Restore the adapter and optimizer from ``folder``; None when there is no checkpoint."""
    state_file = folder / "state.json"
    if not state_file.is_file():
        return None
    state = json.loads(state_file.read_text(encoding="utf-8"))
    if state.get("recipe_hash") != wanted:
        raise UsageError(
            "the output folder holds a checkpoint of training with other settings or data",
            path=folder,
            hint="rerun with the settings it was started with, choose another --out, or delete "
            "the checkpoint folder to start again",
        )
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(folder / "adapter.safetensors")))
    # tensors and plain values only: weights_only refuses anything else in the file
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    return state


def train_adapter(
    model: Any,
    data: Sequence[Encoded],
    *,
    pad_id: int,
    loss_fn: Callable[[Any, dict[str, Any]], tuple[Any, Mapping[str, int]]],
    out: Path,
    config: TrainConfig,
    recipe: Mapping[str, Any],
    tokenizer: Any,
    base_folder: Path,
    progress: Any = None,
    description: str = "training adapter",
    on_step: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train the trainable (LoRA) parameters of ``model`` on ``data`` for ``config.steps`` steps.

    ``loss_fn(model, batch)`` returns the loss and counters to add up (e.g. tokens per teacher).
    ``recipe`` (JSON-ready) must describe everything that decides the weights: a checkpoint made
    with another recipe is refused. ``on_step(step)`` runs after each step and its checkpoint.
    ``threads``: torch's CPU threads (default :func:`deltaeval.threads.cpu_threads`; process-wide).
    """
    import torch

    from deltaeval.threads import cpu_threads

    torch.set_num_threads(cpu_threads(threads))
    out.mkdir(parents=True, exist_ok=True)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise UsageError("the model has no trainable parameters", hint="train a LoRA adapter on it")
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    wanted = recipe_hash(recipe)
    checkpoint = out / CHECKPOINT
    state = _load_checkpoint(model, optimizer, checkpoint, wanted) or {}
    start = int(state.get("step", 0))
    losses: list[float] = list(state.get("losses", []))
    counters: dict[str, int] = dict(state.get("counters", {}))
    order = batch_order(len(data), config.batch_size, config.steps, config.seed)
    started = time.perf_counter()
    step = start
    task = None
    if progress is not None:
        task = progress.add_task(description, total=config.steps, completed=start)
    try:
        model.train()
        for step in range(start, config.steps):
            torch.manual_seed(config.seed * 1_000_003 + step)  # dropout noise: a function of the step
            batch = collate([data[i] for i in order[step]], pad_id)
            loss, counts = loss_fn(model, batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            for key, value in counts.items():
                counters[key] = counters.get(key, 0) + int(value)
            done = step + 1
            if done % config.checkpoint_every == 0 or done == config.steps:
                state = {"recipe_hash": wanted, "step": done, "losses": losses, "counters": counters}
                _save_checkpoint(model, optimizer, checkpoint, state)
            if task is not None:
                progress.advance(task)
            if on_step is not None:
                on_step(done)
    except KeyboardInterrupt:
        saved = (
            json.loads((checkpoint / "state.json").read_text()).get("step", 0) if checkpoint.exists() else 0
        )
        raise TrainingInterrupted(
            f"training interrupted after step {step} of {config.steps}; the last checkpoint is step {saved}",
            path=out,
            hint="rerun the same command to continue from the checkpoint",
        ) from None
    finally:
        if task is not None:
            progress.finish(task)
    model.eval()
    _save_adapter(model, out, tokenizer, base_folder)
    full_recipe = {**recipe, "recipe_hash": wanted, "final_loss": losses[-1] if losses else None}
    write_text_atomic(
        out / RECIPE_FILE, json.dumps(full_recipe, indent=2, sort_keys=True, default=str) + "\n"
    )
    return TrainResult(out, config.steps, start, losses, time.perf_counter() - started, counters)


def _save_adapter(model: Any, out: Path, tokenizer: Any, base_folder: Path) -> None:
    """The trained ("default") adapter in ``out``, its base recorded as an absolute folder."""
    model.save_pretrained(str(out), selected_adapters=["default"], safe_serialization=True)
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = str(Path(base_folder).resolve())
    config["inference_mode"] = True
    write_text_atomic(config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")
    tokenizer.save_pretrained(str(out))


def lm_loss(model: Any, batch: Mapping[str, Any]) -> tuple[Any, dict[str, int]]:
    """Cross-entropy of the answer tokens (plain fine-tuning)."""
    import torch.nn.functional as F

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    loss = F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )
    return loss, {"tokens": int((labels != IGNORE_INDEX).sum())}


def finetune_lora(
    base: str,
    examples: Sequence[Any],
    out: str | os.PathLike[str],
    *,
    config: TrainConfig | None = None,
    params: Any = None,
    progress: Any = None,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Plain LoRA fine-tuning of a local model on task examples (prompt → reference).

    ``base`` is a model spec (``hf:PATH``, ``PATH`` or ``smollm2``) of a whole model; the adapter
    goes to ``out`` (``hf:OUT`` then loads base + adapter). Resumable like every training here.
    """
    from deltaeval.compat._lm_models import require_train, resolve_model

    require_train()
    from peft import LoraConfig, get_peft_model

    from deltaeval.backends import GenerationParams
    from deltaeval.backends.transformers_backend import TransformersBackend
    from deltaeval.compat._lm_data import encode_examples
    from deltaeval.compat._lm_models import load_causal_lm

    config = config or TrainConfig()
    params = params or GenerationParams()
    ref = resolve_model(base, progress=progress)
    if ref.adapter is not None:
        raise UsageError(
            f"{base!r} is an adapter; plain fine-tuning starts from a whole model",
            hint="give the base model's folder",
        )
    backend = TransformersBackend(ref.folder, device="cpu")
    data = encode_examples(backend, examples, params, max_length=config.max_length)
    model = load_causal_lm(ref.base)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    torch_seed(config.seed)
    model = get_peft_model(model, lora)
    recipe = {
        "method": "lora",
        "base": str(ref.base),
        "config": config.to_dict(),
        "params": params.to_dict(),
        "data_hash": data_hash(data),
    }
    tokenizer = backend.tokenizer()
    return train_adapter(
        model,
        data,
        pad_id=tokenizer.pad_token_id,
        loss_fn=lm_loss,
        out=Path(out),
        config=config,
        recipe=recipe,
        tokenizer=tokenizer,
        base_folder=ref.base,
        progress=progress,
        description=f"fine-tuning LoRA on {ref.folder.name}",
        on_step=on_step,
    )


def torch_seed(seed: int) -> None:
    """Seed torch (a new adapter's initial weights are drawn from it)."""
    import torch

    torch.manual_seed(seed)
