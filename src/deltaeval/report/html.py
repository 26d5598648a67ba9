"""A single self-contained HTML page for a JSON report (works offline, escapes all model text).

The page is rendered by Jinja2 from ``templates/report.html.j2`` with autoescaping on, so every
value from the report is HTML-escaped; the template never marks report data as safe. Before that,
every string of the report passes through :func:`deltaeval.textsafe.visible_data`: control
characters, escape sequences and bidi overrides are shown as escapes (newlines and tabs stay).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from deltaeval.report import _decision as decision
from deltaeval.report import _format as fmt
from deltaeval.report import output_changes
from deltaeval.report import viewer as viewer_data
from deltaeval.report.behaviour_html import behaviour_view
from deltaeval.report.judging_banner import judging_problem
from deltaeval.textsafe import visible, visible_data

TEMPLATE = "report.html.j2"
#: Negative flips shown open; the rest are folded in one ``<details>`` (the filter searches all).
FLIPS_OPEN = 10

#: The page may load nothing from the network; inline styles and the inline script only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:;"
    " base-uri 'none'; form-action 'none'"
)


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("deltaeval.report", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "j2"), default_for_string=True, default=True
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        count=fmt.count,
        counted=fmt.counted,
        pct=fmt.pct,
        pct_ci=fmt.pct_ci,
        pp=fmt.pp,
        pp_ci=fmt.pp_ci,
        num=fmt.num,
        signed=fmt.signed,
        num_ci=fmt.num_ci,
        pval=fmt.pval,
        level=fmt.level,
        method_name=fmt.method_name,
        verdict_word=fmt.verdict_word,
        adaptive_summary=fmt.adaptive_summary,
        orders=fmt.orders,
    )
    return env


def _text(value: Any) -> str:
    """Untrusted content as display text (escaping is left to the template)."""
    return visible(fmt.text_of(value))


def _flip_view(index: int, flip: Mapping[str, Any]) -> dict[str, Any]:
    tags = flip.get("tags")
    tag_items = [(str(k), _text(v)) for k, v in sorted(tags.items())] if isinstance(tags, Mapping) else []
    return {
        "index": index,
        "id": _text(flip.get("id")),
        "tags": tag_items,
        "input": _text(flip.get("input")),
        "reference": None if flip.get("reference") is None else _text(fmt.reference(flip.get("reference"))),
        "old_output": _text(flip.get("old_output")),
        "new_output": _text(flip.get("new_output")),
        "old_error": _text(flip.get("old_error")) if flip.get("old_error") is not None else None,
        "new_error": _text(flip.get("new_error")) if flip.get("new_error") is not None else None,
        "old_score": flip.get("old_score"),
        "new_score": flip.get("new_score"),
    }


def _preference_example_view(index: int, example: Mapping[str, Any]) -> dict[str, Any]:
    tags = example.get("tags")
    verdicts = []
    for v in example.get("verdicts") or []:
        if not isinstance(v, Mapping):
            continue
        verdicts.append(
            {
                "judge": _text(v.get("judge")),
                "shown_first": _text(v.get("shown_first")),
                "says": _text(v.get("says")) if v.get("says") is not None else None,
                "explanation": _text(v.get("explanation")) if v.get("explanation") is not None else None,
                "error": _text(v.get("error")) if v.get("error") is not None else None,
            }
        )
    return {
        "index": index,
        "id": _text(example.get("id")),
        "tags": [(str(k), _text(v)) for k, v in sorted(tags.items())] if isinstance(tags, Mapping) else [],
        "input": _text(example.get("input")),
        "old_output": _text(example.get("old_output")),
        "new_output": _text(example.get("new_output")),
        "baseline_output": _text(example.get("baseline_output")) if "baseline_output" in example else None,
        "outcome": example.get("outcome"),
        "position_bias": bool(example.get("position_bias")),
        "verdicts": verdicts,
    }


def _preference_view(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``preference`` section with its examples' texts made displayable (None when absent)."""
    p = report.get("preference")
    if not isinstance(p, Mapping):
        return None
    examples = p.get("examples") or {}
    agreement = p.get("agreement")
    return {
        **p,
        "agreement": agreement if isinstance(agreement, Mapping) else None,
        "agreement_row": fmt.agreement_summary(agreement) if isinstance(agreement, Mapping) else None,
        "judge_names": ", ".join(_text(j.get("name")) for j in p.get("judges") or []),
        "wins": [_preference_example_view(i, e) for i, e in enumerate(examples.get("wins") or [], 1)],
        "losses": [_preference_example_view(i, e) for i, e in enumerate(examples.get("losses") or [], 1)],
        "n_wins": examples.get("n_wins"),
        "n_losses": examples.get("n_losses"),
        "notes": [_text(n) for n in p.get("notes") or []],
    }


_SVG_NS = "http://www.w3.org/2000/svg"


@functools.lru_cache(maxsize=1)
def _viewer_script() -> Markup:
    """The viewer's script (deltaeval's own code, ``templates/viewer.js``), inserted as is."""
    return Markup(resources.files("deltaeval.report").joinpath("templates/viewer.js").read_text("utf-8"))


def _viewer_view(
    report: Mapping[str, Any], rows: Sequence[viewer_data.Row] | None, total: int | None
) -> dict[str, Any] | None:
    """The example viewer's data (None when there is no example to browse)."""
    which = "negative flips first, then positive flips, then the others"
    if rows is None:
        rows = viewer_data.rows_from_report(report)
        which = "the examples the JSON report lists"
    if not rows:
        return None
    if total is None:
        n = (report.get("accuracy") or {}).get("n") or (report.get("alignment") or {}).get("n_shared")
        total = n if isinstance(n, int) and n >= len(rows) else len(rows)
    data = viewer_data.payload(report, rows, total=total)
    # the blob holds no "<", ">" or "&" (data_blob writes them as \u escapes): inert in its script
    return {
        "n": len(rows),
        "total": total,
        "which": which,
        "blob": Markup(viewer_data.data_blob(data)),
        "script": _viewer_script(),
    }


def _charts(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The report's SVG charts (:mod:`deltaeval.report.charts`: deltaeval's own markup, every
    label in it XML-escaped there), for the page's Charts section."""
    from deltaeval.report.charts import charts_for

    # inline SVG in HTML needs no namespace declaration (the page names no URL at all)
    return [
        {"title": c.title, "name": c.name, "svg": Markup(c.svg.replace(f' xmlns="{_SVG_NS}"', "", 1))}
        for c in charts_for(report)
    ]


def _view(report: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows, with absent optional blocks filled with empties."""
    examples = report.get("examples") or {}
    flips = report.get("flips") or {}
    negatives = [_flip_view(i, f) for i, f in enumerate(examples.get("negative_flips") or [], 1)]
    positives = [_flip_view(i, f) for i, f in enumerate(examples.get("positive_flips") or [], 1)]
    n_negative = flips.get("negative")
    n_positive = examples.get("n_positive_flips", flips.get("positive"))
    verdict = str(flips.get("verdict") or "")
    has_flips = isinstance(report.get("flips"), Mapping)
    preference = _preference_view(report)
    behaviour = behaviour_view(report)
    if not has_flips and preference is not None:  # a `deltaeval judge` report
        verdict = str((preference.get("win_rate") or {}).get("verdict") or "")
    elif not has_flips and output_changes.block(report) is not None:  # compared without correctness
        verdict = output_changes.NOT_SCORED
    elif not has_flips and behaviour is not None:  # a `deltaeval behaviour` report
        verdict = behaviour["badge"]
    continuous = report.get("continuous")
    return {
        "csp": CONTENT_SECURITY_POLICY,
        "version": _text(report.get("deltaeval_version", "")),
        "schema_version": report.get("schema_version"),
        "old": report.get("old") or {},
        "new": report.get("new") or {},
        "settings": report.get("settings") or {},
        "alignment": report.get("alignment") or {},
        "accuracy": report.get("accuracy") or {},
        "flips": flips,
        "verdict": verdict,
        "verdict_class": {
            "regressed": "bad",
            "improved": "good",
            "old better": "bad",
            "new better": "good",
        }.get(verdict, "neutral"),
        "has_flips": has_flips,
        # the badge and the verdict line name the figure `gate --max-nfr` checks
        "badge": decision.badge(report) if has_flips else fmt.verdict_word(verdict),
        "verdict_line": decision.verdict_line(report) if has_flips else "",
        "nfr_upper": decision.nfr_upper_bound(report) if has_flips else None,
        "one_sided": decision.one_sided_level(report),
        "flips_open": FLIPS_OPEN,
        "unscored": output_changes.html_view(report),
        "judging_problem": judging_problem(report),
        "preference": preference,
        "behaviour": behaviour,
        "continuous": continuous if isinstance(continuous, Mapping) else None,
        "slices": report.get("slices") or [],
        "warnings": fmt.alignment_warnings(report, max_ids=25),
        "negatives": negatives,
        "n_negative": n_negative if isinstance(n_negative, int) else len(negatives),
        "positives": positives,
        "n_positive": n_positive if isinstance(n_positive, int) else len(positives),
    }


def render_html(
    report: Mapping[str, Any],
    *,
    examples: Sequence[viewer_data.Row] | None = None,
    total: int | None = None,
) -> str:
    """Render ``report`` as one self-contained HTML page.

    In the order a ship decision reads it: the verdict (a badge and a line with the accuracy
    change, McNemar p and the NFR with the one-sided upper bound `gate --max-nfr` checks), the
    summary (accuracy and flip rates with intervals, the confidence level), alignment warnings,
    the continuous block, the negative flips the report lists with old and new output side by side (the first
    :data:`FLIPS_OPEN` open, the rest folded), the slice tables with the multiple-testing
    method; then the ``preference`` section of a judging (win/tie/loss, win rate with interval
    and p-value, position bias, length control, agreement, adaptive stop, cost, per-tag win
    rates, the strongest wins and losses with the judges' explanations); then the ``behaviour``
    section (the axes that changed, most significant first, with interval, separability and
    q-value, the unchanged axes folded; the combined model, proposed axes, the changed-most
    clusters with their examples, and each changed axis's example pair side by side, from
    ``templates/behaviour.html.j2``); and last the positive flips the report holds. A report
    without flips shows only the preference and behaviour sections. It loads nothing from the network (a
    Content-Security-Policy forbids it) and its only script sorts tables and filters examples
    using text, never HTML.

    The "Examples" viewer browses ``examples`` (rows of :mod:`deltaeval.report.viewer`, e.g. every
    example of a fresh comparison, of ``total`` in all) or, without them, the examples the report
    lists; the "Charts" section shows :func:`deltaeval.report.charts.charts_for`'s SVG.
    """
    from deltaeval.report.sections import discovered_slices

    safe = visible_data(report)
    view = _view(safe)
    view["viewer"] = _viewer_view(safe, examples, total)
    view["charts"] = _charts(safe)
    view["discovered"] = discovered_slices.html_view(safe)
    return _environment().get_template(TEMPLATE).render(**view)
