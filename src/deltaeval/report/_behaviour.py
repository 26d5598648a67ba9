"""Plain text for the ``behaviour`` section, shared by the terminal, Markdown and HTML renderers.

Every function returns plain text (or dicts of it); each renderer escapes it for its medium.
The section's layout is documented in docs/report-schema.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltaeval.report import _format as fmt

#: Marks an axis proposed by an LLM (scored by a judge) in the axes table.
PROPOSED_MARK = "†"

_METHODS = {"tfidf": "TF-IDF cosine", "minilm": "MiniLM cosine"}


def section(report: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The report's ``behaviour`` section, or None when it has none."""
    value = report.get("behaviour")
    return value if isinstance(value, Mapping) else None


def axes(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The axes, in the section's order (most separable first)."""
    return [a for a in section.get("axes") or [] if isinstance(a, Mapping)]


def _significance_order(axis: Mapping[str, Any]) -> tuple[float, float, str]:
    q, effect = axis.get("q_value"), axis.get("effect_size")
    q = float(q) if isinstance(q, int | float) and q == q else float("inf")
    effect = abs(float(effect)) if isinstance(effect, int | float) and effect == effect else 0.0
    return q, -effect, fmt.text_of(axis.get("name"))


def changed_axes(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The axes that changed (``passes``), most significant first: by q-value, then by the
    size of the effect, then by name."""
    return sorted((a for a in axes(section) if a.get("passes")), key=_significance_order)


def unchanged_axes(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The axes that did not change, in the section's order (most separable first)."""
    return [a for a in axes(section) if not a.get("passes")]


def unchanged_summary(section: Mapping[str, Any]) -> str:
    """``17 other axes unchanged`` (empty when every axis changed)."""
    rest = unchanged_axes(section)
    if not rest:
        return ""
    other = "other " if changed_axes(section) else ""
    return f"{len(rest)} {other}{'axis' if len(rest) == 1 else 'axes'} unchanged"


def unchanged_line(section: Mapping[str, Any], limit: int = 12) -> str:
    """``17 other axes unchanged: sentiment, hedges, … (q ≥ 0.05 or the interval includes 0).``"""
    rest = unchanged_axes(section)
    if not rest:
        return ""
    names = ", ".join(axis_name(a) for a in rest[:limit])
    more = f" and {len(rest) - limit} more" if len(rest) > limit else ""
    return (
        f"{unchanged_summary(section)}: {names}{more}"
        f" (q ≥ {_plain(section.get('alpha'))} or the interval includes 0)."
    )


def has_preferences(section: Mapping[str, Any]) -> bool:
    """Whether the axes were related to preferences (a preference column is shown)."""
    return bool(section.get("n_preferences")) or any(
        isinstance(a.get("preference"), Mapping) for a in axes(section)
    )


def axis_name(axis: Mapping[str, Any]) -> str:
    """The axis name, marked when it was proposed by an LLM."""
    name = fmt.text_of(axis.get("name"))
    return f"{name} {PROPOSED_MARK}" if axis.get("kind") == "proposed" else name


def axis_cells(axis: Mapping[str, Any]) -> dict[str, str]:
    """The numbers of one axis row as text (keys: arrow, means, diff, diff_ci, effect, ...)."""
    means = fmt.decimals_for(axis.get("mean_old"), axis.get("mean_new"))
    low, high = _pair(axis.get("diff_interval"))
    diff = fmt.decimals_for(axis.get("diff"), low, high)
    pref = axis.get("preference") if isinstance(axis.get("preference"), Mapping) else {}
    return {
        "arrow": fmt.arrow(axis.get("direction")),
        "means": f"{fmt.fixed(axis.get('mean_old'), means)} → {fmt.fixed(axis.get('mean_new'), means)}",
        "diff": fmt.fixed(axis.get("diff"), diff, sign=True),
        "diff_ci": fmt.fixed_ci(axis.get("diff_interval"), diff),
        "effect": fmt.signed(axis.get("effect_size"), 2),
        "separability": fmt.num(axis.get("separability"), 2),
        "auroc": fmt.num(axis.get("auroc"), 2),
        "auroc_ci": _plain_ci(axis.get("auroc_interval")),
        "q": fmt.pval(axis.get("q_value")),
        "passes": "✓" if axis.get("passes") else "",
        "pref": fmt.signed(pref.get("coef"), 2),
        "pref_ci": fmt.num_ci(pref.get("coef_interval"), 2),
        "pref_accuracy": fmt.pct(pref.get("cv_accuracy")),
    }


def example_values(axis: Mapping[str, Any]) -> str:
    """The axis's values on its example pair: ``4 → 10,348 characters``."""
    example = axis.get("example") if isinstance(axis.get("example"), Mapping) else {}
    old, new = example.get("value_old"), example.get("value_new")
    if axis.get("kind") == "proposed":
        score = {1: "new higher", -1: "old higher"}.get(new if isinstance(new, int | float) else 0, "equal")
        return f"judge: {score}"
    digits = fmt.decimals_for(old, new)
    unit = fmt.text_of(axis.get("unit")).strip()
    return f"{fmt.fixed(old, digits)} → {fmt.fixed(new, digits)}" + (f" {unit}" if unit else "")


def headline(section: Mapping[str, Any]) -> str:
    """``805 examples · 12 of 29 axes changed (Benjamini–Hochberg at FDR 0.05)``."""
    text = (
        f"{fmt.counted(section.get('n'), 'example')} · {fmt.count(section.get('n_passing'))} of"
        f" {fmt.count(section.get('n_axes'))} axes changed"
        f" ({fmt.method_name(section.get('multiple_testing'))} at FDR {_plain(section.get('alpha'))})"
    )
    source = section.get("preference_source")
    if source:
        text += f" · preferences: {fmt.text_of(source)} ({fmt.count(section.get('n_preferences'))})"
    return text


def asymptotic(block: Mapping[str, Any]) -> bool:
    """Whether a block's intervals are normal approximations (its ``ci_methods``)."""
    methods = block.get("ci_methods")
    return isinstance(methods, Mapping) and methods.get("diff_interval") == "normal"


def asymptotic_line(n: Any, threshold: Any, what: str = "normal/DeLong intervals") -> str:
    """``n = 100,000 ≥ 20,000: normal/DeLong intervals instead of the bootstrap.``"""
    return f"n = {fmt.count(n)} ≥ {fmt.count(threshold)}: {what} instead of the bootstrap."


def legend(section: Mapping[str, Any], proposed_mark: str = PROPOSED_MARK) -> str:
    """What the columns of the axes table mean (``proposed_mark``: how proposed axes are marked);
    with normal-approximation intervals, which were used and why."""
    level = fmt.level(section.get("level"))
    families = ", ".join(fmt.text_of(f) for f in section.get("multiple_testing_families") or []) or "all axes"
    kind = "normal" if asymptotic(section) else "paired bootstrap"
    text = (
        f"Diff: mean new − old with its {level} {kind} interval; effect: diff / SD of the"
        f" differences; separability: max(AUROC, 1 − AUROC), 0.5 = indistinguishable; q:"
        f" {fmt.method_name(section.get('multiple_testing'))} within each family ({families});"
        f" ✓: q < {_plain(section.get('alpha'))} and the interval excludes 0."
    )
    if has_preferences(section):
        text += " Pref.: logistic coefficient of “new preferred” on the standardised difference."
    if any(a.get("kind") == "proposed" for a in axes(section)):
        text += f" {proposed_mark}: proposed by an LLM, scored by a judge (+1 new higher, −1 old higher)."
    if asymptotic(section):
        text += " " + asymptotic_line(section.get("n"), section.get("asymptotic_from"))
    return text


def combined_lines(section: Mapping[str, Any]) -> list[str]:
    """How well all axes together tell old from new outputs, and predict the preference."""
    lines = []
    for label, block in (
        ("All axes", section.get("combined")),
        ("Proposed axes", _proposed_combined(section)),
    ):
        if not isinstance(block, Mapping):
            continue
        text = (
            f"{label} together ({len(block.get('axes') or [])} axes, {fmt.count(block.get('folds'))}-fold"
            f" cross-validated logistic model): tell new from old in"
            f" {fmt.pct(block.get('identity_pair_accuracy'))} of {fmt.count(block.get('n_pairs'))} pairs"
            f" (chance 50.0%) and {fmt.pct(block.get('identity_pooled_accuracy'))} of single outputs"
            f" (chance {fmt.pct(block.get('identity_chance'))})"
        )
        if block.get("preference_accuracy") is not None:
            text += (
                f"; predict the preferred output in {fmt.pct(block.get('preference_accuracy'))}"
                f" of {fmt.count(block.get('n_preference'))}"
                f" (chance {fmt.pct(block.get('preference_chance'))})"
            )
        lines.append(text + ".")
    return lines


def _proposed_combined(section: Mapping[str, Any]) -> Any:
    proposed = section.get("proposed")
    return proposed.get("combined") if isinstance(proposed, Mapping) else None


def proposed_line(proposed: Mapping[str, Any]) -> str:
    """Who proposed and scored the LLM axes, how many were kept, and the calls made."""
    kept = [fmt.text_of(k) for k in proposed.get("kept") or []]
    text = (
        f"Proposer {fmt.text_of(proposed.get('proposer'))}, judge {fmt.text_of(proposed.get('judge'))};"
        f" {fmt.count(proposed.get('n_proposed'))} proposed"
        f" in {fmt.counted(proposed.get('rounds'), 'round')},"
        f" {len(kept)} kept{': ' + ', '.join(kept) if kept else ''}. Counts are per judged pair, from"
        " verdicts in both orders."
    )
    calls = proposed.get("calls")
    if isinstance(calls, Mapping):
        text += (
            f" Judge calls: {fmt.count(calls.get('called'))} ({fmt.count(calls.get('cached'))} cached,"
            f" {fmt.count(calls.get('failed'))} failed)."
        )
    return text


def proposed_cells(axis: Mapping[str, Any]) -> dict[str, str]:
    """One proposed axis as text: name, kept, counts and what high and low look like."""
    return {
        "name": fmt.text_of(axis.get("name")),
        "kept": "✓" if axis.get("kept") else "",
        "new_higher": fmt.count(axis.get("new_higher")),
        "old_higher": fmt.count(axis.get("old_higher")),
        "equal": fmt.count(axis.get("equal")),
        "order_dependent": fmt.count(axis.get("order_dependent")),
        "high": fmt.text_of(axis.get("high")),
        "low": fmt.text_of(axis.get("low")),
    }


def changes_line(changes: Mapping[str, Any]) -> str:
    """How "changed most" was measured and chosen."""
    method = str(changes.get("method") or "")
    model = fmt.text_of(changes.get("model"))
    clusters = changes.get("clusters") or []
    label = _METHODS.get(method, method)
    if model and label.split(" ")[0].lower() not in model.lower():
        label += f" ({model})"
    elif model:
        label = f"cosine of {model}"
    mean = fmt.num(changes.get("mean_similarity"), 2)
    cutoff = fmt.num(changes.get("cutoff"), 2)
    sample = changes.get("silhouette_sample")
    sampled = f" (k by silhouette on a sample of {fmt.count(sample)})" if sample else ""
    clustered = changes.get("clustered_sample")
    if clustered:
        sampled = (
            f" (k-means on a seeded sample of {fmt.count(clustered)}, the others assigned to the"
            f" nearest centre{'; k by silhouette on a sample of ' + fmt.count(sample) if sample else ''})"
        )
    return (
        f"Similarity of each example's old and new output: {label}, mean {mean} over"
        f" {fmt.counted(changes.get('n'), 'example')} ({fmt.count(changes.get('n_same'))} identical)."
        f" Changed most: {fmt.counted(changes.get('n_changed'), 'example')}"
        f" ({fmt.text_of(changes.get('selection'))}, similarity ≤ {cutoff}),"
        f" in {fmt.counted(len(clusters), 'cluster')}{sampled}."
    )


def terms(values: Any, limit: int = 6) -> str:
    """The top c-TF-IDF terms of a cluster side: ``time, new, day``."""
    return ", ".join(fmt.text_of(t.get("term")) for t in list(values or [])[:limit] if isinstance(t, Mapping))


def cluster_cells(cluster: Mapping[str, Any]) -> dict[str, str]:
    """One changed-most cluster as text."""
    digits = fmt.decimals_for(cluster.get("median_words_old"), cluster.get("median_words_new"))
    return {
        "size": fmt.count(cluster.get("size")),
        "similarity": fmt.num(cluster.get("mean_similarity"), 2),
        "words": f"{fmt.fixed(cluster.get('median_words_old'), digits)}"
        f" → {fmt.fixed(cluster.get('median_words_new'), digits)}",
        "terms_old": terms(cluster.get("terms_old")),
        "terms_new": terms(cluster.get("terms_new")),
        "description": fmt.text_of(cluster.get("description")),
    }


def notes(section: Mapping[str, Any]) -> list[str]:
    """The section's notes, the proposer's and the clusters', and the axes left out."""
    out = [fmt.text_of(n) for n in section.get("notes") or []]
    for key in ("proposed", "changes"):
        block = section.get(key)
        if isinstance(block, Mapping):
            out += [fmt.text_of(n) for n in block.get("notes") or []]
    skipped = section.get("skipped_axes")
    if isinstance(skipped, Mapping) and skipped:
        out.append(
            "Axes left out: " + "; ".join(f"{fmt.text_of(k)} ({fmt.text_of(v)})" for k, v in skipped.items())
        )
    return out


def _pair(ci: Any) -> tuple[Any, Any]:
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return ci[0], ci[1]
    return None, None


def _plain_ci(ci: Any) -> str:
    low, high = _pair(ci)
    return f"[{fmt.num(low, 2)}, {fmt.num(high, 2)}]" if low is not None and high is not None else fmt.MISSING


def _plain(value: Any) -> str:
    if value is None:
        return fmt.MISSING
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return fmt.text_of(value)
