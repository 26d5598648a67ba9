"""Acceptance on real models: can new queries search the old gallery?

The retrieval task is built from the shared AlpacaEval data: the 805 instructions are the queries
and the baseline's answers (``gpt4_1106_preview_outputs.json``) the gallery, query ``i`` relevant
to answer ``i`` only. Every text is cut at ``--max-chars`` characters (default 400) so that the
slowest model (multilingual-e5-small, ~0.25 CPU-s per cut answer on this machine) embeds the set in
minutes; ``--quick`` keeps the first 200 pairs. Embeddings are cached under ``.deltaeval/embeddings``
(keyed by model and text hash): a rerun costs only the statistics.

Pairs and the verdict each must get (PASS/FAIL; exit 1 on a FAIL, 2 when data is missing):

1. ``minilm-fp32`` → ``minilm-int8``: all-MiniLM-L6-v2 in fp32 (torch) and its int8 ONNX export:
   **compatible** (new→old recall@1 ≈ old→old). Needs torch: run once with the training
   environment (``/work/venv-train/bin/python bench/embeddings.py --only fp32-int8``); the cached
   vectors then serve any environment.
   ``minilm-fp32-numpy`` → ``minilm-int8``: the same fp32 weights run by deltaeval's numpy forward
   pass (no torch): **compatible**.
2. ``minilm-int8`` → ``paraphrase-minilm-l3``: another model of the same family: **partly**.
3. ``minilm-int8`` → ``e5-small``: an unrelated model: **incompatible**, and the learned maps
   recover a stated share of new→new recall@1 on held-out queries.

Figures: 2,000 bootstrap replicates over queries (seed 0), 95% intervals; maps fitted on half the
queries (a quarter of those choose the ridge penalty), evaluated on the other half.

Run from the repository root: ``python bench/embeddings.py [--quick] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from _alpaca import DEFAULT_DATA

from deltaeval.embeddings.api import compare_embeddings
from deltaeval.embeddings.retrieval import load_pairs
from deltaeval.errors import DeltaEvalError, UsageError

PAIRS = {
    "fp32-int8": ("minilm-fp32", "minilm-int8", "compatible"),
    "fp32numpy-int8": ("minilm-fp32-numpy", "minilm-int8", "compatible"),
    "l6-l3": ("minilm-int8", "paraphrase-minilm-l3", "partly"),
    "minilm-e5": ("minilm-int8", "e5-small", "incompatible"),
}
GALLERY = "gpt4_1106_preview_outputs.json"


def _fmt(block: dict | None) -> str:
    if not block:
        return "n/a"
    ci = block.get("ci")
    interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return f"{block['value']:.3f}{interval}" if block.get("value") is not None else "n/a"


def run_pair(name: str, task: object, n_boot: int) -> bool | None:
    """Print one pair's figures; True/False = PASS/FAIL, None = skipped (a model not installed)."""
    old, new, expected = PAIRS[name]
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    try:
        report = compare_embeddings(old, new, task, n_boot=n_boot)  # type: ignore[arg-type]
    except UsageError as exc:  # a model neither installed here nor cached
        print(f"[{name}] SKIP: {exc.one_line()}")
        return None
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    section = report["embeddings"]
    n = section["n_queries"]
    print(
        f"[{name}] {report['old']['model']} -> {report['new']['model']}"
        f"  (n = {n} queries, {wall:.1f} s, {cpu:.1f} CPU-s)"
    )
    for direction in ("old->old", "new->new", "new->old", "old->new"):
        block = section["retrieval"][direction]
        if block is None:
            print(f"  {direction:9} n/a (different dimensions)")
            continue
        print(
            f"  {direction:9} recall@1 {_fmt(block['recall@1'])}  @5 {_fmt(block['recall@5'])}"
            f"  @10 {_fmt(block['recall@10'])}  MRR {_fmt(block['mrr'])}"
        )
    diff = section["differences"].get("new->old - old->old")
    if diff:
        print(f"  new->old - old->old recall@1 {_fmt(diff['recall@1'])}")
    print(
        f"  share kept {_fmt(section['verdict']['cross_share_of_old'])}"
        f"  linear CKA {section['cka']['linear']:.3f}"
    )
    maps = section["maps"]
    if maps:
        split = maps["split"]
        print(
            f"  maps: fitted on {split['train_queries'] + split['validation_queries']} queries"
            f" + {split['fit_gallery_items']} answers, tested on {split['test_queries']} held-out queries;"
            f" new->new there {_fmt(maps['test']['new->new']['recall@1'])},"
            f" unmapped new->old {_fmt((maps['test']['new->old'] or {}).get('recall@1'))}"
        )
        for m in maps["maps"]:
            extra = f" (penalty factor {m['penalty_factor']:g})" if m["method"] == "ridge" else ""
            print(
                f"    {m['method']}{extra}: recall@1 {_fmt(m['retrieval']['recall@1'])},"
                f" recovers {_fmt(m['recovery'])} of new->new recall@1"
            )
    label = section["verdict"]["label"]
    ok = label == expected
    print(f"  verdict {label} (expected {expected}): {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="the first 200 pairs only")
    parser.add_argument("--limit", type=int, default=None, help="the first N pairs only")
    parser.add_argument("--max-chars", type=int, default=400)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--only", choices=sorted(PAIRS), action="append")
    args = parser.parse_args()
    path = args.data / GALLERY
    if not path.is_file():
        print(f"data not found: {path}", file=sys.stderr)
        return 2
    limit = args.limit or (200 if args.quick else None)
    try:
        task = load_pairs(path, max_chars=args.max_chars, limit=limit)
    except DeltaEvalError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    print(f"task: {task.source}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    results = [run_pair(name, task, args.n_boot) for name in (args.only or PAIRS)]
    if any(r is False for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
