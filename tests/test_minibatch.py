"""Mini-batch fields (cyclic order, reshuffling) against iterates on per-batch losses."""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import bea
from bea import BeaError
from bea.integrate import error_slope, step_sizes
from bea.minibatch import batch_order, permutations_mean_epoch
from bea.verify import trajectory_error
from conftest import X2, random_loss

x, y = X2
LOSSES = [(x * y - 1) ** 2 / 2 + x**4 / 10, (x - 1) ** 2 / 2 + sp.sin(y) / 3 + y**2 / 2, (x + y) ** 2 / 4 + sp.cos(x) / 5]
HS = step_sizes(0.01, 3)


@pytest.mark.parametrize("order", [0, 1, 2])
def test_sgd_cyclic_fields_from_step_zero(order):
    assert bea.cyclic_ode("gd", LOSSES, X2, order=order, h=0.01).global_order == order + 1
    sweep = error_slope(lambda h: trajectory_error("gd", LOSSES, X2, (0.3, 1.2), h, order, T=0.3), HS)
    assert sweep.slope == pytest.approx(order + 1, abs=0.15), str(sweep)


@pytest.mark.parametrize("name,params", [
    ("adam", dict(beta=0.5, rho=0.6, eps=0.1)),  # per-sample Adam when each E_r is one sample's loss
    ("heavy_ball", dict(beta=0.5)),
    ("lion", dict(beta=0.3, rho=0.6, eps=0.2, lam=0.1)),
    ("nadam", dict(beta=0.4, rho=0.5, eps=0.1, lam=0.2)),
])
@pytest.mark.parametrize("order", [0, 1])
def test_memory_optimizers_on_cyclic_batches_after_the_transient(name, params, order):
    """After a burn-in (a whole number of cycles, so batch r of the field is batch r of the run),
    the stationary piecewise field tracks the iterates with error O(h^{p+1})."""
    rng = np.random.default_rng(order)
    losses = [random_loss(rng, X2) for _ in range(3)]
    sweep = error_slope(lambda h: trajectory_error(name, losses, X2, (0.3, -0.4), h, order, T=0.3, burn_in=1.5,
                                                   stationary=True, **params), HS)
    assert sweep.slope == pytest.approx(order + 1, abs=0.15), str(sweep)


def test_one_batch_is_the_full_batch_result():
    loss = LOSSES[0]
    params = dict(beta=0.6, rho=0.8, eps=0.05)
    one = bea.cyclic_ode("adam", [loss], X2, order=1, h=0.01, **params)
    full = bea.modified_ode("adam", loss, X2, order=1, h=0.01, stationary=True, **params)
    for point in np.random.default_rng(1).normal(size=(4, 2)):
        np.testing.assert_allclose(one.numpy_field(point, 7), full.numpy_field(point), rtol=1e-12)


def test_reshuffled_sgd_regularizer_is_smith_et_al():
    """E_π of the epoch: Ẽ = E + (h/4k) Σ_r ‖∇E_r‖² with E the mean loss (up to a constant)."""
    losses = LOSSES + [x**3 * y / 5 - y**4 / 7 + x * y]
    mean = bea.cyclic_ode("gd", losses, X2, order=1).reshuffled()
    typed = sum(sp.diff(E, x) ** 2 + sp.diff(E, y) ** 2 for E in losses) / (4 * len(losses))
    assert all(sp.simplify(sp.diff(mean.regularizer - typed, v)) == 0 for v in X2)
    assert all(sp.simplify(sp.diff(mean.potentials[0] - sum(losses) / 4, v)) == 0 for v in X2)


@pytest.mark.parametrize("order", [0, 1])
def test_expected_epoch_follows_the_mean_field(order):
    """Averaging one epoch over all k! orders, the mean field's flow over time kh is off by O(h^{p+2})."""
    k = len(LOSSES)

    def error(h):
        mean = bea.cyclic_ode("gd", LOSSES, X2, order=order, h=h).reshuffled()
        field = sp.lambdify([list(X2)], list(sum((h**i * F for i, F in enumerate(mean.terms)), sp.zeros(2, 1))))
        flow = solve_ivp(lambda t, th: np.ravel(field(list(th))), (0, k * h), [0.3, 1.2], method="DOP853",
                         rtol=1e-13, atol=1e-15).y[:, -1]
        return np.linalg.norm(permutations_mean_epoch("gd", LOSSES, X2, (0.3, 1.2), h) - flow)

    sweep = error_slope(error, step_sizes(0.02, 3))
    assert sweep.slope == pytest.approx(order + 2, abs=0.15), str(sweep)


def test_shuffle_schedule_visits_every_batch_once_per_epoch():
    order = batch_order(4, 22, "shuffle", seed=7)
    for e in range(5):
        assert sorted(order[4 * e: 4 * e + 4]) == [0, 1, 2, 3]
    assert not np.array_equal(order, batch_order(4, 22, "cyclic"))
    run = bea.iterate_batches("adam", LOSSES, X2, (0.3, 1.2), 30, 0.01, schedule="shuffle", beta=0.9, rho=0.99, eps=1e-8)
    assert run.shape == (31, 2) and np.all(np.isfinite(run))


@pytest.mark.parametrize("call,fragment", [
    (lambda: bea.cyclic_ode("gd", [], X2), "losses is empty"),
    (lambda: bea.cyclic_ode("gd", x**2, X2), "list of SymPy expressions"),
    (lambda: bea.cyclic_ode("adam", LOSSES, X2, order=2), "order ≤ 1"),
    (lambda: bea.cyclic_ode("adam", LOSSES, X2, stationary=False), "stationary=True"),
    (lambda: bea.cyclic_ode("adam", LOSSES, X2).reshuffled(), "memoryless optimizers only"),
    (lambda: bea.cyclic_ode("gd", LOSSES, X2, order=2).reshuffled(), "holds to order 1"),
    (lambda: bea.iterate_batches("gd", LOSSES, X2, (0, 0), 5, 0.1, schedule="random"), "'cyclic' or 'shuffle'"),
    (lambda: bea.cyclic_ode("gd", [x**2, x * sp.Symbol("z")], X2), "not among the variables"),
])
def test_bad_mini_batch_input(call, fragment):
    with pytest.raises(BeaError) as info:
        call()
    assert fragment in str(info.value)
