"""What changed in the weights: metrics, spectra, matching and the summary on synthetic checkpoints
whose truth is known (a rank-8 delta on q/v, int8-style rounding, fresh weights, identical copies),
kinship and DARE on synthetic deltas, and the renderers' escaping."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from deltaeval.analysis import weight_delta as wd
from deltaeval.errors import InputError
from deltaeval.report.sections import weights as section
from deltaeval.threads import limit_blas
from deltaeval.weights import compare_weights
from deltaeval.weights.match import match_tensors, normalize_name


@dataclass(frozen=True)
class Meta:
    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int


class Arrays:
    """An in-memory checkpoint with the readers' interface (``tensors``, ``read``, ``close``)."""

    format = "npz"

    def __init__(self, arrays: dict[str, np.ndarray], path: str = "memory.npz") -> None:
        self.arrays = arrays
        self.path = Path(path)
        self.reads: list[str] = []

    def tensors(self) -> list[Meta]:
        return [Meta(k, tuple(v.shape), "F32", int(v.nbytes)) for k, v in self.arrays.items()]

    def read(self, name: str) -> np.ndarray:
        self.reads.append(name)
        return np.ascontiguousarray(self.arrays[name], dtype=np.float32)

    def close(self) -> None:
        pass


def tiny_llama(seed: int = 0, layers: int = 3, hidden: int = 64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {"model.embed_tokens.weight": rng.normal(0, 0.02, (300, hidden))}
    for i in range(layers):
        p = f"model.layers.{i}."
        for m in "qkvo":
            out[f"{p}self_attn.{m}_proj.weight"] = rng.normal(0, 0.05, (hidden, hidden))
        out[f"{p}mlp.up_proj.weight"] = rng.normal(0, 0.05, (2 * hidden, hidden))
        out[f"{p}mlp.down_proj.weight"] = rng.normal(0, 0.05, (hidden, 2 * hidden))
        out[f"{p}input_layernorm.weight"] = 1 + rng.normal(0, 0.01, hidden)
    return {k: v.astype(np.float32) for k, v in out.items()}


def int8_rounding(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-row symmetric int8 quantization of every matrix, dequantized (vectors kept)."""
    out = {}
    for k, v in arrays.items():
        if v.ndim == 2:
            scale = np.abs(v).max(axis=1, keepdims=True) / 127
            v = (np.round(v / scale) * scale).astype(np.float32)
        out[k] = v
    return out


def low_rank_update(arrays: dict[str, np.ndarray], rank: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in arrays.items():
        if "q_proj" in k or "v_proj" in k:
            v = v + (rng.normal(0, 0.02, (v.shape[0], rank)) @ rng.normal(0, 0.02, (rank, v.shape[1])))
        out[k] = v.astype(np.float32)
    return out


# -- per-tensor metrics ------------------------------------------------------------------------


def test_tensor_metrics_match_their_definitions() -> None:
    rng = np.random.default_rng(0)
    old = rng.normal(size=(40, 30)).astype(np.float32)
    new = old.copy()
    new[:5] *= -1  # 150 entries flip sign
    result = wd.tensor_delta(old, new)
    o, n = old.astype(np.float64), new.astype(np.float64)
    assert result["rel_change"] == pytest.approx(np.linalg.norm(n - o) / np.linalg.norm(o))
    assert result["cosine"] == pytest.approx((o * n).sum() / np.linalg.norm(o) / np.linalg.norm(n))
    assert result["max_abs_change"] == pytest.approx(np.abs(n - o).max())
    assert result["changed_share"] == pytest.approx(150 / 1200)
    assert result["sign_agreement"] == pytest.approx(1 - 150 / 1200)
    # the delta is 5 rows of -2*old: rank 5, every singular value found exactly
    assert result["spectrum"]["method"] == "exact"
    assert result["spectrum"]["numerical_rank"] == 5
    assert result["spectrum"]["top_share"]["8"] == pytest.approx(1.0)


def test_changes_below_the_stored_types_resolution_are_not_counted() -> None:
    old = np.linspace(1, 2, 1000, dtype=np.float32)
    new = (old.astype(np.float64) * (1 + 2.0**-12)).astype(np.float32)  # bf16 cannot hold this step
    assert wd.tensor_delta(old, new, tolerance=wd.change_tolerance("F32", "F32"))["changed_share"] == 1.0
    assert wd.tensor_delta(old, new, tolerance=wd.change_tolerance("F32", "BF16"))["changed_share"] == 0.0
    assert wd.dtype_epsilon("Q4_1") == wd.dtype_epsilon("F32") == 2.0**-23


def test_numerical_rank_counts_weak_directions_of_an_exactly_low_rank_delta() -> None:
    """A trained LoRA's last directions may carry under 0.1% of the energy: the rank is where the
    spectrum falls to rounding noise, not where 99.9% of the energy is reached."""
    rng = np.random.default_rng(4)
    u, _ = np.linalg.qr(rng.normal(size=(96, 8)))
    v, _ = np.linalg.qr(rng.normal(size=(64, 8)))
    strengths = np.array([1, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02]) * 0.01  # 99.9% of the energy in 6
    old = rng.normal(0, 0.05, (96, 64)).astype(np.float32)
    new = (old + (u * strengths) @ v.T).astype(np.float32)
    spectrum = wd.tensor_delta(old, new)["spectrum"]
    assert spectrum["rank_at_energy"] == 3 and spectrum["top_share"]["4"] < 0.999
    assert spectrum["numerical_rank"] == 8


def test_randomized_spectrum_finds_the_rank_of_a_large_delta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wd, "EXACT_MAX_DIM", 100)  # a 300 x 200 matrix counts as large
    rng = np.random.default_rng(3)
    old = rng.normal(size=(300, 200)).astype(np.float32)
    new = old + (rng.normal(size=(300, 6)) @ rng.normal(size=(6, 200))).astype(np.float32)
    with limit_blas():  # one BLAS thread: many small products on a shared machine
        spectrum = wd.tensor_delta(old, new, seed=[0, 1])["spectrum"]
        noisy = wd.tensor_delta(
            old, old + rng.normal(size=old.shape).astype(np.float32), seed=[0, 1], screen=False
        )
    assert spectrum["method"] == "randomized" and spectrum["searched"] == 64
    assert spectrum["numerical_rank"] == 6
    assert spectrum["top_share"]["8"] == pytest.approx(1.0, abs=1e-6)
    # full-rank noise: its 90% rank lies beyond what was searched, and is said so (None)
    assert noisy["spectrum"]["rank_at_energy"] is None and noisy["spectrum"]["top_share"]["64"] < 0.75


def test_nonfinite_weights_are_refused() -> None:
    old = np.ones((4, 4), dtype=np.float32)
    new = old.copy()
    new[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        wd.tensor_delta(old, new)


def test_layers_and_modules_from_names() -> None:
    assert wd.layer_of("model.layers.12.self_attn.q_proj.weight") == "layer 12"
    assert wd.layer_of("encoder.layer.3.attention.self.query.weight") == "layer 3"
    assert wd.layer_of("blk.7.attn_q.weight") == "layer 7"
    assert wd.layer_of("model.embed_tokens.weight") == "embeddings"
    assert wd.layer_of("ner/39:maxout/W") == "ner"
    assert wd.module_kind("model.layers.0.self_attn.v_proj.weight") == "attention projections"
    assert wd.module_kind("model.layers.0.mlp.down_proj.weight") == "MLP"
    assert wd.module_kind("val_49_q") == "other"


# -- the summary on checkpoints whose truth is known -------------------------------------------


def test_identical_checkpoints_are_zero_change() -> None:
    base = tiny_llama()
    report = compare_weights(Arrays(base), Arrays(dict(base)))
    assert report["summary"]["class"] == "identical"
    assert report["overall"]["rel_change"] == 0.0 and report["overall"]["max_abs_change"] == 0.0
    assert all(t["changed_share"] == 0.0 for t in report["tensors"])


def test_changes_below_the_stored_precision_are_negligible() -> None:
    base = tiny_llama()
    nudged = {k: np.nextafter(v, np.float32(np.inf)) for k, v in base.items()}  # one float32 step
    old = Arrays(base)
    new = Arrays(nudged)
    new.tensors = lambda: [Meta(k, tuple(v.shape), "BF16", v.size * 2) for k, v in nudged.items()]  # type: ignore[method-assign]
    report = compare_weights(old, new)
    assert report["summary"]["class"] == "negligible"
    assert report["summary"]["text"] == "no change beyond the stored precision"
    assert report["overall"]["changed_share"] == 0 and report["overall"]["rel_change"] > 0


def test_rank8_delta_on_q_and_v_is_a_rank8_like_change_in_attention_projections() -> None:
    base = tiny_llama()
    report = compare_weights(Arrays(base), Arrays(low_rank_update(base, rank=8)))
    summary = report["summary"]
    assert summary["class"] == "low-rank" and summary["rank"] == 8
    assert summary["text"] == "rank-8-like change in attention projections"
    moved = [t["name"] for t in report["tensors"] if t["changed_share"] > 0]
    assert moved and all("q_proj" in n or "v_proj" in n for n in moved) and len(moved) == 6
    assert {t["spectrum"]["numerical_rank"] for t in report["tensors"] if t["name"] in moved} == {8}


def test_int8_rounding_noise_is_quantization() -> None:
    base = tiny_llama()
    report = compare_weights(Arrays(base), Arrays(int8_rounding(base)))
    assert report["summary"]["class"] == "quantization"
    assert report["summary"]["text"] == "uniform small noise: quantization"
    rels = [t["rel_change"] for t in report["tensors"] if t["spectrum"]]
    assert all(0.001 < r < 0.02 for r in rels)


def test_fresh_random_weights_are_a_retrain() -> None:
    report = compare_weights(Arrays(tiny_llama(0)), Arrays(tiny_llama(7)))
    assert report["summary"]["class"] == "retrain"
    assert report["summary"]["text"] == "every tensor moved: retrain"
    assert report["overall"]["changed_share"] > 0.99


def test_a_few_layers_changed_names_them() -> None:
    base = tiny_llama()
    rng = np.random.default_rng(5)
    new = dict(base)
    for k in base:
        if k.startswith("model.layers.1."):
            new[k] = (base[k] + rng.normal(0, 0.01, base[k].shape)).astype(np.float32)
    report = compare_weights(Arrays(base), Arrays(new))
    assert report["summary"]["class"] == "partial"
    assert report["summary"]["text"] == "a few layers changed: layer 1"
    by_layer = {layer["layer"]: layer for layer in report["layers"]}
    assert by_layer["layer 0"]["rel_change"] == 0 and by_layer["layer 1"]["rel_change"] > 0
    assert [layer["layer"] for layer in report["layers"]] == ["embeddings", "layer 0", "layer 1", "layer 2"]


def test_each_tensor_is_read_once_per_side_and_the_report_is_deterministic() -> None:
    base = tiny_llama()
    old, new = Arrays(base), Arrays(low_rank_update(base, rank=4))
    first = compare_weights(old, new)
    assert sorted(old.reads) == sorted(base) and sorted(new.reads) == sorted(base)
    second = compare_weights(Arrays(base), Arrays(low_rank_update(base, rank=4)))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["schema"] == "deltaeval.weights/1"


# -- matching ----------------------------------------------------------------------------------


def test_matching_by_normalized_name_shape_and_value_with_transposes() -> None:
    """The ONNX situation: a wrapper prefix on some names, anonymous transposed int8 matrices."""
    base = tiny_llama(layers=2)
    quant = int8_rounding(base)
    new: dict[str, np.ndarray] = {}
    for i, (k, v) in enumerate(quant.items()):
        if v.ndim == 2 and "embed" not in k:
            new[f"val_{i}_q"] = np.ascontiguousarray(v.T)  # anonymous and stored transposed
        else:
            new[f"inner.{k.removeprefix('model.')}"] = v
    new["onnx::Constant_1"] = np.array([1.0, 2.0], dtype=np.float32)  # only in new
    report = compare_weights(Arrays(base), Arrays(new))
    m = report["matching"]
    assert m["matched"] == len(base) and m["removed"] == [] and m["added"] == ["onnx::Constant_1"]
    assert m["by"]["value"] == 12 and m["by"]["normalized name"] == 3
    assert len(m["transposed"]) == 12
    for row in report["tensors"]:  # every pair is the right one: a small quantization change
        assert row["rel_change"] < 0.02, row["name"]
    assert report["summary"]["class"] == "quantization"
    assert "only in new: onnx::Constant\\_1" in section.render_markdown(report)


def test_same_names_with_different_shapes_are_different_architectures() -> None:
    old = {"a.weight": np.ones((4, 8), np.float32), "b.weight": np.ones((8, 8), np.float32)}
    new = {"a.weight": np.ones((4, 6), np.float32), "b.weight": np.ones((8, 8), np.float32)}
    with pytest.raises(InputError, match=r"different architectures: 'a\.weight' is"):
        compare_weights(Arrays(old), Arrays(new))
    partial = compare_weights(Arrays(old), Arrays(new), allow_partial=True)
    assert partial["matching"]["matched"] == 1 and partial["matching"]["conflicts"][0]["old"] == "a.weight"


def test_few_matches_are_different_architectures() -> None:
    rng = np.random.default_rng(0)
    old = {f"x{i}": rng.normal(size=(10, 3 + i)).astype(np.float32) for i in range(4)}
    new = {f"y{i}": rng.normal(size=(10, 30 + i)).astype(np.float32) for i in range(4)}
    new["x0"] = old["x0"]
    with pytest.raises(InputError, match="only 1 of 4 tensors"):
        compare_weights(Arrays(old), Arrays(new))


def test_a_base_of_another_architecture_is_refused() -> None:
    base = tiny_llama()
    other = tiny_llama(hidden=32)
    with pytest.raises(InputError, match="different architectures"):
        compare_weights(Arrays(base), Arrays(low_rank_update(base, 2)), Arrays(other))


def test_normalize_name_uses_the_readers_hf_name() -> None:
    def hf(name: str) -> str | None:
        return "model.layers.0.self_attn.q_proj.weight" if name == "blk.0.attn_q.weight" else None

    assert normalize_name("blk.0.attn_q.weight", hf) == "layers.0.self_attn.q_proj.weight"
    assert normalize_name("inner.bert.encoder.layer.0.x") == "encoder.layer.0.x"
    metas_old = [Meta("model.layers.0.self_attn.q_proj.weight", (4, 4), "F32", 64)]
    metas_new = [Meta("blk.0.attn_q.weight", (4, 4), "Q4_1", 12)]
    matching = match_tensors(metas_old, metas_new, new_hf_name=hf)
    assert [(p.old, p.new, p.how) for p in matching.pairs] == [
        ("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", "normalized name")
    ]


# -- two fine-tunes of one base ----------------------------------------------------------------


def test_kinship_of_related_and_unrelated_deltas() -> None:
    base = tiny_llama()
    rng = np.random.default_rng(9)
    shared = {k: rng.normal(0, 0.001, v.shape) for k, v in base.items()}
    other = {k: rng.normal(0, 0.001, v.shape) for k, v in base.items()}
    old = {k: (v + shared[k]).astype(np.float32) for k, v in base.items()}
    sibling = {k: (v + shared[k] + 0.5 * other[k]).astype(np.float32) for k, v in base.items()}
    stranger = {k: (v + other[k]).astype(np.float32) for k, v in base.items()}
    kin = compare_weights(Arrays(old), Arrays(sibling), Arrays(base))["kinship"]
    assert kin["cosine"] == pytest.approx(1 / math.sqrt(1.25), abs=0.01)
    assert kin["shared_energy"] == pytest.approx(0.8, abs=0.02)
    far = compare_weights(Arrays(old), Arrays(stranger), Arrays(base))["kinship"]
    assert abs(far["cosine"]) < 0.02 and far["sign_agreement"] == pytest.approx(0.5, abs=0.02)


def test_dare_errors_follow_the_rescaling_and_name_the_largest_safe_rate() -> None:
    base = tiny_llama()
    rng = np.random.default_rng(11)
    # deltas of equal-sized entries: dropping p with rescaling adds sqrt(p/(1-p)) of the delta
    old = {k: (v + 1e-4 * rng.choice([-1, 1], v.shape)).astype(np.float32) for k, v in base.items()}
    new = {k: (v + 1e-4 * rng.choice([-1, 1], v.shape)).astype(np.float32) for k, v in base.items()}
    report = compare_weights(Arrays(old), Arrays(new), Arrays(base), dare_tolerance=0.005)
    for side, weights in (("old", old), ("new", new)):
        d = np.sqrt(sum(float(((weights[k] - base[k]).astype(np.float64) ** 2).sum()) for k in base))
        w = np.sqrt(sum(float((weights[k].astype(np.float64) ** 2).sum()) for k in base))
        rates = report["dare"][side]["rates"]
        for r in rates:
            assert r["delta_rel_error"] == pytest.approx(math.sqrt(r["p"] / (1 - r["p"])), rel=0.05)
            assert r["weights_rel_error"] == pytest.approx(r["delta_rel_error"] * d / w, rel=1e-6)
        within = [r["p"] for r in rates if r["weights_rel_error"] <= 0.005]
        assert report["dare"][side]["largest_p_within"] == max(within)
        assert 0 < len(within) < len(rates)
    assert report["settings"]["dare"]["tolerance"] == 0.005


# -- renderers ---------------------------------------------------------------------------------

HOSTILE = "evil\x1b[2J<script>alert(1)</script>|`*\u202e.weight"


def test_renderers_escape_tensor_names() -> None:
    rng = np.random.default_rng(0)
    old = {
        HOSTILE: rng.normal(size=(8, 8)).astype(np.float32),
        "ok": rng.normal(size=(8, 8)).astype(np.float32),
    }
    new = {k: (v * 1.5).astype(np.float32) for k, v in old.items()}
    report = compare_weights(Arrays(old, path="x\x1b]0;title\x07.npz"), Arrays(new))
    markdown = section.render_markdown(report)
    page = section.render_html(report)
    for text in (markdown, page):
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        assert "<script>" not in text
    assert "&lt;script&gt;" in page and "<svg" in page and "Content-Security-Policy" in page
    assert "x1b\\[2J" in markdown and "\\|" in markdown and "\\x07" in markdown
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=False)
    section.render_terminal(report, console)
    shown = console.export_text()
    assert "\x1b" not in shown and "\\x1b[2J" in shown and "every tensor moved" in shown


def test_layer_chart_has_one_bar_per_layer() -> None:
    base = tiny_llama()
    report = compare_weights(Arrays(base), Arrays(int8_rounding(base)))
    svg = section.layer_chart(report["layers"])
    assert svg.count("<rect") == len(report["layers"]) == 4


def test_a_zero_delta_beside_a_moved_one_gives_the_full_computation() -> None:
    """``old`` equals the base, ``new`` moved: the old delta's sums are zero (its draws skipped),
    the new one's DARE errors equal the definition computed here with the same seeded draws."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(40, 30)).astype(np.float32)
    new = (base + rng.normal(scale=0.01, size=base.shape)).astype(np.float32)
    seed = wd.tensor_seed(0, "w")
    sums = wd.delta_pair_metrics(base, base.copy(), new, seed=seed)
    w0, w2 = base.astype(np.float64).ravel(), new.astype(np.float64).ravel()
    d2 = w2 - w0
    assert sums.d1d1 == 0 and sums.d1d2 == 0 and sums.both == 0 and sums.dare1 == [0.0] * len(wd.DARE_RATES)
    assert math.isclose(sums.w1w1, float(w0 @ w0), rel_tol=1e-12)
    assert math.isclose(sums.d2d2, float(d2 @ d2), rel_tol=1e-12)
    u = np.random.default_rng([*seed, 2]).random(d2.size)
    for p, got in zip(wd.DARE_RATES, sums.dare2, strict=True):
        keep = u >= p
        expected = float((d2[keep] ** 2).sum()) * (p / (1 - p)) ** 2 + float((d2[~keep] ** 2).sum())
        assert math.isclose(got, expected, rel_tol=1e-12)
    assert sums.dare(0.01)["old"]["largest_p_within"] == max(wd.DARE_RATES)
