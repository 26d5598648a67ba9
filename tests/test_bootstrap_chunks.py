"""The paired bootstrap's interval does not depend on how its draws are chunked (the chunk only
bounds memory)."""

from __future__ import annotations

import numpy as np
import pytest

from deltaeval.stats import bootstrap_mean_interval


@pytest.mark.parametrize("n", [7, 999, 20_001])
def test_interval_is_the_same_whatever_the_chunk(n: int) -> None:
    values = np.random.default_rng(1).normal(size=n)
    whole = bootstrap_mean_interval(values, 1001, 0.95, np.random.default_rng(5), chunk=10**12)
    for chunk in (n, 3 * n, 7 * n + 1, 20_000_000):
        assert bootstrap_mean_interval(values, 1001, 0.95, np.random.default_rng(5), chunk=chunk) == whole
    assert bootstrap_mean_interval(values, 1001, 0.95, np.random.default_rng(5)) == whole
