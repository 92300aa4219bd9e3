"""One parametrised check over every registered optimizer: the derived field has its declared order.

The cases are the registry's (:func:`bea.registry.cases`: every built-in optimizer with each
of its examples), so a newly registered optimizer is checked here without editing this file.
For random smooth losses (or the example's library loss), the order-p modified ODE tracks the
discrete iterates with global error O(h^q), q = ``ode.global_order`` (p + 1, or less where a
low-order term depends on n), and the first step with local error O(h^{p+2}).  Step sizes are
well inside the validity range h ≪ 1 − ρ; the global slope is fitted on the three smallest
(halving h at most twice more when the fit is not yet asymptotic).
"""
import pytest
import sympy as sp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import bea
from bea import losses as library
from bea.integrate import error_slope, step_sizes
from bea.plan import plan
from bea.registry import cases
from bea.verify import trajectory_error
from conftest import X2

HS = step_sizes(0.01, 4)
T = 0.25

CASES = cases()
FORGETTING = [case for case in CASES if not case.accumulates]
#: (case, order) whose global slope from step 0 is measured on random smooth losses (fast suite)
RANDOM_LOSS_SLOPES = [(c, p) for c in FORGETTING if c.example.loss is None for p in c.example.orders]
#: the same on the example's own library loss
LIBRARY_LOSS_SLOPES = [(c, p) for c in FORGETTING if c.example.loss is not None for p in c.example.orders]
#: orders checked in the slow suite only
SLOW_SLOPES = [(c, p) for c in FORGETTING for p in c.example.slow_orders]
#: the first step's local error; not for a flow that starts singular (a running average's weight 1/(n+1) is
#: not small on the first steps: those are checked after a burn-in below, with the other memories)
FIRST_STEP = [(c, p) for c in CASES if not plan(c.spec()).start_step for p in ((0,) if c.accumulates else (0, 1, 2))]
#: with memory: the n → ∞ field after the transient
STATIONARY = [(c, p) for c in FORGETTING if c.spec().states for p in (1, 2)]
ACCUMULATING = [(c, p) for c in CASES if c.accumulates for p in c.example.orders]


def case_ids(items):
    return [f"{case.id}-{order}" for case, order in items]


def problem(case):
    """(loss, variables, θ₀): the example's library loss, or the smooth 2-D loss the fixed-loss checks use."""
    return library.get(case.example.loss) if case.example.loss else library.nonconvex()


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


def slope_check(case, order, loss, variables, theta0, tol=0.2, max_halvings=2):
    """(errors over HS, the declared global order q): halve h (at most twice) until the fit over
    the three smallest steps is in the asymptotic regime (within ``tol`` of q) or the halvings run out."""
    q = bea.modified_ode(case.name, loss, variables, order=order, h=HS[-1], **case.params).global_order
    assert q is not None

    def error(h):
        return trajectory_error(case.name, loss, variables, theta0, h, order, T, **case.params)

    sweep = error_slope(error, HS)
    for _ in range(max_halvings):
        if max(sweep.errors) < 1e-11 or abs(sweep.last(3).slope - q) <= tol:
            break
        sweep = sweep.halved(error)
    return sweep, q


def check_slope(case, order, loss, variables, theta0):
    sweep, q = slope_check(case, order, loss, variables, theta0)
    if max(sweep.errors) < 1e-11:  # the correction vanishes identically on this loss (nothing to measure)
        return
    slope = sweep.last(3).slope
    if q == order + 1:
        assert slope == pytest.approx(q, abs=0.2), str(sweep)
    else:  # capped by an n-dependent term: its O(h^q) transient error can have a small constant, so the
        # slope approaches q from above (between q and p + 1) until h is very small; it must not fall below q
        assert q - 0.2 <= slope <= order + 1.2, str(sweep)


NO_SHRINK = [Phase.explicit, Phase.generate]  # each example is a full slope fit: report it, do not shrink


def slope_test(examples: int):
    """The slope check over every (case, order), on ``examples`` hypothesis-drawn losses and starts."""
    def wrap(_):
        @pytest.mark.parametrize("case,order", RANDOM_LOSS_SLOPES, ids=case_ids(RANDOM_LOSS_SLOPES))
        @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                  derandomize=True, phases=NO_SHRINK)
        @given(loss=losses(), theta0=st.tuples(st.floats(-1, 1), st.floats(-1, 1)))
        def test(case, order, loss, theta0):
            check_slope(case, order, loss, X2, theta0)
        return test
    return wrap


@slope_test(examples=2)
def test_global_error_slope():
    """Two losses per case in the fast suite."""


@pytest.mark.slow
@slope_test(examples=12)
def test_global_error_slope_many_losses():
    """Twelve losses per case in the slow suite."""


@pytest.mark.parametrize("case,order", LIBRARY_LOSS_SLOPES, ids=case_ids(LIBRARY_LOSS_SLOPES))
def test_global_error_slope_on_the_example_loss(case, order):
    """Examples that name a library loss (e.g. ε outside the root puts |g| in the field, smooth only
    where no component of ∇E crosses 0): the slope check on that loss from its start."""
    check_slope(case, order, *problem(case))


@pytest.mark.parametrize("case,order", FIRST_STEP, ids=case_ids(FIRST_STEP))
def test_first_step_local_error(case, order):
    """|θ₁ − θ̃(h)| = O(h^{p+2}): the field on the first interval is right to order p."""
    loss, variables, theta0 = problem(case)
    sweep = error_slope(lambda h: steps_error(case, loss, variables, theta0, h, order, 1), step_sizes(0.04, 4))
    assert sweep.slope == pytest.approx(order + 2, abs=0.2), str(sweep)


def steps_error(case, loss, variables, theta0, h, order, steps):
    """The error after a fixed number of steps (not a fixed horizon)."""
    return trajectory_error(case.name, loss, variables, theta0, h, order, T=steps * h, **case.params)


@pytest.mark.slow
@pytest.mark.parametrize("case,order", SLOW_SLOPES, ids=case_ids(SLOW_SLOPES))
def test_higher_order_slope(case, order):
    """Orders beyond the fast suite, on the example's fixed loss: GD at order 3 is O(h⁴); with bias
    correction heavy ball's F₁ depends on n, which caps its global order at 3; without it, RMSProp's
    and Adam's F₀ depends on n, which caps theirs at 2."""
    sweep, q = slope_check(case, order, *problem(case), tol=0.25)
    assert sweep.last(3).slope == pytest.approx(q, abs=0.25), str(sweep)


@pytest.mark.parametrize("case,order", STATIONARY, ids=case_ids(STATIONARY))
def test_stationary_field_tracks_the_iterates_after_the_transient(case, order):
    """Once the memory transient has died out (a burn-in of t₀ = 1, i.e. ≥ 100 steps, a^100 < 1e-22),
    the iterates follow the n → ∞ field to O(h^{p+1}): the stationary result is right at every order,
    also where the leading field depends on n (no bias correction)."""
    loss, variables, theta0 = problem(case)
    sweep = error_slope(lambda h: trajectory_error(case.name, loss, variables, theta0, h, order, T, burn_in=1.0,
                                                   stationary=True, **case.params), HS)
    assert sweep.last(3).slope == pytest.approx(order + 1, abs=0.2), str(sweep)


@pytest.mark.parametrize("case,order", ACCUMULATING, ids=case_ids(ACCUMULATING))
def test_accumulator_order_over_a_fixed_number_of_steps(case, order):
    """A state that never forgets (AdaGrad's accumulator): no fixed-horizon order, but the field matches
    N fixed steps to O(h^{p+2}) as h → 0."""
    loss, variables, theta0 = problem(case)
    ode = bea.modified_ode(case.name, loss, variables, order=order, h=0.01, **case.params)
    assert ode.global_order is None and ode.accumulates
    sweep = error_slope(lambda h: steps_error(case, loss, variables, theta0, h, order, 10), step_sizes(0.02, 4))
    assert sweep.slope == pytest.approx(order + 2, abs=0.15), str(sweep)
