"""The run store: SQLite (WAL) holding runs, their outputs, judgments, and a cache of model/judge calls."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deltaeval.errors import StoreError
from deltaeval.types import Example, Judgment, Output, Run

DEFAULT_DIR = ".deltaeval"
DB_NAME = "store.sqlite"
STORE_ENV = "DELTAEVAL_STORE"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    params TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    n INTEGER NOT NULL,
    duplicate_ids TEXT NOT NULL,
    notes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outputs (
    run_name TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    example_id TEXT NOT NULL,
    input TEXT,
    reference TEXT,
    tags TEXT NOT NULL,
    text TEXT,
    score REAL,
    correct INTEGER,
    confidence REAL,
    logprob REAL,
    tokens INTEGER,
    latency_s REAL,
    error TEXT,
    prompt_tokens INTEGER,
    finish_reason TEXT,
    PRIMARY KEY (run_name, position)
);
CREATE UNIQUE INDEX IF NOT EXISTS outputs_by_id ON outputs (run_name, example_id);
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS judgments (
    judge TEXT NOT NULL,
    run_a TEXT NOT NULL,
    run_b TEXT NOT NULL,
    example_id TEXT NOT NULL,
    judge_order TEXT NOT NULL,
    label TEXT,
    raw TEXT,
    explanation TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    prompt_tokens INTEGER,
    tokens INTEGER,
    latency_s REAL,
    cost REAL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (judge, run_a, run_b, example_id, judge_order)
);
CREATE TABLE IF NOT EXISTS embeddings (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class RunInfo:
    """A stored run's metadata (without its outputs)."""

    name: str
    model: str
    source: str
    created_at: str
    n: int
    content_hash: str


def default_store_path() -> Path:
    """``$DELTAEVAL_STORE`` if set, else ``.deltaeval/store.sqlite`` in the working directory."""
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else Path(DEFAULT_DIR) / DB_NAME


class Store:
    """Runs and call cache in one SQLite file (WAL mode; safe for one writer, many readers).

    Examples
    --------
    >>> store = Store(tmp_path / "store.sqlite")  # doctest: +SKIP
    >>> store.save_run(run); store.load_run(run.name)  # doctest: +SKIP
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"cannot open the store: {exc}",
                path=self.path,
                hint=f"check the path and permissions, or set {STORE_ENV} / --store",
            ) from None
        version = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if version and int(version[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the store was written by a newer deltaeval (schema {version[0]})",
                path=self.path,
                hint="upgrade deltaeval",
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                yield self._db
        except sqlite3.Error as exc:
            raise StoreError(f"store write failed: {exc}", path=self.path) from None

    # runs -------------------------------------------------------------------------------

    def has_run(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM runs WHERE name=?", (name,)).fetchone() is not None

    def save_run(self, run: Run, *, overwrite: bool = False) -> None:
        """Store a run. An existing run of that name is an error unless ``overwrite``."""
        if not run.name or run.name.strip() != run.name:
            raise StoreError(
                f"invalid run name {run.name!r}",
                hint="use a non-empty name without spaces at the ends",
            )
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
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?)",
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

    def list_runs(self) -> list[RunInfo]:
        """Stored runs, oldest first."""
        return [
            RunInfo(*r)
            for r in self._db.execute(
                "SELECT name, model, source, created_at, n, content_hash FROM runs ORDER BY created_at, name"
            )
        ]

    def delete_run(self, name: str) -> None:
        if not self.has_run(name):
            raise StoreError(f"no run named {name!r} in the store", path=self.path)
        with self._transaction() as db:
            db.execute("DELETE FROM runs WHERE name=?", (name,))

    # call cache -------------------------------------------------------------------------

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

    def cache_get(self, key: str) -> dict[str, Any] | None:
        """The cached response of a model/judge call, or None."""
        row = self._db.execute("SELECT response FROM calls WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def cache_put(
        self, key: str, *, backend: str, model: str, request: Any, response: dict[str, Any]
    ) -> None:
        """Record a completed call (committed at once, so a crash loses nothing finished)."""
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

    def embeddings_get_many(self, keys: list[str]) -> dict[str, Any]:
        """Cached embedding vectors (float32 numpy arrays) by key; absent keys are left out."""
        import numpy as np

        found: dict[str, Any] = {}
        for key, dim, blob in self._rows_by_key("SELECT key, dim, vector FROM embeddings", keys):
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.size == dim:
                found[key] = vector
        return found

    def embeddings_put_many(self, items: list[tuple[str, str, Any]]) -> None:
        """Record (key, model, vector) embeddings in one committed transaction."""
        import numpy as np

        rows = []
        for key, model, vector in items:
            data = np.ascontiguousarray(vector, dtype=np.float32)
            rows.append((key, model, int(data.size), data.tobytes()))
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?,?)", rows)

    # judgments --------------------------------------------------------------------------

    def save_judgments(self, judgments: list[Judgment]) -> None:
        """Record judgments (committed at once); a judgment of the same judge, runs, example and
        order replaces the one stored before."""
        if not judgments:
            return
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

    def count_judgments(self) -> int:
        """How many judgments are stored."""
        return int(self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0])
