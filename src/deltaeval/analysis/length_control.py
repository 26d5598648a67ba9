"""Length-controlled win rate, after AlpacaEval 2's GLM (Dubois et al., 2024, arXiv:2404.04475).

The model (AlpacaEval's ``length_controlled_v1``), for one run against the baseline on
instruction i, with y_i = preference − 1 in [0, 1] used as a soft label::

    logit P(run beats baseline) = theta + phi * tanh(delta_i / sd(delta)) + psi * d_i

where ``delta_i = len(baseline output) − len(run output)`` in **characters** (AlpacaEval uses
``str.len()``), ``sd`` its standard deviation over the run's instructions, and ``d_i`` the
instruction's difficulty. The length-controlled (LC) win rate is the model's prediction with the
length term removed (``delta = 0``), averaged over the instructions, in percent.

How this differs from AlpacaEval, which we cannot fully reproduce from the runs at hand:

* **Instruction difficulty.** AlpacaEval ships a per-instruction difficulty estimated once from
  the annotations of every model on its leaderboard (> 100 models). We estimate it from the runs
  given (``estimate_instruction_difficulty``): a joint logistic model of all runs' preferences
  with one intercept per run, one length slope shared by all runs (the judge's length bias) and
  one intercept per instruction (ridge-penalised, i.e. a Gaussian prior, since a handful of runs
  says little about each instruction). With a single run there is nothing to estimate it from,
  and the term is dropped.
* **Regularisation toward the baseline.** AlpacaEval adds, with weight 0.2, annotations of the
  baseline against its own verbose and concise variants (equal quality, different lengths), which
  pins down the judge's length slope; it also fits with an L1-penalised, cross-validated
  ``LogisticRegressionCV``. We have no such annotations. Instead, when a difficulty estimate from
  several runs is given, each run's slopes (phi, psi) are shrunk toward the pooled ones (the
  shared length slope and psi = 1) by a Gaussian prior worth ``regularization`` times the run's
  own information (default 0.2, AlpacaEval's weight). Without it the run's own length slope is
  fitted freely, and the LC figure can swing far when the run's lengths differ a lot from the
  baseline's (the prediction at delta = 0 is then an extrapolation).

Expect LC win rates near but not equal to the published ones; ``bench/winrate_alpaca.py`` prints
both.

**When the model cannot be fitted honestly** (``analysis.separation``), the figure is refused or
regularised, and ``LCResult.note`` says which and why:

* *refused* (``status = "not estimated"``, the LC win rate NaN) with fewer than ``MIN_FIT`` (3)
  judged instructions, or when the outcomes are (quasi-)completely separated in the parameters
  fitted without a prior: every judged instruction has the same outcome, or the length term
  alone tells every win from every loss (a judge that always prefers the shorter answer). The
  maximum-likelihood slope is then infinite and the prediction at equal lengths is set by where
  the iterations stopped, so no number is honest: any LC value between the observed extremes
  fits the data equally well, and a prior would only report its own strength;
* *regularised* (``status = "regularised"``) when there are fewer than
  ``MIN_EVENTS_PER_PARAMETER`` (10) of the rarer outcome per parameter fitted without a prior:
  a Gaussian prior of precision ``RIDGE`` (1, i.e. N(0, 1) on the logit scale per unit of the
  tanh length term) is put on the slopes, centred at 0 (or added to the pooled prior, centred
  at the pooled slopes). Slopes of 0 give the raw win rate, so the LC figure is pulled toward
  it, the more the fewer the data. Above the threshold nothing changes.

Bootstrap replicates that are themselves separated are left out of the interval (and counted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, log_expit

from deltaeval.analysis.separation import (
    MIN_EVENTS_PER_PARAMETER,
    RIDGE,
    SUSPECT_COEFFICIENT,
    events,
    separating_direction,
)
from deltaeval.plural import plural
from deltaeval.stats import Interval, percentile_interval

#: AlpacaEval's weight of the regularisation toward the baseline (``regularize_to_baseline_lambda``).
DEFAULT_REGULARIZATION = 0.2
#: Fewest judged instructions for a length-controlled fit.
MIN_FIT = 3
#: ``LCResult.status`` values.
ESTIMATED = "estimated"
REGULARISED = "regularised"
NOT_ESTIMATED = "not estimated"


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _soft_labels(preferences: ArrayLike) -> NDArray[np.float64]:
    """Preferences in [1, 2] (NaN allowed) as soft labels in [0, 1]."""
    p = np.asarray(preferences, dtype=float)
    finite = np.isfinite(p)
    if np.any((p[finite] < 1) | (p[finite] > 2)):
        raise ValueError("preferences must lie in [1, 2] (1 = baseline better, 2 = model better)")
    return p - 1.0


def length_feature(len_model: ArrayLike, len_baseline: ArrayLike) -> tuple[NDArray[np.float64], float]:
    """AlpacaEval's length term ``tanh((len_baseline − len_model) / sd)`` and the scale ``sd``.

    ``sd`` is the sample standard deviation (ddof=1) of the differences over the finite entries.
    When it is zero (or undefined) the term is all zeros and ``sd`` is NaN.
    """
    delta = np.asarray(len_baseline, dtype=float) - np.asarray(len_model, dtype=float)
    finite = np.isfinite(delta)
    sd = float(np.std(delta[finite], ddof=1)) if finite.sum() > 1 else float("nan")
    if not np.isfinite(sd) or sd == 0:
        return np.zeros_like(delta), float("nan")
    return np.tanh(delta / sd), sd


def _objective(
    X: NDArray, y: NDArray, w: NDArray, beta: NDArray, prior: NDArray, Q: NDArray, offset: NDArray | float
) -> NDArray | float:
    """Penalised negative log-likelihood with soft labels; ``beta`` may be (k,) or (B, k)."""
    eta = beta @ X.T + offset
    loglik = (w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum(axis=-1)
    diff = beta - prior
    penalty = 0.5 * np.einsum("...i,ij,...j->...", diff, Q, diff)
    return penalty - loglik


def _fit_logistic(
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    *,
    prior: NDArray[np.float64] | None = None,
    Q: NDArray[np.float64] | None = None,
    start: NDArray[np.float64] | None = None,
    offset: NDArray[np.float64] | float = 0.0,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[NDArray[np.float64], bool]:
    """Newton's method for a weighted logistic regression with soft labels and a Gaussian prior.

    Minimises ``−Σ w_i [y_i log p_i + (1 − y_i) log(1 − p_i)] + ½ (β − prior)ᵀ Q (β − prior)``.
    ``offset`` is added to the linear predictor (a term with a fixed coefficient). ``w`` is (n,)
    for one fit or (B, n) for B fits at once (bootstrap weights). Steps are halved
    while they do not decrease the objective. Returns (β, converged).
    """
    k = X.shape[1]
    prior = np.zeros(k) if prior is None else prior
    Q = np.zeros((k, k)) if Q is None else Q
    batch = w.ndim == 2
    beta = np.broadcast_to(prior if start is None else start, (w.shape[0], k) if batch else (k,)).copy()
    obj = _objective(X, y, w, beta, prior, Q, offset)
    converged = False
    for _ in range(max_iter):
        p = expit(beta @ X.T + offset)
        grad = (w * (y - p)) @ X - (beta - prior) @ Q.T
        hess = np.einsum("...n,ni,nj->...ij", w * p * (1 - p), X, X) + Q
        step = np.linalg.solve(hess + 1e-12 * np.eye(k), grad[..., None])[..., 0]
        scale = np.ones(step.shape[:-1])
        for _ in range(30):
            trial = beta + scale[..., None] * step
            new_obj = _objective(X, y, w, trial, prior, Q, offset)
            worse = new_obj > obj + 1e-12 * np.maximum(1.0, np.abs(obj))
            if not np.any(worse):
                break
            scale = np.where(worse, scale / 2, scale)
        beta, obj = trial, new_obj
        if np.max(np.abs(scale[..., None] * step)) < tol:
            converged = True
            break
    return beta, converged


# --------------------------------------------------------------------------------------------
# Instruction difficulty from several runs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstructionDifficulty:
    """Per-instruction difficulty estimated jointly from several runs against one baseline.

    Joint model: ``logit P(run r beats baseline on i) = theta_r + phi * t_ri − difficulty_i``,
    where ``t_ri`` is AlpacaEval's length term for run r (scaled by run r's own sd). Difficulty is
    on the logit scale, centred to mean 0: higher means the runs lose more often to the baseline
    on that instruction than their overall level predicts.
    """

    difficulty: NDArray[np.float64]  # (n_instructions,)
    run_effects: NDArray[np.float64]  # theta_r, (n_runs,)
    length_slope: float  # phi shared by the runs; NaN when no lengths were given
    ridge: float
    n_runs: int
    converged: bool
    #: the runs' outcomes are separated by the run intercepts and the length term (see
    #: ``analysis.separation``): the pooled length slope is then infinite and must not be used
    separated: bool = False


def estimate_instruction_difficulty(
    preference_matrix: ArrayLike,
    len_model: ArrayLike | None = None,
    len_baseline: ArrayLike | None = None,
    *,
    ridge: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> InstructionDifficulty:
    """Instruction difficulty from several runs' preferences against the same baseline.

    Parameters
    ----------
    preference_matrix:
        (n_runs, n_instructions) AlpacaEval preferences in [1, 2]; NaN where a run has no
        preference for an instruction.
    len_model, len_baseline:
        Output lengths in characters: (n_runs, n_instructions) for the runs and
        (n_instructions,) (or the same shape) for the baseline. Without them the joint model
        has no length term (then the difficulty absorbs any length effect).
    ridge:
        Precision of the Gaussian prior on each instruction's intercept (1 = a standard normal
        prior on the logit scale). Needed: with few runs, an instruction every run loses has
        an infinite maximum-likelihood intercept.

    Notes
    -----
    Fitted by Newton's method; the instruction block of the Hessian is diagonal, so each step
    solves only an (n_runs + 1)-sized system (Schur complement): O(n_runs² · n_instructions).
    """
    y_all = _soft_labels(np.atleast_2d(preference_matrix))
    n_runs, n_items = y_all.shape
    if ridge <= 0:
        raise ValueError("ridge must be positive (the instruction intercepts need a prior)")
    has_length = len_model is not None and len_baseline is not None
    t_all = np.zeros_like(y_all)
    if has_length:
        lm = np.atleast_2d(np.asarray(len_model, dtype=float))
        lb = np.broadcast_to(np.asarray(len_baseline, dtype=float), lm.shape)
        if lm.shape != y_all.shape:
            raise ValueError(f"len_model has shape {lm.shape}, preferences {y_all.shape}")
        for r in range(n_runs):
            t_all[r] = length_feature(lm[r], lb[r])[0]
        t_all = np.nan_to_num(t_all)
    observed = np.isfinite(y_all)
    y = np.where(observed, y_all, 0.0)
    w = observed.astype(float)
    k = n_runs + 1 if has_length else n_runs

    theta = np.zeros(n_runs)
    phi = 0.0
    gamma = np.zeros(n_items)

    def objective(theta: NDArray, phi: float, gamma: NDArray) -> float:
        eta = theta[:, None] + phi * t_all + gamma[None, :]
        ll = (w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum()
        return float(0.5 * ridge * gamma @ gamma - ll)

    obj = objective(theta, phi, gamma)
    converged = False
    for _ in range(max_iter):
        eta = theta[:, None] + phi * t_all + gamma[None, :]
        p = expit(eta)
        resid = w * (y - p)
        v = w * p * (1 - p)
        # gradient (of the log-posterior) and Hessian blocks (of the negative log-posterior)
        g_small = resid.sum(axis=1)
        a_small = np.diag(v.sum(axis=1))
        b_small = v.copy()  # (n_runs, n_items): d²/dtheta_r dgamma_i
        if has_length:
            g_small = np.append(g_small, (resid * t_all).sum())
            cross = (v * t_all).sum(axis=1)
            a_small = np.block([[a_small, cross[:, None]], [cross[None, :], (v * t_all**2).sum()]])
            b_small = np.vstack([b_small, (v * t_all).sum(axis=0)])
        g_gamma = resid.sum(axis=0) - ridge * gamma
        d_gamma = v.sum(axis=0) + ridge
        # Schur complement: (A − B D⁻¹ Bᵀ) s = g_s − B D⁻¹ g_γ ; s_γ = D⁻¹ (g_γ − Bᵀ s)
        schur = a_small - (b_small / d_gamma) @ b_small.T
        rhs = g_small - b_small @ (g_gamma / d_gamma)
        step_small = np.linalg.solve(schur + 1e-12 * np.eye(k), rhs)
        step_gamma = (g_gamma - b_small.T @ step_small) / d_gamma
        scale = 1.0
        for _ in range(30):
            new_theta = theta + scale * step_small[:n_runs]
            new_phi = phi + scale * step_small[n_runs] if has_length else 0.0
            new_gamma = gamma + scale * step_gamma
            new_obj = objective(new_theta, new_phi, new_gamma)
            if new_obj <= obj + 1e-12 * max(1.0, abs(obj)):
                break
            scale /= 2
        theta, phi, gamma, obj = new_theta, new_phi, new_gamma, new_obj
        size = scale * max(np.max(np.abs(step_small)), np.max(np.abs(step_gamma), initial=0.0))
        if size < tol:
            converged = True
            break
    centre = float(gamma.mean()) if n_items else 0.0
    # the instruction intercepts have a prior; the run intercepts and the length slope do not
    free = np.zeros((n_runs * n_items, k))
    free[np.arange(n_runs * n_items), np.repeat(np.arange(n_runs), n_items)] = 1.0
    if has_length:
        free[:, n_runs] = t_all.ravel()
    separated = separating_direction(free, y.ravel(), w.ravel()) is not None
    return InstructionDifficulty(
        difficulty=-(gamma - centre),
        run_effects=theta + centre,
        length_slope=float(phi) if has_length else float("nan"),
        ridge=float(ridge),
        n_runs=n_runs,
        converged=converged,
        separated=separated,
    )


# --------------------------------------------------------------------------------------------
# Length-controlled win rate of one run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LCResult:
    """Length-controlled win rate of one run against the baseline (percent)."""

    lc_win_rate: float  # percent
    win_rate: float  # raw win rate: mean of (preference − 1) over defined preferences, percent
    standard_error: float | None  # bootstrap SE of the LC win rate (percent); None without resampling
    interval: Interval  # bootstrap percentile interval of the LC win rate (percent)
    level: float
    n_boot: int
    coefficients: dict[str, float]  # "intercept", "length" and, when used, "difficulty"
    length_scale: float  # sd of (len_baseline − len_model), characters
    n_fit: int  # instructions with a preference (used in the fit)
    n_instructions: int  # instructions averaged over (all with lengths, as AlpacaEval does)
    uses_difficulty: bool
    regularization: float  # weight of the shrinkage toward the pooled slopes (0 = none)
    converged: bool
    status: str = ESTIMATED  # ESTIMATED, REGULARISED or NOT_ESTIMATED (then lc_win_rate is NaN)
    note: str | None = None  # why a figure was regularised or not estimated
    ridge: float = 0.0  # precision of the extra prior on the slopes (RIDGE when regularised)
    n_boot_dropped: int = 0  # bootstrap replicates left out because they were separated


def length_controlled_win_rate(
    preferences: ArrayLike,
    len_model: ArrayLike,
    len_baseline: ArrayLike,
    *,
    difficulty: InstructionDifficulty | ArrayLike | None = None,
    regularization: float = DEFAULT_REGULARIZATION,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int | None = 0,
) -> LCResult:
    """AlpacaEval-2-style length-controlled win rate of one run against the baseline.

    Parameters
    ----------
    preferences:
        Per-instruction AlpacaEval preferences in [1, 2] (NaN = no preference: left out of the
        fit, but the instruction still counts in the average, as in AlpacaEval).
    len_model, len_baseline:
        Lengths of the run's and the baseline's outputs, in characters.
    difficulty:
        ``None``: no difficulty term (a single run). An array: per-instruction difficulty used
        as a feature, without shrinkage. An ``InstructionDifficulty`` from
        ``estimate_instruction_difficulty`` over several runs: its difficulty is the feature and
        the run's slopes are shrunk toward its pooled length slope (see the module docstring).
    regularization:
        Weight of that shrinkage, in units of the run's own information (0 turns it off).
    n_boot, level, seed:
        Bootstrap over instructions for the SE and interval of the LC win rate; the length
        scale, the difficulty and the prior stay fixed (the SE is conditional on them).
        ``n_boot=0`` skips it.

    Examples
    --------
    >>> r = length_controlled_win_rate([1.2, 1.9, 1.1, 1.6], [100, 300, 80, 250], [200, 200, 200, 200],
    ...                                n_boot=0)
    >>> 0 < r.lc_win_rate < 100
    True
    """
    y_all = _soft_labels(preferences).ravel()
    lm = np.asarray(len_model, dtype=float).ravel()
    lb = np.asarray(len_baseline, dtype=float).ravel()
    if not (y_all.shape == lm.shape == lb.shape):
        raise ValueError(f"shapes differ: preferences {y_all.shape}, lengths {lm.shape} and {lb.shape}")
    rows = np.isfinite(lm) & np.isfinite(lb)
    y_all, lm, lb = y_all[rows], lm[rows], lb[rows]
    t, sd = length_feature(lm, lb)

    pooled: InstructionDifficulty | None = None
    if isinstance(difficulty, InstructionDifficulty):
        pooled = difficulty
        d = np.asarray(difficulty.difficulty, dtype=float)
    elif difficulty is not None:
        d = np.asarray(difficulty, dtype=float).ravel()
    else:
        d = None
    if d is not None:
        if d.size != rows.size:
            raise ValueError(f"difficulty has {d.size} values for {rows.size} instructions")
        d = np.nan_to_num(d[rows])
        X = np.column_stack([np.ones_like(t), t, d])
        names = ("intercept", "length", "difficulty")
    else:
        X = np.column_stack([np.ones_like(t), t])
        names = ("intercept", "length")

    fit_rows = np.isfinite(y_all)
    y = np.where(fit_rows, y_all, 0.0)
    w = fit_rows.astype(float)
    k = X.shape[1]
    n_fit = int(fit_rows.sum())
    raw = y_all[fit_rows]
    win_rate = float(raw.mean()) * 100 if raw.size else float("nan")
    prior = np.zeros(k)
    Q = np.zeros((k, k))
    use_prior = (
        pooled is not None
        and regularization > 0
        and np.isfinite(pooled.length_slope)
        and not pooled.separated
    )
    free = [0] if use_prior else list(range(k))

    def refused(note: str) -> LCResult:
        nan = float("nan")
        return LCResult(
            lc_win_rate=nan,
            win_rate=win_rate,
            standard_error=None,
            interval=None,
            level=level,
            n_boot=n_boot,
            coefficients={name: nan for name in names},
            length_scale=sd,
            n_fit=n_fit,
            n_instructions=int(t.size),
            uses_difficulty=d is not None,
            regularization=0.0,
            converged=False,
            status=NOT_ESTIMATED,
            note=note,
        )

    if n_fit < MIN_FIT:
        return refused(f"not estimated: fewer than {MIN_FIT} judged examples; n = {n_fit}")
    reason = _separation_reason(X[fit_rows], y[fit_rows], free)
    if reason is not None:
        return refused(f"not estimated: {reason}; n = {n_fit}")

    if use_prior:
        assert pooled is not None
        # prior slopes: the pooled length slope and difficulty coefficient −1 (the joint model's);
        # the intercept is free, set to the best fit given those slopes to evaluate the information
        slopes = np.array([pooled.length_slope, -1.0])
        offset = X[:, 1:] @ slopes
        theta0, _ = _fit_logistic(X[:, :1], y, w, offset=offset)
        prior = np.concatenate([theta0, slopes])
        p0 = expit(theta0[0] + offset)
        info = (X * (w * p0 * (1 - p0))[:, None]).T @ X
        Q[1:, 1:] = regularization * info[1:, 1:]
    status, note, ridge = ESTIMATED, None, 0.0
    rare = events(y, w)
    if rare < MIN_EVENTS_PER_PARAMETER * len(free):
        status, ridge = REGULARISED, RIDGE
        Q[1:, 1:] += ridge * np.eye(k - 1)
        toward = "the pooled fit" if use_prior else "the raw win rate"
        note = (
            f"regularised: {plural(n_fit, 'judged example')}, {rare:.1f} of the rarer outcome for "
            f"{plural(len(free), 'parameter')} fitted freely (fewer than {MIN_EVENTS_PER_PARAMETER} per "
            f"parameter); a normal prior (ridge {ridge:g}) on the length slope pulls the "
            f"length-controlled win rate toward {toward}"
        )
    beta, converged = _fit_logistic(X, y, w, prior=prior, Q=Q, start=prior)

    def lc_of(b: NDArray, weights: NDArray | None = None) -> NDArray | float:
        eta0 = b[..., :1] + (b[..., 2:3] * d if d is not None else 0.0)
        p = expit(np.broadcast_to(eta0, (*b.shape[:-1], t.size)))
        if weights is None:
            return float(p.mean()) * 100
        return (weights * p).sum(axis=-1) / weights.sum(axis=-1) * 100

    lc = lc_of(beta)
    se: float | None = None
    interval: Interval = None
    dropped = 0
    if n_boot > 0 and t.size > 1:
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(t.size, np.full(t.size, 1.0 / t.size), size=n_boot).astype(float)
        betas, _ = _fit_logistic(X, y, counts * w, prior=prior, Q=Q, start=beta)
        reps = np.asarray(lc_of(betas, counts))
        if ridge == 0.0:
            keep = ~_separated_replicates(X, y, counts * w, betas, free)
            dropped = int((~keep).sum())
            reps = reps[keep]
        if reps.size > 1:
            se = float(np.std(reps, ddof=1))
            interval = percentile_interval(reps, level)
        if dropped:
            extra = f"{plural(dropped, 'bootstrap replicate')} of {n_boot} separated and left out"
            note = extra if note is None else f"{note}; {extra}"
    return LCResult(
        lc_win_rate=float(lc),
        win_rate=win_rate,
        standard_error=se,
        interval=interval,
        level=level,
        n_boot=n_boot,
        coefficients={name: float(v) for name, v in zip(names, beta, strict=True)},
        length_scale=sd,
        n_fit=n_fit,
        n_instructions=int(t.size),
        uses_difficulty=d is not None,
        regularization=float(regularization) if use_prior else 0.0,
        converged=converged,
        status=status,
        note=note,
        ridge=ridge,
        n_boot_dropped=dropped,
    )


def _separation_reason(X: NDArray, y: NDArray, free: list[int]) -> str | None:
    """Why the free columns of ``X`` separate the outcomes ``y`` (None when they do not)."""
    if separating_direction(X[:, free], y) is None:
        return None
    if separating_direction(X[:, :1], y) is not None:
        return "every judged example has the same outcome"
    if separating_direction(X[:, :2], y) is not None:
        return "the preferences are perfectly separated by length"
    return "the preferences are perfectly separated by length and instruction difficulty"


def _separated_replicates(X: NDArray, y: NDArray, w: NDArray, betas: NDArray, free: list[int]) -> NDArray:
    """Which bootstrap fits (rows of ``betas``, weights ``w``) ran off along a separating direction.

    Only replicates with a coefficient over ``SUSPECT_COEFFICIENT`` are checked (a linear
    programme each); a separated fit always ends far beyond it.
    """
    out = np.zeros(betas.shape[0], dtype=bool)
    suspect = np.flatnonzero(np.abs(betas[:, free]).max(axis=1) > SUSPECT_COEFFICIENT)
    for r in suspect:
        out[r] = separating_direction(X[:, free], y, w[r]) is not None
    return out
