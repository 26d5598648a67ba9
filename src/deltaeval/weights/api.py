"""``compare_weights``: two checkpoints in, the JSON ``weights`` report out.

The checkpoints are streamed: for each matched pair one tensor is read from each side (and from
the base), compared, and dropped, never two models. A background thread reads the next pair while
the current one is compared, when the two pairs together hold at most the largest pair's tensors
plus :data:`PREFETCH_SLACK` bytes; worker threads (one per usable core, at most
:data:`MAX_WORKERS`) share the chunks of a large tensor. The maths is in
:mod:`deltaeval.analysis.weight_delta`, the pairing in :mod:`deltaeval.weights.match`, the reading
in :mod:`deltaeval.weights.formats`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from deltaeval.analysis import weight_delta as wd
from deltaeval.errors import InputError, UsageError
from deltaeval.threads import usable_cores
from deltaeval.weights.match import Matching, match_tensors, normalize_name

if TYPE_CHECKING:
    from deltaeval.progress import Progress

#: Version of the JSON ``weights`` report (docs/report-schema.md).
SCHEMA = "deltaeval.weights/1"
#: Below this share of either checkpoint's parameters matched, the two are different architectures
#: (an error unless ``allow_partial``).
MIN_MATCHED_SHARE = 0.5
#: Default largest relative error of the weights that the DARE estimate accepts.
DARE_TOLERANCE = 0.01
#: Most threads that share the chunks of one tensor (one per usable core up to this).
MAX_WORKERS = 4
#: The next pair is read while the current one is compared when both together hold at most the
#: largest pair's tensors plus this many bytes.
PREFETCH_SLACK = 64 << 20


def _open(source: Any, trust: bool, stack: contextlib.ExitStack) -> Any:
    """An open checkpoint: ``source`` itself when it already is one (has ``tensors`` and ``read``)."""
    if hasattr(source, "tensors") and hasattr(source, "read"):
        return source
    from deltaeval.weights.formats import open_checkpoint

    checkpoint = open_checkpoint(source, trust=trust)
    stack.callback(checkpoint.close)
    return checkpoint


def _tensors(checkpoint: Any) -> list[Any]:
    """The checkpoint's tensor list; an empty checkpoint is an input error, not an architecture."""
    metas = list(checkpoint.tensors())
    if not metas:
        raise InputError(
            "the checkpoint holds no tensors",
            path=getattr(checkpoint, "path", None),
            hint="give the model's weights file (or its folder)",
        )
    return metas


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape) if shape else 1


def _describe(checkpoint: Any, metas: list[Any]) -> dict[str, Any]:
    return {
        "path": str(getattr(checkpoint, "path", "")),
        "format": str(getattr(checkpoint, "format", "")),
        "tensors": len(metas),
        "parameters": sum(_size(tuple(m.shape)) for m in metas),
        "bytes": sum(int(getattr(m, "nbytes", 0)) for m in metas),
    }


def _hf(checkpoint: Any) -> Callable[[str], str | None] | None:
    helper = getattr(checkpoint, "hf_name", None)
    return helper if callable(helper) else None


def _check_architectures(
    matching: Matching, old_desc: dict[str, Any], new_desc: dict[str, Any], old_sizes: dict[str, int]
) -> None:
    """Raise when the two checkpoints do not look like versions of one architecture."""
    if matching.conflicts:
        c = matching.conflicts[0]
        more = f" (and {len(matching.conflicts) - 1} more)" if len(matching.conflicts) > 1 else ""
        raise InputError(
            f"different architectures: {c['old']!r} is {tuple(c['old_shape'])} in {old_desc['path']} but"
            f" {tuple(c['new_shape'])} in {new_desc['path']}{more}",
            hint="compare two versions of one model, or pass --allow-partial to compare what matches",
        )
    matched = sum(old_sizes[p.old] for p in matching.pairs)
    shares = [matched / d["parameters"] if d["parameters"] else 0.0 for d in (old_desc, new_desc)]
    if not matching.pairs or min(shares) < MIN_MATCHED_SHARE:
        raise InputError(
            f"different architectures: only {len(matching.pairs)} of {old_desc['tensors']} tensors of"
            f" {old_desc['path']} match one of {new_desc['path']}'s {new_desc['tensors']}"
            f" ({100 * min(shares):.0f}% of the parameters; at least {100 * MIN_MATCHED_SHARE:.0f}% needed)",
            hint="compare two versions of one model, or pass --allow-partial to compare what matches",
        )


def _read(checkpoint: Any, name: str, transposed: bool) -> np.ndarray:
    array = checkpoint.read(name)
    return array.T if transposed else array


@contextlib.contextmanager
def _task(progress: Progress | None, description: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A progress task's ``advance``. A task with a total shows at once; one without (matching by
    value, which may read nothing) at its first advance."""
    if progress is None:
        yield lambda: None
        return
    task: list[int] = [] if total is None else [progress.add_task(description, total=total)]

    def advance() -> None:
        if not task:
            task.append(progress.add_task(description, total=total))
        progress.advance(task[0], 1)

    try:
        yield advance
    finally:
        if task:
            progress.finish(task[0])


def compare_weights(
    old: Any,
    new: Any,
    base: Any = None,
    *,
    trust: bool = False,
    rank_energy: float = 0.9,
    allow_partial: bool = False,
    seed: int = 0,
    dare_tolerance: float = DARE_TOLERANCE,
    thresholds: wd.Thresholds | None = None,
    screen: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (checkpoint paths, or open checkpoints).

    Parameters
    ----------
    old, new, base:
        Checkpoint files (safetensors, GGUF, PyTorch, ONNX, spaCy, npz; see
        :func:`deltaeval.weights.formats.open_checkpoint`) or objects with ``tensors()`` and
        ``read(name)``. With ``base``, the two deltas ``old − base`` and ``new − base`` are compared
        (kinship) and each gets a DARE estimate.
    trust:
        Allow pickled PyTorch checkpoints that ``weights_only`` loading refuses.
    rank_energy:
        The share of a delta's energy whose rank is reported (``rank_at_energy``).
    allow_partial:
        Compare what matches even when the checkpoints look like different architectures.
    seed:
        Seed of the randomized spectra and the DARE draws.
    dare_tolerance:
        Largest relative error of the weights at which a DARE drop rate counts as safe.
    thresholds:
        Thresholds of the summary classification.
    screen:
        Skip the spectrum of a matrix whose delta is shown to be flat (noise-like; see
        :func:`deltaeval.analysis.weight_delta.tensor_delta`): ``False`` computes every spectrum.
    progress:
        Where to report progress (one step per tensor).

    Returns
    -------
    dict
        The JSON-ready report (``schema`` :data:`SCHEMA`; docs/report-schema.md).
    """
    if not 0 < rank_energy <= 1:
        raise UsageError(f"--rank-energy {rank_energy} is not in (0, 1]", hint="e.g. --rank-energy 0.9")
    if not dare_tolerance > 0:
        raise UsageError(f"the DARE tolerance {dare_tolerance} is not positive", hint="e.g. 0.01")
    thresholds = thresholds or wd.Thresholds()
    from deltaeval.threads import limit_blas

    with contextlib.ExitStack() as stack:
        stack.enter_context(limit_blas())  # BLAS pools that leave a core free (small matrices, many calls)
        ckpt_old = _open(old, trust, stack)
        ckpt_new = _open(new, trust, stack)
        ckpt_base = _open(base, trust, stack) if base is not None else None
        metas_old, metas_new = _tensors(ckpt_old), _tensors(ckpt_new)
        desc_old, desc_new = _describe(ckpt_old, metas_old), _describe(ckpt_new, metas_new)
        sizes_old = {m.name: _size(tuple(m.shape)) for m in metas_old}
        dtypes_old = {m.name: str(m.dtype) for m in metas_old}
        dtypes_new = {m.name: str(m.dtype) for m in metas_new}
        old_hf = _hf(ckpt_old)
        with _task(progress, "matching tensors by value", None) as tick:
            matching = match_tensors(
                metas_old,
                metas_new,
                old_hf_name=old_hf,
                new_hf_name=_hf(ckpt_new),
                read_old=ckpt_old.read,
                read_new=ckpt_new.read,
                on_read=tick,
            )
        if not allow_partial or not matching.pairs:
            _check_architectures(matching, desc_old, desc_new, sizes_old)
        base_of: dict[str, tuple[str, bool]] = {}
        desc_base = None
        metas_base: list[Any] = []
        if ckpt_base is not None:
            metas_base = _tensors(ckpt_base)
            desc_base = _describe(ckpt_base, metas_base)
            with _task(progress, "matching the base by value", None) as tick:
                base_matching = match_tensors(
                    metas_base,
                    metas_old,
                    old_hf_name=_hf(ckpt_base),
                    new_hf_name=old_hf,
                    read_old=ckpt_base.read,
                    read_new=ckpt_old.read,
                    on_read=tick,
                )
            if not allow_partial or not base_matching.pairs:
                sizes_base = {m.name: _size(tuple(m.shape)) for m in metas_base}
                _check_architectures(base_matching, desc_base, desc_old, sizes_base)
            base_of = {p.new: (p.old, p.transposed) for p in base_matching.pairs}

        rows: list[dict[str, Any]] = []
        pair_total = wd.PairSums()
        workers = max(1, min(MAX_WORKERS, usable_cores()))
        pool = stack.enter_context(ThreadPoolExecutor(workers, "deltaeval-weights")) if workers > 1 else None
        metas_by_name = {**{m.name: m for m in metas_new}, **{m.name: m for m in metas_old}}
        metas_base_by_name = {m.name: m for m in metas_base}

        def read(pair: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            return _read_pair(pair, ckpt_old, ckpt_new, ckpt_base, base_of)

        def cost(pair: Any) -> int:
            names = [pair.old, pair.new] + ([base_of[pair.old][0]] if pair.old in base_of else [])
            return sum(_resident_bytes(metas_by_name.get(n) or metas_base_by_name.get(n)) for n in names)

        with _task(progress, "comparing tensors", len(matching.pairs)) as tick:
            for pair, arrays in _prefetched(matching.pairs, read, cost):
                rows.append(
                    _compare_pair(
                        pair, *arrays, ckpt_old, ckpt_new, dtypes_old, dtypes_new,
                        old_hf, rank_energy=rank_energy, seed=seed, dare_tolerance=dare_tolerance,
                        thresholds=thresholds, pair_total=pair_total, pool=pool, workers=workers,
                        screen=screen,
                    )
                )  # fmt: skip
                del arrays  # before the next pair is read: at most the largest pair (plus a prefetch) held
                tick()

    summary = wd.classify(rows, thresholds)
    layers: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        layers.setdefault(row["layer"], []).append(row)
    layer_rows = [
        {"layer": name, **wd.aggregate(members)}
        for name, members in sorted(layers.items(), key=lambda kv: wd.layer_sort_key(kv[0]))
    ]
    overall = wd.aggregate(rows)
    for row in rows:
        row.pop("_sums", None)
    matching_json = matching.as_json()
    matched_size = sum(sizes_old[p.old] for p in matching.pairs)
    matching_json["parameters_matched"] = matched_size
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "old": desc_old,
        "new": desc_new,
        "base": desc_base,
        "settings": {
            "rank_energy": rank_energy,
            "ranks": list(wd.RANKS),
            "seed": seed,
            "allow_partial": allow_partial,
            "changed_entry": "|new - old| > eps * max(|old|, |new|), eps of the coarser stored float type"
            " (F64 2^-52, F32 2^-23, F16 2^-10, BF16 2^-7; integer and quantized types: F32's)",
            "spectrum": {
                "exact_max_dim": wd.EXACT_MAX_DIM,
                "exact": "eigenvalues of the Gram matrix of the delta (every singular value): float32"
                " products of row blocks of at most 2^20 entries, summed in float64",
                "randomized": f"randomized range finder, {wd.RANDOMIZED_K} vectors,"
                f" {wd.POWER_ITERATIONS} power iterations, seeded by the seed and the tensor name",
                "screen": (
                    f"matrices with a smaller side >= {wd.SCREEN_MIN_DIM}: r2 = (sum s^2)^2 / sum s^4"
                    f" estimated with {wd.SCREEN_VECTORS} seeded Gaussian vectors (|D^T D W|^2 / k);"
                    " no spectrum"
                    f" (method 'screened') when r2 * {thresholds.low_rank_energy:g}^2 / {wd.SCREEN_MARGIN:g}"
                    " exceeds max(max_low_rank, min_dim // 4): the delta then needs more singular values than"
                    " that for the low-rank energy share, so it is high-rank for the summary"
                )
                if screen
                else None,
            },
            "thresholds": wd.thresholds_dict(thresholds),
            "dare": {
                "rates": list(wd.DARE_RATES),
                "tolerance": dare_tolerance,
                "draw": "one uniform number per entry and delta, seeded by the seed and the tensor name;"
                " an entry is dropped at rate p when its number is below p (nested drops)",
            }
            if ckpt_base is not None
            else None,
        },
        "matching": matching_json,
        "summary": summary,
        "overall": overall,
        "layers": layer_rows,
        "tensors": rows,
        "kinship": None,
        "dare": None,
    }
    if ckpt_base is not None:
        with_base = sum(1 for r in rows if r.get("kinship") is not None)
        report["kinship"] = {"tensors": with_base, **pair_total.kinship()}
        report["dare"] = pair_total.dare(dare_tolerance)
    from deltaeval.jsonable import clean

    return clean(report)


def _resident_bytes(meta: Any) -> int:
    """Bytes of a tensor as a reader returns it (float32, or float64 when stored so)."""
    if meta is None:
        return 0
    wide = str(getattr(meta, "dtype", "")).upper() in ("F64", "FLOAT64", "DOUBLE", "TORCH.FLOAT64")
    return _size(tuple(meta.shape)) * (8 if wide else 4)


def _prefetched(
    items: list[Any], read: Callable[[Any], Any], cost: Callable[[Any], int]
) -> Iterator[tuple[Any, Any]]:
    """``(item, read(item))`` in order; the next item is read in a background thread while the
    caller works on the current one, when the two together cost at most the costliest item plus
    :data:`PREFETCH_SLACK` bytes (the caller drops each result before asking for the next)."""
    if not items:
        return
    limit = max(cost(item) for item in items) + PREFETCH_SLACK
    with ThreadPoolExecutor(1, "deltaeval-read") as reader:
        pending: Future[Any] | None = reader.submit(read, items[0])
        for k, item in enumerate(items):
            data = pending.result() if pending is not None else read(item)
            pending = None
            following = items[k + 1] if k + 1 < len(items) else None
            if following is not None and cost(item) + cost(following) <= limit:
                pending = reader.submit(read, following)
            yield item, data
            del data


def _read_pair(
    pair: Any, ckpt_old: Any, ckpt_new: Any, ckpt_base: Any, base_of: dict[str, tuple[str, bool]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The old, new (and base) tensors of one matched pair, as compared."""
    a = ckpt_old.read(pair.old)
    b = _read(ckpt_new, pair.new, pair.transposed)
    c = None
    if ckpt_base is not None and pair.old in base_of:
        base_name, base_transposed = base_of[pair.old]
        c = _read(ckpt_base, base_name, base_transposed)
    return a, b, c


def _compare_pair(
    pair: Any,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray | None,
    ckpt_old: Any,
    ckpt_new: Any,
    dtypes_old: dict[str, str],
    dtypes_new: dict[str, str],
    old_hf: Callable[[str], str | None] | None,
    *,
    rank_energy: float,
    seed: int,
    dare_tolerance: float,
    thresholds: wd.Thresholds,
    pair_total: wd.PairSums,
    pool: ThreadPoolExecutor | None,
    workers: int,
    screen: bool,
) -> dict[str, Any]:
    """One matched pair (read by :func:`_read_pair`) compared: its JSON row (with ``_sums`` for
    aggregation)."""
    if a.shape != b.shape:
        raise InputError(
            f"tensor {pair.old!r} reads as {a.shape} but {pair.new!r} as {b.shape}",
            path=getattr(ckpt_new, "path", None),
            hint="the two files hold different architectures; compare two versions of one model",
        )
    tolerance = wd.change_tolerance(dtypes_old[pair.old], dtypes_new[pair.new])
    try:
        result = wd.tensor_delta(
            a,
            b,
            tolerance=tolerance,
            rank_energy=rank_energy,
            seed=wd.tensor_seed(seed, pair.old),
            low_rank_energy=thresholds.low_rank_energy,
            max_low_rank=thresholds.max_low_rank,
            screen=screen,
            pool=pool,
            workers=workers,
        )
    except ValueError as exc:
        raise InputError(
            f"tensor {pair.old!r} / {pair.new!r}: {exc}",
            path=getattr(ckpt_old, "path", None),
            hint="check that both checkpoints hold finite weights",
        ) from exc
    canonical = normalize_name(pair.old, old_hf)
    row: dict[str, Any] = {
        "name": pair.old,
        "new_name": pair.new,
        "how": pair.how,
        "transposed": pair.transposed,
        "shape": list(a.shape),
        "dtype_old": dtypes_old[pair.old],
        "dtype_new": dtypes_new[pair.new],
        "layer": wd.layer_of(canonical),
        "module": wd.module_kind(canonical),
        **result,
        "kinship": None,
        "dare": None,
    }
    if c is not None and c.shape == a.shape:
        sums = wd.delta_pair_metrics(c, a, b, seed=wd.tensor_seed(seed, pair.old), tolerance=tolerance)
        pair_total.add(sums)
        row["kinship"] = sums.kinship()
        row["dare"] = {k: v["largest_p_within"] for k, v in sums.dare(dare_tolerance).items()}
    return row
