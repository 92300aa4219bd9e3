"""Rational functions, reduced and factored with FLINT (python-flint).

The coefficients of derived fields are mostly rational functions of the hyperparameters
(β, ρ, ε, λ, n and the powers β^n that finite n brings).  SymPy's ``factor`` spends seconds on
the larger ones; FLINT's multivariate polynomials over Q reduce and factor them in
milliseconds.  Anything that is not a rational function of symbols goes to SymPy unchanged.

>>> import sympy as sp
>>> b, r = sp.symbols("beta rho")
>>> factor(b/(1 - b) - r/(1 - r))
(beta - rho)/((beta - 1)*(rho - 1))
>>> factor(sp.sqrt(b) + 1)        # not rational in its symbols: SymPy's factor
sqrt(beta) + 1
"""
from __future__ import annotations

import functools

import flint
import sympy as sp
from sympy.core.mul import _keep_coeff


class _NotRational(Exception):
    pass


def factor(expr) -> sp.Expr:
    """``expr`` as a product of irreducible factors over Q (a SymPy expression)."""
    expr = sp.sympify(expr)
    symbols = sorted(expr.free_symbols, key=str)
    if not symbols or expr.is_number:
        return sp.factor(expr) if not expr.is_Rational else expr
    ctx = _context(tuple(s.name for s in symbols))
    try:
        num, den = _evaluate(expr, dict(zip(symbols, ctx.gens())), ctx)
    except _NotRational:
        return sp.factor(expr)
    g = num.gcd(den)
    num, den = num / g, den / g
    return _to_sympy(num, symbols) / _to_sympy(den, symbols)


@functools.lru_cache(maxsize=256)
def _context(names):
    return flint.fmpq_mpoly_ctx.get(names, "lex")


def _evaluate(expr, gens, ctx):
    """(numerator, denominator) of ``expr`` as FLINT polynomials."""
    if expr.is_Symbol:
        return gens[expr], ctx.from_dict({(0,) * len(gens): 1})
    if expr.is_Rational:
        one = ctx.from_dict({(0,) * len(gens): 1})
        return one * flint.fmpq(int(expr.p), int(expr.q)), one
    if expr.is_Add:
        num, den = _evaluate(expr.args[0], gens, ctx)
        for arg in expr.args[1:]:
            n2, d2 = _evaluate(arg, gens, ctx)
            g = den.gcd(d2)
            num, den = num * (d2 / g) + n2 * (den / g), den * (d2 / g)
        return num, den
    if expr.is_Mul:
        num, den = _evaluate(expr.args[0], gens, ctx)
        for arg in expr.args[1:]:
            n2, d2 = _evaluate(arg, gens, ctx)
            num, den = num * n2, den * d2
        return num, den
    if expr.is_Pow and expr.exp.is_Integer:
        num, den = _evaluate(expr.base, gens, ctx)
        k = int(expr.exp)
        return (num**k, den**k) if k >= 0 else (den**-k, num**-k)
    raise _NotRational


def _to_sympy(poly, symbols) -> sp.Expr:
    """A FLINT polynomial as a SymPy product of its factors."""
    content, factors = poly.factor()
    out = []
    for f, mult in factors:
        terms = [sp.Rational(int(c.p), int(c.q)) * sp.Mul(*(s**e for s, e in zip(symbols, monom)))
                 for monom, c in zip(f.monoms(), f.coeffs())]
        out.append(sp.Add(*terms) ** int(mult))
    return _keep_coeff(sp.Rational(int(content.p), int(content.q)), sp.Mul(*out))  # −(ρ + 1)/2, not −ρ/2 − 1/2
