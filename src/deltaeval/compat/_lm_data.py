"""Task examples as token batches for training a causal LM: prompt tokens masked, answer learned.

Each example's prompt is rendered exactly as the ``hf:`` backend renders it for generation (the
tokenizer's chat template, else plain text), so the model learns in the form it is asked in; the
target is the example's reference followed by the end-of-sequence token. Labels are -100 on the
prompt and on padding, so only answer tokens count.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deltaeval.errors import InputError
from deltaeval.types import Example

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Encoded:
    """One example as token ids: ``input_ids`` (prompt + answer) and ``labels`` (-100 on the prompt)."""

    example_id: str
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


def encode_examples(
    backend: Any, examples: Sequence[Example], params: Any, *, max_length: int
) -> list[Encoded]:
    """Token ids of prompt + reference + EOS for each example (the prompt cut from the left to fit).

    ``backend`` is a :class:`~deltaeval.backends.transformers_backend.TransformersBackend` (it
    renders the prompt and owns the tokenizer). Examples without a reference are refused.
    """
    tokenizer = backend.tokenizer()
    chat = backend.uses_chat_template()
    eos = tokenizer.eos_token_id
    encoded = []
    for example in examples:
        if example.reference is None or not str(example.reference).strip():
            raise InputError(
                f"example {example.id!r} has no reference to learn from",
                hint="training data needs a reference column (the answer the model should give)",
            )
        prompt = tokenizer(backend.render_prompt(example, params), add_special_tokens=not chat)["input_ids"]
        answer = tokenizer(str(example.reference), add_special_tokens=False)["input_ids"]
        if eos is not None:
            answer = [*answer, eos]
        answer = answer[: max(1, max_length - 1)]
        prompt = prompt[-(max_length - len(answer)) :] if max_length > len(answer) else prompt[-1:]
        ids = [*prompt, *answer]
        labels = [IGNORE_INDEX] * len(prompt) + list(answer)
        encoded.append(Encoded(example.id, tuple(ids), tuple(labels)))
    return encoded


def data_hash(items: Sequence[Encoded]) -> str:
    """SHA-256 of the encoded examples, in order (what a checkpoint was trained on)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.example_id, item.input_ids, item.labels]).encode())
    return digest.hexdigest()


def collate(items: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """A right-padded batch: ``input_ids``, ``attention_mask`` and ``labels`` (torch tensors)."""
    import torch

    width = max(len(item.input_ids) for item in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item.input_ids)
        ids[row, :n] = torch.tensor(item.input_ids)
        labels[row, :n] = torch.tensor(item.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def batch_order(n: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Indices of each step's batch: a fresh seeded shuffle per pass over the data.

    A pure function of its arguments, so a resumed training run sees the same batches.
    """
    import numpy as np

    order: list[list[int]] = []
    epoch = 0
    pending: list[int] = []
    while len(order) < steps:
        if len(pending) < batch_size:
            perm = np.random.default_rng([seed, epoch]).permutation(n).tolist()
            pending.extend(perm)
            epoch += 1
            if n < batch_size:
                continue
        order.append(pending[:batch_size])
        pending = pending[batch_size:]
    return order
