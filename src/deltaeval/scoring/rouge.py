"""ROUGE-L F-measure, via the ``rouge_score`` package (imported when a scorer is built: it loads nltk)."""

from __future__ import annotations

import math
from numbers import Real

from deltaeval.errors import ScorerError
from deltaeval.scoring.base import Scorer, ScoreResult, split_alternatives
from deltaeval.types import Example


class RougeL(Scorer):
    """ROUGE-L F-measure (longest common subsequence of tokens) between prediction and reference.

    With ``|||`` alternatives the best alternative counts. ``rouge_score`` tokenizes on
    lower-cased ASCII letters and digits, so text in other scripts scores 0.

    Parameters
    ----------
    threshold:
        ``correct`` is ``score >= threshold`` (default 0.5), between 0 and 1.
    use_stemmer:
        Apply the Porter stemmer to tokens first (default True: "cats" matches "cat").

    Examples
    --------
    >>> RougeL().score("the cat sat on the mat", "the cat is on the mat", Example("1")).score
    0.8333333333333334
    """

    name = "rouge_l"
    continuous = True

    def __init__(self, threshold: float = 0.5, use_stemmer: bool = True) -> None:
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, Real)
            or not math.isfinite(threshold)
            or not 0.0 <= threshold <= 1.0
        ):
            raise ScorerError(f"rouge_l: threshold must be between 0 and 1, not {threshold!r}")
        if not isinstance(use_stemmer, bool):
            raise ScorerError(f"rouge_l: use_stemmer must be true or false, not {use_stemmer!r}")
        from rouge_score import rouge_scorer

        self.threshold = float(threshold)
        self.use_stemmer = use_stemmer
        self._rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)

    def _score(self, prediction: str, reference: str | None, example: Example) -> ScoreResult:
        assert reference is not None
        # RougeScorer.score takes the target (reference) first.
        best = max(
            float(self._rouge.score(alternative, prediction)["rougeL"].fmeasure)
            for alternative in split_alternatives(reference)
        )
        return ScoreResult(best, best >= self.threshold)
