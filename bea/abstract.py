"""Dimension-free calculus: vector fields written for one generic coordinate.

A per-coordinate expression is built from ``g`` (= ∂_jE), ``theta`` (= θ_j),
constants, and contractions of the derivative tensors of E,

    DE(u₁, …, u_r)_j = Σ_{i₁…i_r} ∂_j ∂_{i₁} … ∂_{i_r} E · u₁(i₁) ⋯ u_r(i_r),

whose arguments are again per-coordinate expressions read at the summed index
(so DE(u) = ∇²E·u and DE(g/√(g²+ε)) = ∇‖∇E‖_{1,ε}).  The Lie derivative
D_F u = (∇u)·F along a field F of the same kind follows from

    D_F g = DE(F),   D_F θ = F,
    D_F DE(u₁…u_r) = DE(u₁…u_r, F) + Σ_s DE(u₁ … D_F u_s … u_r),

so results hold in every dimension.  :func:`concretize` evaluates them for a
given loss, which the tests use to check them against the concrete route.
"""
from __future__ import annotations

import itertools

import sympy as sp

from . import symbols as S


class DE(sp.Function):
    """Contraction DE(u₁,…,u_r)_j of ∇^{r+1}E with per-coordinate vectors (symmetric, multilinear)."""

    def _sympystr(self, printer):
        inner = ", ".join(printer.doprint(a) for a in self.args)
        return f"D{len(self.args) + 1}E[{inner}]"  # ∇^{r+1}E[...] in ASCII

    def _pretty(self, printer):
        from sympy.printing.pretty.stringpict import prettyForm

        sup = "⁰¹²³⁴⁵⁶⁷⁸⁹"[len(self.args) + 1]
        inner = prettyForm(*printer._print_seq(self.args, delimiter=", ").parens("[", "]"))
        return prettyForm(*prettyForm(f"∇{sup}E").right(inner), binding=prettyForm.FUNC)

    def _latex(self, printer):
        inner = ", ".join(printer.doprint(a) for a in self.args)
        order = len(self.args) + 1
        return rf"\nabla^{{{order}}}E\left[{inner}\right]"


def _is_local(expr) -> bool:
    return expr.has(S.g, S.theta, DE)


def _terms(expr):
    """Split an expression into (constant, local) pairs, constants free of g, θ and DE."""
    out = {}
    for term in sp.Add.make_args(sp.expand(expr)):
        const, local = term.as_independent(S.g, S.theta, DE, as_Add=False)
        inner, local = sp.factor(local).as_independent(S.g, S.theta, DE, as_Add=False)
        const *= inner
        out[local] = out.get(local, 0) + const
    return [(c, loc) for loc, c in out.items() if c != 0]


def contract(*args) -> sp.Expr:
    """DE(args) expanded by multilinearity: constants pulled out, sums split, args sorted."""
    args = [normalize(a) for a in args]
    total = sp.S.Zero
    for combo in itertools.product(*(_terms(a) for a in args)):
        coeff = sp.Mul(*(c for c, _ in combo))
        locals_ = sorted((loc for _, loc in combo), key=sp.default_sort_key)
        if any(loc == 0 for loc in locals_):
            continue
        total += coeff * DE(*locals_)
    return total


def normalize(expr) -> sp.Expr:
    """Rewrite every DE in ``expr`` (innermost first) in the canonical multilinear form."""
    expr = sp.sympify(expr)
    if not expr.has(DE):
        return expr
    if isinstance(expr, DE):
        return contract(*expr.args)
    return expr.func(*(normalize(a) for a in expr.args))


def _top_level_DE(expr):
    """The DE applications in ``expr`` that are not inside another DE."""
    if isinstance(expr, DE):
        return {expr}
    found = set()
    for arg in expr.args:
        found |= _top_level_DE(arg)
    return found


def lie(u, F) -> sp.Expr:
    """D_F u for per-coordinate expressions ``u`` and ``F`` (see the module docstring)."""
    u, F = sp.sympify(u), sp.sympify(F)
    if F == 0 or not _is_local(u):
        return sp.S.Zero
    atoms = sorted(_top_level_DE(u), key=sp.default_sort_key)
    dummies = [sp.Dummy() for _ in atoms]
    frozen = u.xreplace(dict(zip(atoms, dummies)))
    result = sp.diff(frozen, S.g) * contract(F) + sp.diff(frozen, S.theta) * F
    for atom, dummy in zip(atoms, dummies):
        d_atom = contract(*atom.args, F)
        for s, arg in enumerate(atom.args):
            d_arg = lie(arg, F)
            if d_arg != 0:
                d_atom += contract(*atom.args[:s], d_arg, *atom.args[s + 1:])
        result += sp.diff(frozen, dummy) * d_atom
    return result.xreplace(dict(zip(dummies, atoms)))


def signs_as_ratios(expr):
    """sign(g) → g/|g|, so that |g|·sign(g) = g, sign(g)² = 1 and quotients of |g|-expressions simplify."""
    return expr.replace(sp.sign(S.g), S.g / sp.Abs(S.g))


def factor_if_cheap(c):
    """Factor coefficients free of n (sign(g) written g/|g| first); step-dependent ones at higher
    order are too large to factor."""
    c = signs_as_ratios(c)
    return c if c.has(S.n) and sp.count_ops(c) > 400 else sp.factor(c)


def collect(expr, simplify=factor_if_cheap) -> sp.Expr:
    """Group an expression by its products of DE's, simplifying each coefficient."""
    groups = {}
    for term in sp.Add.make_args(sp.expand(normalize(expr))):
        coeff, monomial = term.as_independent(DE, as_Add=False)
        groups[monomial] = groups.get(monomial, 0) + coeff
    return sp.Add(*(simplify(c) * mono for mono, c in groups.items()))


def concretize(expr, loss, variables, j: int) -> sp.Expr:
    """Evaluate a per-coordinate expression at coordinate ``j`` for a concrete loss."""
    expr = sp.sympify(expr)
    grads = [sp.diff(loss, x) for x in variables]

    def at(e, i):
        atoms = sorted(_top_level_DE(e), key=sp.default_sort_key)
        values = {}
        for atom in atoms:
            total = sp.S.Zero
            for idx in itertools.product(range(len(variables)), repeat=len(atom.args)):
                deriv = sp.diff(grads[i], *(variables[k] for k in idx))
                total += deriv * sp.Mul(*(at(a, k) for a, k in zip(atom.args, idx)))
            values[atom] = total
        return e.xreplace(values).xreplace({S.g: grads[i], S.theta: variables[i]})

    return at(expr, j)


class AbstractCalculus:
    """The calculus of one generic coordinate: fields are 1-tuples of expressions."""

    dimension = None

    def local(self, expr):
        return (sp.sympify(expr),)

    def lie(self, u, F):
        return (normalize(lie(u[0], F[0])),)

    def tidy(self, field):
        return (collect(field[0]),)
