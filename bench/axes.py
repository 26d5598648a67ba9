"""Benchmark: the built-in behaviour axes over many synthetic outputs, against a plain baseline.

Generates ``--n`` markdown-ish outputs of about ``--words`` words each from a word list with a
seeded generator (paragraphs, bullet and numbered lists, headers, bold, questions,
exclamations, inline code, occasional code blocks, tables, links, emoji, hedges, apologies,
refusals and disclaimers), each with a short question as its input, then times:

* deltaeval: ``compute_axes(texts, inputs)`` with the full default axis set (every default
  built-in axis, the fast sentiment scorer and ``restates_question`` included), serially and
  with ``--workers`` processes;
* the baseline: for each output, for each of the same axes, the axis's own per-output
  reference function (``AXES[name].fn``: its own tokenisation, sentence split and regexes),
  on the first ``--baseline-n`` outputs;
* the vaderSentiment package's exact scorer (``sentiment_vader``, not in the default set) on
  the first ``--vader-n`` outputs, and how closely the fast scorer agrees with it there;
* the default set without sentiment (to show sentiment's share of the time);
* MiniLM embeddings of the first ``--minilm-n`` outputs (``--minilm-route``: ``onnx``, the int8
  model of the ``[embed]`` extra on onnxruntime, or ``torch``, the fp32 model on torch;
  ``--minilm-threads``), batched by ``MiniLM.encode``, beside a plain baseline: the same model fed
  fixed batches of 32 in corpus order.

Prints, for each path, wall-clock outputs/s and outputs per CPU-second (CPU time of this
process and its workers, which other work on a shared machine does not inflate), the load
average, and checks that both paths give identical values on the baseline's outputs. PASS/FAIL
for the target: >= 2,000 outputs/s wall clock with the full default set (best of serial and
``--workers`` processes); the CPU-bound capacity on idle cores is printed beside it. Exit code
1 on any FAIL.

Run from the repository root: ``python bench/axes.py [--n 100000] [--workers 2] [--quick]``
(``--quick``: 4,000 outputs, 600 for the baseline, 32 for MiniLM; about a minute).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time

import numpy as np

from deltaeval.behaviour import AXES, compute_axes, default_axis_names, skipped_axes
from deltaeval.behaviour.sentiment import vader_missing_reason

TARGET_PER_SECOND = 2000.0
MINILM_TARGET = 30.0

COMMON_WORDS = """
the of and to a in is it that for on with as this be are by or from at an you can your which
will more use time data each make also when how into these other some like than then first may
well way even new want because any give most our over help work need find start system model
process value result example number part point case step note simple common good best clear
small large important different possible better easy quick local user file code test change
version method option type list table key idea plan goal team project problem answer question
reason source water food health money market city history science music language research design
build check keep read write learn show try run add set create
"""
TONE_WORDS = """
great excellent helpful happy wonderful nice clear useful safe easy love enjoy bad poor wrong
difficult risky problem hate sad terrible confusing worse fail
"""
COMMON = COMMON_WORDS.split()
TONE = TONE_WORDS.split()
HEDGE = ["might", "perhaps", "probably", "I think", "it depends", "may", "generally", "likely"]
PERSON = ["I", "we", "you", "your", "my", "our"]
EMOJI = ["🙂", "🚀", "✅", "👍", "🎉"]
REFUSAL = "I'm sorry, but I can't help with that request."
DISCLAIMER = "Please consult a professional before acting on this; it is not financial advice."


def _sentence(rng: random.Random, n_words: int) -> list[str]:
    words = rng.choices(COMMON, k=n_words)
    if rng.random() < 0.35:
        words[rng.randrange(n_words)] = rng.choice(TONE)
    if rng.random() < 0.25:
        words.insert(rng.randrange(n_words), rng.choice(HEDGE))
    if rng.random() < 0.3:
        words.insert(0, rng.choice(PERSON))
    if rng.random() < 0.1:
        words.insert(rng.randrange(n_words), str(rng.randrange(1, 2000)))
    if rng.random() < 0.08:
        i = rng.randrange(n_words)
        words[i] = f"**{words[i]}**"
    if rng.random() < 0.06:
        i = rng.randrange(n_words)
        words[i] = f"`{words[i]}`"
    words[0] = words[0][:1].upper() + words[0][1:]
    return words


def _prose(rng: random.Random, n_words: int) -> str:
    parts = []
    while n_words > 0:
        k = min(n_words, rng.randint(6, 22))
        end = rng.choices([".", "?", "!"], weights=[0.86, 0.09, 0.05])[0]
        parts.append(" ".join(_sentence(rng, k)) + end)
        n_words -= k
    return " ".join(parts)


def make_output(rng: random.Random, target_words: int) -> str:
    """One synthetic markdown-ish output of about ``target_words`` words."""
    blocks: list[str] = []
    budget = target_words
    if rng.random() < 0.05:
        blocks.append(REFUSAL)
    while budget > 0:
        kind = rng.choices(
            ["para", "bullets", "numbered", "header", "code", "table", "link"],
            weights=[0.5, 0.16, 0.12, 0.1, 0.04, 0.03, 0.05],
        )[0]
        if kind == "para":
            k = rng.randint(30, 80)
            blocks.append(_prose(rng, k))
        elif kind in ("bullets", "numbered"):
            items = rng.randint(2, 6)
            k = 0
            lines = []
            for j in range(items):
                n = rng.randint(4, 14)
                marker = "-" if kind == "bullets" else f"{j + 1}."
                lines.append(f"{marker} " + " ".join(_sentence(rng, n)))
                k += n
            blocks.append("\n".join(lines))
        elif kind == "header":
            k = rng.randint(1, 4)
            blocks.append("#" * rng.randint(1, 3) + " " + " ".join(_sentence(rng, k)))
        elif kind == "code":
            k = 8
            blocks.append("```python\nx = compute(data)\nprint(x)  # result\n```")
        elif kind == "table":
            k = 12
            blocks.append("| key | value |\n|---|---|\n| alpha | 1 |\n| beta | 2 |")
        else:
            k = rng.randint(6, 12)
            blocks.append(_prose(rng, k - 2) + " See [the docs](https://example.org/docs) for more.")
        budget -= k
    if rng.random() < 0.05:
        blocks.append(DISCLAIMER)
    if rng.random() < 0.08:
        blocks[-1] += " " + rng.choice(EMOJI)
    return "\n\n".join(blocks)


def make_corpus(n: int, target_words: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` outputs and their inputs (short questions), reproducible from ``seed``."""
    rng = random.Random(seed)
    outputs = [make_output(rng, target_words) for _ in range(n)]
    inputs = [" ".join(rng.choices(COMMON, k=rng.randint(5, 15))).capitalize() + "?" for _ in range(n)]
    return outputs, inputs


def baseline(texts: list[str], inputs: list[str], names: list[str]) -> dict[str, np.ndarray]:
    """For each output, for each axis, the axis's own per-output function."""
    values = {name: np.empty(len(texts)) for name in names}
    specs = [AXES[name] for name in names]
    for i, (text, input_text) in enumerate(zip(texts, inputs, strict=True)):
        for spec in specs:
            values[spec.name][i] = spec.fn(text, input_text) if spec.uses_input else spec.fn(text)
    return values


def minilm_rows(
    texts: list[str], route: str = "onnx", threads: int | None = None
) -> tuple[list[tuple[str, int, float, float]], list[str], str]:
    """MiniLM outputs/s: ``encode`` (batched by length) and fixed batches of 32; the model's name."""
    from deltaeval.behaviour.embedding import _pool, load_minilm, minilm_unavailable

    reason = minilm_unavailable(route)  # type: ignore[arg-type]
    if reason is not None:
        return [], [f"MiniLM skipped: {reason}"], ""
    model = load_minilm(route, threads=threads)  # type: ignore[arg-type]
    model.encode(texts[:2])  # warm-up

    def plain() -> np.ndarray:
        if model.route == "torch":
            return np.concatenate([model._torch_batch(texts[s : s + 32]) for s in range(0, len(texts), 32)])
        session, tokenizer = model._session, model._tokenizer
        parts = []
        for start in range(0, len(texts), 32):
            encodings = tokenizer.encode_batch(texts[start : start + 32])
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(encodings), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, e in enumerate(encodings):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            feeds = {k: v for k, v in feeds.items() if k in {i.name for i in session.get_inputs()}}
            parts.append(_pool(session.run(None, feeds)[0], mask))
        return np.concatenate(parts)

    wall_b, cpu_b, base = timed(plain)
    wall_e, cpu_e, ours = timed(lambda: model.encode(texts))
    if model.route == "torch":
        tokens = [len(ids) for ids in model._tokenizer(texts, truncation=True, max_length=256)["input_ids"]]
    else:
        tokens = [len(e.ids) for e in model._tokenizer.encode_batch(texts)]
    cosine = float(np.min(np.sum(np.asarray(ours) * np.asarray(base), axis=1)))
    notes = [
        f"MiniLM: route {model.name}, {model.threads} thread(s); {len(texts)} outputs of "
        f"{np.mean([len(t.split()) for t in texts]):.0f} words on average, {np.mean(tokens):.0f} tokens "
        f"(cut at 256); lowest cosine between the two paths' vectors {cosine:.6f}"
    ]
    rows = [
        (f"MiniLM {model.name}: encode (by length)", len(texts), wall_e, cpu_e),
        ("MiniLM baseline: fixed batches of 32", len(texts), wall_b, cpu_b),
    ]
    return rows, notes, model.name


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_scaling(processes: int, n: int = 3_000_000) -> float:
    """Speed-up of ``processes`` processes over one on a plain Python loop (no deltaeval): what
    the machine itself allows right now; near 1 when other work already keeps every core busy."""
    import multiprocessing

    start = time.perf_counter()
    for _ in range(processes):
        _burn(n)
    serial = time.perf_counter() - start
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(processes) as pool:
        start = time.perf_counter()
        pool.map(_burn, [n] * processes)
        parallel = time.perf_counter() - start
    return serial / parallel


def cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes (workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="synthetic outputs")
    parser.add_argument("--words", type=int, default=300, help="target words per output")
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel run")
    parser.add_argument("--baseline-n", type=int, default=5_000, help="outputs the baseline runs on")
    parser.add_argument("--vader-n", type=int, default=500, help="outputs the exact VADER scorer runs on")
    parser.add_argument("--minilm-n", type=int, default=200, help="outputs MiniLM embeds (0: skip)")
    parser.add_argument("--minilm-route", choices=["onnx", "torch"], default="onnx", help="MiniLM route")
    parser.add_argument(
        "--minilm-threads", type=int, default=None, help="MiniLM threads (default: deltaeval's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    args = parser.parse_args(argv)
    if args.quick:
        args.n = min(args.n, 4000)
        args.baseline_n = min(args.baseline_n, 600)
        args.vader_n = min(args.vader_n, 200)
        args.minilm_n = min(args.minilm_n, 32)

    start = time.perf_counter()
    texts, inputs = make_corpus(args.n, args.words, args.seed)
    made = time.perf_counter() - start
    lengths = compute_axes(texts[:2000], names=["length_words", "length_tokens"])
    names = default_axis_names(with_inputs=True)
    print(f"corpus: {args.n:,} synthetic outputs, seed {args.seed}, made in {made:.1f} s")
    print(
        f"  words per output (first 2,000): mean {lengths['length_words'].mean():.0f}, "
        f"min {lengths['length_words'].min():.0f}, max {lengths['length_words'].max():.0f}; "
        f"tokens mean {lengths['length_tokens'].mean():.0f}; characters mean "
        f"{np.mean([len(t) for t in texts[:2000]]):.0f}"
    )
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPU(s), shared; load average before timing {load[0]:.2f} "
        f"(1 min), {load[1]:.2f} (5 min)"
    )
    print(f"axes measured ({len(names)}, the full default set with inputs): {', '.join(names)}")
    skipped = skipped_axes(with_inputs=True)
    if skipped:
        print("NOT included (unavailable here): " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    print()

    failures = 0
    rows: list[tuple[str, int, float, float]] = []
    wall_serial, cpu_serial, serial = timed(lambda: compute_axes(texts, inputs, names, workers=1))
    rows.append(("deltaeval, serial (workers=1)", args.n, wall_serial, cpu_serial))
    wall_par = None
    if args.workers > 1:
        scaling = machine_scaling(args.workers)
        wall_par, cpu_par, parallel = timed(lambda: compute_axes(texts, inputs, names, workers=args.workers))
        rows.append((f"deltaeval, workers={args.workers}", args.n, wall_par, cpu_par))
        same = all(np.array_equal(serial[k], parallel[k], equal_nan=True) for k in names)  # type: ignore[index]
        print(f"serial and {args.workers}-worker values identical: {'yes' if same else 'NO'}")
        failures += not same
    sub = min(args.n, 10_000)
    no_sentiment = [n for n in names if n != "sentiment"]
    wall_ns, cpu_ns, _ = timed(lambda: compute_axes(texts[:sub], inputs[:sub], no_sentiment, workers=1))
    rows.append(("deltaeval, serial, default set minus sentiment", sub, wall_ns, cpu_ns))
    nb = min(args.baseline_n, args.n)
    wall_base, cpu_base, base = timed(lambda: baseline(texts[:nb], inputs[:nb], names))
    rows.append(("baseline: per output, per axis (same axes)", nb, wall_base, cpu_base))
    vader_reason = vader_missing_reason()
    nv = min(args.vader_n, args.n)
    vader = None
    if vader_reason is None:
        wall_v, cpu_v, vader = timed(lambda: compute_axes(texts[:nv], names=["sentiment_vader"]))
        rows.append(("vaderSentiment package alone (sentiment_vader)", nv, wall_v, cpu_v))
    minilm_notes: list[str] = []
    minilm_rate = None
    minilm_name = ""
    if args.minilm_n > 0:
        more, minilm_notes, minilm_name = minilm_rows(
            texts[: args.minilm_n], args.minilm_route, args.minilm_threads
        )
        rows.extend(more)
        if more:
            minilm_rate = more[0][1] / more[0][2]
    load_after = os.getloadavg()[0]

    print()
    print(f"{'path':50s} {'outputs':>9s} {'wall s':>8s} {'CPU s':>8s} {'outputs/s':>10s} {'per CPU-s':>10s}")
    for label, count, wall, cpu in rows:
        print(
            f"{label:50s} {count:>9,d} {wall:>8.2f} {cpu:>8.2f} {count / wall:>10,.0f} {count / cpu:>10,.0f}"
        )
    print(
        "(outputs/s: wall clock, what a user waits for; per CPU-s: outputs per second of CPU time "
        "used, all processes, which other work on the machine does not slow down)"
    )
    print(f"load average (1 min) after timing: {load_after:.2f}")
    serial_rate = args.n / wall_serial
    per_cpu = args.n / cpu_serial
    print(
        f"\nspeed-up of deltaeval serial over the baseline: {serial_rate / (nb / wall_base):.1f}x wall, "
        f"{per_cpu / (nb / cpu_base):.1f}x CPU"
    )
    best_rate = serial_rate
    if wall_par is not None:
        print(
            f"speed-up of {args.workers} workers over serial (wall): {wall_serial / wall_par:.2f}x; "
            f"the machine's own, a plain Python loop in {args.workers} processes against 1: {scaling:.2f}x"
        )
        best_rate = max(serial_rate, args.n / wall_par)
    if "sentiment" in names:
        share = 1.0 - (cpu_ns / sub) / (cpu_serial / args.n)
        print(f"fast sentiment's share of deltaeval's serial CPU time: about {100 * share:.0f}%")
    for note in minilm_notes:
        print(note)

    agree = {k: np.array_equal(serial[k][:nb], base[k], equal_nan=True) for k in names}  # type: ignore[index]
    bad = [k for k, ok in agree.items() if not ok]
    if bad:
        print(f"FAIL  fused values differ from the baseline's on: {', '.join(bad)}")
        failures += 1
    else:
        print(f"PASS  fused values identical to the baseline's on all {len(names)} axes ({nb:,} outputs)")
    if vader is not None:
        fast = serial["sentiment"][:nv]  # type: ignore[index]
        exact = vader["sentiment_vader"]  # type: ignore[index]
        ok = np.isfinite(fast) & np.isfinite(exact)
        r = float(np.corrcoef(fast[ok], exact[ok])[0, 1])
        mad = float(np.mean(np.abs(fast[ok] - exact[ok])))
        print(
            f"fast vs exact VADER sentiment on {int(ok.sum())} outputs: Pearson r = {r:.3f}, "
            f"mean |difference| = {mad:.4f} (scale -1..1)"
        )
    else:
        print(f"sentiment axes skipped: {vader_reason}")

    what = "the full default set" + (
        "" if "sentiment" in names else " WITHOUT sentiment (vaderSentiment missing)"
    )
    capacity = min(args.workers, os.cpu_count() or 1) * per_cpu
    verdict = best_rate >= TARGET_PER_SECOND
    print(
        f"{'PASS' if verdict else 'FAIL'}  target >= {TARGET_PER_SECOND:,.0f} outputs/s wall clock with "
        f"{what}: best deltaeval path {best_rate:,.0f} outputs/s"
    )
    print(
        f"      CPU-bound capacity with {min(args.workers, os.cpu_count() or 1)} otherwise idle cores: "
        f"{capacity:,.0f} outputs/s ({per_cpu:,.0f} per CPU-second, serial run)"
    )
    if not verdict:
        print(
            "      the wall-clock figure is below target on this shared machine; compare the load "
            "average above with the number of cores"
        )
    failures += not verdict
    if minilm_rate is not None:
        ok = minilm_rate >= MINILM_TARGET
        print(
            f"{'PASS' if ok else 'FAIL'}  MiniLM target >= {MINILM_TARGET:.0f} outputs/s of ~300 words "
            f"(route: {minilm_name}): {minilm_rate:.1f} outputs/s wall clock"
        )
        failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
