"""Reference directions of max-margin problems, computed exactly, and margin metrics.

With z_i = y_i x_i and Z the matrix of rows z_i (separable through the origin):

* ℓ2:  min ‖w‖₂² s.t. Zw ≥ 1, by its dual bounded QP max_{λ≥0} 1ᵀλ − ½‖Zᵀλ‖², w = Zᵀλ
  (L-BFGS-B), and as a check the primal with SLSQP.
* weighted ℓ2 (Mahalanobis): min wᵀdiag(M)w s.t. Zw ≥ 1; dual with Zᵀλ scaled by 1/M.
* ℓ∞ / ℓ1:  linear programs (HiGHS).  The ℓ∞ (and ℓ1) solution can be a whole face;
  :func:`linf_face` probes it with random objectives and reports its spread.
* The AdamProxy fixed point (Baek, Song & Yun 2025; reconstruction in the notes):
  M(c) = (Σ_i c_i² z_i²)^{1/2}, λ*(c) the weighted dual solution, T(c) = λ*/1ᵀλ*,
  c* = T(c*) by damped iteration c ← (c + T(c))/2; direction M(c*)^{-1} Zᵀ c*.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog, minimize

from bea.errors import BeaError


def unit(w) -> np.ndarray:
    w = np.asarray(w, float)
    return w / np.linalg.norm(w)


def cosine(a, b) -> float:
    return float(np.dot(unit(a), unit(b)))


def normalized_margin(w, Z, p) -> float:
    """γ_p(w) = min_i z_iᵀw / ‖w‖_p (p = 2, np.inf or 1)."""
    w = np.asarray(w, float)
    return float(np.min(Z @ w) / np.linalg.norm(w, ord=p))


def weighted_l2_max_margin(Z, M) -> np.ndarray:
    """argmin wᵀdiag(M)w s.t. Zw ≥ 1 (M > 0), via the dual bounded QP."""
    return _dual(Z, M)[1]


def _dual(Z, M):
    """(λ*, w*) of min wᵀdiag(M)w s.t. Zw ≥ 1: λ* = argmax_{λ≥0} 1ᵀλ − ½λᵀZ diag(1/M) Zᵀλ."""
    Z, M = np.asarray(Z, float), np.asarray(M, float)
    if np.any(M <= 0) or not np.all(np.isfinite(M)):
        raise BeaError("the weights M of a Mahalanobis margin must be positive and finite")
    ZM = Z / M  # rows z_i / M
    G = ZM @ Z.T  # Z diag(1/M) Zᵀ

    def fun(lam):
        Gl = G @ lam
        return 0.5 * lam @ Gl - lam.sum(), Gl - 1.0

    res = minimize(fun, np.full(len(Z), 1.0 / len(Z)), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * len(Z), options={"ftol": 1e-16, "gtol": 1e-13, "maxiter": 20000,
                                                         "maxcor": 50})
    w = ZM.T @ res.x
    if np.min(Z @ w) < 1 - 1e-6:
        raise BeaError(f"the max-margin QP did not converge (min margin {np.min(Z @ w):.3g} < 1): {res.message}")
    return res.x, w


def l2_max_margin(Z) -> np.ndarray:
    """The hard-margin SVM direction through the origin (scaled so min Zw = 1)."""
    return weighted_l2_max_margin(Z, np.ones(np.shape(Z)[1]))


def l2_max_margin_primal(Z) -> np.ndarray:
    """The same problem solved in the primal with SLSQP (a second method, for checks)."""
    Z = np.asarray(Z, float)
    res = minimize(lambda w: (w @ w, 2 * w), np.linalg.lstsq(Z, np.ones(len(Z)), rcond=None)[0] * 2, jac=True,
                   method="SLSQP", constraints=[{"type": "ineq", "fun": lambda w: Z @ w - 1, "jac": lambda w: Z}],
                   options={"ftol": 1e-14, "maxiter": 1000})
    return res.x


def linf_max_margin(Z) -> np.ndarray:
    """argmin ‖w‖∞ s.t. Zw ≥ 1 (one vertex of the optimal face), by linprog/HiGHS."""
    return _linf(Z)[0]


def _linf(Z, objective=None, t_max=None):
    Z = np.asarray(Z, float)
    N, d = Z.shape
    A = np.vstack([np.hstack([-Z, np.zeros((N, 1))]),
                   np.hstack([np.eye(d), -np.ones((d, 1))]),
                   np.hstack([-np.eye(d), -np.ones((d, 1))])])
    b = np.concatenate([-np.ones(N), np.zeros(2 * d)])
    c = np.concatenate([np.zeros(d), [1.0]]) if objective is None else np.concatenate([objective, [0.0]])
    bounds = [(None, None)] * d + [(0, t_max)]
    res = linprog(c, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0:
        raise BeaError(f"the ℓ∞ max-margin LP failed: {res.message}")
    return res.x[:d], res.x[d]


@dataclass(frozen=True)
class Face:
    """The optimal face of the ℓ∞ problem: a vertex, the optimum t*, and how far apart its points lie."""

    w: np.ndarray
    t: float
    spread: float  # max 1 − cos between the probed optimal solutions (0: unique direction)

    @property
    def unique(self) -> bool:
        return self.spread < 1e-6


def linf_face(Z, probes: int = 8, seed: int = 0) -> Face:
    """Solve the ℓ∞ LP, then minimize/maximize random linear objectives over {Zw ≥ 1, ‖w‖∞ ≤ t*}."""
    w, t = _linf(Z)
    rng = np.random.default_rng(seed)
    points = [w]
    for _ in range(probes):
        direction = rng.normal(size=len(w))
        for sign in (1, -1):
            points.append(_linf(Z, sign * direction, t * (1 + 1e-9))[0])
    spread = max(1 - cosine(a, b) for a in points for b in points)
    return Face(w, t, float(spread))


def l1_max_margin(Z) -> np.ndarray:
    """argmin ‖w‖₁ s.t. Zw ≥ 1, w = u − v with u, v ≥ 0 (linprog/HiGHS)."""
    Z = np.asarray(Z, float)
    N, d = Z.shape
    res = linprog(np.ones(2 * d), A_ub=np.hstack([-Z, Z]), b_ub=-np.ones(N), bounds=[(0, None)] * (2 * d),
                  method="highs")
    if res.status != 0:
        raise BeaError(f"the ℓ1 max-margin LP failed: {res.message}")
    return res.x[:d] - res.x[d:]


@dataclass(frozen=True)
class FixedPoint:
    """The AdamProxy dual fixed point c* and its direction, with the convergence record."""

    c: np.ndarray
    w: np.ndarray
    M: np.ndarray
    iterations: int
    residual: float  # ‖T(c) − c‖∞ at the end

    @property
    def converged(self) -> bool:
        return self.residual < 1e-9


def proxy_weights(Z, c) -> np.ndarray:
    """M(c) = (Σ_i c_i² z_i²)^{1/2}, coordinatewise."""
    return np.sqrt((np.asarray(c)[:, None] ** 2 * np.asarray(Z) ** 2).sum(axis=0))


def proxy_fixed_point(Z, tol: float = 1e-10, max_iter: int = 5000) -> FixedPoint:
    """c* = T(c*) by the damped iteration c ← (c + T(c))/2 from c = 1/N (see the module docstring)."""
    Z = np.asarray(Z, float)
    c = np.full(len(Z), 1.0 / len(Z))
    residual = np.inf
    for k in range(1, max_iter + 1):
        lam = _dual(Z, proxy_weights(Z, c))[0]
        Tc = lam / lam.sum()
        residual = float(np.max(np.abs(Tc - c)))
        c = 0.5 * (c + Tc)
        if residual < tol:
            break
    M = proxy_weights(Z, c)
    return FixedPoint(c, weighted_l2_max_margin(Z, M), M, k, residual)
