"""Runs and alignments held as columns (pyarrow arrays) rather than one Python object per row.

A :class:`ColumnarRun` is a :class:`~deltaeval.types.Run` whose examples and outputs live in
columns; ``run.examples`` / ``run.outputs`` build the usual objects on first use, so every public
API keeps working. What ``compare`` needs at scale — ids, correctness, scores, changed outputs,
tags, the content hash, a few listed rows — is computed from the columns without building them.
:func:`align_columnar` pairs two such runs with pyarrow's hash join into a
:class:`ColumnarAlignment`. Importers build these runs only from files whose every cell reads
the same as the per-row reader would read it (:mod:`deltaeval.io.columnar`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from deltaeval.alignment import MISSING_TAG, Alignment, check_strict, merge_example
from deltaeval.errors import AlignmentError
from deltaeval.types import Example, Output, Run

if TYPE_CHECKING:
    import pyarrow as pa

#: Rows hashed per chunk in :attr:`ColumnarRun.content_hash` (bounds the text built at once).
HASH_CHUNK = 65536


#: Every character ``str.strip()`` removes (``c.isspace()``), for pyarrow's ``utf8_trim``.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Text that ``str.strip()`` leaves empty (an RE2 pattern).
_BLANK = "^[" + "".join(f"\\x{{{ord(c):x}}}" for c in PYTHON_WHITESPACE) + "]*$"
#: One word as ``str.split()`` finds it: a run of characters that are not whitespace.
_WORD = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in PYTHON_WHITESPACE) + "]+"
#: Text that ``json.dumps`` writes as it is, in quotes: printable ASCII without ``"`` and ``\``.
_JSON_PLAIN = r"^[ !#-\[\]-~]*$"
_PLAIN_BYTES = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\')


def strip(array: pa.Array) -> pa.Array:
    """``str.strip()`` of every string in ``array`` (nulls stay null)."""
    import pyarrow.compute as pc

    return pc.utf8_trim(array, characters=PYTHON_WHITESPACE)


def is_blank(array: pa.Array) -> pa.Array:
    """Whether each string is empty after ``str.strip()`` (null stays null)."""
    import pyarrow.compute as pc

    return pc.match_substring_regex(array, _BLANK)


def blank_to_null(array: pa.Array) -> pa.Array:
    """``array`` with every string that is empty after ``str.strip()`` made null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pc.fill_null(is_blank(array), True), pa.nulls(len(array), array.type), array)


@dataclass(frozen=True)
class TagColumn:
    """One tag as integer codes into ``values`` (-1: the example has no such tag)."""

    codes: NDArray[np.int32]
    values: tuple[str, ...]


@dataclass(frozen=True)
class RunColumns:
    """The columns of a run: one entry per example, in file order.

    Text columns are pyarrow string arrays (null: no value) or None when the file has no such
    column; ``score`` is a float64 array, ``correct`` a boolean one; ``tags`` by name.
    """

    ids: pa.Array
    input: pa.Array | None = None
    reference: pa.Array | None = None
    text: pa.Array | None = None
    score: pa.Array | None = None
    correct: pa.Array | None = None
    error: pa.Array | None = None
    tags: Mapping[str, TagColumn] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def tags_at(self, i: int) -> dict[str, str]:
        return {name: t.values[t.codes[i]] for name, t in self.tags.items() if t.codes[i] >= 0}


def _cell(array: pa.Array | None, i: int) -> Any:
    return None if array is None else array[i].as_py()


def _pylist(array: pa.Array | None, n: int) -> list[Any]:
    return [None] * n if array is None else array.to_pylist()


class ColumnarRun(Run):
    """A :class:`Run` held as columns; ``examples`` and ``outputs`` are built when first read."""

    columns: RunColumns

    def __init__(
        self,
        *,
        name: str,
        columns: RunColumns,
        model: str = "",
        params: Mapping[str, Any] | None = None,
        source: str = "",
        created_at: str | None = None,
        duplicate_ids: tuple[str, ...] = (),
        notes: tuple[str, ...] = (),
    ) -> None:
        values = {
            "name": name,
            "columns": columns,
            "model": model,
            "params": dict(params or {}),
            "source": source,
            "duplicate_ids": tuple(duplicate_ids),
            "notes": tuple(notes),
        }
        if created_at is not None:
            values["created_at"] = created_at
        else:
            values["created_at"] = Run.__dataclass_fields__["created_at"].default_factory()  # type: ignore[misc]
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @cached_property
    def _rows(self) -> tuple[tuple[Example, ...], tuple[Output, ...]]:
        c, n = self.columns, len(self.columns)
        ids = c.ids.to_pylist()
        inputs, references = _pylist(c.input, n), _pylist(c.reference, n)
        texts, scores = _pylist(c.text, n), _pylist(c.score, n)
        correct, errors = _pylist(c.correct, n), _pylist(c.error, n)
        examples = tuple(
            Example(id=ids[i], input=inputs[i], reference=references[i], tags=c.tags_at(i)) for i in range(n)
        )
        outputs = tuple(
            Output(example_id=ids[i], text=texts[i], score=scores[i], correct=correct[i], error=errors[i])
            for i in range(n)
        )
        return examples, outputs

    @property  # type: ignore[override]
    def examples(self) -> tuple[Example, ...]:
        return self._rows[0]

    @property  # type: ignore[override]
    def outputs(self) -> tuple[Output, ...]:
        return self._rows[1]

    def example_at(self, i: int) -> Example:
        """The example of row ``i``, built without building the others."""
        c = self.columns
        return Example(
            id=c.ids[i].as_py(), input=_cell(c.input, i), reference=_cell(c.reference, i), tags=c.tags_at(i)
        )

    def output_at(self, i: int) -> Output:
        """The output of row ``i``, built without building the others."""
        c = self.columns
        return Output(
            example_id=c.ids[i].as_py(),
            text=_cell(c.text, i),
            score=_cell(c.score, i),
            correct=_cell(c.correct, i),
            error=_cell(c.error, i),
        )

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def ids(self) -> list[str]:
        return self.columns.ids.to_pylist()

    def _no_error(self) -> pa.Array | None:
        import pyarrow.compute as pc

        return None if self.columns.error is None else pc.is_null(self.columns.error)

    def filled(self, name: str) -> bool:
        """Whether any output without an error has a value in ``name`` (``correct``, ``score``…)."""
        import pyarrow.compute as pc

        column = getattr(self.columns, name, None)
        if column is None:
            return False
        valid = pc.is_valid(column)
        keep = self._no_error()
        if keep is not None:
            valid = pc.and_(valid, keep)
        return bool(pc.any(valid).as_py())

    def _complete(self, column: pa.Array | None) -> bool:
        import pyarrow.compute as pc

        if column is None or column.null_count == len(column):
            return False
        keep = self._no_error()
        missing = pc.is_null(column) if keep is None else pc.and_(pc.is_null(column), keep)
        return not pc.any(missing).as_py()

    @property
    def has_correctness(self) -> bool:
        return self._complete(self.columns.correct)

    @property
    def has_scores(self) -> bool:
        return self._complete(self.columns.score)

    @property
    def content_hash(self) -> str:
        """The same SHA-256 as :attr:`Run.content_hash` (one ``json.dumps`` line per row), with
        the lines written by pyarrow, column by column (computed once)."""
        if "_content_hash" not in self.__dict__:
            object.__setattr__(self, "_content_hash", self._hash_columns())
        return self.__dict__["_content_hash"]

    def _hash_columns(self) -> str:
        import pyarrow as pa
        import pyarrow.compute as pc

        c, n = self.columns, len(self.columns)
        digest = hashlib.sha256()
        tags = _tag_json(c.tags, n)
        for start in range(0, n, HASH_CHUNK):
            size = min(HASH_CHUNK, n - start)
            fields = [
                _json_pieces(c.ids.slice(start, size)),
                _json_pieces(_slice(c.input, start, size)),
                _json_pieces(_slice(c.reference, start, size)),
                [tags.slice(start, size)],
                _json_pieces(_slice(c.text, start, size)),
                [_json_floats(_slice(c.score, start, size)) or "null"],
                [_json_bools(_slice(c.correct, start, size)) or "null"],
                _json_pieces(_slice(c.error, start, size)),
            ]
            pieces: list[Any] = ["["]
            for i, field_pieces in enumerate(fields):
                pieces += [", "] * (i > 0) + field_pieces
            pieces.append("]\n")
            if all(isinstance(piece, str) for piece in pieces):  # no column at all: one constant line
                pieces[0] = pa.array(["["] * size, pa.string())
            lines = pc.binary_join_element_wise(*pieces, "")
            digest.update(_string_bytes(lines))
        return digest.hexdigest()

    def replace(self, **changes: Any) -> Run:
        """A copy with some fields changed; changing examples or outputs gives a plain Run."""
        if "examples" in changes or "outputs" in changes:
            return Run.replace(self, **changes)
        fields = {**self.metadata_fields(), "columns": self.columns}
        fields.update(changes)
        return ColumnarRun(**fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        names = (
            "name",
            "model",
            "params",
            "source",
            "created_at",
            "duplicate_ids",
            "notes",
            "examples",
            "outputs",
        )
        return all(getattr(self, n) == getattr(other, n) for n in names)

    __hash__ = None  # type: ignore[assignment]


def hash_concurrently(*runs: Run) -> None:
    """Compute the content hashes of several columnar runs at once, one thread each (pyarrow and
    hashlib release the GIL), so that :attr:`ColumnarRun.content_hash` is ready when read."""
    todo = [run for run in runs if isinstance(run, ColumnarRun) and "_content_hash" not in run.__dict__]
    if len(todo) < 2:
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(todo)) as pool:
        hashes = list(pool.map(ColumnarRun._hash_columns, todo))
    for run, digest in zip(todo, hashes, strict=True):
        object.__setattr__(run, "_content_hash", digest)


def _slice(array: pa.Array | None, start: int, size: int) -> pa.Array | None:
    return None if array is None else array.slice(start, size)


def _string_bytes(array: pa.Array) -> memoryview:
    """The UTF-8 bytes of a string array without nulls, one string after the other."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    data = array.buffers()[2]
    first, last = offsets[array.offset], offsets[array.offset + len(array)]
    return memoryview(data)[first:last] if data is not None else memoryview(b"")


def _json_strings(array: pa.Array | None) -> pa.Array | None:
    """Each string as ``json.dumps`` writes it (``null`` for a null), as a string array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if array is None:
        return None
    quoted = pc.binary_join_element_wise('"', array, '"', "")
    escape = pc.invert(pc.fill_null(pc.match_substring_regex(array, _JSON_PLAIN), True))
    if pc.any(escape).as_py():
        encode = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
        escaped = pa.array([encode(v) for v in array.filter(escape).to_pylist()], pa.string())
        quoted = pc.replace_with_mask(quoted, escape, escaped)
    return pc.fill_null(quoted, "null")


def _json_pieces(array: pa.Array | None) -> list[Any]:
    """Pieces that join into each string as ``json.dumps`` writes it: the column between quotes
    when every value is plain printable ASCII, else the column written out (:func:`_json_strings`)."""

    if array is None:
        return ["null"]
    if array.null_count == 0 and not bytes(_string_bytes(array)).translate(None, _PLAIN_BYTES):
        return ['"', array, '"']
    return [_json_strings(array)]


def _json_floats(array: pa.Array | None) -> pa.Array | None:
    """Each float as ``json.dumps`` writes it (its repr; ``null`` for a null)."""
    import pyarrow as pa

    if array is None:
        return None
    return pa.array(["null" if v is None else float.__repr__(v) for v in array.to_pylist()], pa.string())


def _json_bools(array: pa.Array | None) -> pa.Array | None:
    """Each boolean as ``json.dumps`` writes it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if array is None:
        return None
    words = pc.if_else(array, pa.array(["true"] * len(array)), pa.array(["false"] * len(array)))
    return pc.fill_null(words, "null")


def _tag_json(tags: Mapping[str, TagColumn], n: int) -> pa.Array:
    """Each row's tags as ``json.dumps(dict(sorted(tags)), sort_keys=True)`` writes them."""
    import pyarrow as pa

    if not tags:
        return pa.array(["{}"] * n, pa.string())
    names = sorted(tags)
    sizes = [len(tags[name].values) + 1 for name in names]
    if float(np.prod(np.array(sizes, dtype=float))) < 2**62:  # one integer key per combination
        key = np.zeros(n, dtype=np.int64)
        for name, size in zip(names, sizes, strict=True):
            key = key * size + (tags[name].codes.astype(np.int64) + 1)
        keys, inverse = np.unique(key, return_inverse=True)
        combos = []
        for k in keys.tolist():
            combo = []
            for size in reversed(sizes):
                k, digit = divmod(k, size)
                combo.append(digit - 1)
            combos.append(combo[::-1])
    else:
        stacked = np.stack([tags[name].codes for name in names], axis=1)
        combos, inverse = np.unique(stacked, axis=0, return_inverse=True)
    texts = []
    for combo in combos:
        row = {name: tags[name].values[code] for name, code in zip(names, combo, strict=True) if code >= 0}
        texts.append(json.dumps(row, sort_keys=True))
    return pa.array(texts, pa.string()).take(pa.array(np.asarray(inverse).reshape(-1)))


#: :meth:`ColumnarAlignment.output_word_counts` with a cap first counts the words of this many
#: characters per word of the cap at the start of each text.
PREFIX_CHARS_PER_WORD = 64


def _capped_word_counts(texts: Any, cap: int) -> NDArray[np.int64]:
    """``min(len(t.split()), cap)`` of every text (non-null). A prefix of a text holds at most as
    many words as the text (a word cut at the prefix's end is still one of the text's words), so
    a prefix with ``cap`` words decides; the other texts longer than their prefix are counted
    whole."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chars = PREFIX_CHARS_PER_WORD * cap
    head = pc.utf8_slice_codeunits(texts, 0, chars)
    counts = pc.count_substring_regex(head, _WORD).to_numpy(zero_copy_only=False).astype(np.int64)
    short = counts < cap
    if short.any():
        longer = pc.utf8_length(texts).to_numpy(zero_copy_only=False) > chars
        redo = np.flatnonzero(short & longer)
        if redo.size:
            whole = pc.count_substring_regex(texts.take(pa.array(redo)), _WORD)
            counts[redo] = whole.to_numpy(zero_copy_only=False).astype(np.int64)
    return np.minimum(counts, cap)


class ColumnarAlignment(Alignment):
    """An :class:`Alignment` of two :class:`ColumnarRun` s, as row indices into their columns.

    ``ids``, ``examples``, ``old`` and ``new`` are built on first use; the arrays analyses need
    (correctness, scores, changed outputs, tags) come from the columns.
    """

    def __init__(
        self,
        old_run: ColumnarRun,
        new_run: ColumnarRun,
        old_index: NDArray[np.int64],
        new_index: NDArray[np.int64],
        missing_in_new: tuple[str, ...],
        missing_in_old: tuple[str, ...],
    ) -> None:
        for key, value in (
            ("old_run", old_run),
            ("new_run", new_run),
            ("old_index", old_index),
            ("new_index", new_index),
            ("missing_in_new", missing_in_new),
            ("missing_in_old", missing_in_old),
        ):
            object.__setattr__(self, key, value)

    @property
    def n(self) -> int:
        return len(self.old_index)

    @cached_property
    def _ids(self) -> tuple[str, ...]:
        return tuple(self.old_run.columns.ids.take(self.old_index).to_pylist())

    @property  # type: ignore[override]
    def ids(self) -> tuple[str, ...]:
        return self._ids

    @cached_property
    def _rows(self) -> tuple[tuple[Example, ...], tuple[Output, ...], tuple[Output, ...]]:
        old, new = self.old_run, self.new_run
        oi, ni = self.old_index.tolist(), self.new_index.tolist()
        examples = tuple(merge_example(old.examples[i], new.examples[j]) for i, j in zip(oi, ni, strict=True))
        return examples, tuple(old.outputs[i] for i in oi), tuple(new.outputs[j] for j in ni)

    @property  # type: ignore[override]
    def examples(self) -> tuple[Example, ...]:
        return self._rows[0]

    @property  # type: ignore[override]
    def old(self) -> tuple[Output, ...]:
        return self._rows[1]

    @property  # type: ignore[override]
    def new(self) -> tuple[Output, ...]:
        return self._rows[2]

    def row(self, i: int) -> tuple[Example, Output, Output]:
        oi, ni = int(self.old_index[i]), int(self.new_index[i])
        old, new = self.old_run, self.new_run
        return merge_example(old.example_at(oi), new.example_at(ni)), old.output_at(oi), new.output_at(ni)

    def _taken(self, side: str, name: str) -> pa.Array | None:
        run = self.old_run if side == "old" else self.new_run
        index = self.old_index if side == "old" else self.new_index
        column = getattr(run.columns, name)
        return None if column is None else column.take(index)

    def any_correctness(self) -> bool:
        return any(
            (c := self._taken(side, "correct")) is not None and c.null_count < len(c)
            for side in ("old", "new")
        )

    def error_counts(self) -> tuple[int, int]:
        counts = []
        for side in ("old", "new"):
            errors = self._taken(side, "error")
            counts.append(0 if errors is None else len(errors) - errors.null_count)
        return counts[0], counts[1]

    def _correct_side(self, side: str) -> NDArray[np.bool_]:
        import pyarrow.compute as pc

        run = self.old_run if side == "old" else self.new_run
        correct, errors = self._taken(side, "correct"), self._taken(side, "error")
        ok = (
            np.ones(self.n, dtype=bool)
            if errors is None
            else pc.is_null(errors).to_numpy(zero_copy_only=False)
        )
        if correct is None:
            lacking = ok
            values = np.zeros(self.n, dtype=bool)
        else:
            lacking = ok & pc.is_null(correct).to_numpy(zero_copy_only=False)
            values = pc.fill_null(correct, False).to_numpy(zero_copy_only=False) & ok
        if lacking.any():
            first = self._ids_at(side, int(np.flatnonzero(lacking)[0]))
            raise AlignmentError(
                f"run {run.name!r} has no correctness for example {first!r}",
                hint="pass --scorer (e.g. exact, numeric, choice) or import a correct/score column",
            )
        return values

    def output_word_counts(self, cap: int | None = None) -> NDArray[np.int64]:
        """``len(text.split())`` of every paired output with text and no error, old then new;
        with ``cap``, ``min(len(text.split()), cap)``, counted on each text's first
        ``PREFIX_CHARS_PER_WORD * cap`` characters where they hold ``cap`` words (the rest of a
        long text is then never scanned)."""
        import pyarrow.compute as pc

        parts = [np.zeros(0, dtype=np.int64)]
        for side in ("old", "new"):
            text, errors = self._taken(side, "text"), self._taken(side, "error")
            if text is None:
                continue
            keep = pc.is_valid(text) if errors is None else pc.and_(pc.is_valid(text), pc.is_null(errors))
            kept = text.filter(keep)
            if cap is None:
                counts = pc.count_substring_regex(kept, _WORD).to_numpy(zero_copy_only=False).astype(np.int64)
            else:
                counts = _capped_word_counts(kept, cap)
            parts.append(counts)
        return np.concatenate(parts)

    def output_texts(self, side: str) -> list[str | None]:
        """Each pair's output text on ``side`` (``"old"`` or ``"new"``), None where it has none or
        an error: ``[o.text if o.error is None else None for o in self.old]`` without building
        the per-row outputs."""
        import pyarrow as pa
        import pyarrow.compute as pc

        text, errors = self._taken(side, "text"), self._taken(side, "error")
        if text is None:
            return [None] * self.n
        if errors is not None:
            text = pc.if_else(pc.is_null(errors), text, pa.scalar(None, text.type))
        return text.to_pylist()

    def input_values(self) -> list[str | None]:
        """Each pair's input, as ``self.examples[i].input`` (the old run's, or the new run's where
        the old one has none and :func:`merge_example` completes it), without building the rows."""
        import pyarrow.compute as pc

        old_input, new_input = self._taken("old", "input"), self._taken("new", "input")
        if new_input is None:
            return _pylist(old_input, self.n)
        reference = self._taken("old", "reference")
        tagged = np.zeros(self.n, dtype=bool)
        for column in self.old_run.columns.tags.values():
            tagged |= column.codes[self.old_index] >= 0
        # merge_example keeps the old example whole when it has a reference and tags
        whole = tagged & (
            np.zeros(self.n, dtype=bool)
            if reference is None
            else pc.is_valid(reference).to_numpy(zero_copy_only=False)
        )
        old_list, new_list = _pylist(old_input, self.n), new_input.to_pylist()
        return [
            a if a is not None or keep else b
            for a, b, keep in zip(old_list, new_list, whole.tolist(), strict=True)
        ]

    def _ids_at(self, side: str, i: int) -> str:
        run = self.old_run if side == "old" else self.new_run
        index = self.old_index if side == "old" else self.new_index
        return run.columns.ids[int(index[i])].as_py()

    def correct(self) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        return self._correct_side("old"), self._correct_side("new")

    def scores(self) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        import pyarrow.compute as pc

        if not (self.old_run.has_scores and self.new_run.has_scores):
            return None
        out = []
        for side in ("old", "new"):
            score, errors = self._taken(side, "score"), self._taken(side, "error")
            values = pc.fill_null(score, float("nan")).to_numpy(zero_copy_only=False).astype(float)
            if errors is not None:
                values[pc.is_valid(errors).to_numpy(zero_copy_only=False)] = np.nan
            out.append(values)
        return out[0], out[1]

    def same_output(self) -> NDArray[np.bool_] | None:
        import pyarrow.compute as pc

        old, new = self._taken("old", "text"), self._taken("new", "text")
        if all(t is None or t.null_count == len(t) for t in (old, new)):
            return None
        if old is None or new is None:
            return np.zeros(self.n, dtype=bool)
        same = pc.fill_null(pc.equal(strip(old), strip(new)), False)
        return same.to_numpy(zero_copy_only=False)

    def _merged_tag(self, tag: str) -> tuple[NDArray[np.int32], tuple[str, ...]]:
        """Codes and values of ``tag`` on the merged examples (see ``merge_example``)."""
        old_tags, new_tags = self.old_run.columns.tags, self.new_run.columns.tags
        lookup: dict[str, int] = {}
        codes = np.full(self.n, -1, dtype=np.int32)

        def mapped(column: TagColumn, index: NDArray[np.int64]) -> NDArray[np.int32]:
            table = np.array(
                [lookup.setdefault(v, len(lookup)) for v in column.values] + [-1], dtype=np.int32
            )
            return table[column.codes[index]]  # -1 picks the last entry, -1

        if tag in new_tags:
            new_codes = mapped(new_tags[tag], self.new_index)
            codes = np.where(self._old_kept, codes, new_codes)
        if tag in old_tags:
            old_codes = mapped(old_tags[tag], self.old_index)
            codes = np.where(old_codes >= 0, old_codes, codes)
        return codes, tuple(lookup)

    @cached_property
    def _old_kept(self) -> NDArray[np.bool_]:
        """Rows whose merged example is the old run's as it is (it has a reference and tags)."""
        import pyarrow.compute as pc

        c = self.old_run.columns
        if c.reference is None or not c.tags:
            return np.zeros(self.n, dtype=bool)
        has_reference = pc.is_valid(c.reference.take(self.old_index)).to_numpy(zero_copy_only=False)
        any_tag = np.zeros(self.n, dtype=bool)
        for column in c.tags.values():
            any_tag |= column.codes[self.old_index] >= 0
        return has_reference & any_tag

    def tag_values(self, tag: str) -> list[str]:
        codes, values = self._merged_tag(tag)
        table = np.array([*values, MISSING_TAG], dtype=object)
        return table[codes].tolist()

    def tag_names(self) -> list[str]:
        names = set()
        for tag in set(self.old_run.columns.tags) | set(self.new_run.columns.tags):
            codes, _ = self._merged_tag(tag)
            if (codes >= 0).any():
                names.add(tag)
        return sorted(names)


def align_columnar(old: ColumnarRun, new: ColumnarRun, *, strict: bool = False) -> ColumnarAlignment:
    """Pair two columnar runs by example id (as :func:`deltaeval.alignment.align` does)."""
    import pyarrow.compute as pc

    if old.columns.ids.equals(new.columns.ids):  # the same ids in the same order: nothing to join
        index = np.arange(len(old), dtype=np.int64)
        check_strict(old, new, (), (), strict=strict)
        return ColumnarAlignment(old, new, index, index, (), ())
    position = pc.index_in(old.columns.ids, value_set=new.columns.ids)
    present = pc.is_valid(position)
    missing_in_new = tuple(old.columns.ids.filter(pc.invert(present)).to_pylist())
    in_old = pc.is_in(new.columns.ids, value_set=old.columns.ids)
    missing_in_old = tuple(new.columns.ids.filter(pc.invert(in_old)).to_pylist())
    check_strict(old, new, missing_in_new, missing_in_old, strict=strict)
    old_index = np.flatnonzero(present.to_numpy(zero_copy_only=False)).astype(np.int64)
    new_index = position.filter(present).to_numpy(zero_copy_only=False).astype(np.int64)
    if not len(old_index):
        raise AlignmentError(
            f"runs {old.name!r} and {new.name!r} share no example id",
            hint="check that both files use the same ids (or the same input texts when ids are hashed)",
        )
    return ColumnarAlignment(old, new, old_index, new_index, missing_in_new, missing_in_old)
