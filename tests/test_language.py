"""The optimizer language beyond EMA states: known first-order corrections (typed from the literature
and from hand derivations, not from the engine), hand-written loops of every new built-in, and the
refusals.  References: Barrett & Dherin 2021; Rosca et al. 2021 (games); Compagnoni et al. 2023
(SAM, USAM); the "first-order corrections" digest in shared/papers."""
import numpy as np
import pytest
import sympy as sp

import bea
from bea import symbols as S
from bea.errors import BeaError
from bea.games import game
from bea.integrate import error_slope, step_sizes
from bea.spec import Hyper, OptimizerSpec, State
from bea.verify import trajectory_error
from conftest import X2, evaluate, random_loss

x, y = X2
LOSS = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3 + sp.log(1 + sp.exp(x - 2 * y)) / 2


def grad(E):
    return sp.Matrix([sp.diff(E, v) for v in X2])


def field_at(ode, i, point):
    return np.array([evaluate(F, X2, point) for F in ode.terms[i]])


def expected_at(expr, point):
    return np.array([evaluate(F, X2, point) for F in expr])


POINTS = np.random.default_rng(7).uniform(-1, 1, size=(3, 2))


@pytest.mark.parametrize("name,params,coefficient", [
    ("extragradient", {}, sp.Rational(1, 2)),                   # θ⁺ = θ − h∇E(θ − h∇E): F₁ = +½ H g
    ("usam", dict(c=0.7), -(sp.Rational(7, 10) + sp.Rational(1, 2))),  # ∇E(θ + r∇E), r = ch: F₁ = −(c + ½) H g
    ("gd", {}, -sp.Rational(1, 2)),                             # Barrett & Dherin
])
def test_first_order_corrections_of_gradient_extrapolations(name, params, coefficient):
    ode = bea.modified_ode(name, LOSS, X2, order=1, **params)
    H, g = sp.hessian(LOSS, X2), grad(LOSS)
    for point in POINTS:
        np.testing.assert_allclose(field_at(ode, 1, point), expected_at(coefficient * H * g, point), rtol=1e-10)


def test_sam_penalizes_the_gradient_norm_not_its_square():
    """SAM with r = ch: F₁ = −∇(c‖∇E‖ + ¼‖∇E‖²); the gradient of that functional is taken here by
    central finite differences of the functional itself (an independent route)."""
    c = sp.Rational(7, 10)
    ode = bea.modified_ode("sam", LOSS, X2, order=1, c=c)
    g = grad(LOSS)
    potential = sp.lambdify([X2], c * sp.sqrt(g.dot(g)) + g.dot(g) / 4)
    for point in POINTS:
        fd = np.array([(potential(point + e) - potential(point - e)) / 2e-6 for e in np.eye(2) * 1e-6])
        np.testing.assert_allclose(field_at(ode, 1, point), -fd, rtol=1e-6)
    abstract = bea.modified_ode("sam", order=1).terms[1]
    assert abstract.has(S.CoordSum(S.g**2))  # the norm ‖∇E‖ = √(Σ_j ∂_jE²) appears, as a global scalar


def test_coordinate_sums_print_as_sums_over_j_in_every_format():
    """A sum over all coordinates keeps its own g (ε + Σⱼ gⱼ², not ε + Σⱼ(sⱼ² − ε)) and prints as Σⱼ / \\sum_j."""
    ode = bea.modified_ode("normalized_gd", order=1)
    text = ode.pretty()
    assert "Σⱼ(g⋅∇²E[g])" in text and "CoordSum" not in text
    assert text.count("⎝g ⎠") >= 3 and "- ε + s" not in text  # ε + Σⱼ g² in F₀ and twice in F₁
    assert r"\sum_j\left(g^{2}\right)" in ode.latex() and "CoordSum" not in ode.latex()


def test_gd_with_a_schedule_has_the_time_derivative_term():
    """θ⁺ = θ − hη(t_n)∇E: F₀ = −η g, F₁ = −½(η² H g − η′ g) (the η′ term comes from ∂_t in the flow)."""
    eta = 1 + S.t**2 / 3
    spec = OptimizerSpec("gd_eta", "GD with η(t) = 1 + t²/3", step=eta * S.g)
    ode = bea.modified_ode(spec, LOSS, X2, order=1)
    H, g = sp.hessian(LOSS, X2), grad(LOSS)
    expected = -(eta**2 * H * g - sp.diff(eta, S.t) * g) / 2
    for point in POINTS:
        for t in (0.0, 0.4, 1.3):
            got = np.array([evaluate(F, X2, point, {S.t: t}) for F in ode.terms[1]])
            np.testing.assert_allclose(got, expected_at(expected.xreplace({S.t: t}), point), rtol=1e-10)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_scheduled_gd_on_a_quadratic_is_the_exact_non_autonomous_field(order):
    """On E = ax²/2, x⁺ = (1 − haη(t))x is the time-h flow of ẋ = −c(t)x with C(t + h) − C(t) = L(t) =
    −log(1 − haη(t)), C′ = c, so hc = (hD/(e^{hD} − 1)) L = Σ_k B_k (hD)^k L / k! (Euler–Maclaurin
    with B₁ = −½) — an independent route to the modified field at every order."""
    a, hh, xx = sp.Rational(3, 2), sp.Symbol("hh", positive=True), sp.Symbol("x", real=True)
    eta = 1 + sp.sin(S.t) / 2
    spec = OptimizerSpec("gd_eta", "GD with η(t) = 1 + sin(t)/2", step=eta * S.g)
    ode = bea.modified_ode(spec, a * xx**2 / 2, [xx], order=order)
    L = sum((hh * a * eta) ** m / m for m in range(1, order + 2))
    c = sum(sp.bernoulli(k) * (-1 if k == 1 else 1) * hh**k * sp.diff(L, S.t, k) / sp.factorial(k)
            for k in range(order + 1)) / hh
    series = sp.expand(sp.series(c, hh, 0, order + 1).removeO())
    for k, F in enumerate(ode.terms):
        assert sp.simplify(F[0] + series.coeff(hh, k) * xx) == 0, k


def test_the_field_of_a_step_past_the_schedules_horizon_is_refused():
    """Past T the literal formula (here (1 + cos πt)/2 rising again) is not the schedule: the interval of
    step n = [nh, (n+1)h] must lie within [0, T] when h is a number; steps inside it are given."""
    ode = bea.modified_ode("gd", (x**2 + y**2) / 2, [x, y], order=1, h=sp.Rational(1, 10), schedule="cosine:1")
    assert ode.at_step(9).terms[0][0].has(S.t)
    with pytest.raises(BeaError, match="past the schedule's horizon T = 1"):
        ode.at_step(10)


def rosca_game():
    f = x * y + x**2 / 4 - y**2 / 4 + x**3 * y / 6 + sp.cos(y) / 5
    return game([f, -f], [[x], [y]])


def test_simultaneous_gradient_descent_drift_is_rosca_et_al():
    """θ⁺ = θ − hv: F₁ = −(h/2) J v with J = ∂v/∂θ (not symmetric: no potential)."""
    G = rosca_game()
    v = sp.Matrix(G.field)
    ode = bea.modified_ode("gda_simultaneous", G, order=1)
    for point in POINTS:
        np.testing.assert_allclose(field_at(ode, 1, point), expected_at(-v.jacobian(X2) * v / 2, point), rtol=1e-10)


def test_alternating_gradient_descent_drift_is_rosca_et_al():
    """x⁺ = x + hf(x, y), y⁺ = y + hg(x⁺, y) with (f, g) = −v: F₁ = (−½(f_x f + f_y g), −½(g_y g − g_x f))."""
    G = rosca_game()
    f, g = -G.field[0], -G.field[1]
    expected = sp.Matrix([-(sp.diff(f, x) * f + sp.diff(f, y) * g) / 2, -(sp.diff(g, y) * g - sp.diff(g, x) * f) / 2])
    ode = bea.modified_ode("gda_alternating", G, order=1)
    for point in POINTS:
        np.testing.assert_allclose(field_at(ode, 1, point), expected_at(expected, point), rtol=1e-10)


RUNNING = OptimizerSpec("avg", "running average", step=S.m, states=(State(S.m, S.n / (S.n + 1), S.g, 1 / (S.n + 1)),))


def test_running_average_is_a_joint_flow():
    """m ← (n m + g)/(n + 1) never forgets: no modified equation in θ alone; in (θ, m) at t = nh,
    F₀ = (−m, (g − m)/t), and from step 1 the global error is O(h) and O(h²) at orders 0 and 1."""
    ode = bea.modified_ode(RUNNING, order=1)
    assert ode.joint and ode.start_step == 1
    assert sp.simplify(ode.terms[0] - sp.Matrix([-S.m, (S.g - S.m) / S.t])) == sp.zeros(2, 1)
    hs = step_sizes(0.02, 4)
    for order, slope in [(0, 1), (1, 2)]:
        sweep = error_slope(lambda h: trajectory_error(RUNNING, LOSS, X2, (0.3, 1.2), h, order, T=1.0), hs)
        assert sweep.slope == pytest.approx(slope, abs=0.3), str(sweep)


@pytest.mark.slow
def test_running_average_after_a_burn_in_has_the_full_order():
    hs = step_sizes(0.02, 4)
    for order in (0, 1, 2):
        sweep = error_slope(lambda h: trajectory_error(RUNNING, LOSS, X2, (0.3, 1.2), h, order, T=0.5,
                                                       burn_in=0.5), hs)
        assert sweep.slope == pytest.approx(order + 1, abs=0.1), str(sweep)


def test_a_decay_of_n_over_n_plus_one_is_not_a_geometric_memory():
    """The old engine took decay n/(n+1) for a constant and gave F₀ = −0.75 g at n = 1 where the iterates
    move by −1.005 g: the field must match the first steps' increments."""
    ode = bea.modified_ode(RUNNING, LOSS, X2, order=0, h=1e-6)
    theta, states = bea.iterate(RUNNING, LOSS, X2, (0.3, 1.2), 3, 1e-6, states=True)
    for n in (1, 2):
        y_n = ode.start_value(theta, states, n)
        step = (theta[n + 1] - theta[n]) / 1e-6
        np.testing.assert_allclose(ode.numpy_field(y_n, n, n * 1e-6)[:2], step, rtol=1e-4)


# -- hand-written loops: bea.iterate runs each new built-in as its paper writes it --------------------------
def numeric_grad(point):
    return np.array(sp.lambdify([X2], list(grad(LOSS)))(point), float)


def loop(update, theta0, steps):
    out, state, theta = [np.array(theta0, float)], {}, np.array(theta0, float)
    for n in range(steps):
        theta = update(n, theta, state)
        out.append(theta)
    return np.array(out)


H = 0.05


def extragradient(n, th, s):
    return th - H * numeric_grad(th - H * numeric_grad(th))


def usam(n, th, s, c=0.7):
    return th - H * numeric_grad(th + c * H * numeric_grad(th))


def sam(n, th, s, c=0.7):
    g = numeric_grad(th)
    return th - H * numeric_grad(th + c * H * g / np.linalg.norm(g))


def nesterov_lookahead(n, th, s, beta=0.4):  # Sutskever et al.: v ← βv − h∇E(θ + βv), θ ← θ + v
    v = s.get("v", np.zeros(2))
    s["v"] = beta * v - H * numeric_grad(th + beta * v)
    return th + s["v"]


def adabelief(n, th, s, beta=0.5, rho=0.6, eps=0.1):  # Zhuang et al. 2020, Algorithm 2
    g = numeric_grad(th)
    s["m"] = beta * s.get("m", 0) + (1 - beta) * g
    s["s"] = rho * s.get("s", 0) + (1 - rho) * (g - s["m"]) ** 2 + eps
    mhat, shat = s["m"] / (1 - beta ** (n + 1)), s["s"] / (1 - rho ** (n + 1))
    return th - H * mhat / (np.sqrt(shat) + eps)


def adan(n, th, s, b1=0.5, b2=0.4, b3=0.6, eps=0.1):  # Xie et al. 2022, weights written as decays
    g = numeric_grad(th)
    d = g - s.get("g", g)
    s["g"] = g
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * d
    s["n"] = b3 * s.get("n", 0) + (1 - b3) * (g + b2 * d) ** 2
    return th - H * (s["m"] + b2 * s["v"]) / (np.sqrt(s["n"]) + eps)


def clip_norm_sgd(n, th, s, C=0.8):
    g = numeric_grad(th)
    return th - H * g / np.sqrt(1 + g @ g / C**2)


def normalized_gd(n, th, s, eps=0.1):
    g = numeric_grad(th)
    return th - H * g / np.sqrt(g @ g + eps)


def schedule_free_sgd(n, z, s, beta=0.6):  # Defazio et al. 2024: y = (1−β)z + βx, z ← z − h∇E(y), x ← (1 − c)x + cz
    x_ = s.get("x", np.zeros(2))  # x starts at 0 with weight c = 1/(n+1) = 1 on the first step
    z_new = z - H * numeric_grad((1 - beta) * z + beta * x_)
    s["x"] = (1 - 1 / (n + 1)) * x_ + z_new / (n + 1)
    return z_new


@pytest.mark.parametrize("name,params,update", [
    ("extragradient", {}, extragradient), ("usam", dict(c=0.7), usam), ("sam", dict(c=0.7), sam),
    ("nesterov_lookahead", dict(beta=0.4), nesterov_lookahead),
    ("adabelief", dict(beta=0.5, rho=0.6, eps=0.1), adabelief),
    ("adan", dict(beta=0.5, beta2=0.4, beta3=0.6, eps=0.1), adan),
    ("clip_norm_sgd", dict(clip=0.8), clip_norm_sgd), ("normalized_gd", dict(eps=0.1), normalized_gd),
    ("schedule_free_sgd", dict(beta=0.6), schedule_free_sgd),
])
def test_iterates_are_the_papers_update(name, params, update):
    got = bea.iterate(name, LOSS, X2, (0.3, 1.2), 40, H, **params)
    np.testing.assert_allclose(got, loop(update, (0.3, 1.2), 40), rtol=1e-12, atol=1e-14)


def test_game_iterates_are_the_alternating_and_simultaneous_updates():
    G = rosca_game()
    v = sp.lambdify([X2], list(G.field))
    th = np.array([0.8, -0.4])
    sim, alt = [th.copy()], [th.copy()]
    for _ in range(30):
        a = sim[-1]
        sim.append(a - H * np.array(v(a)))
        b = alt[-1].copy()
        b[0] -= H * v(b)[0]
        b[1] -= H * v(b)[1]  # the second player sees the first player's new position
        alt.append(b)
    np.testing.assert_allclose(bea.iterate("gda_simultaneous", G, None, th, 30, H), sim, rtol=1e-12)
    np.testing.assert_allclose(bea.iterate("gda_alternating", G, None, th, 30, H), alt, rtol=1e-12)


def test_trajectory_error_takes_a_game_without_variables():
    G = rosca_game()
    errors = [trajectory_error("gda_simultaneous", G, None, (0.8, -0.4), h, 1, T=0.2) for h in (0.01, 0.005)]
    assert 3.5 < errors[0] / errors[1] < 4.5  # order 1: global error O(h²)


def test_lion_written_with_prev_is_the_builtin_lion():
    """The built-in Lion writes the old momentum through the new one, (m − (1−ρ)g)/ρ; prev(m) is that
    old value directly.  Same iterates, same fields (stationary, orders 1–2)."""
    lam = sp.Symbol("lambda", nonnegative=True)
    direction = S.beta * S.Prev(S.m) + (1 - S.beta) * S.g
    mine = OptimizerSpec("lion_prev", "Lion with prev(m)", step=direction / sp.sqrt(direction**2 + S.eps) + lam * S.theta,
                         states=(State(S.m, S.rho, S.g, 1 - S.rho),),
                         hyperparameters=bea.optimizers.get("lion").hyperparameters)
    params = dict(beta=0.3, rho=0.6, eps=0.2, lam=0.2)
    np.testing.assert_allclose(bea.iterate(mine, LOSS, X2, (0.3, 1.2), 30, H, **params),
                               bea.iterate("lion", LOSS, X2, (0.3, 1.2), 30, H, **params), rtol=1e-12)
    for order in (1, 2):
        a = bea.modified_ode(mine, LOSS, X2, order=order, h=0.1, stationary=True, **params)
        b = bea.modified_ode("lion", LOSS, X2, order=order, h=0.1, stationary=True, **params)
        for point in POINTS:
            np.testing.assert_allclose(a.numpy_field(point), b.numpy_field(point), rtol=1e-10)


# -- refusals: one line naming the construct and why --------------------------------------------------------
def spec_with(step=S.g, states=()):
    return OptimizerSpec("custom", "custom", step=step, states=states,
                         hyperparameters=(Hyper("beta", S.beta, "unit"),))


@pytest.mark.parametrize("make,words", [
    (lambda: bea.modified_ode("amsgrad", order=1), "max(·,·) has a kink"),
    (lambda: bea.modified_ode(spec_with(sp.sign(S.g)), order=1), "sign(·) is discontinuous"),
    (lambda: bea.modified_ode(spec_with(S.g * sp.Mod(S.n, 5)), order=1), "Mod, which is not a known function"),
    (lambda: bea.modified_ode(spec_with(S.g * sp.floor(S.n / 5)), order=1), "piecewise constant"),
    (lambda: bea.modified_ode(spec_with(sp.Function("lookahead")(S.g)), order=1), "lookahead, which is not a known function"),
    (lambda: bea.modified_ode(spec_with(S.m, (State(S.m, S.beta, S.m * S.g),)), order=1), "own new value"),
    (lambda: bea.modified_ode(spec_with(S.m, (State(S.m, S.beta, S.Prev(S.m) ** 2),)), order=1),
     "nonlinear self-dependence"),
    (lambda: bea.modified_ode(spec_with(S.m + S.v, (State(S.m, S.beta, S.v), State(S.v, S.beta, S.m))), order=1),
     "cycle"),
    (lambda: bea.modified_ode(spec_with(S.m, (State(S.m, S.beta * sp.exp(-S.t), S.g),)), order=1),
     "varies with n or t"),
    (lambda: bea.modified_ode(spec_with(S.Grad(S.theta + S.g)), order=1), "O(1) distance away"),
    # found by an independent review (each was derived without a word, with a wrong field or a traceback)
    (lambda: bea.modified_ode(spec_with(S.g - S.beta * (S.theta - S.Prev(S.theta)) / S.h), order=1), "divides by h"),
    (lambda: bea.modified_ode(spec_with(S.g * sp.cos(S.t / S.h)), order=1), "divides by h"),
    (lambda: bea.modified_ode(spec_with(S.m / sp.sqrt(S.v + 1), (State(S.m, S.beta, S.g),
                                                                  State(S.v, S.beta, S.Prev(S.m) ** 2))), order=1),
     "fed by the old value of state(s) m (prev): its start-up transient at finite n is not derived"),
    (lambda: bea.modified_ode(spec_with(S.m + S.v, (State(S.m, S.beta, S.g + S.Prev(S.v)), State(S.v, S.beta, S.m))),
                              order=1, stationary=True), "through prev the memories are coupled"),
    (lambda: bea.modified_ode(spec_with(S.m + S.theta - S.v, (State(S.v, S.n / (S.n + 1), S.theta, 1 / (S.n + 1)),
                                                               State(S.m, S.beta, S.g))), order=1),
     "a running average (v) next to moving averages (m)"),
    (lambda: bea.modified_ode(spec_with(S.g + S.theta - S.v, (State(S.v, S.n / (S.n + 1), S.theta + S.Prev(S.v),
                                                                     1 / (S.n + 1)),)), order=1),
     "fed by its own old value through prev(v)"),
    (lambda: bea.modified_ode(spec_with(S.v, (State(S.v, (S.n + 1) / (S.n + 2), S.g, 1 / (S.n + 2)),)), order=1),
     "of the decays in n that tend to 1, only the running average's"),
    (lambda: bea.modified_ode(spec_with(S.m, (State(S.m, S.beta * S.CoordSum(1) / 2, S.g),)), order=1),
     "the decay uses sum"),
    (lambda: bea.modified_ode(spec_with(S.g + S.Prev(S.Prev(S.g)) / 10), order=1), "prev of prev"),
    (lambda: bea.modified_ode("gda_alternating", order=1), "player (the first player's coordinates) needs a concrete game"),
    (lambda: bea.modified_ode(OptimizerSpec("b1", "b1", step=S.m, states=(State(S.m, sp.Symbol("b"), S.g),),
                                            hyperparameters=(Hyper("b", sp.Symbol("b"), "nonnegative"),)),
                              order=1, b=1), "= 1 at these values: the state never forgets"),
])
def test_what_has_no_modified_equation_is_refused_with_the_reason(make, words):
    with pytest.raises(BeaError, match=words.replace("(", r"\(").replace(")", r"\)").replace("·", ".")):
        make()


# -- a LAMB-type trust ratio, written by a user: global norms of θ and of g ---------------------------------
TRUST = OptimizerSpec(
    "trust_ratio", "GD scaled by the smoothed trust ratio ‖θ‖/‖∇E‖ (LAMB's, without its moments)",
    step=sp.sqrt(S.CoordSum(S.theta**2) + S.eps) / sp.sqrt(S.CoordSum(S.g**2) + S.eps) * S.g,
    hyperparameters=(Hyper("eps", S.eps, "positive"),))


def test_a_trust_ratio_of_global_norms_is_iterated_and_has_its_order():
    def update(n, th, s, eps=0.1):
        g = numeric_grad(th)
        return th - H * np.sqrt(th @ th + eps) / np.sqrt(g @ g + eps) * g
    np.testing.assert_allclose(bea.iterate(TRUST, LOSS, X2, (0.3, 1.2), 40, H, eps=0.1),
                               loop(update, (0.3, 1.2), 40), rtol=1e-9)  # ‖g‖ shrinks: round-off grows
    for order in (0, 1):
        sweep = error_slope(lambda h: trajectory_error(TRUST, LOSS, X2, (0.3, 1.2), h, order, T=0.25, eps=0.1),
                            step_sizes(0.01, 3))
        assert sweep.slope == pytest.approx(order + 1, abs=0.15), str(sweep)


def test_a_trust_ratio_abstract_field_equals_the_concrete_one_in_3d():
    x3 = sp.symbols("a b c", real=True)
    E3 = (x3[0] * x3[1] - 1) ** 2 / 2 + x3[2] ** 4 / 10 + sp.cos(x3[0] + x3[2]) / 3
    abstract = bea.modified_ode(TRUST, order=1, eps=sp.Rational(1, 10))
    concrete = bea.modified_ode(TRUST, E3, list(x3), order=1, eps=sp.Rational(1, 10))
    point = dict(zip(x3, (0.4, -0.7, 1.1)))
    assert [float(F.subs(point)) for F in abstract.concretize(E3, list(x3)).terms[1]] == \
        pytest.approx([float(F.subs(point)) for F in concrete.terms[1]], rel=1e-10)
