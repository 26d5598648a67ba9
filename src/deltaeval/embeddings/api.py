"""``compare_embeddings``: two embedding models on one retrieval task → the JSON ``embeddings`` report.

Texts are embedded once per model, role and text list and cached as ``.npy`` files under
``.deltaeval/embeddings/`` (keyed by the model spec and a hash of the texts), so a rerun is instant.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deltaeval.embeddings.models import BUILT_IN, Role, load_builtin, npy_pair, read_matrix, resolve_spec
from deltaeval.embeddings.retrieval import RetrievalTask, paired_rows, texts_hash
from deltaeval.errors import InputError, UsageError

SCHEMA = "deltaeval.embeddings"
SCHEMA_VERSION = 1
DEFAULT_CACHE = Path(".deltaeval") / "embeddings"
#: Texts embedded per progress update.
CHUNK = 64


def cache_file(cache_dir: Path, spec: str, role: Role, texts: list[str]) -> Path:
    """Where one model's embeddings of one text list are cached."""
    version = BUILT_IN[spec].version if spec in BUILT_IN else "0"
    key = hashlib.sha256(f"{spec}\0{version}\0{role}\0{texts_hash(texts)}".encode()).hexdigest()
    return cache_dir / f"{spec}-{role}-{key[:24]}.npy"


def _embed_with_progress(model: Any, texts: list[str], role: Role, *, quiet: bool) -> NDArray[np.float32]:
    """``model.embed(texts, role)`` in chunks of :data:`CHUNK` texts, with progress on stderr."""
    from deltaeval.progress import make_progress

    parts = []
    with make_progress(quiet=quiet or len(texts) <= CHUNK) as progress:
        task = progress.add_task(f"embedding {len(texts)} {role} texts", total=len(texts))
        for start in range(0, len(texts), CHUNK):
            parts.append(model.embed(texts[start : start + CHUNK], role))
            progress.advance(task, len(parts[-1]))
    return np.concatenate(parts) if parts else model.embed([], role)


def embed_cached(
    spec: str,
    texts: list[str],
    role: Role,
    *,
    cache_dir: Path | None,
    threads: int | None = None,
    quiet: bool = True,
) -> tuple[NDArray[np.float32], str]:
    """Embeddings of ``texts`` by the built-in model ``spec`` (from the cache when there), and the
    model's name (the same whether computed or read from the cache)."""
    spec = resolve_spec(spec)
    path = cache_file(cache_dir, spec, role, texts) if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            matrix = np.load(path, allow_pickle=False)
            if matrix.ndim == 2 and matrix.shape[0] == len(texts):
                return matrix, BUILT_IN[spec].description
        except (ValueError, OSError, EOFError):
            pass  # a damaged cache file is recomputed
    model = load_builtin(spec, threads)
    matrix = _embed_with_progress(model, texts, role, quiet=quiet)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            np.save(handle, matrix, allow_pickle=False)
        os.replace(tmp, path)
    return matrix, BUILT_IN[spec].description


def _side(
    spec: str, task: RetrievalTask | None, cache_dir: Path | None, threads: int | None, quiet: bool = True
) -> tuple[NDArray[np.float32], NDArray[np.float32], dict[str, Any]]:
    """One model's query and gallery matrices and its description (a built-in name wins over a folder
    of that name: give ``./NAME`` for the folder)."""
    pair = None if spec in BUILT_IN else npy_pair(spec)
    if pair is not None:
        queries, gallery = read_matrix(pair[0]), read_matrix(pair[1])
        if queries.shape[1] != gallery.shape[1]:
            raise InputError(
                f"queries have {queries.shape[1]} columns, the gallery ({pair[1]}) {gallery.shape[1]}",
                path=pair[0],
                hint="embed queries and gallery with the same model",
            )
        if task is not None:
            for path, matrix, expected, what in (
                (pair[0], queries, len(task.query_ids), "queries"),
                (pair[1], gallery, len(task.gallery_ids), "gallery items"),
            ):
                if matrix.shape[0] != expected:
                    raise InputError(
                        f"{matrix.shape[0]} rows for {expected} {what}",
                        path=path,
                        hint=f"give one row per {'query' if what == 'queries' else 'gallery item'}, in order",
                    )
        return queries, gallery, {"spec": spec, "model": "precomputed", "source": f"{pair[0]}, {pair[1]}"}
    if spec not in BUILT_IN:
        raise UsageError(
            f"unknown embedding model {spec!r}",
            hint="use one of " + ", ".join(BUILT_IN) + ", QUERIES.npy,GALLERY.npy, or a folder with both",
        )
    if task is None or not task.query_texts:
        raise UsageError(f"{spec} needs texts to embed", hint="give --pairs FILE, or --queries and --gallery")
    queries, name = embed_cached(
        spec, task.query_texts, "query", cache_dir=cache_dir, threads=threads, quiet=quiet
    )
    gallery, _ = embed_cached(
        spec, task.gallery_texts, "passage", cache_dir=cache_dir, threads=threads, quiet=quiet
    )
    return queries, gallery, {"spec": spec, "model": name, "source": "built-in"}


def compare_embeddings(
    old: str,
    new: str,
    task: RetrievalTask | None = None,
    *,
    cache_dir: Path | None = DEFAULT_CACHE,
    threads: int | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    maps: bool = True,
    test_fraction: float = 0.5,
    quiet: bool = True,
) -> dict[str, Any]:
    """The JSON report comparing two embedding models on ``task``.

    Parameters
    ----------
    old, new:
        A built-in model spec (:data:`deltaeval.embeddings.models.BUILT_IN`), ``QUERIES.npy,GALLERY.npy``
        or a folder holding ``queries.npy`` and ``gallery.npy``.
    task:
        Queries, gallery and relevance; None only when both sides are ``.npy`` pairs, read as paired
        rows (query ``i`` relevant to gallery row ``i``).
    cache_dir:
        Where embeddings are cached (None: no cache).
    n_boot, level, seed, maps, test_fraction:
        See :func:`deltaeval.analysis.representation.compare_spaces`.
    quiet:
        Hide the progress of embedding texts (shown on stderr otherwise).

    Raises
    ------
    InputError, UsageError
        Bad files, mismatched rows, unknown models, different dimensions with ``maps=False``.
    """
    from deltaeval import __version__
    from deltaeval.analysis.representation import compare_spaces
    from deltaeval.jsonable import clean

    old_q, old_g, old_info = _side(old, task, cache_dir, threads, quiet)
    new_q, new_g, new_info = _side(new, task, cache_dir, threads, quiet)
    if task is None:
        if old_q.shape[0] != old_g.shape[0]:
            raise InputError(
                f"{old_q.shape[0]} query rows and {old_g.shape[0]} gallery rows, and no relevance given",
                path=old,
                hint="give --pairs or --queries/--gallery files, or as many gallery rows as query rows",
            )
        task = paired_rows(
            old_q.shape[0], "paired rows of the .npy files (query i relevant to gallery item i)"
        )
    for side, q, g in (("new", new_q, new_g), ("old", old_q, old_g)):
        if q.shape[0] != len(task.query_ids) or g.shape[0] != len(task.gallery_ids):
            raise InputError(
                f"the {side} model has {q.shape[0]} query and {g.shape[0]} gallery rows, the task"
                f" {len(task.query_ids)} and {len(task.gallery_ids)}",
                path=new if side == "new" else old,
                hint="give both models the same queries and gallery, rows in the same order",
            )
    if old_q.shape[1] != new_q.shape[1] and not maps:
        raise UsageError(
            f"the old embeddings have {old_q.shape[1]} dimensions and the new {new_q.shape[1]}:"
            " new queries cannot search the old gallery without a map",
            hint="drop --no-map to fit one",
        )
    section = compare_spaces(
        old_q,
        old_g,
        new_q,
        new_g,
        task.relevant,
        n_boot=n_boot,
        level=level,
        seed=seed,
        maps=maps,
        test_fraction=test_fraction,
    )
    notes = list(task.notes)
    if maps and section["maps"] is None:
        notes.append("fewer than 10 queries: no learned map was fitted")
    return clean(
        {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "deltaeval_version": __version__,
            "old": old_info,
            "new": new_info,
            "task": task.describe(),
            "embeddings": section,
            "notes": notes,
        }
    )
