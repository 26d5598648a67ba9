"""The run store: SQLite (WAL) holding runs, their outputs, judgments, and a cache of model/judge calls."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from deltaeval.errors import StoreError
from deltaeval.store_schema import (
    DAMAGED_FIX,
    READ_ONLY_FIX,
    SCHEMA,
    SCHEMA_VERSION,
    STORE_ENV,
    check_schema,
    expected_sql,
    may_be_read_only,
    migrate,
    outdated_tables,
    store_error,
)
from deltaeval.surrogates import without_surrogates
from deltaeval.types import Example, Judgment, Output, Run

DEFAULT_DIR = ".deltaeval"
DB_NAME = "store.sqlite"


@dataclass(frozen=True)
class RunInfo:
    """A stored run's metadata (without its outputs).

    ``created_at`` is the run's own time (a file's modification time, or when a generated run
    was made); ``imported_at`` when it was stored (None for runs stored before schema 2);
    ``content_hash`` is :attr:`Run.content_hash`, the one every report shows.
    """

    name: str
    model: str
    source: str
    created_at: str
    n: int
    content_hash: str
    imported_at: str | None = None


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _guarded(method: _Method) -> _Method:
    """Map SQLite errors, and stored values that no longer parse, to a StoreError naming the store."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None
        except UnicodeEncodeError as exc:  # a name that is not valid Unicode
            raise StoreError(
                f"cannot store {exc.object[exc.start : exc.end]!a}, half of a UTF-16 pair",
                path=self.path,
                hint="give names as valid Unicode text",
            ) from None
        except (ValueError, TypeError) as exc:  # a stored JSON text or number altered by hand
            raise StoreError(
                f"the store holds damaged data ({type(exc).__name__}: {exc})",
                path=self.path,
                hint=DAMAGED_FIX,
            ) from None

    return wrapper  # type: ignore[return-value]


def default_store_path() -> Path:
    """``$DELTAEVAL_STORE`` if set, else ``.deltaeval/store.sqlite`` in the working directory."""
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else Path(DEFAULT_DIR) / DB_NAME


def store_path(path: str | Path | None = None) -> Path:
    """The store file ``path`` names, or the default one (:func:`default_store_path`)."""
    return Path(path) if path is not None else default_store_path()


def store_origin(path: str | Path | None = None) -> str:
    """Where the store's path came from: given, ``$DELTAEVAL_STORE``, or the default."""
    if path is not None:
        return "the path given"
    return f"from ${STORE_ENV}" if os.environ.get(STORE_ENV) else "the default"


def nearby_stores(exclude: Path | None = None, root: Path | None = None, limit: int = 3) -> list[Path]:
    """Store files in the folders just below ``root`` (default: the working directory), such as
    the demo's ``deltaeval-demo/store.sqlite``; ``exclude`` is left out."""
    base = root or Path()
    found = sorted({*base.glob(f"*/{DB_NAME}"), *base.glob(f"*/{DEFAULT_DIR}/{DB_NAME}")})
    skip = exclude.resolve() if exclude is not None else None
    return [p for p in found if p.is_file() and p.resolve() != skip][:limit]


def store_hint(path: Path) -> str:
    """How to point at another store, naming the stores found nearby."""
    hint = f"pass --store FILE or set ${STORE_ENV}"
    found = nearby_stores(exclude=path)
    if found:
        hint += "; stores nearby: " + ", ".join(str(p) for p in found)
    return hint


class Store:
    """Runs and call cache in one SQLite file (WAL mode; safe for one writer, many readers).

    Examples
    --------
    >>> store = Store(tmp_path / "store.sqlite")  # doctest: +SKIP
    >>> store.save_run(run); store.load_run(run.name)  # doctest: +SKIP
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        """Open the store at ``path`` (default: :func:`default_store_path`).

        With ``create=False`` (commands that only read) a missing store is an error, not a new
        file: "no store at PATH".
        """
        self.path = store_path(path)
        #: True when the store could only be opened for reading (a read-only file or folder):
        #: runs can be listed, shown and compared; caches are not written.
        self.read_only = False
        if not create and not self.path.exists():
            raise StoreError(f"no store at {self.path} ({store_origin(path)})", hint=store_hint(self.path))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect(self.path, writable=True)
        except sqlite3.OperationalError as exc:
            if not may_be_read_only(exc, self.path):
                raise store_error(exc, self.path, opening=True) from None
            self._db = self._open_read_only(exc)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path, opening=True) from None
        except OSError as exc:
            raise StoreError(
                f"cannot open the store: {exc.strerror or exc}",
                path=self.path,
                hint=f"check the path and permissions, or set {STORE_ENV} / --store",
            ) from None

    def _connect(self, target: str | Path, *, writable: bool) -> sqlite3.Connection:
        """A connection to ``target`` whose schema has been checked (and, if writable, created)."""
        db = sqlite3.connect(target, timeout=30, uri=not writable)
        try:
            missing = check_schema(db, self.path)
            if writable:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
                with db:
                    db.executescript(SCHEMA)
                    db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                    migrate(db)
            else:
                # A table added after this store was written reads as empty (a temporary table).
                for table in missing:
                    db.execute(expected_sql()[table].replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
            #: the import time's column: NULL in a store of schema 1 opened for reading only
            self._imported_at = "NULL" if "runs" in outdated_tables(db) else "imported_at"
        except BaseException:
            db.close()
            raise
        return db

    def _open_read_only(self, cause: sqlite3.Error) -> sqlite3.Connection:
        """Open the store for reading only: ``mode=ro``, else ``immutable=1`` (a read-only folder
        leaves no room for WAL's shared-memory file); raise ``cause``, mapped, when neither works."""
        uri = self.path.resolve().as_uri()
        for query in ("?mode=ro", "?immutable=1"):
            try:
                db = self._connect(uri + query, writable=False)
            except sqlite3.OperationalError:
                continue
            except sqlite3.Error as exc:
                raise store_error(exc, self.path, opening=True) from None
            self.read_only = True
            return db
        raise store_error(cause, self.path, opening=True) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise StoreError("the store is read-only", path=self.path, hint=READ_ONLY_FIX)
        try:
            with self._db:
                yield self._db
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None

    # runs -------------------------------------------------------------------------------

    @_guarded
    def has_run(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM runs WHERE name=?", (name,)).fetchone() is not None

    @_guarded
    def save_run(self, run: Run, *, overwrite: bool = False) -> None:
        """Store a run. An existing run of that name is an error unless ``overwrite``.

        Lone surrogates in its texts, which UTF-8 cannot hold, are stored as U+FFFD.
        """
        if not run.name or run.name.strip() != run.name:
            raise StoreError(
                f"invalid run name {run.name!r}",
                hint="use a non-empty name without spaces at the ends",
            )
        try:
            self._insert_run(run, overwrite=overwrite)
        except UnicodeEncodeError:  # the transaction was rolled back: store the texts repaired
            examples = tuple(map(without_surrogates, run.examples))
            outputs = tuple(map(without_surrogates, run.outputs))
            self._insert_run(run.replace(examples=examples, outputs=outputs), overwrite=overwrite)

    def _insert_run(self, run: Run, *, overwrite: bool) -> None:
        with self._transaction() as db:
            if self.has_run(run.name):
                if not overwrite:
                    raise StoreError(
                        f"a run named {run.name!r} is already stored",
                        path=self.path,
                        hint="choose another --name, or pass --overwrite",
                    )
                db.execute("DELETE FROM runs WHERE name=?", (run.name,))
            db.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run.name,
                    run.model,
                    json.dumps(dict(run.params), sort_keys=True, default=str),
                    run.source,
                    run.created_at,
                    run.content_hash,
                    len(run),
                    json.dumps(list(run.duplicate_ids)),
                    json.dumps(list(run.notes)),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )
            db.executemany(
                "INSERT INTO outputs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        run.name,
                        i,
                        e.id,
                        json.dumps(e.input, ensure_ascii=False),
                        e.reference,
                        json.dumps(dict(e.tags), ensure_ascii=False),
                        o.text,
                        o.score,
                        None if o.correct is None else int(o.correct),
                        o.confidence,
                        o.logprob,
                        o.tokens,
                        o.latency_s,
                        o.error,
                        o.prompt_tokens,
                        o.finish_reason,
                    )
                    for i, (e, o) in enumerate(zip(run.examples, run.outputs, strict=True))
                ),
            )

    @_guarded
    def load_run(self, name: str) -> Run:
        """Load a stored run by name."""
        row = self._db.execute(
            "SELECT name, model, params, source, created_at, duplicate_ids, notes FROM runs WHERE name=?",
            (name,),
        ).fetchone()
        if row is None:
            known = ", ".join(info.name for info in self.list_runs()[:20]) or "none"
            raise StoreError(
                f"no run named {name!r} in the store",
                path=self.path,
                hint=f"stored runs: {known}; import one with `deltaeval import FILE --name NAME`",
            )
        try:
            return self._run_from(row)
        except (ValueError, TypeError) as exc:  # a stored JSON text altered by hand
            raise StoreError(
                f"stored run {name!r} is damaged ({type(exc).__name__}: {exc})",
                path=self.path,
                hint="import the run again with --overwrite, or " + DAMAGED_FIX,
            ) from None

    def _run_from(self, row: tuple[Any, ...]) -> Run:
        """The run whose ``runs`` row is ``row``, with its outputs."""
        name = row[0]
        examples: list[Example] = []
        outputs: list[Output] = []
        for r in self._db.execute(
            "SELECT example_id, input, reference, tags, text, score, correct, confidence, logprob, "
            "tokens, latency_s, error, prompt_tokens, finish_reason FROM outputs "
            "WHERE run_name=? ORDER BY position",
            (name,),
        ):
            examples.append(Example(id=r[0], input=json.loads(r[1]), reference=r[2], tags=json.loads(r[3])))
            outputs.append(
                Output(
                    example_id=r[0],
                    text=r[4],
                    score=r[5],
                    correct=None if r[6] is None else bool(r[6]),
                    confidence=r[7],
                    logprob=r[8],
                    tokens=r[9],
                    latency_s=r[10],
                    error=r[11],
                    prompt_tokens=r[12],
                    finish_reason=r[13],
                )
            )
        return Run(
            name=row[0],
            model=row[1],
            params=json.loads(row[2]),
            source=row[3],
            created_at=row[4],
            examples=tuple(examples),
            outputs=tuple(outputs),
            duplicate_ids=tuple(json.loads(row[5])),
            notes=tuple(json.loads(row[6])),
        )

    @_guarded
    def list_runs(self) -> list[RunInfo]:
        """Stored runs, in the order they were stored."""
        return [RunInfo(*r) for r in self._db.execute(self._info_query() + " ORDER BY rowid")]

    @_guarded
    def run_info(self, name: str) -> RunInfo | None:
        """A stored run's metadata, or None when no run has that name."""
        row = self._db.execute(self._info_query() + " WHERE name=?", (name,)).fetchone()
        return None if row is None else RunInfo(*row)

    def _info_query(self) -> str:
        columns = f"name, model, source, created_at, n, content_hash, {self._imported_at}"
        return f"SELECT {columns} FROM runs"

    @_guarded
    def delete_run(self, name: str) -> None:
        if not self.has_run(name):
            raise StoreError(f"no run named {name!r} in the store", path=self.path)
        with self._transaction() as db:
            db.execute("DELETE FROM runs WHERE name=?", (name,))

    # call cache -------------------------------------------------------------------------

    @_guarded
    def cache_get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Cached responses of many calls at once, by key (absent keys are left out)."""
        return {
            key: json.loads(response)
            for key, response in self._rows_by_key("SELECT key, response FROM calls", keys)
        }

    def _rows_by_key(self, select: str, keys: list[str]) -> Iterator[tuple[Any, ...]]:
        """Rows of ``select … WHERE key IN (…)`` for the distinct ``keys``, in chunks of 500."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            yield from self._db.execute(f"{select} WHERE key IN ({marks})", chunk)

    @_guarded
    def cache_get(self, key: str) -> dict[str, Any] | None:
        """The cached response of a model/judge call, or None."""
        row = self._db.execute("SELECT response FROM calls WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @_guarded
    def cache_put(
        self, key: str, *, backend: str, model: str, request: Any, response: dict[str, Any]
    ) -> None:
        """Record a completed call (committed at once, so a crash loses nothing finished).

        A read-only store records nothing."""
        if self.read_only:
            return
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO calls VALUES (?,?,?,?,?,?)",
                (
                    key,
                    backend,
                    model,
                    json.dumps(request, sort_keys=True, default=str),
                    json.dumps(response, sort_keys=True, default=str),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )

    # embeddings -------------------------------------------------------------------------

    @_guarded
    def embeddings_get_many(self, keys: list[str]) -> dict[str, Any]:
        """Cached embedding vectors (float32 numpy arrays) by key; absent keys are left out."""
        import numpy as np

        found: dict[str, Any] = {}
        for key, dim, blob in self._rows_by_key("SELECT key, dim, vector FROM embeddings", keys):
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.size == dim:
                found[key] = vector
        return found

    @_guarded
    def embeddings_put_many(self, items: list[tuple[str, str, Any]]) -> None:
        """Record (key, model, vector) embeddings in one committed transaction (none when read-only)."""
        if self.read_only:
            return
        import numpy as np

        rows = []
        for key, model, vector in items:
            data = np.ascontiguousarray(vector, dtype=np.float32)
            rows.append((key, model, int(data.size), data.tobytes()))
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?,?)", rows)

    # judgments --------------------------------------------------------------------------

    @_guarded
    def save_judgments(self, judgments: list[Judgment]) -> None:
        """Record judgments (committed at once); a judgment of the same judge, runs, example and
        order replaces the one stored before. A read-only store records nothing."""
        if not judgments or self.read_only:
            return
        try:
            self._insert_judgments(judgments)
        except UnicodeEncodeError:  # rolled back: store the texts with lone surrogates repaired
            self._insert_judgments([without_surrogates(j) for j in judgments])

    def _insert_judgments(self, judgments: list[Judgment]) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        j.judge,
                        j.run_a,
                        j.run_b,
                        j.example_id,
                        j.order,
                        None if j.label is None else json.dumps(j.label),
                        j.raw,
                        j.explanation,
                        j.error,
                        j.attempts,
                        j.prompt_tokens,
                        j.tokens,
                        j.latency_s,
                        j.cost,
                        now,
                    )
                    for j in judgments
                ),
            )

    @_guarded
    def load_judgments(
        self, *, judge: str | None = None, run_a: str | None = None, run_b: str | None = None
    ) -> list[Judgment]:
        """Stored judgments, optionally only those of one judge and/or run pair (in insertion order)."""
        where, args = [], []
        for column, value in (("judge", judge), ("run_a", run_a), ("run_b", run_b)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        query = (
            "SELECT example_id, judge, run_a, run_b, judge_order, label, raw, explanation, error, "
            "attempts, prompt_tokens, tokens, latency_s, cost FROM judgments"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY rowid"
        )
        return [
            Judgment(
                example_id=r[0],
                judge=r[1],
                run_a=r[2],
                run_b=r[3],
                order=r[4],
                label=None if r[5] is None else json.loads(r[5]),
                raw=r[6],
                explanation=r[7],
                error=r[8],
                attempts=r[9],
                prompt_tokens=r[10],
                tokens=r[11],
                latency_s=r[12],
                cost=r[13],
            )
            for r in self._db.execute(query, args)
        ]

    @_guarded
    def count_judgments(self) -> int:
        """How many judgments are stored."""
        return int(self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0])
