"""Concrete calculus: a given loss E(x₁,…,x_d) in named variables, any dimension."""
from __future__ import annotations

import itertools
import math
import warnings
from numbers import Real

import sympy as sp
import symengine as se

from . import symbols as S
from . import trees
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
    if loss.has(S.Grad, S.Prev, S.CoordSum):
        raise BeaError("grad(·), prev(·) and sum(·) belong in an optimizer's step and states, not in a loss")
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
        # a loss with kinks (|·| → sign in ∇E): derivatives drop sign′ (zero off the kinks); else plain ones
        self._diff = trees.diff if any(e.atoms(se.sign) for e in self.g) else se.diff
        self.t = se.Symbol(S.t.name)
        self.names = {v.name: v for v in self.variables} | {S.t.name: S.t, S.n.name: S.n}
        self.slow = {}          # slow-state symbol -> its per-coordinate variables
        self._derivatives = {}

    def _se(self, expr):
        return trees.from_sympy(expr, self.names)

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
        return tuple(se.Add(*(self._diff(uj, x) * f for x, f in direction)) for uj in u)

    def _dg(self, j, idx, at):
        """∂^{idx} g_j, at θ + ``at`` (the offset's j-independent substitution) when given."""
        key = (j, idx, at)
        if key not in self._derivatives:
            if at is not None:
                d = self._dg(j, idx, None).xreplace({x: x + a for x, a in zip(self.x, at)})
            elif idx:
                d = self._diff(self._dg(j, idx[:-1], None), self.x[idx[-1]])
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
