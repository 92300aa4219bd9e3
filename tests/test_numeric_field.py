"""The numeric callables: rhs(t, θ) picks the interval's n; NumPy and torch agree."""
import numpy as np
import pytest
import sympy as sp

import bea
from bea import symbols as S

x, y = sp.symbols("x y")
E = (x * y - 1) ** 2 / 2 + x**4 / 10
PARAMS = dict(order=1, h=0.01, beta=0.9, rho=0.99, eps=1e-3, bias_correction=True)


def test_rhs_uses_floor_t_over_h():
    ode = bea.modified_ode("adam", E, [x, y], **PARAMS)
    theta = [0.5, 1.0]
    for t, n in [(0.0, 0), (0.005, 0), (0.01, 1), (0.0299999999, 2), (0.03, 3), (0.5, 50)]:
        np.testing.assert_allclose(ode.rhs(t, theta), ode.numpy_field(theta, n))
    expected = [float(sp.N(F.subs({x: 0.5, y: 1.0, S.n: 7}))) for F in ode.field]
    np.testing.assert_allclose(ode.numpy_field(theta, 7), expected, rtol=1e-12)


def test_torch_field_matches_numpy():
    torch = pytest.importorskip("torch")
    ode = bea.modified_ode("adam", E, [x, y], **PARAMS)
    f = ode.torch_field()
    theta = torch.tensor([0.5, 1.0], dtype=torch.float64)
    for n in [0, 3, 100]:
        np.testing.assert_allclose(f(theta, n).numpy(), ode.numpy_field([0.5, 1.0], n), rtol=1e-12)


def test_integrate_step_independent_path():
    ode = bea.modified_ode("gd", E, [x, y], order=1, h=0.01)
    flow = bea.integrate(ode, [0.5, 1.0], 20)
    assert flow.shape == (21, 2) and not ode.step_dependent
    np.testing.assert_allclose(flow[0], [0.5, 1.0])


def test_numeric_layer_backends_agree_and_mpmath_keeps_its_digits():
    import mpmath

    from bea.numeric import function

    exprs = [sp.sin(x) * y, sp.exp(x * y) / 3]
    numpy_values = function([[x, y]], exprs)([0.3, 1.2])
    with mpmath.workdps(40):
        mp_values = function([[x, y]], exprs, "mpmath")([mpmath.mpf(3) / 10, mpmath.mpf(12) / 10])
        exact = [sp.N(e.subs({x: sp.Rational(3, 10), y: sp.Rational(6, 5)}), 40) for e in exprs]
        assert all(abs(m - mpmath.mpf(str(e))) < mpmath.mpf(10) ** -35 for m, e in zip(mp_values, exact))
    np.testing.assert_allclose(numpy_values, [float(v) for v in exact], rtol=1e-14)
    with pytest.raises(bea.BeaError, match="unknown numeric backend"):
        function([[x, y]], exprs, "jax")


def test_torch_code_takes_hyperparameters_beyond_int64():
    """A hyperparameter 1e20 is taken exactly (an Integer); torch cannot convert it to int64, so the
    generated code holds it as a float."""
    torch = pytest.importorskip("torch")
    from bea.numeric import function

    x = sp.Symbol("x")
    f = function([x], sp.Integer(10**20) * x + sp.Integer(3) * x, "torch")
    assert f(torch.tensor([2.0], dtype=torch.float64)).tolist() == [2e20 + 6]
