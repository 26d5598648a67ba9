"""An honest calibration/evaluation split of examples, by id.

Whatever a compat method tunes (thresholds, training data, early stopping) it tunes on the
calibration ids; every figure it reports is measured on the evaluation ids, which nothing tuned
has seen. The split is a pure function of the ids, the seed and the fraction (not of the order
the ids come in): each id's place is the SHA-256 of ``seed`` and the id, so the same inputs give
the same split on any machine, and adding examples does not move the ones already there.

Stratified where sensible: give ``strata`` (one label per id, e.g. the flip cell old-right ×
new-right, or a category tag) and each stratum is split in the same proportion.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from deltaeval.compat.runs import ids_hash
from deltaeval.errors import InputError
from deltaeval.plural import plural
from deltaeval.types import Run


@dataclass(frozen=True)
class Split:
    """Disjoint calibration and evaluation ids (checked on construction)."""

    calibration: frozenset[str]
    evaluation: frozenset[str]
    seed: int
    fraction: float

    def __post_init__(self) -> None:
        shared = self.calibration & self.evaluation
        if shared:
            raise InputError(
                f"{plural(len(shared), 'example id')} both in calibration and evaluation "
                f"(e.g. {sorted(shared)[0]!r})",
                hint="a split puts every example on one side only",
            )

    @property
    def calibration_ids_hash(self) -> str:
        """Order-free hash of the calibration ids (recorded in a derived run's recipe)."""
        return ids_hash(self.calibration)

    def calibration_mask(self, ids: Sequence[str]) -> NDArray[np.bool_]:
        """True where ``ids[i]`` is a calibration id."""
        return np.fromiter((i in self.calibration for i in ids), dtype=bool, count=len(ids))

    def evaluation_mask(self, ids: Sequence[str]) -> NDArray[np.bool_]:
        """True where ``ids[i]`` is an evaluation id."""
        return np.fromiter((i in self.evaluation for i in ids), dtype=bool, count=len(ids))


def _place(seed: int, example_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{example_id}".encode("utf-8", "surrogatepass")).digest()


def split_ids(
    ids: Sequence[str],
    *,
    fraction: float = 0.5,
    seed: int = 0,
    strata: Sequence[object] | None = None,
    min_calibration: int = 1,
    min_evaluation: int = 1,
) -> Split:
    """Split ``ids`` into calibration (about ``fraction`` of them) and evaluation.

    Parameters
    ----------
    ids:
        Unique example ids.
    fraction:
        Share of each stratum that goes to calibration, in (0, 1); rounded per stratum.
    seed:
        Which split: the same ids and seed give the same split.
    strata:
        Optional label per id; each stratum is split in the same proportion.
    min_calibration, min_evaluation:
        Fewest ids each side must get; fewer is an error naming the fix.

    Examples
    --------
    >>> s = split_ids([f"q{i}" for i in range(10)], fraction=0.3, seed=1)
    >>> len(s.calibration), len(s.evaluation), s.calibration.isdisjoint(s.evaluation)
    (3, 7, True)
    """
    if not 0.0 < fraction < 1.0:
        raise InputError(
            f"calibration fraction {fraction!r} is not between 0 and 1",
            hint="give e.g. --calibration-fraction 0.5",
        )
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise InputError(
            "example ids repeat: a split needs unique ids", hint="give every example a unique id"
        )
    if strata is not None and len(strata) != len(ids):
        raise InputError(f"{len(strata)} strata for {plural(len(ids), 'id')}", hint="give one label per id")
    groups: dict[object, list[str]] = defaultdict(list)
    for i, example_id in enumerate(ids):
        groups[None if strata is None else strata[i]].append(example_id)
    calibration: set[str] = set()
    for members in groups.values():
        members.sort(key=lambda example_id: _place(seed, example_id))
        calibration.update(members[: round(fraction * len(members))])
    evaluation = frozenset(ids) - calibration
    for side, count, least in (
        ("calibration", len(calibration), min_calibration),
        ("evaluation", len(evaluation), min_evaluation),
    ):
        if count < least:
            raise InputError(
                f"the {side} split has {plural(count, 'example')} of {len(ids)}; at least {least} needed",
                hint="use more examples, or change --calibration-fraction",
            )
    return Split(calibration=frozenset(calibration), evaluation=evaluation, seed=seed, fraction=fraction)


def restrict(run: Run, ids: frozenset[str] | set[str], *, name: str | None = None) -> Run:
    """A copy of ``run`` holding only the examples whose id is in ``ids`` (their order kept)."""
    keep = [i for i, e in enumerate(run.examples) if e.id in ids]
    return run.replace(
        name=name or run.name,
        examples=tuple(run.examples[i] for i in keep),
        outputs=tuple(run.outputs[i] for i in keep),
        duplicate_ids=(),
    )


def evaluation_only(run: Run, split: Split, *, name: str | None = None) -> Run:
    """``run`` on the evaluation ids only: the examples no compat method was tuned on."""
    return restrict(run, split.evaluation, name=name)
