"""Datasets for the separable-data experiments, and the checks every dataset passes.

All datasets are returned as Z, the matrix of rows z_i = y_i x_i (labels folded in):
a linear classifier w separates the data through the origin iff Zw > 0.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from bea.errors import BeaError


def signed_samples(X, y) -> np.ndarray:
    """Z = y ⊙ X after checking: finite features, labels ±1, separable through the origin."""
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise BeaError(f"X must be (N, d) and y (N,); got X {X.shape}, y {y.shape}")
    if not np.all(np.isfinite(X)):
        raise BeaError("X contains NaN or infinite values")
    labels = set(np.unique(y).tolist())
    if not labels <= {-1, 1}:
        raise BeaError(f"labels must be -1 or +1, got {sorted(labels)}")
    Z = y[:, None].astype(float) * X
    check_separable(Z)
    return Z


def check_separable(Z) -> None:
    """Raise unless some w has Zw ≥ 1 (an LP feasibility problem)."""
    N, d = Z.shape
    res = linprog(np.zeros(d), A_ub=-Z, b_ub=-np.ones(N), bounds=[(None, None)] * d, method="highs")
    if res.status != 0:
        raise BeaError("the data are not linearly separable through the origin (no w with y_i x_iᵀw > 0 for all i)")


def gaussian(N: int = 10, d: int = 20, seed: int = 1) -> np.ndarray:
    """x_i ~ N(0, I_d), random ±1 labels (separable when d ≥ N)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d))
    return signed_samples(X, rng.choice([-1, 1], size=N))


def scaled_rademacher(N: int = 6, d: int = 10, seed: int = 0) -> np.ndarray:
    """Baek–Song–Yun's SR data: x_i = a_i s_i, s_i ∈ {±1}^d uniform, a_i ~ U(0.5, 2), random labels.

    Every coordinate of a sample has the same magnitude, which makes incremental Adam's
    per-coordinate denominators equal (its bias is then ℓ2)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, size=(N, 1)) * rng.choice([-1.0, 1.0], size=(N, d))
    return signed_samples(X, rng.choice([-1, 1], size=N))


def shifted_diagonal(d: int = 6, b: float = 0.2, seed: int = 0) -> np.ndarray:
    """z_i = λ_i e_i + b·1 (N = d, λ_i ~ U(0.5, 2)): a dataset where the proxy's bias is ℓ∞."""
    rng = np.random.default_rng(seed)
    X = np.diag(rng.uniform(0.5, 2.0, size=d)) + b
    return signed_samples(X, np.ones(d, dtype=int))
