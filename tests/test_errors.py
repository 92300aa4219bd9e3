"""Bad input gets a BeaError that names the problem, never a traceback from SymPy or NumPy."""
import pytest
import sympy as sp

import bea
from bea import BeaError
from bea.spec import OptimizerSpec, State
from bea import symbols as S

x, y = sp.symbols("x y")
E = (x * y - 1) ** 2 / 2


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(beta=1.0), "beta must be in [0, 1)"),
    (dict(beta=-0.1), "beta must be in [0, 1)"),
    (dict(rho=1.5), "rho must be in [0, 1)"),
    (dict(eps=-1e-8), "eps must be >= 0"),
    (dict(beta=float("nan")), "beta must be in [0, 1)"),
    (dict(beta="0.9"), "beta must be a real number"),
    (dict(gamma=0.1), "unknown hyperparameter(s) ['gamma']"),
    (dict(bias_correction="yes"), "bias_correction must be True or False"),
])
def test_bad_hyperparameters(kwargs, fragment):
    with pytest.raises(BeaError, match=None) as info:
        bea.modified_ode("adam", E, [x, y], order=1, **kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize("order", [-1, 1.5, "2", True])
def test_bad_order(order):
    with pytest.raises(BeaError, match="order must be"):
        bea.modified_ode("gd", E, [x, y], order=order)


def test_unknown_optimizer():
    with pytest.raises(BeaError, match="unknown optimizer 'adamw2'; known: gd, heavy_ball"):
        bea.modified_ode("adamw2", E, [x, y])


def test_loss_not_in_the_variables():
    z = sp.Symbol("z")
    with pytest.raises(BeaError, match=r"the loss uses \['z'\], which are not among the variables"):
        bea.modified_ode("gd", E + z, [x, y])


@pytest.mark.parametrize("loss,fragment", [("not a loss", "must be a SymPy expression"),
                                           (sp.Matrix([x, y]), "scalar SymPy expression"),
                                           (object(), "must be a SymPy expression")])
def test_loss_not_an_expression(loss, fragment):
    with pytest.raises(BeaError, match=fragment):
        bea.modified_ode("gd", loss, [x, y])


@pytest.mark.parametrize("variables,fragment", [([], "non-empty"), ([x, x], "distinct"), (["x", "y"], "SymPy symbols"),
                                                (5, "list of SymPy symbols")])
def test_bad_variables(variables, fragment):
    with pytest.raises(BeaError, match=fragment):
        bea.modified_ode("gd", E, variables)


def test_variables_without_loss_and_loss_without_variables():
    with pytest.raises(BeaError, match="without a loss"):
        bea.modified_ode("gd", variables=[x, y])
    with pytest.raises(BeaError, match="needs its variables"):
        bea.modified_ode("gd", E)


def test_iterate_needs_every_hyperparameter():
    with pytest.raises(BeaError, match=r"missing hyperparameter\(s\) \['rho', 'eps'\]"):
        bea.iterate("adam", E, [x, y], [0.1, 0.2], steps=3, h=0.01, beta=0.9)


@pytest.mark.parametrize("kwargs,fragment", [(dict(h=0.0), "h must be > 0"), (dict(h=-1), "h must be > 0"),
                                             (dict(steps=-2), "steps must be a non-negative integer"),
                                             (dict(theta0=[1.0]), "theta0 must have 2 entries"),
                                             (dict(theta0=[1.0, float("inf")]), "theta0 must be finite")])
def test_iterate_bad_arguments(kwargs, fragment):
    args = dict(theta0=[0.1, 0.2], steps=3, h=0.01) | kwargs
    with pytest.raises(BeaError, match=fragment):
        bea.iterate("gd", E, [x, y], args["theta0"], args["steps"], args["h"])


def test_divergence_is_reported():
    with pytest.raises(BeaError, match="gd diverged at step"):
        bea.iterate("gd", x**4, [x], [10.0], steps=50, h=1.0)


def test_numeric_field_needs_numbers():
    ode = bea.modified_ode("adam", E, [x, y], order=1, beta=0.9)
    with pytest.raises(BeaError, match=r"needs numbers for \['epsilon', 'h', 'rho'\]"):
        ode.rhs(0.0, [0.1, 0.2])
    with pytest.raises(BeaError, match="abstract result has no numeric field"):
        bea.modified_ode("gd", order=1, h=0.1).rhs(0.0, [0.1])


def test_stationary_regime_does_not_exist_for_step_dependent_steps():
    spec = OptimizerSpec("decay", "1/(n+1) step", step=S.g / (S.n + 1))
    with pytest.raises(BeaError, match="no n → ∞ limit"):
        bea.modified_ode(spec, E, [x, y], stationary=True)


def test_malformed_spec():
    stray = sp.Symbol("w")
    with pytest.raises(BeaError, match=r"its step uses \['w'\]"):
        OptimizerSpec("bad", "bad", step=S.g * stray)
    with pytest.raises(BeaError, match="state m must be built from g, theta"):
        OptimizerSpec("bad", "bad", step=S.m, states=(State(S.m, sp.Rational(1, 2), S.g * S.n),))


def test_reserved_variable_names():
    g = sp.Symbol("g", real=True)
    with pytest.raises(BeaError, match="reserved by bea"):
        bea.modified_ode("gd", g**2, [g])


def test_sign_based_steps_are_refused_with_the_reason():
    with pytest.raises(BeaError, match=r"eps must be > 0, got 0 \(ε of the smooth sign"):
        bea.modified_ode("signum", order=1, eps=0)
    spec = OptimizerSpec("plain_signsgd", "signSGD", step=sp.sign(S.g))
    with pytest.raises(BeaError, match="discontinuous.*smooth sign"):
        bea.modified_ode(spec, order=1)
    with pytest.raises(BeaError, match=r"rho must be in \(0, 1\), got 0"):
        bea.modified_ode("lion", order=1, rho=0)


def test_adagrad_beyond_order_zero_and_stationary_are_refused():
    with pytest.raises(BeaError, match="never forgets.*only order 0"):
        bea.modified_ode("adagrad", order=1)
    with pytest.raises(BeaError, match="no stationary regime"):
        bea.modified_ode("adagrad", order=0, stationary=True)
