"""``deltaeval weights OLD NEW [--base BASE]``: what changed in the weights.

Registered in :mod:`deltaeval.cli`; keep this module light (``deltaeval --help`` imports it):
numpy, the readers and the renderers are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deltaeval.cli import HtmlOutOpt, JsonOutOpt, QuietOpt, _console
from deltaeval.textsafe import visible

MarkdownOutOpt = Annotated[
    Path | None, typer.Option("--markdown", "--md", metavar="FILE", help="Write the Markdown report here.")
]


def weights_cmd(
    old: Annotated[
        Path,
        typer.Argument(metavar="OLD", help="Old checkpoint (safetensors, GGUF, .pt, ONNX, spaCy, .npz)."),
    ],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="New checkpoint, in any of the same formats.")],
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            metavar="BASE",
            help="Common base of OLD and NEW: compare the two deltas (kinship) and estimate DARE drop rates.",
        ),
    ] = None,
    json_out: JsonOutOpt = None,
    md_out: MarkdownOutOpt = None,
    html_out: HtmlOutOpt = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Allow pickled PyTorch checkpoints that weights-only loading refuses (they can run code).",
        ),
    ] = False,
    rank_energy: Annotated[
        float,
        typer.Option(
            "--rank-energy", metavar="E", help="Report the rank holding this share of each delta's energy."
        ),
    ] = 0.9,
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial",
            help="Compare what matches even when the checkpoints look like different architectures.",
        ),
    ] = False,
    dare_tolerance: Annotated[
        float,
        typer.Option(
            "--dare-tolerance",
            metavar="X",
            help="With --base: largest relative error of the weights a DARE drop rate may cause.",
        ),
    ] = 0.01,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of randomized spectra and DARE draws.")
    ] = 0,
    every_spectrum: Annotated[
        bool,
        typer.Option(
            "--every-spectrum",
            help="Compute the spectrum of every matrix, also where a quick estimate shows the delta is flat"
            " (noise-like) and the summary cannot need it (slower).",
        ),
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """What changed in the weights: retrain, low-rank fine-tune, quantization, a few layers?"""
    from deltaeval.progress import make_progress
    from deltaeval.report.files import write_report_files
    from deltaeval.report.sections import weights as section
    from deltaeval.weights.api import compare_weights

    console = _console(quiet)
    with make_progress(quiet=quiet) as progress:
        report = compare_weights(
            old,
            new,
            base,
            trust=trust,
            rank_energy=rank_energy,
            allow_partial=allow_partial,
            seed=seed,
            dare_tolerance=dare_tolerance,
            screen=not every_spectrum,
            progress=progress,
        )
    # the files first: a reader that closes the terminal early loses none of them
    written = write_report_files(
        report,
        json_out=json_out,
        md_out=md_out,
        html_out=html_out,
        render_markdown=section.render_markdown,
        render_html=section.render_html,
        allow_nan=False,
    )
    section.render_terminal(report, console)
    for target in written:
        console.print(f"wrote {visible(str(target))}", markup=False)
