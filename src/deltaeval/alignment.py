"""Pair two runs by example id into plain arrays ready for analysis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from deltaeval.errors import AlignmentError
from deltaeval.plural import plural
from deltaeval.types import Example, Output, Run

MISSING_TAG = "(none)"


@dataclass(frozen=True)
class Alignment:
    """Two runs paired by example id.

    ``ids`` are the shared ids in the old run's order; ``old``/``new`` hold the paired outputs;
    ``examples`` the old run's example for each id (the new run's where the old one has no tags
    or reference). Ids present on one side only are listed, never silently dropped.
    """

    old_run: Run
    new_run: Run
    ids: tuple[str, ...]
    examples: tuple[Example, ...]
    old: tuple[Output, ...]
    new: tuple[Output, ...]
    missing_in_new: tuple[str, ...]
    missing_in_old: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.ids)

    def correct(self) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Correctness arrays (old, new); error outputs count as wrong."""
        return _correct(self.old, self.old_run.name), _correct(self.new, self.new_run.name)

    def scores(self) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """Score arrays (old, new) when both runs carry scores; errors score NaN."""
        if not (self.old_run.has_scores and self.new_run.has_scores):
            return None
        return _scores(self.old), _scores(self.new)

    def same_output(self) -> NDArray[np.bool_] | None:
        """Whether the two runs gave the same output (stripped text); None without texts."""
        if all(o.text is None for o in self.old) and all(o.text is None for o in self.new):
            return None
        return np.fromiter(
            (
                a.text is not None and b.text is not None and a.text.strip() == b.text.strip()
                for a, b in zip(self.old, self.new, strict=True)
            ),
            dtype=bool,
            count=self.n,
        )

    def tag_values(self, tag: str) -> list[str]:
        """The value of ``tag`` for every paired example (``(none)`` where absent)."""
        return [e.tags.get(tag, MISSING_TAG) for e in self.examples]

    def row(self, i: int) -> tuple[Example, Output, Output]:
        """The merged example and both outputs of pair ``i``."""
        return self.examples[i], self.old[i], self.new[i]

    def any_correctness(self) -> bool:
        """Whether any paired output, on either side, says whether it is correct."""
        return any(o.correct is not None for o in self.old + self.new)

    def error_counts(self) -> tuple[int, int]:
        """How many paired outputs are errors, (old, new)."""
        return sum(o.error is not None for o in self.old), sum(o.error is not None for o in self.new)

    def tag_names(self) -> list[str]:
        names: set[str] = set()
        for e in self.examples:
            names.update(e.tags)
        return sorted(names)


def _correct(outputs: tuple[Output, ...], run_name: str) -> NDArray[np.bool_]:
    values = np.zeros(len(outputs), dtype=bool)
    for i, o in enumerate(outputs):
        if o.error is not None:
            continue
        if o.correct is None:
            raise AlignmentError(
                f"run {run_name!r} has no correctness for example {o.example_id!r}",
                hint="pass --scorer (e.g. exact, numeric, choice) or import a correct/score column",
            )
        values[i] = o.correct
    return values


def _scores(outputs: tuple[Output, ...]) -> NDArray[np.float64]:
    return np.array(
        [np.nan if (o.error is not None or o.score is None) else o.score for o in outputs],
        dtype=float,
    )


def merge_example(old: Example, new: Example) -> Example:
    """The example of a pair: the old run's, completed from the new run's where it lacks a
    reference or tags."""
    if old.reference is not None and old.tags:
        return old
    return Example(
        id=old.id,
        input=old.input if old.input is not None else new.input,
        reference=old.reference if old.reference is not None else new.reference,
        tags={**new.tags, **old.tags},
    )


def align(old: Run, new: Run, *, strict: bool = False) -> Alignment:
    """Pair ``old`` and ``new`` by example id.

    Under ``strict``, ids missing on either side (and ids repeated at import) are an error;
    otherwise they are reported in the alignment and left out of the paired arrays. Two
    columnar runs (:mod:`deltaeval.columnar`) are paired on their columns.
    """
    from deltaeval.columnar import ColumnarRun, align_columnar

    if isinstance(old, ColumnarRun) and isinstance(new, ColumnarRun):
        return align_columnar(old, new, strict=strict)
    new_index = {e.id: i for i, e in enumerate(new.examples)}
    old_ids = set(old.ids)
    missing_in_new = tuple(i for i in old.ids if i not in new_index)
    missing_in_old = tuple(i for i in new.ids if i not in old_ids)
    check_strict(old, new, missing_in_new, missing_in_old, strict=strict)
    ids: list[str] = []
    examples: list[Example] = []
    old_out: list[Output] = []
    new_out: list[Output] = []
    for example, output in zip(old.examples, old.outputs, strict=True):
        j = new_index.get(example.id)
        if j is None:
            continue
        ids.append(example.id)
        examples.append(merge_example(example, new.examples[j]))
        old_out.append(output)
        new_out.append(new.outputs[j])
    if not ids:
        raise AlignmentError(
            f"runs {old.name!r} and {new.name!r} share no example id",
            hint="check that both files use the same ids (or the same input texts when ids are hashed)",
        )
    return Alignment(
        old_run=old,
        new_run=new,
        ids=tuple(ids),
        examples=tuple(examples),
        old=tuple(old_out),
        new=tuple(new_out),
        missing_in_new=missing_in_new,
        missing_in_old=missing_in_old,
    )


def check_strict(
    old: Run, new: Run, missing_in_new: tuple[str, ...], missing_in_old: tuple[str, ...], *, strict: bool
) -> None:
    """Under ``strict``, raise AlignmentError for repeated ids or ids missing on either side."""
    if not strict:
        return
    for run, dups in ((old, old.duplicate_ids), (new, new.duplicate_ids)):
        if dups:
            raise AlignmentError(
                f"run {run.name!r} repeats example id {dups[0]!r} ({len(dups)} repeated ids)",
                hint="give every example a unique id, or drop --strict",
                path=run.source or None,
            )
    if missing_in_new or missing_in_old:
        side, ids = (new.name, missing_in_new) if missing_in_new else (old.name, missing_in_old)
        raise AlignmentError(
            f"run {side!r} lacks {plural(len(ids), 'example id')}, e.g. {ids[0]!r}",
            hint="compare runs over the same examples, or drop --strict to compare the shared ones",
        )
