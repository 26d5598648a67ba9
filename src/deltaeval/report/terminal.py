"""A compact terminal summary of a JSON report, drawn with rich tables.

Every string that comes from the data (run names, ids, tag values, model text) is wrapped in a
:class:`rich.text.Text`, so rich never reads it as markup (table titles and captions too); and the
whole report passes through :func:`deltaeval.textsafe.visible_data` first, so that control
characters, escape sequences and bidi overrides are shown as escapes, never sent to the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from deltaeval.report import _decision as decision
from deltaeval.report import _format as fmt
from deltaeval.textsafe import visible, visible_data

_VERDICT_STYLES = {
    "regressed": "bold red",
    "improved": "bold green",
    "no significant change": "bold yellow",
}


def _data(value: Any, limit: int | None = None, style: str = "") -> Text:
    """Untrusted text as a one-line, markup-free :class:`Text`."""
    return Text(fmt.one_line(visible(fmt.text_of(value)), limit), style=style)


def _table(title: str | Text, *columns: str, caption: str | None = None) -> Table:
    """A borderless table; the first column is left-aligned, the others right-aligned.

    A ``title`` or ``caption`` given as a string is plain text (it may name a judge, a tag or a
    model), never rich markup.
    """
    table = Table(
        title=Text(visible(title), style="bold") if isinstance(title, str) else title,
        title_justify="left",
        title_style="bold",
        caption=Text(visible(caption), style="dim") if caption is not None else None,
        caption_justify="left",
        caption_style="dim",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=i > 0)
    return table


def _header(report: Mapping[str, Any]) -> list[RenderableType]:
    old, new = report.get("old") or {}, report.get("new") or {}
    settings = report.get("settings") or {}
    flips = report.get("flips") or {}
    verdict = str(flips.get("verdict", ""))
    line = Text.assemble(
        ("deltaeval ", "bold"),
        _data(old.get("name", "old"), style="bold"),
        " → ",
        _data(new.get("name", "new"), style="bold"),
        f"   n={fmt.count((report.get('accuracy') or {}).get('n', flips.get('n')))}",
        f" · {fmt.level(settings.get('confidence_level'))} intervals",
        " (exact: Clopper–Pearson; Tango for the accuracy change)",
    )
    if settings.get("scorer"):
        line.append(" · scorer ")
        line.append_text(_data(settings["scorer"]))
    verdict_line = Text.assemble(
        "Verdict: ",
        (decision.accuracy_text(report), _VERDICT_STYLES.get(verdict, "bold")),
        " · ",
        (decision.regressions_text(report), "bold red" if flips.get("negative") else "bold"),
    )
    return [line, verdict_line]


def _accuracy(report: Mapping[str, Any]) -> list[RenderableType]:
    acc = report.get("accuracy") or {}
    conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
    table = _table("Accuracy", "", "value", f"{conf} CI")
    table.add_row(
        _data((report.get("old") or {}).get("name", "old")),
        fmt.pct(acc.get("old")),
        fmt.pct_ci(acc.get("old_ci")),
    )
    table.add_row(
        _data((report.get("new") or {}).get("name", "new")),
        fmt.pct(acc.get("new")),
        fmt.pct_ci(acc.get("new_ci")),
    )
    delta = acc.get("delta")
    style = "red" if isinstance(delta, float | int) and delta < 0 else "green"
    table.add_row("Δ (new − old)", Text(fmt.pp(delta), style=style), fmt.pp_ci(acc.get("delta_ci")))
    return [table]


def _flips(report: Mapping[str, Any]) -> list[RenderableType]:
    f = report.get("flips") or {}
    conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
    caption = (
        f"n={fmt.count(f.get('n'))}: both right {fmt.count(f.get('both_correct'))},"
        f" both wrong {fmt.count(f.get('both_wrong'))}"
    )
    table = _table("Flips", "", "count", "rate", f"{conf} CI", caption=caption)
    table.add_column("meaning", style="dim", no_wrap=False)
    table.add_row(
        Text("Negative flips (NFR)", style="red"),
        fmt.count(f.get("negative")),
        Text(fmt.pct(f.get("nfr")), style="red"),
        fmt.pct_ci(f.get("nfr_ci")),
        f"old right, new wrong; upper bound {fmt.pct(decision.nfr_upper_bound(report))}"
        f" ({decision.one_sided_level(report)}, as gate --max-nfr)",
    )
    table.add_row(
        Text("Positive flips (PFR)", style="green"),
        fmt.count(f.get("positive")),
        Text(fmt.pct(f.get("pfr")), style="green"),
        fmt.pct_ci(f.get("pfr_ci")),
        "old wrong, new right",
    )
    rows = (
        ("Churn", "churn", "output changed"),
        ("NFR_mc", "nfr_mc", "new wrong and output changed"),
        ("BTC", "btc", "both right / old right"),
        ("BEC", "bec", "same mistake / new wrong"),
    )
    for label, key, meaning in rows:
        table.add_row(label, "", fmt.pct(f.get(key)), fmt.pct_ci(f.get(f"{key}_ci")), meaning)
    table.add_row("McNemar p", "", fmt.pval(f.get("mcnemar_p")), "", "exact, two-sided")
    return [table]


def _alignment(report: Mapping[str, Any]) -> list[RenderableType]:
    return [
        Text.assemble(("warning: ", "bold yellow"), _data(warning))
        for warning in fmt.alignment_warnings(report)
    ]


def _continuous(report: Mapping[str, Any]) -> list[RenderableType]:
    c = report.get("continuous")
    if not isinstance(c, Mapping):
        return []
    conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
    table = _table(
        f"Continuous score (ε = {fmt.num(c.get('epsilon'))})",
        "",
        "value",
        f"{conf} CI",
        caption=f"n={fmt.count(c.get('n'))}; Wilcoxon signed-rank p={fmt.pval(c.get('wilcoxon_p'))}",
    )
    table.add_row("mean old → new", f"{fmt.num(c.get('old_mean'))} → {fmt.num(c.get('new_mean'))}", "")
    table.add_row("mean Δ", fmt.signed(c.get("mean_delta")), fmt.num_ci(c.get("mean_delta_ci")))
    table.add_row(
        Text("gains", style="green"),
        fmt.count_rate_mean(c.get("gains"), c.get("gain_rate"), c.get("mean_gain")),
        fmt.pct_ci(c.get("gain_rate_ci")),
    )
    table.add_row(
        Text("losses", style="red"),
        fmt.count_rate_mean(c.get("losses"), c.get("loss_rate"), c.get("mean_loss")),
        fmt.pct_ci(c.get("loss_rate_ci")),
    )
    table.add_row("ties (|Δ| ≤ ε)", fmt.count(c.get("ties")), "")
    return [table]


def _slices(report: Mapping[str, Any]) -> list[RenderableType]:
    conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
    tables: list[RenderableType] = []
    for block in report.get("slices") or []:
        caption = (
            f"q-values: {fmt.method_name(block.get('method'))} at alpha {block.get('alpha', fmt.MISSING)}"
        )
        title = Text.assemble(("Slices by ", "bold"), _data(block.get("tag", ""), style="bold"))
        table = _table(
            title, "value", "n", "acc. old → new", "Δ", f"{conf} CI", "NFR", "q", "", caption=caption
        )
        rows = block.get("rows") or []
        table.columns[0].min_width = min(24, max((len(str(r.get("value", ""))) for r in rows), default=5))
        for row in rows:
            if row.get("regressed"):
                flag, style = Text("▼ regressed", style="bold red"), "red"
            elif row.get("improved"):
                flag, style = Text("▲ improved", style="bold green"), "green"
            else:
                flag, style = Text(""), ""
            table.add_row(
                _data(row.get("value"), 40, style=style),
                fmt.count(row.get("n")),
                f"{fmt.pct(row.get('accuracy_old'))} → {fmt.pct(row.get('accuracy_new'))}",
                Text(fmt.pp(row.get("delta")), style=style),
                fmt.pp_ci(row.get("delta_ci")),
                fmt.pct(row.get("nfr")),
                fmt.pval(row.get("q_value")),
                flag,
            )
        tables.append(table)
    return tables


def _examples(report: Mapping[str, Any], max_examples: int) -> list[RenderableType]:
    flips = (report.get("examples") or {}).get("negative_flips") or []
    total = (report.get("flips") or {}).get("negative")
    total = total if isinstance(total, int) else len(flips)
    shown = flips[: max(max_examples, 0)]
    if not shown:
        return []
    references = any(flip.get("reference") is not None for flip in shown)
    table = _table(
        f"First {len(shown)} of {total:,} negative flips (old right, new wrong)",
        *("id", "input", *(("reference",) if references else ()), "old", "new"),
        caption="full texts: the HTML report" if len(shown) < total else None,
    )
    for column in table.columns:
        column.justify, column.no_wrap, column.overflow = "left", False, "fold"
    for flip in shown:
        old_error, new_error = flip.get("old_error"), flip.get("new_error")
        old_out = flip.get("old_output") if old_error is None else f"[error] {old_error}"
        new_out = flip.get("new_output") if new_error is None else f"[error] {new_error}"
        reference = [_data(fmt.reference(flip.get("reference")), 30)] if references else []
        table.add_row(
            _data(flip.get("id"), 24),
            _data(flip.get("input"), 60),
            *reference,
            _data(old_out, 40, style="green"),
            _data(new_out, 40, style="red"),
        )
    return [table]


def render_terminal(report: Mapping[str, Any], console: Console, *, max_examples: int = 5) -> None:
    """Print a compact summary of ``report`` to ``console``.

    In the order a ship decision reads it: the runs and the verdict (the accuracy change with
    its McNemar p, and the regressions with the NFR's one-sided upper bound that `gate
    --max-nfr` checks), alignment warnings, accuracy and flip rates with their intervals, the
    continuous-score block, the first ``max_examples`` negative flips with old and new side by
    side (truncated; the HTML report has them in full), one table per slice tag, the confirmed
    discovered slices (of a judge report too: where the judge prefers old); then the
    ``preference`` section when the report has one (win/tie/loss, win rate with interval and
    p-value, position bias, length control, agreement, adaptive stop, cost, per-tag win rates,
    strongest wins and losses); then the ``behaviour`` section when the report has one (the axes
    that changed, the others named in one line, the combined model, proposed axes, changed-most
    clusters and a few example pairs). A report without flips shows the preference verdict on
    top, or without preferences either (a `deltaeval behaviour` report) how many behaviour axes
    changed.
    """
    from deltaeval.report.behaviour_terminal import behaviour_header, render_behaviour
    from deltaeval.report.judging_banner import terminal_banner
    from deltaeval.report.output_changes import block, terminal_header, terminal_sections
    from deltaeval.report.sections import discovered_slices

    report = visible_data(report)
    has_flips = isinstance(report.get("flips"), Mapping)  # a `deltaeval judge` report may have none
    if has_flips:
        header = _header(report)
    elif block(report) is not None:  # compared without correctness
        header = terminal_header(report)
    elif not isinstance(report.get("preference"), Mapping) and isinstance(report.get("behaviour"), Mapping):
        header = behaviour_header(report)
    else:
        header = _judge_header(report)
    banner = terminal_banner(report)  # a failed or insufficient judging comes first
    if banner is not None:
        console.print(banner)
    console.print(*header, sep="\n")
    warnings = _alignment(report)
    if warnings:
        console.print(*warnings, sep="\n")
    sections: list[RenderableType] = terminal_sections(report)  # notes; churn and lengths
    if block(report) is not None:
        sections += _continuous(report)
    if has_flips:
        sections += [  # what a ship decision reads first: figures, regressions, then slices
            *_accuracy(report),
            *_flips(report),
            *_continuous(report),
            *_examples(report, max_examples),
            *_slices(report),
        ]
    sections += discovered_slices.terminal(report)  # a judge report's too: where the judge prefers old
    for section in sections:
        console.print()
        console.print(section)
    render_preference(report, console, max_examples=max_examples)
    render_behaviour(report, console, max_examples=max_examples)


# -- the preference section (pairwise judging) ---------------------------------------------------

_PREFERENCE_STYLES = {"new better": "bold green", "old better": "bold red"}


def _judge_header(report: Mapping[str, Any]) -> list[RenderableType]:
    """The header of a report without flips (written by `deltaeval judge`)."""
    old, new = report.get("old") or {}, report.get("new") or {}
    settings = report.get("settings") or {}
    p = report.get("preference") or {}
    w = p.get("win_rate") or {}
    line = Text.assemble(
        ("deltaeval judge ", "bold"),
        _data(old.get("name", "old"), style="bold"),
        " → ",
        _data(new.get("name", "new"), style="bold"),
        f"   n={fmt.count(p.get('n_judged'))} judged"
        f" · {fmt.level(settings.get('confidence_level'))} intervals"
        f" ({fmt.count(settings.get('n_boot'))} bootstrap resamples,"
        f" seed {settings.get('seed', fmt.MISSING)})",
    )
    verdict = str(w.get("verdict", ""))
    verdict_line = Text.assemble(
        "Verdict: ",
        (fmt.verdict_word(verdict).upper(), _PREFERENCE_STYLES.get(verdict, "bold yellow")),
        f"  (win rate of new {fmt.pct(w.get('win_rate'))}, {w.get('test', '')} test"
        f" p={fmt.pval(w.get('p_value'))}, alpha {settings.get('alpha', fmt.MISSING)})",
    )
    return [line, verdict_line]


def _wtl(row: Mapping[str, Any]) -> str:
    """Wins / ties / losses counts."""
    return " / ".join(fmt.count(row.get(k)) for k in ("wins", "ties", "losses"))


def _preference_summary(report: Mapping[str, Any]) -> list[RenderableType]:
    p = report.get("preference")
    if not isinstance(p, Mapping):
        return []
    conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
    w = p.get("win_rate") or {}
    judges = ", ".join(str(j.get("name")) for j in p.get("judges") or [])
    proto = p.get("protocol") or {}
    orders = fmt.orders(proto)
    title = Text.assemble(("Pairwise preference", "bold"), " · judges: ", _data(judges, 120))
    caption = (
        f"{orders}; panel rule {proto.get('aggregate', fmt.MISSING)}; a tie counts half;"
        f" {fmt.counted(p.get('n_no_verdict'), 'example')} without a verdict"
    )
    if p.get("mode") == "baseline":
        caption += "; new vs old through the shared baseline"
    table = _table(title, "", "value", f"{conf} CI", caption=caption)
    n = w.get("n") or 0
    share = (lambda k: fmt.pct((w.get(k) or 0) / n)) if n else (lambda k: fmt.MISSING)
    table.add_row(Text("new wins", style="green"), f"{fmt.count(w.get('wins'))} ({share('wins')})", "")
    table.add_row("ties", f"{fmt.count(w.get('ties'))} ({share('ties')})", "")
    table.add_row(Text("old wins", style="red"), f"{fmt.count(w.get('losses'))} ({share('losses')})", "")
    table.add_row(
        Text("win rate of new", style="bold"), fmt.pct(w.get("win_rate")), fmt.pct_ci(w.get("win_rate_ci"))
    )
    table.add_row(f"p-value ({w.get('test', '')} test, two-sided)", fmt.pval(w.get("p_value")), "")
    bias = p.get("position_bias") or {}
    table.add_row(
        "position bias",
        f"{fmt.pct(bias.get('rate'))} ({fmt.count(bias.get('n_bias'))} of {fmt.count(bias.get('n'))})",
        f"first shown wins {fmt.pct(bias.get('first_position_win_rate'))}",
    )
    lc = p.get("length_control")
    if isinstance(lc, Mapping) and lc.get("lc_win_rate") is not None:
        table.add_row(
            f"length-controlled win rate{fmt.lc_status(lc)}",
            fmt.pct(lc.get("lc_win_rate")),
            fmt.pct_ci(lc.get("lc_win_rate_ci")),
        )
    elif isinstance(lc, Mapping) and lc.get("status") == "not estimated":
        table.add_row("length-controlled win rate", "not estimated", "see the note below")
    elif isinstance(lc, Mapping) and lc.get("lc_difference") is not None:
        table.add_row("LC win rate vs baseline, new − old", fmt.pp(lc.get("lc_difference")), "")
    agreement = p.get("agreement")
    if isinstance(agreement, Mapping):
        measure, value, details = fmt.agreement_summary(agreement)
        table.add_row(f"judge agreement ({measure})", value, details)
    out: list[RenderableType] = [table]
    adaptive = p.get("adaptive")
    if isinstance(adaptive, Mapping):
        out.append(Text(f"Adaptive: {fmt.adaptive_summary(adaptive)}"))
    cost = (p.get("cost") or {}).get("total") or {}
    line = (
        f"Judge requests: {fmt.count(cost.get('requests'))} ({fmt.count(cost.get('cached'))} from the cache,"
    )
    line += f" {fmt.counted(cost.get('errors'), 'error')})"
    if cost.get("prompt_tokens") is not None or cost.get("completion_tokens") is not None:
        tokens_in, tokens_out = fmt.count(cost.get("prompt_tokens")), fmt.count(cost.get("completion_tokens"))
        line += f"; tokens {tokens_in} in / {tokens_out} out"
    if cost.get("cost") is not None:
        line += f"; cost {cost['cost']:.4f}"
        per = (p.get("cost") or {}).get("cost_per_example")
        if per is not None:
            line += f" ({per:.6f} per example)"
    out.append(Text(line))
    for note in p.get("notes") or []:
        out.append(Text.assemble(("note: ", "dim"), _data(note)))
    return out


def _preference_judges(report: Mapping[str, Any]) -> list[RenderableType]:
    p = report.get("preference") or {}
    judges = p.get("judges") or []
    if len(judges) < 2 and not any(j.get("n_errors") for j in judges):
        return []
    table = _table("Judges", "judge", "win rate", "wins / ties / losses", "position bias", "errors")
    for j in judges:
        bias = j.get("position_bias") or {}
        table.add_row(
            _data(j.get("name"), 60),
            fmt.pct(j.get("win_rate")),
            _wtl(j),
            f"{fmt.pct(bias.get('rate'))} ({fmt.count(bias.get('n_bias'))})",
            fmt.count(j.get("n_errors")),
        )
    return [table]


def _preference_baseline(report: Mapping[str, Any]) -> list[RenderableType]:
    b = (report.get("preference") or {}).get("baseline")
    if not isinstance(b, Mapping):
        return []
    title = Text.assemble(("Against the baseline ", "bold"), _data(b.get("name"), 60), " (percent)")
    table = _table(title, "run", "win rate", "SE", "discrete", "LC win rate", "n")
    for name, row in (b.get("runs") or {}).items():
        table.add_row(
            _data(name, 40),
            fmt.num(row.get("win_rate"), 2),
            fmt.num(row.get("standard_error"), 2),
            fmt.num(row.get("discrete_win_rate"), 2),
            fmt.num(row.get("length_controlled_winrate"), 2),
            fmt.count(row.get("n_total")),
        )
    return [table]


def _preference_tags(report: Mapping[str, Any]) -> list[RenderableType]:
    conf = fmt.level((report.get("settings") or {}).get("confidence_level"))
    tables: list[RenderableType] = []
    for block in (report.get("preference") or {}).get("by_tag") or []:
        title = Text.assemble(("Win rate by ", "bold"), _data(block.get("tag", ""), style="bold"))
        caption = (
            f"q-values: {fmt.method_name(block.get('method'))} at alpha {block.get('alpha', fmt.MISSING)}"
        )
        table = _table(title, "value", "n", "win rate", f"{conf} CI", "W / T / L", "q", "", caption=caption)
        for row in block.get("rows") or []:
            flag = Text("")
            if row.get("significant"):
                flag = Text(f"{row.get('direction')} better", style="bold")
            table.add_row(
                _data(row.get("value"), 40),
                fmt.count(row.get("n")),
                fmt.pct(row.get("win_rate")),
                fmt.pct_ci(row.get("win_rate_ci")),
                _wtl(row),
                fmt.pval(row.get("q_value")),
                flag,
            )
        tables.append(table)
    return tables


def _verdict_text(example: Mapping[str, Any]) -> str:
    """The first verdict with an explanation (else the verdicts alone), by role."""
    verdicts = list(example.get("verdicts") or [])
    for v in verdicts:
        if v.get("explanation"):
            return f"{v.get('says') or v.get('error') or ''}: {v.get('explanation')}"
    return "; ".join(str(v.get("says") or v.get("error") or "") for v in verdicts)


def _preference_examples(report: Mapping[str, Any], max_examples: int) -> list[RenderableType]:
    examples = (report.get("preference") or {}).get("examples") or {}
    tables: list[RenderableType] = []
    for key, title, style in (
        ("wins", "Strongest wins of new", "green"),
        ("losses", "Strongest losses of new", "red"),
    ):
        rows = (examples.get(key) or [])[: max(max_examples, 0)]
        if not rows:
            continue
        table = _table(
            f"{title} ({len(rows)} of {fmt.count(examples.get('n_' + key))})",
            "id",
            "input",
            "old",
            "new",
            "judge",
        )
        for column in table.columns:
            column.justify, column.no_wrap, column.overflow = "left", False, "fold"
        for ex in rows:
            table.add_row(
                _data(ex.get("id"), 24),
                _data(ex.get("input"), 50),
                _data(ex.get("old_output"), 40),
                _data(ex.get("new_output"), 40, style=style),
                _data(_verdict_text(ex), 80),
            )
        tables.append(table)
    return tables


def render_preference(report: Mapping[str, Any], console: Console, *, max_examples: int = 5) -> None:
    """Print the ``preference`` section of ``report`` (nothing when it has none)."""
    report = visible_data(report)
    sections = [
        *_preference_summary(report),
        *_preference_judges(report),
        *_preference_baseline(report),
        *_preference_tags(report),
        *_preference_examples(report, max_examples),
    ]
    for section in sections:
        console.print()
        console.print(section)
