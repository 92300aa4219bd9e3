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


@pytest.mark.parametrize("loss,fragment", [("not a loss", "the loss: invalid syntax"),
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
    with pytest.raises(BeaError, match="its input depends on n"):
        bea.modified_ode(OptimizerSpec("bad", "bad", step=S.m, states=(State(S.m, sp.Rational(1, 2), S.g * S.n),)),
                         order=1)


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


@pytest.mark.parametrize("value,fragment", [(sp.I, "finite real number"), (sp.oo, "finite real number"),
                                            (1 + sp.I, "finite real number"), (float("inf"), "must be finite"),
                                            (sp.Symbol("b") + sp.zoo, "finite real number"), ([0.1], "real number")])
def test_hyperparameters_are_finite_real_numbers(value, fragment):
    with pytest.raises(BeaError, match=fragment):
        bea.modified_ode("adam", E, [x, y], eps=value)


def test_a_loss_may_be_text_read_by_the_safe_reader():
    assert bea.modified_ode("gd", "(x*y - 1)**2/2", [x, y]).loss == E
    with pytest.raises(BeaError, match="the loss: not allowed: attribute access"):
        bea.modified_ode("gd", "x.__class__", [x, y])


@pytest.mark.parametrize("loss,fragment", [
    (sp.sign(x) + y**2, r"jumps where x = 0 \(from sign\(x\)\)"), (sp.floor(x), "x is an integer"),
    (sp.Heaviside(x - 1), "jumps"), (sp.Piecewise((x, x > 0), (0, True)), "Piecewise, which is not a known function"),
    (sp.Function("f")(x), "f, which is not a known function"), (sp.zoo * x, "not finite"), (sp.I * x, "not finite and real"),
    (sp.Integral(x, x), "Integral"),
])
def test_losses_that_cannot_be_derived_are_refused(loss, fragment):
    with pytest.raises(BeaError, match=fragment):
        bea.modified_ode("gd", loss, [x, y])


def test_a_kinked_loss_is_derived_with_a_warning_that_says_where():
    from bea.errors import NonSmoothWarning

    a, b = sp.symbols("a b", real=True)
    with pytest.warns(NonSmoothWarning, match=r"not smooth where a - 1 = 0 \(from Abs\(a - 1\)\)"):
        ode = bea.modified_ode("gd", sp.Abs(a - 1) + b**2, [a, b], order=1)
    assert ode.terms[0][0] == -sp.sign(a - 1)
    with pytest.raises(BeaError, match=r"Abs of variables not declared real \(\['x', 'y'\]\)"):
        bea.modified_ode("gd", sp.Abs(x - 1) + y**2, [x, y], order=1)


@pytest.mark.parametrize("name", ["n", "h", "t", "g", "theta", "m", "v", "beta", "epsilon", "lam"])
def test_reserved_names_are_refused_whatever_their_assumptions(name):
    z = sp.Symbol(name, positive=True)  # not bea's own symbol, only its name
    with pytest.raises(BeaError, match=rf"variable names \['{name}'\] are reserved by bea"):
        bea.modified_ode("gd", z**2 + x**2, [z, x])


def test_a_variable_named_like_a_user_spec_hyperparameter_is_refused():
    a = sp.Symbol("a", nonnegative=True)
    spec = OptimizerSpec("gd_a", "GD with weight decay a", step=S.g + a * S.theta, hyperparameters=(bea.Hyper("a", a, "nonnegative"),))
    with pytest.raises(BeaError, match=r"\['a'\] are reserved"):
        bea.modified_ode(spec, sp.Symbol("a", real=True) ** 2, [sp.Symbol("a", real=True)])


def _one_state(**fields):
    state = dict(symbol=S.m, decay=sp.Rational(1, 2), input=S.g, scale=sp.S.One) | fields
    return OptimizerSpec("s", "one state", step=S.m, states=(State(**state),),
                         hyperparameters=(bea.Hyper("beta", S.beta, "unit"),))


@pytest.mark.parametrize("fields,fragment", [
    (dict(decay=S.g), r"decay must be built from numbers, hyperparameters, n, t and h.*; it uses \['g'\]"),
    (dict(decay=sp.Integer(2)), r"decay must be in \[0, 1\], got 2"),
    (dict(decay=sp.Integer(-1)), r"decay must be in \[0, 1\], got -1"),
    (dict(scale=S.g), r"scale must be built from numbers, hyperparameters, n, t and h.* uses \['g'\]"),
    (dict(symbol=S.beta), r"state symbols must be distinct and differ from g, theta, n, t, h, player and the "
                          r"hyperparameters; \['beta'\] clash"),
    (dict(decay=sp.Function("grad_at")(S.theta)), "grad_at, which is not a known function"),
    (dict(input=sp.zoo), "not finite"),
    (dict(decay="beta**2", input="g**2", scale="1 - beta**2"), None),
    (dict(decay="__import__('os')"), "names starting with '__'"),
])
def test_specs_the_engine_cannot_derive_are_refused(fields, fragment):
    if fragment is None:
        assert _one_state(**fields).states[0].decay == S.beta**2
        return
    with pytest.raises(BeaError, match=fragment):
        _one_state(**fields)


@pytest.mark.parametrize("fields,fragment", [
    (dict(decay=1 / (S.n + 1)), r"decay 1/\(n \+ 1\), which varies with n or t without tending to 1"),
    (dict(input=S.m), r"state m is fed by its own new value \(m\)"),
    (dict(input=S.g * S.n), r"its input depends on n, but past inputs were taken at other n"),
])
def test_specs_well_formed_but_without_an_expansion_are_refused_when_derived(fields, fragment):
    spec = _one_state(**fields)
    with pytest.raises(BeaError, match=fragment):
        bea.modified_ode(spec, order=1)


def test_a_decay_is_checked_again_with_the_values_given():
    spec = _one_state(decay=2 * S.beta)
    bea.modified_ode(spec, order=1, stationary=True)  # symbolic: a formal result in beta
    with pytest.raises(BeaError, match=r"decay must be in \[0, 1\], got 9/5 = 2\*beta"):
        bea.modified_ode(spec, order=1, beta=0.9)


def test_two_states_may_not_share_a_symbol():
    with pytest.raises(BeaError, match=r"\['m'\] clash"):
        OptimizerSpec("s", "s", step=S.m, states=(State(S.m, sp.Rational(1, 2), S.g), State(S.m, sp.Rational(1, 3), S.g**2)))


def test_a_spec_written_as_text_equals_the_builtin():
    text = OptimizerSpec("hb", "heavy ball", step="m", states=(State("m", "beta", "g", "1 - beta"),),
                         hyperparameters=(bea.Hyper("beta", S.beta, "unit"),))
    builtin = bea.modified_ode("heavy_ball", order=2, stationary=True)
    assert [sp.simplify(a - b) for a, b in zip(bea.modified_ode(text, order=2, stationary=True).terms, builtin.terms)] == [0, 0, 0]


@pytest.mark.parametrize("call,fragment", [
    (lambda: bea.integrate(bea.modified_ode("gd", order=1, h=0.1), [1.0], 3), "abstract modified ODE cannot be integrated"),
    (lambda: bea.integrate(bea.modified_ode("gd", E, [x, y]), [1.0, 1.0], 3), "needs a number for h"),
    (lambda: bea.integrate(bea.modified_ode("gd", E, [x, y], h=0.1), [1.0, 1.0], -1), "steps must be a non-negative"),
    (lambda: bea.integrate(bea.modified_ode("gd", E, [x, y], h=0.1), ["a", 1.0], 3), "theta0 must be a list of 2 numbers"),
    (lambda: bea.iterate("gd", E, [x, y], ["a", "b"], 3, 0.1), "theta0 must be a list of 2 numbers"),
    (lambda: bea.iterate("gd", E, [x, y], [0.1, 0.2], 3, float("nan")), r"h must be > 0"),
])
def test_numerics_refuse_bad_arguments(call, fragment):
    with pytest.raises(BeaError, match=fragment):
        call()


def test_an_integration_that_stalls_at_a_kink_ends_with_an_error():
    a = sp.Symbol("a", real=True)
    with pytest.warns(bea.errors.NonSmoothWarning):
        ode = bea.modified_ode("gd", sp.Abs(a) + a**2 / 2, [a], order=1, h=0.01)
    with pytest.raises(BeaError, match=r"stalled at t = 0\.00\d+.*kink"):
        bea.integrate(ode, [0.01], 25)
