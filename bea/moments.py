"""Moments of the exponential-moving-average weights, in closed form.

A state s_{n+1} = a s_n + b u_n started at zero is s_{n+1} = b Σ_{k=0}^{n} a^k u_{n-k}.
When the past iterate θ_{n-k} is written through the backward flow of the
modified field, u_{n-k} = Σ_r (−kh)^r/r! D_F^r u, and the state needs

    μ_r(n) = Σ_{k=0}^{n} a^k k^r = (a d/da)^r (1 − a^{n+1})/(1 − a)       (finite n)
    μ_r(∞) = (a d/da)^r 1/(1 − a)                                        (n → ∞, |a| < 1)

and Faulhaber's sums when a = 1 (an accumulator that never forgets).
"""
from __future__ import annotations

import functools

import sympy as sp

from . import symbols as S
from .errors import BeaError


@functools.lru_cache(maxsize=None)
def moment(decay, r: int, stationary: bool) -> sp.Expr:
    """μ_r = Σ_k a^k k^r over k = 0..n (or 0..∞ when ``stationary``).

    Examples
    --------
    >>> import sympy as sp
    >>> a = sp.Symbol("a", positive=True)
    >>> moment(a, 1, True)
    a/(a - 1)**2
    >>> moment(sp.S.One, 1, False)
    n*(n + 1)/2
    """
    decay = sp.sympify(decay)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    if decay == 1:
        if stationary:
            raise BeaError("an accumulator with decay 1 (e.g. AdaGrad) has no stationary regime; use finite n")
        return sp.factor(sp.summation(k**r, (k, 0, S.n)))
    if decay == 0:  # only the k = 0 term: a plain step without memory
        return sp.S.One if r == 0 else sp.S.Zero
    z = sp.Dummy("z")
    series = 1 / (1 - z) if stationary else (1 - z ** (S.n + 1)) / (1 - z)
    for _ in range(r):
        series = z * sp.diff(series, z)
    value = series.subs(z, decay)
    return sp.factor(value) if stationary else sp.simplify(value)


def stationary_limit(expr) -> sp.Expr:
    """n → ∞ in an expression whose n-dependence is through powers a^{…n…} with |a| < 1."""
    expr = sp.sympify(expr).replace(lambda e: e.is_Pow and e.exp.has(S.n) and not e.base.has(S.n), lambda e: sp.S.Zero)
    if expr.has(S.n):
        raise BeaError("this optimizer's step depends on n in a way that has no n → ∞ limit; use finite n")
    return expr
