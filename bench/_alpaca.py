"""What the AlpacaEval benchmarks share: the five models in ../shared/data and where they are."""

from __future__ import annotations

from pathlib import Path

MODELS = (
    "oasst-sft-llama-33b",
    "oasst-rlhf-llama-33b",
    "alpaca-7b",
    "alpaca-7b_concise",
    "alpaca-7b_verbose",
)
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "alpaca_eval"
