"""Slice discovery on a judging: the slices of the inputs and tags where the judge prefers old.

The event is a loss of the new run: its outcome (``JudgingResult.outcomes()``: 1 = new better,
0.5 = tie, 0 = old better) is below 0.5, the same rule as the win rate's ``losses``; a tie is no
event. Only judged examples with a verdict are scanned; the section counts the others. The scan
itself is :func:`deltaeval.slices.api.discover_slices_arrays`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deltaeval.judging.protocol import JudgingResult
from deltaeval.types import input_text

#: The event a judging's slices are scanned for.
EVENT = "judge prefers old"
#: The event in words, for the section and the renderers' caption.
EVENT_RULE = "the outcome for new is below 0.5 (a loss); a tie is none"


def judged_slices(
    result: JudgingResult, *, setting: bool | None, alpha: float, seed: int, clusters: str = "tfidf"
) -> dict[str, Any] | None:
    """The ``discovered_slices`` section of a judging, or None when discovery is not wanted.

    ``setting`` is ``judge(slices=…)``: True or False as given, None for the default
    (:func:`deltaeval.slices.api.discovery_wanted` on the examples with a verdict). ``clusters``:
    the input clusters are of the inputs' ``"tfidf"`` or of their ``"minilm"`` embeddings.
    """
    from deltaeval.slices.api import discovery_wanted

    outcomes = result.outcomes()
    judged = sorted(result.judged)
    keep = [i for i in judged if np.isfinite(outcomes[i])]
    if not discovery_wanted(setting, len(keep)):
        return None
    from deltaeval.slices.api import CLUSTER_VECTORS, discover_slices_arrays, minilm_vectors

    examples = [result.examples[i] for i in keep]
    names = sorted({name for e in examples for name in e.tags})
    inputs = [input_text(e.input) for e in examples]
    section = discover_slices_arrays(
        [e.id for e in examples],
        outcomes[keep] < 0.5,
        inputs,
        {name: [e.tags.get(name) for e in examples] for name in names},
        event=EVENT,
        alpha=alpha,
        seed=seed,
        vectors=minilm_vectors(inputs) if clusters == "minilm" else None,
        clusters_of=CLUSTER_VECTORS[clusters],
    )
    section["event_rule"] = EVENT_RULE
    section["population"] = "judged examples with a verdict"
    section["n_no_verdict"] = len(judged) - len(keep)
    return section
