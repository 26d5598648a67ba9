"""Agreement between the judges of a panel, on ordinal verdicts with missing labels allowed.

A judge's five-level verdict keeps its strength as a score for the run judged (see
``ORDINAL_RULE``): b ≫ a → 1, b > a → 0.75, tie → 0.5, a > b → 0.25, a ≫ b → 0; the two orders
are averaged, so a (judge, item) score lies on the nine levels 0, 1/8, …, 1. The primary measure
is Krippendorff's alpha at the ordinal level (any number of judges, missing scores allowed); two
judges also get Cohen's kappa with linear weights over those levels. When a judge gives
probabilities the scores are not on the levels, and alpha is computed at the interval level.
Cohen's (two judges) and Fleiss' (three or more) unweighted kappa on old / tie / new are kept as
nominal companions, on the items every judge labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.analysis.preference import cohen_kappa, fleiss_kappa

#: The value of a weak win (A > B) in an ordinal score; a weak loss is 1 − this.
ORDINAL_WEAK_WIN = 0.75
#: Levels of a (judge, item) ordinal score: the mean of two five-level verdicts, 0 to 1 by 1/8.
ORDINAL_LEVELS: tuple[float, ...] = tuple(i / 8 for i in range(9))
ORDINAL_RULE = (
    "per judge and item, the verdict for run b: b ≫ a 1, b > a 0.75, tie 0.5, a > b 0.25, a ≫ b 0, "
    "averaged over the two orders (one order alone when the other gave no verdict); a judge's "
    "probability is used as it is"
)
NOMINAL_CATEGORIES = ("old", "tie", "new")


@dataclass(frozen=True)
class PanelAgreement:
    """How much a panel's judges agree (see the module docstring for the measures)."""

    level: str  # "ordinal" | "interval": the level of measurement of alpha
    alpha: float  # Krippendorff's alpha; NaN when undefined (no pairable item, or no variation)
    weighted_kappa: float | None  # two judges on the ordinal levels, linear weights; else None
    n_judges: int
    n_items: int  # items scored by at least two judges (the ones alpha uses)
    n_complete: int  # items scored by every judge
    n_missing: int  # (judge, item) cells without a score
    cohen_kappa: float | None  # two judges, nominal old / tie / new, complete items
    fleiss_kappa: float | None  # three or more judges, nominal old / tie / new, complete items
    n_nominal: int  # items every judge put in a nominal category
    all_agree: int  # of those, items where every judge chose the same category

    @property
    def levels(self) -> tuple[float, ...] | None:
        """The ordered levels of the scores (None at the interval level)."""
        return ORDINAL_LEVELS if self.level == "ordinal" else None


def _table(scores: ArrayLike) -> NDArray[np.float64]:
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2:
        raise ValueError("scores must be an (items, judges) table")
    finite = x[np.isfinite(x)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise ValueError("scores must lie in [0, 1] (NaN for a missing score)")
    return x


def on_levels(scores: ArrayLike) -> bool:
    """Whether every present score is one of ``ORDINAL_LEVELS``."""
    x = _table(scores)
    finite = x[np.isfinite(x)]
    return bool(np.allclose(finite * 8, np.round(finite * 8), rtol=0, atol=1e-9))


def krippendorff_alpha(scores: ArrayLike, *, level: str = "ordinal") -> float:
    """Krippendorff's alpha of an (items, judges) table of scores in [0, 1], NaN for missing.

    ``level`` is ``"ordinal"`` (scores on ``ORDINAL_LEVELS``) or ``"interval"``. Items scored by
    fewer than two judges carry no information and are left out. NaN when no item is scored
    twice or every score is the same (the expected disagreement is zero).

    Examples
    --------
    >>> round(krippendorff_alpha([[0, 0], [0.5, 1], [1, 1]]), 6)  # 1 − 5·8 / 180
    0.777778
    """
    import krippendorff  # one small package over numpy, loaded only when a panel is judged

    if level not in ("ordinal", "interval"):
        raise ValueError(f"level must be 'ordinal' or 'interval', not {level!r}")
    x = _table(scores)
    x = x[np.isfinite(x).sum(axis=1) >= 2]
    values = x[np.isfinite(x)]
    if values.size == 0 or np.all(values == values[0]):
        return float("nan")
    if level == "ordinal":
        if not on_levels(x):
            raise ValueError("ordinal scores must lie on the levels 0, 1/8, …, 1")
        codes = np.where(np.isfinite(x), np.round(x * 8), np.nan)
        domain = np.arange(len(ORDINAL_LEVELS), dtype=float)
        return float(
            krippendorff.alpha(reliability_data=codes.T, value_domain=domain, level_of_measurement="ordinal")
        )
    return float(krippendorff.alpha(reliability_data=x.T, level_of_measurement="interval"))


def weighted_kappa(scores_1: ArrayLike, scores_2: ArrayLike) -> float:
    """Cohen's kappa with linear weights of two judges' ordinal scores, on the items both scored.

    The categories are ``ORDINAL_LEVELS`` in order, so a disagreement by one level weighs 1/8 of
    the largest one. NaN when no item is scored by both, or both judges always give one and the
    same level.

    Examples
    --------
    >>> round(weighted_kappa([0, 0.5, 1, 1], [0, 0.5, 1, 0.5]), 6)  # 1 − (1/8) / (7/16) = 5/7
    0.714286
    """
    from sklearn.metrics import cohen_kappa_score

    a, b = np.asarray(scores_1, dtype=float), np.asarray(scores_2, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"the two judges scored {a.size} and {b.size} items")
    both = np.isfinite(a) & np.isfinite(b)
    pair = np.column_stack([a[both], b[both]])
    if not on_levels(pair):
        raise ValueError("ordinal scores must lie on the levels 0, 1/8, …, 1")
    codes = np.round(pair * 8).astype(np.int64)
    if codes.size == 0 or np.all(codes == codes[0, 0]):
        return float("nan")
    return float(
        cohen_kappa_score(codes[:, 0], codes[:, 1], labels=list(range(len(ORDINAL_LEVELS))), weights="linear")
    )


def nominal_category(outcome: float) -> str | None:
    """old / tie / new for an outcome of run b (> 0.5 new, < 0.5 old); None when missing."""
    if not np.isfinite(outcome):
        return None
    return "new" if outcome > 0.5 else ("old" if outcome < 0.5 else "tie")


def panel_agreement(scores: ArrayLike, outcomes: ArrayLike) -> PanelAgreement:
    """Agreement of m ≥ 2 judges on the same items.

    Parameters
    ----------
    scores:
        (items, judges) ordinal scores of run b (``ORDINAL_RULE``), NaN where a judge gave none.
    outcomes:
        (items, judges) outcomes of run b with strong and weak wins counted alike (the orders
        combined), for the nominal old / tie / new kappas; NaN where none.
    """
    x = _table(scores)
    outcome_table = np.asarray(outcomes, dtype=float)
    if outcome_table.shape != x.shape:
        raise ValueError(f"scores are {x.shape} but outcomes are {outcome_table.shape}")
    m = x.shape[1]
    if m < 2:
        raise ValueError("agreement needs at least two judges")
    present = np.isfinite(x)
    level = "ordinal" if on_levels(x) else "interval"
    kappa_w = None
    if m == 2 and level == "ordinal":
        kappa_w = weighted_kappa(x[:, 0], x[:, 1])

    labels = [[nominal_category(v) for v in row] for row in outcome_table]
    complete = [row for row in labels if all(v is not None for v in row)]
    cohen = fleiss = None
    if m == 2:
        cohen = cohen_kappa([r[0] for r in labels], [r[1] for r in labels], categories=NOMINAL_CATEGORIES)
    elif complete:
        fleiss = fleiss_kappa(complete, categories=NOMINAL_CATEGORIES)
    else:
        fleiss = float("nan")
    return PanelAgreement(
        level=level,
        alpha=krippendorff_alpha(x, level=level),
        weighted_kappa=kappa_w,
        n_judges=m,
        n_items=int((present.sum(axis=1) >= 2).sum()),
        n_complete=int(present.all(axis=1).sum()),
        n_missing=int((~present).sum()),
        cohen_kappa=cohen,
        fleiss_kappa=fleiss,
        n_nominal=len(complete),
        all_agree=sum(len(set(row)) == 1 for row in complete),
    )
