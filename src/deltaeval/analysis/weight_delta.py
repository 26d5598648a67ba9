"""What changed between two weight tensors, and what kind of update a set of changes looks like.

Pure numpy; no file is read here. Every sum is accumulated in float64 over row blocks of the
two tensors (one block of the delta at a time), so comparing two tensors needs the two tensors
and a few megabytes, never a float64 copy of either.

Per tensor (old ``W``, new ``W'``, delta ``Δ = W' − W``):

* ``rel_change`` = ‖Δ‖_F / ‖W‖_F; ``cosine`` between ``W`` and ``W'`` as flat vectors;
  ``max_abs_change`` = max |Δ|;
* ``changed_share``: share of entries with ``|Δ| > ε · max(|w|, |w'|)``, ε the machine epsilon
  of the coarser stored float type of the two (:func:`dtype_epsilon`): a change smaller than the
  stored type can hold is not counted;
* ``sign_agreement``: share of entries with ``sign(w) == sign(w')`` (zero is its own sign);
* for tensors with two or more dimensions (viewed as ``shape[0] × rest``), the spectrum of Δ:
  the share of ‖Δ‖_F² in its top-r singular values for r in :data:`RANKS`, the smallest r that
  reaches a given share of the energy, and the numerical rank: the smallest r ≤ 64 after which
  the squared singular values drop by :data:`GAP_RATIO` with :attr:`Thresholds.low_rank_energy`
  of the energy before it (an exactly low-rank delta, above rounding noise), else the smallest r
  reaching that share. Matrices whose smaller side is at most
  :data:`EXACT_MAX_DIM` get every singular value (eigenvalues of ΔᵀΔ: float32 products of row
  blocks of at most :data:`BLOCK_ELEMENTS` entries, summed in float64);
  larger ones get the top :data:`RANDOMIZED_K` from a seeded randomized range finder with
  :data:`POWER_ITERATIONS` power iterations (Halko, Martinsson & Tropp 2011).

The screen (on by default, matrices whose smaller side is at least :data:`SCREEN_MIN_DIM`) skips
the spectrum of a flat, noise-like delta, whose spectrum the summary cannot need. In the same pass
as the sums it estimates ``r2 = (Σσ²)² / Σσ⁴`` (Σσ⁴ = ‖ΔᵀΔ‖_F², by Hutchinson's estimator
‖ΔᵀΔΩ‖_F²/k with k = :data:`SCREEN_VECTORS` seeded Gaussian vectors). A delta holding a share e
of its energy in r singular values has Σσ⁴ ≥ e²(Σσ²)²/r, so r ≥ e²·r2: when
e²·r2 / :data:`SCREEN_MARGIN` exceeds ``max(max_low_rank, min_dim // 4)`` for e =
``low_rank_energy``, the delta's numerical rank lies above every rank the summary tells apart (not
low-rank; high-rank), and the spectrum is reported as ``method: "screened"`` with those lower
bounds (``rank_above``, ``rank_at_energy_above``) and no ``top_share``. The margin covers the
estimate's error: to screen a delta whose 99.9% rank is r (≥ 64), Σσ⁴ has to be underestimated
1.5-fold; with its energy spread evenly over those r values that is a chi-square with 8r degrees
of freedom falling to 2/3 of its mean (7·10⁻¹⁰ at r = 64, less for larger r).

The per-entry figures come from one pass over chunks of :data:`CHUNK_ELEMENTS` entries (cache
sized; scratch arrays reused): the chunk cast once to float64 for four BLAS dot products, the
delta, changed-entry, largest-change and sign counts in the stored precision, the screen's two
small products. Threads may share a tensor's chunks; the chunk sums are added in chunk order, so
the figures do not depend on them.

:func:`classify` turns a set of per-tensor results into a plain-language summary; its thresholds
are the fields of :class:`Thresholds`. :func:`delta_pair_metrics` measures how related two
fine-tunes of one base are (kinship) and how much of each delta survives DARE-style dropping.
"""

from __future__ import annotations

import math
import re
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: Ranks whose share of the delta's energy is reported.
RANKS: tuple[int, ...] = (1, 4, 8, 16, 64)
#: Matrices whose smaller side is at most this get an exact spectrum; larger ones a randomized one.
EXACT_MAX_DIM = 1024
#: Singular values a randomized spectrum finds (the largest rank reported, plus oversampling).
RANDOMIZED_K = 80
#: Power iterations of the randomized range finder.
POWER_ITERATIONS = 2
#: Elements of one row block (8 MB of float64): the memory a comparison adds to the two tensors.
BLOCK_ELEMENTS = 1 << 20
#: A drop of the squared singular values by this factor ends a delta's numerical rank (``_spectrum``).
GAP_RATIO = 1e-3
#: Elements of one chunk of the per-entry sums (512 KB of float32): its scratch arrays stay in cache.
CHUNK_ELEMENTS = 1 << 17
#: Random vectors of the screen that skips the spectrum of a flat (noise-like) delta.
SCREEN_VECTORS = 8
#: The screen's margin for the error of its estimate (see :func:`tensor_delta`).
SCREEN_MARGIN = 1.5
#: Matrices whose smaller side is below this are never screened (their spectrum is cheap).
SCREEN_MIN_DIM = 128
#: Drop rates of the DARE estimate.
DARE_RATES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)

_EPSILON = {
    "F64": 2.0**-52,
    "FLOAT64": 2.0**-52,
    "DOUBLE": 2.0**-52,
    "F32": 2.0**-23,
    "FLOAT32": 2.0**-23,
    "FLOAT": 2.0**-23,
    "F16": 2.0**-10,
    "FLOAT16": 2.0**-10,
    "HALF": 2.0**-10,
    "BF16": 2.0**-7,
    "BFLOAT16": 2.0**-7,
}


def dtype_epsilon(dtype: str) -> float:
    """Machine epsilon of a stored float type (``F32``, ``BF16``, ``float16``…).

    Integer and block-quantized types (``int8``, ``Q4_1``…) are compared after dequantization to
    float32, so they get float32's epsilon: any change of a dequantized value counts.
    """
    return _EPSILON.get(dtype.upper().replace("TORCH.", ""), 2.0**-23)


def change_tolerance(dtype_old: str, dtype_new: str) -> float:
    """ε of ``changed_share``: the coarser of the two stored types' epsilons."""
    return max(dtype_epsilon(dtype_old), dtype_epsilon(dtype_new))


def tensor_seed(seed: int, name: str) -> list[int]:
    """Seed of a tensor's random draws: the run's seed and the tensor's name (order-free)."""
    return [seed, zlib.crc32(name.encode("utf-8", "surrogatepass"))]


def _matrix(x: np.ndarray) -> np.ndarray:
    """A 2-D view: ``shape[0] × rest`` (a vector is one row, a scalar one entry)."""
    if x.ndim == 2:
        return x
    if x.ndim == 0:
        return x.reshape(1, 1)
    if x.ndim == 1:
        return x.reshape(1, -1)
    return x.reshape(x.shape[0], -1)


def _row_blocks(rows: int, cols: int) -> Iterator[slice]:
    step = max(1, BLOCK_ELEMENTS // max(cols, 1))
    for start in range(0, rows, step):
        yield slice(start, min(rows, start + step))


def _block_delta(a: np.ndarray, b: np.ndarray, rows: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o = np.asarray(a[rows], dtype=np.float64)
    n = np.asarray(b[rows], dtype=np.float64)
    return o, n, n - o


def _delta_product(a: np.ndarray, b: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Δ @ right, block by block."""
    out = np.empty((a.shape[0], right.shape[1]), dtype=np.float64)
    for rows in _row_blocks(*a.shape):
        out[rows] = _block_delta(a, b, rows)[2] @ right
    return out


def _delta_t_product(a: np.ndarray, b: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Δᵀ @ left, block by block."""
    out = np.zeros((a.shape[1], left.shape[1]), dtype=np.float64)
    for rows in _row_blocks(*a.shape):
        out += _block_delta(a, b, rows)[2].T @ left[rows]
    return out


def _randomized_singular_values(a: np.ndarray, b: np.ndarray, seed: list[int]) -> np.ndarray:
    """The top :data:`RANDOMIZED_K` singular values of ``b − a`` (randomized range finder)."""
    k = min(RANDOMIZED_K, *a.shape)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(_delta_product(a, b, rng.standard_normal((a.shape[1], k))))
    for _ in range(POWER_ITERATIONS):
        z, _ = np.linalg.qr(_delta_t_product(a, b, q))
        q, _ = np.linalg.qr(_delta_product(a, b, z))
    small = _delta_t_product(a, b, q).T  # Qᵀ Δ, k × columns
    return np.linalg.svd(small, compute_uv=False)


def _spectrum(
    squared: np.ndarray,
    energy: float,
    *,
    exact: bool,
    rank_energy: float,
    low_rank_energy: float,
    shape: tuple,
) -> dict[str, Any]:
    """Energy shares from squared singular values (largest first) and the delta's total energy."""
    squared = np.clip(np.sort(squared)[::-1], 0.0, None)
    if energy <= 0:
        return {"method": "exact" if exact else "randomized", "top_share": {str(r): 0.0 for r in RANKS}}
    cumulative = np.minimum(np.cumsum(squared) / energy, 1.0)

    def share(r: int) -> float:
        return float(cumulative[min(r, len(cumulative)) - 1])

    def reach(level: float) -> int | None:
        hit = np.nonzero(cumulative >= level - 1e-12)[0]
        limit = len(cumulative) if exact else min(len(cumulative), max(RANKS))
        return int(hit[0]) + 1 if len(hit) and hit[0] < limit else None

    def gap() -> int | None:
        """The smallest r ≤ max(RANKS) past which the squared singular values drop by GAP_RATIO,
        with ``low_rank_energy`` of the energy in the first r: an exactly low-rank delta (a merged
        LoRA) whose last directions carry little energy but lie far above the rounding noise."""
        top = squared[: max(RANKS) + 1]
        for r in range(1, len(top)):
            if cumulative[r - 1] >= low_rank_energy - 1e-12 and top[r] <= GAP_RATIO * top[r - 1]:
                return r
        return None

    spectrum: dict[str, Any] = {
        "method": "exact" if exact else "randomized",
        "top_share": {str(r): round(share(r), 6) for r in RANKS},
        "rank_at_energy": reach(rank_energy),
        "numerical_rank": gap() or reach(low_rank_energy),
        "min_dim": int(min(shape)),
    }
    if not exact:
        spectrum["searched"] = int(min(max(RANKS), len(cumulative)))
    return spectrum


@dataclass
class _Sums:
    """Float64 sums of one tensor pair, kept to aggregate layers and the whole model."""

    size: int = 0
    dd: float = 0.0
    oo: float = 0.0
    nn: float = 0.0
    on: float = 0.0
    max_abs: float = 0.0
    changed: int = 0
    same_sign: int = 0

    def add(self, other: _Sums) -> None:
        self.size += other.size
        self.dd += other.dd
        self.oo += other.oo
        self.nn += other.nn
        self.on += other.on
        self.max_abs = max(self.max_abs, other.max_abs)
        self.changed += other.changed
        self.same_sign += other.same_sign

    def metrics(self) -> dict[str, Any]:
        """The per-tensor (or aggregated) figures of these sums."""
        return {
            "size": self.size,
            "rel_change": _ratio(math.sqrt(self.dd), math.sqrt(self.oo)),
            "cosine": _ratio(self.on, math.sqrt(self.oo * self.nn)),
            "max_abs_change": self.max_abs,
            "changed_share": _ratio(self.changed, self.size),
            "sign_agreement": _ratio(self.same_sign, self.size),
            "delta_norm": math.sqrt(self.dd),
            "old_norm": math.sqrt(self.oo),
        }


def _ratio(a: float, b: float) -> float | None:
    if b == 0:
        return 0.0 if a == 0 else None
    return a / b


class _Buffers:
    """Scratch arrays of one worker, reused for every chunk (no page faults per chunk)."""

    def __init__(self, elements: int, work: type) -> None:
        self.work = work
        self.x = np.empty((3, elements), dtype=np.float64)  # old, new, delta (then old·new) in float64
        self.d = np.empty(elements, dtype=work)
        self.t1 = np.empty(elements, dtype=work)
        self.t2 = np.empty(elements, dtype=work)
        self.mask = np.empty(elements, dtype=bool)


_LOCAL = threading.local()


def _buffers(elements: int, work: type) -> _Buffers:
    """This thread's scratch arrays, kept from one tensor to the next (grown when too small)."""
    if elements > CHUNK_ELEMENTS:  # a row wider than a chunk: not kept
        return _Buffers(elements, work)
    kept: dict[type, _Buffers] = _LOCAL.__dict__.setdefault("buffers", {})
    if work not in kept or kept[work].d.size < elements:
        kept[work] = _Buffers(CHUNK_ELEMENTS, work)
    return kept[work]


def _chunk_sums(
    a: np.ndarray, b: np.ndarray, tolerance: float, omega: np.ndarray | None, buf: _Buffers
) -> tuple[float, float, float, float, float, int, int, np.ndarray | None]:
    """(dd, oo, nn, on, max |Δ|, changed, same sign, ΔᵀΔΩ) of one row block, in few passes: the
    block cast once to float64 (exact) for the four BLAS dot products, the delta, the changed-entry
    and sign counts in the stored precision, ``ΔᵀΔΩ`` (the screen) as two small products."""
    n = a.size
    shape = a.shape
    x0, x1, x2 = (row[:n].reshape(shape) for row in buf.x)
    d, t1, t2, mask = (arr[:n].reshape(shape) for arr in (buf.d, buf.t1, buf.t2, buf.mask))
    np.subtract(b, a, out=d)
    np.copyto(x0, a)
    np.copyto(x1, b)
    np.copyto(x2, d)
    f0, f1, f2 = buf.x[0, :n], buf.x[1, :n], buf.x[2, :n]
    dd, oo, nn, on = float(f2 @ f2), float(f0 @ f0), float(f1 @ f1), float(f0 @ f1)
    # same sign: old·new > 0; a product of 0 (a zero, or an underflow) is decided by np.sign of the
    # two values (an overflow keeps its sign)
    with np.errstate(over="ignore", under="ignore"):
        np.multiply(a, b, out=t1)
    same = int(np.count_nonzero(np.greater(t1, 0, out=mask)))
    zeros = n - same - int(np.count_nonzero(np.less(t1, 0, out=mask)))
    if zeros:
        at = np.flatnonzero(t1 == 0)
        same += int(np.count_nonzero(np.sign(f0[at]) == np.sign(f1[at])))
    # changed: |Δ| > ε·max(|old|, |new|), the same operations as the definition in the stored precision
    np.abs(a, out=t1)
    np.abs(b, out=t2)
    np.maximum(t1, t2, out=t1)
    np.multiply(t1, buf.work(tolerance), out=t1)
    np.abs(d, out=t2)
    largest = float(t2.max()) if n else 0.0
    np.greater(t2, t1, out=mask)
    changed = int(np.count_nonzero(mask))
    screen = None
    if omega is not None:
        screen = (d.T @ (d @ omega)).astype(np.float64)
    return dd, oo, nn, on, largest, changed, same, screen


def _chunks(rows: int, cols: int) -> list[slice]:
    step = max(1, CHUNK_ELEMENTS // max(cols, 1))
    return [slice(start, min(rows, start + step)) for start in range(0, rows, step)]


def _identical(a: np.ndarray, b: np.ndarray, blocks: list[slice]) -> bool:
    """Equal values (NaN never is); a moved tensor usually differs in its first 1,024 values."""
    if not np.array_equal(a.flat[:1024], b.flat[:1024]):
        return False
    return all(np.array_equal(a[block], b[block]) for block in blocks)


def _screen_bound(r2: float, energy_level: float) -> int:
    """The largest rank r for which "``energy_level`` of the energy in r singular values" is ruled
    out by an estimated ``(Σσ²)²/Σσ⁴`` of ``r2``, with the margin :data:`SCREEN_MARGIN` for the
    estimate's error: holding a share e of Σσ² in r values forces Σσ⁴ ≥ e²(Σσ²)²/r, so r ≥ e²·r2."""
    return math.ceil(r2 * energy_level * energy_level / SCREEN_MARGIN) - 1


def tensor_delta(
    old: np.ndarray,
    new: np.ndarray,
    *,
    tolerance: float = 2.0**-23,
    rank_energy: float = 0.9,
    seed: list[int] | None = None,
    low_rank_energy: float | None = None,
    max_low_rank: int | None = None,
    screen: bool = True,
    pool: Executor | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Metrics of ``new − old`` (same shape; see the module docstring).

    ``screen``: skip the spectrum of a matrix whose delta is shown (with the margin
    :data:`SCREEN_MARGIN`) to be flat (module docstring). ``pool`` with ``workers`` threads: they
    share the chunks of a large tensor (the figures do not depend on it: the chunks' sums are added
    in chunk order).

    Returns the figures as a JSON-ready dict, ``spectrum`` (``None`` for vectors) and ``_sums``
    (a :class:`_Sums`, for aggregation; drop it before writing JSON).
    """
    th = Thresholds()
    low_rank_energy = th.low_rank_energy if low_rank_energy is None else low_rank_energy
    max_low_rank = th.max_low_rank if max_low_rank is None else max_low_rank
    a, b = _matrix(old), _matrix(new)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {old.shape} and {new.shape}")
    rows, cols = a.shape
    min_dim = min(rows, cols)
    is_matrix = old.ndim >= 2 and min_dim > 1
    sums = _Sums(size=int(a.size))
    work = np.float64 if np.float64 in (a.dtype, b.dtype) else np.float32
    # the screen: only where it could rule out every rank the summary distinguishes
    floor_rank = max(max_low_rank, min_dim // 4)
    screening = screen and is_matrix and min_dim >= SCREEN_MIN_DIM
    if screening or not (a.flags.c_contiguous and b.flags.c_contiguous):
        x, y = a, b  # row blocks (the screen multiplies them; a transposed view is not copied)
        blocks = _chunks(rows, cols)
    else:
        x, y = a.reshape(-1), b.reshape(-1)  # flat chunks of contiguous tensors
        blocks = _chunks(x.size, 1)
    identical = _identical(x, y, blocks)
    omega = None
    if screening and not identical:
        rng = np.random.default_rng([*(seed or [0]), 3])
        omega = rng.standard_normal((cols, SCREEN_VECTORS)).astype(work)
    size = max(x[blk].size for blk in blocks) if blocks else 0

    def run(part: list[slice]) -> list[tuple]:
        buf = _buffers(size, work)
        if identical:
            out = []
            for blk in part:
                f0 = buf.x[0, : x[blk].size]
                np.copyto(f0.reshape(x[blk].shape), x[blk])
                out.append((float(f0 @ f0),))
            return out
        return [_chunk_sums(x[blk], y[blk], tolerance, omega, buf) for blk in part]

    if pool is not None and workers > 1 and len(blocks) >= 2 * workers:
        parts = [blocks[i::workers] for i in range(workers)]
        done = [f.result() for f in [pool.submit(run, p) for p in parts]]
        results: list[tuple] = [()] * len(blocks)
        for i, part in enumerate(done):
            results[i::workers] = part
    else:
        results = run(blocks)
    z = np.zeros((cols, SCREEN_VECTORS)) if omega is not None else None
    for r in results:  # in block order: the same sums whatever the threads
        if identical:
            sums.oo += r[0]
            continue
        sums.dd += r[0]
        sums.oo += r[1]
        sums.nn += r[2]
        sums.on += r[3]
        sums.max_abs = max(sums.max_abs, r[4])
        sums.changed += r[5]
        sums.same_sign += r[6]
        if z is not None:
            z += r[7]
    if identical:
        sums.nn = sums.on = sums.oo
        sums.same_sign = sums.size
    # a NaN or an infinity makes a float64 sum of squares NaN or infinite (float32 squares cannot overflow it)
    if not (math.isfinite(sums.oo) and math.isfinite(sums.nn)):
        raise ValueError("a value is NaN or infinite")
    result = sums.metrics()
    result["spectrum"] = None
    if is_matrix:
        if z is not None and sums.dd > 0:
            # (Σσ²)² / Σσ⁴ with Σσ⁴ = ‖ΔᵀΔ‖_F² estimated as ‖ΔᵀΔΩ‖_F² / k (Hutchinson)
            fourth = float(np.einsum("ij,ij->", z, z)) / SCREEN_VECTORS
            r2 = sums.dd * sums.dd / fourth if fourth > 0 else 0.0  # 0: no screen
            if math.isfinite(r2) and _screen_bound(r2, low_rank_energy) >= floor_rank:
                result["spectrum"] = {
                    "method": "screened",
                    "top_share": None,
                    "rank_at_energy": None,
                    "numerical_rank": None,
                    "min_dim": int(min_dim),
                    "effective_rank": round(r2, 3),
                    "rank_above": _screen_bound(r2, low_rank_energy),
                    "rank_at_energy_above": _screen_bound(r2, rank_energy),
                }
        if result["spectrum"] is None:
            result["spectrum"] = _full_spectrum(
                a, b, sums.dd, seed or [0], rank_energy=rank_energy, low_rank_energy=low_rank_energy
            )
    result["_sums"] = sums
    return result


def _full_spectrum(
    old: np.ndarray,
    new: np.ndarray,
    energy: float,
    seed: list[int],
    *,
    rank_energy: float,
    low_rank_energy: float,
) -> dict[str, Any]:
    """The spectrum of ``new − old`` (2-D): every singular value (eigenvalues of the Gram matrix of
    the smaller side) or the top :data:`RANDOMIZED_K` (randomized range finder)."""
    a, b = (old.T, new.T) if old.shape[0] < old.shape[1] else (old, new)
    rows, cols = a.shape
    exact = cols <= EXACT_MAX_DIM
    if energy <= 0:
        squared = np.zeros(cols if exact else 1)
    elif exact:
        work = np.float64 if np.float64 in (a.dtype, b.dtype) else np.float32
        gram = np.zeros((cols, cols), dtype=np.float64)
        for block in _row_blocks(rows, cols):
            d = np.subtract(b[block], a[block], dtype=work)
            gram += d.T @ d  # float32 product per block (8 MB at most), summed over blocks in float64
        squared = np.linalg.eigvalsh(gram)
    else:
        squared = _randomized_singular_values(a, b, seed) ** 2
    return _spectrum(
        squared,
        energy,
        exact=exact,
        rank_energy=rank_energy,
        low_rank_energy=low_rank_energy,
        shape=(rows, cols),
    )


def aggregate(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Figures of a group of tensors (a layer, the model): the sums pooled, plus the energy-weighted
    mean of the top-r shares of the matrices that have them (not the screened ones)."""
    total = _Sums()
    for r in results:
        total.add(r["_sums"])
    out = total.metrics()
    out["tensors"] = len(results)
    out["moved"] = sum(1 for r in results if (r.get("changed_share") or 0) > 0)
    weights = [
        (r["_sums"].dd, r["spectrum"]["top_share"])
        for r in results
        if r.get("spectrum") and r["spectrum"].get("top_share") is not None  # screened: no shares
    ]
    energy = sum(w for w, _ in weights)
    out["top_share"] = (
        {str(k): round(sum(w * s[str(k)] for w, s in weights) / energy, 6) for k in RANKS}
        if energy > 0
        else None
    )
    return out


# -- layers and modules ------------------------------------------------------------------------

_LAYER = re.compile(
    r"(?:^|[._/])(?:layers?|h|blocks?|blk|encoder\.layer|decoder\.layer)[._/](\d+)(?=[._/]|$)"
)
_ANY_INDEX = re.compile(r"[._/](\d+)[._/]")

#: (kind, name fragments) in the order they are tried; the first fragment found names the kind.
MODULE_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("attention projections", ("q_proj", "k_proj", "v_proj", "o_proj", "attn_q", "attn_k", "attn_v",
                               "attn_output", "c_attn", "qkv", "query", "key", "value",
                               "attention.output.dense",
                               "self_attn", "attn.")),
    ("MLP", ("mlp", "ffn", "gate_proj", "up_proj", "down_proj", "intermediate", "output.dense", "fc1", "fc2",
             "c_fc", "w1", "w2", "w3")),
    ("embeddings", ("embed", "wte", "wpe", "token_embd", "tok_embeddings")),
    ("norms", ("norm", "ln_", "layernorm")),
    ("output head", ("lm_head", "output.weight", "classifier", "pooler")),
)  # fmt: skip


def layer_of(name: str) -> str:
    """The group a tensor belongs to: ``layer 3`` from its index, the component of a spaCy-style
    ``component/node/param`` name, else its module kind or first name part."""
    if "/" in name and not _LAYER.search(name):
        return name.split("/", 1)[0] or name
    found = _LAYER.search(name) or _ANY_INDEX.search(name)
    if found:
        return f"layer {int(found.group(1))}"
    kind = module_kind(name)
    return kind if kind != "other" else name.split(".")[0] or name


def module_kind(name: str) -> str:
    """What a tensor is part of (:data:`MODULE_KINDS`), ``other`` when the name does not say."""
    lowered = name.lower()
    for kind, fragments in MODULE_KINDS:
        if any(f in lowered for f in fragments):
            return kind
    return "other"


def layer_sort_key(layer: str) -> tuple[int, int, str]:
    """Embeddings first, then numbered layers in order, then the rest by name."""
    if layer.startswith("layer "):
        return (1, int(layer.split()[1]), "")
    return (0 if layer == "embeddings" else 2, 0, layer)


# -- summary -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of :func:`classify`, in one place."""

    #: A matrix's delta is low-rank when this share of its energy lies in at most
    #: ``max_low_rank`` singular values (and in at most a quarter of its smaller side).
    low_rank_energy: float = 0.999
    #: The largest rank still called "rank-r-like".
    max_low_rank: int = 64
    #: Quantization: at least this share of the matrices moved…
    quantization_min_moved: float = 0.75
    #: …by a median relative change of at most this…
    quantization_max_rel: float = 0.05
    #: …with the 90th percentile of their relative changes at most this multiple of the 10th…
    quantization_max_spread: float = 5.0
    #: …and at least this share of them high-rank (rank at ``low_rank_energy`` ≥ a quarter of
    #: the smaller side, or beyond what a randomized spectrum searched).
    quantization_min_high_rank: float = 0.9
    #: "Every tensor moved": at least this share of the tensors changed.
    all_moved: float = 0.9
    #: A retrain moves every tensor by a median relative change of at least this; less is a
    #: full fine-tune.
    retrain_min_rel: float = 0.2


def _is_low_rank(spectrum: Mapping[str, Any], th: Thresholds) -> bool:
    rank = spectrum.get("numerical_rank")
    return rank is not None and rank <= th.max_low_rank and rank <= max(1, spectrum["min_dim"] // 4)


def _is_high_rank(spectrum: Mapping[str, Any]) -> bool:
    rank = spectrum.get("numerical_rank")
    if rank is None:  # beyond what a randomized spectrum searched, or than a screened one allows
        return spectrum.get("method") in ("randomized", "screened")
    return rank >= max(2, spectrum["min_dim"] // 4)


def _names_list(items: Sequence[str], most: int = 6) -> str:
    items = list(items)
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _percent(x: float) -> str:
    return f"{100 * x:.2g}%" if x < 0.1 else f"{100 * x:.0f}%"


def classify(tensors: Sequence[Mapping[str, Any]], thresholds: Thresholds | None = None) -> dict[str, Any]:
    """A plain-language summary of an update from its per-tensor results (each with ``name``,
    ``layer``, ``module``, ``changed_share``, ``rel_change`` and ``spectrum``).

    A tensor *moved* when some entry changed by more than its stored type can hold
    (``changed_share`` > 0). Classes, tried in this order: ``identical`` (every delta is zero),
    ``negligible`` (deltas, but none beyond the stored precision), ``low-rank`` (every moved
    matrix's delta is low-rank: "rank-8-like change in attention projections"), ``quantization``
    (nearly every matrix moved by a small, similar relative amount with a high-rank delta),
    ``retrain`` (every tensor moved, by a large relative amount), ``fine-tune`` (every tensor
    moved a little), ``partial`` (a few layers or tensors changed).
    """
    th = thresholds or Thresholds()
    n = len(tensors)
    moved = [t for t in tensors if (t.get("changed_share") or 0) > 0]
    matrices = [t for t in tensors if t.get("spectrum")]
    moved_ids = {id(t) for t in moved}
    moved_matrices = [t for t in matrices if id(t) in moved_ids]
    out: dict[str, Any] = {"class": "", "text": "", "evidence": [], "rank": None, "modules": [], "layers": []}
    evidence: list[str] = out["evidence"]
    evidence.append(
        f"{len(moved)} of {n} matched tensors moved ({len(moved_matrices)} of {len(matrices)} matrices)"
    )
    if not moved:
        largest = max((t.get("max_abs_change") or 0.0 for t in tensors), default=0.0)
        if largest > 0:
            out.update({"class": "negligible", "text": "no change beyond the stored precision"})
            evidence.append(f"largest change {largest:.3g}, below the stored types' resolution")
        else:
            out.update({"class": "identical", "text": "no change: every matched tensor is identical"})
        return out
    rels = sorted(t["rel_change"] for t in moved if t.get("rel_change") is not None)
    median = float(np.median(rels)) if rels else 0.0
    modules = sorted({t["module"] for t in moved})
    layers = sorted({t["layer"] for t in moved}, key=layer_sort_key)
    out["modules"], out["layers"] = modules, layers
    if rels:
        evidence.append(f"median relative change of the moved tensors {_percent(median)}")
    if moved_matrices and all(_is_low_rank(t["spectrum"], th) for t in moved_matrices):
        rank = max(t["spectrum"]["numerical_rank"] for t in moved_matrices)
        where = _names_list([m for m in modules if m != "other"] or modules)
        out.update({"class": "low-rank", "rank": rank, "text": f"rank-{rank}-like change in {where}"})
        evidence.append(
            f"every moved matrix has {100 * th.low_rank_energy:g}% of its delta energy in at most {rank}"
            f" singular values; moved: {_names_list([t['name'] for t in moved_matrices], 4)}"
        )
        return out
    if matrices and len(moved_matrices) >= th.quantization_min_moved * len(matrices):
        mrels = np.array([t["rel_change"] or 0.0 for t in moved_matrices])
        lo, mid, hi = np.percentile(mrels, [10, 50, 90])
        high_rank = sum(1 for t in moved_matrices if _is_high_rank(t["spectrum"])) / len(moved_matrices)
        if (
            mid <= th.quantization_max_rel
            and hi <= th.quantization_max_spread * max(lo, 1e-300)
            and (high_rank >= th.quantization_min_high_rank)
        ):
            out.update({"class": "quantization", "text": "uniform small noise: quantization"})
            evidence.append(
                f"matrices moved by {_percent(lo)}-{_percent(hi)}"
                f" (10th-90th percentile, median {_percent(mid)}),"
                f" {_percent(high_rank)} of them with a flat, high-rank delta"
            )
            return out
    if len(moved) >= th.all_moved * n:
        if median >= th.retrain_min_rel:
            out.update({"class": "retrain", "text": "every tensor moved: retrain"})
        else:
            out.update({"class": "fine-tune", "text": "every tensor moved a little: full fine-tune"})
        return out
    out.update({"class": "partial", "text": f"a few layers changed: {_names_list(layers)}"})
    evidence.append(f"changed tensors: {_names_list([t['name'] for t in moved], 4)}")
    return out


def thresholds_dict(thresholds: Thresholds | None = None) -> dict[str, Any]:
    """The thresholds as JSON."""
    return asdict(thresholds or Thresholds())


# -- two fine-tunes of one base ----------------------------------------------------------------


@dataclass
class PairSums:
    """Float64 sums of two deltas of one tensor (``d1 = old − base``, ``d2 = new − base``) and of
    their DARE errors (one uniform draw per entry and delta, shared by every drop rate)."""

    d1d1: float = 0.0
    d2d2: float = 0.0
    d1d2: float = 0.0
    w1w1: float = 0.0
    w2w2: float = 0.0
    both: int = 0
    agree: int = 0
    dare1: list[float] = field(default_factory=lambda: [0.0] * len(DARE_RATES))
    dare2: list[float] = field(default_factory=lambda: [0.0] * len(DARE_RATES))

    def add(self, other: PairSums) -> None:
        for name in ("d1d1", "d2d2", "d1d2", "w1w1", "w2w2", "both", "agree"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.dare1 = [a + b for a, b in zip(self.dare1, other.dare1, strict=True)]
        self.dare2 = [a + b for a, b in zip(self.dare2, other.dare2, strict=True)]

    def kinship(self) -> dict[str, Any]:
        """Cosine of the two deltas, the share of energy they share (cosine²), and the sign
        agreement of the entries both deltas changed."""
        cosine = _ratio(self.d1d2, math.sqrt(self.d1d1 * self.d2d2))
        return {
            "cosine": cosine,
            "shared_energy": None if cosine is None else cosine * cosine,
            "sign_agreement": _ratio(self.agree, self.both),
            "both_changed": self.both,
            "norm_old_delta": math.sqrt(self.d1d1),
            "norm_new_delta": math.sqrt(self.d2d2),
        }

    def dare(self, tolerance: float) -> dict[str, Any]:
        """Per delta: relative error of the dropped-and-rescaled delta and of the resulting weights,
        per drop rate, and the largest rate whose weights error is within ``tolerance``."""
        out = {}
        for key, errors, dd, ww in (
            ("old", self.dare1, self.d1d1, self.w1w1),
            ("new", self.dare2, self.d2d2, self.w2w2),
        ):
            rows = []
            for p, err in zip(DARE_RATES, errors, strict=True):
                rows.append(
                    {
                        "p": p,
                        "delta_rel_error": _ratio(math.sqrt(err), math.sqrt(dd)),
                        "expected_delta_rel_error": math.sqrt(p / (1 - p)),
                        "weights_rel_error": _ratio(math.sqrt(err), math.sqrt(ww)),
                    }
                )
            within = [
                r["p"]
                for r in rows
                if r["weights_rel_error"] is not None and r["weights_rel_error"] <= tolerance
            ]
            out[key] = {"rates": rows, "largest_p_within": max(within) if within else None}
        return out


def delta_pair_metrics(
    base: np.ndarray, old: np.ndarray, new: np.ndarray, *, seed: list[int], tolerance: float = 2.0**-23
) -> PairSums:
    """Kinship and DARE sums of ``old − base`` and ``new − base`` (same shapes)."""
    c, a, b = _matrix(base), _matrix(old), _matrix(new)
    if not (c.shape == a.shape == b.shape):
        raise ValueError(f"shapes differ: {base.shape}, {old.shape}, {new.shape}")
    rng1, rng2 = np.random.default_rng([*seed, 1]), np.random.default_rng([*seed, 2])
    # A delta that is zero everywhere adds nothing but its weights' norm: its draws, DARE errors
    # and changed-entry counts are skipped (each tensor seeds its own draws, so nothing else moves).
    moved1, moved2 = not np.array_equal(a, c), not np.array_equal(b, c)
    sums = PairSums()
    for rows in _row_blocks(*c.shape):
        w0 = np.asarray(c[rows], dtype=np.float64, order="C").ravel()
        w1 = np.asarray(a[rows], dtype=np.float64, order="C").ravel()
        w2 = np.asarray(b[rows], dtype=np.float64, order="C").ravel()
        d1, d2 = w1 - w0, w2 - w0
        sums.d1d1 += float(d1 @ d1)
        sums.d2d2 += float(d2 @ d2)
        sums.d1d2 += float(d1 @ d2)
        sums.w1w1 += float(w1 @ w1)
        sums.w2w2 += float(w2 @ w2)
        if moved1 and moved2:
            floor = tolerance * np.abs(w0)
            both = (np.abs(d1) > floor) & (np.abs(d2) > floor)
            sums.both += int(np.count_nonzero(both))
            sums.agree += int(np.count_nonzero(both & (np.sign(d1) == np.sign(d2))))
        for d, rng, acc, moved in ((d1, rng1, sums.dare1, moved1), (d2, rng2, sums.dare2, moved2)):
            if not moved:
                continue
            u = rng.random(d.size)
            squared = d * d
            for i, p in enumerate(DARE_RATES):
                keep = u >= p
                # kept entries are scaled by 1/(1-p): error d·p/(1-p); dropped ones lose d
                acc[i] += float(squared[keep].sum()) * (p / (1 - p)) ** 2 + float(squared[~keep].sum())
    return sums
