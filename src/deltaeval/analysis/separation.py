"""When a logistic model cannot be fitted honestly: separation and too few events.

A logistic regression's maximum-likelihood estimate is infinite when the data are
**(quasi-)completely separated**: some linear combination ``x·b`` of the covariates is ≥ 0 on
every win, ≤ 0 on every loss and = 0 on every tie or soft outcome, with at least one strict.
Newton's method then walks off along ``b`` until the probabilities round to 0 and 1, and any
figure read off the fit (a length-controlled win rate, a style-held-equal rating) is set by
where the iterations stopped, not by the data; a bootstrap of it only repeats that.

``separating_direction`` decides it exactly with Konis's linear programme (Konis, 2007, *Linear
programming algorithms for detecting separated data in binary logistic regression models*):
maximise ``Σ s_i x_i·b`` subject to ``s_i x_i·b ≥ 0`` (``s = +1`` for a win, ``−1`` for a loss),
``x_i·b = 0`` for outcomes strictly between 0 and 1, and ``−1 ≤ b ≤ 1``. A positive optimum
means separation.

**Too few events.** With fewer than ``MIN_EVENTS_PER_PARAMETER`` (10) of the rarer outcome per
parameter fitted without a prior (the usual events-per-variable rule, Peduzzi et al., 1996) the
estimate exists but is unstable; the callers then put a Gaussian prior of precision ``RIDGE``
(a ridge penalty) on the covariates' coefficients and say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Fewest of the rarer outcome per unpenalised parameter before a fit is regularised.
MIN_EVENTS_PER_PARAMETER = 10
#: Precision of the Gaussian prior (ridge) put on covariate coefficients when events are few:
#: N(0, 1) on the logit scale per unit (or per standard deviation) of the covariate.
RIDGE = 1.0
#: A fitted coefficient this large (logit per unit) makes a bootstrap replicate suspect; it is
#: then checked for separation.
SUSPECT_COEFFICIENT = 10.0
_TOL = 1e-7


def events(y: ArrayLike, w: ArrayLike | None = None) -> float:
    """The (weighted, soft) count of the rarer outcome: ``min(Σ w·y, Σ w·(1 − y))``."""
    yy = np.asarray(y, dtype=float)
    ww = np.ones_like(yy) if w is None else np.asarray(w, dtype=float)
    return float(min((ww * yy).sum(), (ww * (1.0 - yy)).sum()))


def separating_direction(
    X: ArrayLike | Any, y: ArrayLike, w: ArrayLike | None = None
) -> NDArray[np.float64] | None:
    """A direction ``b`` that separates the outcomes ``y`` in [0, 1] on the rows of ``X``, or None.

    ``X`` may be a dense array or a SciPy sparse matrix. Rows with weight 0 are left out. The
    direction is in the units of ``X``'s columns; only its signs and which entries are nonzero
    mean anything.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [-2.0, -1.0, 1.0, 2.0]])
    >>> separating_direction(X, [0, 0, 1, 1]) is not None
    True
    >>> separating_direction(X, [0, 1, 0, 1]) is None
    True
    """
    from scipy import sparse
    from scipy.optimize import linprog

    x = sparse.csr_matrix(X, dtype=float)
    yy = np.asarray(y, dtype=float).ravel()
    keep = np.ones(yy.size, dtype=bool) if w is None else np.asarray(w, dtype=float).ravel() > 0
    x, yy = x[np.flatnonzero(keep)], yy[keep]
    if x.shape[0] == 0 or x.shape[1] == 0:
        return None
    scale = np.asarray(abs(x).max(axis=0).todense(), dtype=float).ravel()
    scale = np.where(scale > 0, scale, 1.0)
    xs = x @ sparse.diags(1.0 / scale)
    win, loss = yy >= 1.0, yy <= 0.0
    soft = ~(win | loss)
    strict = np.flatnonzero(~soft)
    if strict.size == 0:
        return None
    signed = sparse.diags(np.where(win[strict], 1.0, -1.0)) @ xs[strict]
    equal = xs[np.flatnonzero(soft)] if soft.any() else None
    result = linprog(
        -np.asarray(signed.sum(axis=0), dtype=float).ravel(),
        A_ub=-signed,
        b_ub=np.zeros(signed.shape[0]),
        A_eq=equal,
        b_eq=None if equal is None else np.zeros(equal.shape[0]),
        bounds=[(-1.0, 1.0)] * xs.shape[1],
        method="highs",
    )
    if result.status != 0 or -result.fun <= _TOL * max(1.0, float(np.sqrt(signed.shape[0]))):
        return None
    b = np.asarray(result.x, dtype=float)
    margins = signed @ b
    if margins.min() < -1e-6 or margins.max() <= _TOL:
        return None
    return b / scale
