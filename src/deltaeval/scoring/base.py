"""The scorer interface: one verb, ``score``, and ``score_run`` to apply it to a whole run."""

from __future__ import annotations

import dataclasses
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass

from deltaeval.errors import ScorerError
from deltaeval.plural import plural

# re-exported: the scorers split alternatives; reports show them with reference_text
from deltaeval.references import (  # noqa: F401
    ALTERNATIVES_SEPARATOR,
    reference_text,
    split_alternatives,
)
from deltaeval.types import Example, Run


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The verdict of a scorer on one output: a ``score`` (float) and whether it is ``correct``."""

    score: float
    correct: bool

    @classmethod
    def binary(cls, correct: bool) -> ScoreResult:
        """``(1.0, True)`` or ``(0.0, False)``."""
        return cls(1.0 if correct else 0.0, bool(correct))


#: What an output that is an error (or has no text) scores.
WRONG = ScoreResult(0.0, False)


class Scorer(ABC):
    """Scores one prediction against one reference.

    Subclasses set ``name`` and ``continuous``, validate their parameters in ``__init__``
    (storing each under the parameter's own name, as scikit-learn does), and implement
    ``_score``. The base class handles the cases every scorer shares: a ``None`` prediction
    (the output was an error) scores ``(0.0, False)``, and a ``None`` reference raises
    :class:`~deltaeval.errors.ScorerError` when ``needs_reference`` is true.

    Attributes
    ----------
    name:
        Short name shown in reports, e.g. ``"exact"``.
    continuous:
        True when scores take values between 0 and 1 (ROUGE); False when they are 0 or 1.
    needs_reference:
        False for scorers that judge the prediction alone (a regex without a group).
    """

    name: str = ""
    continuous: bool = False
    needs_reference: bool = True

    def score(self, prediction: str | None, reference: str | None, example: Example) -> ScoreResult:
        """Score ``prediction`` against ``reference`` for ``example``.

        Parameters
        ----------
        prediction:
            The model's output text; ``None`` when the output was an error.
        reference:
            The gold answer; may list alternatives separated by ``|||``.
        example:
            The example answered (read-only; used for its id and, by custom scorers, its fields).

        Returns
        -------
        ScoreResult
            ``(score, correct)``.

        Raises
        ------
        ScorerError
            When the reference is missing or cannot be read.
        """
        if prediction is None:
            return WRONG
        if reference is None and self.needs_reference:
            raise missing_reference(self.name, example)
        return self._score(prediction, reference, example)

    @abstractmethod
    def _score(self, prediction: str, reference: str | None, example: Example) -> ScoreResult:
        """Score a prediction that is not ``None`` (``reference`` is ``None`` only when the
        scorer does not need one)."""

    def get_params(self) -> dict[str, object]:
        """The constructor parameters of this scorer and their values."""
        signature = inspect.signature(type(self).__init__)
        return {
            param: getattr(self, param)
            for param, spec in signature.parameters.items()
            if param != "self" and spec.kind not in (spec.VAR_POSITIONAL, spec.VAR_KEYWORD)
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({params})"


def missing_reference(scorer_name: str, example: Example) -> ScorerError:
    """The error for an example without a reference."""
    return ScorerError(
        f"example {example.id!r} has no reference, which scorer {scorer_name!r} needs",
        hint="add a reference column with --reference, or use a run with correctness",
    )


def bad_reference(scorer_name: str, example: Example, reference: str, what: str) -> ScorerError:
    """The error for a reference a scorer cannot read (``what`` says what it looked for)."""
    shown = reference if len(reference) <= 60 else reference[:57] + "..."
    return ScorerError(
        f"scorer {scorer_name!r}: the reference of example {example.id!r} ({shown!r}) holds no {what}",
        hint="check the reference column, or choose another scorer",
    )


def score_run(run: Run, scorer: Scorer) -> Run:
    """A copy of ``run`` with ``score`` and ``correct`` filled in for every output.

    Outputs that are errors stay errors and score ``(0.0, False)``; existing scores are
    replaced.

    Raises
    ------
    ScorerError
        When an example the scorer must score has no reference (naming how many and which).

    Examples
    --------
    >>> from deltaeval.types import Output
    >>> from deltaeval.scoring import get_scorer
    >>> run = Run("r", (Example("1", reference="4"),), (Output("1", text="4"),))
    >>> score_run(run, get_scorer("numeric")).outputs[0].correct
    True
    """
    from deltaeval.scoring.columnar import score_columns

    scored = score_columns(run, scorer)  # a columnar run, scored without building its rows
    if scored is not None:
        return scored
    if scorer.needs_reference:
        missing = [
            example.id
            for example, output in zip(run.examples, run.outputs, strict=True)
            if example.reference is None and output.error is None and output.text is not None
        ]
        if missing:
            shown = ", ".join(repr(i) for i in missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise ScorerError(
                f"run {run.name!r}: {len(missing)} of {plural(len(run), 'example')} "
                f"{'has' if len(missing) == 1 else 'have'} no reference "
                f"({shown}), which scorer {scorer.name!r} needs",
                hint="add a reference column with --reference, or use a run with correctness",
            )
    outputs = []
    for example, output in zip(run.examples, run.outputs, strict=True):
        is_error = output.error is not None
        result = WRONG if is_error else scorer.score(output.text, example.reference, example)
        outputs.append(dataclasses.replace(output, score=result.score, correct=result.correct))
    return run.replace(outputs=tuple(outputs))
