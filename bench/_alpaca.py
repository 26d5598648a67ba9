"""What the AlpacaEval benchmarks share: the five models and where their data is.

The data folder is ``$DELTAEVAL_DATA/alpaca_eval`` when the environment variable
``DELTAEVAL_DATA`` names the folder holding the shared data (as in a clone), else
``../shared/data/alpaca_eval`` beside the repository; every benchmark's ``--data`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

MODELS = (
    "oasst-sft-llama-33b",
    "oasst-rlhf-llama-33b",
    "alpaca-7b",
    "alpaca-7b_concise",
    "alpaca-7b_verbose",
)
#: Environment variable naming the shared data folder (the one holding ``alpaca_eval/``).
DATA_ENV = "DELTAEVAL_DATA"
DATA_ROOT = (
    Path(os.environ[DATA_ENV]).expanduser()
    if os.environ.get(DATA_ENV)
    else Path(__file__).resolve().parent.parent.parent / "shared" / "data"
)
DEFAULT_DATA = DATA_ROOT / "alpaca_eval"
