"""Slice discovery: find the slices of the examples where an event (a negative flip) is elevated.

Pure numpy. The candidates are *atoms* (one tag value, one bin or one-sided tail of a numeric
input feature, one range of two or three adjacent bins of a grid finer in its tails, one side of
a boolean feature, one input cluster) and their pairwise conjunctions (atoms of two different
features, with at least ``min_support`` examples, at most ``max_conjunctions`` of them, the
largest first: the cap looks at the sizes only, never at the outcome; the ranges and the
clusters join none, so they add few candidates).

The scan and its error control:

1. The examples are split in two halves by a seeded hash of their id (:func:`split_halves`).
2. **Discovery** on the first half: each candidate's events in the slice against the rest by a
   one-sided Fisher exact test (the hypergeometric upper tail, :func:`fisher_greater`), then
   Benjamini–Hochberg over all the candidates; the slices with ``q <= discovery_alpha`` are
   discovered. A discovered slice that a better one (a smaller p) already explains is pruned:
   its examples outside that better slice are not elevated (one-sided Fisher at ``alpha``) —
   so a conjunction whose parent carries the effect goes, and so does a wide bin whose excess
   sits in a narrower one.
3. **Confirmation** on the other half: the same one-sided Fisher test for each discovered
   slice, Holm across them; a slice is confirmed when its Holm-adjusted p is at most ``alpha``.
   Its reported estimate (rate with a Clopper–Pearson interval, the rest's rate, the lift) comes
   from this half only, so the selection does not inflate it (the winner's curse).
4. With ``cross_fit`` (the default) the roles swap too: discover on the second half, confirm on
   the first; Holm runs over the slices kept in both directions together, so the familywise
   level of the confirmations holds, and a slice kept both ways reports its better confirmation.

The lift (rate in the slice / rate in the rest) gets a conservative interval: the ratio of the
two rates' Clopper–Pearson bounds, each at level 1 − (1 − ``level``)/2 (Bonferroni).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from deltaeval.stats import CLOPPER_PEARSON, benjamini_hochberg, holm, linear_quantiles, proportion_ci

#: The quantiles that cut a numeric feature into bins.
BIN_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
#: The grid of the ranges: its ranges of :data:`RANGE_WIDTHS` adjacent bins are atoms too. It is
#: finer in the tails, so that a range can start or end at the 2.5% or 97.5% quantile (a band
#: such as 400 to 750 characters, the 92.5% to 97.3% quantiles of AlpacaEval's instructions,
#: straddles a cut of :data:`BIN_QUANTILES`), while each range still holds at least 5% of the
#: examples, as the bins do (its single bins are not atoms: a 2.5% bin is too often preferred, by
#: chance, to the wider bin that holds the effect, and then fails its confirmation).
RANGE_QUANTILES = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)
#: Ranges of this many adjacent bins of :data:`RANGE_QUANTILES` are atoms.
RANGE_WIDTHS = (2, 3)
#: The one-sided tails of a numeric feature offered as candidates besides its bins.
TAIL_QUANTILES = ((0.1, "<"), (0.25, "<"), (0.75, ">="), (0.9, ">="))
TEST = "fisher-exact-one-sided"
LIFT_METHOD = "ratio of clopper-pearson bounds (bonferroni, two intervals)"


@dataclass(frozen=True)
class Atom:
    """One simple condition on the examples: ``feature`` names it, ``mask`` marks its examples."""

    feature: str
    description: str
    mask: NDArray[np.bool_]
    #: the disjoint category this atom is of its feature (for tools that take one value per
    #: feature); None for an overlapping condition (a one-sided tail, a range of bins)
    category: str | None = None
    #: whether the atom joins pairwise conjunctions (a range of bins does not)
    joins: bool = True


@dataclass(frozen=True)
class Candidates:
    descriptions: list[str]
    masks: NDArray[np.bool_]  # (candidates, n)
    parts: list[tuple[int, ...]]  # the atoms of each candidate
    atoms: list[Atom]


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def _interval(label: str, low: float, high: float, suffix: str) -> str:
    """ "``label`` < high", "``label`` ≥ low" or "``label`` in [low, high)", with the unit."""
    if np.isinf(low):
        return f"{label} < {_number(high)}{suffix}"
    if np.isinf(high):
        return f"{label} ≥ {_number(low)}{suffix}"
    return f"{label} in [{_number(low)}, {_number(high)}){suffix}"


def numeric_atoms(
    feature: str,
    values: NDArray[np.floating],
    label: str,
    unit: str = "",
    quantiles: Sequence[float] = BIN_QUANTILES,
    range_quantiles: Sequence[float] = RANGE_QUANTILES,
    range_widths: Sequence[int] = RANGE_WIDTHS,
) -> list[Atom]:
    """Bins of a numeric feature cut at its quantiles, its one-sided tails, and ranges of bins.

    ``label`` names the feature in a description ("input length"), ``unit`` follows the number
    ("characters"). The ranges are ``w`` adjacent bins cut at ``range_quantiles`` (each ``w`` in
    ``range_widths``) that repeat no bin or tail; they join no conjunction (``joins=False``).
    NaN values fall in no atom.
    """
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if ok.sum() < 2:
        return []
    finite = v[ok]
    whole = bool(np.all(finite == np.round(finite)))

    def cuts_at(qs: Sequence[float]) -> list[float]:
        # on a count, x >= 89.8 is x >= 90: round the cuts up so that the descriptions read as counts
        cuts = {float(np.ceil(c)) if whole else c for c in linear_quantiles(finite, qs)}
        return [-np.inf, *sorted(c for c in cuts if c > finite.min()), np.inf]  # none at the minimum

    suffix = f" {unit}" if unit else ""
    atoms: list[Atom] = []
    for low, high in itertools.pairwise(cuts_at(quantiles)):
        mask = ok & (v >= low) & (v < high)
        text = _interval(label, low, high, suffix)
        if mask.any():
            atoms.append(Atom(feature, text, mask, category=text))
    for q, side in TAIL_QUANTILES:
        (cut,) = linear_quantiles(finite, [q])
        cut = float(np.ceil(cut)) if whole else cut
        mask = ok & ((v < cut) if side == "<" else (v >= cut))
        if mask.any() and not mask[ok].all():
            atoms.append(Atom(feature, f"{label} {'<' if side == '<' else '≥'} {_number(cut)}{suffix}", mask))
    seen = {a.description for a in atoms}
    edges = cuts_at(range_quantiles)
    for width in range_widths:
        for start in range(len(edges) - width):
            low, high = edges[start], edges[start + width]
            mask = ok & (v >= low) & (v < high)
            text = _interval(label, low, high, suffix)
            if text not in seen and mask.any() and not mask[ok].all():
                seen.add(text)
                atoms.append(Atom(feature, text, mask, joins=False))
    return atoms


def boolean_atoms(feature: str, values: NDArray[np.bool_], yes: str, no: str) -> list[Atom]:
    """The two sides of a boolean feature, described by ``yes`` and ``no``."""
    v = np.asarray(values, dtype=bool)
    return [Atom(feature, text, mask, category=text) for text, mask in ((yes, v), (no, ~v)) if mask.any()]


def categorical_atoms(feature: str, values: Sequence[str | None], label: str) -> list[Atom]:
    """One atom per value of a categorical feature (a tag): "``label`` = value"."""
    array = np.array(["" if v is None else str(v) for v in values], dtype=object)
    atoms = []
    for value in sorted(set(array.tolist()) - {""}):
        text = f"{label} = {value}"
        atoms.append(Atom(feature, text, array == value, category=text))
    return atoms


def build_candidates(
    atoms: Sequence[Atom], *, min_support: int, max_conjunctions: int = 2000, near_duplicate: float = 0.9
) -> Candidates:
    """Atoms with at least ``min_support`` examples and their pairwise conjunctions.

    Masks that repeat an earlier candidate's (the same examples) are dropped; the conjunctions
    join atoms of two different features (not those with ``joins=False``), leave out those
    holding at least ``near_duplicate`` of one of their atoms (nearly that atom: "has code and
    mentions no date" when few code inputs name a date), and are capped at ``max_conjunctions``,
    the largest. None of this looks at the outcome, so the tests that follow stay valid; fewer
    candidates leave them more power.
    """
    kept = [a for a in atoms if min_support <= int(a.mask.sum()) < a.mask.size]
    descriptions: list[str] = []
    masks: list[NDArray[np.bool_]] = []
    parts: list[tuple[int, ...]] = []
    seen: set[bytes] = set()

    def add(text: str, mask: NDArray[np.bool_], of: tuple[int, ...]) -> None:
        key = np.packbits(mask).tobytes()
        if key in seen:
            return
        seen.add(key)
        descriptions.append(text)
        masks.append(mask)
        parts.append(of)

    for i, atom in enumerate(kept):
        add(atom.description, atom.mask, (i,))
    if kept:
        stacked = np.array([a.mask for a in kept], dtype=np.float32)
        together = stacked @ stacked.T  # examples in both atoms of each pair
        pairs = [
            (int(together[i, j]), i, j)
            for i in range(len(kept))
            for j in range(i + 1, len(kept))
            if kept[i].feature != kept[j].feature
            and kept[i].joins
            and kept[j].joins
            and together[i, j] >= min_support
            # nearly one of its atoms (Jaccard >= near_duplicate): that atom already says it
            and together[i, j] < near_duplicate * min(together[i, i], together[j, j])
        ]
        pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
        for _, i, j in pairs[:max_conjunctions]:
            add(f"{kept[i].description} and {kept[j].description}", kept[i].mask & kept[j].mask, (i, j))
    n = atoms[0].mask.size if atoms else 0
    matrix = np.array(masks, dtype=bool) if masks else np.zeros((0, n), dtype=bool)
    return Candidates(descriptions, matrix, parts, list(kept))


def _log_factorials(n: int) -> NDArray[np.float64]:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=float)))])


def fisher_greater(
    in_events: NDArray[np.integer], in_size: NDArray[np.integer], events: int, total: int
) -> NDArray[np.float64]:
    """One-sided Fisher exact p-values: is the event rate inside each slice above the rest's?

    For a slice of ``in_size`` examples holding ``in_events`` of the ``events`` events among
    ``total`` examples, the p-value is P(X >= in_events) for X hypergeometric (``total``,
    ``events``, ``in_size``): exact, vectorised over slices.

    >>> round(float(fisher_greater(np.array([3]), np.array([4]), 3, 10)[0]), 6)
    0.033333
    """
    x = np.asarray(in_events, dtype=np.int64)
    m = np.asarray(in_size, dtype=np.int64)
    lf = _log_factorials(total)
    top = np.minimum(m, events)
    p = np.zeros(x.shape, dtype=float)
    if x.size == 0:
        return p
    log_denominator = lf[total] - lf[m] - lf[total - m]
    for j in range(0, int(top.max()) + 1):
        live = (j >= x) & (j <= top) & (m - j <= total - events)
        if not live.any():
            continue
        jj = np.where(live, j, 0)
        log_pmf = (
            lf[events]
            - lf[jj]
            - lf[events - jj]
            + lf[total - events]
            - lf[np.where(live, m - jj, 0)]
            - lf[np.where(live, total - events - m + jj, 0)]
            - log_denominator
        )
        p += np.exp(np.where(live, log_pmf, -np.inf))
    return np.clip(np.where(x <= 0, 1.0, p), 0.0, 1.0)


def split_halves(ids: Sequence[str], seed: int) -> NDArray[np.bool_]:
    """True for the examples in the discovery half: the low bit of a seeded BLAKE2b hash of the id.

    The split depends only on the id and the seed, not on the examples' order.
    """
    key = str(seed).encode()
    return np.fromiter(
        (hashlib.blake2b(str(i).encode(), digest_size=8, key=key).digest()[0] & 1 == 0 for i in ids),
        dtype=bool,
        count=len(ids),
    )


@dataclass(frozen=True)
class Slice:
    """One confirmed (or only discovered) slice; the estimates come from the confirmation half."""

    description: str
    support: int  # examples in the slice, both halves
    support_fraction: float
    events: int  # events in the slice, both halves
    discovery: dict
    confirmation: dict
    confirmed: bool
    example_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SliceDiscovery:
    event: str
    n: int
    candidates: int
    discovered: int
    confirmed: list[Slice]
    unconfirmed: list[Slice]
    alpha: float
    discovery_alpha: float
    seed: int
    halves: tuple[int, int]


def _counts(masks: NDArray[np.bool_], events: NDArray[np.bool_], half: NDArray[np.bool_]):
    m = masks[:, half]
    e = events[half]
    return m.sum(axis=1).astype(np.int64), (m & e).sum(axis=1).astype(np.int64), int(e.sum()), int(half.sum())


def _prune(
    order: list[int],
    masks: NDArray[np.bool_],
    events: NDArray[np.bool_],
    half: NDArray[np.bool_],
    alpha: float,
) -> list[int]:
    """Keep each discovered slice (simplest first, then by p) unless a kept one explains it.

    A slice inside a kept one is explained unless its rate is above the rest of the kept one's;
    any other overlapping slice is explained unless its examples outside the kept one are above
    the examples outside both (one-sided Fisher at ``alpha``).
    """
    kept: list[int] = []
    e = events[half]
    for c in order:
        mask = masks[c, half]
        explained = False
        for k in kept:
            other = masks[k, half]
            if not (mask & other).any():
                continue
            if not (mask & ~other).any():  # inside the kept slice: against the rest of it
                inside, pool = mask, other
            else:  # its examples outside the kept slice, against those outside both
                inside, pool = mask & ~other, ~(mask & other)
            p = fisher_greater(
                np.array([int((inside & e).sum())]),
                np.array([int(inside.sum())]),
                int((pool & e).sum()),
                int(pool.sum()),
            )[0]
            if p > alpha:
                explained = True
                break
        if not explained:
            kept.append(c)
    return kept


def _estimate(in_n: int, in_k: int, out_n: int, out_k: int, level: float) -> dict:
    rate = in_k / in_n if in_n else None
    rest = out_k / out_n if out_n else None
    ci = proportion_ci(in_k, in_n, level)
    rest_ci = proportion_ci(out_k, out_n, level)
    # lift = rate / rest, its interval from the two rates' intervals at the Bonferroni level
    wide = 1.0 - (1.0 - level) / 2.0
    a, b = proportion_ci(in_k, in_n, wide), proportion_ci(out_k, out_n, wide)
    lift = rate / rest if rate is not None and rest else None
    lift_ci = None
    if a is not None and b is not None:
        lift_ci = (a[0] / b[1] if b[1] > 0 else None, a[1] / b[0] if b[0] > 0 else None)
    return {
        "support": in_n,
        "events": in_k,
        "rate": rate,
        "rate_interval": list(ci) if ci else None,
        "rest_support": out_n,
        "rest_events": out_k,
        "rest_rate": rest,
        "rest_interval": list(rest_ci) if rest_ci else None,
        "lift": lift,
        "lift_interval": list(lift_ci) if lift_ci else None,
        "interval_method": CLOPPER_PEARSON,
        "lift_method": LIFT_METHOD,
    }


def discover_slices(
    events: NDArray[np.bool_],
    candidates: Candidates,
    ids: Sequence[str],
    *,
    event: str = "negative flip",
    alpha: float = 0.05,
    discovery_alpha: float | None = None,
    seed: int = 0,
    level: float = 0.95,
    max_examples: int = 10,
    cross_fit: bool = True,
) -> SliceDiscovery:
    """Discover slices on one half, confirm them on the other (see the module docstring).

    Parameters
    ----------
    events:
        One bool per example: the event whose rate a slice elevates (a negative flip).
    candidates:
        From :func:`build_candidates`, over the same examples.
    ids:
        The examples' ids: they seed the split and name a slice's examples.
    alpha:
        The confirmation's familywise level (Holm) and the pruning test's level.
    discovery_alpha:
        The false discovery rate of the discovery half (Benjamini–Hochberg); default ``alpha``.
    cross_fit:
        Also discover on the second half and confirm on the first; Holm then runs over the
        slices kept in both directions, so the familywise level of the confirmations holds.
    """
    ev = np.asarray(events, dtype=bool)
    n = ev.size
    if len(ids) != n or candidates.masks.shape[1:] not in ((n,), (0,)):
        raise ValueError("events, candidates and ids must cover the same examples")
    d_alpha = alpha if discovery_alpha is None else discovery_alpha
    first = split_halves(ids, seed)
    second = ~first
    masks = candidates.masks
    directions = [(first, second), (second, first)] if cross_fit else [(first, second)]
    # per direction: the kept candidates, their discovery p/q and counts, their confirmation counts
    rows: list[tuple[int, dict, tuple[int, int, int, int]]] = []
    for found_on, confirm_on in directions:
        in_n, in_k, k_all, n_all = _counts(masks, ev, found_on)
        p = fisher_greater(in_k, in_n, k_all, n_all)
        q = benjamini_hochberg(p) if p.size else p
        # the simplest first (atoms before conjunctions), then the smallest p
        found = sorted(
            (int(i) for i in np.flatnonzero(q <= d_alpha)), key=lambda i: (len(candidates.parts[i]), p[i], i)
        )
        for c in _prune(found, masks, ev, found_on, alpha):
            discovery = _estimate(
                int(in_n[c]), int(in_k[c]), n_all - int(in_n[c]), k_all - int(in_k[c]), level
            )
            discovery.update(p_value=float(p[c]), q_value=float(q[c]))
            c_n, c_k, ck_all, cn_all = _counts(masks[[c]], ev, confirm_on)
            rows.append((c, discovery, (int(c_n[0]), int(c_k[0]), ck_all, cn_all)))
    cp = np.array([fisher_greater(np.array([k]), np.array([m]), ka, na)[0] for _, _, (m, k, ka, na) in rows])
    adjusted = holm(cp) if rows else np.zeros(0)
    id_array = np.asarray(ids, dtype=object)
    best: dict[int, Slice] = {}
    for row, (c, discovery, (m, k, ka, na)) in enumerate(rows):
        mask = masks[c]
        confirmation = _estimate(m, k, na - m, ka - k, level)
        confirmation.update(p_value=float(cp[row]), holm_p=float(adjusted[row]))
        members = np.flatnonzero(mask)
        order = members[np.argsort(~ev[members], kind="stable")]  # the events first
        item = Slice(
            description=candidates.descriptions[c],
            support=int(mask.sum()),
            support_fraction=float(mask.mean()),
            events=int((mask & ev).sum()),
            discovery=discovery,
            confirmation=confirmation,
            confirmed=bool(adjusted[row] <= alpha),
            example_ids=[str(i) for i in id_array[order[:max_examples]]],
        )
        # a slice kept in both directions: report its better confirmation
        if c not in best or item.confirmation["holm_p"] < best[c].confirmation["holm_p"]:
            best[c] = item
    ranked = sorted(best.values(), key=lambda s: (s.confirmation["holm_p"], s.description))
    confirmed = [s for s in ranked if s.confirmed]
    unconfirmed = [s for s in ranked if not s.confirmed]
    return SliceDiscovery(
        event=event,
        n=n,
        candidates=int(masks.shape[0]),
        discovered=len(best),
        confirmed=confirmed,
        unconfirmed=unconfirmed,
        alpha=alpha,
        discovery_alpha=d_alpha,
        seed=seed,
        halves=(int(first.sum()), int(second.sum())),
    )


def slice_masks(result: SliceDiscovery, candidates: Candidates) -> list[NDArray[np.bool_]]:
    """The masks of ``result``'s confirmed slices (looked up by description)."""
    index = {d: i for i, d in enumerate(candidates.descriptions)}
    return [candidates.masks[index[s.description]] for s in result.confirmed]


def jaccard(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    """|a ∩ b| / |a ∪ b| of two masks (0 when both are empty)."""
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 0.0
