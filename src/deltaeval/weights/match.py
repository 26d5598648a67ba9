"""Which tensor of the old checkpoint is which tensor of the new one.

Four passes, each over what the previous ones left unmatched:

1. **name**: the same name (a 2-D tensor stored the other way round is paired as *transposed*);
2. **normalized name**: the names after the reader's ``hf_name`` (GGUF → Hugging Face) and
   without wrapper prefixes (:data:`WRAPPER_PREFIXES`: ``model.``, ``inner.``, ``bert.``…);
3. **shape**: a shape that occurs exactly once among the unmatched tensors of each side;
4. **value**: for anonymous names (ONNX ``val_49_q``): tensors of equal size are compared by a
   fingerprint, their values at :data:`SAMPLE` fixed pseudo-random positions (and, for a matrix,
   the positions of its transpose), and paired greedily by correlation ≥ :data:`VALUE_MATCH_MIN`.

Same names with different shapes are *conflicts* (a sign of different architectures); the rest
is *added* (only in new) or *removed* (only in old).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

#: Prefixes that wrap the same model under another name (stripped repeatedly from the front).
WRAPPER_PREFIXES: tuple[str, ...] = (
    "base_model.model.",
    "_orig_mod.",
    "module.",
    "model.",
    "inner.",
    "bert.",
    "roberta.",
    "transformer.",
)
#: Values sampled per tensor for matching by value.
SAMPLE = 512
#: Smallest correlation of two samples for a match by value.
VALUE_MATCH_MIN = 0.9
#: Fixed positions (fractions of each side) of the samples; the same for every run.
_POSITIONS = np.random.default_rng(20261202).random((2, SAMPLE))


class Meta(Protocol):
    """What matching reads of a tensor: the reader's ``TensorMeta``."""

    name: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Pair:
    """One matched tensor: its names on both sides, how it was matched, and whether the new tensor
    is stored transposed relative to the old one. ``score``: the value correlation (pass 4)."""

    old: str
    new: str
    how: str
    transposed: bool = False
    score: float | None = None


@dataclass
class Matching:
    """The outcome of :func:`match_tensors`."""

    pairs: list[Pair] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Counts by pass, the renamed and transposed pairs, added, removed and conflicts."""
        return {
            "matched": len(self.pairs),
            "by": dict(Counter(p.how for p in self.pairs)),
            "renamed": [{"old": p.old, "new": p.new, "how": p.how} for p in self.pairs if p.old != p.new],
            "transposed": [{"old": p.old, "new": p.new} for p in self.pairs if p.transposed],
            "added": list(self.added),
            "removed": list(self.removed),
            "conflicts": list(self.conflicts),
        }


def normalize_name(name: str, hf_name: Callable[[str], str | None] | None = None) -> str:
    """``name`` through ``hf_name`` (when it knows it) and without wrapper prefixes."""
    if hf_name is not None:
        name = hf_name(name) or name
    stripped = True
    while stripped:
        stripped = False
        for prefix in WRAPPER_PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                name, stripped = name[len(prefix) :], True
    return name


def _reversed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(reversed(shape))


def _orientation(old: tuple[int, ...], new: tuple[int, ...]) -> bool | None:
    """``False`` for equal shapes, ``True`` for a transposed matrix, ``None`` otherwise."""
    if tuple(old) == tuple(new):
        return False
    if len(old) == 2 and tuple(old) == _reversed(tuple(new)):
        return True
    return None


def fingerprint(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Values of ``x`` at the fixed sample positions, and (for a matrix) of ``x.T`` at the positions
    drawn for its shape, so an old matrix compares with a transposed new one."""
    m = x.reshape(1, -1) if x.ndim < 2 else x.reshape(x.shape[0], -1)
    rows, cols = m.shape
    i = (_POSITIONS[0] * rows).astype(np.int64)
    j = (_POSITIONS[1] * cols).astype(np.int64)
    direct = np.asarray(m[i, j], dtype=np.float64)
    if x.ndim != 2:
        return direct, None
    it = (_POSITIONS[0] * cols).astype(np.int64)
    jt = (_POSITIONS[1] * rows).astype(np.int64)
    return direct, np.asarray(m[jt, it], dtype=np.float64)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    na, nb = float(np.sqrt(a @ a)), float(np.sqrt(b @ b))
    if na == 0 or nb == 0:
        return 1.0 if na == nb == 0 else 0.0
    return float(a @ b) / (na * nb)


def match_tensors(
    old: Sequence[Meta],
    new: Sequence[Meta],
    *,
    old_hf_name: Callable[[str], str | None] | None = None,
    new_hf_name: Callable[[str], str | None] | None = None,
    read_old: Callable[[str], np.ndarray] | None = None,
    read_new: Callable[[str], np.ndarray] | None = None,
    on_read: Callable[[], None] | None = None,
) -> Matching:
    """Pair the tensors of two checkpoints (see the module docstring).

    ``read_old``/``read_new`` read one tensor for matching by value (pass 4 is skipped without
    them); ``on_read`` is called after each such read (progress).
    """
    result = Matching()
    old_shape = {m.name: tuple(m.shape) for m in old}
    new_shape = {m.name: tuple(m.shape) for m in new}
    left = [m.name for m in old]
    right = [m.name for m in new]

    def pair(o: str, n: str, how: str, score: float | None = None) -> bool:
        transposed = _orientation(old_shape[o], new_shape[n])
        if transposed is None:
            return False
        result.pairs.append(Pair(o, n, how, transposed, score))
        return True

    def by_key(key_old: Callable[[str], str], key_new: Callable[[str], str], how: str) -> None:
        nonlocal left, right
        olds: dict[str, list[str]] = {}
        news: dict[str, list[str]] = {}
        for name in left:
            olds.setdefault(key_old(name), []).append(name)
        for name in right:
            news.setdefault(key_new(name), []).append(name)
        taken: set[str] = set()
        for key, names in olds.items():
            if len(names) != 1 or len(news.get(key, ())) != 1:
                continue
            o, n = names[0], news[key][0]
            if pair(o, n, how):
                taken.update((o, n))
            else:
                result.conflicts.append(
                    {"old": o, "new": n, "old_shape": old_shape[o], "new_shape": new_shape[n]}
                )
                taken.update((o, n))
        left = [x for x in left if x not in taken]
        right = [x for x in right if x not in taken]

    by_key(lambda s: s, lambda s: s, "name")
    by_key(
        lambda s: normalize_name(s, old_hf_name), lambda s: normalize_name(s, new_hf_name), "normalized name"
    )
    shapes_old = Counter(old_shape[x] for x in left)
    shapes_new = Counter(new_shape[x] for x in right)
    by_key(
        lambda s: repr(old_shape[s]) if shapes_old[old_shape[s]] == 1 else "\0" + s,
        lambda s: repr(new_shape[s]) if shapes_new[new_shape[s]] == 1 else "\1" + s,
        "shape",
    )
    if read_old is not None and read_new is not None and left and right:
        _match_by_value(result, left, right, old_shape, new_shape, read_old, read_new, on_read)
        matched_old = {p.old for p in result.pairs}
        matched_new = {p.new for p in result.pairs}
        left = [x for x in left if x not in matched_old]
        right = [x for x in right if x not in matched_new]
    result.removed, result.added = left, right
    order = {m.name: i for i, m in enumerate(old)}
    result.pairs.sort(key=lambda p: order[p.old])
    return result


def _match_by_value(
    result: Matching,
    left: list[str],
    right: list[str],
    old_shape: dict[str, tuple[int, ...]],
    new_shape: dict[str, tuple[int, ...]],
    read_old: Callable[[str], np.ndarray],
    read_new: Callable[[str], np.ndarray],
    on_read: Callable[[], None] | None,
) -> None:
    candidates = [(o, n) for o in left for n in right if _orientation(old_shape[o], new_shape[n]) is not None]
    if not candidates:
        return
    prints: dict[tuple[str, str], tuple[np.ndarray, np.ndarray | None]] = {}

    def print_of(side: str, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        key = (side, name)
        if key not in prints:
            prints[key] = fingerprint((read_old if side == "old" else read_new)(name))
            if on_read is not None:
                on_read()
        return prints[key]

    scored: list[tuple[float, str, str, bool]] = []
    for o, n in candidates:
        old_direct, _ = print_of("old", o)
        new_direct, new_transposed = print_of("new", n)
        shapes_equal = old_shape[o] == new_shape[n]
        if shapes_equal:
            scored.append((_correlation(old_direct, new_direct), o, n, False))
        if new_transposed is not None and old_shape[o] == _reversed(new_shape[n]):
            scored.append((_correlation(old_direct, new_transposed), o, n, True))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    used_old: set[str] = set()
    used_new: set[str] = set()
    for score, o, n, transposed in scored:
        if score < VALUE_MATCH_MIN:
            break
        if o in used_old or n in used_new:
            continue
        used_old.add(o)
        used_new.add(n)
        result.pairs.append(Pair(o, n, "value", transposed, round(score, 6)))
