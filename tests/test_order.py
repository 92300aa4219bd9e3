"""One parametrised check over every optimizer: the derived field has its declared order.

For random smooth losses, the order-p modified ODE tracks the discrete iterates with
global error O(h^q), q = ``ode.global_order`` (p + 1, or less where a low-order term
depends on n), and the first step with local error O(h^{p+2}).  Step sizes are well
inside the validity range h ≪ 1 − ρ; the global slope is fitted on the three smallest
(halving h at most twice more when the fit is not yet asymptotic).
"""
import pytest
import sympy as sp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import bea
from bea.integrate import fitted_slope, global_error, integrate
from conftest import X2

HS = [0.01, 0.005, 0.0025, 0.00125]
T = 0.25
OPTIMIZERS = {
    "gd": {},
    "heavy_ball": dict(beta=0.5),
    "heavy_ball+bc": dict(beta=0.5, bias_correction=True),
    "heavy_ball_polyak": dict(beta=0.4),
    "rmsprop": dict(rho=0.6, eps=0.1),
    "rmsprop+bc": dict(rho=0.6, eps=0.1, bias_correction=True),
    "adam": dict(beta=0.5, rho=0.6, eps=0.1),
    "adam-bc": dict(beta=0.5, rho=0.6, eps=0.1, bias_correction=False),
    "nesterov": dict(beta=0.4),
    "adamw": dict(beta=0.5, rho=0.6, eps=0.1, lam=0.3),
    "nadam": dict(beta=0.5, rho=0.6, eps=0.1, lam=0.3),
    "signum": dict(beta=0.5, eps=0.2),
    "signum-sgd": dict(beta=0, eps=0.2),
    "lion": dict(beta=0.3, rho=0.6, eps=0.2, lam=0.2),
}
ORDER_TWO = {"gd", "heavy_ball", "heavy_ball+bc", "heavy_ball_polyak", "adam", "rmsprop+bc", "nesterov", "adamw",
             "nadam", "signum", "signum-sgd", "lion"}


def losses():
    """Random smooth 2-D losses: a random quadratic, a quartic, and a random cosine bump."""
    coef = st.integers(-10, 10).map(lambda k: sp.Rational(k, 10))
    x, y = X2

    @st.composite
    def build(draw):
        a, b, c = draw(coef), draw(coef), draw(coef)
        w1, w2, amp = draw(coef), draw(coef), draw(coef)
        quad = (1 + abs(a)) * x**2 / 2 + b * x * y + (1 + abs(c)) * y**2 / 2
        return quad + (x**4 + y**4) / 10 + amp * sp.cos(w1 * x + w2 * y + 1) / 2
    return build()


def error_at(name, params, loss, order, theta0, h):
    base = name.split("+")[0].split("-")[0]
    ode = bea.modified_ode(base, loss, X2, order=order, h=h, **params)
    steps = int(round(T / h))
    iterates = bea.iterate(base, loss, X2, theta0, steps, h, **params)
    return global_error(iterates, integrate(ode, theta0, steps)), ode


def slope_check(name, order, loss, theta0, tol=0.2, max_halvings=2):
    """Fit the slope over the three smallest steps; halve h (at most twice) until that fit is
    in the asymptotic regime (within ``tol`` of the declared order) or the halvings run out."""
    hs = list(HS)
    errs, odes = zip(*(error_at(name, OPTIMIZERS[name], loss, order, theta0, h) for h in hs))
    errs, ode = list(errs), odes[-1]
    for _ in range(max_halvings):
        if max(errs) < 1e-11 or abs(fitted_slope(hs[-3:], errs[-3:]) - ode.global_order) <= tol:
            break
        hs.append(hs[-1] / 2)
        errs.append(error_at(name, OPTIMIZERS[name], loss, order, theta0, hs[-1])[0])
    return hs, errs, ode


CASES = [(name, p) for name in OPTIMIZERS for p in (0, 1, 2) if p < 2 or name in ORDER_TWO]


def check_slope(name, order, loss, theta0):
    hs, errs, ode = slope_check(name, order, loss, theta0)
    if max(errs) < 1e-11:  # the correction vanishes identically on this loss (nothing to measure)
        return
    q = ode.global_order
    assert q is not None
    slope = fitted_slope(hs[-3:], errs[-3:])
    if q == order + 1:
        assert slope == pytest.approx(q, abs=0.2), (hs, errs)
    else:  # capped by an n-dependent term: its O(h^q) transient error can have a small constant, so the
        # slope approaches q from above (between q and p + 1) until h is very small; it must not fall below q
        assert q - 0.2 <= slope <= order + 1.2, (hs, errs)


NO_SHRINK = [Phase.explicit, Phase.generate]  # each example is a full slope fit: report it, do not shrink


def slope_test(examples: int):
    """The slope check over every (optimizer, order), on ``examples`` hypothesis-drawn losses and starts."""
    def wrap(_):
        @pytest.mark.parametrize("name,order", CASES)
        @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                  derandomize=True, phases=NO_SHRINK)
        @given(loss=losses(), theta0=st.tuples(st.floats(-1, 1), st.floats(-1, 1)))
        def test(name, order, loss, theta0):
            check_slope(name, order, loss, theta0)
        return test
    return wrap


@slope_test(examples=2)
def test_global_error_slope():
    """Two losses per case in the fast suite."""


@pytest.mark.slow
@slope_test(examples=12)
def test_global_error_slope_many_losses():
    """Twelve losses per case in the slow suite."""


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("order", [0, 1, 2])
def test_first_step_local_error(name, order):
    """|θ₁ − θ̃(h)| = O(h^{p+2}): the field on the first interval is right to order p."""
    x, y = X2
    loss = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3
    base = name.split("+")[0].split("-")[0]
    theta0 = [0.3, 1.2]
    hs = [0.04, 0.02, 0.01, 0.005]
    errs = []
    for h in hs:
        ode = bea.modified_ode(base, loss, X2, order=order, h=h, **OPTIMIZERS[name])
        errs.append(global_error(bea.iterate(base, loss, X2, theta0, 1, h, **OPTIMIZERS[name]),
                                 integrate(ode, theta0, 1)))
    assert fitted_slope(hs, errs) == pytest.approx(order + 2, abs=0.2), errs


@pytest.mark.slow
@pytest.mark.parametrize("name,expected", [("gd", 4), ("heavy_ball+bc", 3)])
def test_order_three_slope(name, expected):
    """GD at order 3 is O(h⁴); with bias correction F₁ depends on n, which caps the global order at 3."""
    x, y = X2
    loss = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3
    hs, errs, ode = slope_check(name, 3, loss, (0.3, 1.2), tol=0.25)
    assert ode.global_order == expected
    assert fitted_slope(hs[-3:], errs[-3:]) == pytest.approx(expected, abs=0.25), (hs, errs)


STATIONARY = ["heavy_ball", "heavy_ball_polyak", "rmsprop", "adam", "adam-bc", "nadam", "signum", "lion"]


@pytest.mark.parametrize("name", STATIONARY)
@pytest.mark.parametrize("order", [1, 2])
def test_stationary_field_tracks_the_iterates_after_the_transient(name, order):
    """Once the memory transient has died out (a burn-in of t₀ = 1, i.e. ≥ 100 steps, a^100 < 1e-22),
    the iterates follow the n → ∞ field to O(h^{p+1}): the stationary result is right at every order,
    also where the leading field depends on n (no bias correction)."""
    x, y = X2
    loss = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3
    base, params = name.split("+")[0].split("-")[0], OPTIMIZERS[name]
    errs = []
    for h in HS:
        burn_in, steps = int(round(1.0 / h)), int(round(T / h))
        iterates = bea.iterate(base, loss, X2, (0.3, 1.2), burn_in + steps, h, **params)[burn_in:]
        ode = bea.modified_ode(base, loss, X2, order=order, h=h, stationary=True, **params)
        errs.append(global_error(iterates, integrate(ode, iterates[0], steps)))
    assert fitted_slope(HS[1:], errs[1:]) == pytest.approx(order + 1, abs=0.2), errs


@pytest.mark.parametrize("order", [0, 1, 2])
def test_adam_eps_outside_slopes_where_gradients_stay_away_from_zero(order):
    """ε outside the root puts |g| in the field: smooth only where no component of ∇E crosses 0,
    so this check uses a quadratic whose minimizer stays far away on the horizon."""
    x, y = X2
    loss = (x - 3) ** 2 + (x - 3) * (y + 3) / 2 + (y + 3) ** 2 / 2
    params = dict(beta=0.5, rho=0.6, eps=0.1)
    errs = []
    for h in HS:
        ode = bea.modified_ode("adam_eps_outside", loss, X2, order=order, h=h, **params)
        steps = int(round(T / h))
        errs.append(global_error(bea.iterate("adam_eps_outside", loss, X2, (0.0, 0.0), steps, h, **params),
                                 integrate(ode, (0.0, 0.0), steps)))
    assert fitted_slope(HS[1:], errs[1:]) == pytest.approx(ode.global_order, abs=0.2), errs


def test_adagrad_order_zero_over_a_fixed_number_of_steps():
    """AdaGrad's accumulator never forgets: its order-0 field matches N fixed steps to O(h²) as h → 0."""
    x, y = X2
    loss = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3
    hs, errs = [0.02, 0.01, 0.005, 0.0025], []
    for h in hs:
        ode = bea.modified_ode("adagrad", loss, X2, order=0, h=h, eps=0.1)
        assert ode.global_order is None and ode.accumulates
        errs.append(global_error(bea.iterate("adagrad", loss, X2, (0.3, 1.2), 10, h, eps=0.1),
                                 integrate(ode, (0.3, 1.2), 10)))
    assert fitted_slope(hs, errs) == pytest.approx(2, abs=0.15), errs
