"""Concrete calculus: a given loss E(x₁,…,x_d) in named variables, any dimension."""
from __future__ import annotations

import itertools

import sympy as sp
import symengine as se

from . import symbols as S
from . import trees
from .errors import BeaError
from .numeric import gradient_function  # noqa: F401 (moved to bea.numeric; importable here as before)


def check_loss(loss, variables):
    """Validate a loss and its variables; return them as (Expr, tuple of Symbols)."""
    try:
        variables = tuple(variables)
    except TypeError:
        raise BeaError("variables must be a list of SymPy symbols, e.g. sympy.symbols('x y')") from None
    if not variables or not all(isinstance(x, sp.Symbol) for x in variables):
        raise BeaError(f"variables must be a non-empty list of SymPy symbols, got {variables!r}")
    if len(set(variables)) != len(variables):
        raise BeaError(f"variables must be distinct, got {variables!r}")
    try:
        loss = sp.sympify(loss, strict=True)
    except (sp.SympifyError, TypeError):
        raise BeaError(f"the loss must be a SymPy expression, got {loss!r}") from None
    if not isinstance(loss, sp.Expr) or isinstance(loss, (sp.MatrixBase, sp.MatrixExpr)):
        raise BeaError(f"the loss must be a scalar SymPy expression, got {type(loss).__name__}")
    stray = loss.free_symbols - set(variables)
    if stray:
        raise BeaError(
            f"the loss uses {sorted(map(str, stray))}, which are not among the variables "
            f"{[str(x) for x in variables]}; substitute numbers or add them to the variables"
        )
    reserved = set(variables) & {S.g, S.theta, S.n, S.h, S.m, S.v}
    if reserved:
        raise BeaError(f"variable names {sorted(map(str, reserved))} are reserved by bea; rename them")
    return loss, variables


class ConcreteCalculus:
    """Local values are d-tuples of SymEngine expressions in the variables; D_F u = (∇u)·F (+ ∂_t u).

    ``field`` replaces ∇E by a vector field v (a game's simultaneous gradient); ``masks`` maps
    per-coordinate symbols of a spec to their values on each variable (e.g. a player indicator).
    """

    offsets = True  # a gradient at θ + u with u = O(1) is a substitution here

    def __init__(self, loss, variables, field=None, masks=None):
        if field is None:
            self.loss, self.variables = check_loss(loss, variables)
            gradient = [sp.diff(self.loss, x) for x in self.variables]
        else:
            self.loss, self.variables = None, tuple(variables)
            gradient = list(field)
        self.dimension = len(self.variables)
        self.masks = dict(masks or {})
        self.x = [se.Symbol(v.name) for v in self.variables]
        self.g = [se.sympify(e) for e in gradient]
        self.t = se.Symbol(S.t.name)
        self.names = {v.name: v for v in self.variables} | {S.t.name: S.t, S.n.name: S.n}
        self.slow = {}          # slow-state symbol -> its per-coordinate variables
        self._derivatives = {}

    def _se(self, expr):
        expr = sp.sympify(expr)
        for sym in expr.free_symbols:
            self.names.setdefault(sym.name, sym)
        return trees.from_sympy(expr)

    def const(self, value):
        return (self._se(value),) * self.dimension

    def local(self, expr, placeholders=None):
        e = self._se(expr)
        out = []
        for j in range(self.dimension):
            sub = {se.Symbol(S.g.name): self.g[j], se.Symbol(S.theta.name): self.x[j]}
            sub.update({se.Symbol(k.name): vars_[j] for k, vars_ in self.slow.items()})
            sub.update({se.Symbol(k.name): se.sympify(v[j]) for k, v in self.masks.items()})
            sub.update({se.Symbol(p.name): v[j] for p, v in (placeholders or {}).items()})
            out.append(e.xreplace(sub))
        return tuple(out)

    def variable(self, symbol):
        self.slow[symbol] = tuple(se.Symbol(f"{symbol.name}_{v.name}") for v in self.variables)
        for s, v in zip(self.slow[symbol], self.variables):
            self.names[s.name] = sp.Symbol(s.name, real=True)
        return self.slow[symbol]

    def direction(self, components: dict, time: bool):
        pairs = [(x, f) for key, value in components.items() for x, f in zip(key, value) if f != 0]
        return pairs + ([(self.t, se.Integer(1))] if time else [])

    def lie(self, u, direction):
        return tuple(se.Add(*(se.diff(uj, x) * f for x, f in direction)) for uj in u)

    def _dg(self, j, idx, at):
        """∂^{idx} g_j, at θ + ``at`` (the offset's j-independent substitution) when given."""
        key = (j, idx, at)
        if key not in self._derivatives:
            if at is not None:
                d = self._dg(j, idx, None).xreplace({x: x + a for x, a in zip(self.x, at)})
            elif idx:
                d = se.diff(self._dg(j, idx[:-1], None), self.x[idx[-1]])
            else:
                d = self.g[j]
            self._derivatives[key] = d
        return self._derivatives[key]

    def contract(self, args, at=None):
        if at is not None and all(a == 0 for a in at):
            at = None
        out = []
        for j in range(self.dimension):
            total = se.Integer(0)
            for idx in itertools.product(range(self.dimension), repeat=len(args)):
                weight = se.Mul(*(a[i] for a, i in zip(args, idx)))
                if weight != 0:
                    total += self._dg(j, tuple(sorted(idx)), at) * weight
            out.append(total)
        return tuple(out)

    def coord_sum(self, u):
        return (se.Add(*u),) * self.dimension

    def simplify(self, value):
        return value

    def output(self, value, substitute=None):
        """The SymPy column of a local value, in the original variables (``substitute``: SymPy
        symbol -> expression, applied before leaving SymEngine)."""
        if substitute:
            sub = {se.Symbol(k.name): self._se(v) for k, v in substitute.items()}
            value = [e.xreplace(sub) for e in value]
        memo = {}
        return [trees.to_sympy(e, self.names, memo) for e in value]
