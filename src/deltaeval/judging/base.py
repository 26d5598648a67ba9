"""The one judge interface: ``Judge.judge(pairs) -> list[Judgment]``.

A :class:`Pair` is one example and two outputs **in the order the judge is to see them**:
``output_a`` is shown first (as "A"), ``output_b`` second. The judge answers with one
:class:`~deltaeval.types.Judgment` per pair, in order, whose ``label`` is relative to that order
(``A>B``: the output shown first is better). Which run each output came from, and the two
orders of an example, are the protocol's business (``judging.protocol``); a judge only needs the
run names to look up recorded verdicts.

Implementations: :class:`~deltaeval.judging.llm.LLMJudge` (any backend),
:class:`~deltaeval.judging.callable.CallableJudge` (a Python function) and
:class:`~deltaeval.judging.recorded.RecordedJudge` (verdicts read from files). Every judge passes
:func:`deltaeval.judging.check.check_judge`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from deltaeval.errors import UsageError
from deltaeval.types import Example, Judgment

#: called with (index into the pair list, judgment) as each pair's judgment is final
JudgmentCallback = Callable[[int, Judgment], None]


@dataclass(frozen=True)
class Pair:
    """One example and two outputs in the order shown to the judge (``output_a`` first).

    ``run_a`` and ``run_b`` name the runs the outputs came from (default "A" and "B").
    """

    example: Example
    output_a: str
    output_b: str
    run_a: str = "A"
    run_b: str = "B"

    @classmethod
    def of(cls, value: Pair | Sequence[Any]) -> Pair:
        """A Pair from a Pair or an ``(example, output_a, output_b)`` tuple."""
        if isinstance(value, Pair):
            return value
        if isinstance(value, Sequence) and len(value) in (3, 5) and isinstance(value[0], Example):
            return cls(*value)
        raise UsageError(
            f"cannot read {type(value).__name__} as a pair to judge",
            hint="give Pair objects or (example, output_a, output_b) tuples",
        )


class Judge(ABC):
    """Something that says which of two outputs is better.

    Subclasses set ``kind`` (and ``follows_order``), a ``name`` (which identifies the judge in
    judgments, the store and reports) and implement :meth:`judge`.
    """

    kind: ClassVar[str] = "judge"
    #: True when the judge sees each pair in the order given (its judgments then have
    #: run_a = the pair's run_a and order ``ab``); False for judges that report verdicts made
    #: before, possibly in the other order (their ``order`` says which).
    follows_order: ClassVar[bool] = True

    def __init__(self, name: str) -> None:
        if not name:
            raise UsageError("a judge needs a non-empty name")
        self.name = name

    @abstractmethod
    def judge(
        self,
        pairs: Sequence[Pair],
        *,
        store: Any = None,
        on_judgment: JudgmentCallback | None = None,
    ) -> list[Judgment]:
        """Judge every pair; one Judgment per pair, in order.

        A pair that cannot be judged gives a Judgment with ``label=None`` and ``error`` set; it
        must not abort the others. ``store`` (a :class:`~deltaeval.store.Store`) caches calls
        where the judge makes any; ``on_judgment(i, judgment)`` is called as each is final.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (connections, loaded models)."""

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def judgment_for(pair: Pair, judge: str, **fields: Any) -> Judgment:
    """A Judgment of ``pair`` in the order shown (``ab``), with the pair's run names."""
    return Judgment(example_id=pair.example.id, judge=judge, run_a=pair.run_a, run_b=pair.run_b, **fields)
