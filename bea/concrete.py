"""Concrete calculus: a given loss E(x₁,…,x_d) in named variables, any dimension."""
from __future__ import annotations

import math
import warnings
from numbers import Real

import sympy as sp

from . import symbols as S
from .errors import BeaError, NonSmoothWarning
from .expr import JUMPS, check_expression, nonsmooth, read
from .numeric import gradient_function  # noqa: F401 (moved to bea.numeric; importable here as before)
from .spec import exact


#: Names of bea's own symbols: a loss variable named like one would be confused with it.
RESERVED = frozenset({"g", "theta", "n", "h", "t", "m", "v", "s", "beta", "rho", "eps", "epsilon", "lam", "lambda"})


def check_loss(loss, variables, spec=None):
    """Validate a loss and its variables; return them as (Expr, tuple of Symbols).

    The variables are distinct SymPy symbols whose names are not bea's own (:data:`RESERVED`,
    and the state and hyperparameter names of ``spec`` when given).  The loss is a SymPy
    expression, a number, or text read by :func:`bea.expr.read` in the variables' names; it
    must be finite, real, built from known functions, in the variables only, and without
    jumps (sign, Heaviside, floor, ceiling: the gradient is zero or undefined there).
    Kinks (Abs, Max, Min) are allowed: see :func:`warn_if_not_smooth`.
    """
    try:
        variables = tuple(variables)
    except TypeError:
        raise BeaError("variables must be a list of SymPy symbols, e.g. sympy.symbols('x y')") from None
    if not variables or not all(isinstance(x, sp.Symbol) for x in variables):
        raise BeaError(f"variables must be a non-empty list of SymPy symbols, got {variables!r}"[:300])
    names = [x.name for x in variables]
    if len(set(names)) != len(names):
        raise BeaError(f"variables must be distinct (by name), got {variables!r}"[:300])
    reserved = RESERVED | (_spec_names(spec) if spec is not None else set())
    clash = sorted(set(names) & reserved)
    if clash:
        raise BeaError(f"variable names {clash} are reserved by bea (step index n, step size h, gradient g, "
                       "states and hyperparameters); rename them")
    if isinstance(loss, str):
        loss = read(loss, dict(zip(names, variables)), "the loss")
    elif isinstance(loss, Real) and not isinstance(loss, bool):
        loss = exact(loss) if math.isfinite(loss) else sp.nan
    if isinstance(loss, sp.MatrixBase):
        raise BeaError(f"the loss must be a scalar SymPy expression, got a {loss.shape} matrix")
    if not isinstance(loss, sp.Basic):
        raise BeaError(f"the loss must be a SymPy expression (or text), got {type(loss).__name__}")
    check_expression(loss, "the loss")
    stray = loss.free_symbols - set(variables)
    if stray:
        raise BeaError(
            f"the loss uses {sorted(map(str, stray))}, which are not among the variables "
            f"{[str(x) for x in variables]}; substitute numbers or add them to the variables"
        )
    unreal = [str(v) for v in variables if v.is_real is not True]
    if unreal and loss.has(sp.Abs):
        raise BeaError(f"the loss uses Abs of variables not declared real ({unreal}): SymPy would differentiate |·| "
                       "as a complex function; declare them with sympy.symbols(..., real=True)")
    jumps = nonsmooth(loss, JUMPS)
    if jumps:
        raise BeaError(f"the loss jumps where {'; '.join(jumps)}: its gradient is zero or undefined there, so "
                       "neither a gradient method nor a modified equation describes it; use a smooth surrogate "
                       "(e.g. x/sqrt(x**2 + eps) for sign(x))")
    return loss, variables


def warn_if_not_smooth(loss) -> list[str]:
    """Warn (:class:`bea.errors.NonSmoothWarning`) where a loss with kinks (Abs, Max, Min) is not
    differentiable: the expansion in h holds only on regions the iterates do not leave across
    those sets.  Returns the sets (empty for a smooth loss)."""
    kinks = nonsmooth(loss)
    if kinks:
        warnings.warn(f"the loss is not smooth where {'; '.join(kinks)}: the modified equation holds only "
                      "away from there (iterates that reach or cross that set are not described)",
                      NonSmoothWarning, stacklevel=3)
    return kinks


def _spec_names(spec) -> set:
    names = {str(st.symbol) for st in spec.states}
    return names | {hp.name for hp in spec.hyperparameters} | {str(hp.symbol) for hp in spec.hyperparameters}


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
