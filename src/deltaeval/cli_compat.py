"""``deltaeval compat``: one sub-command per method of making a compatible v2.

Each sub-command writes a new run to the store (named, its recipe in the run's params), so
``deltaeval compare OLD NAME`` and ``gate`` work on it unchanged. Keep this module light: heavy
imports go inside the command functions (``deltaeval --help`` imports this module).
"""

from __future__ import annotations

import typer

from deltaeval.cli_group import command_group

#: The ``deltaeval compat`` group (registered in ``deltaeval.cli``). Defined before the import of
#: ``deltaeval.cli`` below, so either module may be imported first.
compat_app = command_group(
    "compat", "Make a compatible v2: fewer regressions than the plain update, as a new stored run."
)

from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Annotated  # noqa: E402

from deltaeval.cli import (  # noqa: E402  (shared options; see the note on compat_app)
    FormatOpt,
    JsonOutOpt,
    LevelOpt,
    OverwriteOpt,
    QuietOpt,
    StoreOpt,
    _console,
    _rich_console,
    _store,
)
from deltaeval.textsafe import visible  # noqa: E402

if TYPE_CHECKING:
    from rich.console import Console

NameOpt = Annotated[
    str, typer.Option("--name", metavar="NAME", help="Name of the run to write to the store.")
]
SplitSeedOpt = Annotated[int, typer.Option("--seed", metavar="N", help="Seed of the calibration split.")]
CalibrationFractionOpt = Annotated[
    float,
    typer.Option(
        "--calibration-fraction",
        metavar="F",
        help="Share of the examples used for tuning; the rest is the held-out evaluation split.",
    ),
]

OldArg = Annotated[
    str, typer.Argument(metavar="OLD", help="Old run: a results file, FILE::RUN, or a stored run name.")
]
NewArg = Annotated[
    str, typer.Argument(metavar="NEW", help="New run: a results file, FILE::RUN, or a stored run name.")
]


def _resolve_pair(old: str, new: str, db: object, format: str | None) -> tuple:
    """Both runs, from files or the store."""
    from deltaeval.resolve import resolve_run

    return resolve_run(old, db, format=format), resolve_run(new, db, format=format)  # type: ignore[arg-type]


def _load_pair(
    old: str, new: str, store: Path | None, format: str | None, *, name: str, overwrite: bool
) -> tuple:
    """Both runs (files or stored names; the store is only read here, never created), after
    checking that ``name`` is free, so a command fails before its work, not after."""
    from deltaeval.store import store_path

    if not store_path(store).exists():
        return _resolve_pair(old, new, None, format)
    with _store(store, create=False) as db:
        if db.has_run(name) and not overwrite:
            from deltaeval.errors import StoreError

            raise StoreError(
                f"a run named {name!r} is already stored",
                path=db.path,
                hint="choose another --name, or pass --overwrite",
            )
        return _resolve_pair(old, new, db, format)


def _write_json(data: dict, target: Path) -> None:
    import json

    from deltaeval.atomic_write import write_text_atomic

    write_text_atomic(target, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@compat_app.command("select")
def select_cmd(
    old: OldArg,
    new: NewArg,
    name: NameOpt,
    max_nfr: Annotated[
        float | None,
        typer.Option("--max-nfr", metavar="X", help="Most accurate rule with NFR <= X on calibration."),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option(
            "--min-accuracy", metavar="Y", help="Fewest negative flips with accuracy >= Y on calibration."
        ),
    ] = None,
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(
            "--max-accuracy-drop",
            metavar="D",
            help="Fewest negative flips with accuracy >= the new run's minus D on calibration (default 0).",
        ),
    ] = None,
    calibration_fraction: CalibrationFractionOpt = 0.5,
    seed: SplitSeedOpt = 0,
    signal: Annotated[
        str,
        typer.Option(
            "--signal",
            metavar="FIELD",
            help="What the rule reads: confidence (probabilities), logprob (LLM), score (judge/verifier).",
        ),
    ] = "confidence",
    scorer: Annotated[
        str | None,
        typer.Option("--scorer", metavar="SCORER", help="Score both runs first (exact, numeric, choice…)."),
    ] = None,
    level: LevelOpt = 0.95,
    json_out: JsonOutOpt = None,
    format: FormatOpt = None,
    overwrite: OverwriteOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Keep the old output where the new model is unsure and the old one sure (no training).

    The rule is fitted on a calibration split (--calibration-fraction, --seed) and reported on
    the held-out rest; the run NAME holds the chosen outputs of the held-out examples only.
    Without --max-nfr/--min-accuracy/--max-accuracy-drop it keeps the new run's calibration accuracy.
    """
    from deltaeval.compat.selection import select
    from deltaeval.compat.selection_terminal import render_selection

    console = _console(quiet)
    old_run, new_run = _load_pair(old, new, store, format, name=name, overwrite=overwrite)
    result = select(
        old_run,
        new_run,
        name=name,
        signal=signal,
        max_nfr=max_nfr,
        min_accuracy=min_accuracy,
        max_accuracy_drop=max_accuracy_drop,
        calibration_fraction=calibration_fraction,
        seed=seed,
        scorer=scorer,
        level=level,
    )
    with _store(store) as db:
        db.save_run(result.run, overwrite=overwrite)
    data = result.to_dict()
    render_selection(data, console)
    if json_out is not None:
        _write_json(data, json_out)
        console.print(f"wrote {visible(str(json_out))}", markup=False)


from deltaeval.cli import MaxTokensOpt, SystemOpt  # noqa: E402


def _interval(value: float | None, ci: object) -> str:
    if value is None:
        return "-"
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{value:.3f}"


def _print_summary(console: Console, summary: dict, *, old_name: str, name: str) -> None:
    """The lines `compat muscle` and `compat pct` end with: plain and compatible v2 against v1."""
    console.print(
        f"n = {summary['n']} · accuracy old {_interval(summary['old_accuracy'], summary['old_accuracy_ci'])}",
        markup=False,
    )
    for key in ("plain", "compat"):
        row = summary[key]
        console.print(
            f"{visible(row['name'])}: accuracy {_interval(row['accuracy'], row['accuracy_ci'])} · "
            f"NFR {_interval(row['nfr'], row['nfr_ci'])} ({row['negative_flips']} negative flips)",
            markup=False,
        )
    console.print(f"compare: deltaeval compare {visible(old_name)} {visible(name)}", markup=False)


@compat_app.command("muscle")
def muscle_cmd(
    old: Annotated[
        str, typer.Option("--old", metavar="SPEC", help="Old model: hf:PATH (model or adapter) or smollm2.")
    ],
    new: Annotated[
        str, typer.Option("--new", metavar="SPEC", help="New model: hf:PATH (model or adapter) or smollm2.")
    ],
    train_data: Annotated[
        Path,
        typer.Option("--train-data", metavar="FILE", help="Task examples to train on (input, reference)."),
    ],
    data: Annotated[
        Path, typer.Option("--data", metavar="FILE", help="Evaluation examples (disjoint from --train-data).")
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder of the adapter (hf:DIR loads it).")
    ],
    name: NameOpt,
    old_name: Annotated[
        str | None, typer.Option("--old-name", metavar="NAME", help="Run name of the old model (NAME.old).")
    ] = None,
    new_name: Annotated[
        str | None, typer.Option("--new-name", metavar="NAME", help="Run name of the new model (NAME.new).")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", metavar="N", help="Training steps.")] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size", metavar="N", help="Examples per step.")] = 4,
    learning_rate: Annotated[
        float, typer.Option("--learning-rate", metavar="LR", help="AdamW step size.")
    ] = 2e-4,
    rank: Annotated[int, typer.Option("--rank", metavar="R", help="LoRA rank of a new adapter.")] = 8,
    alpha: Annotated[int, typer.Option("--alpha", metavar="A", help="LoRA alpha of a new adapter.")] = 16,
    max_length: Annotated[
        int, typer.Option("--max-length", metavar="N", help="Most prompt + answer tokens per example.")
    ] = 128,
    kd_temperature: Annotated[
        float, typer.Option("--kd-temperature", metavar="T", help="Distillation temperature.")
    ] = 1.0,
    ce_weight: Annotated[
        float,
        typer.Option("--ce-weight", metavar="W", help="Weight of cross-entropy to the reference (0: none)."),
    ] = 0.0,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of batches, dropout, a new adapter.")
    ] = 0,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", metavar="N", help="Steps between checkpoints.")
    ] = 10,
    system: SystemOpt = None,
    max_tokens: MaxTokensOpt = 32,
    json_out: JsonOutOpt = None,
    overwrite: OverwriteOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a MUSCLE compatibility adapter on the new model, then store its answers as run NAME.

    Masked distillation (Echterhoff et al., EMNLP 2024): answer tokens the old model got right
    and the new one did not are distilled from the old model, the rest from the new model. The
    old and new models' answers on --data are stored too (NAME.old, NAME.new); compare them with
    `deltaeval compare NAME.old NAME`. Interrupted training resumes when the command is rerun.
    """
    from deltaeval.backends import GenerationParams
    from deltaeval.compat._lm_models import require_train
    from deltaeval.compat.muscle import MuscleConfig, muscle
    from deltaeval.compat.runs import summarize
    from deltaeval.io.dataset import load_dataset
    from deltaeval.progress import make_progress

    require_train()
    console = _console(quiet)
    config = MuscleConfig(
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        rank=rank,
        alpha=alpha,
        max_length=max_length,
        seed=seed,
        checkpoint_every=checkpoint_every,
        temperature=kd_temperature,
        ce_weight=ce_weight,
    )
    train_examples, eval_examples = load_dataset(train_data), load_dataset(data)
    params = GenerationParams(system=system, max_tokens=max_tokens)
    with _store(store) as db, make_progress(_rich_console(stderr=True, quiet=quiet), quiet=quiet) as progress:
        result = muscle(
            old,
            new,
            train_examples,
            eval_examples,
            out=out,
            name=name,
            store=db,
            config=config,
            params=params,
            old_name=old_name,
            new_name=new_name,
            overwrite=overwrite,
            quiet=quiet,
            progress=progress,
        )
    training = result.training
    summary = summarize(result.old_run, result.new_run, result.run)
    resumed = ""
    if training.resumed_from >= training.steps:
        resumed = " (already trained: its checkpoint is at the last step)"
    elif training.resumed_from:
        resumed = f" (resumed at step {training.resumed_from})"
    console.print(
        f"adapter {visible(str(out))}: {training.steps} steps{resumed}, "
        f"{training.counters.get('tokens_from_old', 0)} of {training.counters.get('tokens', 0)} "
        f"answer tokens distilled from the old model · {result.seconds:.1f} s · "
        f"peak memory {result.peak_memory_mb:.0f} MiB",
        markup=False,
    )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    _print_summary(console, summary, old_name=result.old_run.name, name=name)
    if json_out is not None:
        training_data = {
            "adapter": str(out.resolve()),
            "steps": training.steps,
            "resumed_from": training.resumed_from,
            "first_loss": training.losses[0] if training.losses else None,
            "final_loss": training.losses[-1] if training.losses else None,
            "tokens": training.counters.get("tokens", 0),
            "tokens_from_old": training.counters.get("tokens_from_old", 0),
            "seconds": result.seconds,
            "peak_memory_mb": result.peak_memory_mb,
            "notes": result.notes,
        }
        _write_json(
            {
                "schema": "deltaeval.compat.muscle",
                "muscle": summary,
                "training": training_data,
                "recipe": result.run.params.get("compat"),
            },
            json_out,
        )
        console.print(f"wrote {visible(str(json_out))}", markup=False)


from deltaeval.cli import TrustOpt  # noqa: E402


@compat_app.command("pct")
def pct_cmd(
    old: Annotated[
        str, typer.Option("--old", metavar="SPEC", help="Old model: sklearn:PATH (a fitted estimator).")
    ],
    train_data: Annotated[
        Path,
        typer.Option(
            "--train-data", metavar="FILE", help="Training rows: input (features), reference (label)."
        ),
    ],
    data: Annotated[
        Path, typer.Option("--data", metavar="FILE", help="Evaluation examples (disjoint from --train-data).")
    ],
    name: NameOpt,
    new: Annotated[
        str | None,
        typer.Option(
            "--new",
            metavar="SPEC",
            help="New estimator: sklearn:PATH or python:MODULE:FUNCTION (default: the old one's, retrained).",
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", metavar="A", help="Distillation weight on every example.")
    ] = 0.0,
    beta: Annotated[
        float,
        typer.Option("--beta", metavar="B", help="Extra distillation weight where the old model was right."),
    ] = 1.0,
    kd_temperature: Annotated[
        float, typer.Option("--kd-temperature", metavar="T", help="Softens the old model's probabilities.")
    ] = 1.0,
    old_name: Annotated[
        str | None, typer.Option("--old-name", metavar="NAME", help="Run name of the old model (NAME.old).")
    ] = None,
    new_name: Annotated[
        str | None,
        typer.Option("--new-name", metavar="NAME", help="Run name of the plain new model (NAME.new)."),
    ] = None,
    trust: TrustOpt = False,
    level: LevelOpt = 0.95,
    json_out: JsonOutOpt = None,
    overwrite: OverwriteOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Positive-congruent training of a scikit-learn classifier; store its answers as run NAME.

    Focal distillation (Yan et al., CVPR 2021): the new estimator is trained on --train-data with
    a distillation loss toward the old model, weighted alpha + beta where the old model was right
    (soft targets passed as sample weights; the estimator's fit must take sample_weight and it
    must have predict_proba). The old model's and the plain retrained v2's answers on --data are
    stored too (NAME.old, NAME.new); compare them with `deltaeval compare NAME.old NAME`.
    """
    from deltaeval.compat.pct_runs import pct
    from deltaeval.compat.runs import summarize
    from deltaeval.io.dataset import load_dataset

    console = _console(quiet)
    train_examples, eval_examples = load_dataset(train_data), load_dataset(data)
    with _store(store) as db:
        result = pct(
            old,
            new,
            train_examples,
            eval_examples,
            name=name,
            store=db,
            trust=trust,
            alpha=alpha,
            beta=beta,
            temperature=kd_temperature,
            old_name=old_name,
            new_name=new_name,
            source=str(data),
            overwrite=overwrite,
            quiet=quiet,
        )
    summary = summarize(result.old_run, result.new_run, result.run, level=level)
    console.print(
        f"trained on {result.n_train} rows (the old model right on {result.old_right_train}) · "
        f"{result.seconds:.1f} s",
        markup=False,
    )
    _print_summary(console, summary, old_name=result.old_run.name, name=name)
    if json_out is not None:
        _write_json({"pct": summary, "recipe": result.run.params.get("compat")}, json_out)


__all__ = [
    "CalibrationFractionOpt",
    "LevelOpt",
    "NameOpt",
    "NewArg",
    "OldArg",
    "OverwriteOpt",
    "QuietOpt",
    "SplitSeedOpt",
    "StoreOpt",
    "compat_app",
]
