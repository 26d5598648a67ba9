"""``deltaeval embeddings OLD NEW``: can new queries search the old gallery?

Only typer is imported here (``deltaeval --help`` imports this module); the models, numpy maths and
renderers load inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deltaeval.cli import HtmlOutOpt, JsonOutOpt, QuietOpt

ModelArg = Annotated[
    str,
    typer.Argument(
        help="Embedding model: minilm, minilm-int8, minilm-fp32, minilm-fp32-numpy, paraphrase-minilm-l3,"
        " e5-small,"
        " e5-small-enpt; or precomputed QUERIES.npy,GALLERY.npy, or a folder holding queries.npy and"
        " gallery.npy.",
    ),
]
FileOpt = Annotated[Path | None, typer.Option(metavar="FILE")]


def embeddings_cmd(
    old: ModelArg,
    new: ModelArg,
    pairs: Annotated[
        Path | None,
        typer.Option(
            "--pairs",
            metavar="FILE",
            help="Paired texts (JSON list, JSONL or CSV; query i relevant to gallery item i): a query column"
            " (query/instruction/question/input) and a gallery column"
            " (gallery/passage/document/answer/output);"
            " an AlpacaEval model_outputs.json works as it is.",
        ),
    ] = None,
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries",
            metavar="FILE",
            help="Queries (JSONL/CSV: id, text, relevant = gallery id(s), ';'-separated).",
        ),
    ] = None,
    gallery: Annotated[
        Path | None, typer.Option("--gallery", metavar="FILE", help="Gallery (JSONL/CSV: id, text).")
    ] = None,
    max_chars: Annotated[
        int | None, typer.Option("--max-chars", metavar="N", min=1, help="Cut every text at N characters.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", metavar="N", min=1, help="Keep the first N queries.")
    ] = None,
    no_map: Annotated[bool, typer.Option("--no-map", help="Do not fit the learned maps old -> new.")] = False,
    test_fraction: Annotated[
        float,
        typer.Option(
            "--test-fraction",
            metavar="F",
            min=0.05,
            max=0.95,
            help="Share of the queries held out to test the maps.",
        ),
    ] = 0.5,
    cache: Annotated[
        Path, typer.Option("--cache", metavar="DIR", help="Where computed embeddings are cached (.npy).")
    ] = Path(".deltaeval") / "embeddings",
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write cached embeddings.")
    ] = False,
    threads: Annotated[
        int | None, typer.Option("--threads", metavar="N", min=1, help="CPU threads of a model.")
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--n-boot", metavar="N", min=100, help="Bootstrap resamples.")
    ] = 2000,
    level: Annotated[
        float,
        typer.Option("--level", metavar="LEVEL", min=0.5, max=0.999, help="Confidence level of intervals."),
    ] = 0.95,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the bootstrap and the split.")
    ] = 0,
    json_out: JsonOutOpt = None,
    md_out: Annotated[
        Path | None, typer.Option("--md", metavar="FILE", help="Write the Markdown report here.")
    ] = None,
    html_out: HtmlOutOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Can new queries search the old gallery? Retrieval old/new x old/new, CKA, learned maps, verdict."""
    from deltaeval.cli import _console
    from deltaeval.embeddings.api import compare_embeddings
    from deltaeval.embeddings.retrieval import load_pairs, load_queries_gallery
    from deltaeval.errors import UsageError
    from deltaeval.report import embeddings_report
    from deltaeval.report.files import write_report_files

    if pairs is not None and (queries is not None or gallery is not None):
        raise UsageError("--pairs and --queries/--gallery both given", hint="give one kind of task")
    if (queries is None) != (gallery is None):
        raise UsageError("--queries and --gallery go together", hint="give both files")
    task = None
    if pairs is not None:
        task = load_pairs(pairs, max_chars=max_chars, limit=limit)
    elif queries is not None and gallery is not None:
        task = load_queries_gallery(queries, gallery, max_chars=max_chars, limit=limit)
    report = compare_embeddings(
        old,
        new,
        task,
        cache_dir=None if no_cache else cache,
        threads=threads,
        n_boot=n_boot,
        level=level,
        seed=seed,
        maps=not no_map,
        test_fraction=test_fraction,
        quiet=quiet,
    )
    write_report_files(
        report,
        json_out=json_out,
        md_out=md_out,
        html_out=html_out,
        render_markdown=embeddings_report.render_markdown,
        render_html=embeddings_report.render_html,
    )
    embeddings_report.render_terminal(report, _console(quiet))
