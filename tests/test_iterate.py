"""bea.iterate against hand-written loops of the optimizers as the papers define them."""
import numpy as np
import pytest
import sympy as sp

import bea

x, y = sp.symbols("x y")
E = (x * y - 1) ** 2 / 2 + x**4 / 10


def grad(t):
    a, b = t
    return np.array([(a * b - 1) * b + 0.4 * a**3, (a * b - 1) * a])


def adam_reference(theta, steps, h, beta, rho, eps, bias_correction=True):
    """Cattaneo–Klusowski–Shigida Definition 1.1 (ε inside the root, exponent n+1), written literally."""
    theta = np.array(theta, float)
    m = np.zeros(2)
    nu = np.zeros(2)
    out = [theta.copy()]
    for n in range(steps):
        g = grad(theta)
        nu = rho * nu + (1 - rho) * g**2
        m = beta * m + (1 - beta) * g
        if bias_correction:
            theta = theta - h * (m / (1 - beta ** (n + 1))) / np.sqrt(nu / (1 - rho ** (n + 1)) + eps)
        else:
            theta = theta - h * m / np.sqrt(nu + eps)
        out.append(theta.copy())
    return np.array(out)


@pytest.mark.parametrize("bias_correction", [True, False])
def test_adam_matches_the_paper_definition(bias_correction):
    got = bea.iterate("adam", E, [x, y], [0.3, 1.2], 50, 0.05, beta=0.9, rho=0.99, eps=1e-3,
                      bias_correction=bias_correction)
    want = adam_reference([0.3, 1.2], 50, 0.05, 0.9, 0.99, 1e-3, bias_correction)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_heavy_ball_forms():
    h, beta = 0.05, 0.7
    t_ema, t_pol = np.array([0.3, 1.2]), np.array([0.3, 1.2])
    m_ema, m_pol = np.zeros(2), np.zeros(2)
    ema, pol = [t_ema.copy()], [t_pol.copy()]
    for _ in range(30):
        m_ema = beta * m_ema + (1 - beta) * grad(t_ema)
        t_ema = t_ema - h * m_ema
        m_pol = beta * m_pol + grad(t_pol)
        t_pol = t_pol - h * m_pol
        ema.append(t_ema.copy())
        pol.append(t_pol.copy())
    np.testing.assert_allclose(bea.iterate("heavy_ball", E, [x, y], [0.3, 1.2], 30, h, beta=beta), ema, rtol=1e-13)
    np.testing.assert_allclose(bea.iterate("heavy_ball_polyak", E, [x, y], [0.3, 1.2], 30, h, beta=beta), pol,
                               rtol=1e-13)


def test_rmsprop_and_gd():
    h, rho, eps = 0.05, 0.9, 1e-2
    t, v = np.array([0.3, 1.2]), np.zeros(2)
    rms, gd = [t.copy()], [np.array([0.3, 1.2])]
    for _ in range(20):
        g = grad(t)
        v = rho * v + (1 - rho) * g**2
        t = t - h * g / np.sqrt(v + eps)
        rms.append(t.copy())
        gd.append(gd[-1] - h * grad(gd[-1]))
    np.testing.assert_allclose(bea.iterate("rmsprop", E, [x, y], [0.3, 1.2], 20, h, rho=rho, eps=eps), rms, rtol=1e-13)
    np.testing.assert_allclose(bea.iterate("gd", E, [x, y], [0.3, 1.2], 20, h), gd, rtol=1e-13)


def test_shape_and_start():
    traj = bea.iterate("adam", E, [x, y], [0.3, 1.2], 100, 0.01, beta=0.9, rho=0.99, eps=1e-3)
    assert traj.shape == (101, 2)
    np.testing.assert_array_equal(traj[0], [0.3, 1.2])


def test_nesterov_and_adamw_match_their_definitions():
    h, beta, rho, eps, lam = 0.05, 0.7, 0.9, 1e-2, 0.1
    t_n, m_n = np.array([0.3, 1.2]), np.zeros(2)
    t_w, m_w, v_w = np.array([0.3, 1.2]), np.zeros(2), np.zeros(2)
    nest, adw = [t_n.copy()], [t_w.copy()]
    for n in range(25):
        g = grad(t_n)
        m_n = beta * m_n + g
        t_n = t_n - h * (g + beta * m_n)  # torch.optim.SGD(nesterov=True), dampening 0
        g = grad(t_w)
        m_w = beta * m_w + (1 - beta) * g
        v_w = rho * v_w + (1 - rho) * g**2
        t_w = t_w - h * ((m_w / (1 - beta ** (n + 1))) / np.sqrt(v_w / (1 - rho ** (n + 1)) + eps) + lam * t_w)
        nest.append(t_n.copy())
        adw.append(t_w.copy())
    np.testing.assert_allclose(bea.iterate("nesterov", E, [x, y], [0.3, 1.2], 25, h, beta=beta), nest, rtol=1e-13)
    np.testing.assert_allclose(bea.iterate("adamw", E, [x, y], [0.3, 1.2], 25, h, beta=beta, rho=rho, eps=eps, lam=lam),
                               adw, rtol=1e-13)


def test_adam_eps_outside_matches_torch_optim_adam():
    torch = pytest.importorskip("torch")
    h, beta, rho, eps = 0.05, 0.8, 0.95, 1e-3
    p = torch.tensor([0.3, 1.2], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=h, betas=(beta, rho), eps=eps)
    want = [p.detach().numpy().copy()]
    for _ in range(30):
        opt.zero_grad()
        loss = (p[0] * p[1] - 1) ** 2 / 2 + p[0] ** 4 / 10
        loss.backward()
        opt.step()
        want.append(p.detach().numpy().copy())
    got = bea.iterate("adam_eps_outside", E, [x, y], [0.3, 1.2], 30, h, beta=beta, rho=rho, eps=eps)
    np.testing.assert_allclose(got, np.array(want), rtol=1e-12, atol=1e-14)


def test_nadam_lion_signum_adagrad_match_their_definitions():
    """Dozat's NAdam with decoupled decay, Lion-K (Chen et al.; Cattaneo & Shigida) with the smooth sign,
    Signum and AdaGrad, written as the papers state them."""
    h, b1, b2, eps, lam, steps = 0.05, 0.8, 0.9, 1e-2, 0.1, 25
    soft = lambda z: z / np.sqrt(z**2 + eps)  # noqa: E731
    t = {k: np.array([0.3, 1.2]) for k in ("nadam", "lion", "signum", "adagrad")}
    m = {k: np.zeros(2) for k in t}
    v = {k: np.zeros(2) for k in t}
    ref = {k: [t[k].copy()] for k in t}
    for n in range(steps):
        g = grad(t["nadam"])
        m["nadam"] = b1 * m["nadam"] + (1 - b1) * g
        v["nadam"] = b2 * v["nadam"] + (1 - b2) * g**2
        mhat = b1 * m["nadam"] / (1 - b1 ** (n + 2)) + (1 - b1) * g / (1 - b1 ** (n + 1))
        t["nadam"] = t["nadam"] - h * (mhat / np.sqrt(v["nadam"] / (1 - b2 ** (n + 1)) + eps) + lam * t["nadam"])
        g = grad(t["lion"])
        update = soft(b1 * m["lion"] + (1 - b1) * g)  # interpolate with the *old* momentum, then update it
        m["lion"] = b2 * m["lion"] + (1 - b2) * g
        t["lion"] = t["lion"] - h * (update + lam * t["lion"])
        g = grad(t["signum"])
        m["signum"] = b1 * m["signum"] + (1 - b1) * g
        t["signum"] = t["signum"] - h * soft(m["signum"])
        g = grad(t["adagrad"])
        v["adagrad"] = v["adagrad"] + g**2
        t["adagrad"] = t["adagrad"] - h * g / np.sqrt(v["adagrad"] + eps)
        for k in t:
            ref[k].append(t[k].copy())
    params = {"nadam": dict(beta=b1, rho=b2, eps=eps, lam=lam), "lion": dict(beta=b1, rho=b2, eps=eps, lam=lam),
              "signum": dict(beta=b1, eps=eps), "adagrad": dict(eps=eps)}
    for k in t:
        np.testing.assert_allclose(bea.iterate(k, E, [x, y], [0.3, 1.2], steps, h, **params[k]), ref[k],
                                   rtol=1e-12, err_msg=k)
