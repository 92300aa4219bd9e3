"""The modified equation on a real network (small version of docs/modified_equation.md's study).

Adam's order-p modified flow, its field evaluated by autodiff on a tanh MLP over real CIFAR images,
must follow the full-batch iterates with global error O(h^{p+1}).  Tolerance 0.25 on the fitted
slope: a field wrong at order p (e.g. a wrong F₁) leaves the error at O(h^p), a slope off by 1, so
0.25 separates right from wrong with a wide margin, while leaving room for the pre-asymptotic
curvature of step sizes a factor 2 apart (the documented study's slopes differ from p + 1 by at most
0.06 over three step sizes, 0.12 for order 2 over the first two).  A smaller network (32 images, 4
hidden units) is no cheaper (the cost is per step, not per parameter) and is sharper: its order-1
slope over the same step sizes was 1.62, not yet asymptotic.
"""
from pathlib import Path

import pytest

from bea_experiments.modified_equation import PRESETS, Setup, study

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "cifar-10-batches-py").is_dir(), reason="shared CIFAR subset not present")
def test_modified_equation_slopes_on_a_cifar_mlp(tmp_path):
    """The documented network and Adam at half the horizon (T = 0.1): orders 0 and 1 at h = 0.004, 0.002,
    0.001, order 2 (the costly one) at h = 0.004, 0.002."""
    results = {}
    for orders, levels in (((0, 1), 3), ((2,), 2)):
        setup = Setup(optimizer="adam", params=dict(PRESETS["adam"]), T=0.1, h_max=0.004, levels=levels,
                      orders=orders, data_dir=str(SHARED))
        results |= study(setup, tmp_path / str(orders), progress=False)["orders"]
        # the study resumes from its cache: a second call computes nothing and returns the same numbers
        assert study(setup, tmp_path / str(orders), progress=False)["orders"].keys() == {str(p) for p in orders}
    for p in (0, 1, 2):
        r = results[str(p)]
        assert r["expected"] == p + 1
        assert abs(r["slope"] - (p + 1)) < 0.25, (p, r)
        assert r["integration"] < 0.01 * r["errors"][-1]  # the integrator's share is negligible
        if p >= 1:
            assert r["validity_ratio"] < 0.1
