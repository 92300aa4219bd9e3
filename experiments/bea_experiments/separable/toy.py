"""Wang et al. (2021)'s toy: 2-D data, a 2-homogeneous model with 3 parameters, many initializations.

Φ(θ; x) = v·σ(⟨w, x⟩), θ = (w₁, w₂, v), σ(u) = u (u ≥ 0), u/2 (u < 0); exponential loss,
mean over 100 points around ±(cos 0.5, sin 0.5).  Full batch, constant learning rate,
all initializations at once (arrays of shape (runs, 3)).  The accumulator A of each
optimizer gives h_∞^{-1/2} ∝ (A + ε)^{1/4}: isotropic when A → 0 (RMSProp, Adam without
momentum), not for AdaGrad, whose A stays the sum of all squared gradients.
"""
from __future__ import annotations

import numpy as np


def dataset(seed: int = 0, n: int = 100):
    """n points, half at (cos .5, sin .5) + U(−.6, .6)² with y = +1, half mirrored with y = −1."""
    rng = np.random.default_rng(seed)
    centre = np.array([np.cos(0.5), np.sin(0.5)])
    y = np.repeat([1.0, -1.0], n // 2)
    X = y[:, None] * centre + rng.uniform(-0.6, 0.6, size=(n, 2))
    return X, y


def _forward(theta, X, y):
    u = theta[:, :2] @ X.T  # (runs, n)
    act = np.where(u >= 0, u, u / 2)
    q = y * theta[:, 2:3] * act  # y_i Φ(θ; x_i)
    return u, act, q


def gradient(theta, X, y):
    u, act, q = _forward(theta, X, y)
    e = np.exp(-q) / X.shape[0]
    dact = np.where(u >= 0, 1.0, 0.5)
    gv = -(e * y * act).sum(axis=1)
    gw = -((e * y * theta[:, 2:3] * dact) @ X)
    return np.column_stack([gw, gv])


def normalized_margin(theta, X, y):
    """min_i y_i Φ(θ; x_i) / ‖θ‖² (Φ is 2-homogeneous)."""
    return _forward(theta, X, y)[2].min(axis=1) / (theta**2).sum(axis=1)


def train(algorithm: str, theta0, X, y, steps: int = 5000, lr: float = 0.1, rho: float = 0.9, eps: float = 1e-5):
    """Returns (θ_T, accumulator A_T) for "gd", "adagrad", "rmsprop", "adam_nomomentum" (bias-corrected)."""
    theta, A = np.array(theta0, float), np.zeros_like(theta0, dtype=float)
    for t in range(steps):
        g = gradient(theta, X, y)
        if algorithm == "gd":
            theta = theta - lr * g
            continue
        if algorithm == "adagrad":
            A = A + g**2
            denom = A
        else:
            A = rho * A + (1 - rho) * g**2
            denom = A / (1 - rho ** (t + 1)) if algorithm == "adam_nomomentum" else A
        theta = theta - lr * g / np.sqrt(denom + eps)
    return theta, A


def h_direction(A, eps: float = 1e-5):
    """The unit vector ∝ h_∞^{-1/2} = (A + ε)^{1/4}, per run."""
    d = (A + eps) ** 0.25
    return d / np.linalg.norm(d, axis=1, keepdims=True)
