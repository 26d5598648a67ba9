"""The ``deltaeval`` command line (typer). Errors become one line on stderr and exit code 2."""

from __future__ import annotations

import copy
import gc
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deltaeval import __version__
from deltaeval.errors import DeltaEvalError, JudgingFailedError, UsageError
from deltaeval.plural import plural
from deltaeval.textsafe import visible

if TYPE_CHECKING:  # imported where used: `deltaeval --help` loads neither rich nor any reader
    from rich.console import Console
    from rich.text import Text

    from deltaeval.io.base import ColumnMapping
    from deltaeval.types import Run

app = typer.Typer(
    name="deltaeval",
    help="What changed between two versions of a model, and is it safe to ship?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    suggest_commands=False,  # click already suggests close command names
)

EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_JUDGING_FAILED = 3  # most judge requests gave no verdict (judging.validity); reports still written
EXIT_INTERRUPTED = 130
#: the cycle collector's first threshold while a command runs (see main)
GC_THRESHOLD = 100_000
#: judging.llm.DEFAULT_MAX_TOKENS and judging.validity.DEFAULT_MIN_VALID (not imported: --help stays fast)
JUDGE_MAX_TOKENS = 256
MIN_VALID = 10

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        metavar="FILE",
        help="SQLite store file (default: $DELTAEVAL_STORE or .deltaeval/store.sqlite).",
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format", metavar="FORMAT", help="Input format (default: detected). See `deltaeval formats`."
    ),
]
IdOpt = Annotated[str | None, typer.Option("--id", metavar="COL", help="Column holding the example id.")]
InputOpt = Annotated[
    str | None, typer.Option("--input", metavar="COL", help="Column holding the input/prompt.")
]
OutputOpt = Annotated[
    str | None, typer.Option("--output", metavar="COL", help="Column holding the model output.")
]
ReferenceOpt = Annotated[
    str | None, typer.Option("--reference", metavar="COL", help="Column holding the gold answer.")
]
ScoreOpt = Annotated[
    str | None, typer.Option("--score", metavar="COL", help="Column holding a per-example score.")
]
CorrectOpt = Annotated[
    str | None, typer.Option("--correct", metavar="COL", help="Column holding per-example correctness.")
]
TagOpt = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="COL", help="Column to keep as a tag for slicing (repeatable)."),
]
SystemOpt = Annotated[str | None, typer.Option("--system", metavar="TEXT", help="System prompt.")]
TemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--template",
        metavar="JINJA",
        help="Template of the user message; variables: input, reference, id, tags.",
    ),
]
TemperatureOpt = Annotated[float, typer.Option("--temperature", metavar="T", help="Sampling temperature.")]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", metavar="N", help="Most tokens to generate.")]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        "--concurrency", metavar="C", help="Requests in flight at once (batch size for local models)."
    ),
]
TimeoutOpt = Annotated[
    float | None, typer.Option("--timeout", metavar="S", help="Seconds per request (HTTP backends).")
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        metavar="N",
        min=1,
        help="CPU threads of a local model (smollm2, gguf:PATH, hf:PATH). Default: the cores minus one "
        "up to 4 cores, half of them above (or $DELTAEVAL_THREADS).",
        show_default=False,
    ),
]
ApiKeyEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key-env", metavar="NAME", help="Environment variable holding the API key (never stored)."
    ),
]
TrustOpt = Annotated[
    bool, typer.Option("--trust", help="Allow loading pickled models (sklearn:PATH); they can run code.")
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict", help="Make missing or repeated ids, short CSV rows and lone surrogates an error."
    ),
]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace a stored run of that name.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
JsonOutOpt = Annotated[
    Path | None, typer.Option("--json", metavar="FILE", help="Write the JSON report here.")
]
MdOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--md", "--markdown", metavar="FILE", help="Write the Markdown report here (its charts beside it)."
    ),
]
ChartsOpt = Annotated[
    Path | None,
    typer.Option(
        "--charts",
        metavar="DIR",
        help="Folder for the Markdown report's SVG charts (default: REPORT.charts beside --md FILE).",
    ),
]
NoChartsOpt = Annotated[bool, typer.Option("--no-charts", help="Write no chart files beside the Markdown.")]
HtmlOutOpt = Annotated[
    Path | None, typer.Option("--html", metavar="FILE", help="Write the HTML report here.")
]
SeedOpt = Annotated[int, typer.Option("--seed", metavar="N", help="Bootstrap seed.")]
NBootOpt = Annotated[int, typer.Option("--n-boot", metavar="N", help="Bootstrap resamples per interval.")]
LevelOpt = Annotated[float, typer.Option("--level", metavar="LEVEL", help="Confidence level of intervals.")]
SimilarityOpt = Annotated[
    str,
    typer.Option(
        "--similarity",
        metavar="METHOD",
        help="How the most-changed examples are found: tfidf (default), minilm (the [embed] extra), "
        "auto (minilm when installed, else tfidf), none.",
    ),
]
SlicesOpt = Annotated[
    bool | None,
    typer.Option(
        "--slices/--no-slices",
        help="Discover slices of the inputs and tags where new does worse (compare: negative flips or "
        "score drops; judge: the judge prefers old), found on half of the examples and confirmed on "
        "the other. Default: 200 to 20,000 examples (compare: with correctness; judge: with a verdict).",
        show_default=False,
    ),
]


SliceClustersOpt = Annotated[
    str,
    typer.Option(
        "--slice-clusters",
        help="What the input clusters among the slice candidates are of: tfidf (the inputs' TF-IDF, "
        "fast) or minilm (MiniLM sentence embeddings, the embed extra: topics that share few words, "
        "a few seconds per thousand inputs).",
    ),
]


def _mapping(
    id: str | None,
    input: str | None,
    output: str | None,
    reference: str | None,
    score: str | None,
    correct: str | None,
    tag: list[str] | None,
) -> ColumnMapping:
    from deltaeval.io.base import ColumnMapping

    return ColumnMapping(
        id=id,
        input=input,
        output=output,
        reference=reference,
        score=score,
        correct=correct,
        tags=tuple(tag or ()),
    )


def _store(path: Path | None, *, create: bool = True):  # -> Store (imported lazily to keep --help fast)
    """The store at ``path``; ``create=False`` (read-only commands): a missing one is an error."""
    from deltaeval.store import Store

    return Store(path, create=create)


#: Width of reports written to a pipe or a CI log (rich would use 80 and cut model names).
PIPE_WIDTH = 120


def _rich_console(**options: object) -> Console:
    """A rich ``Console`` with ``options`` (rich is imported on first use, not for ``--help``)."""
    from rich.console import Console

    return Console(**options)  # type: ignore[arg-type]


def _console(quiet: bool = False) -> Console:
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return _rich_console(quiet=quiet, highlight=False, width=width)


def _plain(value: object) -> Text:
    """Untrusted text (a run name, a path, a note) for rich: no markup, controls made visible."""
    from rich.text import Text

    return Text(visible(str(value)))


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Results file to import.")],
    name: Annotated[
        str | None,
        typer.Option(
            "--name", metavar="NAME", help="Run name (default: from the file). Multi-run files: a prefix."
        ),
    ] = None,
    format: FormatOpt = None,
    id: IdOpt = None,
    input: InputOpt = None,
    output: OutputOpt = None,
    reference: ReferenceOpt = None,
    score: ScoreOpt = None,
    correct: CorrectOpt = None,
    tag: TagOpt = None,
    strict: StrictOpt = False,
    overwrite: OverwriteOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Import a results file into the store as one or more named runs (and the judgments it holds)."""
    from deltaeval.io import load_judgments, load_runs

    mapping = _mapping(id, input, output, reference, score, correct, tag)
    runs = load_runs(file, format=format, mapping=mapping, strict=strict)
    judgments = load_judgments(file, format=format)  # LLM Comparator files carry the judge's ratings
    original = [r.name for r in runs]
    if name is not None:
        if len(runs) == 1:
            runs = [runs[0].replace(name=name)]
        else:
            runs = [r.replace(name=f"{name}{r.name}") for r in runs]
    if judgments:
        from deltaeval.io.llm_comparator import renamed

        judgments = renamed(judgments, dict(zip(original, [r.name for r in runs], strict=True)))
    console = _console(quiet)
    shown: set[str] = set()  # a wide CSV's runs share the file's notes: each is printed once
    with _store(store) as db:
        for run in runs:
            db.save_run(run, overwrite=overwrite)
            console.print(
                f"imported {run.name!r}: {plural(len(run), 'example')} from {visible(str(file))}",
                markup=False,
            )
            tags = f"tags: {', '.join(_tag_names(run)) or 'none'}"
            if tags not in shown:
                shown.add(tags)
                console.print(f"  {visible(tags)}", markup=False)
            notes = [note for note in run.notes if note not in shown]
            shown.update(notes)
            for note in notes[:5]:
                console.print(f"  note: {visible(note)}", markup=False)
            if len(notes) > 5:
                console.print(f"  … and {len(notes) - 5} more notes")
        if judgments:
            db.save_judgments(judgments)
            judges = sorted({j.judge for j in judgments})
            console.print(
                visible(f"imported {plural(len(judgments), 'judgment')} by {', '.join(judges[:5])}"),
                markup=False,
            )


def _tag_names(run: Run) -> list[str]:
    """The tag names of a run's examples, sorted."""
    return sorted({t for e in run.examples for t in e.tags})


@app.command("runs")
def runs_cmd(store: StoreOpt = None) -> None:
    """List the stored runs (a missing store is not created)."""
    from deltaeval.store import store_hint, store_origin, store_path

    console = _console()
    path = store_path(store)
    where = f"{path} ({store_origin(store)})"
    if not path.exists():
        message = f"no store at {where}: no runs stored yet (`deltaeval import FILE --name NAME` makes one)"
        console.print(_plain(f"{message}; elsewhere? {store_hint(path)}"), soft_wrap=True)
        return
    with _store(store, create=False) as db:
        infos = db.list_runs()
    if not infos:
        message = f"no runs stored yet in {where}: `deltaeval import FILE --name NAME`"
        console.print(_plain(f"{message}; elsewhere? {store_hint(path)}"), soft_wrap=True)
        return
    from rich.table import Table

    table = Table("name", "examples", "model", "source", "imported", "hash", title=_plain(f"runs in {where}"))
    for info in infos:
        table.add_row(
            _plain(info.name),
            str(info.n),
            _plain(info.model),
            _plain(info.source),
            _plain(info.imported_at or "-"),
            _plain(info.content_hash[:HASH_SHOWN]),
        )
    console.print(table)
    console.print(_plain(f"hash: the first {HASH_SHOWN} digits of the content hash that reports show"))


@app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Stored run name.")],
    limit: Annotated[int, typer.Option("--limit", metavar="N", help="How many examples to print.")] = 10,
    store: StoreOpt = None,
) -> None:
    """Show a stored run: its metadata, correctness and first examples."""
    console = _console()
    with _store(store, create=False) as db:
        run = db.load_run(name)
        info = db.run_info(name)
    n_correct = sum(bool(o.correct) for o in run.outputs)
    n_known = sum(o.correct is not None for o in run.outputs)
    n_errors = sum(o.error is not None for o in run.outputs)
    lines = [
        f"run {run.name}: {plural(len(run), 'example')}, source {run.source}",
        f"model: {run.model or '-'}",
        f"imported: {(info.imported_at if info else None) or '- (stored before deltaeval recorded it)'}",
        _created_line(run),
        f"content hash: {run.content_hash}",
    ]
    if run.params:
        lines.append(f"params: {dict(run.params)}")
    if n_known:
        lines.append(f"correct: {n_correct}/{n_known} ({n_correct / n_known:.1%})")
    if n_errors:
        lines.append(f"errors: {n_errors}")
    tags = _tag_names(run)
    if tags:
        lines.append(f"tags: {', '.join(tags)}")
    lines += [f"note: {note}" for note in run.notes[:5]]
    for line in lines:
        console.print(_plain(line))
    from deltaeval.references import reference_text
    from deltaeval.types import input_text

    header = ("id", "input", "output", "reference", "correct")
    rows = [
        (
            example.id,
            _clip(input_text(example.input)),
            _clip(out.text if out.error is None else f"ERROR: {out.error}"),
            _clip(reference_text(example.reference)),
            "" if out.correct is None else ("yes" if out.correct else "no"),
        )
        for example, out in list(zip(run.examples, run.outputs, strict=True))[:limit]
    ]
    shown = [i for i in range(len(header)) if i < 3 or any(row[i] for row in rows)]  # no empty column
    from rich.table import Table

    table = Table(*(header[i] for i in shown))
    for row in rows:
        table.add_row(*(_plain(row[i]) for i in shown))
    console.print(table)


#: Digits of a content hash that `runs` prints (reports hold the whole hash).
HASH_SHOWN = 12


def _created_line(run: Run) -> str:
    """The run's own time, saying which: the source file's modification time, or when it was made."""
    from datetime import UTC, datetime

    source = Path(run.source) if run.source else None
    try:
        modified = datetime.fromtimestamp(source.stat().st_mtime, UTC) if source else None
    except OSError:  # the file is gone, or the source is not a file
        modified = None
    if modified is not None and modified.isoformat(timespec="seconds") == run.created_at:
        return f"source file modified: {run.created_at}"
    return f"created: {run.created_at} (when the outputs were made or their file last modified)"


def _clip(text: str | None, width: int = 60) -> str:
    """Untrusted text on one line, controls made visible, cut to ``width`` characters."""
    if not text:
        return ""
    flat = " ".join(visible(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@app.command("compare")
def compare_cmd(
    runs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="OLD NEW [RUN…]",
            help="Runs: results files, FILE::RUN, or stored run names. More than two: each is compared "
            "with the first (or --baseline) and a lineage table is added.",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", metavar="NAME", help="With several runs: the run the others are compared with."
        ),
    ] = None,
    old_model: Annotated[
        str | None, typer.Option("--old-model", metavar="SPEC", help="Generate the old run with this model.")
    ] = None,
    new_model: Annotated[
        str | None,
        typer.Option(
            "--new-model", metavar="SPEC", help="Generate the new run with this model (default: --old-model)."
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", metavar="FILE", help="Dataset to run the models on.")
    ] = None,
    system: SystemOpt = None,
    old_system: Annotated[
        str | None, typer.Option("--old-system", metavar="TEXT", help="System prompt of the old run only.")
    ] = None,
    new_system: Annotated[
        str | None, typer.Option("--new-system", metavar="TEXT", help="System prompt of the new run only.")
    ] = None,
    old_name: Annotated[
        str | None,
        typer.Option(
            "--old-name",
            metavar="NAME",
            help="Name of the generated old run (default: the model, e.g. smollm2; see the README).",
        ),
    ] = None,
    new_name: Annotated[
        str | None,
        typer.Option(
            "--new-name",
            metavar="NAME",
            help="Name of the generated new run (default: the model, or the model and what differs).",
        ),
    ] = None,
    template: TemplateOpt = None,
    temperature: TemperatureOpt = 0.0,
    max_tokens: MaxTokensOpt = 256,
    concurrency: ConcurrencyOpt = None,
    threads: ThreadsOpt = None,
    timeout: TimeoutOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    trust: TrustOpt = False,
    scorer: Annotated[
        str | None,
        typer.Option(
            "--scorer",
            metavar="SCORER",
            help="Score outputs against references: exact, numeric, choice, contains, rouge_l, "
            "regex:PATTERN, module:function.",
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option("--by", metavar="TAG", help="Tag to slice on (repeatable); BH-controlled."),
    ] = None,
    json_out: JsonOutOpt = None,
    md_out: MdOutOpt = None,
    charts_dir: ChartsOpt = None,
    no_charts: NoChartsOpt = False,
    html_out: HtmlOutOpt = None,
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
    level: LevelOpt = 0.95,
    alpha: Annotated[
        float, typer.Option("--alpha", metavar="ALPHA", help="Significance / false discovery rate.")
    ] = 0.05,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", metavar="EPS", help="Tolerance for continuous score changes.")
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold", metavar="T", help="Count score >= THRESHOLD as correct (score-only runs)."
        ),
    ] = None,
    max_examples: Annotated[
        int, typer.Option("--max-examples", metavar="N", help="Positive flips kept in the report.")
    ] = 100,
    html_examples: Annotated[
        int | None,
        typer.Option(
            "--html-examples",
            metavar="N",
            help="Examples the HTML report's viewer holds (default 10,000: flips first, then the others).",
            show_default=False,
        ),
    ] = None,
    behaviour: Annotated[
        bool | None,
        typer.Option(
            "--behaviour/--no-behaviour",
            help="Add the behaviour section (how the outputs differ). Default: when outputs are text.",
            show_default=False,
        ),
    ] = None,
    slices: SlicesOpt = None,
    slice_clusters: SliceClustersOpt = "tfidf",
    similarity: SimilarityOpt = "tfidf",
    asymptotic_from: Annotated[
        int | None,
        typer.Option(
            "--asymptotic-from",
            metavar="N",
            help="From N examples, the behaviour section and the output changes use normal/DeLong "
            "intervals instead of the bootstrap (default 20,000; 0: always the bootstrap).",
            show_default=False,
        ),
    ] = None,
    format: FormatOpt = None,
    id: IdOpt = None,
    input: InputOpt = None,
    output: OutputOpt = None,
    reference: ReferenceOpt = None,
    score: ScoreOpt = None,
    correct: CorrectOpt = None,
    tag: TagOpt = None,
    strict: StrictOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare two runs: flips, churn, compatibility, significance, slices.

    Give two runs (files or stored names), or generate them: --old-model SPEC [--new-model SPEC]
    --data FILE, with per-side --old-system/--new-system prompts. Model calls are cached.
    Three or more runs (v1 v2 v3 …): each is compared with the first (or --baseline NAME), and a
    lineage table adds accuracy, NFR, PFR and a Holm-adjusted verdict per candidate and per step.
    """
    from deltaeval.comparison import compare
    from deltaeval.resolve import resolve_run

    mapping = _mapping(id, input, output, reference, score, correct, tag)
    console = _console(quiet)
    generating = old_model is not None or new_model is not None or data is not None
    if not generating and (old_name is not None or new_name is not None):
        raise UsageError(
            "--old-name/--new-name name runs that compare generates",
            hint="use them with --old-model SPEC --data FILE; stored runs keep their names",
        )
    if not generating:
        _check_threads(threads, [])
    if runs and (len(runs) > 2 or baseline is not None) and not generating:
        from deltaeval.cli_lineage import baseline_first, compare_lineage_cmd

        if len(runs) > 2:
            options = dict(scorer=scorer, by=tuple(by or ()), seed=seed, n_boot=n_boot)
            options.update(confidence_level=level, epsilon=epsilon, alpha=alpha, strict=strict)
            options.update(max_examples=max_examples, threshold=threshold, behaviour=behaviour)
            options.update(similarity=similarity, quiet=quiet, slice_discovery=slices)
            options.update(slice_clusters=slice_clusters)
            if asymptotic_from is not None:
                options["asymptotic_from"] = asymptotic_from
            outputs = (json_out, md_out, html_out)
            compare_lineage_cmd(
                runs, baseline, options, store, format, mapping, console, outputs, html_examples=html_examples
            )
            return
        runs = baseline_first(runs, baseline)  # two runs: the baseline is the old one
    old, new = [*(runs or ()), None, None][:2]  # more than two runs with models: refused below
    if baseline is not None and generating:
        raise UsageError("--baseline names one of the runs given", hint="leave it out when generating runs")
    if generating:
        _check_threads(threads, [old_model, new_model])
        if old is not None or new is not None:
            raise UsageError(
                "give either two runs (OLD NEW) or models to run (--old-model/--new-model --data), not both"
            )
        if old_model is None or data is None:
            raise UsageError("generating runs needs --old-model SPEC and --data FILE")
        old_run, new_run = _generate_pair(
            old_model=old_model,
            new_model=new_model or old_model,
            data=data,
            mapping=mapping,
            old_params=_params(old_system or system, template, temperature, max_tokens),
            new_params=_params(new_system or system, template, temperature, max_tokens),
            names=(old_name, new_name),
            backend_options=_backend_options(concurrency, timeout, api_key_env, trust, threads),
            store_path=store,
            console=console,
            quiet=quiet,
        )
    else:
        if old is None or new is None:
            raise UsageError("compare needs two runs: deltaeval compare OLD NEW (or --old-model … --data …)")
        needs_store = not all(_is_file(ref) for ref in (old, new)) and _store_exists(store)
        db = _store(store, create=False) if needs_store else None  # reading runs creates no store
        try:
            old_run = resolve_run(old, db, format=format, mapping=mapping, strict=strict)
            new_run = resolve_run(new, db, format=format, mapping=mapping, strict=strict)
        finally:
            if db is not None:
                db.close()
    report = compare(
        old_run,
        new_run,
        scorer=scorer,
        by=tuple(by or ()),
        seed=seed,
        n_boot=n_boot,
        confidence_level=level,
        epsilon=epsilon,
        alpha=alpha,
        strict=strict,
        max_examples=max_examples,
        threshold=threshold,
        behaviour=behaviour,
        similarity=similarity,
        slice_discovery=slices,
        slice_clusters=slice_clusters,
        quiet=quiet,
        **({} if asymptotic_from is None else {"asymptotic_from": asymptotic_from}),
    )
    report.print(console)
    for target, suffix in ((json_out, ".json"), (md_out, ".md"), (html_out, ".html")):
        if target is not None:
            charts = _charts_dir(md_out, charts_dir, no_charts)
            _save_as(report, target, suffix, charts, html_examples=html_examples)
            console.print(f"wrote {visible(str(target))}", markup=False)


def _charts_dir(md_out: Path | None, charts: Path | None, no_charts: bool) -> Path | None:
    """The Markdown report's chart folder: ``--charts DIR``, else REPORT.charts; None with --no-charts."""
    if md_out is None or no_charts:
        return None
    from deltaeval.report.chart_files import default_directory

    return charts if charts is not None else default_directory(md_out)


def _store_exists(path: Path | None) -> bool:
    from deltaeval.store import store_path  # only when a run is named: two files load no store

    return store_path(path).exists()


def _is_file(ref: str) -> bool:
    from deltaeval.resolve import is_file_reference

    return is_file_reference(ref)


def _save_as(
    report, target: Path, suffix: str, charts: Path | None = None, *, html_examples: int | None = None
) -> None:
    """Write ``report`` to ``target``; a Markdown report with its charts in ``charts`` (None: none);
    an HTML page whose viewer holds ``html_examples`` examples (None: the default)."""
    from deltaeval.atomic_write import write_text_atomic

    if suffix == ".md" and charts is not None:
        from deltaeval.report.chart_files import write_markdown_with_charts

        write_markdown_with_charts(report.data, target, charts)
        return
    if suffix == ".html" and html_examples is not None:
        if html_examples < 0:
            raise UsageError(f"--html-examples {html_examples} is negative", hint="use 0 or more, e.g. 1000")
        write_text_atomic(target, report.to_html(html_examples))
        return
    render = {".json": report.to_json, ".md": report.to_markdown, ".html": report.to_html}[suffix]
    write_text_atomic(target, render())


def _backend_options(
    concurrency: int | None,
    timeout: float | None,
    api_key_env: str | None,
    trust: bool,
    threads: int | None = None,
) -> dict[str, object]:
    """Backend options the user set (unset ones are left to each backend's defaults)."""
    return {
        "concurrency": concurrency,
        "timeout": timeout,
        "api_key_env": api_key_env,
        "trust": trust or None,
        "threads": threads,
    }


def _check_threads(threads: int | None, specs: list[str | None]) -> None:
    """Refuse --threads when none of the models the command runs is a local one."""
    if threads is None:
        return
    from deltaeval.backends import is_local_spec

    if not any(spec is not None and is_local_spec(spec) for spec in specs):
        raise UsageError(
            "--threads sets the CPU threads of a local model (smollm2, gguf:PATH, hf:PATH), "
            "and this command runs none",
            hint="drop --threads: a model behind a server runs on the server's threads",
        )


def _local_backend(spec: str | None, threads: int | None):  # -> str | Backend | None
    """A local model spec built into a backend with ``threads`` (else the spec, unchanged)."""
    if spec is None or threads is None:
        return spec
    from deltaeval.backends import get_backend, is_local_spec

    return get_backend(spec, threads=threads) if is_local_spec(spec) else spec


def _params(
    system: str | None, template: str | None, temperature: float, max_tokens: int
):  # -> GenerationParams
    from deltaeval.backends import GenerationParams

    return GenerationParams(system=system, template=template, temperature=temperature, max_tokens=max_tokens)


def _run_one(
    spec: str,
    examples,
    params,
    *,
    name: str,
    backend_options: dict,
    db,
    console: Console,
    quiet: bool,
    overwrite: bool,
    source: str,
):
    """Build the backend, run it with the cache, and print what it cost."""
    from deltaeval.backends import get_backend
    from deltaeval.runner import run_model

    with get_backend(spec, **backend_options) as backend:
        run, stats = run_model(
            backend,
            examples,
            params,
            name=name,
            store=db,
            source=source,
            console=_rich_console(stderr=True, quiet=quiet),
            quiet=quiet,
            overwrite=overwrite,
        )
    console.print(
        f"run {name!r}: {plural(stats.total, 'example')} · {stats.cached} from cache"
        f" · {plural(stats.called, 'model call')} · {plural(stats.errors, 'error')} · {stats.seconds:.1f} s",
        markup=False,
    )
    return run


def _generate_pair(
    *,
    old_model: str,
    new_model: str,
    data: Path,
    mapping: ColumnMapping,
    old_params,
    new_params,
    backend_options: dict,
    store_path: Path | None,
    console: Console,
    quiet: bool,
    names: tuple[str | None, str | None] = (None, None),
):
    """Run both model configurations on the dataset (reusing cached calls).

    The runs are named ``names`` or, by default, readably after the model (:func:`_pair_names`).
    A generated run replaces a stored run of its name only when that one was generated from the
    same data file; a default name taken by another run gets the configuration's hash.
    """
    import hashlib
    import json

    from deltaeval.io.dataset import load_dataset

    examples = load_dataset(data, mapping=mapping)
    defaults = _pair_names(old_model, new_model, old_params, new_params)
    chosen = [given or default for given, default in zip(names, defaults, strict=True)]
    if chosen[0] == chosen[1]:
        raise UsageError(
            f"both generated runs would be named {chosen[0]!r}", hint="give --old-name and --new-name"
        )
    runs = []
    with _store(store_path) as db:
        sides = (("old", old_model, old_params), ("new", new_model, new_params))
        stored = {info.name: info.source for info in db.list_runs()}
        for (side, spec, params), name, given in zip(sides, chosen, names, strict=True):
            if name in stored and stored[name] != str(data):
                if given is not None:
                    raise UsageError(
                        f"a stored run is already named {name!r} (from {visible(stored[name])})",
                        hint=f"choose another --{side}-name (generated runs replace only runs made "
                        "from the same data file)",
                    )
                digest = hashlib.sha256(
                    json.dumps([spec, params.to_dict(), str(data)], sort_keys=True).encode()
                ).hexdigest()[:8]
                name = f"{name}#{digest}"
            runs.append(
                _run_one(
                    spec,
                    examples,
                    params,
                    name=name,
                    backend_options=backend_options,
                    db=db,
                    console=console,
                    quiet=quiet,
                    overwrite=True,
                    source=str(data),
                )
            )
    return runs[0], runs[1]


def _short_spec(spec: str) -> str:
    """A model spec without its backend prefix, URL and folders: ``openai:gpt-4o@URL`` → ``gpt-4o``."""
    kind, _, rest = spec.partition(":")
    body = (rest or kind).split("@", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    body = body.removesuffix(".gguf")
    return body or spec


def _pair_names(old_spec: str, new_spec: str, old_params, new_params) -> tuple[str, str]:
    """Readable, distinct default names of two generated runs.

    Different models: each model's short name (``smollm2``, ``gpt-4o``). The same model with a
    system prompt on one side only: ``smollm2`` and ``smollm2+system``. Otherwise the role and
    the model: ``old:smollm2``, ``new:smollm2``.
    """
    old_short, new_short = _short_spec(old_spec), _short_spec(new_spec)
    if old_short != new_short:
        return old_short, new_short
    if (old_params.system is None) != (new_params.system is None):
        with_system = f"{old_short}+system"
        return (old_short, with_system) if old_params.system is None else (with_system, old_short)
    return f"old:{old_short}", f"new:{new_short}"


@app.command("run")
def run_cmd(
    model: Annotated[
        str, typer.Option("--model", metavar="SPEC", help="Model spec, e.g. smollm2, openai:NAME@URL.")
    ],
    data: Annotated[
        Path, typer.Option("--data", metavar="FILE", help="Dataset: id, input, reference, tags.")
    ],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="Name of the stored run.")],
    system: SystemOpt = None,
    template: TemplateOpt = None,
    temperature: TemperatureOpt = 0.0,
    max_tokens: MaxTokensOpt = 256,
    concurrency: ConcurrencyOpt = None,
    threads: ThreadsOpt = None,
    timeout: TimeoutOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    trust: TrustOpt = False,
    id: IdOpt = None,
    input: InputOpt = None,
    reference: ReferenceOpt = None,
    tag: TagOpt = None,
    overwrite: OverwriteOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run a model on a dataset and store the outputs as a run (calls are cached; reruns resume)."""
    from deltaeval.io.dataset import load_dataset

    _check_threads(threads, [model])
    mapping = _mapping(id, input, None, reference, None, None, tag)
    examples = load_dataset(data, mapping=mapping)
    with _store(store) as db:
        _run_one(
            model,
            examples,
            _params(system, template, temperature, max_tokens),
            name=name,
            backend_options=_backend_options(concurrency, timeout, api_key_env, trust, threads),
            db=db,
            console=_console(quiet),
            quiet=quiet,
            overwrite=overwrite,
            source=str(data),
        )


@app.command("gate")
def gate_cmd(
    report_path: Annotated[Path, typer.Argument(metavar="REPORT.json", help="JSON report of `compare`.")],
    max_nfr: Annotated[
        float | None,
        typer.Option(
            "--max-nfr",
            metavar="X",
            help="Pass only when the one-sided upper bound of the negative flip rate is <= X.",
        ),
    ] = None,
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(
            "--max-accuracy-drop",
            metavar="D",
            help="Non-inferiority: pass only when the one-sided upper bound of accuracy(old) − "
            "accuracy(new) is <= D.",
        ),
    ] = None,
    min_accuracy_delta: Annotated[
        float | None,
        typer.Option(
            "--min-accuracy-delta",
            metavar="Y",
            help="Pass only when the one-sided lower bound of accuracy(new) − accuracy(old) is >= Y.",
        ),
    ] = None,
    max_slice_nfr: Annotated[
        float | None,
        typer.Option(
            "--max-slice-nfr",
            metavar="R",
            help="Fail when any slice's NFR is significantly above R (exact tests, Holm across slices).",
        ),
    ] = None,
    max_p: Annotated[
        float | None,
        typer.Option(
            "--max-p", metavar="Z", help="Fail unless the accuracy change is significant: McNemar p <= Z."
        ),
    ] = None,
    min_win_rate: Annotated[
        float | None,
        typer.Option(
            "--min-win-rate",
            metavar="W",
            help="Pass only when the lower end of the judged win rate's interval is >= W (judge reports).",
        ),
    ] = None,
    max_slice_loss_rate: Annotated[
        float | None,
        typer.Option(
            "--max-slice-loss-rate",
            metavar="R",
            help="Fail when any slice's rate of the judge preferring old (--by tags and discovered "
            "slices of a judge report) is significantly above R (exact tests, Holm across slices).",
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            "--alpha", metavar="A", help="Error rate of every check (default: the report's alpha, 0.05)."
        ),
    ] = None,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Compare point estimates instead of confidence bounds (no statistical guarantee).",
        ),
    ] = False,
    use_upper: Annotated[
        bool,
        typer.Option("--upper", hidden=True, help="Kept for old scripts: bounds are the default now."),
    ] = False,
    github: Annotated[
        bool | None,
        typer.Option(
            "--github/--no-github",
            help="Append the verdict and the report's Markdown summary to the GitHub job summary "
            "($GITHUB_STEP_SUMMARY). Default: when that variable is set.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Gate CI on a report: exit 1 when a threshold fails (and say which), else 0.

    Each check uses a one-sided confidence bound at --alpha, computed from the report's counts.
    """
    from deltaeval.gate import evaluate_gate
    from deltaeval.report import load_report
    from deltaeval.step_summary import summary_path

    summary = summary_path(github)  # --github without $GITHUB_STEP_SUMMARY: an error before any work

    thresholds = (max_nfr, max_accuracy_drop, min_accuracy_delta, max_slice_nfr, max_p, min_win_rate)
    if all(t is None for t in thresholds) and max_slice_loss_rate is None:
        raise UsageError(
            "gate needs at least one threshold",
            hint="pass --max-nfr, --max-accuracy-drop, --min-accuracy-delta, --max-slice-nfr, --max-p, "
            "--min-win-rate or --max-slice-loss-rate",
        )
    if use_upper and estimate:
        raise UsageError("--upper and --estimate contradict each other", hint="pass one of them")
    report = load_report(report_path, lineage=True)
    if report.get("schema") == "deltaeval.lineage":  # compare v1 v2 v3 …: every candidate is gated
        from deltaeval.cli_lineage import gate_lineage_cmd

        limits = dict(
            max_nfr=max_nfr, max_accuracy_drop=max_accuracy_drop, min_accuracy_delta=min_accuracy_delta
        )
        limits.update(max_slice_nfr=max_slice_nfr, max_p=max_p, min_win_rate=min_win_rate)
        limits.update(max_slice_loss_rate=max_slice_loss_rate, alpha=alpha, estimate=estimate)
        if not gate_lineage_cmd(report, limits, _console(), summary, bool(github)):
            raise typer.Exit(EXIT_GATE_FAILED)
        return
    checks = evaluate_gate(
        report,
        max_nfr=max_nfr,
        max_accuracy_drop=max_accuracy_drop,
        min_accuracy_delta=min_accuracy_delta,
        max_slice_nfr=max_slice_nfr,
        max_p=max_p,
        min_win_rate=min_win_rate,
        max_slice_loss_rate=max_slice_loss_rate,
        alpha=alpha,
        estimate=estimate,
    )
    console = _console()
    for check in checks:
        from rich.text import Text

        mark = Text("PASS", style="green") if check.passed else Text("FAIL", style="red")
        console.print(Text.assemble(mark, " ", _plain(check.description)))
    if summary is not None:
        _append_gate_summary(summary, report, checks, explicit=bool(github))
    if not all(c.passed for c in checks):
        raise typer.Exit(EXIT_GATE_FAILED)


def _append_gate_summary(path: Path, report: dict, checks: list, *, explicit: bool) -> None:
    """The gate's job summary; when it was not asked for (--github), a failure is a warning only."""
    from deltaeval.step_summary import append_gate_summary

    try:
        written = append_gate_summary(path, report, checks)
    except DeltaEvalError as exc:
        if explicit:
            raise
        _print_error(f"warning: {visible(exc.one_line())}")
        return
    if not written:
        _print_error(f"warning: no room left in the job summary {visible(str(path))} (GitHub's limit: 1 MiB)")


@app.command("formats")
def formats_cmd() -> None:
    """List the input formats `--format` accepts, one line each."""
    from deltaeval.io import FORMAT_DESCRIPTIONS, FORMATS

    width = max(len(name) for name in FORMATS)
    for name in FORMATS:
        typer.echo(f"{name:<{width}}  {FORMAT_DESCRIPTIONS[name]}")


@app.command("demo")
def demo_cmd(
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder for the demo's runs, store and reports.")
    ] = Path("deltaeval-demo"),
    classic: Annotated[
        bool,
        typer.Option(
            "--classic", help="The scikit-learn demo: digits, logistic regression → gradient boosting."
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", metavar="N", min=1, hidden=True, help="Only the first N prompts.")
    ] = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Offline end-to-end demo: two versions of a model, run, compare, report.

    Default: a prompt update on the embedded SmolLM2-135M-Instruct (needs the [local] extra).
    """
    from deltaeval.demo import run_classic_demo, run_llm_demo

    _check_threads(threads, [] if classic else ["smollm2"])
    if classic:
        run_classic_demo(out, console=_console(quiet))
    else:
        run_llm_demo(out, console=_console(quiet), quiet=quiet, limit=limit, threads=threads)


# -- pairwise judging -------------------------------------------------------------------------

JudgeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--judge",
        metavar="SPEC",
        help="Judge (repeatable for a panel): a model spec (openai:MODEL@URL, gguf:PATH, smollm2, hf:PATH), "
        "python:module:function, or a recorded judgment file.",
    ),
]
SingleOrderOpt = Annotated[
    bool, typer.Option("--single-order", help="Show each pair once (old/baseline first), not in both orders.")
]
PriceInOpt = Annotated[
    float | None,
    typer.Option("--price-in", metavar="X", help="Price of judge prompt tokens, per million."),
]
PriceOutOpt = Annotated[
    float | None,
    typer.Option("--price-out", metavar="Y", help="Price of judge completion tokens, per million."),
]
JudgeTemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--judge-template",
        metavar="JINJA",
        help="Judge user message; variables: input, output_a, output_b, reference, id, tags.",
    ),
]
JudgeSystemOpt = Annotated[
    str | None,
    typer.Option("--judge-system", metavar="TEXT", help="Judge system prompt (default: built in)."),
]
MaxRetriesOpt = Annotated[
    int,
    typer.Option("--max-retries", metavar="N", help="Re-asks after a judge reply without a verdict."),
]
JudgeMaxTokensOpt = Annotated[
    int,
    typer.Option(
        "--judge-max-tokens",
        metavar="N",
        help="Most tokens a judge reply may have (a brief reason and the verdict).",
    ),
]
MinValidOpt = Annotated[
    int,
    typer.Option(
        "--min-valid",
        metavar="N",
        help="Fewest judged examples with a verdict for a win-rate verdict; below it, or when most judge "
        "requests fail, the verdict is 'insufficient judgments'.",
    ),
]
PreferenceOpt = Annotated[
    str | None,
    typer.Option(
        "--preference",
        metavar="COL",
        help="Preference column of a recorded CSV/JSONL judgment file "
        "(labels A>>B…, or numbers: 1 = A better).",
    ),
]


def _prices(price_in: float | None, price_out: float | None):  # -> Prices | None
    from deltaeval.judging import Prices

    if price_in is None and price_out is None:
        return None
    return Prices(price_in or 0.0, price_out or 0.0)


def _progress_factory(console: Console, quiet: bool):
    """Progress of judging for the judging protocol's hook, on stderr: a bar on a terminal, plain
    lines in a pipe or CI log, nothing when quiet. Returns the reporter (stop it) and the hook."""
    from deltaeval.progress import make_progress

    progress = make_progress(console, quiet=quiet)
    return progress, progress.hook("judging")


def _exit_if_judging_failed(data: dict) -> None:
    """Exit with EXIT_JUDGING_FAILED (saying why on stderr) when most judge requests gave no verdict."""
    from deltaeval.judging.validity import judging_failed

    if judging_failed(data):
        block = (data.get("preference") or data).get("validity") or {}
        message = f"error: {block.get('message')} (fix: {block.get('hint')})"
        _rich_console(stderr=True, highlight=False, soft_wrap=True).print(visible(message), markup=False)
        raise typer.Exit(EXIT_JUDGING_FAILED)


def _judge_options(
    template: str | None,
    system: str | None,
    max_retries: int,
    max_tokens: int,
    preference: str | None,
    id_column: str | None,
    concurrency: int | None,
    timeout: float | None,
    api_key_env: str | None,
    threads: int | None = None,
) -> dict[str, object]:
    options: dict[str, object] = {
        "template": template,
        "system": system,
        "max_retries": max_retries,
        "max_tokens": max_tokens,
        "preference": preference,
        "id_column": id_column,
    }
    options.update(
        {
            k: v
            for k, v in _backend_options(concurrency, timeout, api_key_env, False, threads).items()
            if v is not None
        }
    )
    return options


@app.command("judge")
def judge_cmd(
    old: Annotated[
        str, typer.Argument(metavar="OLD", help="Old run: a results file, FILE::RUN, or a stored run.")
    ],
    new: Annotated[
        str, typer.Argument(metavar="NEW", help="New run: a results file, FILE::RUN, or a stored run.")
    ],
    judge: JudgeOpt = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", metavar="RUN", help="Judge OLD and NEW each against this run (AlpacaEval style)."
        ),
    ] = None,
    single_order: SingleOrderOpt = False,
    aggregate: Annotated[
        str, typer.Option("--aggregate", metavar="RULE", help="Panel rule: majority or mean.")
    ] = "majority",
    adaptive: Annotated[
        bool,
        typer.Option(
            "--adaptive", help="Judge in random order; stop once the win rate is separated from 50%."
        ),
    ] = False,
    budget: Annotated[
        int | None,
        typer.Option("--budget", metavar="N", help="With --adaptive: at most N judge requests."),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option("--by", metavar="TAG", help="Win rate per value of a tag (repeatable); BH-controlled."),
    ] = None,
    json_out: JsonOutOpt = None,
    md_out: MdOutOpt = None,
    charts_dir: ChartsOpt = None,
    no_charts: NoChartsOpt = False,
    html_out: HtmlOutOpt = None,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the bootstrap and the adaptive order.")
    ] = 0,
    n_boot: NBootOpt = 1000,
    level: LevelOpt = 0.95,
    alpha: Annotated[
        float,
        typer.Option("--alpha", metavar="ALPHA", help="Significance level (tests, tags, adaptive stop)."),
    ] = 0.05,
    max_examples: Annotated[
        int, typer.Option("--max-examples", metavar="N", help="Strongest wins and losses kept in the report.")
    ] = 5,
    price_in: PriceInOpt = None,
    price_out: PriceOutOpt = None,
    judge_template: JudgeTemplateOpt = None,
    judge_system: JudgeSystemOpt = None,
    max_retries: MaxRetriesOpt = 2,
    judge_max_tokens: JudgeMaxTokensOpt = JUDGE_MAX_TOKENS,
    min_valid: MinValidOpt = MIN_VALID,
    slices: SlicesOpt = None,
    slice_clusters: SliceClustersOpt = "tfidf",
    preference: PreferenceOpt = None,
    concurrency: ConcurrencyOpt = None,
    threads: ThreadsOpt = None,
    timeout: TimeoutOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    format: FormatOpt = None,
    id: IdOpt = None,
    input: InputOpt = None,
    output: OutputOpt = None,
    reference: ReferenceOpt = None,
    tag: TagOpt = None,
    strict: StrictOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Judge NEW against OLD pairwise: win rate, position bias, panels, adaptive stops, cost, and the
    slices of the inputs and tags where the judge prefers old.

    Each example is shown to every judge in both orders; judge calls are cached in the store, so
    a rerun resumes without repeating finished calls.
    """
    from deltaeval.judging.report import judge as run_judging
    from deltaeval.resolve import resolve_run

    if not judge:
        raise UsageError("judge needs at least one --judge SPEC", hint="e.g. --judge openai:MODEL@URL")
    _check_threads(threads, list(judge))
    mapping = _mapping(id, input, output, reference, None, None, tag)
    console = _console(quiet)
    with _store(store) as db:
        old_run = resolve_run(old, db, format=format, mapping=mapping, strict=strict)
        new_run = resolve_run(new, db, format=format, mapping=mapping, strict=strict)
        base_run = None
        if baseline is not None:
            base_run = resolve_run(baseline, db, format=format, mapping=mapping, strict=strict)
        progress, start = _progress_factory(_rich_console(stderr=True, quiet=quiet), quiet)
        try:
            report = run_judging(
                old_run,
                new_run,
                list(judge),
                baseline=base_run,
                store=db,
                both_orders=not single_order,
                aggregate=aggregate,
                adaptive=adaptive,
                budget=budget,
                by=tuple(by or ()),
                seed=seed,
                n_boot=n_boot,
                confidence_level=level,
                alpha=alpha,
                max_examples=max_examples,
                min_valid=min_valid,
                slices=slices,
                slice_clusters=slice_clusters,
                prices=_prices(price_in, price_out),
                strict=strict,
                progress=start,
                judge_options=_judge_options(
                    judge_template,
                    judge_system,
                    max_retries,
                    judge_max_tokens,
                    preference,
                    id,
                    concurrency,
                    timeout,
                    api_key_env,
                    threads,
                ),
            )
        finally:
            progress.stop()
    report.print(console)
    for target, suffix in ((json_out, ".json"), (md_out, ".md"), (html_out, ".html")):
        if target is not None:
            _save_as(report, target, suffix, _charts_dir(md_out, charts_dir, no_charts))
            console.print(f"wrote {visible(str(target))}", markup=False)
    _exit_if_judging_failed(report.data)


@app.command("behaviour")
def behaviour_cmd(
    old: Annotated[
        str, typer.Argument(metavar="OLD", help="Old run: a results file, FILE::RUN, or a stored run.")
    ],
    new: Annotated[
        str, typer.Argument(metavar="NEW", help="New run: a results file, FILE::RUN, or a stored run.")
    ],
    judge: JudgeOpt = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", metavar="RUN", help="With --judge: judge OLD and NEW each against this run."
        ),
    ] = None,
    proposer: Annotated[
        str | None,
        typer.Option(
            "--proposer",
            metavar="SPEC",
            help="Model that proposes axes from side-by-side pairs (e.g. smollm2).",
        ),
    ] = None,
    axis_judge: Annotated[
        str | None,
        typer.Option(
            "--axis-judge",
            metavar="SPEC",
            help="Model that scores proposed axes (default: the first model --judge, else the proposer).",
        ),
    ] = None,
    iterations: Annotated[
        int,
        typer.Option("--iterations", metavar="N", help="Rounds of proposing (later rounds: missed pairs)."),
    ] = 1,
    propose_pairs: Annotated[
        int, typer.Option("--propose-pairs", metavar="N", help="Pairs shown to the proposer per round.")
    ] = 40,
    max_axes: Annotated[
        int, typer.Option("--max-axes", metavar="N", help="Proposed axes judged per round.")
    ] = 10,
    judge_pairs: Annotated[
        int | None,
        typer.Option(
            "--judge-pairs", metavar="N", help="Pairs each proposed axis is scored on (default all)."
        ),
    ] = None,
    axis: Annotated[
        list[str] | None,
        typer.Option("--axis", metavar="NAME", help="Built-in or registered axis to compute (repeatable)."),
    ] = None,
    similarity: SimilarityOpt = "tfidf",
    describe: Annotated[
        str | None,
        typer.Option("--describe", metavar="SPEC", help="Model that describes each changed-most cluster."),
    ] = None,
    json_out: JsonOutOpt = None,
    md_out: MdOutOpt = None,
    charts_dir: ChartsOpt = None,
    no_charts: NoChartsOpt = False,
    html_out: HtmlOutOpt = None,
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
    level: LevelOpt = 0.95,
    alpha: Annotated[
        float, typer.Option("--alpha", metavar="ALPHA", help="False discovery rate across the axes.")
    ] = 0.05,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", help="Processes for the built-in axes.")
    ] = 1,
    judge_template: JudgeTemplateOpt = None,
    judge_system: JudgeSystemOpt = None,
    max_retries: MaxRetriesOpt = 2,
    judge_max_tokens: JudgeMaxTokensOpt = JUDGE_MAX_TOKENS,
    preference: PreferenceOpt = None,
    concurrency: ConcurrencyOpt = None,
    threads: ThreadsOpt = None,
    timeout: TimeoutOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    format: FormatOpt = None,
    id: IdOpt = None,
    input: InputOpt = None,
    output: OutputOpt = None,
    tag: TagOpt = None,
    strict: StrictOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """How NEW's outputs differ from OLD's: behaviour axes, changed-most clusters, LLM-proposed axes.

    Built-in axes (length, lists, hedging, refusals, tone …) need no model. --judge adds
    preferences the axes are fitted to; --proposer adds LLM-proposed axes, scored in both
    orders and kept only when they separate the runs. Model calls are cached in the store.
    """
    from deltaeval.behaviour.report import compare_behaviour
    from deltaeval.resolve import resolve_run

    _check_threads(threads, [*(judge or ()), proposer, axis_judge, describe])
    mapping = _mapping(id, input, output, None, None, None, tag)
    console = _console(quiet)
    backend_options = {
        k: v
        for k, v in _backend_options(concurrency, timeout, api_key_env, False, threads).items()
        if v is not None
    }
    describer = _local_backend(describe, threads)
    proposer_options: dict[str, object] = {
        "iterations": iterations,
        "propose_pairs": propose_pairs,
        "max_axes": max_axes,
        "judge_pairs": judge_pairs,
        "backend_options": backend_options,
    }
    with _store(store) as db:
        old_run = resolve_run(old, db, format=format, mapping=mapping, strict=strict)
        new_run = resolve_run(new, db, format=format, mapping=mapping, strict=strict)
        base_run = None
        if baseline is not None:
            base_run = resolve_run(baseline, db, format=format, mapping=mapping, strict=strict)
        progress, start = _progress_factory(_rich_console(stderr=True, quiet=quiet), quiet)
        try:
            report = compare_behaviour(
                old_run,
                new_run,
                judges=list(judge or ()),
                baseline=base_run,
                proposer=proposer,
                axis_judge=axis_judge,
                similarity=similarity,  # type: ignore[arg-type]
                describe=describer,
                axes=list(axis) if axis else None,
                store=db,
                seed=seed,
                n_boot=n_boot,
                confidence_level=level,
                alpha=alpha,
                strict=strict,
                judge_options=_judge_options(
                    judge_template,
                    judge_system,
                    max_retries,
                    judge_max_tokens,
                    preference,
                    id,
                    concurrency,
                    timeout,
                    api_key_env,
                    threads,
                ),
                proposer_options=proposer_options,
                progress=start,
                workers=workers,
                quiet=quiet,
            )
        finally:
            progress.stop()
            if describer is not describe:
                describer.close()
    report.print(console)
    for target, suffix in ((json_out, ".json"), (md_out, ".md"), (html_out, ".html")):
        if target is not None:
            _save_as(report, target, suffix, _charts_dir(md_out, charts_dir, no_charts))
            console.print(f"wrote {visible(str(target))}", markup=False)
    _exit_if_judging_failed(report.data)


@app.command("rank")
def rank_cmd(
    runs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN...", help="Runs to rank (files or stored runs), or judgment files with --from."
        ),
    ],
    judge: JudgeOpt = None,
    from_files: Annotated[
        bool,
        typer.Option(
            "--from",
            help="The arguments are recorded judgment files (AlpacaEval annotations, Arena-Hard judgments, "
            "or tables with --preference).",
        ),
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the ratings as JSON.")
    ] = None,
    charts_dir: Annotated[
        Path | None,
        typer.Option("--charts", metavar="DIR", help="Write the ratings chart here (DIR/ranking.svg)."),
    ] = None,
    seed: SeedOpt = 0,
    n_boot: Annotated[
        int, typer.Option("--n-boot", metavar="N", help="Bootstrap rounds for the intervals.")
    ] = 100,
    level: LevelOpt = 0.95,
    strong_weight: Annotated[
        float, typer.Option("--strong-weight", metavar="W", help="Battles a strong verdict (A>>B) counts as.")
    ] = 3.0,
    l2: Annotated[
        float, typer.Option("--l2", metavar="X", help="Gaussian prior precision on ratings (0: plain MLE).")
    ] = 0.0,
    baseline_name: Annotated[
        str | None,
        typer.Option(
            "--baseline-name", metavar="NAME", help="Baseline of Arena-Hard records that name none."
        ),
    ] = None,
    single_order: SingleOrderOpt = False,
    price_in: PriceInOpt = None,
    price_out: PriceOutOpt = None,
    judge_template: JudgeTemplateOpt = None,
    judge_system: JudgeSystemOpt = None,
    max_retries: MaxRetriesOpt = 2,
    judge_max_tokens: JudgeMaxTokensOpt = JUDGE_MAX_TOKENS,
    preference: PreferenceOpt = None,
    concurrency: ConcurrencyOpt = None,
    threads: ThreadsOpt = None,
    timeout: TimeoutOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    format: FormatOpt = None,
    id: IdOpt = None,
    strict: StrictOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Rate three or more runs with Bradley–Terry (plain and style-controlled), with intervals.

    Judges every pair of runs with --judge, or reads recorded judgments with --from FILE...
    """
    from deltaeval.judging.rank import rank_recorded, rank_runs

    console = _console(quiet)
    _check_threads(threads, [] if from_files else list(judge or ()))
    if from_files:
        if judge:
            raise UsageError("give either --judge SPEC or --from (recorded judgments), not both")
        ranking = rank_recorded(
            runs,
            preference=preference,
            id_column=id,
            baseline=baseline_name,
            n_boot=n_boot,
            level=level,
            seed=seed,
            strong_weight=strong_weight,
            l2=l2,
        )
    else:
        if not judge:
            raise UsageError(
                "rank needs --judge SPEC, or --from with recorded judgment files",
                hint="deltaeval rank RUN1 RUN2 RUN3 --judge openai:MODEL@URL",
            )
        from deltaeval.judging import get_judge
        from deltaeval.resolve import resolve_run

        options = _judge_options(
            judge_template,
            judge_system,
            max_retries,
            judge_max_tokens,
            preference,
            id,
            concurrency,
            timeout,
            api_key_env,
            threads,
        )
        mapping = _mapping(id, None, None, None, None, None, None)
        with _store(store) as db:
            resolved = [resolve_run(ref, db, format=format, mapping=mapping, strict=strict) for ref in runs]
            judges = [get_judge(spec, **options) for spec in judge]
            progress, start = _progress_factory(_rich_console(stderr=True, quiet=quiet), quiet)
            try:
                ranking = rank_runs(
                    resolved,
                    judges,
                    store=db,
                    both_orders=not single_order,
                    n_boot=n_boot,
                    level=level,
                    seed=seed,
                    strong_weight=strong_weight,
                    l2=l2,
                    prices=_prices(price_in, price_out),
                    progress=start,
                )
            finally:
                progress.stop()
                for j in judges:
                    j.close()
    _print_ranking(ranking.data, console)
    if json_out is not None:
        from deltaeval.report import write_report

        write_report(ranking.data, json_out)
        console.print(f"wrote {visible(str(json_out))}", markup=False)
    if charts_dir is not None:
        from deltaeval.report.chart_files import write_charts
        from deltaeval.report.charts import charts_for

        for path in write_charts(charts_for(ranking.data), charts_dir):
            console.print(f"wrote {visible(str(path))}", markup=False)
    _exit_if_judging_failed(ranking.data)


def _print_ranking(data: dict, console: Console) -> None:
    from deltaeval.report.judging_banner import terminal_banner

    banner = terminal_banner(data)
    if banner is not None:
        console.print(banner)
    level = data["settings"]["confidence_level"]
    style = data.get("style") is not None
    from rich.table import Table

    table = Table(title=f"Bradley–Terry ratings ({level:.0%} bootstrap intervals)", title_justify="left")
    table.add_column("run", overflow="fold")
    for name in ("rating", "interval") + (("style", "interval") if style else ()) + ("battles",):
        table.add_column(name, justify="right", no_wrap=True)

    def ci(value) -> str:
        return "—" if not value or value[0] is None else f"[{value[0]:.0f}, {value[1]:.0f}]"

    for row in data["runs"]:
        cells = [_plain(row["name"]), f"{row['rating']:.0f}", ci(row["ci"])]
        if style:
            rating = row.get("style_rating")
            cells += ["—" if rating is None else f"{rating:.0f}", ci(row.get("style_ci"))]
        cells.append(f"{row['n_battles']:,}")
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"{plural(data['n_battles'], 'battle')} from {plural(data['n_judgments'], 'judgment')}"
        f" ({data['n_without_verdict']:,} without a verdict); strong verdicts count"
        f" {data['settings']['strong_weight']:g}×; judges: {visible(', '.join(data['judges']))}",
        markup=False,
    )
    if style:
        coefficients = ", ".join(f"{k} {v:+.2f}" for k, v in data["style"]["coefficients"].items())
        console.print(
            f"style: ratings with style held equal; coefficients (log-odds per sd): {coefficients}",
            markup=False,
        )
    cost = data.get("cost")
    if cost:
        line = f"judge requests: {cost['requests']:,} ({cost['cached']:,} from the cache)"
        if cost.get("cost") is not None:
            line += f"; cost {cost['cost']:.4f}"
        console.print(line, markup=False)
    for note in data.get("notes", []):
        console.print(f"note: {visible(str(note))}", markup=False)


@app.command("winrate")
def winrate_cmd(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="AlpacaEval annotations.json files.")
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the figures as JSON.")
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--n-boot", metavar="N", help="Bootstrap rounds for the LC standard error.")
    ] = 200,
    seed: SeedOpt = 0,
    level: LevelOpt = 0.95,
    leaderboard: Annotated[
        Path | None,
        typer.Option(
            "--leaderboard",
            metavar="CSV",
            help="Published leaderboard to compare with (default: leaderboard_subset.csv next to the files).",
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """AlpacaEval-style win rates and length-controlled win rates from recorded annotations.

    Instruction difficulty for the length-controlled figure is estimated jointly from all the
    files given.
    """
    from deltaeval.judging.winrate import alpaca_winrates

    if n_boot < 0:
        raise UsageError("the number of bootstrap rounds must be >= 0")
    table = alpaca_winrates(files, n_boot=n_boot, seed=seed, level=level, leaderboard=leaderboard)
    console = _console(quiet)
    _print_winrates(table.data, console)
    if json_out is not None:
        from deltaeval.report import write_report

        write_report(table.data, json_out)
        console.print(f"wrote {visible(str(json_out))}", markup=False)


def _print_winrates(data: dict, console: Console) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    published = data.get("published") or {}
    ours_only = not published
    table = Table(
        title=Text(f"AlpacaEval win rates against {visible(str(data.get('baseline')))} (percent)"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    longest = max((len(name) for name in data["runs"]), default=5)
    table.add_column("model", no_wrap=True, min_width=min(longest, 48))
    columns = ["n", "win rate", "SE", "discrete", "LC", "LC SE"]
    if not ours_only:
        columns += ["pub. WR", "pub. LC", "LC − pub."]
    for name in columns:
        table.add_column(name, justify="right", min_width=5)

    def fmt(value, digits: int = 2) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    for name, row in data["runs"].items():
        cells = [
            _plain(name),
            f"{row['n_total']:,}",
            fmt(row["win_rate"]),
            fmt(row["standard_error"]),
            fmt(row["discrete_win_rate"]),
            fmt(row["length_controlled_winrate"]),
            fmt(row["lc_standard_error"]),
        ]
        if not ours_only:
            ref = published["runs"].get(name, {})
            lc, ref_lc = row["length_controlled_winrate"], ref.get("length_controlled_winrate")
            diff = None if lc is None or ref_lc is None else lc - ref_lc
            cells += [fmt(ref.get("win_rate")), fmt(ref_lc), "—" if diff is None else f"{diff:+.2f}"]
        table.add_row(*cells)
    console.print(table)
    if published:
        console.print(
            f"published figures: {visible(str(published['path']))}"
            " (found next to the files or given with --leaderboard)",
            markup=False,
        )
    settings = data["settings"]
    console.print(
        f"LC: AlpacaEval's length-controlled GLM, lengths in characters, {settings['n_boot']} bootstrap"
        f" rounds (seed {settings['seed']}) for its SE",
        markup=False,
    )
    for note in data.get("notes", []):
        console.print(f"note: {visible(str(note))}", markup=False)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"deltaeval {__version__}")
        raise typer.Exit(0)


from deltaeval.cli_compat import compat_app  # noqa: E402  (typer only: start-up stays light)

app.add_typer(compat_app, name="compat")

from deltaeval.cli_export import export_app  # noqa: E402  (typer only: start-up stays light)

app.add_typer(export_app, name="export")

from deltaeval.cli_embeddings import embeddings_cmd  # noqa: E402  (typer only: start-up stays light)

app.command("embeddings")(embeddings_cmd)

from deltaeval.cli_weights import weights_cmd  # noqa: E402  (typer only: start-up stays light)

app.command("weights")(weights_cmd)

from deltaeval.cli_datadiff import datadiff_cmd  # noqa: E402  (typer only: start-up stays light)

app.command("datadiff")(datadiff_cmd)


def _click_exceptions() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(usage errors, exits, aborts) of click and of the click that newer typer vendors."""
    modules = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        if name == "click.exceptions" and "click" not in sys.modules:
            continue  # this typer does not run on click (importing it would only cost start-up time)
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    usage = tuple(m.UsageError for m in modules)
    exits = (typer.Exit, *(m.Exit for m in modules if hasattr(m, "Exit")))
    aborts = (typer.Abort, *(m.Abort for m in modules if hasattr(m, "Abort")))
    return usage, exits, aborts


def _app_for(argv: list[str] | None) -> typer.Typer:
    """``app``, or, when ``argv`` starts with a command's (or a group's, e.g. ``compat``) name, a copy
    holding only that command.

    Typer builds every command's options (evaluating some 250 annotations) before it parses
    anything; building only the invoked one saves a tenth of a second on every run. The root's
    ``--help`` and ``--version`` and a misspelled command get the whole app.
    """
    args = sys.argv[1:] if argv is None else argv
    if not args or args == ["--help"]:
        return _listing(app)
    commands = [c for c in app.registered_commands if c.name == args[0]]
    groups = [g for g in app.registered_groups if g.name == args[0]]
    if len(commands) + len(groups) != 1:
        return app
    single = copy.copy(app)
    single.registered_commands = commands
    single.registered_groups = groups
    return single


def _listing(typer_app: typer.Typer) -> typer.Typer:
    """A copy of ``typer_app`` for its own help page: every command (and every group's commands)
    replaced by one without options, under the same name and help text.

    The root ``--help`` lists the commands with their one-line help and nothing else, so their
    options need not be built (that was two thirds of ``deltaeval --help``'s time);
    ``tests/test_startup.py`` checks the page is the same as the whole app's.
    """

    def _blank(info: Any) -> Any:
        original = info.callback

        def listed() -> None:  # never called: the root help page only names the command
            raise AssertionError("a listing stub was invoked")

        listed.__name__, listed.__doc__ = original.__name__, original.__doc__
        blank = copy.copy(info)
        blank.callback = listed
        return blank

    listing = copy.copy(typer_app)
    listing.registered_commands = [_blank(c) for c in typer_app.registered_commands]
    listing.registered_groups = []
    for group in typer_app.registered_groups:
        blank_group = copy.copy(group)
        blank_group.typer_instance = _listing(group.typer_instance)
        listing.registered_groups.append(blank_group)
    return listing


def _print_error(line: str) -> None:
    """One line on stderr, markup off (a console is made only when there is an error to print)."""
    _rich_console(stderr=True, highlight=False, soft_wrap=True).print(line, markup=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deltaeval`` console script; returns the exit code."""
    # Reading a run allocates ~100,000 objects that live until exit; with the default threshold
    # (700) the cycle collector rescans them over and over (a tenth of `compare`'s CPU time).
    # Raised as mypy does; reference counting still frees everything at once.
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    from deltaeval.pipes import protect_stdout

    protect_stdout()  # `deltaeval compare … | head`: the files and the exit code still come
    usage_errors, exits, aborts = _click_exceptions()
    try:
        from deltaeval.threads import set_blas_env

        set_blas_env()  # before numpy loads: BLAS/OpenMP pools that leave a core free on small machines
        result = _app_for(argv)(args=argv, prog_name="deltaeval", standalone_mode=False)
    except DeltaEvalError as exc:
        _print_error(f"error: {visible(exc.one_line())}")
        if isinstance(exc, JudgingFailedError):
            return EXIT_JUDGING_FAILED
        # RunInterrupted comes only from a loaded runner: an error elsewhere does not import it
        runner = sys.modules.get("deltaeval.runner")
        interrupted = runner is not None and isinstance(exc, runner.RunInterrupted)
        return EXIT_INTERRUPTED if interrupted else EXIT_USAGE
    except usage_errors as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `deltaeval` or a group alone: its help page
            _print_error(exc.format_message())
            return EXIT_USAGE
        hint = f" (see `deltaeval {exc.ctx.info_name} --help`)" if exc.ctx and exc.ctx.parent else ""
        _print_error(f"error: {visible(exc.format_message())}{hint}")
        return EXIT_USAGE
    except exits as exc:
        return int(getattr(exc, "exit_code", 0))
    except aborts:
        _print_error("aborted")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        _print_error("interrupted")
        return EXIT_INTERRUPTED
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
