"""``wilcoxon_p`` (numpy only) gives SciPy's p-values: exact below 51 untied differences, the
normal approximation with the tie correction otherwise, and never imports ``scipy.stats``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

from deltaeval.stats import WILCOXON_EXACT_MAX, wilcoxon_p


def _scipy_p(d: np.ndarray) -> tuple[float, str]:
    nonzero = d[d != 0]
    tied = np.unique(np.abs(nonzero)).size < nonzero.size
    method = "exact" if nonzero.size <= WILCOXON_EXACT_MAX and not tied else "approx"
    return float(sps.wilcoxon(nonzero, method=method).pvalue), method


@pytest.mark.parametrize("kind", ["continuous", "integers", "rounded"])
def test_wilcoxon_p_equals_scipy(kind: str) -> None:
    rng = np.random.default_rng(7)
    methods = set()
    for _ in range(300):
        n = int(rng.integers(1, 130))
        if kind == "continuous":
            d = rng.normal(size=n) + 0.4 * rng.normal()
        elif kind == "integers":
            d = rng.integers(-4, 5, size=n).astype(float)
        else:
            d = rng.normal(0.2, 1.0, size=n).round(1)
        p = wilcoxon_p(d)
        if not np.any(d != 0):
            assert p is None
            continue
        expected, method = _scipy_p(d)
        methods.add(method)
        assert p == pytest.approx(expected, abs=1e-9, rel=0), (n, method)
    assert "approx" in methods
    if kind == "continuous":
        assert "exact" in methods


def test_wilcoxon_p_exact_extremes() -> None:
    # every difference positive: the smallest exact p-value, 2 / 2**n
    for n in (1, 5, 20, WILCOXON_EXACT_MAX):
        d = np.arange(1.0, n + 1)
        assert wilcoxon_p(d) == pytest.approx(min(1.0, 2.0 / 2**n), rel=1e-12, abs=0)
        assert wilcoxon_p(d) == pytest.approx(sps.wilcoxon(d, method="exact").pvalue, abs=1e-12)
    # a symmetric sample: p = 1
    assert wilcoxon_p(np.array([-3.0, -1.0, 1.5, 2.5])) == pytest.approx(
        sps.wilcoxon([-3.0, -1.0, 1.5, 2.5], method="exact").pvalue, abs=1e-12
    )


def test_wilcoxon_p_all_magnitudes_tied() -> None:
    d = np.array([1.0] * 30 + [-1.0] * 10)
    assert wilcoxon_p(d) == pytest.approx(sps.wilcoxon(d, method="approx").pvalue, abs=1e-12)


def test_wilcoxon_p_does_not_import_scipy_stats() -> None:
    code = (
        "import sys, numpy as np\n"
        "from deltaeval.stats import wilcoxon_p\n"
        "wilcoxon_p(np.linspace(-1, 3, 200)); wilcoxon_p(np.linspace(-1, 3, 20))\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
