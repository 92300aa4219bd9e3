"""Known modified equations come out of the engine (the formulas are typed here, not there)."""
import numpy as np
import pytest
import sympy as sp

import bea
from bea import symbols as S
from bea.abstract import DE
from conftest import X2, evaluate, random_loss

beta, rho, eps, g, n = S.beta, S.rho, S.eps, S.g, S.n
s = sp.sqrt(g**2 + eps)


def parts(ode, order=1):
    rec = ode.recognized[order - 1]
    return rec, {p.functional.name: p.coefficient for p in rec.parts}


def test_gd_modified_loss_is_barrett_dherin():
    rec, coeffs = parts(bea.modified_ode("gd", order=1))
    assert rec.is_gradient and rec.preconditioner == 1
    assert coeffs == {"‖∇E‖₂²": sp.Rational(1, 4)}  # E + (h/4)‖∇E‖²


def test_heavy_ball_ema_amplifies_by_one_plus_beta_over_one_minus_beta():
    rec, coeffs = parts(bea.modified_ode("heavy_ball", order=1, stationary=True))
    assert rec.is_gradient
    assert sp.simplify(coeffs["‖∇E‖₂²"] - (1 + beta) / (4 * (1 - beta))) == 0


def test_heavy_ball_polyak_is_ghosh_kovachki_stuart():
    rec, coeffs = parts(bea.modified_ode("heavy_ball_polyak", order=1, stationary=True))
    assert sp.simplify(rec.preconditioner - 1 / (1 - beta)) == 0
    assert sp.simplify(coeffs["‖∇E‖₂²"] - (1 + beta) / (4 * (1 - beta) ** 2)) == 0


def test_adam_stationary_coefficient():
    rec, coeffs = parts(bea.modified_ode("adam", order=1, stationary=True))
    assert not rec.is_gradient
    assert sp.simplify(rec.preconditioner - 1 / s) == 0
    expected = beta / (1 - beta) - rho / (1 - rho) + (1 + rho) * eps / (2 * (1 - rho) * s**2)
    assert sp.simplify(coeffs["‖∇E‖_{1,ε}"] - expected) == 0


def b(x, k):
    """Bias-correction memory coefficient b_k(x) = x/(1−x) − (k+1)x^{k+1}/(1−x^{k+1})."""
    return x / (1 - x) - (k + 1) * x ** (k + 1) / (1 - x ** (k + 1))


@pytest.mark.parametrize("step", [0, 1, 2, 7, 60])
def test_adam_bias_corrected_finite_n_coefficient(step):
    rec, coeffs = parts(bea.modified_ode("adam", order=1))
    c = coeffs["‖∇E‖_{1,ε}"]
    rng = np.random.default_rng(step)
    for _ in range(5):
        vals = {beta: rng.uniform(0.1, 0.95), rho: rng.uniform(0.1, 0.99), eps: rng.uniform(1e-3, 1), g: rng.normal()}
        sv = np.sqrt(vals[g] ** 2 + vals[eps])
        expected = b(vals[beta], step) - b(vals[rho], step) * vals[g] ** 2 / sv**2 + vals[eps] / (2 * sv**2)
        got = float(c.xreplace({n: step}).xreplace({k: sp.Float(v, 30) for k, v in vals.items()}))
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_adam_first_step_has_only_the_discreteness_term():
    rec, coeffs = parts(bea.modified_ode("adam", order=1))
    c0 = sp.simplify(coeffs["‖∇E‖_{1,ε}"].xreplace({n: 0}))
    assert sp.simplify(c0 - eps / (2 * s**2)) == 0


@pytest.mark.parametrize("bias_correction", [True, False])
@pytest.mark.parametrize("stationary", [True, False])
def test_rmsprop_is_adam_with_beta_zero(bias_correction, stationary):
    ad = bea.modified_ode("adam", order=1, beta=0, stationary=stationary, bias_correction=bias_correction)
    rm = bea.modified_ode("rmsprop", order=1, stationary=stationary, bias_correction=bias_correction)
    for Fa, Fr in zip(ad.terms, rm.terms):
        assert sp.simplify(Fa - Fr) == 0


def _euler_terms(loss, xs):
    """Modified-equation terms of explicit Euler for f = −∇E from the B-series (Hairer–Lubich–Wanner):
    f₂ = −½ f'f,  f₃ = (1/12) f''(f,f) + (1/3) f'f'f."""
    f = sp.Matrix([-sp.diff(loss, x) for x in xs])
    J = f.jacobian(xs)
    f2 = -J * f / 2
    fpp = sp.Matrix([sum(sp.diff(f[i], a, b_) * f[ai] * f[bi] for ai, a in enumerate(xs) for bi, b_ in enumerate(xs))
                     for i in range(len(xs))])
    f3 = fpp / 12 + J * J * f / 3
    return f, f2, f3


def test_gd_order_two_matches_euler_b_series():
    rng = np.random.default_rng(3)
    loss = random_loss(rng, X2)
    ode = bea.modified_ode("gd", loss, X2, order=2)
    expected = _euler_terms(loss, X2)
    for F, want in zip(ode.terms, expected):
        for point in rng.normal(size=(3, 2)):
            for a, w in zip(F, want):
                assert evaluate(a, X2, point) == pytest.approx(evaluate(w, X2, point), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_gd_on_a_quadratic_matches_the_exact_logarithm(order):
    """x ↦ (1 − ha)x is the time-h flow of ẋ = log(1 − ha)/h · x = −(a + ha²/2 + h²a³/3 + …)x."""
    x, a = sp.Symbol("x", real=True), sp.Rational(7, 5)
    ode = bea.modified_ode("gd", a * x**2 / 2, [x], order=order)
    for k, F in enumerate(ode.terms):
        assert sp.simplify(F[0] + a ** (k + 1) / (k + 1) * x) == 0


@pytest.mark.parametrize("order", [1, 2, 3])
def test_polyak_heavy_ball_on_a_quadratic_follows_its_slow_mode(order):
    """On E = a x²/2, θ_{n+1} = θ_n − h(βm_n + aθ_n): the slow root r(h) of
    r² − (1 + β − ha) r + β = 0 gives the stationary field log(r)/h · x."""
    x, hh = sp.Symbol("x", real=True), sp.Symbol("hh", positive=True)
    a, bet = sp.Rational(3, 2), sp.Rational(2, 5)
    ode = bea.modified_ode("heavy_ball_polyak", a * x**2 / 2, [x], order=order, beta=bet, stationary=True)
    r = ((1 + bet - hh * a) + sp.sqrt((1 + bet - hh * a) ** 2 - 4 * bet)) / 2
    series = sp.series(sp.log(r) / hh, hh, 0, order + 1).removeO()
    for k, F in enumerate(ode.terms):
        assert sp.simplify(F[0] - series.coeff(hh, k) * x) == 0


def test_gd_order_two_abstract_form():
    """f₃ for f = −∇E is −(1/12)∇³E[∇E,∇E] − (1/3)∇²E∇²E∇E."""
    ode = bea.modified_ode("gd", order=2)
    expected = -DE(g, g) / 12 - DE(DE(g)) / 3
    assert sp.simplify(ode.terms[2] - expected) == 0


def test_signum_and_lion_memory_coefficients_are_cattaneo_shigida():
    """CS25: Lion-K's memory correction is ρ₁/(1−ρ₂)·∇²K(∇E)H∇K(∇E); with K = ‖·‖_{1,ε},
    ∇²K = ε/s³.  Adding the discreteness term ½ of the map-to-flow step, the order-1 coefficient
    of ∇‖∇E‖_{1,ε} (after the preconditioner 1/s) is (½ + ρ₁/(1−ρ₂)) ε/s²; Signum is ρ₁ = ρ₂ = β."""
    r1, r2 = sp.symbols("rho_1 rho_2", positive=True)
    rec, coeffs = parts(bea.modified_ode("lion", order=1, stationary=True, lam=0, beta=r1, rho=r2))
    assert sp.simplify(rec.preconditioner - 1 / s) == 0
    assert sp.simplify(coeffs["‖∇E‖_{1,ε}"] - (sp.Rational(1, 2) + r1 / (1 - r2)) * eps / s**2) == 0
    rec, coeffs = parts(bea.modified_ode("signum", order=1, stationary=True))
    assert sp.simplify(coeffs["‖∇E‖_{1,ε}"] - (sp.Rational(1, 2) + beta / (1 - beta)) * eps / s**2) == 0


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("stationary", [True, False])
def test_lion_with_equal_decays_is_signum(order, stationary):
    """Lion with ρ₁ = ρ₂ interpolates with the updated momentum, i.e. it is Signum: same fields at
    every order (a check of Lion's spec, which writes the old momentum through the new one)."""
    rng = np.random.default_rng(order)
    loss = random_loss(rng, X2)
    lion = bea.modified_ode("lion", loss, X2, order=order, stationary=stationary, h=0.1, lam=0, beta=0.7, rho=0.7,
                           eps=0.1)
    signum = bea.modified_ode("signum", loss, X2, order=order, stationary=stationary, h=0.1, beta=0.7, eps=0.1)
    for point in rng.normal(size=(3, 2)):
        for step in (0, 3):
            np.testing.assert_allclose(lion.numpy_field(point, step), signum.numpy_field(point, step), rtol=1e-12)


def test_adam_with_equal_decays_has_signums_correction():
    """CS25: Adam with β₁ = β₂ = β and Signum (Lion with ρ₁ = ρ₂ = β) have the same correction (n → ∞)."""
    adam = bea.modified_ode("adam", order=1, stationary=True, beta=rho)
    signum = bea.modified_ode("signum", order=1, stationary=True, beta=rho)
    assert sp.simplify(adam.terms[1] - signum.terms[1]) == 0


def test_adamw_correction_matches_cattaneo_shigida_on_a_random_loss():
    """CS25 Example 1.3 (n → ∞): memory part h[(β₁/(1−β₁) − β₂/(1−β₂))/s + β₂/(1−β₂)·ε/s³]·H(g/s + λθ);
    plus the discreteness term −½ D_{F₀}F₀ of the flow with F₀ = −(g/s + λθ).  Evaluated in 3-D."""
    from conftest import X3
    rng = np.random.default_rng(5)
    loss = random_loss(rng, X3)
    vals = dict(beta=0.7, rho=0.9, eps=0.05, lam=0.3)
    ode = bea.modified_ode("adamw", loss, X3, order=1, stationary=True, **vals)
    grad = sp.Matrix([sp.diff(loss, x) for x in X3])
    H = sp.hessian(loss, X3)
    sv = grad.applyfunc(lambda q: sp.sqrt(q**2 + sp.Rational(1, 20)))
    F0 = -(sp.Matrix([q / r for q, r in zip(grad, sv)]) + sp.Rational(3, 10) * sp.Matrix(X3))
    b1, b2, e = sp.Rational(7, 10), sp.Rational(9, 10), sp.Rational(1, 20)
    HF = H * (-F0)
    memory = sp.Matrix([((b1 / (1 - b1) - b2 / (1 - b2)) / r + b2 / (1 - b2) * e / r**3) * q for r, q in zip(sv, HF)])
    expected = -memory - F0.jacobian(X3) * F0 / 2
    for point in rng.normal(size=(3, 3)):
        for j in range(3):
            assert evaluate(ode.terms[1][j], X3, point) == pytest.approx(evaluate(expected[j], X3, point), rel=1e-10)


def test_adam_eps_outside_is_named_and_its_coefficient_is_the_known_one():
    """ε outside the root: F₁ = −(c/d) ⊙ ∇R_ε with d = |g| + ε, R_ε = Σ(|∂_jE| − ε log(1 + |∂_jE|/ε)) and
    c = β/(1−β) − ρ/(1−ρ) + (1+ρ)ε/(2(1−ρ)d) (the Adam digest, §3.4, derived independently there)."""
    rec, coeffs = parts(bea.modified_ode("adam_eps_outside", order=1, stationary=True))
    (name, c), = coeffs.items()
    assert name.startswith("R_ε")
    a = sp.Symbol("a", positive=True)
    c = c.replace(sp.Abs(g), a).replace(lambda e: e.is_Pow and e.base == g, lambda e: a**e.exp)
    expected = beta / (1 - beta) - rho / (1 - rho) + (1 + rho) * eps / (2 * (1 - rho) * (a + eps))
    assert sp.simplify(c - expected) == 0
    assert sp.simplify(rec.preconditioner.replace(sp.Abs(g), a) - 1 / (a + eps)) == 0


def test_recognized_parts_carry_their_regimes_and_sign_conditions():
    """Adam (n → ∞): small ε, c → β/(1−β) − ρ/(1−ρ) = (β − ρ)/((1−β)(1−ρ)), whose sign is that of β − ρ;
    large ε, c·s ≈ c√ε → the ‖∇E‖₂² coefficient (1+β)/(4√ε(1−β)) > 0 (Cattaneo, Klusowski & Shigida 2024)."""
    part = bea.modified_ode("adam", order=1, stationary=True).recognized[0].parts[0]
    small, large = part.regimes
    assert sp.simplify(small.coefficient - (beta / (1 - beta) - rho / (1 - rho))) == 0
    assert small.functional == "‖∇E‖₁" and (small.sign, small.conditions) == (1, (beta - rho,))  # sign of β − ρ
    assert sp.simplify(large.coefficient - (1 + beta) / (4 * sp.sqrt(eps) * (1 - beta))) == 0
    assert large.functional == "‖∇E‖₂²" and large.sign == 1 and large.conditions == ()
    numbers = bea.modified_ode("adam", order=1, stationary=True, beta=0.9, rho=0.999, eps=1e-8)
    small = numbers.recognized[0].parts[0].regimes[0]
    assert small.sign == -1 and small.conditions == ()  # β < ρ: the one-norm is anti-penalized


def test_concrete_results_reuse_the_cached_abstract_recognition():
    from bea.ode import recognize_abstract

    x, y = X2
    recognize_abstract.cache_clear()
    for loss in [(x * y - 1) ** 2 / 2, x**4 + sp.sin(y)]:
        ode = bea.modified_ode("heavy_ball", loss, X2, order=1, stationary=True, beta=0.5)
        assert ode.recognized[0].is_gradient
    info = recognize_abstract.cache_info()
    assert (info.misses, info.hits) == (1, 1)


def test_compare_derives_each_optimizer_once(monkeypatch):
    from bea import compare

    calls = []
    real = compare.modified_ode
    monkeypatch.setattr(compare, "modified_ode", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    text = compare.compare(["adamw", "lion"])
    assert calls == ["adamw", "lion"] and text.count("λ-terms of F₁") == 2
