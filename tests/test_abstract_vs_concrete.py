"""The dimension-free result, evaluated for a loss, equals the concrete derivation (2-D and 3-D),
for every registered optimizer and example."""
import numpy as np
import pytest
import sympy as sp

import bea
from bea import symbols as S
from bea.registry import cases
from conftest import X2, X3, random_loss


def avc_order(case) -> int:
    """The example's order for this check: its ``abstract_order``, capped by the orders it has."""
    return min(case.example.abstract_order, max(case.example.orders))


#: every registered optimizer with each example (bea.registry), at its abstract_order in 2-D and at
#: most 1 in 3-D in the fast suite; 3-D above order 1 runs in the slow suite
ABSTRACT = [case for case in cases() if case.example.abstract_order is not None]  # None: concrete only
FAST = [(case, avc_order(case) if len(variables) == 2 else min(avc_order(case), 1), variables, stationary)
        for case in ABSTRACT for variables in (X2, X3)
        for stationary in (False, True) if not (stationary and case.accumulates)]  # AdaGrad: no n → ∞ regime
SLOW = [(case, avc_order(case), X3, stationary) for case in ABSTRACT if avc_order(case) > 1
        for stationary in (False, True) if not (stationary and case.accumulates)]


def ids(items):
    return [f"{case.id}-{order}-{len(variables)}d-{'stationary' if stationary else 'finite'}"
            for case, order, variables, stationary in items]


def check(case, order, variables, stationary, steps):
    rng = np.random.default_rng(len(variables) * 100 + order)
    loss = random_loss(rng, variables)
    concrete = bea.modified_ode(case.name, loss, variables, order=order, h=0.01, stationary=stationary, **case.params)
    abstract = bea.modified_ode(case.name, order=order, h=0.01, stationary=stationary, **case.params)
    lifted = abstract.concretize(loss, variables)
    for point in rng.uniform(-1, 1, size=(3, len(concrete.flow_variables))):  # slow states' variables too
        for step in steps if not stationary else [0]:
            np.testing.assert_allclose(lifted.numpy_field(point, step, t=0.7), concrete.numpy_field(point, step, t=0.7),
                                       rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("case,order,variables,stationary", FAST, ids=ids(FAST))
def test_abstract_equals_concrete(case, order, variables, stationary):
    check(case, order, variables, stationary, [0, 1, 4, 30])


@pytest.mark.slow
@pytest.mark.parametrize("case,order,variables,stationary", SLOW, ids=ids(SLOW))
def test_abstract_equals_concrete_in_three_dimensions(case, order, variables, stationary):
    check(case, order, variables, stationary, [0, 2, 25])


def test_terms_are_plain_sympy_objects():
    x, y = X2
    ode = bea.modified_ode("adam", (x * y - 1) ** 2 / 2 + x**4 / 10, [x, y], order=1, h=0.01,
                           beta=0.9, rho=0.99, eps=1e-3, bias_correction=True)
    assert all(isinstance(F, sp.Matrix) and F.shape == (2, 1) for F in ode.terms)
    assert ode.terms[1].has(S.n)  # piecewise in n: bias correction
    assert not ode.terms[0].has(S.n)  # bias-corrected Adam leads with −g/s on every interval
