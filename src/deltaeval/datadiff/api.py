"""``datadiff``: how two datasets' inputs differ, and how much a run's accuracy moves with them.

Examples (or plain texts) in, the JSON-ready report out (``schema`` :data:`SCHEMA`;
docs/report-schema.md). The maths lives in :mod:`deltaeval.analysis.datadiff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from deltaeval.errors import InputError, UsageError
from deltaeval.types import Example, Run, input_text

#: Version of the JSON ``datadiff`` report (docs/report-schema.md).
SCHEMA = "deltaeval.datadiff/1"
#: Clusters of the pooled inputs (fixed; fewer when there are few inputs).
CLUSTERS = 8
#: Dimensions of the TF-IDF inputs reduced by truncated SVD (LSA) for the clusters and the classifier.
LSA_DIMENSIONS = 50
#: Distinguishing examples shown on each side.
TOP_EXAMPLES = 5
#: Characters of an example's text kept in the report.
EXAMPLE_CHARS = 300
#: Fewest inputs on each side.
MIN_INPUTS = 5

Embed = Literal["auto", "minilm", "tfidf"]


def _texts(data: Sequence[Example] | Sequence[str]) -> tuple[list[str], list[str]]:
    """(ids, texts) of examples or of plain texts (ids then the positions)."""
    ids, texts = [], []
    for i, item in enumerate(data):
        if isinstance(item, Example):
            ids.append(item.id)
            texts.append(input_text(item.input))
        else:
            ids.append(str(i))
            texts.append(str(item))
    return ids, texts


def input_features(texts: Sequence[str]) -> dict[str, tuple[str, NDArray]]:
    """name → (label, values) of the input features compared: the slice-discovery axes and flags
    on inputs (lengths as means; code, programming topic, question, digits, date and each script
    as shares)."""
    from deltaeval.slices import features as F

    axes = F.input_axes(texts)
    out: dict[str, tuple[str, NDArray]] = {
        "length_chars": ("input length (characters)", axes["length_chars"]),
        "length_words": ("input length (words)", axes["length_words"]),
    }
    for name, (values, yes, _) in F.input_flags(texts, axes).items():
        out[name] = (yes, values)
    scripts = np.array([F.script(t) for t in texts])
    for value in sorted(set(scripts.tolist())):
        out[f"script:{value}"] = (f"input script is {value}", scripts == value)
    return out


def _lsa(texts: Sequence[str], seed: int) -> tuple[NDArray[np.float64], Any, list[str]]:
    """(unit-length LSA rows, TF-IDF rows, terms) of the pooled texts."""
    from deltaeval.analysis.changes import _reduce
    from deltaeval.analysis.vectorize import count_matrix, tfidf_from_counts

    counts, terms, inverse = count_matrix(texts)
    tfidf = tfidf_from_counts(counts, inverse)
    if tfidf.shape[1] < 2:
        return np.zeros((len(texts), 1)), tfidf, terms
    return _reduce(tfidf, seed, LSA_DIMENSIONS), tfidf, terms


def _cluster_names(tfidf: Any, terms: list[str], labels: NDArray[np.int64], k: int) -> list[str]:
    """Each cluster's 4 heaviest terms (mean TF-IDF; stop words and non-words left out)."""
    from deltaeval.analysis.vectorize import ENGLISH_STOP_WORDS, is_term

    keep = np.array([is_term(t) and t not in ENGLISH_STOP_WORDS for t in terms] or [False], dtype=bool)[
        : tfidf.shape[1]
    ]
    names = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        if not rows.size or not len(terms):
            names.append(f"cluster {c}")
            continue
        mean = np.asarray(tfidf[rows].mean(axis=0)).ravel() * keep
        top = [terms[i] for i in np.argsort(-mean, kind="stable")[:4] if mean[i] > 0]
        names.append(", ".join(top) or f"cluster {c}")
    return names


def _embeddings(texts: list[str], embed: Embed, lsa: NDArray[np.float64]) -> tuple[NDArray, str]:
    """The vectors of the MMD test and their name: MiniLM when installed (or asked), else LSA."""
    from deltaeval.behaviour.embedding import load_minilm, minilm_unavailable

    if embed == "tfidf" or (embed == "auto" and minilm_unavailable() is not None):
        return lsa, f"TF-IDF + truncated SVD ({lsa.shape[1]} dimensions)"
    model = load_minilm()
    return np.asarray(model.encode(texts), dtype=float), model.name


def _correctness(run: Run, ids: list[str], texts: list[str], role: str) -> NDArray[np.bool_]:
    """The run's correctness aligned to ``ids`` (by example id, else by input text)."""
    by_id = {e.id: o for e, o in zip(run.examples, run.outputs, strict=True)}
    by_text = {input_text(e.input): o for e, o in zip(run.examples, run.outputs, strict=True)}
    keys, lookup = (ids, by_id) if any(i in by_id for i in ids) else (texts, by_text)
    missing = [k for k in keys if k not in lookup]
    if missing:
        raise InputError(
            f"the {role} run {run.name!r} has no output for {len(missing)} of the {len(keys)} examples"
            f" (first: {missing[0][:60]!r})",
            hint="give a run on the same examples (matched by id, else by input text)",
        )
    outputs = [lookup[k] for k in keys]
    if any(o.correct is None for o in outputs):
        raise InputError(
            f"the {role} run {run.name!r} has outputs without correctness",
            hint="give a run with a correct column (or score it first)",
        )
    return np.array([bool(o.correct) for o in outputs], dtype=bool)


def _example(ids: list[str], texts: list[str], i: int, side: str, prob: float) -> dict[str, Any]:
    return {"side": side, "id": ids[i], "p_new": prob, "text": texts[i][:EXAMPLE_CHARS]}


def datadiff(
    old: Sequence[Example] | Sequence[str],
    new: Sequence[Example] | Sequence[str],
    run: Run | None = None,
    *,
    new_run: Run | None = None,
    embed: Embed = "auto",
    vectors: NDArray | None = None,
    permutations: int = 500,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    old_name: str = "old",
    new_name: str = "new",
) -> dict[str, Any]:
    """How the inputs of ``new`` differ from those of ``old``.

    Parameters
    ----------
    old, new:
        The two datasets' examples (or plain input texts).
    run:
        A run on the old examples with correctness: its accuracy is reweighted to the new inputs.
    new_run:
        A run on the new examples with correctness (its actual accuracy, for comparison).
    embed:
        Vectors of the MMD test: ``minilm``, ``tfidf`` (LSA), or ``auto`` (MiniLM when installed).
    vectors:
        Precomputed embeddings for the MMD test instead (rows: the old inputs, then the new ones).

    Returns
    -------
    dict
        The JSON-ready report (``schema`` :data:`SCHEMA`).
    """
    from deltaeval.analysis import datadiff as A
    from deltaeval.analysis.kmeans import kmeans
    from deltaeval.jsonable import clean

    if new_run is not None and run is None:
        raise UsageError("--new-run needs --run", hint="give the old run on the old data too")
    old_ids, old_texts = _texts(old)
    new_ids, new_texts = _texts(new)
    for name, texts in ((old_name, old_texts), (new_name, new_texts)):
        if len(texts) < MIN_INPUTS:
            raise InputError(
                f"{name} has {len(texts)} inputs; datadiff needs at least {MIN_INPUTS} on each side",
                hint="give larger datasets",
            )
    texts = old_texts + new_texts
    is_new = np.zeros(len(texts), dtype=bool)
    is_new[len(old_texts) :] = True
    n_old, n_new = len(old_texts), len(new_texts)
    identical = sorted(old_texts) == sorted(new_texts)

    features = input_features(texts)
    feature_rows = A.feature_differences(features, is_new, level)

    lsa, tfidf, terms = _lsa(texts, seed)
    k = max(2, min(CLUSTERS, len(texts) // 10))
    labels = kmeans(lsa, k, seed=seed) if lsa.shape[1] > 1 else np.zeros(len(texts), dtype=np.int64)
    k = int(labels.max()) + 1
    cluster_rows = A.cluster_shares(labels, is_new, _cluster_names(tfidf, terms, labels, k), level)

    design = np.hstack([np.column_stack([v.astype(float) for _, v in features.values()]), lsa])
    design[:, 0:2] = np.log1p(design[:, 0:2])
    clf = A.classifier_test(design, is_new, seed=seed, level=level, permutations=permutations)
    prob = clf.pop("probabilities")

    if vectors is None:
        vectors, vector_name = _embeddings(texts, embed, lsa)
    else:
        vectors, vector_name = np.asarray(vectors, dtype=float), "precomputed embeddings"
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise UsageError(
                f"vectors has shape {vectors.shape}; expected one row per input ({len(texts)})",
                hint="stack the old inputs' vectors, then the new inputs'",
            )
    mmd = A.mmd_test(vectors, is_new, permutations=permutations, seed=seed)
    mmd["vectors"] = vector_name

    all_ids = old_ids + new_ids
    new_like = [int(i) for i in np.argsort(-prob, kind="stable") if is_new[i]][:TOP_EXAMPLES]
    old_like = [int(i) for i in np.argsort(prob, kind="stable") if not is_new[i]][:TOP_EXAMPLES]
    examples = {
        "most_new": [_example(all_ids, texts, i, "new", float(prob[i])) for i in new_like],
        "most_old": [_example(all_ids, texts, i, "old", float(prob[i])) for i in old_like],
    }

    alpha = 1.0 - level
    significant = [r["name"] for r in feature_rows if r["significant"]]
    changed_clusters = [r for r in cluster_rows if r["status"] != "same"]
    differ = clf["p_value"] < alpha or (mmd["p_value"] is not None and mmd["p_value"] < alpha)
    verdict = {
        "differ": bool(differ or significant or changed_clusters) and not identical,
        "identical_inputs": identical,
        "summary": _summary(identical, differ, feature_rows, changed_clusters, clf, mmd, alpha),
    }

    accuracy = None
    if run is not None:
        correct = _correctness(run, old_ids, old_texts, "old")
        weights = A.importance_weights(prob[~is_new], n_old, n_new)
        accuracy = A.importance_weighted_accuracy(correct, weights, n_boot=n_boot, seed=seed, level=level)
        accuracy["run"] = run.name
        accuracy["weights"] = (
            "p(new|x)/p(old|x) * n_old/n_new from the cross-fitted classifier (held-out"
            " probabilities), clipped, self-normalised"
        )
        if new_run is not None:
            from deltaeval.stats import proportion_ci

            actual = _correctness(new_run, new_ids, new_texts, "new")
            ci = proportion_ci(int(actual.sum()), actual.size, level)
            accuracy["new_run"] = new_run.name
            accuracy["new_accuracy"] = {
                "value": float(actual.mean()),
                "ci": list(ci) if ci else None,
                "ci_method": "clopper-pearson",
            }
            total = float(actual.mean()) - accuracy["old_accuracy"]["value"]
            accuracy["drop"] = {
                "total": total,
                "from_data": accuracy["data_shift"]["value"],
                "rest": float(actual.mean()) - accuracy["reweighted_accuracy"]["value"],
            }

    return clean(
        {
            "schema": SCHEMA,
            "datadiff": {
                "old": {"name": old_name, "n": n_old},
                "new": {"name": new_name, "n": n_new},
                "settings": {
                    "level": level,
                    "seed": seed,
                    "clusters": f"k-means (k = {k}, fixed) on TF-IDF + SVD ({LSA_DIMENSIONS} dimensions) of"
                    " both datasets' inputs pooled",
                    "classifier": f"ridge discriminant (test) and L2 logistic regression (probabilities),"
                    f" penalty {A.L2_PENALTY}, on the input features and the TF-IDF SVD dimensions,"
                    f" {A.FOLDS} random folds",
                    "multiple_testing": "Benjamini-Hochberg over features, and over clusters",
                    "permutations": permutations,
                    "n_boot": n_boot,
                },
                "verdict": verdict,
                "features": feature_rows,
                "clusters": cluster_rows,
                "classifier": clf,
                "mmd": mmd,
                "examples": examples,
                "accuracy": accuracy,
            },
        }
    )


def _summary(
    identical: bool,
    differ: bool,
    features: list[dict[str, Any]],
    clusters: list[dict[str, Any]],
    clf: dict[str, Any],
    mmd: dict[str, Any],
    alpha: float,
) -> str:
    """One line: whether the inputs differ, and the largest differences."""
    if identical:
        return "no difference: the two datasets hold the same inputs"
    parts = []
    for r in [f for f in features if f["significant"]][:3]:
        if r["kind"] == "share":
            parts.append(f"{r['label']}: {r['old']:.1%} → {r['new']:.1%}")
        else:
            parts.append(f"{r['label']}: mean {r['old']:.1f} → {r['new']:.1f}")
    for r in clusters[:2]:
        parts.append(f"cluster '{r['label']}' {r['status']} ({r['old']:.1%} → {r['new']:.1%})")
    head = (
        f"the inputs differ (classifier AUROC {clf['auroc']['value']:.3f}, p {clf['p_value']:.2g};"
        f" MMD p {mmd['p_value'] if mmd['p_value'] is not None else float('nan'):.2g})"
        if differ
        else f"no significant difference at {alpha:g} by the two-sample tests"
    )
    return head + (": " + "; ".join(parts) if parts else "")
