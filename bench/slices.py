"""Benchmark: slice discovery finds planted regressions on the real AlpacaEval instructions.

The examples are the 805 real AlpacaEval instructions (with their ``dataset`` tag). Correctness
is synthesised on them: each example is a negative flip with probability 3% (the background) or
30% inside the planted slice, a positive flip with probability 3%, and otherwise right on both
sides when the real ``oasst-sft-llama-33b`` answer beat the baseline in the real annotation
(wrong on both otherwise). The planted slice is defined by an input property, checked here with
the benchmark's own rules (not deltaeval's features): a year or month named, code in the
instruction, a length band, digits in a question; only properties holding 2–5% of the examples
are used, seed ``s`` plants property ``s mod k``.

Per seed, on the same events and the same binned features:

* deltaeval: ``discover_slices`` (Fisher one-sided, BH on the discovery half, Holm on the
  confirmation half); found = a confirmed slice with Jaccard >= 0.5 to the planted one;
* SliceLine (the ``sliceline`` package, bench only — in no runtime extra):
  ``Slicefinder(alpha=0.95, k=1, max_l=2, min_sup=<deltaeval's min support>)`` (its default
  alpha 0.6 returns no slice here) on the features' disjoint categories (tag values,
  the quantile bins, the flags); found = its top slice has Jaccard >= 0.5 to the planted one.
  SliceLine ranks slices and tests nothing: any slice it returns counts as reported.

The ceiling: the share of seeds where the planted slice itself, named in advance (one test, no
search), passes a one-sided Fisher test at alpha on the confirmation half alone — no held-out
method can confirm more often. Then the same with nothing planted (3% everywhere): the share of
runs reporting any slice.
Also prints, for reference, what deltaeval confirms on the real sft -> rlhf pair.

With ``--topic``, a topic (food or cooking, by the benchmark's own word list) is planted too:
only the clusters of the inputs can express it, and ``--vectors minilm`` clusters the inputs'
MiniLM embeddings (the ``vectors`` parameter of ``input_atoms``) instead of their TF-IDF vectors.

Run from the repository root: ``python bench/slices.py [--seeds 50] [--quick] [--topic]
[--vectors tfidf|minilm]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _alpaca import DEFAULT_DATA

from deltaeval.analysis.slice_discovery import (
    build_candidates,
    discover_slices,
    fisher_greater,
    jaccard,
    slice_masks,
    split_halves,
)
from deltaeval.slices.api import DISCOVERY_ALPHA, MAX_CONJUNCTIONS, default_min_support
from deltaeval.slices.features import input_atoms
from deltaeval.stats import proportion_ci

BACKGROUND = 0.03
INSIDE = 0.30
POSITIVE = 0.03
OLD = "oasst-sft-llama-33b"
NEW = "oasst-rlhf-llama-33b"

PROPERTIES = {
    "names a year or a month": lambda t: (
        re.search(
            r"\b(1[6-9]\d\d|20\d\d)\b|\b(January|February|March|April|June|July|August|September|October"
            r"|November|December)\b",
            t,
        )
        is not None
    ),
    "contains code": lambda t: (
        re.search(r"```|\bdef |\bfunction\b|[{};]\s*$|\bSELECT\b|</?\w+>", t, re.M) is not None
    ),
    "400 to 750 characters": lambda t: 400 <= len(t.strip()) < 750,
    "a question with digits": lambda t: "?" in t and re.search(r"\d", t) is not None,
    "under 30 characters": lambda t: len(t.strip()) < 30,
}
#: With ``--topic``: a topic, which only the input clusters can express.
TOPIC = {
    "about food or cooking": lambda t: (
        re.search(
            r"\b(recipes?|cook|cooking|bake|baking|dish|dishes|food|meal|ingredients?|soup|sauce|dessert"
            r"|cuisine)\b",
            t,
            re.I,
        )
        is not None
    )
}


def load(data: Path) -> tuple[list[str], list[str], list[str], dict[str, np.ndarray]]:
    outputs = json.loads((data / OLD / "model_outputs.json").read_text())
    inputs = [r["instruction"] for r in outputs]
    datasets = [r["dataset"] for r in outputs]
    ids = [f"alpaca-{i:03d}" for i in range(len(inputs))]
    wins = {}
    for model in (OLD, NEW):
        notes = json.loads((data / model / "annotations.json").read_text())
        by_instruction = {r["instruction"]: (r["preference"] or 0.0) > 1.5 for r in notes}
        wins[model] = np.array([by_instruction.get(t, False) for t in inputs], dtype=bool)
    return ids, inputs, datasets, wins


def sliceline_matrix(atoms) -> tuple[np.ndarray, list[str]]:
    """One column per feature: each example's disjoint category (tag value, bin or flag side)."""
    features = sorted({a.feature for a in atoms if a.category is not None})
    n = atoms[0].mask.size
    X = np.full((n, len(features)), "(none)", dtype=object)
    for a in atoms:
        if a.category is not None:
            X[a.mask, features.index(a.feature)] = a.category
    return X, features


def sliceline_run(X: np.ndarray, errors: np.ndarray, min_sup: int) -> tuple[list[np.ndarray], float]:
    from sliceline.slicefinder import Slicefinder

    start = time.perf_counter()
    finder = Slicefinder(alpha=0.95, k=1, max_l=2, min_sup=min_sup, verbose=False)
    try:
        finder.fit(X, errors.astype(float))
        slices = finder.top_slices_
    except Exception:  # SliceLine raises when no slice beats the average
        slices = np.zeros((0, X.shape[1]))
    elapsed = time.perf_counter() - start
    masks = []
    for row in slices:
        mask = np.ones(X.shape[0], dtype=bool)
        for j, value in enumerate(row):
            if value is not None:
                mask &= X[:, j] == value
        masks.append(mask)
    return masks, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="10 seeds")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--discovery-alpha", type=float, default=DISCOVERY_ALPHA)
    parser.add_argument("--topic", action="store_true", help="also plant a topic: " + ", ".join(TOPIC))
    parser.add_argument(
        "--vectors",
        choices=("tfidf", "minilm"),
        default="tfidf",
        help="cluster the inputs' TF-IDF vectors (the default) or their MiniLM embeddings (deltaeval[embed])",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="use every instruction this many times (independent outcomes): how recall grows with n",
    )
    args = parser.parse_args()
    seeds = 10 if args.quick else args.seeds
    ids, inputs, datasets, wins = load(args.data)
    if args.repeat > 1:
        ids = [f"{i}-r{r}" for r in range(args.repeat) for i in ids]
        inputs, datasets = inputs * args.repeat, datasets * args.repeat
        wins = {m: np.tile(w, args.repeat) for m, w in wins.items()}
    n = len(ids)
    load_before = os.getloadavg()

    vectors = None
    if args.vectors == "minilm":
        from deltaeval.behaviour.embedding import load_minilm

        start = time.perf_counter()
        model = load_minilm()
        vectors = np.asarray(model.encode(inputs), dtype=float)
        print(f"{model.name}: {len(inputs)} inputs embedded in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    atoms = input_atoms(inputs, {"dataset": datasets}, vectors=vectors)
    min_support = default_min_support(n)
    candidates = build_candidates(atoms, min_support=min_support, max_conjunctions=MAX_CONJUNCTIONS)
    feature_time = time.perf_counter() - start
    X, _ = sliceline_matrix(atoms)

    planted = {}
    for name, rule in (PROPERTIES | TOPIC if args.topic else PROPERTIES).items():
        mask = np.array([rule(t) for t in inputs], dtype=bool)
        share = mask.mean()
        print(
            f"property {name!r}: {mask.sum()} examples ({share:.1%})", "used" if 0.02 <= share <= 0.05 else ""
        )
        if 0.02 <= share <= 0.05:
            planted[name] = mask
    names = list(planted)
    print(
        f"{n} examples, {len(candidates.descriptions)} candidates (min support {min_support}), "
        f"features and candidates {feature_time:.2f} s"
    )

    def events(rng: np.random.Generator, inside: np.ndarray | None) -> np.ndarray:
        rate = np.full(n, BACKGROUND)
        if inside is not None:
            rate[inside] = INSIDE
        return rng.random(n) < rate

    rows = {
        "deltaeval": {"found": 0, "false": 0, "time": 0.0, "null_any": 0, "slices": 0},
        "sliceline": {"found": 0, "false": 0, "time": 0.0, "null_any": 0, "slices": 0},
    }
    per_property = {name: [0, 0] for name in names}
    ceiling = 0
    for seed in range(seeds):
        name = names[seed % len(names)]
        truth = planted[name]
        ev = events(np.random.default_rng(seed), truth)
        t0 = time.perf_counter()
        result = discover_slices(
            ev, candidates, ids, alpha=args.alpha, discovery_alpha=args.discovery_alpha, seed=seed
        )
        rows["deltaeval"]["time"] += time.perf_counter() - t0
        masks = slice_masks(result, candidates)
        hit = any(jaccard(m, truth) >= 0.5 for m in masks)
        rows["deltaeval"]["found"] += hit
        rows["deltaeval"]["slices"] += len(masks)
        rows["deltaeval"]["false"] += sum(jaccard(m, truth) < 0.5 and not (m & truth).any() for m in masks)
        second = ~split_halves(ids, seed)
        k_in, n_in = int((ev & truth & second).sum()), int((truth & second).sum())
        ceiling += (
            fisher_greater(np.array([k_in]), np.array([n_in]), int((ev & second).sum()), int(second.sum()))[0]
            <= args.alpha
        )
        per_property[name][0] += hit
        per_property[name][1] += 1
        sl_masks, elapsed = sliceline_run(X, ev, min_support)
        rows["sliceline"]["time"] += elapsed
        rows["sliceline"]["found"] += any(jaccard(m, truth) >= 0.5 for m in sl_masks)
        rows["sliceline"]["slices"] += len(sl_masks)
        rows["sliceline"]["false"] += sum(not (m & truth).any() for m in sl_masks)
        found = "; ".join(s.description for s in result.confirmed) or "-"
        print(f"  seed {seed:2d} planted {name!r}: deltaeval {'FOUND' if hit else 'missed'} ({found})")
    for seed in range(seeds):
        ev = events(np.random.default_rng(10_000 + seed), None)
        t0 = time.perf_counter()
        result = discover_slices(
            ev, candidates, ids, alpha=args.alpha, discovery_alpha=args.discovery_alpha, seed=seed
        )
        rows["deltaeval"]["time"] += time.perf_counter() - t0
        rows["deltaeval"]["null_any"] += bool(result.confirmed)
        sl_masks, elapsed = sliceline_run(X, ev, min_support)
        rows["sliceline"]["time"] += elapsed
        rows["sliceline"]["null_any"] += bool(sl_masks)

    print()
    print(f"{seeds} planted seeds (NFR {INSIDE:.0%} inside, {BACKGROUND:.0%} outside) and {seeds} null seeds")
    print(
        f"{'method':<10} {'recall':>8} {'false-slice rate (null)':>24} {'disjoint slices (planted)':>26} "
        f"{'time/run':>10}"
    )
    for method, r in rows.items():
        print(
            f"{method:<10} {r['found'] / seeds:>8.0%} {r['null_any'] / seeds:>24.0%} "
            f"{r['false']:>14d} of {r['slices']:<9d} {r['time'] / (2 * seeds) * 1000:>8.1f} ms"
        )
    print(
        "ceiling (the planted slice named in advance, one test on the confirmation half): "
        f"{ceiling / seeds:.0%}"
    )
    for what, k in (
        ("recall", rows["deltaeval"]["found"]),
        ("null runs with a slice", rows["deltaeval"]["null_any"]),
    ):
        low, high = proportion_ci(k, seeds)
        print(f"deltaeval {what}: {k}/{seeds}, 95% Clopper-Pearson [{low:.1%}, {high:.1%}]")
    print("deltaeval recall by planted property:")
    for name, (hit, total) in per_property.items():
        print(f"  {name!r} ({planted[name].sum()} examples): {hit}/{total}")
    print(f"deltaeval time/run excludes the features and candidates, computed once: {feature_time:.2f} s")

    old, new = wins[OLD], wins[NEW]
    real = discover_slices(
        old & ~new, candidates, ids, alpha=args.alpha, discovery_alpha=args.discovery_alpha, seed=0
    )
    print(
        f"real pair {OLD} -> {NEW}: NFR {np.mean(old & ~new):.1%}, {real.discovered} discovered, "
        f"{len(real.confirmed)} confirmed: " + ("; ".join(s.description for s in real.confirmed) or "none")
    )
    recall = rows["deltaeval"]["found"] / seeds
    null = rows["deltaeval"]["null_any"] / seeds
    print(
        f"targets: recall >= 90%: {'PASS' if recall >= 0.9 else 'FAIL'} ({recall:.0%}); "
        f"null runs with a confirmed slice <= 5%: {'PASS' if null <= 0.05 else 'FAIL'} ({null:.0%})"
    )
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    return 0 if recall >= 0.9 and null <= 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
