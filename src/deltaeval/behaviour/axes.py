"""The built-in behaviour axes and :func:`compute_axes`.

Every built-in axis is registered with its plain per-output function from :mod:`.reference`
(``AXES[name].fn``); :func:`compute_axes` computes all the requested built-in axes of many outputs
in one fused pass (:mod:`.fused`) that gives the same values, optionally in several processes.
Axes you register run through their own function.

Units: counts are per output; rates are per 100 words (0 for an output without words); a
fraction is in [0, 1]. NaN marks an axis undefined for an output (no text, no words, no
sentence, no input); the analyses leave those pairs out of that axis. The format axes read the
prose only, outside code blocks and code spans (:mod:`.code`); ``code_blocks`` and
``inline_code`` count the code.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from deltaeval.behaviour import reference as R
from deltaeval.behaviour import sentiment as S
from deltaeval.behaviour.fused import FUSED_NAMES, extract_many
from deltaeval.behaviour.registry import AXES, AxisSpec, _register_builtin
from deltaeval.errors import InputError

# name: (reference function, family, unit, what a higher value means, description)
_BUILTINS: dict[str, tuple[Callable[..., float], str, str, str, str]] = {
    "length_words": (R.length_words, "length", "words", "higher = longer", "Words in the output"),
    "length_tokens": (
        R.length_tokens,
        "length",
        "tokens",
        "higher = longer",
        "Tokens of deltaeval's regex tokenizer: words plus every other non-space character",
    ),
    "length_chars": (R.length_chars, "length", "characters", "higher = longer", "Characters, stripped"),
    "sentences": (R.sentence_count, "length", "sentences", "higher = more sentences", "Sentences"),
    "avg_sentence_words": (
        R.avg_sentence_words,
        "style",
        "words per sentence",
        "higher = longer sentences",
        "Mean sentence length",
    ),
    "paragraphs": (
        R.paragraphs,
        "format",
        "paragraphs",
        "higher = more paragraphs",
        "Blocks of prose lines separated by blank lines or code blocks",
    ),
    "bullet_items": (
        R.bullet_items,
        "format",
        "items",
        "higher = more bullets",
        "Bullet list items, outside code",
    ),
    "numbered_items": (
        R.numbered_items,
        "format",
        "items",
        "higher = more numbered items",
        "Numbered list items, outside code",
    ),
    "headers": (R.headers, "format", "headers", "higher = more headers", "Markdown # headers, outside code"),
    "bold": (R.bold, "format", "spans", "higher = more bold", "**bold** or __bold__ spans, outside code"),
    "code_blocks": (R.code_blocks, "format", "blocks", "higher = more code", "Fenced code blocks"),
    "inline_code": (
        R.inline_code,
        "format",
        "spans",
        "higher = more inline code",
        "`inline code` spans, outside code blocks",
    ),
    "tables": (
        R.tables,
        "format",
        "tables",
        "higher = more tables",
        "Markdown tables (delimiter rows), outside code",
    ),
    "links": (
        R.links,
        "format",
        "links",
        "higher = more links",
        "Markdown links and bare URLs, outside code",
    ),
    "markdown_density": (
        R.markdown_density,
        "format",
        "fraction of non-blank lines",
        "higher = more markdown structure",
        "Share of non-blank lines outside code that are list items, headers, table rows, quotes "
        "or code fences",
    ),
    "questions": (
        R.questions,
        "interaction",
        "sentences",
        "higher = asks more questions",
        "Sentences ending in ?",
    ),
    "exclamations": (
        R.exclamations,
        "tone",
        "sentences",
        "higher = more exclamations",
        "Sentences ending in !",
    ),
    "emoji": (R.emoji, "tone", "emoji", "higher = more emoji", "Emoji code points"),
    "first_person": (
        R.first_person,
        "interaction",
        "per 100 words",
        "higher = more I/we",
        "First-person pronouns (I, me, my, we, us, our…)",
    ),
    "second_person": (
        R.second_person,
        "interaction",
        "per 100 words",
        "higher = addresses the reader more",
        "Second-person pronouns (you, your…)",
    ),
    "hedges": (
        R.hedges,
        "hedging",
        "per 100 words",
        "higher = more hedging",
        "Hedging words and phrases (might, perhaps, I think, it depends…)",
    ),
    "apologies": (R.apologies, "hedging", "words", "higher = apologises more", "sorry, apologize…"),
    "refusals": (
        R.refusals,
        "safety",
        "phrases",
        "higher = refuses more",
        "Refusal phrases (I can't help with, I cannot provide, as an AI…)",
    ),
    "disclaimers": (
        R.disclaimers,
        "safety",
        "phrases",
        "higher = more disclaimers",
        "Disclaimers (consult a professional, not financial advice, please note that…)",
    ),
    "numbers": (R.numbers, "style", "per 100 words", "higher = more numbers", "Numerals (all-digit words)"),
    "readability_grade": (
        R.readability_grade,
        "style",
        "US school grade",
        "higher = harder to read",
        "Flesch–Kincaid grade with a vowel-run syllable heuristic",
    ),
    "lexical_diversity": (
        R.lexical_diversity,
        "style",
        "MATTR, 0–1",
        "higher = more varied vocabulary",
        "Moving-average type-token ratio over 50-word windows (plain TTR under 50 words)",
    ),
    "sentiment": (
        S.sentiment_fast,
        "tone",
        "compound, -1–1",
        "higher = more positive",
        "Mean sentence sentiment: deltaeval's fast scorer over VADER's lexicon",
    ),
    "restates_question": (
        R.restates_question,
        "input",
        "fraction",
        "higher = restates the question more",
        "Share of the first sentence's content words found in the input",
    ),
}
assert tuple(_BUILTINS) == FUSED_NAMES  # the fused extractor's order

#: The built-in axes, in the order they are registered and computed.
BUILTIN_NAMES: tuple[str, ...] = FUSED_NAMES
_COLUMN = {name: i for i, name in enumerate(FUSED_NAMES)}


def _register_builtins() -> None:
    missing = S.vader_missing_reason()
    for name, (fn, family, unit, hint, description) in _BUILTINS.items():
        _register_builtin(
            AxisSpec(
                name=name,
                fn=fn,
                description=description,
                unit=unit,
                direction_hint=hint,
                family=family,
                uses_input=name == "restates_question",
                builtin=True,
                unavailable=missing if name == "sentiment" else None,
            )
        )
    _register_builtin(
        AxisSpec(
            name="sentiment_vader",
            fn=S.sentiment_vader,
            description="Mean sentence compound score of the vaderSentiment package itself (slow)",
            unit="compound, -1–1",
            direction_hint="higher = more positive",
            family="tone",
            default=False,
            unavailable=missing,
        )
    )


_register_builtins()


def default_axis_names(*, with_inputs: bool = False) -> list[str]:
    """Axes computed when :func:`compute_axes` gets no ``names``: the registered axes marked
    ``default`` that can be computed here (and, ``with_inputs`` false, need no input)."""
    return [
        spec.name
        for spec in AXES.values()
        if spec.default and spec.unavailable is None and (with_inputs or not spec.uses_input)
    ]


def skipped_axes(*, with_inputs: bool = False) -> dict[str, str]:
    """Default axes that :func:`compute_axes` leaves out here, each with the reason."""
    skipped: dict[str, str] = {}
    for spec in AXES.values():
        if not spec.default:
            continue
        if spec.unavailable is not None:
            skipped[spec.name] = spec.unavailable
        elif spec.uses_input and not with_inputs:
            skipped[spec.name] = "needs the examples' inputs"
    return skipped


def _resolve(names: Sequence[str] | None, with_inputs: bool) -> list[AxisSpec]:
    if names is None:
        return [AXES[name] for name in default_axis_names(with_inputs=with_inputs)]
    if isinstance(names, str):
        names = [names]
    specs = []
    for name in names:
        spec = AXES.get(name)
        if spec is None:
            raise InputError(
                f"unknown behaviour axis {name!r}",
                hint=f"choose among {', '.join(AXES)}, or register it with register_axis",
            )
        if spec.unavailable is not None:
            raise InputError(f"axis {name!r} cannot be computed here: {spec.unavailable}")
        if spec.uses_input and not with_inputs:
            raise InputError(
                f"axis {name!r} needs the examples' inputs",
                hint="pass inputs=[...], one input text per output",
            )
        specs.append(spec)
    return specs


def _fused_rows(
    texts: Sequence[str | None], inputs: Sequence[str | None] | None, with_sentiment: bool
) -> NDArray[np.float64]:
    table = S.lexicon() if with_sentiment else None
    rows = np.full((len(texts), len(FUSED_NAMES)), np.nan)
    present = [i for i, text in enumerate(texts) if text is not None]
    if present:
        rows[present] = extract_many(
            [texts[i] for i in present],  # type: ignore[misc]
            [inputs[i] for i in present] if inputs is not None else None,
            table,
        )
    return rows


#: With the "fork" start method, worker processes read the outputs from here (inherited memory)
#: instead of receiving them pickled.
_SHARED: tuple[list[str | None], list[str | None] | None, bool] | None = None


def _fused_task(task: tuple[int, int]) -> NDArray:
    assert _SHARED is not None
    texts, inputs, with_sentiment = _SHARED
    start, stop = task
    return _fused_rows(texts[start:stop], inputs[start:stop] if inputs is not None else None, with_sentiment)


def _fused_task_data(task: tuple[Sequence[str | None], Sequence[str | None] | None, bool]) -> NDArray:
    return _fused_rows(*task)


def compute_axes(
    texts: Sequence[str | None],
    inputs: Sequence[str | None] | None = None,
    names: Sequence[str] | None = None,
    *,
    workers: int = 1,
    chunk_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Behaviour axes of every output.

    Parameters
    ----------
    texts:
        One output text per example; ``None`` (an error output) gives NaN on every axis.
    inputs:
        The examples' input texts, aligned with ``texts``; ``restates_question`` needs them.
    names:
        Axes to compute, in this order. Default: :func:`default_axis_names` — every default
        axis that can be computed here (:func:`skipped_axes` says which are left out, and why).
    workers:
        Processes for the built-in axes (1: serially, in this process). The values do not
        depend on it; axes you registered always run in this process.
    chunk_size:
        Most outputs per task when ``workers > 1`` (smaller chunks when there are few outputs
        per process, so the processes finish together).
    progress:
        Called with the number of outputs just done, as they are done (for a progress bar).

    Returns
    -------
    dict of str to numpy.ndarray
        One float array of ``len(texts)`` values per axis, in the order of ``names``.

    Raises
    ------
    InputError
        For an unknown axis, one that cannot be computed here (a missing package), an axis
        that needs inputs when none are given, or inputs of another length than ``texts``.

    Examples
    --------
    >>> values = compute_axes(["Short.", "A longer answer. Is it?"], names=["length_words", "questions"])
    >>> values["length_words"].tolist(), values["questions"].tolist()
    ([1.0, 5.0], [0.0, 1.0])
    """
    texts = list(texts)
    if inputs is not None:
        inputs = list(inputs)
        if len(inputs) != len(texts):
            raise InputError(
                f"{len(inputs)} inputs for {len(texts)} outputs",
                hint="give one input text per output, in the same order",
            )
    specs = _resolve(names, inputs is not None)
    fused = [spec for spec in specs if spec.builtin]
    out: dict[str, NDArray[np.float64]] = {}
    if fused:
        with_sentiment = any(spec.name == "sentiment" for spec in fused)
        fused_inputs = inputs if any(spec.uses_input for spec in fused) else None
        rows = _run_fused(texts, fused_inputs, with_sentiment, workers, chunk_size, progress)
        for spec in fused:
            out[spec.name] = np.ascontiguousarray(rows[:, _COLUMN[spec.name]])
    for spec in specs:
        if not spec.builtin:
            out[spec.name] = _run_function(spec, texts, inputs)
    if progress is not None and not fused:
        progress(len(texts))
    return {spec.name: out[spec.name] for spec in specs}


#: Outputs between two progress reports when the built-in axes run in this process.
PROGRESS_CHUNK = 200
#: With ``workers > 1``: chunks per process (for balance) and the fewest outputs in a chunk.
CHUNKS_PER_PROCESS = 8
MIN_CHUNK = 100


def _run_fused(
    texts: list[str | None],
    inputs: list[str | None] | None,
    with_sentiment: bool,
    workers: int,
    chunk_size: int,
    progress: Callable[[int], None] | None = None,
) -> NDArray[np.float64]:
    if workers <= 1 or len(texts) <= chunk_size:
        if progress is None or not texts:
            return _fused_rows(texts, inputs, with_sentiment)
        steps = [(a, min(a + PROGRESS_CHUNK, len(texts))) for a in range(0, len(texts), PROGRESS_CHUNK)]
        rows = (
            _fused_rows(texts[a:b], inputs[a:b] if inputs is not None else None, with_sentiment)
            for a, b in steps
        )
        return _gather(rows, steps, progress)
    global _SHARED
    processes = max(1, min(workers, os.cpu_count() or 1))
    ranges = chunk_ranges(len(texts), processes, chunk_size)
    processes = min(processes, len(ranges))
    if with_sentiment:
        S.lexicon()  # loaded once here: forked workers inherit it
    if "fork" in multiprocessing.get_all_start_methods():
        _SHARED = (texts, inputs, with_sentiment)
        try:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                return _gather(pool.imap(_fused_task, ranges), ranges, progress)
        finally:
            _SHARED = None
    tasks = [(texts[a:b], inputs[a:b] if inputs is not None else None, with_sentiment) for a, b in ranges]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return _gather(pool.imap(_fused_task_data, tasks), ranges, progress)


def chunk_ranges(n: int, processes: int, chunk_size: int) -> list[tuple[int, int]]:
    """(start, stop) of the tasks for ``processes`` workers: :data:`CHUNKS_PER_PROCESS` chunks
    per process where that leaves at least :data:`MIN_CHUNK` outputs in each, never more than
    ``chunk_size``, so that no process is left with a last big chunk while the others idle.

    >>> chunk_ranges(10_000, 2, 2000)[:2], len(chunk_ranges(10_000, 2, 2000))
    ([(0, 625), (625, 1250)], 16)
    """
    size = max(1, min(chunk_size, max(MIN_CHUNK, -(-n // (CHUNKS_PER_PROCESS * max(1, processes))))))
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _gather(
    results: Iterable[NDArray], ranges: list[tuple[int, int]], progress: Callable[[int], None] | None
) -> NDArray[np.float64]:
    """The workers' rows in order, reporting each chunk as it arrives."""
    parts = []
    for (start, stop), rows in zip(ranges, results, strict=True):
        parts.append(rows)
        if progress is not None:
            progress(stop - start)
    return np.concatenate(parts)


def _run_function(
    spec: AxisSpec, texts: list[str | None], inputs: list[str | None] | None
) -> NDArray[np.float64]:
    values = np.full(len(texts), np.nan)
    for i, text in enumerate(texts):
        if text is None:
            continue
        if spec.uses_input:
            values[i] = float(spec.fn(text, (inputs[i] if inputs is not None else None) or ""))
        else:
            values[i] = float(spec.fn(text))
    return values
