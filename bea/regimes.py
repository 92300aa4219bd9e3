"""The perturbed one-norm along trajectories: the implicit bias of Adam made visible.

‖∇E(θ)‖_{1,ε} = Σ_j √(∂_jE(θ)² + ε).  The O(h) correction of Adam's modified
equation is −(c/s) ⊙ ∇‖∇E‖_{1,ε}: where c > 0 the discrete iterates reach
lower values of the norm than the leading flow θ̇ = −g/s at the same time t
(the norm is penalized), where c < 0 higher ones (anti-penalized).
``one_norm_gap`` measures that gap for the iterates and for the order-1 ODE.
"""
from __future__ import annotations

import numpy as np

from .integrate import integrate
from .iterate import iterate
from .numeric import gradient_function
from .ode import modified_ode


def perturbed_one_norm(loss, variables, trajectory, eps: float, grad=None) -> np.ndarray:
    """‖∇E(θ)‖_{1,ε} at each row of ``trajectory`` (``grad``: a prebuilt gradient function)."""
    grad = grad or gradient_function(loss, variables)
    G = np.array([grad(list(row)) for row in trajectory], dtype=float)
    return np.sqrt(G**2 + eps).sum(axis=1)


def one_norm_gap(loss, variables, theta0, T: float, h: float, optimizer: str = "adam", **params) -> dict:
    """Times t = nh and N(θ) − N(flow₀) for the iterates and for the order-1 modified ODE.

    N = ‖∇E‖_{1,ε}, flow₀ the order-0 modified flow (θ̇ = −g/s for Adam).
    """
    steps = int(round(T / h))
    iterates = iterate(optimizer, loss, variables, theta0, steps, h, **params)  # checks every hyperparameter
    flows = [integrate(modified_ode(optimizer, loss, variables, order=p, h=h, **params), theta0, steps)
             for p in (0, 1)]
    grad, eps = gradient_function(loss, variables), float(params["eps"])
    norm = lambda traj: perturbed_one_norm(loss, variables, traj, eps, grad)  # noqa: E731
    base = norm(flows[0])
    return {"t": h * np.arange(steps + 1), "iterates": norm(iterates) - base, "order1": norm(flows[1]) - base}
