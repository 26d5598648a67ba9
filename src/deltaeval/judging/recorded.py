"""Recorded preferences: verdicts read from files instead of asked of a judge.

Three layouts (``read_judgments`` detects the first two):

- **AlpacaEval** ``annotations.json``: a JSON list of ``{instruction, output_1, generator_1,
  output_2, generator_2, annotator, preference, …}`` — ``output_1`` is the baseline's answer,
  ``output_2`` the model's, ``preference`` in [1, 2] (1: baseline better, 2: model better; null:
  no verdict; 0, AlpacaEval's draw code, reads as 1.5). One judgment per record, order ``ab``
  (baseline as A): its label is the probability that the baseline is better, ``2 − preference``.
  The example id is the stable hash of the instruction (as the ``alpaca_annotations`` importer
  makes it); ``price_per_example`` becomes the judgment's cost.
- **Arena-Hard** judgments (JSONL): ``{question_id | uid, model, judge?, baseline?, games:
  [{score: "A>B", judgment?, …}, {…}]}`` — game 1 shows the baseline as A and the model as B
  (order ``ab``, run_a = baseline), game 2 the reverse (order ``ba``). A ``null`` score is an
  error judgment. The baseline's name is the record's ``baseline`` or ``baseline=`` given here.
- **Any CSV/JSONL** with an id column and a preference column (``preference=COL``): values are
  labels (``A>>B`` …, read tolerantly) or numbers in [0, 1] (1: A better, 0.5: tie). Optional
  columns ``model_a``/``model_b`` name the runs (default ``A`` and ``B``), ``judge`` the judge
  (default: the file name), and an input column (``input``, ``prompt``, ``question`` …) the
  example's text.

Recorded example ids are matched to the runs' examples by id, and where an id is no example's id,
by input text (the id itself or the recorded input, whitespace normalised): a table keyed by the
question matches runs keyed by a hash of it. ``RecordedJudge.matched`` does this, and refuses a
file that matches no example.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError, UsageError
from deltaeval.io.base import (
    ID_COLUMNS,
    INPUT_COLUMNS,
    example_id_for,
    is_missing,
    pick_column,
    text_or_none,
)
from deltaeval.io.reading import CSV_SUFFIXES, columns_of, peek_record, read_csv, read_records
from deltaeval.judging.base import Judge, JudgmentCallback, Pair, judgment_for
from deltaeval.judging.parse import label_from_value
from deltaeval.plural import plural
from deltaeval.types import Example, Judgment, input_text, stable_id

FORMATS = ("alpaca_annotations", "arena_hard_judgments", "preference_table")


@dataclass(frozen=True)
class RecordedJudgments:
    """Judgments read from one file, with the texts and inputs the file holds.

    ``texts`` maps (example id, run name) to that run's output; ``inputs`` maps an example id to
    its input text (when the file has them).
    """

    path: str
    format: str
    judgments: tuple[Judgment, ...]
    texts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def runs(self) -> list[str]:
        """Run names in order of first appearance."""
        seen: dict[str, None] = {}
        for j in self.judgments:
            seen.setdefault(j.run_a, None)
            seen.setdefault(j.run_b, None)
        return list(seen)


# -- AlpacaEval --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlpacaRecord:
    """One AlpacaEval annotation: the model (generator_2) against the baseline (generator_1)."""

    example_id: str
    instruction: str
    baseline: str
    model: str
    baseline_output: str
    model_output: str
    preference: float | None  # in [1, 2]; None = no verdict
    annotator: str | None
    price: float | None
    raw: str | None
    dataset: str | None


def read_alpaca_annotations(path: str | Path) -> list[AlpacaRecord]:
    """The records of an AlpacaEval ``annotations.json`` (checked; errors name the line)."""
    from deltaeval.io.alpaca_eval import parse_preference

    source = Path(path)
    records = read_records(source)
    out: list[AlpacaRecord] = []
    for line, record in records:
        for required in ("instruction", "output_1", "output_2", "preference"):
            if required not in record:
                raise InputError(
                    f"record on line {line} has no {required!r}",
                    hint="give an AlpacaEval annotations.json (instruction, output_1, output_2, preference)",
                    path=source,
                    line=line,
                )
        instruction = text_or_none(record["instruction"])
        if instruction is None:
            raise InputError(f"record on line {line} has an empty 'instruction'", path=source, line=line)
        preference, _ = parse_preference(record["preference"], path=source, line=line)
        price = record.get("price_per_example")
        try:
            price_value = None if is_missing(price) else float(price)
        except (TypeError, ValueError):
            price_value = None
        raw = record.get("raw_completion")
        out.append(
            AlpacaRecord(
                example_id=stable_id(instruction),
                instruction=instruction,
                baseline=text_or_none(record.get("generator_1")) or "baseline",
                model=text_or_none(record.get("generator_2")) or source.parent.name or source.stem,
                baseline_output=text_or_none(record["output_1"]) or "",
                model_output=text_or_none(record["output_2"]) or "",
                preference=preference,
                annotator=text_or_none(record.get("annotator")),
                price=price_value,
                raw=None if raw is None else str(raw),
                dataset=text_or_none(record.get("dataset")),
            )
        )
    return out


def _from_alpaca(path: Path) -> RecordedJudgments:
    judgments: list[Judgment] = []
    texts: dict[tuple[str, str], str] = {}
    inputs: dict[str, str] = {}
    for r in read_alpaca_annotations(path):
        judgments.append(
            Judgment(
                example_id=r.example_id,
                judge=r.annotator or "alpaca_eval",
                run_a=r.baseline,
                run_b=r.model,
                order="ab",
                label=None if r.preference is None else 2.0 - r.preference,
                raw=r.raw,
                error="no preference (judge returned null)" if r.preference is None else None,
                cost=r.price,
            )
        )
        texts[(r.example_id, r.baseline)] = r.baseline_output
        texts[(r.example_id, r.model)] = r.model_output
        inputs[r.example_id] = r.instruction
    return RecordedJudgments(str(path), "alpaca_annotations", tuple(judgments), texts, inputs)


# -- Arena-Hard --------------------------------------------------------------------------------


def _game_text(game: Mapping[str, Any]) -> str | None:
    judgment = game.get("judgment")
    if isinstance(judgment, Mapping):
        judgment = judgment.get("answer", judgment.get("content"))
    if isinstance(judgment, list):  # a conversation: the last turn
        judgment = judgment[-1].get("content") if judgment and isinstance(judgment[-1], Mapping) else None
    return text_or_none(judgment)


def _from_arena_hard(path: Path, baseline: str | None) -> RecordedJudgments:
    judgments: list[Judgment] = []
    for line, record in read_records(path):
        qid = record.get("question_id", record.get("uid"))
        games = record.get("games")
        model = text_or_none(record.get("model"))
        if is_missing(qid) or model is None or not isinstance(games, list):
            raise InputError(
                f"record on line {line} needs question_id (or uid), model and a games list",
                hint="give an Arena-Hard judgment file (model_judgment/<judge>/<model>.jsonl)",
                path=path,
                line=line,
            )
        base = text_or_none(record.get("baseline")) or baseline or "baseline"
        judge = text_or_none(record.get("judge")) or "arena-hard"
        for number, game in enumerate(games[:2]):
            if not isinstance(game, Mapping):
                raise InputError(
                    f"record on line {line}: game {number + 1} is not an object", path=path, line=line
                )
            score = game.get("score")
            try:
                label = label_from_value(score)
            except ValueError:
                label = None
            text = _game_text(game)
            judgments.append(
                Judgment(
                    example_id=example_id_for(qid, ""),
                    judge=judge,
                    run_a=base,
                    run_b=model,
                    order="ab" if number == 0 else "ba",
                    label=label,
                    raw=text,
                    explanation=text,
                    error=None if label is not None else f"no verdict recorded (score {score!r})",
                )
            )
    return RecordedJudgments(str(path), "arena_hard_judgments", tuple(judgments))


# -- any table -----------------------------------------------------------------------------------


def _from_table(path: Path, preference: str, id_column: str | None) -> RecordedJudgments:
    if path.suffix.lower() in CSV_SUFFIXES:
        columns, records, _ = read_csv(path)
    else:
        records = read_records(path)
        columns = columns_of(records)
    lowered = {c.lower(): c for c in columns}
    pref = lowered.get(preference.lower())
    if pref is None:
        raise InputError(
            f"no column {preference!r}",
            hint=f"columns: {', '.join(columns[:30])}; pass --preference COLUMN",
            path=path,
        )
    id_col = pick_column(columns, id_column, ID_COLUMNS)
    if id_col is None or id_col not in columns:
        raise InputError(
            "no id column" if id_column is None else f"no column {id_column!r}",
            hint="name the example id column with --id COLUMN",
            path=path,
        )
    input_col = pick_column([c for c in columns if c != id_col], None, INPUT_COLUMNS)
    judgments: list[Judgment] = []
    inputs: dict[str, str] = {}
    for line, row in records:
        if is_missing(row.get(id_col)):
            raise InputError(f"row on line {line} has no id", path=path, line=line)
        text = text_or_none(row.get(input_col)) if input_col else None
        if text is not None:
            inputs[example_id_for(row[id_col], "")] = text
        value = row.get(pref)
        try:
            label = None if is_missing(value) else label_from_value(value)
        except ValueError as exc:
            raise InputError(
                f"{preference!r} on line {line}: {exc}",
                hint="give labels (A>>B, A>B, A=B, B>A, B>>A) or numbers in [0, 1] (1: A better)",
                path=path,
                line=line,
            ) from None
        if label is None and not is_missing(value):
            raise InputError(
                f"{preference!r} on line {line} holds {value!r}, which is no verdict",
                hint="give labels (A>>B, A>B, A=B, B>A, B>>A) or numbers in [0, 1] (1: A better)",
                path=path,
                line=line,
            )
        explanation = text_or_none(row.get("explanation"))
        judgments.append(
            Judgment(
                example_id=example_id_for(row[id_col], ""),
                judge=text_or_none(row.get("judge")) or path.stem,
                run_a=text_or_none(row.get("model_a")) or "A",
                run_b=text_or_none(row.get("model_b")) or "B",
                order="ab",
                label=label,
                explanation=explanation,
                error=None if label is not None else "no preference recorded",
            )
        )
    if not judgments:
        raise InputError("no rows found", path=path)
    return RecordedJudgments(str(path), "preference_table", tuple(judgments), inputs=inputs)


def detect_judgment_format(path: str | Path) -> str | None:
    """``alpaca_annotations`` or ``arena_hard_judgments`` from the first record, else None."""
    source = Path(path)
    if source.suffix.lower() in CSV_SUFFIXES:
        return None
    first = peek_record(source)
    if first is None:
        return None
    if "preference" in first and ("output_1" in first or "generator_2" in first):
        return "alpaca_annotations"
    if "games" in first and ("model" in first):
        return "arena_hard_judgments"
    return None


def read_judgments(
    path: str | Path,
    *,
    preference: str | None = None,
    id_column: str | None = None,
    baseline: str | None = None,
) -> RecordedJudgments:
    """Recorded judgments from a file (see the module docstring for the layouts).

    ``preference`` names the preference column of a generic CSV/JSONL (and forces that layout);
    ``id_column`` its id column; ``baseline`` the baseline's name for Arena-Hard records that do
    not carry one.
    """
    source = Path(path)
    if not source.is_file():
        raise InputError("judgment file not found", hint="check the path", path=source)
    if preference is not None:
        return _from_table(source, preference, id_column)
    fmt = detect_judgment_format(source)
    if fmt == "alpaca_annotations":
        return _from_alpaca(source)
    if fmt == "arena_hard_judgments":
        return _from_arena_hard(source, baseline)
    raise InputError(
        "cannot tell what judgments this file holds",
        hint="give AlpacaEval annotations.json, Arena-Hard judgments (JSONL with games), or a "
        "CSV/JSONL with --preference COLUMN (and --id COLUMN)",
        path=source,
    )


# -- the judge ------------------------------------------------------------------------------------


class RecordedJudge(Judge):
    """A judge that answers from recorded judgments (it never calls anything).

    For a pair it returns the judgment recorded for the example and the two runs, preferring one
    made in the order asked for (same run shown first); when only the other order was recorded it
    returns that one as it was made (its ``order`` says so), so the protocol never counts one
    recorded verdict twice. With no judgment for the example, an error judgment.

    ``aliases`` maps run names used in the file to the names of the runs being compared;
    ``inputs`` maps recorded example ids to input texts (for :meth:`matched`); ``source`` names
    the file in messages.
    """

    kind = "recorded"
    follows_order = False

    def __init__(
        self,
        judgments: Iterable[Judgment],
        *,
        name: str | None = None,
        aliases: Mapping[str, str] | None = None,
        inputs: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> None:
        items = list(judgments)
        names = sorted({j.judge for j in items})
        super().__init__(name or (names[0] if len(names) == 1 else "recorded"))
        self.inputs = dict(inputs or {})
        self.source = source
        aliases = dict(aliases or {})
        self._index: dict[tuple[str, frozenset[str]], list[Judgment]] = {}
        for j in items:
            j = replace(j, run_a=aliases.get(j.run_a, j.run_a), run_b=aliases.get(j.run_b, j.run_b))
            j = replace(j, judge=self.name)
            self._index.setdefault((j.example_id, frozenset((j.run_a, j.run_b))), []).append(j)

    @property
    def runs(self) -> list[str]:
        return sorted({r for _, pair in self._index for r in pair})

    @property
    def example_ids(self) -> list[str]:
        """The recorded example ids, in order of first appearance."""
        return list(dict.fromkeys(example_id for example_id, _ in self._index))

    def matched(self, examples: Sequence[Example]) -> tuple[RecordedJudge, RecordedCoverage]:
        """This judge keyed to ``examples``, and how many of them it covers.

        A recorded id that is no example's id is matched by input text: the id itself, or the
        input recorded with it, against each example's input (whitespace normalised; an input
        shared by two examples matches neither). No match at all is an :class:`InputError` that
        shows the ids expected.
        """
        wanted = [e.id for e in examples]
        known = set(wanted)
        recorded = self.example_ids
        by_text: dict[str, str | None] = {}
        for example in examples:
            key = _normalised(input_text(example.input))
            by_text[key] = None if key in by_text and by_text[key] != example.id else example.id
        claimed = known.intersection(recorded)
        mapping: dict[str, str] = {}
        for example_id in recorded:
            if example_id in known:
                continue
            for text in (example_id, self.inputs.get(example_id)):
                target = by_text.get(_normalised(text)) if text else None
                if target is not None and target not in claimed:
                    mapping[example_id] = target
                    claimed.add(target)
                    break
        coverage = RecordedCoverage(
            source=self.source or self.name,
            n_examples=len(known),
            n_recorded=len(recorded),
            by_id=len(known.intersection(recorded)),
            by_text=len(mapping),
        )
        if known and not coverage.matched:
            expected = ", ".join(repr(_clip(i)) for i in wanted[:3])
            found = ", ".join(repr(_clip(i)) for i in recorded[:3])
            raise InputError(
                f"none of its {plural(coverage.n_recorded, 'recorded example id')} matches one of the "
                f"{plural(coverage.n_examples, 'example')} compared, by id or by input text: the runs' ids "
                f"are like {expected}; the file's are like {found}",
                hint="name the file's id column with --id COLUMN; it must hold the runs' example ids "
                "or the examples' input texts",
                path=coverage.source,
            )
        if not mapping:
            return self, coverage
        rekeyed = [
            replace(j, example_id=mapping.get(j.example_id, j.example_id))
            for found_judgments in self._index.values()
            for j in found_judgments
        ]
        judge = RecordedJudge(rekeyed, name=self.name, inputs=self.inputs, source=self.source)
        return judge, coverage

    def judge(
        self,
        pairs: Sequence[Pair],
        *,
        store: Any = None,
        on_judgment: JudgmentCallback | None = None,
    ) -> list[Judgment]:
        results: list[Judgment] = []
        for i, pair in enumerate(Pair.of(p) for p in pairs):
            found = self._index.get((pair.example.id, frozenset((pair.run_a, pair.run_b))), [])
            same = [j for j in found if j.shown_first == pair.run_a]
            chosen = (same or found or [None])[0]
            if chosen is None:
                chosen = judgment_for(
                    pair,
                    self.name,
                    error=f"no recorded judgment of {pair.run_a!r} vs {pair.run_b!r} on this example",
                )
            results.append(chosen)
            if on_judgment is not None:
                on_judgment(i, chosen)
        return results


@dataclass(frozen=True)
class RecordedCoverage:
    """How many of the examples compared a recorded file covers, and how they were matched."""

    source: str
    n_examples: int
    n_recorded: int
    by_id: int
    by_text: int

    @property
    def matched(self) -> int:
        return self.by_id + self.by_text

    def note(self) -> str | None:
        """A line for the report when the match is partial or by text (None: every id matched)."""
        if self.by_id == self.n_examples:
            return None
        how = f"{self.by_id:,} by id, {self.by_text:,} by input text"
        examples = plural(self.n_examples, "example")
        text = f"{self.source}: recorded judgments for {self.matched:,} of {examples}"
        text += f" ({how})"
        if self.matched < self.n_examples:
            missing = self.n_examples - self.matched
            text += f"; {plural(missing, 'example')} {'has' if missing == 1 else 'have'} none"
        unmatched = self.n_recorded - self.matched
        if unmatched:
            verb = "matches" if unmatched == 1 else "match"
            text += f"; {unmatched:,} of its {plural(self.n_recorded, 'id')} {verb} no example"
        return text


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def recorded_judge_for(
    recorded: RecordedJudgments, run_a: str, run_b: str, *, name: str | None = None
) -> tuple[RecordedJudge, str | None]:
    """A RecordedJudge for comparing ``run_a`` with ``run_b``, and a note when names were mapped.

    When the file names both runs, they are used as they are. When it compares exactly two
    other names, its first side (the baseline in AlpacaEval and Arena-Hard files, ``A`` in a
    table) is taken as ``run_a`` and its second as ``run_b``.
    """
    names = recorded.runs
    aliases: dict[str, str] = {}
    note = None
    if not (run_a in names and run_b in names):
        if len(names) != 2:
            raise UsageError(
                f"{recorded.path} does not judge {run_a!r} against {run_b!r}",
                hint="its runs: " + ", ".join(names[:10]) + "; name the runs as in the file",
            )
        first, second = names
        note = f"{recorded.path}: its {first!r} is taken as {run_a!r} and its {second!r} as {run_b!r}"
        aliases = {first: run_a, second: run_b}
    judge = RecordedJudge(
        recorded.judgments, name=name, aliases=aliases, inputs=recorded.inputs, source=recorded.path
    )
    return judge, note
