"""The files and servers the README's commands expect, for running them verbatim (tests/test_readme.py).

Everything is made here, deterministically: two results files of a model update (``v1.jsonl``,
``v2.jsonl``; copies as ``baseline.jsonl``/``candidate.jsonl``; ``v2.csv`` with a ``pred`` column;
``v3.jsonl`` for ranking), AlpacaEval outputs and annotations, and Arena-Hard judgments. The
judge and proposer the README names at ``http://127.0.0.1:8000/v1`` (and Ollama's port 11434)
are real local OpenAI-compatible servers (tests/openai_server.py) whose answers
:class:`ReadmeAnswers` computes from each prompt: a pairwise judge that prefers the answer
matching the reference, a proposer naming one axis (length), and an axis judge that compares
lengths.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

from openai_server import ComputedAnswers

#: Examples in the results files; negative flips of v1 → v2 (few, so the README's gates pass).
N_EXAMPLES = 600
N_NEGATIVE_FLIPS = 3
CATEGORIES = ("arithmetic", "geography", "trivia")
CAPITALS = (
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Egypt", "Cairo"),
)
FACTS = (
    ("How many legs does a spider have?", "8"),
    ("What colour is a clear daytime sky?", "blue"),
    ("How many days are in a week?", "7"),
    ("What is the chemical symbol for gold?", "Au"),
)


def _question(i: int, rng: random.Random) -> tuple[str, str, str]:
    """(category, input, reference) of example ``i``."""
    category = CATEGORIES[i % len(CATEGORIES)]
    if category == "arithmetic":
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        return category, f"What is {a} + {b}?", str(a + b)
    if category == "geography":
        country, capital = CAPITALS[i % len(CAPITALS)]
        return category, f"What is the capital of {country}? (question {i})", capital
    question, answer = FACTS[i % len(FACTS)]
    return category, f"{question} (question {i})", answer


def _wrong(reference: str) -> str:
    return (
        f"I think it is {int(reference) + 1}" if reference.isdigit() else f"I believe it is not {reference}"
    )


def results_records(n: int = N_EXAMPLES, seed: int = 0) -> tuple[list[dict], list[dict], list[dict]]:
    """Records of v1, v2 and v3: v1 right on ~80%, v2 fixes half of v1's errors and breaks
    ``N_NEGATIVE_FLIPS`` examples, v3 is v2 with a few more errors."""
    rng = random.Random(seed)
    v1, v2, v3 = [], [], []
    broken = 0
    for i in range(n):
        category, text, reference = _question(i, rng)
        lang = "en" if i % 4 else "fr"
        v1_right = rng.random() < 0.8
        if v1_right:
            v2_right = broken >= N_NEGATIVE_FLIPS or i % 97 != 5
            broken += not v2_right
        else:
            v2_right = rng.random() < 0.5
        v3_right = v2_right and rng.random() < 0.9
        for records, right in ((v1, v1_right), (v2, v2_right), (v3, v3_right)):
            records.append(
                {
                    "id": f"q{i:04d}",
                    "input": text,
                    "output": reference if right else _wrong(reference),
                    "reference": reference,
                    "category": category,
                    "lang": lang,
                }
            )
    return v1, v2, v3


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _alpaca(folder: Path, generator: str, outputs: list[tuple[str, str]], baseline: list[str]) -> None:
    """AlpacaEval files: ``model_outputs.json`` and ``annotations.json`` against the baseline
    (the judge prefers the shorter answer, with a deterministic share of exceptions)."""
    folder.mkdir(parents=True, exist_ok=True)
    model_outputs, annotations = [], []
    for (instruction, output), base in zip(outputs, baseline, strict=True):
        model_outputs.append({"instruction": instruction, "output": output, "generator": generator})
        flip = int(hashlib.sha256((generator + instruction).encode()).hexdigest(), 16) % 5 == 0
        model_wins = (len(output) < len(base)) != flip
        annotations.append(
            {
                "instruction": instruction,
                "output_1": base,
                "generator_1": "gpt4_1106_preview",
                "output_2": output,
                "generator_2": generator,
                "annotator": "weighted_alpaca_eval_gpt4_turbo",
                "preference": 1.8 if model_wins else 1.2,
            }
        )
    (folder / "model_outputs.json").write_text(json.dumps(model_outputs, indent=1), encoding="utf-8")
    (folder / "annotations.json").write_text(json.dumps(annotations, indent=1), encoding="utf-8")


def write_alpaca_files(root: Path, n: int = 60) -> None:
    """``sft/`` and ``rlhf/`` (model outputs, annotations), ``gpt4_1106_preview_outputs.json``,
    and ``results/{sft,rlhf}/annotations.json`` for ``winrate``."""
    instructions = [f"Explain topic number {i} to a new colleague." for i in range(n)]
    baseline = [f"Topic {i} is explained here in a few clear and friendly sentences." for i in range(n)]
    sft = [(q, f"Topic {i}: a short answer.") for i, q in enumerate(instructions)]
    rlhf = [
        (q, f"Sure! Topic {i} is a great question, and here is a long and detailed answer about it.")
        for i, q in enumerate(instructions)
    ]
    base_records = [
        {"instruction": q, "output": b, "generator": "gpt4_1106_preview"}
        for q, b in zip(instructions, baseline, strict=True)
    ]
    (root / "gpt4_1106_preview_outputs.json").write_text(json.dumps(base_records), encoding="utf-8")
    for folder in (root, root / "results"):
        _alpaca(folder / "sft", "sft", sft, baseline)
        _alpaca(folder / "rlhf", "rlhf", rlhf, baseline)


def write_arena_judgments(root: Path, n: int = 40) -> None:
    """``model_judgment/gpt-4/{model-a,model-b}.jsonl``: two games per question against a baseline."""
    folder = root / "model_judgment" / "gpt-4"
    folder.mkdir(parents=True, exist_ok=True)
    labels = ("A>B", "B>A", "A=B", "B>>A", "A>>B")
    for k, model in enumerate(("model-a", "model-b")):
        lines = []
        for i in range(n):
            first = labels[(i + k) % len(labels)]
            second = labels[(i * 3 + k) % len(labels)]
            games = [{"score": first, "judgment": "..."}, {"score": second, "judgment": "..."}]
            lines.append({"question_id": f"arena-{i}", "model": model, "judge": "gpt-4", "games": games})
        _write_jsonl(folder / f"{model}.jsonl", lines)


def write_all(root: Path) -> None:
    """Every file the README's commands read, in ``root``."""
    v1, v2, v3 = results_records()
    _write_jsonl(root / "v1.jsonl", v1)
    _write_jsonl(root / "v2.jsonl", v2)
    _write_jsonl(root / "v3.jsonl", v3)
    _write_jsonl(root / "baseline.jsonl", v1)
    _write_jsonl(root / "candidate.jsonl", v2)
    with open(root / "v2.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "input", "pred", "reference", "lang"])
        writer.writeheader()
        for r in v2:
            writer.writerow(
                {
                    "id": r["id"],
                    "input": r["input"],
                    "pred": r["output"],
                    "reference": r["reference"],
                    "lang": r["lang"],
                }
            )
    write_alpaca_files(root)
    write_arena_judgments(root)
    write_classifier_files(root)
    write_weight_files(root)


def _save_safetensors(path: Path, tensors: dict[str, Any]) -> None:
    """A safetensors file written by hand (8-byte header size, JSON header, raw little-endian data)."""
    import numpy as np

    tensors = {name: np.ascontiguousarray(array, dtype="<f4") for name, array in tensors.items()}
    header: dict[str, Any] = {}
    offset = 0
    for name, array in tensors.items():
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as handle:
        handle.write(len(raw).to_bytes(8, "little") + raw)
        for array in tensors.values():
            handle.write(array.tobytes())


def write_weight_files(root: Path) -> None:
    """The "What changed in the weights" pair: a small Llama-shaped checkpoint (``base.safetensors``)
    and the same with a rank-8 LoRA-style update ``B @ A`` merged into every layer's q and v
    projections (``merged.safetensors``)."""
    import numpy as np

    rng = np.random.default_rng(0)
    hidden, inner, vocab, layers, rank = 128, 256, 512, 4, 8
    base: dict[str, Any] = {"model.embed_tokens.weight": rng.normal(0, 0.02, (vocab, hidden))}
    for i in range(layers):
        prefix = f"model.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            base[f"{prefix}self_attn.{name}.weight"] = rng.normal(0, 0.02, (hidden, hidden))
        base[f"{prefix}mlp.gate_proj.weight"] = rng.normal(0, 0.02, (inner, hidden))
        base[f"{prefix}mlp.up_proj.weight"] = rng.normal(0, 0.02, (inner, hidden))
        base[f"{prefix}mlp.down_proj.weight"] = rng.normal(0, 0.02, (hidden, inner))
        base[f"{prefix}input_layernorm.weight"] = np.ones(hidden)
        base[f"{prefix}post_attention_layernorm.weight"] = np.ones(hidden)
    base["model.norm.weight"] = np.ones(hidden)
    base["lm_head.weight"] = rng.normal(0, 0.02, (vocab, hidden))
    merged = dict(base)
    for i in range(layers):
        for name in ("q_proj", "v_proj"):
            key = f"model.layers.{i}.self_attn.{name}.weight"
            merged[key] = base[key] + rng.normal(0, 0.01, (hidden, rank)) @ rng.normal(
                0, 0.01, (rank, hidden)
            )
    _save_safetensors(root / "base.safetensors", base)
    _save_safetensors(root / "merged.safetensors", merged)


def write_classifier_files(root: Path) -> None:
    """The "Fixing regressions" files: a digits classifier update (scikit-learn's bundled data).

    ``v1.joblib`` (logistic regression on 300 training rows), ``train.jsonl`` and ``test.jsonl``
    (feature rows and labels; test rows that repeat a training image are left out) and the two
    versions' test predictions with their confidence, ``clf-v1.jsonl`` and ``clf-v2.jsonl`` (v2:
    the same model on all 1,200 training rows).
    """
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    seen = {tuple(row) for row in x[:1200]}
    test = [i for i in range(1200, len(y)) if tuple(x[i]) not in seen]
    v1 = LogisticRegression(max_iter=3000).fit(x[:300], y[:300])
    v2 = LogisticRegression(max_iter=3000).fit(x[:1200], y[:1200])
    joblib.dump(v1, root / "v1.joblib")

    def rows(indices: list[int]) -> list[dict]:
        return [{"id": f"d{i:04d}", "input": x[i].tolist(), "reference": str(y[i])} for i in indices]

    _write_jsonl(root / "train.jsonl", rows(list(range(1200))))
    _write_jsonl(root / "test.jsonl", rows(test))
    for name, model in (("clf-v1", v1), ("clf-v2", v2)):
        proba = model.predict_proba(x[test])
        predictions = [
            {**row, "input": f"digit image {row['id']}", "output": str(model.classes_[p.argmax()]),
             "confidence": round(float(p.max()), 6)}
            for row, p in zip(rows(test), proba, strict=True)
        ]  # fmt: skip
        _write_jsonl(root / f"{name}.jsonl", predictions)


# -- the judge and proposer's answers ---------------------------------------------------------------

_ANSWER_RE = re.compile(r"<answer_A>\n(.*?)\n</answer_A>.*?<answer_B>\n(.*?)\n</answer_B>", re.DOTALL)
_REFERENCE_RE = re.compile(r"<reference_answer>\n(.*?)\n</reference_answer>", re.DOTALL)


def _pairwise(prompt: str) -> str:
    """A pairwise judge: the answer equal to the reference wins, else the shorter one; ties equal."""
    match = _ANSWER_RE.search(prompt)
    if match is None:
        return "[[A=B]]"
    a, b = (s.strip() for s in match.groups())
    reference = _REFERENCE_RE.search(prompt)
    if reference is not None:
        ref = reference.group(1).strip()
        if (a == ref) != (b == ref):
            return "A matches the reference. [[A>B]]" if a == ref else "B matches the reference. [[B>A]]"
    if len(a) == len(b):
        return "Equally good. [[A=B]]"
    return "A is more concise. [[A>B]]" if len(a) < len(b) else "B is more concise. [[B>A]]"


LENGTH_AXIS = {"name": "verbosity", "high": "long, wordy answers", "low": "short, direct answers"}


class ReadmeAnswers(ComputedAnswers):
    """Answers computed from each prompt (the server looks them up with ``get``)."""

    def get(self, prompt: str, default: str | None = None) -> str:  # type: ignore[override]
        if "<answer_A>" in prompt or "verdict label" in prompt:
            return _pairwise(prompt)
        if prompt.startswith("Below are") or "JSON list" in prompt:  # the proposer
            return json.dumps([LENGTH_AXIS])
        if "answered very differently" in prompt:  # describing a cluster of changes
            return "The new answers are shorter."
        if "Property:" in prompt:  # an axis judge: which response is wordier
            first = prompt.split("### Response A\n")[-1].split("### Response B\n")[0]
            second = prompt.split("### Response B\n")[-1].split("\n\nWhich response")[0]
            if len(first.strip()) == len(second.strip()):
                return "equal"
            return "A" if len(first) > len(second) else "B"
        return "OK"
