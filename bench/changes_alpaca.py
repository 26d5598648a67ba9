"""Benchmark: the change analysis (where outputs changed most) on AlpacaEval, new path beside the
previous one, in the same run.

For each model pair it loads both runs' ``model_outputs.json`` (format ``alpaca_outputs``),
pairs them, takes the most changed 20% by TF-IDF similarity (as ``change_stats`` does) and
times the two steps this benchmark is about, on the same rows:

* reduction of the TF-IDF rows to 100 dimensions: the previous randomized ``TruncatedSVD``
  (scikit-learn, seed 0) against the exact SVD from the rows' Gram matrix (``_reduce``), with
  the largest difference between the two results' row cosines;
* the k-means sweep (k = 2..6, 10 starts each, silhouette per k): on the thread pool as before
  against one thread (``choose_clusters``), checking the labels are identical;

then prints, for the exact reduction, the k chosen and the silhouettes with 10, 3 and 1 k-means
starts, and the adjusted Rand index of the 3- and 1-start clusters against the 10-start ones:
whether fewer starts would give the same clusters. Ends with the whole ``change_stats`` call.

Run from the repository root: ``python bench/changes_alpaca.py [--data DIR] [--quick]``
(``--quick``: one pair, the default ``pair`` representation only).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from _alpaca import DEFAULT_DATA

from deltaeval.alignment import align
from deltaeval.analysis import changes as C
from deltaeval.io import load_run

PAIRS = (
    ("oasst-sft-llama-33b", "oasst-rlhf-llama-33b"),
    ("alpaca-7b", "alpaca-7b_verbose"),
    ("alpaca-7b", "alpaca-7b_concise"),
)


def sweep(X: np.ndarray, n_init: int, seed: int = 0) -> tuple[int, np.ndarray, dict[int, float]]:
    """k-means for k = 2..6 with ``n_init`` starts on the thread pool; the best silhouette's k."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    best: tuple[float, int, np.ndarray] | None = None
    scores = {}
    for k in range(2, 7):
        labels = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(X).labels_
        scores[k] = float(silhouette_score(X, labels))
        if best is None or scores[k] > best[0] + 1e-12:
            best = (scores[k], k, labels)
    assert best is not None
    return best[1], best[2], scores


def changed_rows(old: list[str | None], new: list[str | None], representation: str):
    """The most changed 20% (as ``change_stats`` picks them), as sparse TF-IDF features."""
    stats = C.change_stats([str(i) for i in range(len(old))], old, new, representation=representation)
    rows = [i for i in range(len(old)) if old[i] is not None and new[i] is not None]
    X = C.tfidf_vectors([old[i] for i in rows] + [new[i] for i in rows])
    position = {r: j for j, r in enumerate(rows)}
    picked = [position[int(i)] for i in stats.changed_ids]
    return C._represent_sparse(X[: len(rows)][picked], X[len(rows) :][picked], representation)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.metrics import adjusted_rand_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="one pair, one representation")
    args = parser.parse_args(argv)
    if not (args.data / PAIRS[0][0] / "model_outputs.json").is_file():
        print(f"data missing: {args.data}")
        return 2
    pairs = PAIRS[:1] if args.quick else PAIRS
    representations = ["pair"] if args.quick else ["pair", "new", "old", "difference"]
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPU(s), shared; load average {load[0]:.2f} (1 min), {load[1]:.2f} (5 min)"
    )
    failures = 0
    totals = {"svd": 0.0, "gram": 0.0, "pool": 0.0, "single": 0.0}
    for old_model, new_model in pairs:
        old_run = load_run(args.data / old_model / "model_outputs.json", format="alpaca_outputs")
        new_run = load_run(args.data / new_model / "model_outputs.json", format="alpaca_outputs")
        alignment = align(old_run, new_run)
        old = [o.text for o in alignment.old]
        new = [o.text for o in alignment.new]
        print(f"\n{old_model} -> {new_model}: {len(old)} pairs")
        for representation in representations:
            X = changed_rows(old, new, representation)
            components = min(100, X.shape[0] - 1, X.shape[1] - 1)
            t_svd, before = timed(
                lambda X=X, c=components: C._unit(
                    TruncatedSVD(n_components=c, random_state=0).fit_transform(X)
                )
            )
            t_gram, after = timed(lambda X=X: C._reduce(X, 0))
            gap = float(np.abs(after @ after.T - before @ before.T).max())
            t_pool, (k_pool, labels_pool, _) = timed(lambda after=after: sweep(after, 10))
            t_single, (labels, k, silhouettes) = timed(lambda after=after: C.choose_clusters(after, seed=0))
            same = k == k_pool and np.array_equal(labels, labels_pool)
            failures += not same
            for key, value in (("svd", t_svd), ("gram", t_gram), ("pool", t_pool), ("single", t_single)):
                totals[key] += value
            print(
                f"  {representation:10s} {X.shape[0]} x {X.shape[1]:,}: reduction {t_svd:6.2f} s "
                f"randomized -> {t_gram:.3f} s Gram (row cosines differ by up to {gap:.2f}); k-means "
                f"sweep {t_pool:.2f} s pool -> {t_single:.2f} s one thread, labels identical: "
                f"{'yes' if same else 'NO'}"
            )
            line = [f"k={k} silhouettes " + " ".join(f"{s:.4f}" for s in silhouettes.values())]
            for starts in (3, 1):
                k_fewer, labels_fewer, scores = sweep(after, starts)
                line.append(
                    f"{starts} start(s): k={k_fewer}, ARI {adjusted_rand_score(labels, labels_fewer):.2f}, "
                    f"best silhouette {max(scores.values()):.4f}"
                )
            print("    10 starts: " + "; ".join(line))
        t_all, result = timed(
            lambda old=old, new=new: C.change_stats([str(i) for i in range(len(old))], old, new)
        )
        print(f"  change_stats (TF-IDF, defaults): {t_all:.2f} s, k={result.k}, notes: {list(result.notes)}")
    print(
        f"\ntotal: reduction {totals['svd']:.2f} s randomized -> {totals['gram']:.2f} s Gram "
        f"({totals['svd'] / max(totals['gram'], 1e-9):.0f}x); k-means sweeps {totals['pool']:.2f} s pool -> "
        f"{totals['single']:.2f} s one thread ({totals['pool'] / max(totals['single'], 1e-9):.1f}x)"
    )
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
    print(f"{'PASS' if not failures else 'FAIL'}  one-thread k-means gives the thread pool's clusters")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
