"""Test losses for verification, as SymPy expressions in any dimension.

Each builder returns ``(E, variables, theta0)``: the loss, its symbols and a
starting point where the loss is smooth and its gradient is O(1).  Data-driven
losses use small fixed data sets drawn from a seeded generator, written as
exact rationals so derivations stay exact.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from .errors import BeaError


def _symbols(d: int):
    if d < 1:
        raise BeaError(f"dimension must be >= 1, got {d}")
    return sp.symbols(f"x1:{d + 1}", real=True)


def _rational(a: float) -> sp.Rational:
    return sp.Rational(round(float(a) * 1000), 1000)


def quadratic(d: int = 2, condition: float = 10.0):
    """E = ½ Σ_i λ_i x_i² with λ from 1 to ``condition`` (geometric): ill-conditioned."""
    xs = _symbols(d)
    lams = np.geomspace(1.0, condition, d) if d > 1 else np.array([1.0])
    E = sum(_rational(lam) * x**2 for lam, x in zip(lams, xs)) / 2
    return E, xs, [1.0] * d


def rosenbrock(d: int = 2):
    """E = Σ_i [(1 − x_i)² + 10 (x_{i+1} − x_i²)²] / 10 (a softened Rosenbrock)."""
    if d < 2:
        raise BeaError("rosenbrock needs dimension >= 2")
    xs = _symbols(d)
    E = sum((1 - xs[i]) ** 2 + 10 * (xs[i + 1] - xs[i] ** 2) ** 2 for i in range(d - 1)) / 10
    return E, xs, [-0.5] + [0.5] * (d - 1)


def nonconvex(d: int = 2):
    """E = (x₁x₂ − 1)²/2 + x₁⁴/10 + sin(x₁ + x₂)/3 (+ ½ Σ_{i>2} x_i²): smooth, non-convex."""
    if d < 2:
        raise BeaError("nonconvex needs dimension >= 2")
    xs = _symbols(d)
    E = (xs[0] * xs[1] - 1) ** 2 / 2 + xs[0] ** 4 / 10 + sp.sin(xs[0] + xs[1]) / 3
    E += sum(x**2 for x in xs[2:]) / 2
    return E, xs, [0.3, 1.2] + [0.5] * (d - 2)


def shifted_quadratic(d: int = 2):
    """E = (x₁ − 3)² + (x₁ − 3)(x₂ + 3)/2 + (x₂ + 3)²/2 (+ ½ Σ_{i>2} (x_i − 3)²), started at 0.

    The minimizer is far from the start, so over short horizons no gradient component
    crosses 0: a step with |g| in it (Adam with ε outside the root) is smooth there.
    """
    if d < 2:
        raise BeaError("shifted_quadratic needs dimension >= 2")
    xs = _symbols(d)
    a, b = xs[0] - 3, xs[1] + 3
    E = a**2 + a * b / 2 + b**2 / 2 + sum((x - 3) ** 2 for x in xs[2:]) / 2
    return E, xs, [0.0] * d


def logistic(d: int = 2, samples: int = 8, seed: int = 0):
    """Mean logistic loss (1/N) Σ log(1 + exp(−y_i w·x_i)) + ‖w‖²/20 on seeded Gaussian data."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, d))
    y = np.sign(X @ rng.normal(size=d) + 0.3 * rng.normal(size=samples))
    ws = _symbols(d)
    E = sum(sp.log(1 + sp.exp(-int(yi) * sum(_rational(a) * w for a, w in zip(xi, ws)))) for xi, yi in zip(X, y))
    return E / samples + sum(w**2 for w in ws) / 20, ws, [0.5] * d


def two_layer(width: int = 2, samples: int = 4, seed: int = 0):
    """A tiny network f(x) = Σ_k a_k tanh(b_k x) fitted by mean squared error (2·width parameters)."""
    rng = np.random.default_rng(seed)
    xs_data = rng.uniform(-1, 1, samples)
    ys_data = np.sin(2 * xs_data)
    params = _symbols(2 * width)
    a, b = params[:width], params[width:]
    pred = lambda x: sum(ak * sp.tanh(bk * _rational(x)) for ak, bk in zip(a, b))  # noqa: E731
    E = sum((pred(x) - _rational(yv)) ** 2 for x, yv in zip(xs_data, ys_data)) / (2 * samples)
    theta0 = list(rng.uniform(0.3, 1.0, 2 * width))
    return E, params, theta0


def bilinear_game():
    """A regularized bilinear zero-sum game: x minimizes, y maximizes f = xy + x²/4 − y²/4 + x³y/6,
    as a :class:`bea.games.Game` (v = (∂_x f, −∂_y f), not a gradient)."""
    from .games import game

    x, y = _symbols(2)
    f = x * y + x**2 / 4 - y**2 / 4 + x**3 * y / 6
    return game([f, -f], [[x], [y]]), (x, y), [0.8, -0.4]


LOSSES = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "nonconvex": nonconvex,
    "shifted_quadratic": shifted_quadratic,
    "logistic": logistic,
    "two_layer": two_layer,
    "bilinear_game": bilinear_game,
}


def get(name: str, **kwargs):
    """A loss from the library by name: (E, variables, theta0)."""
    if name not in LOSSES:
        raise BeaError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")
    return LOSSES[name](**kwargs)
