"""A LoRA-merged model against its base: the change is low-rank, with the adapter's rank, in its modules only.

The pair is made here with peft on a tiny randomly initialised Llama (hidden 64, 2 layers): a rank-4
LoRA on ``q_proj``/``v_proj`` whose B matrices are set to random non-zero values (peft starts them
at zero, and training is not needed to make the change real), merged with ``merge_and_unload()``
and saved with safetensors beside the saved base.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

HAVE_TRAIN = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "peft"))
RANK = 4
TARGETS = ("q_proj", "v_proj")


@pytest.fixture(scope="module")
def lora_pair(tmp_path_factory):
    """``base/model.safetensors``, ``merged/model.safetensors`` and what peft merged into each tensor."""
    if not HAVE_TRAIN:
        pytest.skip(
            'needs torch, transformers and peft to make a LoRA-merged model (pip install -e ".[train]")'
        )
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("lora")
    config = LlamaConfig(
        vocab_size=96,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(str(root / "base"), safe_serialization=True)
    lora = LoraConfig(r=RANK, lora_alpha=2 * RANK, target_modules=list(TARGETS), lora_dropout=0.0)
    peft_model = get_peft_model(model, lora)
    merged_in: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for name, module in peft_model.named_modules():
            if hasattr(module, "lora_B") and "default" in getattr(module, "lora_B", {}):
                module.lora_B["default"].weight.normal_(0.0, 0.05)
                a = module.lora_A["default"].weight.numpy().astype(np.float64)
                b = module.lora_B["default"].weight.numpy().astype(np.float64)
                key = name.removeprefix("base_model.model.") + ".weight"
                merged_in[key] = b @ a * module.scaling["default"]
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(str(root / "merged"), safe_serialization=True)
    return root / "base" / "model.safetensors", root / "merged" / "model.safetensors", merged_in


def _read_all(path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def test_the_saved_pair_differs_exactly_by_what_peft_merged_and_each_delta_has_the_lora_rank(lora_pair):
    base_path, merged_path, merged_in = lora_pair
    base, merged = _read_all(base_path), _read_all(merged_path)
    assert sorted(base) == sorted(merged)
    changed = {name for name in base if not np.array_equal(base[name], merged[name])}
    assert changed == set(merged_in)
    assert len(changed) == 2 * 2  # q and v in each of 2 layers
    assert all(name.endswith(("q_proj.weight", "v_proj.weight")) for name in changed)
    for name in changed:
        delta = merged[name].astype(np.float64) - base[name].astype(np.float64)
        np.testing.assert_allclose(delta, merged_in[name], atol=1e-6)
        singular = np.linalg.svd(delta, compute_uv=False)
        assert int((singular > singular[0] * 1e-4).sum()) == RANK  # float32 rounding sits far below


def test_compare_weights_finds_a_rank_r_change_in_the_q_and_v_projections_only(lora_pair):
    from deltaeval.weights.api import compare_weights

    base_path, merged_path, merged_in = lora_pair
    report = compare_weights(base_path, merged_path)
    rows = {row["name"]: row for row in report["tensors"]}
    matching = report["matching"]
    assert matching["matched"] == len(rows) == report["old"]["tensors"] == report["new"]["tensors"]
    assert matching["renamed"] == matching["added"] == matching["removed"] == []
    moved = {name for name, row in rows.items() if row["changed_share"] > 0 or row["rel_change"] > 0}
    assert moved == set(merged_in)
    for name, row in rows.items():
        if name not in moved:
            assert row["rel_change"] == 0 and row["max_abs_change"] == 0 and row["cosine"] == pytest.approx(1)
            continue
        spectrum = row["spectrum"]
        assert row["module"] != "other" and spectrum["method"] == "exact"
        assert spectrum["numerical_rank"] == RANK
        assert spectrum["top_share"][str(RANK)] == pytest.approx(1, abs=1e-6)
        assert spectrum["top_share"]["1"] < 0.99  # not rank 1: every one of the r directions carries energy
        expected = np.linalg.norm(merged_in[name]) / np.linalg.norm(_read_all(base_path)[name])
        assert row["rel_change"] == pytest.approx(expected, rel=1e-4)
    summary = report["summary"]
    assert summary["class"] == "low-rank" and summary["rank"] == RANK
    assert summary["text"].startswith(f"rank-{RANK}-like change in ")


def test_the_cli_prints_the_low_rank_summary_and_writes_it_to_json(lora_pair, tmp_path, capsys):
    from deltaeval.cli import main

    base_path, merged_path, _ = lora_pair
    out = tmp_path / "weights.json"
    assert main(["weights", str(base_path), str(merged_path), "--json", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert f"rank-{RANK}-like change in" in printed
    import json

    summary = json.loads(out.read_text(encoding="utf-8"))["summary"]
    assert (summary["class"], summary["rank"]) == ("low-rank", RANK)
