"""The fast per-tensor pass of ``deltaeval weights`` against the definitions, computed the slow
way on whole arrays: chunked sums (equal to the definitions' counts and maxima, the float64 sums
within 1e-12), threads that do not change a figure, and the screen that skips the spectrum of a
flat delta only where the exact spectrum agrees that the delta is high-rank."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from deltaeval.analysis import weight_delta as wd
from deltaeval.report.sections import weights as section
from deltaeval.threads import limit_blas
from deltaeval.weights import compare_weights


def _reference(old: np.ndarray, new: np.ndarray, tolerance: float) -> dict[str, float]:
    """The per-tensor figures by their definitions, on whole arrays (the pre-chunking code's maths)."""
    work = np.float64 if np.float64 in (old.dtype, new.dtype) else np.float32
    d = np.subtract(new, old, dtype=work)
    o, n = old.astype(np.float64), new.astype(np.float64)
    floor = np.maximum(np.abs(old), np.abs(new)).astype(work) * work(tolerance)
    return {
        "rel_change": float(np.sqrt((d.astype(np.float64) ** 2).sum() / (o * o).sum())),
        "cosine": float((o * n).sum() / np.sqrt((o * o).sum() * (n * n).sum())),
        "max_abs_change": float(np.abs(d).max()),
        "changed_share": float(np.count_nonzero(np.abs(d) > floor)) / d.size,
        "sign_agreement": float(np.count_nonzero(np.sign(old) == np.sign(new))) / d.size,
    }


def _awkward_pair(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Moved weights with zeros on both sides, signed zeros, sign flips, float32 products that
    underflow (1e-25 · 1e-25) and changes below float32's resolution."""
    old = rng.normal(0, 0.05, shape).astype(np.float32)
    new = (old + rng.normal(0, 1e-3, shape)).astype(np.float32)
    flat_old, flat_new = old.reshape(-1), new.reshape(-1)
    flat_old[:50] = 0.0
    flat_new[:25] = 0.0
    flat_new[25:50] = -0.0
    flat_old[50:80] = 1e-25
    flat_new[50:70] = 2e-25
    flat_new[70:80] = -1e-25
    flat_new[80:200] = -flat_old[80:200]
    flat_new[200:400] = np.nextafter(flat_old[200:400], np.float32(1))
    return old, new


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (5000,), (3, 40, 50)])
def test_chunked_sums_equal_the_definitions(monkeypatch: pytest.MonkeyPatch, shape: tuple[int, ...]) -> None:
    monkeypatch.setattr(wd, "CHUNK_ELEMENTS", 1000)  # many chunks, and rows split across them
    monkeypatch.setattr(wd, "_LOCAL", type(wd._LOCAL)())  # scratch arrays of this chunk size
    old, new = _awkward_pair(np.random.default_rng(1), shape)
    for tolerance in (2.0**-23, 2.0**-7):
        got = wd.tensor_delta(old, new, tolerance=tolerance, seed=[0, 1])
        want = _reference(old, new, tolerance)
        for key in ("changed_share", "sign_agreement", "max_abs_change"):
            assert got[key] == want[key], key
        for key in ("rel_change", "cosine"):
            assert got[key] == pytest.approx(want[key], rel=1e-12), key


def test_float64_and_transposed_inputs_equal_the_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wd, "CHUNK_ELEMENTS", 1000)
    monkeypatch.setattr(wd, "_LOCAL", type(wd._LOCAL)())
    old, new = _awkward_pair(np.random.default_rng(2), (120, 90))
    wide = np.asarray(old, dtype=np.float64)
    wide[0, 0], wide[0, 1] = 1e-200, -1e-200  # float64 products that underflow to zero
    cases = [(wide, new.astype(np.float64) * (1 + 1e-12)), (old.T.copy(), new.T)]  # new.T: a strided view
    for a, b in cases:
        got = wd.tensor_delta(a, b)
        want = _reference(a, b, 2.0**-23)
        for key in ("changed_share", "sign_agreement", "max_abs_change"):
            assert got[key] == want[key], key
        assert got["rel_change"] == pytest.approx(want["rel_change"], rel=1e-12)
        assert got["cosine"] == pytest.approx(want["cosine"], rel=1e-12)


def test_threads_change_no_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wd, "CHUNK_ELEMENTS", 4096)
    monkeypatch.setattr(wd, "_LOCAL", type(wd._LOCAL)())
    rng = np.random.default_rng(3)
    old = rng.normal(size=(400, 300)).astype(np.float32)
    new = old + rng.normal(0, 1e-2, old.shape).astype(np.float32)
    alone = wd.tensor_delta(old, new, seed=[0, 1])
    with ThreadPoolExecutor(3) as pool:
        shared = wd.tensor_delta(old, new, seed=[0, 1], pool=pool, workers=3)
    for result in (alone, shared):
        result.pop("_sums")
    assert shared == alone


def _cases(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    old = rng.normal(0, 0.05, (600, 400)).astype(np.float32)
    scale = np.abs(old).max(axis=0) / 127
    decay = (rng.normal(size=(600, 200)) * 0.97 ** np.arange(200)) @ rng.normal(size=(200, 400))
    rank8 = rng.normal(0, 0.02, (600, 8)) @ rng.normal(0, 0.02, (8, 400))
    rank48 = rng.normal(0, 0.01, (600, 48)) @ rng.normal(0, 0.01, (48, 400))
    return {
        "rank 8": (old, (old + rank8).astype(np.float32)),
        "flat rank 48": (old, (old + rank48).astype(np.float32)),
        "decaying spectrum": (old, (old + 1e-4 * decay).astype(np.float32)),
        "full-rank noise": (old, (old + rng.normal(0, 5e-5, old.shape)).astype(np.float32)),
        "int8 rounding": (old, (np.round(old / scale) * scale).astype(np.float32)),
    }  # fmt: skip


def test_screen_skips_only_deltas_the_exact_spectrum_calls_high_rank() -> None:
    th = wd.Thresholds()
    with limit_blas():
        for name, (old, new) in _cases(np.random.default_rng(4)).items():
            exact = wd.tensor_delta(old, new, seed=[0, 1], screen=False)["spectrum"]
            screened = wd.tensor_delta(old, new, seed=[0, 1])["spectrum"]
            floor = max(th.max_low_rank, exact["min_dim"] // 4)
            if screened["method"] == "screened":
                assert name in ("full-rank noise", "int8 rounding"), name
                # the screen's bound holds: the exact numerical rank lies above it, and above
                # every rank the summary tells apart, so the summary reads the tensor the same
                assert exact["numerical_rank"] > screened["rank_above"] >= floor, name
                assert exact["rank_at_energy"] > screened["rank_at_energy_above"], name
                assert wd._is_high_rank(screened) and wd._is_high_rank(exact)
                assert not wd._is_low_rank(screened, th) and not wd._is_low_rank(exact, th)
            else:
                assert name not in ("full-rank noise", "int8 rounding"), name
                assert screened == exact, name  # not screened: the exact spectrum itself


def test_screened_report_has_the_same_summary_and_skips_the_spectra() -> None:
    rng = np.random.default_rng(5)
    old = {f"model.layers.{i}.mlp.up_proj.weight": rng.normal(0, 0.05, (600, 300)) for i in range(3)}
    old = {k: v.astype(np.float32) for k, v in old.items()}
    scale = {k: np.abs(v).max() / 127 for k, v in old.items()}
    new = {k: (np.round(v / scale[k]) * scale[k]).astype(np.float32) for k, v in old.items()}
    fast = compare_weights(_Arrays(old), _Arrays(new))
    full = compare_weights(_Arrays(old), _Arrays(new), screen=False)
    assert fast["summary"] == full["summary"] and fast["summary"]["class"] == "quantization"
    assert {t["spectrum"]["method"] for t in fast["tensors"]} == {"screened"}
    assert {t["spectrum"]["method"] for t in full["tensors"]} == {"exact"}
    assert fast["layers"][0]["top_share"] is None  # no shares where every spectrum was skipped
    assert "screen" in fast["settings"]["spectrum"] and full["settings"]["spectrum"]["screen"] is None
    for a, b in zip(fast["tensors"], full["tensors"], strict=True):
        assert a["rel_change"] == b["rel_change"] and a["changed_share"] == b["changed_share"]
        # the 90% rank the tables show: the exact one, or the screen's lower bound of it
        assert b["spectrum"]["rank_at_energy"] > a["spectrum"]["rank_at_energy_above"]
    bound = fast["tensors"][0]["spectrum"]["rank_at_energy_above"]
    assert f">{bound}" in section.render_markdown(fast)


class _Arrays:
    """An in-memory checkpoint with the readers' interface."""

    format = "npz"
    path = "memory.npz"

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def tensors(self) -> list:
        from deltaeval.weights.formats import TensorMeta

        return [TensorMeta(k, tuple(v.shape), "F32", v.nbytes) for k, v in self.arrays.items()]

    def read(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def close(self) -> None:
        pass


def test_safetensors_reads_reuse_only_memory_nothing_refers_to(tmp_path) -> None:
    """The reader reads into the slab of an earlier tensor only once no array (or view) of it is
    left: tensors the caller keeps never change, and a loop that drops each one holds one slab."""
    pytest.importorskip("safetensors", reason="the safetensors reader needs the safetensors package")
    from safetensors.numpy import save_file

    from deltaeval.weights.formats import open_checkpoint

    rng = np.random.default_rng(6)
    arrays = {f"t{i}": rng.normal(size=(40 + i, 30)).astype(np.float32) for i in range(6)}
    arrays["half"] = rng.normal(size=(20, 10)).astype(np.float16)
    save_file(arrays, str(tmp_path / "m.safetensors"))
    with open_checkpoint(tmp_path / "m.safetensors") as checkpoint:
        kept = {name: checkpoint.read(name) for name in arrays}
        views = [kept["t0"][::2], kept["t1"].T]
        for name in arrays:  # read again while the first reads are held
            np.testing.assert_array_equal(checkpoint.read(name), arrays[name])
        for name, value in kept.items():
            np.testing.assert_array_equal(value, arrays[name])
        np.testing.assert_array_equal(views[0], arrays["t0"][::2])
        np.testing.assert_array_equal(views[1], arrays["t1"].T)
        del kept, views, value
        for name in arrays:
            np.testing.assert_array_equal(checkpoint.read(name), arrays[name])
        assert len(checkpoint._slabs) <= 2
