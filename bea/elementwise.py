"""Per-coordinate expressions as well-conditioned elementwise code.

Derived terms evaluated as written lose many digits in floating point: closed-form moment sums
such as Σ_{k≤n} ρ^k k² = (ρ + ρ² − …ρ^{n+1}…)/(1 − ρ)³ cancel to ~1/(1 − ρ)³ at small n, and
unfactored coefficients cancel terms of size g²/ε (e.g. g²/s² − 1 = −ε/s² with s² = g² + ε).
Evaluated as written, Adam's F₂ at n = 0 without bias correction carries a relative error of
5e-3 in float64.  So, before any number is computed:

1. the step n is substituted (:func:`at_step`): powers a^{f(n)} of numbers become 50-digit
   rationals (0 below 1e-80; exact powers would have thousands of digits at large n), so the
   moment sums cancel in exact arithmetic;
2. every coefficient of a product of nodes is factored (:func:`bea.abstract.collect`);
3. :func:`balanced` moves the size of every sum into one number in front (factoring clears
   denominators, leaving integers like 10^400 that overflow a float), and the numbers become
   20-digit floats.

The result runs in machine precision (tested against the concrete SymPy field to 1e-10 and in
40-digit arithmetic).
"""
from __future__ import annotations

import mpmath
import sympy as sp

from . import symbols as S
from .abstract import collect
from .numeric import function

DIGITS = 50
NEGLIGIBLE = sp.Rational(1, 10**80)


def step_powers(expr) -> set:
    """The powers a^{f(n)} of a number a whose exponent depends on the step n."""
    return {p for p in (sp.S.Zero + expr).atoms(sp.Pow) if p.exp.has(S.n) and p.base.is_number}


def power_value(power, n: int) -> sp.Rational:
    """a^{f(n)} as a rational with DIGITS significant digits (0 when below NEGLIGIBLE)."""
    base, exponent = sp.Rational(power.base), sp.Rational(power.exp.xreplace({S.n: n}))
    with mpmath.workdps(DIGITS + 10):
        value = mpmath.power(mpmath.mpf(base.p) / base.q, mpmath.mpf(exponent.p) / exponent.q)
        value = sp.Rational(sp.Float(value, DIGITS))
    return sp.S.Zero if abs(value) < NEGLIGIBLE else value


def at_step(expr, n: int, powers=None):
    """``expr`` on the interval of step ``n``, its powers a^{f(n)} as in :func:`power_value`.

    >>> at_step(S.n * sp.Rational(1, 2)**S.n, 3)
    3/8
    """
    powers = step_powers(expr) if powers is None else powers
    return (sp.S.Zero + expr).xreplace({p: power_value(p, n) for p in powers}).xreplace({S.n: sp.Integer(n)})


def tidy(expr):
    """Coefficients of every product of nodes factored (``expr`` free of n)."""
    return collect(expr)


def _split(expr):
    """(k, e) with expr = k·e, k a number carrying the size and e with coefficients of size ≤ 1."""
    if expr.is_number:
        return expr, sp.S.One
    if expr.is_Add:
        parts = [_split(t) for t in expr.args]
        size = max((abs(k) for k, _ in parts), key=lambda x: float(x.evalf(30)))
        return size, sp.Add(*(k / size * e for k, e in parts))
    if expr.is_Mul:
        parts = [_split(t) for t in expr.args]
        return sp.Mul(*(k for k, _ in parts)), sp.Mul(*(e for _, e in parts))
    if expr.is_Pow and expr.exp.is_number:
        k, e = _split(expr.base)
        if expr.exp.is_Integer or k.is_positive:
            return k**expr.exp, e**expr.exp
        return (-k) ** expr.exp, (-e) ** expr.exp  # (k·e)^x = (−k)^x (−e)^x for k < 0
    if isinstance(expr, sp.Abs):
        k, e = _split(expr.args[0])
        return abs(k), sp.Abs(e)
    if expr.args:
        return sp.S.One, expr.func(*(balanced(a) for a in expr.args))
    return sp.S.One, expr


def balanced(expr):
    """``expr`` with the size of every sum moved in front and every number a 20-digit float.

    >>> x = sp.Symbol("x")
    >>> balanced(sp.sqrt(10**400 * x**2 + 3 * 10**400) / 10**200)   # 1e400 overflows a float
    1.7320508075688772935*(0.33333333333333333333*x**2 + 1)**0.5
    """
    k, e = _split(sp.S.Zero + expr)
    return _floats(sp.Mul(k, e, evaluate=False))


def _floats(expr):
    """Numbers as 20-digit floats: √2 or π/3 (torch functions need tensor arguments) and rationals."""
    return expr.replace(lambda e: e.is_number and not (e.is_Integer and abs(e) < 2**53),
                        lambda e: sp.Float(e.evalf(20), 20))


def torch_code(expr, arguments):
    """``expr``, balanced, as a torch function of ``arguments`` (:func:`bea.numeric.function`)."""
    return function(arguments, balanced(expr), "torch")
