"""The experiments' optimizers and the derived explicit correction.

* SpecOptimizer (bea's spec as a torch optimizer) step by step against bea.iterate, for every
  registered optimizer, and Adam with ε outside against torch.optim.Adam;
* the two hand-written Adams left in the separable experiments against bea.iterate's recursions;
* the correction c·h²·F₁ against bea.modified_ode (concrete, SymPy) at n = 0, 1, 10 and n → ∞, and
  Adam's coefficient against the closed form of the notes (Cattaneo, Klusowski & Shigida)."""
import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

import bea  # noqa: E402
from bea import BeaError  # noqa: E402
from bea import registry  # noqa: E402
from bea.autodiff import FlatLoss  # noqa: E402
from bea.iterate import run as iterate_spec  # noqa: E402
from bea_experiments.optim import Correction, SpecOptimizer, numeric_spec  # noqa: E402

x, y = sp.symbols("x y")
E_SYMPY = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.cos(x + 2 * y) / 5
START = [0.3, 1.2]


def e_torch(t):
    return (t[0] * t[1] - 1) ** 2 / 2 + t[0] ** 4 / 10 + torch.cos(t[0] + 2 * t[1]) / 5


@pytest.mark.parametrize("layout", ["one tensor", "two tensors"])
@pytest.mark.parametrize("case", registry.cases(), ids=lambda c: c.id)
def test_spec_optimizer_is_bea_iterate_step_by_step(case, layout):
    """Every registered optimizer, θ = (x, y) as one parameter or as two (sums over coordinates, SAM's
    ‖∇E‖ and the gradients at other points then span both); a game's player mask is refused."""
    parts = [START] if layout == "one tensor" else [[v] for v in START]
    params = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for v in parts]
    if case.name == "gda_alternating":
        with pytest.raises(BeaError, match="player mask"):
            SpecOptimizer(params, case.name, lr=0.05, params=case.params)
        return
    opt = SpecOptimizer(params, case.name, lr=0.05, params=case.params)

    def closure():
        opt.zero_grad()
        loss = e_torch(torch.cat(params))
        loss.backward()
        return loss

    got = [torch.cat(params).detach().numpy().copy()]
    for _ in range(25):
        assert float(opt.step(closure)) == float(e_torch(torch.tensor(got[-1])))  # torch's convention
        got.append(torch.cat(params).detach().numpy().copy())
    want = bea.iterate(case.name, E_SYMPY, [x, y], START, 25, 0.05, **case.params)
    np.testing.assert_allclose(np.array(got), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", [c for c in registry.cases() if c.name != "gda_alternating"], ids=lambda c: c.id)
def test_every_spec_steps_on_another_device(case):
    """Parameters on the "meta" device stand for a GPU's: numbers that depend only on n (bias corrections,
    a running average's decay) are float64 scalars on the CPU and must follow the parameters."""
    w = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64, device="meta"))
    opt = SpecOptimizer([w], case.name, lr=0.05, params=case.params)

    def closure():
        opt.zero_grad()
        e_torch(w).backward()

    for _ in range(2):
        closure()
        opt.step(closure)
    assert w.device.type == "meta" and all(v.device.type == "meta" for v in opt.state[w].values() if torch.is_tensor(v))


def test_a_gradient_at_another_point_needs_a_closure_and_restores_the_gradient():
    w = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64))
    opt = SpecOptimizer([w], "sam", lr=0.05, params=dict(c=0.7))
    e_torch(w).backward()
    g, grad = w.grad.clone(), w.grad
    with pytest.raises(BeaError, match=r"step\(closure\)"):
        opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor(START, dtype=torch.float64))  # nothing moved

    def recompute():
        opt.zero_grad()
        e_torch(w).backward()

    opt.step(recompute=recompute)  # the gradient at θ_n is the one already there; recompute only at θ + u
    assert w.grad is grad and torch.equal(w.grad, g)  # the same tensor, with the gradient at θ_n

    def failing():
        w.grad = None
        raise RuntimeError("out of memory")

    before = w.detach().clone()
    with pytest.raises(RuntimeError, match="out of memory"):
        opt.step(recompute=failing)
    assert torch.equal(w.detach(), before) and w.grad is grad  # restored although the closure failed


def test_whole_vector_steps_refuse_what_they_cannot_run_and_change_nothing():
    """SAM at a stationary point (‖∇E‖ = 0: 0/0), parameters added after a step, several lrs."""
    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = SpecOptimizer([w], "sam", lr=0.05, params=dict(c=0.7))

    def closure():
        opt.zero_grad()
        (w**2).sum().backward()

    with pytest.raises(BeaError, match="non-finite step at step 1"):
        opt.step(closure)
    assert torch.equal(w.detach(), torch.zeros(2, dtype=torch.float64))
    v = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = SpecOptimizer([v], "normalized_gd", lr=0.05, params=dict(eps=0.1))
    v.grad = torch.ones(2, dtype=torch.float64)
    opt.step()
    u = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))
    u.grad = torch.ones(1, dtype=torch.float64)
    opt.add_param_group(dict(params=[u]))
    with pytest.raises(BeaError, match="must be the same at every step"):
        opt.step()
    opt = SpecOptimizer([dict(params=[v]), dict(params=[u], lr=0.1)], "normalized_gd", lr=0.05, params=dict(eps=0.1))
    with pytest.raises(BeaError, match="one lr"):
        opt.step()


def test_coordinatewise_steps_follow_torchs_conventions():
    """Each group's lr, parameters without a gradient left alone (AdamW's decay included), mixed dtypes."""
    a = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))
    b = torch.nn.Parameter(torch.tensor([3.0], dtype=torch.float32))
    frozen = torch.nn.Parameter(torch.tensor([3.0, 4.0]), requires_grad=False)
    opt = SpecOptimizer([dict(params=[a]), dict(params=[b, frozen], lr=0.5)], "gd", lr=0.1, params={})
    a.grad, b.grad = torch.tensor([1.0, -1.0], dtype=torch.float64), torch.tensor([2.0])
    opt.step()
    assert a.tolist() == [0.9, 2.1] and b.tolist() == [2.0] and frozen.tolist() == [3.0, 4.0]
    decayed = SpecOptimizer([frozen], "adamw", lr=0.1, params=dict(beta=0.9, rho=0.99, eps=1e-8, lam=0.1))
    decayed.step()
    assert frozen.tolist() == [3.0, 4.0]


@pytest.mark.parametrize("name, params", [("sam", dict(c=0.7)), ("adan", dict(beta=0.9, beta2=0.9, beta3=0.99, eps=1e-8)),
                                          ("nesterov_lookahead", dict(beta=0.8))])
def test_resume_from_a_saved_state_is_bit_exact(tmp_path, name, params):
    """state_dict → torch.save → torch.load(weights_only=True) → a fresh optimizer: whole-vector state
    (SAM's), previous values (Adan's prev(g), look-ahead's prev(θ)) and the step count all carry over."""
    def run(steps, start=None):
        parts = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for v in ([START[0]], [START[1]])]
        opt = SpecOptimizer(parts, name, lr=0.05, params=params)
        if start is not None:
            for p, v in zip(parts, start[0]):
                p.data.copy_(v)
            opt.load_state_dict(torch.load(start[1], weights_only=True))

        def closure():
            opt.zero_grad()
            e_torch(torch.cat(parts)).backward()

        for _ in range(steps):
            opt.step(closure)
        torch.save(opt.state_dict(), tmp_path / "opt.pt")
        return [p.detach().clone() for p in parts]

    straight = run(6)
    middle = run(3)
    resumed = run(3, start=(middle, tmp_path / "opt.pt"))
    assert all(torch.equal(a, b) for a, b in zip(straight, resumed))


def test_a_checkpoint_from_another_state_layout_is_refused_by_name():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = SpecOptimizer([w], "adam", lr=0.1, params=dict(beta=0.9, rho=0.99, eps=1e-8))
    opt.load_state_dict({"state": {0: {"step": 3, "s0": torch.zeros(2), "s1": torch.zeros(2)}},
                         "param_groups": [dict(opt.param_groups[0], params=[0])]})
    w.grad = torch.ones(2)
    with pytest.raises(BeaError, match="start the run again"):
        opt.step()


def test_adam_with_eps_outside_is_torch_adam():
    from bea_experiments.cifar import models

    torch.manual_seed(0)
    a, b = models.build("small_cnn", 10, 8).double(), models.build("small_cnn", 10, 8).double()
    b.load_state_dict(a.state_dict())
    data, labels = torch.randn(6, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (6,))
    oa = SpecOptimizer(a.parameters(), "adam_eps_outside", 1e-3, dict(beta=0.8, rho=0.95, eps=1e-6))
    ob = torch.optim.Adam(b.parameters(), lr=1e-3, betas=(0.8, 0.95), eps=1e-6)
    for _ in range(5):
        for model, opt in ((a, oa), (b, ob)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(data), labels).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_float32_parameters_keep_float64_bias_corrections():
    """Adam in float32 with ρ = 0.999: 1 − ρ^{n+1} is computed in float64, as a hand-written loop would."""
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = SpecOptimizer([w], "adam", lr=0.1, params=dict(beta=0.9, rho=0.999, eps=1e-8))
    g = torch.tensor([0.5, 0.25])
    m = v = np.zeros(2)
    want = np.array([1.0, -2.0])
    for n in range(3):
        w.grad = g.clone()
        opt.step()
        m, v = 0.9 * m + 0.1 * g.numpy(), 0.999 * v + 0.001 * g.numpy() ** 2
        want = want - 0.1 * (m / (1 - 0.9 ** (n + 1))) / np.sqrt(v / (1 - 0.999 ** (n + 1)) + 1e-8)
    np.testing.assert_allclose(w.detach().numpy(), want, rtol=2e-7)


@pytest.mark.parametrize("algorithm,name,params", [
    ("adam_nomomentum", "adam", dict(beta=0.0, rho=0.9, eps=1e-5, bias_correction=True)),
    ("rmsprop", "rmsprop", dict(rho=0.9, eps=1e-5)),
    ("adagrad", "adagrad", dict(eps=1e-5)),
])
def test_separable_toy_optimizers_are_bea_specs(algorithm, name, params):
    from bea_experiments.separable import toy

    X, labels = toy.dataset(n=20)
    theta0 = np.array([[0.3, -0.2, 0.5]])
    got, _ = toy.train(algorithm, theta0, X, labels, steps=30, lr=0.1, rho=params.get("rho", 0.9), eps=1e-5)
    want = iterate_spec(numeric_spec(name, params), lambda n, th: toy.gradient(th[None], X, labels)[0],
                        theta0[0].copy(), 30, 0.1)
    np.testing.assert_allclose(got[0], want[-1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("bias_correction", [True, False])
@pytest.mark.parametrize("eps_outside", [False, True])
def test_separable_adam_is_bea_adam(bias_correction, eps_outside):
    """The separable experiments' Adam (constant step size, ε > 0) against bea's spec on the logistic loss."""
    from bea_experiments.separable.train import Settings, train

    rng = np.random.default_rng(0)
    Z = rng.normal(size=(12, 3))
    settings = Settings("adam", steps=20, lr=0.05, decay=0.0, beta1=0.8, beta2=0.9, eps=1e-3,
                        eps_outside=eps_outside, bias_correction=bias_correction, records=200)
    got = train(Z, settings)

    def gradient(n, w):  # ∇ mean_i log(1 + exp(−z_iᵀw))
        return (-(1 / (1 + np.exp(Z @ w)))[:, None] * Z).mean(axis=0)

    name = "adam_eps_outside" if eps_outside else "adam"
    params = dict(beta=0.8, rho=0.9, eps=1e-3, bias_correction=bias_correction)
    want = iterate_spec(numeric_spec(name, params), gradient, np.zeros(3), 20, 0.05)
    np.testing.assert_allclose(got.w, want[got.steps], rtol=1e-12, atol=1e-14)


def _concrete_F1(name, params, n, h):
    """F₁ at START from the concrete SymPy derivation (stationary for n = "inf"; a schedule at t = nh), in
    30-digit arithmetic."""
    ode = bea.modified_ode(name, E_SYMPY, [x, y], order=1, stationary=n == "inf", **params)
    values = {x: START[0], y: START[1], bea.symbols.n: 0 if n == "inf" else n}
    if n != "inf":
        values[bea.symbols.t] = sp.Rational(n) * sp.Rational(str(h))
    return np.array([float(v.xreplace(values).evalf(30)) for v in ode.terms[1]])


FAST = ("adam", "adam_no_bc", "rmsprop_bc", "heavy_ball", "lion", "running_average", "heavy_ball_cosine")
CORRECTION_REFUSED = {"running_average": "slow state",
                      "gda_alternating": "needs a concrete game", "schedule_free_sgd": "no dimension-free Taylor expansion"}
CASES = [pytest.param(c, id=c.id, marks=() if c.id in FAST else pytest.mark.slow)
         for c in registry.cases() if not c.accumulates]


@pytest.mark.parametrize("case", CASES)
def test_correction_is_c_h2_F1_of_the_derivation(case):
    """Δθ = c·h²·F₁(θ, n) at n = 0, 1, 10 and far out (= the stationary F₁), F₁ from bea.modified_ode with the
    same loss in SymPy; every optimizer the engine derives (a few in the fast suite, all in the slow one)."""
    c, h = -0.7, 0.01
    if case.id in CORRECTION_REFUSED:  # refused by name, by bea.autodiff or by the derivation itself
        with pytest.raises(BeaError, match=CORRECTION_REFUSED[case.id]):
            Correction(case.name, case.params, h, FlatLoss(e_torch), c)
        return
    correction = Correction(case.name, case.params, h, FlatLoss(e_torch), c)
    theta = torch.tensor(START, dtype=torch.float64)
    for n in (0, 1, 10) if "schedule" in case.params else (0, 1, 10, "inf"):  # a schedule ends at its horizon
        delta, ratio = correction.delta(theta, 10**6 if n == "inf" else n)
        want = c * h**2 * _concrete_F1(case.name, case.params, n, h)
        np.testing.assert_allclose(delta.numpy(), want, rtol=1e-9, atol=1e-15)
        assert ratio > 0


def test_a_correction_that_is_not_finite_is_refused_by_name():
    """Adan's √s + ε (ε outside the root) puts |g| in the field: at a gradient coordinate that is exactly 0
    (θ₃ = 0 here) the correction is 0/0, which is said, not passed on as NaN."""
    correction = Correction("adan", dict(beta=0.9, beta2=0.9, beta3=0.99, eps=1e-8), 0.01,
                            FlatLoss(lambda t: e_torch(t) + t[2] ** 2), -1.0)
    delta, _ = correction.delta(torch.tensor([0.3, 1.2, 0.5], dtype=torch.float64), 1)
    assert torch.isfinite(delta).all()
    with pytest.raises(BeaError, match="not finite at step 1 on 1 of 3 coordinates"):
        correction.delta(torch.tensor([0.3, 1.2, 0.0], dtype=torch.float64), 1)


@pytest.mark.parametrize("n", [0, 1, 10, "inf"])
def test_adam_correction_coefficient_is_the_closed_form(n):
    """Adam (ε inside, bias correction): F₁_j = −(c_j/s_j)·(∇²E·(g/s))_j with
    c_j = b_n(β) − b_n(ρ)·g_j²/s_j² + ε/(2s_j²), b_n(x) = x/(1−x) − (n+1)x^{n+1}/(1−x^{n+1}), and at n → ∞
    c_j = β/(1−β) − ρ/(1−ρ) + (1+ρ)ε/(2(1−ρ)s_j²) (notes, §3.1–3.2); ∇²E·(g/s) by double backpropagation."""
    beta, rho, eps, h, c = 0.9, 0.999, 1e-3, 1e-3, 1.0
    theta = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    g = torch.autograd.grad(e_torch(theta), theta, create_graph=True)[0]
    s = torch.sqrt(g.detach() ** 2 + eps)
    Hu = torch.autograd.grad(g @ (g.detach() / s), theta)[0]
    if n == "inf":
        coef = beta / (1 - beta) - rho / (1 - rho) + (1 + rho) * eps / (2 * (1 - rho) * s**2)
    else:
        b = lambda a: a / (1 - a) - (n + 1) * a ** (n + 1) / (1 - a ** (n + 1))  # noqa: E731
        coef = b(beta) - b(rho) * g.detach() ** 2 / s**2 + eps / (2 * s**2)
    want = c * h**2 * (-coef / s * Hu)
    correction = Correction("adam", dict(beta=beta, rho=rho, eps=eps), h, FlatLoss(e_torch), c)
    delta, _ = correction.delta(theta.detach(), 10**6 if n == "inf" else n)
    torch.testing.assert_close(delta, want, rtol=1e-9, atol=1e-18)


def test_a_schedule_runs_at_t_n_and_not_past_its_horizon():
    """A scheduled step runs at t_n = nh (the step-by-step test above); a run past the horizon is refused."""
    case = next(c for c in registry.cases() if c.id == "adam_cosine")
    horizon = float(numeric_spec(case.name, case.params).options["horizon"])
    theta = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64))
    opt = SpecOptimizer([theta], case.name, lr=horizon / 2, params=case.params)
    for _ in range(2):
        opt.zero_grad()
        e_torch(theta).backward()
        opt.step()
    with pytest.raises(BeaError, match="horizon"):
        opt.step()
