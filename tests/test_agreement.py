"""Agreement between judges: ordinal scores, weighted kappa, Krippendorff's alpha, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from deltaeval.analysis.agreement import (
    ORDINAL_LEVELS,
    krippendorff_alpha,
    panel_agreement,
    weighted_kappa,
)
from deltaeval.cli import main
from deltaeval.judging import CallableJudge, judge
from deltaeval.types import Example, Output, Run

nan = float("nan")


def ordinal_alpha_by_hand(table: np.ndarray) -> float:
    """Krippendorff's ordinal alpha from the coincidence matrix (Krippendorff 2011, §C, §E)."""
    units = [row[np.isfinite(row)] for row in np.asarray(table, dtype=float)]
    units = [u for u in units if u.size >= 2]
    values = np.unique(np.concatenate(units))
    index = {v: i for i, v in enumerate(values)}
    k = values.size
    o = np.zeros((k, k))
    for u in units:
        for p in range(u.size):
            for q in range(u.size):
                if p != q:
                    o[index[u[p]], index[u[q]]] += 1 / (u.size - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    delta = np.zeros((k, k))
    for c in range(k):
        for d in range(k):
            lo, hi = min(c, d), max(c, d)
            delta[c, d] = (n_c[lo : hi + 1].sum() - (n_c[c] + n_c[d]) / 2) ** 2
    observed = (o * delta).sum() / n
    expected = (np.outer(n_c, n_c) * delta).sum() / (n * (n - 1))
    return float(1 - observed / expected)


# -- weighted kappa --------------------------------------------------------------------------------


def test_judges_one_level_apart_get_a_higher_weighted_than_unweighted_kappa() -> None:
    first = [0.0, 0.25, 0.5, 0.75]  # old ≫ new, old > new, tie, new > old
    second = [0.25, 0.5, 0.75, 1.0]  # always one verdict level further toward new
    # unweighted: p_o = 0, p_e = 3 shared levels · 1/4 · 1/4 = 3/16 → (0 − 3/16) / (1 − 3/16)
    codes = [round(v * 8) for v in first], [round(v * 8) for v in second]
    assert cohen_kappa_score(*codes, labels=list(range(9))) == pytest.approx(-3 / 13)
    # linear: observed mean |d| = 1/4; expected mean |d| over the 16 pairs = 24 / 16 quarters = 3/8
    assert weighted_kappa(first, second) == pytest.approx(1 - (1 / 4) / (3 / 8))
    agreement = panel_agreement(np.column_stack([first, second]), np.column_stack([first, second]))
    assert agreement.weighted_kappa == pytest.approx(1 / 3)
    # nominal old/tie/new from the same outcomes: 2 of 4 agree, p_e = 2/4·1/4 + 1/4·1/4 + 1/4·2/4
    assert agreement.cohen_kappa == pytest.approx((1 / 2 - 5 / 16) / (1 - 5 / 16))
    assert agreement.weighted_kappa > agreement.cohen_kappa


def test_weighted_kappa_uses_only_items_both_judges_scored() -> None:
    a = [0.0, 0.5, 1.0, 1.0, nan, 0.25]
    b = [0.0, 0.5, 1.0, 0.5, 0.75, nan]
    # the first four items only: 1 − (1/8) / (7/16) (see the docstring)
    assert weighted_kappa(a, b) == pytest.approx(5 / 7)
    assert np.isnan(weighted_kappa([0.5, 0.5], [0.5, 0.5]))  # one level only: undefined
    with pytest.raises(ValueError, match="levels"):
        weighted_kappa([0.3, 0.5], [0.5, 0.5])


# -- Krippendorff's alpha --------------------------------------------------------------------------


def test_alpha_of_a_tiny_table_by_hand() -> None:
    table = [[0.0, 0.0], [0.5, 1.0], [1.0, 1.0]]
    # values 0 (×2), 0.5 (×1), 1 (×3); one discordant unit (0.5, 1): o = 1 each way, n = 6.
    # ordinal δ(0.5, 1) = (1 + 3 − 2)² = 4, δ(0, 0.5) = (2 + 1 − 1.5)² = 2.25, δ(0, 1) = (6 − 2.5)²
    # α = 1 − (n − 1) Σ o δ / Σ n_c n_k δ = 1 − 5 · 8 / (2 · (2 · 2.25 + 6 · 12.25 + 3 · 4)) = 7/9
    assert krippendorff_alpha(table) == pytest.approx(7 / 9)
    assert ordinal_alpha_by_hand(np.array(table)) == pytest.approx(7 / 9)
    # interval: δ = squared difference; 1 − 5 · 2 · 0.25 / (2 · (2 · 0.25 + 6 · 1 + 3 · 0.25)) = 24/29
    assert krippendorff_alpha(table, level="interval") == pytest.approx(24 / 29)


def test_alpha_with_missing_labels_matches_the_package_and_the_coincidence_matrix() -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 9, size=30)
    table = np.column_stack([np.clip(truth + rng.integers(-2, 3, size=30), 0, 8) for _ in range(3)]) / 8
    table[rng.random(table.shape) < 0.2] = nan  # about a fifth of the labels missing
    expected = ordinal_alpha_by_hand(table)
    assert krippendorff_alpha(table) == pytest.approx(expected)
    assert krippendorff.alpha(reliability_data=table.T, level_of_measurement="ordinal") == pytest.approx(
        expected
    )
    # an item scored by one judge only carries no information: alpha is unchanged
    extra = np.vstack([table, [[0.0, nan, nan], [nan, nan, 1.0], [nan, nan, nan]]])
    assert krippendorff_alpha(extra) == pytest.approx(expected)
    a = panel_agreement(extra, extra)
    present = np.isfinite(extra)
    assert a.level == "ordinal" and a.alpha == pytest.approx(expected)
    assert a.n_missing == int((~present).sum())
    assert a.n_items == int((present.sum(axis=1) >= 2).sum())
    assert a.n_complete == a.n_nominal == int(present.all(axis=1).sum())
    assert a.weighted_kappa is None and a.cohen_kappa is None and a.fleiss_kappa is not None


def test_perfect_agreement_is_one_and_no_variation_is_undefined() -> None:
    scores = np.array([[0.0, 0.0], [0.25, 0.25], [0.625, 0.625], [1.0, 1.0], [0.5, nan]])
    a = panel_agreement(scores, scores)
    assert a.alpha == pytest.approx(1.0) and a.weighted_kappa == pytest.approx(1.0)
    assert a.cohen_kappa == pytest.approx(1.0) and a.all_agree == a.n_nominal == 4
    same = np.full((4, 3), 0.75)
    assert np.isnan(krippendorff_alpha(same))
    assert np.isnan(krippendorff_alpha([[0.5, nan], [nan, 1.0]]))  # no item scored twice


def test_probabilities_are_interval_scores() -> None:
    scores = np.array([[0.9, 0.75], [0.2, 0.25], [0.55, 0.5], [0.7, 1.0]])
    a = panel_agreement(scores, scores)
    assert a.level == "interval" and a.levels is None and a.weighted_kappa is None
    assert a.alpha == pytest.approx(krippendorff.alpha(reliability_data=scores.T))
    with pytest.raises(ValueError, match="levels"):
        krippendorff_alpha(scores, level="ordinal")


# -- through judge() and the command line -----------------------------------------------------------

# A judge's verdict level for new on example i: 0 = old ≫ new, 1 old > new, 2 tie, 3 new > old, 4 new ≫ old
FIRST = [4, 3, 2, 1, 0, 4, 3, 3, 1, 0]
SECOND = [min(v + 1, 4) for v in FIRST]  # one level further toward new
LABELS_FOR_A = ["B>>A", "B>A", "A=B", "A>B", "A>>B"]  # by A's level

JUDGES = f"""
FIRST = {FIRST!r}
SECOND = {SECOND!r}
LABELS_FOR_A = {LABELS_FOR_A!r}


def _verdict(levels, a):
    level_new = levels[int(a.rsplit(" ", 1)[1])]
    return LABELS_FOR_A[level_new if a.startswith("new") else 4 - level_new]


def first(question, a, b):
    return _verdict(FIRST, a)


def second(question, a, b):
    return _verdict(SECOND, a)


def third(question, a, b):
    i = int(a.rsplit(" ", 1)[1])
    if i in (0, 1):
        return None  # no verdict: a missing label
    if i == 2:
        return "A>>B"  # the first shown always wins strongly: the two orders average to a tie
    return _verdict(FIRST, a)
"""


def write_runs(tmp_path: Path, n: int = 10) -> tuple[Path, Path]:
    paths = []
    for side in ("old", "new"):
        rows = [
            {"id": f"ex{i}", "question": f"question {i}?", "output": f"{side} answer {i}"} for i in range(n)
        ]
        path = tmp_path / f"{side}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def test_strong_and_weak_verdicts_stay_apart_and_orders_are_averaged() -> None:
    examples = tuple(Example(id=f"q{i}", input=f"question {i}") for i in range(3))
    old = Run("v1", examples, tuple(Output(e.id, text=f"old answer {i}") for i, e in enumerate(examples)))
    new = Run("v2", examples, tuple(Output(e.id, text=f"new answer {i}") for i, e in enumerate(examples)))

    def strong_new(q: str, a: str, b: str) -> str:
        return "B>>A" if b.startswith("new") else "A>>B"

    def weak_new(q: str, a: str, b: str) -> str:
        return "B>A" if b.startswith("new") else "A>B"

    def first_strongly(q: str, a: str, b: str) -> str:
        return "A>>B"

    a = judge(
        old, new, [CallableJudge(strong_new, name="s"), CallableJudge(weak_new, name="w")], n_boot=0
    ).data["preference"]["agreement"]
    # both say "new" on every example: all agree on old/tie/new (kappa undefined: one category) …
    assert a["nominal"]["all_agree"] == 3 and a["nominal"]["cohen_kappa"] is None
    # … but always 1 against 0.75: 6 values, 3 discordant units, α = 1 − 5 · 6δ / (2 · 3 · 3δ)
    assert a["alpha"] == pytest.approx(-2 / 3)
    assert a["weighted_kappa"] == pytest.approx(0.0)  # always the same cell: no better than chance
    mixed = judge(
        old, new, [CallableJudge(first_strongly, name="f"), CallableJudge(weak_new, name="w")], n_boot=0
    ).data["preference"]["agreement"]
    # "f": A>>B in both orders → new 1 then 0 → mean 0.5; "w": 0.75 in both orders
    assert mixed["n_complete"] == 3 and mixed["alpha"] == pytest.approx(-2 / 3)
    assert mixed["nominal"]["all_agree"] == 0


def test_judge_cli_panel_reports_ordinal_agreement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one terminal line per table row
    old_path, new_path = write_runs(tmp_path)
    judge_file = tmp_path / "panel.py"
    judge_file.write_text(JUDGES, encoding="utf-8")
    spec = f"python:{judge_file}"
    base = ["judge", str(old_path), str(new_path), "--store", str(tmp_path / "s.sqlite"), "--n-boot", "0"]

    two = tmp_path / "two.json"
    md = tmp_path / "two.md"
    args = [
        *base,
        "--judge",
        f"{spec}:first",
        "--judge",
        f"{spec}:second",
        "--json",
        str(two),
        "--md",
        str(md),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    a = json.loads(two.read_text(encoding="utf-8"))["preference"]["agreement"]
    s1, s2 = np.array(FIRST) / 4, np.array(SECOND) / 4
    assert a["method"] == "krippendorff-alpha-ordinal" and a["level"] == "ordinal"
    assert a["levels"] == list(ORDINAL_LEVELS)
    assert a["alpha"] == pytest.approx(
        krippendorff.alpha(
            reliability_data=[s1, s2], value_domain=ORDINAL_LEVELS, level_of_measurement="ordinal"
        )
    )
    assert a["alpha"] == pytest.approx(ordinal_alpha_by_hand(np.column_stack([s1, s2])))
    expected_kappa = cohen_kappa_score(
        2 * np.array(FIRST), 2 * np.array(SECOND), labels=list(range(9)), weights="linear"
    )
    assert a["weights"] == "linear" and a["weighted_kappa"] == pytest.approx(expected_kappa)
    assert (a["n_judges"], a["n_items"], a["n_complete"], a["n_missing"]) == (2, 10, 10, 0)
    # nominal, strong = weak: the judges differ on old/tie/new at levels 1→2 (old→tie) and 2→3 (tie→new)
    nominal = a["nominal"]
    assert nominal["categories"] == ["old", "tie", "new"] and nominal["fleiss_kappa"] is None
    assert nominal["all_agree"] == 7 and nominal["n_items"] == 10
    assert a["weighted_kappa"] > nominal["cohen_kappa"]
    assert "judge agreement (Krippendorff's α, ordinal)" in printed
    assert "Judge agreement (Krippendorff's α, ordinal)" in md.read_text(encoding="utf-8")

    three = tmp_path / "three.json"
    html = tmp_path / "three.html"
    judges = ["--judge", f"{spec}:first", "--judge", f"{spec}:second", "--judge", f"{spec}:third"]
    assert main([*base, *judges, "--json", str(three), "--html", str(html), "--quiet"]) == 0
    a3 = json.loads(three.read_text(encoding="utf-8"))["preference"]["agreement"]
    s3 = np.array(FIRST, dtype=float) / 4
    s3[:2] = nan  # no verdict
    s3[2] = 0.5  # A>>B in both orders: new ≫ old then old ≫ new
    assert a3["method"] == "krippendorff-alpha-ordinal"
    assert a3["alpha"] == pytest.approx(ordinal_alpha_by_hand(np.column_stack([s1, s2, s3])))
    assert (a3["n_items"], a3["n_complete"], a3["n_missing"]) == (10, 8, 2)
    assert a3["weighted_kappa"] is None and a3["weights"] is None
    assert a3["nominal"]["cohen_kappa"] is None and a3["nominal"]["fleiss_kappa"] is not None
    assert a3["nominal"]["n_items"] == 8
    assert "Judge agreement (Krippendorff&#39;s α, ordinal)" in html.read_text(encoding="utf-8")
