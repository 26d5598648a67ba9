"""The store's schema, the check that a file opened as a store holds it, and SQLite errors as
StoreErrors that name the store and the fix."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

from deltaeval.errors import StoreError

STORE_ENV = "DELTAEVAL_STORE"
#: 2: ``runs.imported_at`` (when the run was stored; NULL for runs stored before).
SCHEMA_VERSION = 2

SCHEMA = """
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
    notes TEXT NOT NULL,
    imported_at TEXT
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

#: The columns of tables that an older schema version laid out differently, and the statement that
#: brings each up to date. A store of that version opens (and is migrated when writable).
OLDER_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": (
        "name",
        "model",
        "params",
        "source",
        "created_at",
        "content_hash",
        "n",
        "duplicate_ids",
        "notes",
    ),
}
MIGRATIONS: dict[str, str] = {"runs": "ALTER TABLE runs ADD COLUMN imported_at TEXT"}

DAMAGED_FIX = (
    "restore the store from a backup, or delete it to start afresh (its runs and cached calls are "
    f"lost), or pass --store FILE (or set {STORE_ENV}) for another store"
)
READ_ONLY_FIX = "make the store file and its folder writable, or pass --store FILE for a writable store"
FOREIGN_FIX = "pass --store with a deltaeval store file, or move this file away"


@functools.cache
def expected_sql() -> dict[str, str]:
    """The ``CREATE TABLE`` statement of each table of the schema."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(SCHEMA)
        return dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type='table'").fetchall())
    finally:
        db.close()


@functools.cache
def expected_columns() -> dict[str, tuple[str, ...]]:
    """The columns of each table of the schema, in order."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(SCHEMA)
        return table_columns(db)
    finally:
        db.close()


def table_columns(db: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
    """The columns of each table of ``db`` (SQLite's own tables aside), in order."""
    query = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    return {
        table: tuple(row[0] for row in db.execute("SELECT name FROM pragma_table_info(?)", (table,)))
        for (table,) in db.execute(query).fetchall()
    }


def check_schema(db: sqlite3.Connection, path: Path) -> list[str]:
    """The schema's tables that ``db`` lacks (all of them for a new, empty file).

    Raises StoreError when ``db`` holds tables but is not a deltaeval store, when its schema
    version is not a number or is newer than this deltaeval's, or when a table has been altered
    (its columns differ from the schema's).
    """
    found = table_columns(db)
    expected = expected_columns()
    if not found:
        return list(expected)
    if found.get("meta") != expected["meta"]:
        raise StoreError(
            "not a deltaeval store: it holds the tables " + ", ".join(sorted(found)),
            path=path,
            hint=FOREIGN_FIX,
        )
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    version = row[0] if row else None
    if not (isinstance(version, str) and version.isdigit()):
        raise StoreError(
            f"the store's schema_version is {version!r}, not a version number", path=path, hint=DAMAGED_FIX
        )
    if int(version) > SCHEMA_VERSION:
        raise StoreError(
            f"the store was written by a newer deltaeval (schema {version})",
            path=path,
            hint="upgrade deltaeval",
        )
    for table, columns in found.items():
        older = int(version) < SCHEMA_VERSION and columns == OLDER_COLUMNS.get(table)
        if table in expected and columns != expected[table] and not older:
            raise StoreError(
                f"the store's table {table!r} has been altered: its columns are "
                f"({', '.join(columns)}), deltaeval expects ({', '.join(expected[table])})",
                path=path,
                hint=DAMAGED_FIX,
            )
    return [table for table in expected if table not in found]


def outdated_tables(db: sqlite3.Connection) -> list[str]:
    """The tables of ``db`` laid out by an older schema version (see ``OLDER_COLUMNS``)."""
    found = table_columns(db)
    return [table for table, columns in OLDER_COLUMNS.items() if found.get(table) == columns]


def migrate(db: sqlite3.Connection) -> None:
    """Bring a checked store's tables up to this schema version (inside the caller's transaction)."""
    for table in outdated_tables(db):
        db.execute(MIGRATIONS[table])
    db.execute(
        "UPDATE meta SET value=? WHERE key='schema_version' AND CAST(value AS INTEGER) < ?",
        (str(SCHEMA_VERSION), SCHEMA_VERSION),
    )


def may_be_read_only(exc: sqlite3.OperationalError, path: Path) -> bool:
    """Whether opening ``path`` for writing failed because the file or its folder is read-only."""
    text = str(exc)
    return path.is_file() and ("readonly" in text or "unable to open" in text)


def store_error(exc: sqlite3.Error, path: Path, *, opening: bool = False) -> StoreError:
    """A StoreError for an SQLite error, naming the store file and what to do."""
    text = str(exc)
    if "readonly" in text:
        message, hint = f"the store is read-only ({text})", READ_ONLY_FIX
    elif "locked" in text or "busy" in text:
        message = f"the store is busy ({text})"
        hint = "wait for the other deltaeval command using it to finish, or pass --store FILE"
    elif "not a database" in text:
        message, hint = f"the store is not an SQLite database ({text})", FOREIGN_FIX
    elif any(sign in text for sign in ("malformed", "no such", "no column", "corrupt")):
        message, hint = f"the store is damaged ({text})", DAMAGED_FIX
    else:
        message = f"{'cannot open the store' if opening else 'store error'}: {text}"
        hint = f"check the path and permissions, or set {STORE_ENV} / --store"
    return StoreError(message, path=path, hint=hint)
