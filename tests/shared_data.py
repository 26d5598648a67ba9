"""Where the tests find the shared (non-redistributable) data, such as AlpacaEval's annotations.

``DELTAEVAL_DATA`` names the folder holding the data sets (``alpaca_eval/`` …); without it the
tests look in ``../shared/data`` beside the repository. Tests that need the data skip without it.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "DELTAEVAL_DATA"


def data_root() -> Path:
    """The shared data folder: ``$DELTAEVAL_DATA``, else ``../shared/data`` beside the repository."""
    value = os.environ.get(DATA_ENV)
    if value:
        return Path(value).expanduser()
    return Path(__file__).resolve().parents[2] / "shared" / "data"


ALPACA = data_root() / "alpaca_eval"
