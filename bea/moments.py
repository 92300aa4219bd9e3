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
import symengine as se

from . import rational
from . import symbols as S
from .errors import BeaError


@functools.lru_cache(maxsize=None)
def moment(decay, r: int, stationary: bool, power=None) -> sp.Expr:
    """μ_r = Σ_k a^k k^r over k = 0..n (or 0..∞ when ``stationary``).

    Finite n is computed with A = a^n as a symbol (``power``; a**n when not given):
    (a d/da) acts on A as n·A, so μ_r is a rational function of a, n, A, cancelled, never
    ``simplify``-ed.

    Examples
    --------
    >>> import sympy as sp
    >>> a = sp.Symbol("a", positive=True)
    >>> sp.cancel(moment(a, 1, True) - a/(1 - a)**2)      # Σ k a^k
    0
    >>> moment(sp.S.One, 1, False)
    n*(n + 1)/2
    >>> from bea.symbols import n
    >>> sp.cancel(moment(a, 0, False) - (1 - a**(n + 1))/(1 - a))
    0
    """
    decay = sp.sympify(decay)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    if decay == 1:
        if stationary:
            raise BeaError("an accumulator with decay 1 (e.g. AdaGrad) has no stationary regime; use finite n")
        return sp.factor(sp.summation(k**r, (k, 0, S.n)))
    if decay == 0:  # only the k = 0 term: a plain step without memory
        return sp.S.One if r == 0 else sp.S.Zero
    z, A, n = se.Symbol("_z"), se.Symbol("_A"), se.Symbol(S.n.name)  # A = z^n
    series = 1 / (1 - z) if stationary else (1 - z * A) / (1 - z)
    for _ in range(r):
        series = z * se.diff(series, z) + n * A * se.diff(series, A)
    value = rational.factor(sp.sympify(series).xreplace({sp.Symbol("n"): S.n}))
    return value.subs(sp.Symbol("_z"), decay).subs(sp.Symbol("_A"), decay**S.n if power is None else power)


def stationary_limit(expr) -> sp.Expr:
    """n → ∞ in an expression whose n-dependence is through powers a^{…n…} with |a| < 1."""
    expr = sp.sympify(expr).replace(lambda e: e.is_Pow and e.exp.has(S.n) and not e.base.has(S.n), lambda e: sp.S.Zero)
    if expr.has(S.n):
        raise BeaError("this optimizer's step depends on n in a way that has no n → ∞ limit; use finite n")
    return expr
