"""Concrete calculus: a given loss E(x₁,…,x_d) in named variables, any dimension."""
from __future__ import annotations

import sympy as sp

from . import symbols as S
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
    """Fields are d-tuples of expressions in the variables; D_F u = (∇u)·F."""

    def __init__(self, loss, variables):
        self.loss, self.variables = check_loss(loss, variables)
        self.dimension = len(self.variables)
        self.gradient = tuple(sp.diff(self.loss, x) for x in self.variables)

    def local(self, expr):
        expr = sp.sympify(expr)
        return tuple(expr.xreplace({S.g: gj, S.theta: xj}) for gj, xj in zip(self.gradient, self.variables))

    def lie(self, u, F):
        return tuple(sp.Add(*(sp.diff(uj, x) * Fi for x, Fi in zip(self.variables, F) if Fi != 0)) for uj in u)

    def tidy(self, field):
        return field


def potential(field, variables):
    """V with ∇V = ``field`` (a column over ``variables``), or None when the field is not a gradient.

    A field is a gradient iff its Jacobian is symmetric; V is then built coordinate by
    coordinate, V = ∫F₁dx₁ + ∫(F₂ − ∂₂V)dx₂ + …, and checked by differentiation.
    """
    F, xs = sp.Matrix(field), list(variables)
    J = F.jacobian(xs)
    if any(sp.simplify(J[i, j] - J[j, i]) != 0 for i in range(len(xs)) for j in range(i)):
        return None
    V = sp.S.Zero
    for i, x in enumerate(xs):
        V += sp.integrate(sp.simplify(F[i] - sp.diff(V, x)), x)
    if V.has(sp.Integral) or any(sp.simplify(sp.diff(V, x) - Fi) != 0 for x, Fi in zip(xs, F)):
        return None
    return sp.simplify(V)
