"""Dimension-free calculus: vector fields written for one generic coordinate.

A per-coordinate expression is built from ``g`` (= ∂_jE), ``theta`` (= θ_j),
constants, coordinate sums ``CoordSum(u)`` = Σ_j u_j and contractions of the
derivative tensors of E,

    DE(u₁, …, u_r)_j = Σ_{i₁…i_r} ∂_j ∂_{i₁} … ∂_{i_r} E · u₁(i₁) ⋯ u_r(i_r),

whose arguments are again per-coordinate expressions read at the summed index
(so DE(u) = ∇²E·u and DE(g/√(g²+ε)) = ∇‖∇E‖_{1,ε}).  The Lie derivative
D_F u = (∇u)·F along a field F of the same kind follows from

    D_F g = DE(F),   D_F θ = F,
    D_F DE(u₁…u_r) = DE(u₁…u_r, F) + Σ_s DE(u₁ … D_F u_s … u_r),

so results hold in every dimension.  The arithmetic runs on canonical trees
(:mod:`bea.trees`); results come out as plain SymPy expressions with ``DE`` and
``CoordSum`` nodes.  :func:`concretize` evaluates them for a given loss, which
the tests use to check them against the concrete route.

>>> from bea import symbols as S
>>> x = sp.Symbol("x")
>>> DE(S.g, DE(S.g)), concretize(DE(S.g), x**4 / 4, [x], 0)       # ∇²E[∇E] = 3x²·x³ for E = x⁴/4
(D3E[g, D2E[g]], 3*x**5)
"""
from __future__ import annotations

import functools
import itertools

import sympy as sp
import symengine as se

from . import rational, trees
from . import symbols as S


class DE(sp.Function):
    """Contraction DE(u₁,…,u_r)_j of ∇^{r+1}E with per-coordinate vectors (symmetric, multilinear)."""

    def _sympystr(self, printer):
        inner = ", ".join(printer.doprint(a) for a in self.args)
        return f"D{len(self.args) + 1}E[{inner}]"  # ∇^{r+1}E[...] in ASCII

    def _pretty(self, printer):
        from sympy.printing.pretty.stringpict import prettyForm

        sup = "⁰¹²³⁴⁵⁶⁷⁸⁹"[len(self.args) + 1] if len(self.args) < 9 else f"^{len(self.args) + 1}"
        inner = prettyForm(*printer._print_seq(self.args, delimiter=", ").parens("[", "]"))
        form = prettyForm(*prettyForm(f"∇{sup}E").right(inner))
        form.binding = prettyForm.ATOM  # a closed bracket: powers and products need no extra parentheses
        return form

    def _latex(self, printer, exp=None):
        inner = ", ".join(printer.doprint(a) for a in self.args)
        out = rf"\nabla^{{{len(self.args) + 1}}}E\left[{inner}\right]"
        return out if exp is None else rf"\left({out}\right)^{{{exp}}}"


def signs_as_ratios(expr):
    """sign(g) → g/|g|, so that |g|·sign(g) = g, sign(g)² = 1 and quotients of |g|-expressions simplify."""
    return expr.replace(sp.sign(S.g), S.g / sp.Abs(S.g))


def factor_if_cheap(c):
    """Factor coefficients free of n (sign(g) written g/|g| first); step-dependent ones at higher
    order are too large to factor."""
    c = signs_as_ratios(c)
    return c if c.has(S.n) and sp.count_ops(c) > 400 else rational.factor(c)


def collect(expr, simplify=factor_if_cheap) -> sp.Expr:
    """Group an expression by its products of DE's and sums, simplifying each coefficient."""
    groups = {}
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff, monomial = term.as_independent(DE, S.CoordSum, as_Add=False)
        groups[monomial] = groups.get(monomial, 0) + coeff
    return sp.Add(*(simplify(c) * mono for mono, c in groups.items()))


def concretize(expr, loss, variables, j: int, states=None) -> sp.Expr:
    """Evaluate a per-coordinate expression at coordinate ``j`` for a concrete loss (``states``: a
    per-coordinate symbol of the expression, e.g. a slow state m, -> its symbols for each variable)."""
    expr = sp.sympify(expr)
    grads = [sp.diff(loss, x) for x in variables]

    def at(e, i):
        values = {}
        for atom in _top_level(e):
            if isinstance(atom, S.CoordSum):
                values[atom] = sp.Add(*(at(atom.args[0], k) for k in range(len(variables))))
                continue
            total = sp.S.Zero
            for idx in itertools.product(range(len(variables)), repeat=len(atom.args)):
                deriv = sp.diff(grads[i], *(variables[k] for k in idx))
                total += deriv * sp.Mul(*(at(a, k) for a, k in zip(atom.args, idx)))
            values[atom] = total
        local = {S.g: grads[i], S.theta: variables[i]} | {s: v[i] for s, v in (states or {}).items()}
        return e.xreplace(values).xreplace(local)

    return at(expr, j)


def _top_level(expr):
    """The DE and CoordSum nodes in ``expr`` that are not inside another one."""
    if isinstance(expr, (DE, S.CoordSum)):
        return {expr}
    found = set()
    for arg in expr.args:
        found |= _top_level(arg)
    return found


class AbstractCalculus:
    """The calculus of one generic coordinate: local values are 1-tuples of canonical expressions."""

    dimension = None
    offsets = False  # grad(θ + u) needs u = O(h): a gradient elsewhere has no dimension-free form

    def __init__(self):
        self.names = {}  # symbol name -> the SymPy symbol it came from (for the way back)
        self._locals = set()  # generators of slow states

    def _se(self, expr):
        expr = sp.sympify(expr)
        for sym in expr.free_symbols:
            self.names.setdefault(sym.name, sym)
        return trees.from_sympy(expr)

    def const(self, value):
        return (self._se(value),)

    def local(self, expr, placeholders=None):
        out = self._se(expr)
        if placeholders:
            out = out.xreplace({se.Symbol(p.name): v[0] for p, v in placeholders.items()})
        return (out,)

    def variable(self, symbol):
        self.names[symbol.name] = symbol
        gen = trees.local_generator(symbol.name)
        self._locals.add(gen)
        return (gen,)

    def direction(self, components: dict, time: bool):
        parts = {key[0]: value[0] for key, value in components.items()}
        if time:
            parts[trees.GEN["t"]] = se.Integer(1)
        return trees.Direction(parts)

    def lie(self, u, direction):
        return (trees.lie(u[0], direction),)

    def contract(self, args, at=None):
        return (trees.contract(*(a[0] for a in args)),)

    def coord_sum(self, u):
        return (trees.coord_sum(u[0]),)

    def simplify(self, value):
        return (se.expand(value[0]),)

    def output(self, value) -> sp.Expr:
        """The SymPy form of a local value: Σ c(hyperparameters) · (per-coordinate factor) · (contractions),
        each global coefficient c factored on its own (small), nothing large simplified."""
        groups = {}
        for term in se.Add.make_args(se.expand(value[0])):
            glob, rest = [], []
            for factor in se.Mul.make_args(term):
                moves = any(s in trees.GEN.values() or trees.node(s) or s in self._locals for s in factor.free_symbols)
                (rest if moves else glob).append(factor)
            key = se.Mul(*rest)
            groups[key] = groups.get(key, 0) + se.Mul(*glob)
        terms = [_factored(self._sympy(c)) * self._sympy(mono) for mono, c in groups.items() if c != 0]
        return sp.Add(*terms)

    def _sympy(self, expr) -> sp.Expr:
        """A canonical expression back in SymPy, nodes as ``DE``/``CoordSum`` objects."""
        symbols = {**_STANDARD_NAMES, **self.names}
        symbols.update({s.name: self._node(s.name) for s in expr.free_symbols if trees.node(s)})
        return trees.to_sympy(expr, symbols)

    @functools.lru_cache(maxsize=None)
    def _node(self, name):
        kind, args = trees.node(se.Symbol(name))
        inner = [self._sympy(a) for a in args]
        return DE(*inner) if kind == "DE" else S.CoordSum(inner[0])


_STANDARD_NAMES = {s.name: s for s in (S.g, S.theta, S.t, S.n, S.h)}


@functools.lru_cache(maxsize=4096)
def _factored(c):
    """A coefficient in the hyperparameters (and n), factored; numbers as they are."""
    return c if c.is_number else factor_if_cheap(c)
