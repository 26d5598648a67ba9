"""datadiff on real inputs: the AlpacaEval instructions against shifted subsets, and random splits.

1. Known shifts: the 805 instructions split at random in two halves; the old data is one half,
   the new data is drawn from the other half with a known bias. The report's top differences
   should name the bias.
   - ``length``: instructions drawn with probability proportional to their length rank squared
     (longer more likely), 250 of the 403.
   - ``question``: only the instructions that ask a question (contain ``?``).
   - ``source``: only the instructions from one source (AlpacaEval's ``dataset`` field, here
     ``vicuna``); no feature names the source, so the clusters and the classifier have to find it.
   With ``--run``-style data: oasst-rlhf-llama-33b's wins over the baseline (annotation preference > 1.5)
   as correctness on the old half, reweighted to each shifted new set, against its actual win rate
   there (the accuracy the reweighting should predict).
2. No shift: the same instructions split at random in two halves, 50 times (``--quick``: 10);
   the rate at which each two-sample test (classifier, MMD) rejects at 0.05, with its
   Clopper–Pearson interval, and the rate at which any feature or cluster is called different.

3. Importance weighting on a synthetic covariate shift (30 repetitions; ``--quick``: 10): word-salad
   inputs, a code block in 20% of the old and 70% of the new; a code input is answered right
   with probability 0.4, any other with 0.9, so the accuracy on the new distribution is 0.55.
   Printed: the mean reweighted estimate, its bias, and how often the interval holds 0.55.

Usage: ``python bench/datadiff.py [--quick] [--embed minilm|tfidf] [--data DIR]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _alpaca import DEFAULT_DATA

from deltaeval.datadiff import datadiff
from deltaeval.stats import proportion_ci
from deltaeval.types import Example, Output, Run

#: The model whose wins over the baseline serve as correctness (the strongest of the five).
RUN_MODEL = "oasst-rlhf-llama-33b"


def _load(data: Path) -> tuple[list[str], list[str], list[bool]]:
    records = json.loads((data / "alpaca-7b" / "model_outputs.json").read_text(encoding="utf-8"))
    notes = json.loads((data / RUN_MODEL / "annotations.json").read_text(encoding="utf-8"))
    wins = {a["instruction"]: (a.get("preference") or 1.0) > 1.5 for a in notes}
    texts = [r["instruction"] for r in records]
    return texts, [r["dataset"] for r in records], [wins.get(t, False) for t in texts]


def _as_run(name: str, texts: list[str], rows: np.ndarray, wins: list[bool]) -> Run:
    examples = tuple(Example(id=str(i), input=texts[i]) for i in rows)
    outputs = tuple(Output(example_id=str(i), text="", correct=wins[i]) for i in rows)
    return Run(name=name, examples=examples, outputs=outputs)


def _vectors(texts: list[str], embed: str) -> np.ndarray | None:
    if embed != "minilm":
        return None
    from deltaeval.behaviour.embedding import load_minilm

    start = time.perf_counter()
    out = np.asarray(load_minilm().encode(texts), dtype=float)
    print(f"MiniLM embeddings of {len(texts)} instructions: {time.perf_counter() - start:.1f} s")
    return out


def _run(
    texts: list[str],
    vectors: np.ndarray | None,
    old: np.ndarray,
    new: np.ndarray,
    seed: int,
    wins: list[bool] | None = None,
) -> dict:
    kwargs: dict = {"embed": "tfidf"} if vectors is None else {"vectors": vectors[np.concatenate([old, new])]}
    if wins is not None:
        kwargs.update(run=_as_run("old", texts, old, wins), new_run=_as_run("new", texts, new, wins))
    old_data = [Example(id=str(i), input=texts[i]) for i in old]
    new_data = [Example(id=str(i), input=texts[i]) for i in new]
    report = datadiff(old_data, new_data, permutations=500, n_boot=1000, seed=seed, **kwargs)
    return report["datadiff"]


def _shifts(texts: list[str], sources: list[str], rng: np.random.Generator) -> dict[str, tuple]:
    order = rng.permutation(len(texts))
    half_a, half_b = np.sort(order[: len(texts) // 2]), np.sort(order[len(texts) // 2 :])
    lengths = np.array([len(texts[i]) for i in half_b], dtype=float)
    rank = lengths.argsort().argsort() + 1.0
    long_biased = np.sort(rng.choice(half_b, size=250, replace=False, p=rank**2 / (rank**2).sum()))
    questions = np.array([i for i in half_b if "?" in texts[i]])
    vicuna = np.array([i for i in half_b if sources[i] == "vicuna"])
    return {
        "length": (half_a, long_biased, "longer instructions (length-rank²-biased sample)"),
        "question": (half_a, questions, "only instructions with a question mark"),
        "source": (half_a, vicuna, "only the vicuna source"),
    }


def _show(name: str, truth: str, section: dict) -> None:
    print(f"\n[{name}] planted: {truth}; old n={section['old']['n']}, new n={section['new']['n']}")
    clf, mmd = section["classifier"], section["mmd"]
    print(
        f"  classifier AUROC {clf['auroc']['value']:.3f} [{clf['auroc']['ci'][0]:.3f},"
        f" {clf['auroc']['ci'][1]:.3f}] p={clf['p_value']:.2g}; MMD p={mmd['p_value']:.3g}"
    )
    for f in section["features"][:3]:
        mark = "*" if f["significant"] else " "
        print(f"  {mark} feature {f['label']}: {f['old']:.3g} -> {f['new']:.3g} (q={f['q_value']:.2g})")
    for c in section["clusters"][:2]:
        change = f"{c['old']:.1%} -> {c['new']:.1%}"
        print(f"    cluster [{c['label']}] {c['status']}: {change} (q={c['q_value']:.2g})")
    acc = section.get("accuracy")
    if acc:
        rew = acc["reweighted_accuracy"]
        print(
            f"    {RUN_MODEL} win rate: old {acc['old_accuracy']['value']:.1%}, reweighted {rew['value']:.1%}"
            f" [{rew['ci'][0]:.1%}, {rew['ci'][1]:.1%}] (ESS {acc['effective_sample_size']:.0f}),"
            f" actual on the new set {acc['new_accuracy']['value']:.1%}"
        )
    top = section["examples"]["most_new"][:2]
    for e in top:
        print(f"    most new-like: {e['text'][:90]!r}")


def _weighting(repeats: int) -> None:
    import random

    words = ["apple", "banana", "cherry", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    code = "\n```python\ndef area(width, height):\n    return width * height\n```"
    truth = 0.7 * 0.4 + 0.3 * 0.9
    estimates, holds, ess = [], 0, []
    for r in range(repeats):
        rng = random.Random(r)

        def texts(share: float, rng: random.Random = rng) -> list[str]:
            return [
                " ".join(rng.choice(words) for _ in range(rng.randint(6, 30)))
                + (code if rng.random() < share else "")
                for _ in range(300)
            ]

        old, new = texts(0.2), texts(0.7)
        wins = [rng.random() < (0.4 if code in t else 0.9) for t in old]
        rows = np.arange(len(old))
        section = datadiff(old, new, _as_run("old", old, rows, wins), embed="tfidf", permutations=99, seed=r)
        acc = section["datadiff"]["accuracy"]
        low, high = acc["reweighted_accuracy"]["ci"]
        estimates.append(acc["reweighted_accuracy"]["value"])
        ess.append(acc["effective_sample_size"])
        holds += low <= truth <= high
    mean = float(np.mean(estimates))
    print(
        f"\nimportance weighting, synthetic covariate shift ({repeats} x 300 old / 300 new,"
        f" truth {truth:.3f}):"
        f" mean estimate {mean:.3f} (bias {mean - truth:+.3f}), mean ESS {np.mean(ess):.0f},"
        f" interval holds the truth {holds}/{repeats}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="10 random splits instead of 50")
    parser.add_argument("--embed", choices=("minilm", "tfidf"), default="minilm")
    parser.add_argument("--splits", type=int, default=None)
    args = parser.parse_args()
    texts, sources, wins = _load(args.data)
    vectors = _vectors(texts, args.embed)
    print(f"{len(texts)} AlpacaEval instructions; MMD vectors: {args.embed}")

    rng = np.random.default_rng(0)
    for name, (old, new, truth) in _shifts(texts, sources, rng).items():
        _show(name, truth, _run(texts, vectors, old, new, seed=0, wins=wins))

    splits = args.splits or (10 if args.quick else 50)
    rejects = {"classifier": 0, "mmd": 0, "feature": 0, "cluster": 0}
    start = time.perf_counter()
    for s in range(splits):
        order = np.random.default_rng(1000 + s).permutation(len(texts))
        half = len(texts) // 2
        section = _run(texts, vectors, np.sort(order[:half]), np.sort(order[half:]), seed=s)
        rejects["classifier"] += section["classifier"]["p_value"] < 0.05
        rejects["mmd"] += section["mmd"]["p_value"] < 0.05
        rejects["feature"] += any(f["significant"] for f in section["features"])
        rejects["cluster"] += any(c["status"] != "same" for c in section["clusters"])
    elapsed = time.perf_counter() - start
    print(f"\nrandom splits (no shift): {splits} splits, {elapsed / splits:.1f} s each")
    for key, label in (
        ("classifier", "classifier test p < 0.05"),
        ("mmd", "MMD test p < 0.05"),
        ("feature", "any feature significant (BH 0.05)"),
        ("cluster", "any cluster grew/shrank (BH 0.05)"),
    ):
        k = int(rejects[key])
        low, high = proportion_ci(k, splits)
        print(f"  {label}: {k}/{splits} = {k / splits:.1%} [{low:.1%}, {high:.1%}] (Clopper-Pearson 95%)")
    _weighting(10 if args.quick else 30)


if __name__ == "__main__":
    main()
