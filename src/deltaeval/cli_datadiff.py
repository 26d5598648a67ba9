"""``deltaeval datadiff OLD_DATA NEW_DATA``: how two datasets' inputs differ.

Only typer is imported here (``deltaeval --help`` imports this module); the maths and renderers
load inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deltaeval.cli import HtmlOutOpt, JsonOutOpt, QuietOpt

DataArg = Annotated[
    Path,
    typer.Argument(
        metavar="DATA",
        help="A dataset (JSONL/JSON/CSV/Parquet with an input column: input, prompt, question,"
        " instruction or messages); an AlpacaEval model_outputs.json works as it is.",
    ),
]


def datadiff_cmd(
    old_data: DataArg,
    new_data: DataArg,
    run: Annotated[
        Path | None,
        typer.Option(
            "--run",
            metavar="FILE",
            help="A run on the old data with correctness: its accuracy reweighted to the new data.",
        ),
    ] = None,
    new_run: Annotated[
        Path | None,
        typer.Option(
            "--new-run", metavar="FILE", help="A run on the new data with correctness (its actual accuracy)."
        ),
    ] = None,
    input_col: Annotated[
        str | None, typer.Option("--input", metavar="COLUMN", help="The input column of both datasets.")
    ] = None,
    embed: Annotated[
        str,
        typer.Option(
            "--embed",
            metavar="KIND",
            help="Vectors of the MMD test: auto (MiniLM when installed, else TF-IDF), minilm or tfidf.",
        ),
    ] = "auto",
    permutations: Annotated[
        int, typer.Option("--permutations", metavar="N", min=99, help="Permutations of the MMD test.")
    ] = 500,
    n_boot: Annotated[
        int, typer.Option("--n-boot", metavar="N", min=100, help="Bootstrap resamples.")
    ] = 2000,
    level: Annotated[
        float,
        typer.Option("--level", metavar="LEVEL", min=0.5, max=0.999, help="Confidence level of intervals."),
    ] = 0.95,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of every random choice.")] = 0,
    json_out: JsonOutOpt = None,
    md_out: Annotated[
        Path | None, typer.Option("--md", metavar="FILE", help="Write the Markdown report here.")
    ] = None,
    html_out: HtmlOutOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """How two datasets' inputs differ: features, clusters, two-sample tests, reweighted accuracy."""
    from deltaeval.cli import _console
    from deltaeval.datadiff import datadiff
    from deltaeval.errors import UsageError
    from deltaeval.io import load_run
    from deltaeval.io.base import ColumnMapping
    from deltaeval.io.dataset import load_dataset
    from deltaeval.report.files import write_report_files
    from deltaeval.report.sections import datadiff as renderer

    if embed not in {"auto", "minilm", "tfidf"}:
        raise UsageError(f"unknown --embed {embed!r}", hint="use auto, minilm or tfidf")
    mapping = ColumnMapping(input=input_col) if input_col else None
    old = load_dataset(old_data, mapping=mapping, strict=False)
    new = load_dataset(new_data, mapping=mapping, strict=False)
    report = datadiff(
        old,
        new,
        load_run(run) if run is not None else None,
        new_run=load_run(new_run) if new_run is not None else None,
        embed=embed,  # type: ignore[arg-type]
        permutations=permutations,
        n_boot=n_boot,
        level=level,
        seed=seed,
        old_name=str(old_data),
        new_name=str(new_data),
    )
    write_report_files(
        report,
        json_out=json_out,
        md_out=md_out,
        html_out=html_out,
        render_markdown=renderer.render_markdown,
        render_html=renderer.render_html,
    )
    if not quiet:
        renderer.render_terminal(report, _console(quiet))
