"""Adam's three regimes, numerically: the sign of the one-norm gap follows β vs ρ and ε."""
import numpy as np
import pytest
import sympy as sp

from bea.regimes import one_norm_gap


def quadratic(seed):
    """A random SPD quadratic whose minimizer is far enough that ∇E keeps its sign on t ∈ [0, 0.6]."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(2, 2))
    A = sp.Matrix(np.round(M @ M.T + np.eye(2), 2).tolist()).applyfunc(sp.nsimplify)
    x, y = sp.symbols("x y", real=True)
    d = sp.Matrix([x - 4, y + 4])
    return (d.T * A * d)[0] / 2, [x, y]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("params,sign", [
    (dict(beta=0.85, rho=0.7, eps=1e-6), -1),   # β > ρ, small ε: ‖∇E‖₁ penalized
    (dict(beta=0.7, rho=0.85, eps=1e-6), +1),   # β < ρ, small ε: anti-penalized
    (dict(beta=0.7, rho=0.85, eps=400.0), -1),  # large ε: ‖∇E‖₂² penalized
])
def test_one_norm_gap_has_the_predicted_sign(seed, params, sign):
    E, xs = quadratic(seed)
    gap = one_norm_gap(E, xs, [0.0, 0.0], T=0.6, h=0.004, **params)
    end = gap["iterates"][-1]
    assert np.sign(end) == sign and abs(end) > 1e-6
    # the order-1 modified ODE predicts the gap of the iterates
    assert gap["order1"][-1] == pytest.approx(end, rel=0.05)


def test_one_norm_rises_then_falls_from_a_small_initialization():
    """Near the saddle at 0 the gradient is small; it grows as the network escapes, then falls."""
    import bea
    from bea import losses
    from bea.regimes import perturbed_one_norm

    E, xs, _ = losses.two_layer(width=3, samples=6, seed=2)
    theta0 = 0.02 * np.random.default_rng(5).uniform(0.5, 1.0, len(xs))
    traj = bea.iterate("adam", E, xs, theta0, 400, 0.003, beta=0.9, rho=0.999, eps=1e-8)
    norm = perturbed_one_norm(E, xs, traj, 1e-8)
    peak = int(norm.argmax())
    assert 0 < peak < len(norm) - 1
    assert norm[peak] > 5 * norm[0] and norm[-1] < norm[peak] / 5


def test_one_norm_gap_needs_eps():
    import bea

    E, xs = quadratic(0)
    with pytest.raises(bea.BeaError, match=r"missing hyperparameter\(s\) \['eps'\]"):
        one_norm_gap(E, xs, [0.0, 0.0], T=0.1, h=0.01, beta=0.9, rho=0.99)
