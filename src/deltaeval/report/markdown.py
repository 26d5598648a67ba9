"""A Markdown rendering of a JSON report that fits a GitHub PR comment or job summary.

Untrusted text is made inert: control characters, escape sequences and bidi overrides are shown
as escapes (:func:`deltaeval.textsafe.visible`); in running text and table cells it is put on one
line, ``&``, ``<`` and ``>`` are HTML-escaped, Markdown punctuation (including ``|``) is
backslash-escaped and ``@`` mentions are broken with a word joiner; longer texts go into fenced
code blocks whose fence is longer than any backtick run inside them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from deltaeval.report import _decision as decision
from deltaeval.report import _format as fmt
from deltaeval.textsafe import visible, visible_data

#: GitHub refuses comments longer than this many characters.
GITHUB_COMMENT_LIMIT = 65_536
#: Room kept free under the limit for the closing lines.
_RESERVE = 600
#: Longest text shown inline; longer or multi-line texts go in a fenced block.
_INLINE_MAX = 120
#: Longest text shown in one fenced block.
_FENCED_MAX = 1_500
#: Most rows of one slice table when the full tables do not fit.
_SLICE_ROWS_WHEN_LONG = 25

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_BACKTICKS = re.compile(r"`+")


def md_inline(value: Any, limit: int | None = None) -> str:
    """Untrusted text as inert, one-line Markdown (safe in table cells and headings)."""
    text = fmt.one_line(visible(fmt.text_of(value)), limit)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = html.escape(text, quote=False)
    return text.replace("@", "@\u2060")


def md_fenced(text: str, limit: int = _FENCED_MAX) -> str:
    """Untrusted text as a fenced code block that its content cannot close."""
    body = visible(text)  # a \r\n or lone \r becomes \n
    cut = len(body) > limit
    body = body[:limit]
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    block = f"{fence}text\n{body}\n{fence}"
    if cut:
        block += f"\n\n*(cut to {limit:,} of {len(text):,} characters)*"
    return block


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A GFM table; ``align`` is one letter per column (``l`` or ``r``), default left."""
    marks = ["---:" if (align[i : i + 1] == "r") else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _drop_empty_last_column(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Leave out the last column (a flag) when no row has anything in it."""
    if any(row[-1] for row in rows):
        return header, rows
    return header[:-1], [row[:-1] for row in rows]


def _names(report: Mapping[str, Any]) -> tuple[str, str]:
    old = md_inline((report.get("old") or {}).get("name", "old"), 80)
    new = md_inline((report.get("new") or {}).get("name", "new"), 80)
    return old, new


def _heading(report: Mapping[str, Any]) -> str:
    """The verdict heading (with the NFR bound a gate checks) and one line that decides it."""
    old, new = _names(report)
    acc = report.get("accuracy") or {}
    f = report.get("flips") or {}
    lead = (
        f"**Verdict:** {md_inline(decision.verdict_line(report))}."
        f" Accuracy {fmt.pct(acc.get('old'))} → {fmt.pct(acc.get('new'))};"
        f" {fmt.count(f.get('positive'))} positive flips."
    )
    return f"### {old} → {new}: {md_inline(decision.badge(report))}\n\n{lead}"


def _summary(report: Mapping[str, Any]) -> str:
    old, new = _names(report)
    acc = report.get("accuracy") or {}
    f = report.get("flips") or {}
    settings = report.get("settings") or {}
    conf = fmt.level(settings.get("confidence_level"))
    rows = [
        [f"Accuracy {old}", fmt.pct(acc.get("old")), fmt.pct_ci(acc.get("old_ci"))],
        [f"Accuracy {new}", fmt.pct(acc.get("new")), fmt.pct_ci(acc.get("new_ci"))],
        ["**Δ accuracy** (new − old)", f"**{fmt.pp(acc.get('delta'))}**", fmt.pp_ci(acc.get("delta_ci"))],
        [
            "**NFR**: negative flips (old right, new wrong)",
            f"**{fmt.pct(f.get('nfr'))}** ({fmt.count(f.get('negative'))})",
            fmt.pct_ci(f.get("nfr_ci")),
        ],
        [
            f"NFR upper bound ({decision.one_sided_level(report)}, what `gate --max-nfr` checks)",
            fmt.pct(decision.nfr_upper_bound(report)),
            "",
        ],
        [
            "PFR: positive flips (old wrong, new right)",
            f"{fmt.pct(f.get('pfr'))} ({fmt.count(f.get('positive'))})",
            fmt.pct_ci(f.get("pfr_ci")),
        ],
        ["Churn: output changed", fmt.pct(f.get("churn")), fmt.pct_ci(f.get("churn_ci"))],
        ["NFR_mc: new wrong and output changed", fmt.pct(f.get("nfr_mc")), fmt.pct_ci(f.get("nfr_mc_ci"))],
        ["BTC: both right / old right", fmt.pct(f.get("btc")), fmt.pct_ci(f.get("btc_ci"))],
        ["BEC: same mistake / new wrong", fmt.pct(f.get("bec")), fmt.pct_ci(f.get("bec_ci"))],
        ["McNemar p (exact, two-sided)", fmt.pval(f.get("mcnemar_p")), ""],
    ]
    table = _table(["Metric", "Value", f"{conf} CI"], rows, "lrr")
    scorer = settings.get("scorer")
    notes = (
        f"{fmt.count(acc.get('n', f.get('n')))} shared examples"
        f" (both right {fmt.count(f.get('both_correct'))}, both wrong {fmt.count(f.get('both_wrong'))})."
        f" Intervals: {conf}, exact for rates (Clopper–Pearson) and the accuracy change (Tango score)."
        f" Verdict at alpha {md_inline(settings.get('alpha'))}."
        + (f" Scorer: {md_inline(scorer, 80)}." if scorer else "")
    )
    return f"{table}\n\n{notes}"


def _alignment(report: Mapping[str, Any]) -> str | None:
    warnings = fmt.alignment_warnings(report)
    if not warnings:
        return None
    return "\n".join(f"> **Warning:** {md_inline(w, 1_000)}  " for w in warnings).rstrip()


def _continuous(report: Mapping[str, Any]) -> str | None:
    c = report.get("continuous")
    if not isinstance(c, Mapping):
        return None
    conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
    rows = [
        ["Mean score old → new", f"{fmt.num(c.get('old_mean'))} → {fmt.num(c.get('new_mean'))}", ""],
        ["Mean Δ", fmt.signed(c.get("mean_delta")), fmt.num_ci(c.get("mean_delta_ci"))],
        [
            "Gains",
            fmt.count_rate_mean(c.get("gains"), c.get("gain_rate"), c.get("mean_gain")),
            fmt.pct_ci(c.get("gain_rate_ci")),
        ],
        [
            "Losses",
            fmt.count_rate_mean(c.get("losses"), c.get("loss_rate"), c.get("mean_loss")),
            fmt.pct_ci(c.get("loss_rate_ci")),
        ],
        ["Ties (\\|Δ\\| ≤ ε)", fmt.count(c.get("ties")), ""],
        ["Wilcoxon signed-rank p", fmt.pval(c.get("wilcoxon_p")), ""],
    ]
    title = f"#### Continuous score (ε = {fmt.num(c.get('epsilon'))}, n = {fmt.count(c.get('n'))})"
    return f"{title}\n\n" + _table(["", "Value", f"{conf} CI"], rows, "lrr")


def _slices(report: Mapping[str, Any], max_rows: int | None) -> list[str]:
    conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
    blocks = []
    for block in report.get("slices") or []:
        all_rows = list(block.get("rows") or [])
        shown = all_rows if max_rows is None else all_rows[:max_rows]
        rows = []
        for row in shown:
            flag = (
                "**regressed**" if row.get("regressed") else ("**improved**" if row.get("improved") else "")
            )
            rows.append(
                [
                    md_inline(row.get("value"), 60),
                    fmt.count(row.get("n")),
                    f"{fmt.pct(row.get('accuracy_old'))} → {fmt.pct(row.get('accuracy_new'))}",
                    fmt.pp(row.get("delta")),
                    fmt.pp_ci(row.get("delta_ci")),
                    fmt.pct(row.get("nfr")),
                    f"{fmt.count(row.get('negative'))} / {fmt.count(row.get('positive'))}",
                    fmt.pval(row.get("q_value")),
                    flag,
                ]
            )
        header = ["Value", "n", "Accuracy old → new", "Δ", f"{conf} CI", "NFR", "Flips − / +", "q", "Flag"]
        header, rows = _drop_empty_last_column(header, rows)
        text = (
            f"#### Slices by {md_inline(block.get('tag'), 60)}\n\n"
            + _table(header, rows, "lrrrrrrrl")
            + f"\n\nq-values: {md_inline(fmt.method_name(block.get('method')))} at alpha"
            f" {md_inline(block.get('alpha'))}; flagged rows are significant after correction."
        )
        if len(shown) < len(all_rows):
            text += f" Showing {len(shown)} of {len(all_rows):,} values (see the HTML report)."
        blocks.append(text)
    return blocks


def _flip(index: int, flip: Mapping[str, Any], old: str, new: str) -> str:
    head = f"**{index}. {md_inline(flip.get('id'), 100)}**"
    tags = fmt.tags_text(flip.get("tags"))
    if tags:
        head += f" · {md_inline(tags, 200)}"
    if flip.get("old_score") is not None or flip.get("new_score") is not None:
        head += f" · score {fmt.num(flip.get('old_score'))} → {fmt.num(flip.get('new_score'))}"
    fields = [
        ("Input", flip.get("input"), None),
        ("Reference", fmt.reference(flip.get("reference")), None),
        (f"Old ({old})", flip.get("old_output"), flip.get("old_error")),
        (f"New ({new})", flip.get("new_output"), flip.get("new_error")),
    ]
    parts: list[str] = []
    lines = [head]
    for label, value, error in fields:
        text = fmt.text_of(value)
        if error is not None:
            lines.append(f"**{label}:** error: {md_inline(error, _INLINE_MAX)}")
        elif not text.strip():
            lines.append(f"**{label}:** *(none)*")
        elif "\n" not in text.strip() and len(text) <= _INLINE_MAX:
            lines.append(f"**{label}:** {md_inline(text)}")
        else:
            if lines:
                parts.append("\\\n".join(lines))
            lines = []
            parts.append(f"**{label}:**\n\n{md_fenced(text)}")
    if lines:
        parts.append("\\\n".join(lines))
    return "\n\n".join(parts)


#: Negative flips listed one line each at the top of the regressions block.
_REGRESSION_ROWS = 5
#: Characters of each text in that list.
_REGRESSION_CHARS = 80


def _regression_rows(negatives: Sequence[Mapping[str, Any]]) -> str:
    """The first negative flips, one line each: input, reference, old and new output."""
    shown = negatives[:_REGRESSION_ROWS]
    references = any(flip.get("reference") is not None for flip in shown)
    rows = []
    for flip in shown:
        old_error, new_error = flip.get("old_error"), flip.get("new_error")
        reference = [md_inline(fmt.reference(flip.get("reference")), 40)] if references else []
        rows.append(
            [
                md_inline(flip.get("id"), 40),
                md_inline(flip.get("input"), _REGRESSION_CHARS),
                *reference,
                md_inline(flip.get("old_output") if old_error is None else f"error: {old_error}", 60),
                md_inline(flip.get("new_output") if new_error is None else f"error: {new_error}", 60),
            ]
        )
    header = ["Id", "Input", *(["Reference"] if references else []), "Old (right)", "New (wrong)"]
    return _table(header, rows)


def _regressions(report: Mapping[str, Any], max_examples: int, budget: int) -> str | None:
    """The negative flips: a one-line list of the first ones, then their full texts folded in
    ``<details>`` (within ``budget`` characters). None for a report without flips."""
    if not isinstance(report.get("flips"), Mapping):
        return None
    negatives = list((report.get("examples") or {}).get("negative_flips") or [])
    total = (report.get("flips") or {}).get("negative")
    total = total if isinstance(total, int) else len(negatives)
    title = f"#### Regressions: {total:,} negative flip{'s' if total != 1 else ''} (old right, new wrong)"
    if not total:
        return f"{title}\n\nNo example went from right to wrong."
    text = title
    if negatives:
        text += "\n\n" + _regression_rows(negatives)
        if len(negatives[:_REGRESSION_ROWS]) < total:
            shown = len(negatives[:_REGRESSION_ROWS])
            held = "all of them" if len(negatives) >= total else f"the first {len(negatives):,}"
            text += f"\n\nShowing {shown} of {total:,} ({held} in the HTML report)."
    wanted = negatives[: max(max_examples, 0)]
    if not wanted:
        return text
    old, new = _names(report)
    rendered: list[str] = []
    used = len(text) + 200
    for i, flip in enumerate(wanted, 1):
        piece = _flip(i, flip, old, new)
        if used + len(piece) + 2 > budget:
            break
        rendered.append(piece)
        used += len(piece) + 2
    note = ""
    if len(rendered) < len(wanted):
        note = (
            f"\n\n*{len(wanted) - len(rendered)} more examples left out to stay under"
            f" GitHub's {GITHUB_COMMENT_LIMIT:,}-character limit.*"
        )
    if rendered or note:
        body = "\n\n".join(rendered) + note
        summary = f"Full texts of the first {len(rendered)} of {total:,} negative flips"
        text += f"\n\n<details>\n<summary>{summary}</summary>\n\n{body.strip()}\n\n</details>"
    return text


def render_markdown(report: Mapping[str, Any], *, max_examples: int = 10, charts: str | None = None) -> str:
    """Render ``report`` as Markdown for a PR comment or a CI job summary.

    In the order a ship decision reads it: a verdict heading with the NFR's one-sided upper
    bound (the figure `gate --max-nfr` checks) and a line with the accuracy change and McNemar
    p, the summary table, alignment warnings, the continuous block; the regressions (the first
    negative flips one line each, then the first ``max_examples`` in full, folded in
    ``<details>``); one table per slice tag; then, when the report has a ``preference``
    section, its tables and the strongest wins and losses with the judges' explanations; then,
    when it has a ``behaviour`` section, the axes that changed (the rest folded), combined model,
    proposed axes, changed-most clusters and folded example pairs (a report with neither flips
    nor preferences leads with a behaviour heading). The result stays under GitHub's
    65,536-character comment limit: examples (and, if needed, slice rows) are left out, and the
    text says so. ``charts``, a Markdown block linking the chart files
    (:mod:`deltaeval.report.chart_files`), follows the figures, before the regressions.
    """
    from deltaeval.report.behaviour_markdown import behaviour_blocks, behaviour_heading
    from deltaeval.report.judging_banner import markdown_banner
    from deltaeval.report.output_changes import block, markdown_blocks, markdown_heading
    from deltaeval.report.sections import discovered_slices

    report = visible_data(report)
    has_flips = isinstance(report.get("flips"), Mapping)  # a `deltaeval judge` report may have none
    if has_flips:
        head = [_heading(report), _summary(report)]
    elif block(report) is not None:  # compared without correctness
        head = [markdown_heading(report)]
    elif not isinstance(report.get("preference"), Mapping) and isinstance(report.get("behaviour"), Mapping):
        head = [behaviour_heading(report)]  # a `deltaeval behaviour` report
    else:
        head = [_judge_heading(report)]
    banner = markdown_banner(report)  # a failed or insufficient judging comes first
    if banner is not None:
        head.insert(0, banner)
    head += markdown_blocks(report)  # notes; churn and lengths
    for extra in (_alignment(report), _continuous(report), charts):
        if extra:
            head.append(extra)
    preference = _preference_blocks(report)
    behaviour = behaviour_blocks(report)
    budget = GITHUB_COMMENT_LIMIT - _RESERVE
    slices = _slices(report, None)
    if len("\n\n".join(head + slices + preference + behaviour)) > budget // 2:
        slices = _slices(report, _SLICE_ROWS_WHEN_LONG)
    slices += discovered_slices.markdown(report)

    version = md_inline(report.get("deltaeval_version", ""), 40)
    footer = (
        f"<sub>deltaeval {version} · report schema v{md_inline(report.get('schema_version'))}"
        " · full texts in the HTML report</sub>"
    )
    # the order a ship decision reads: verdict and figures, regressions, slices, preference,
    # behaviour; the folded full texts take what room the rest leaves under the limit
    behaviour_text = "".join("\n\n" + b for b in behaviour)
    rest = len("\n\n".join(head + slices + preference)) + len(behaviour_text) + len(footer)
    regressions = _regressions(report, max_examples, budget - rest)
    text = "\n\n".join(head + ([regressions] if regressions else []) + slices + preference)
    if isinstance(report.get("preference"), Mapping):
        room = budget - len(text) - len(behaviour_text) - len(footer)
        text += _preference_examples_md(report, max_examples, room)
    text += behaviour_text
    text += f"\n\n{footer}\n"
    if len(text) > GITHUB_COMMENT_LIMIT:
        cut_note = "\n\n*(report cut to fit GitHub's comment limit)*\n"
        text = text[: GITHUB_COMMENT_LIMIT - len(cut_note)] + cut_note
    return text


# -- the preference section (pairwise judging) ---------------------------------------------------


def _wtl(row: Mapping[str, Any]) -> str:
    return " / ".join(fmt.count(row.get(k)) for k in ("wins", "ties", "losses"))


def _judge_heading(report: Mapping[str, Any]) -> str:
    """Heading of a report without flips (written by `deltaeval judge`)."""
    old, new = _names(report)
    p = report.get("preference") or {}
    w = p.get("win_rate") or {}
    settings = report.get("settings") or {}
    word = fmt.verdict_word(w.get("verdict"))
    lead = (
        f"Win rate of {new} against {old}: **{fmt.pct(w.get('win_rate'))}**"
        f" ({fmt.level(settings.get('confidence_level'))} CI {fmt.pct_ci(w.get('win_rate_ci'))};"
        f" {fmt.counted(w.get('wins'), 'win')}, {fmt.counted(w.get('ties'), 'tie')},"
        f" {fmt.counted(w.get('losses'), 'loss', 'losses')}),"
        f" {md_inline(w.get('test'))} test p = {fmt.pval(w.get('p_value'))}."
    )
    return f"### {word}: {new} vs {old}\n\n{lead}"


def _preference_blocks(report: Mapping[str, Any]) -> list[str]:
    p = report.get("preference")
    if not isinstance(p, Mapping):
        return []
    settings = report.get("settings") or {}
    conf = fmt.level(settings.get("confidence_level"))
    w = p.get("win_rate") or {}
    bias = p.get("position_bias") or {}
    proto = p.get("protocol") or {}
    n = w.get("n") or 0

    def share(key: str) -> str:
        return fmt.pct((w.get(key) or 0) / n) if n else fmt.MISSING

    rows = [
        ["New wins", f"{fmt.count(w.get('wins'))} ({share('wins')})", ""],
        ["Ties", f"{fmt.count(w.get('ties'))} ({share('ties')})", ""],
        ["Old wins", f"{fmt.count(w.get('losses'))} ({share('losses')})", ""],
        [
            "**Win rate of new** (ties count half)",
            f"**{fmt.pct(w.get('win_rate'))}**",
            fmt.pct_ci(w.get("win_rate_ci")),
        ],
        [f"p-value ({md_inline(w.get('test'))} test, two-sided)", fmt.pval(w.get("p_value")), ""],
        [
            "Position bias (winner changes with the order)",
            f"{fmt.pct(bias.get('rate'))} ({fmt.count(bias.get('n_bias'))} of {fmt.count(bias.get('n'))})",
            f"first shown wins {fmt.pct(bias.get('first_position_win_rate'))}",
        ],
    ]
    lc = p.get("length_control")
    if isinstance(lc, Mapping) and lc.get("lc_win_rate") is not None:
        rows.append(
            [
                f"Length-controlled win rate{fmt.lc_status(lc)}",
                fmt.pct(lc.get("lc_win_rate")),
                fmt.pct_ci(lc.get("lc_win_rate_ci")),
            ]
        )
    elif isinstance(lc, Mapping) and lc.get("status") == "not estimated":
        rows.append(["Length-controlled win rate", "not estimated", "see the note below"])
    elif isinstance(lc, Mapping) and lc.get("lc_difference") is not None:
        rows.append(["LC win rate vs baseline, new − old", fmt.pp(lc.get("lc_difference")), ""])
    agreement = p.get("agreement")
    if isinstance(agreement, Mapping):
        measure, value, details = fmt.agreement_summary(agreement)
        rows.append([f"Judge agreement ({measure})", value, details])
    judges = ", ".join(md_inline(j.get("name"), 80) for j in p.get("judges") or [])
    notes = [
        f"Judges: {judges}; {fmt.orders(proto)},"
        f" panel rule {md_inline(proto.get('aggregate'))};"
        f" {fmt.counted(p.get('n_judged'), 'example')} judged,"
        f" {fmt.count(p.get('n_no_verdict'))} without a verdict."
    ]
    adaptive = p.get("adaptive")
    if isinstance(adaptive, Mapping):
        notes.append(f"Adaptive judging {md_inline(fmt.adaptive_summary(adaptive))}")
    cost = (p.get("cost") or {}).get("total") or {}
    line = (
        f"Judge requests: {fmt.count(cost.get('requests'))} ({fmt.count(cost.get('cached'))} from the cache)"
    )
    if cost.get("prompt_tokens") is not None or cost.get("completion_tokens") is not None:
        tokens_in, tokens_out = fmt.count(cost.get("prompt_tokens")), fmt.count(cost.get("completion_tokens"))
        line += f", tokens {tokens_in} in / {tokens_out} out"
    if cost.get("cost") is not None:
        line += f", cost {cost['cost']:.4f}"
    notes.append(line + ".")
    notes += [f"Note: {md_inline(note, 500)}" for note in p.get("notes") or []]
    blocks = [
        "#### Pairwise preference\n\n"
        + _table(["", "Value", f"{conf} CI"], rows, "lrr")
        + "\n\n"
        + " ".join(notes)
    ]

    judge_rows = [
        [
            md_inline(j.get("name"), 80),
            fmt.pct(j.get("win_rate")),
            _wtl(j),
            f"{fmt.pct((j.get('position_bias') or {}).get('rate'))}",
            fmt.count(j.get("n_errors")),
        ]
        for j in p.get("judges") or []
    ]
    if len(judge_rows) > 1:
        blocks.append(
            "#### Judges\n\n"
            + _table(["Judge", "Win rate", "W / T / L", "Position bias", "Errors"], judge_rows, "lrrrr")
        )

    b = p.get("baseline")
    if isinstance(b, Mapping):
        base_rows = [
            [
                md_inline(name, 80),
                fmt.num(row.get("win_rate"), 2),
                fmt.num(row.get("standard_error"), 2),
                fmt.num(row.get("discrete_win_rate"), 2),
                fmt.num(row.get("length_controlled_winrate"), 2),
                fmt.count(row.get("n_total")),
            ]
            for name, row in (b.get("runs") or {}).items()
        ]
        blocks.append(
            f"#### Against the baseline {md_inline(b.get('name'), 80)} (percent)\n\n"
            + _table(["Run", "Win rate", "SE", "Discrete", "LC win rate", "n"], base_rows, "lrrrrr")
        )

    for block in p.get("by_tag") or []:
        tag_rows = [
            [
                md_inline(row.get("value"), 60),
                fmt.count(row.get("n")),
                fmt.pct(row.get("win_rate")),
                fmt.pct_ci(row.get("win_rate_ci")),
                _wtl(row),
                fmt.pval(row.get("q_value")),
                f"**{md_inline(row.get('direction'))} better**" if row.get("significant") else "",
            ]
            for row in block.get("rows") or []
        ]
        tag_header, tag_rows = _drop_empty_last_column(
            ["Value", "n", "Win rate", f"{conf} CI", "W / T / L", "q", "Flag"], tag_rows
        )
        blocks.append(
            f"#### Win rate by {md_inline(block.get('tag'), 60)}\n\n"
            + _table(tag_header, tag_rows, "lrrrrrl")
            + f"\n\nq-values: {md_inline(fmt.method_name(block.get('method')))}"
            f" at alpha {md_inline(block.get('alpha'))}."
        )
    return blocks


def _preference_example(index: int, example: Mapping[str, Any], old: str, new: str) -> str:
    head = f"**{index}. {md_inline(example.get('id'), 100)}**"
    tags = fmt.tags_text(example.get("tags"))
    if tags:
        head += f" · {md_inline(tags, 200)}"
    if example.get("position_bias"):
        head += " · position-bias event"
    parts = [head, f"**Input:**\n\n{md_fenced(fmt.text_of(example.get('input')), 600)}"]
    if "baseline_output" in example:
        parts.append(f"**Baseline:**\n\n{md_fenced(fmt.text_of(example.get('baseline_output')), 600)}")
    parts.append(f"**Old ({old}):**\n\n{md_fenced(fmt.text_of(example.get('old_output')), 800)}")
    parts.append(f"**New ({new}):**\n\n{md_fenced(fmt.text_of(example.get('new_output')), 800)}")
    for v in example.get("verdicts") or []:
        says = v.get("says") or (f"error: {v.get('error')}" if v.get("error") else "no verdict")
        shown = md_inline(v.get("shown_first"), 40)
        line = f"**Judge {md_inline(v.get('judge'), 80)}** ({shown} shown first): {md_inline(says, 200)}"
        explanation = v.get("explanation")
        parts.append(line + (f"\n\n{md_fenced(fmt.text_of(explanation), 800)}" if explanation else ""))
    return "\n\n".join(parts)


def _preference_examples_md(report: Mapping[str, Any], max_examples: int, budget: int) -> str:
    """The strongest wins and losses, folded in ``<details>``, within ``budget`` characters."""
    examples = (report.get("preference") or {}).get("examples") or {}
    old, new = _names(report)
    text = ""
    for key, title in (("wins", "Strongest wins of new"), ("losses", "Strongest losses of new")):
        rendered: list[str] = []
        for i, example in enumerate((examples.get(key) or [])[: max(max_examples, 0)], 1):
            piece = _preference_example(i, example, old, new)
            if len(text) + sum(len(r) + 2 for r in rendered) + len(piece) + 200 > budget:
                break
            rendered.append(piece)
        if rendered:
            summary = f"{title}: {len(rendered)} of {fmt.count(examples.get(f'n_{key}'))}"
            text += (
                f"\n\n<details>\n<summary>{summary}</summary>\n\n" + "\n\n".join(rendered) + "\n\n</details>"
            )
    return text
