"""Rational functions, reduced and factored with FLINT (python-flint).

The coefficients of derived fields are mostly rational functions of the hyperparameters
(β, ρ, ε, λ, n and the powers β^n that finite n brings) and of a few per-coordinate atoms
(g, √(g² + ε)).  SymPy's ``factor`` spends seconds on the larger ones; FLINT's multivariate
polynomials over Q reduce and factor them in milliseconds.  A radical u^{p/q} is read as w^p
with the generator w = u^{1/q}, a function application (exp, sum, …) as a generator of its own,
so any such expression is a rational function of generators.

>>> import sympy as sp
>>> b, r, g, e = sp.symbols("beta rho g epsilon")
>>> factor(b/(1 - b) - r/(1 - r))
(beta - rho)/((1 - beta)*(1 - rho))
>>> factor(g/sp.sqrt(g**2 + e) - g**3/(g**2 + e)**sp.Rational(3, 2))
epsilon*g/(epsilon + g**2)**(3/2)
"""
from __future__ import annotations

import functools

import flint
import sympy as sp
from sympy.core.mul import _keep_coeff


class _NotRational(Exception):
    pass


def factor(expr) -> sp.Expr:
    """``expr`` as a product of irreducible factors over Q, radicals and functions as generators."""
    expr = sp.sympify(expr, strict=True)
    if expr.is_number:
        return expr if expr.is_Rational else sp.factor(expr)
    expr, atoms = _generators(expr)
    symbols = sorted(expr.free_symbols | {s for v in atoms.values() for s in v.free_symbols} - set(atoms), key=str)
    symbols += sorted(set(atoms) - set(symbols), key=str)
    ctx = _context(tuple(s.name for s in symbols))
    gens = dict(zip(symbols, ctx.gens()))
    try:
        num, den = _evaluate(expr, gens, ctx)
        for w, value in atoms.items():  # w = u^{1/q}: reduce modulo w^q = u where u is a polynomial
            if value.is_Pow and value.exp.is_Rational and value.exp.p == 1:
                u_num, u_den = _evaluate(value.base, gens, ctx)
                if u_den.is_one():
                    index = symbols.index(w)
                    num, den = (_reduce(p_, index, value.exp.q, u_num, ctx) for p_ in (num, den))
    except _NotRational:
        return sp.factor(expr.xreplace(atoms))
    g = num.gcd(den)
    num, den = num / g, den / g
    return (_to_sympy(num, symbols) / _to_sympy(den, symbols)).xreplace(atoms)


def _reduce(poly, index: int, q: int, u, ctx):
    """``poly`` with every power w^d (w the ``index``-th generator, d ≥ q) written w^{d mod q} u^{d // q}."""
    out = ctx.from_dict({})
    for monom, coeff in zip(poly.monoms(), poly.coeffs()):
        d = monom[index]
        rest = list(monom)
        rest[index] = d % q
        out += ctx.from_dict({tuple(rest): coeff}) * u ** (d // q)
    return out


def _generators(expr):
    """(expr with radicals u^{p/q} written w^p and function applications as symbols, {symbol: what})."""
    atoms = {}

    def name(value):
        for k, v in atoms.items():
            if v == value:
                return k
        sym = sp.Dummy(f"a{len(atoms)}")
        atoms[sym] = value
        return sym

    def walk(e):
        if e.is_Atom:
            return e
        if e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer:
            return name(sp.Pow(e.base, sp.Rational(1, e.exp.q), evaluate=False)) ** e.exp.p
        if e.is_Add or e.is_Mul or (e.is_Pow and e.exp.is_Integer):
            return e.func(*map(walk, e.args))
        return name(e)

    return walk(expr), atoms


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
    sign, out = 1, []
    for f, mult in factors:
        terms = {monom: sp.Rational(int(c.p), int(c.q)) for monom, c in zip(f.monoms(), f.coeffs())}
        if terms.get((0,) * len(symbols), 0) < 0:  # 1 − β rather than β − 1: factors lead with a positive constant
            terms = {m: -c for m, c in terms.items()}
            sign = -sign if mult % 2 else sign
        out.append(sp.Add(*(c * sp.Mul(*(s**e for s, e in zip(symbols, m))) for m, c in terms.items())) ** int(mult))
    return _keep_coeff(sign * sp.Rational(int(content.p), int(content.q)), sp.Mul(*out))  # −(1 + ρ)/2, not −ρ/2 − 1/2
