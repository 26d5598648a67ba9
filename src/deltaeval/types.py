"""The nouns of deltaeval: Example, Output, Run, Judgment (see DESIGN.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from deltaeval.errors import InputError
from deltaeval.plural import plural
from deltaeval.surrogates import replace_lone_surrogates

#: An example's input: plain text, chat messages, or a feature row.
Input = str | list[dict[str, Any]] | dict[str, Any] | list[float] | None


#: The encoder of :attr:`Run.content_hash`'s lines (what ``json.dumps(..., sort_keys=True,
#: default=str)`` builds anew on every call).
_HASH_ENCODER = json.JSONEncoder(sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class Example:
    """One item of a dataset.

    ``id`` is stable across runs; ``tags`` (str -> str) are used for slicing.
    """

    id: str
    input: Input = None
    reference: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Output:
    """One model's answer to one example.

    ``text`` holds generated text, or the predicted label of a classifier as a string.
    ``score`` is the task metric (float) and ``correct`` whether the answer counts as right;
    either may be ``None`` until a scorer fills it in. ``tokens`` counts generated tokens and
    ``prompt_tokens`` the prompt's; ``error`` is set when the call failed (the output then counts
    as wrong).
    """

    example_id: str
    text: str | None = None
    score: float | None = None
    correct: bool | None = None
    confidence: float | None = None
    logprob: float | None = None
    tokens: int | None = None
    latency_s: float | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class Run:
    """A named, immutable set of outputs of one model configuration.

    ``examples[i]`` is the example that ``outputs[i]`` answers; ids are unique within a run
    (importers keep the first occurrence of a repeated id and list it in ``duplicate_ids``).
    """

    name: str
    examples: tuple[Example, ...]
    outputs: tuple[Output, ...]
    model: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    duplicate_ids: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.examples) != len(self.outputs):
            raise InputError(
                f"run {self.name!r} has {plural(len(self.examples), 'example')} but "
                f"{plural(len(self.outputs), 'output')}",
                hint="give one output per example",
            )
        seen: set[str] = set()
        for example, output in zip(self.examples, self.outputs, strict=True):
            if example.id != output.example_id:
                raise InputError(
                    f"run {self.name!r}: output for {output.example_id!r} is paired with "
                    f"example {example.id!r}",
                    hint="keep outputs in the order of their examples",
                )
            if example.id in seen:
                raise InputError(
                    f"run {self.name!r}: example id {example.id!r} occurs twice",
                    hint="give every example a unique id",
                )
            seen.add(example.id)

    def __len__(self) -> int:
        return len(self.outputs)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.examples]

    @property
    def has_correctness(self) -> bool:
        """True when every output that is not an error says whether it is correct."""
        return any(o.correct is not None for o in self.outputs) and all(
            o.correct is not None for o in self.outputs if o.error is None
        )

    @property
    def has_scores(self) -> bool:
        return any(o.score is not None for o in self.outputs) and all(
            o.score is not None for o in self.outputs if o.error is None
        )

    def filled(self, name: str) -> bool:
        """Whether any output without an error has a value in field ``name`` (``correct``, ``score``…)."""
        return any(getattr(o, name) is not None for o in self.outputs if o.error is None)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 over the examples and outputs (not the name or time): equal content, equal hash."""
        digest = hashlib.sha256()
        encode = _HASH_ENCODER.encode  # json.dumps(record, sort_keys=True, default=str), made once
        for example, output in zip(self.examples, self.outputs, strict=True):
            record = [
                example.id,
                example.input,
                example.reference,
                dict(example.tags),  # keys sorted by the encoder
                output.text,
                output.score,
                output.correct,
                output.error,
            ]
            digest.update(f"{encode(record)}\n".encode())
        return digest.hexdigest()

    def metadata_fields(self) -> dict[str, Any]:
        """Every field but the rows (examples and outputs): what a copy keeps of any run."""
        return {
            "name": self.name,
            "model": self.model,
            "params": self.params,
            "source": self.source,
            "created_at": self.created_at,
            "duplicate_ids": self.duplicate_ids,
            "notes": self.notes,
        }

    def replace(self, **changes: Any) -> Run:
        """A copy of this run with some fields changed (runs are immutable)."""
        fields = {**self.metadata_fields(), "examples": self.examples, "outputs": self.outputs}
        fields.update(changes)
        return Run(**fields)


#: The two orders of a pairwise judgment: ``ab`` shows run_a's output first (as "A"), ``ba``
#: shows run_b's output first.
JUDGMENT_ORDERS = ("ab", "ba")


@dataclass(frozen=True, slots=True)
class Judgment:
    """One verdict of one judge on one example, for an ordered pair of runs.

    ``run_a`` and ``run_b`` name the two runs compared; ``order`` says which one the judge saw
    first: ``ab`` — run_a's output was shown as "A" and run_b's as "B"; ``ba`` — the reverse.
    ``label`` is **relative to what the judge saw** ("A" = the output shown first): one of the
    five levels ``A>>B``, ``A>B``, ``A=B``, ``B>A``, ``B>>A``, or a number in [0, 1], the
    probability that the output shown first is better. ``label`` is ``None`` when the judge gave
    no usable verdict; ``error`` then says why. ``raw`` keeps the judge's text as returned (the
    last attempt's), ``explanation`` its reasoning, ``attempts`` how many requests it took,
    ``prompt_tokens``/``tokens`` what they consumed (summed over attempts), ``cost`` their price
    when prices were given, and ``cached`` whether every attempt came from the call cache.

    Use :meth:`outcome_for` for the outcome of one run in [0, 1] (1 = that run better).
    """

    example_id: str
    judge: str
    run_a: str = "A"
    run_b: str = "B"
    order: str = "ab"
    label: str | float | None = None
    raw: str | None = None
    explanation: str | None = None
    error: str | None = None
    attempts: int = 1
    prompt_tokens: int | None = None
    tokens: int | None = None
    latency_s: float | None = None
    cost: float | None = None
    cached: bool = False

    def __post_init__(self) -> None:
        if self.order not in JUDGMENT_ORDERS:
            raise InputError(
                f"judgment order {self.order!r} for example {self.example_id!r} is not 'ab' or 'ba'",
                hint="'ab' when run_a was shown first, 'ba' when run_b was",
            )
        number = isinstance(self.label, float | int) and not isinstance(self.label, bool)
        if number and not 0.0 <= float(self.label) <= 1.0:  # type: ignore[arg-type]
            raise InputError(
                f"judgment probability {self.label!r} for example {self.example_id!r} is outside [0, 1]",
                hint="give the probability that the output shown first is better",
            )

    @property
    def shown_first(self) -> str:
        """Name of the run whose output the judge saw first (as "A")."""
        return self.run_a if self.order == "ab" else self.run_b

    @property
    def outcome_first(self) -> float | None:
        """Outcome in [0, 1] for the output shown first (1 = better, 0.5 = tie); None without a label."""
        return self._outcome_first(1.0)

    def _outcome_first(self, weak_win: float) -> float | None:
        if self.label is None:
            return None
        if isinstance(self.label, str):
            from deltaeval.analysis.preference import verdict_outcomes

            return float(verdict_outcomes([self.label], weak_win=weak_win)[0])
        return float(self.label)

    def outcome_for(self, run: str, *, weak_win: float = 1.0) -> float | None:
        """Outcome in [0, 1] for ``run`` (``run_a`` or ``run_b``): 1 = ``run`` better, 0.5 = tie.

        ``weak_win`` is the value of a weak win (``A>B``): 1 by default, a strong and a weak win
        alike; 0.75 keeps a verdict's strength (a weak loss is then 0.25). A probability is used
        as it is.
        """
        if run not in (self.run_a, self.run_b):
            raise InputError(
                f"run {run!r} is not part of this judgment ({self.run_a!r} vs {self.run_b!r})",
                hint="ask for the outcome of run_a or run_b",
            )
        first = self._outcome_first(weak_win)
        if first is None:
            return None
        return first if run == self.shown_first else 1.0 - first

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Judgment:
        """The judgment a :meth:`to_dict` dict describes (unknown keys are ignored)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def input_text(value: Input) -> str:
    """A readable text form of an example's input (chat messages joined, rows as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return "\n".join(f"{m.get('role', 'user')}: {m['content']}" for m in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def stable_id(text: str) -> str:
    """A stable id for an example that has none: the first 16 hex digits of SHA-256 of its text.

    A lone surrogate counts as U+FFFD, as importers read it.
    """
    return hashlib.sha256(replace_lone_surrogates(text).encode("utf-8")).hexdigest()[:16]


def run_from_records(
    name: str,
    records: Sequence[tuple[Example, Output]],
    **fields: Any,
) -> Run:
    """Build a run from (example, output) pairs."""
    return Run(
        name=name,
        examples=tuple(e for e, _ in records),
        outputs=tuple(o for _, o in records),
        **fields,
    )
