"""Discrete iterates of an optimizer spec: the ground truth the modified ODE must match.

This runs the recursions of :mod:`bea.spec` literally (no expansion):
s ← a s + b u(g, θ) for each state, then θ ← θ − h φ(s, g, θ, n), in float64.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import symbols as S
from .concrete import check_loss
from .errors import BeaError
from .numeric import function, gradient_function
from .optimizers import build
from .spec import check_value


def _prepared(optimizer, loss, variables, hyper_and_options):
    """(spec with every hyperparameter a number, loss, variables), all checked."""
    spec, values = build(optimizer, hyper_and_options, require_all=True)
    loss, variables = check_loss(loss, variables, spec)
    return spec.substitute(values), loss, variables


def iterate(optimizer, loss, variables, theta0, steps: int, h, **hyper_and_options) -> np.ndarray:
    """θ₀, θ₁, …, θ_steps of the optimizer on ``loss``: an array of shape (steps+1, d).

    Every hyperparameter needs a number here.

    Examples
    --------
    >>> import sympy as sp, bea
    >>> x = sp.Symbol("x")
    >>> bea.iterate("gd", x**2 / 2, [x], [1.0], steps=2, h=0.5)[:, 0]
    array([1.  , 0.5 , 0.25])
    """
    steps, h = check_steps(steps, h)
    spec, loss, variables = _prepared(optimizer, loss, variables, hyper_and_options)
    theta = check_start(theta0, len(variables))
    grad = gradient_function(loss, variables)
    return run(spec, lambda n, theta: grad(theta), theta, steps, h)


def check_steps(steps, h) -> tuple[int, float]:
    """A non-negative integer number of steps and a positive step size."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise BeaError(f"steps must be a non-negative integer, got {steps!r}")
    return int(steps), float(check_value("h", h, "positive"))


def check_start(theta0, d: int) -> np.ndarray:
    """θ₀ as a finite float vector with one entry per variable."""
    try:
        theta = np.array(theta0, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise BeaError(f"theta0 must be a list of {d} numbers, got {theta0!r}"[:200]) from None
    if theta.shape != (d,):
        raise BeaError(f"theta0 must have {d} entries (one per variable), got {np.shape(theta0)}")
    if not np.all(np.isfinite(theta)):
        raise BeaError(f"theta0 must be finite, got {theta0!r}")
    return theta


def run(spec, gradient, theta, steps: int, h: float) -> np.ndarray:
    """The recursions of a numeric ``spec`` with g_n = ``gradient(n, θ_n)`` (per-step losses allowed)."""
    local = [S.g, S.theta, S.n]
    inputs = [function(local, st.input) for st in spec.states]
    coeffs = [(float(st.decay), float(st.scale)) for st in spec.states]
    step = function([*(st.symbol for st in spec.states), *local], spec.step)

    states = [np.zeros_like(theta) for _ in spec.states]
    out = np.empty((steps + 1, theta.size))
    out[0] = theta
    with np.errstate(all="ignore"):
        for n in range(steps):
            g = np.asarray(gradient(n, theta), dtype=float)
            states = [a * s + b * u(g, theta, n) for s, (a, b), u in zip(states, coeffs, inputs)]
            theta = theta - h * np.broadcast_to(step(*states, g, theta, n), theta.shape)
            if not np.all(np.isfinite(theta)):
                raise BeaError(f"{spec.name} diverged at step {n + 1} (non-finite iterate); reduce h")
            out[n + 1] = theta
    return out
