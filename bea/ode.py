"""The modified ODE θ̇ = F₀ + hF₁ + … + h^pF_p of an optimizer, and how to evaluate it."""
from __future__ import annotations

import dataclasses
import functools
import numbers
from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import engine
from . import symbols as S
from .abstract import AbstractCalculus, concretize
from .concrete import ConcreteCalculus, check_loss
from .errors import BeaError
from .numeric import function
from .optimizers import build
from .recognize import recognize
from .spec import OptimizerSpec, check_value


@dataclass(frozen=True)
class ModifiedODE:
    """A derived modified equation.

    ``spec`` is the optimizer with its hyperparameters as symbols and ``values``
    the numbers given for some of them (already substituted in ``terms``).

    ``terms[i]`` is F_i: a column ``sp.Matrix`` over the variables (concrete mode),
    or one per-coordinate expression valid in every dimension (abstract mode, in
    ``g`` = ∇E, ``theta`` and the contractions ``DE`` of :mod:`bea.abstract`).
    Terms depend on the step symbol ``n`` on the interval [nh, (n+1)h] when the
    optimizer is step-dependent and ``stationary`` is False.
    """

    spec: OptimizerSpec
    values: dict
    terms: list
    order: int
    h: sp.Expr
    stationary: bool
    loss: sp.Expr | None = None
    variables: tuple | None = None

    @property
    def abstract(self) -> bool:
        return self.loss is None

    @property
    def field(self):
        """F₀ + hF₁ + … + h^pF_p."""
        return sum((self.h**i * F for i, F in enumerate(self.terms[1:], start=1)), self.terms[0])

    @property
    def step_dependent(self) -> bool:
        return any(sp.sympify(F).has(S.n) for F in self.terms)

    @property
    def accumulates(self) -> bool:
        """Whether a state never forgets (decay 1, as AdaGrad's): no fixed-horizon order then."""
        return self.spec.never_forgets(self.values)

    @property
    def global_order(self) -> int | None:
        """The order q of the global error O(h^q) against iterates started at zero state.

        Finite n: the past of step n is written with the current interval's field.
        If F_j is the first term that depends on n, that costs an error in F_{j+1}
        that decays geometrically in n and sums to O(h^{j+2}) over the transient,
        so q = min(p + 1, j + 2) (q = p + 1 when no term depends on n).
        Stationary results (n → ∞) describe the iterates after the transient (to
        O(h^{p+1}) from there on): against a zero start q is None, unless the
        optimizer has no memory and no step dependence (then q = p + 1).
        An accumulator that never forgets (AdaGrad) has no fixed-horizon order: None.
        """
        if self.accumulates:
            return None
        if self.stationary:
            memoryless = not self.spec.states and not sp.sympify(self.spec.step).has(S.n)
            return self.order + 1 if memoryless else None
        varying = [j for j, F in enumerate(self.terms) if sp.sympify(F).has(S.n)]
        return self.order + 1 if not varying else min(self.order + 1, varying[0] + 2)

    @functools.cached_property
    def recognized(self):
        """Recognized corrections (see :mod:`bea.recognize`), from the symbolic abstract terms.

        When the structure only appears for the given values (e.g. λ = 0 removes the
        weight decay from F₀), the terms with those values substituted are read instead.
        """
        terms = derive_abstract(self.spec, self.order, self.stationary)
        found = recognize(terms)
        if found or not self.values:
            return [r.substitute(self.values) for r in found]
        return recognize([F.xreplace(self.values) for F in terms])

    def pretty(self) -> str:
        """Readable text: the terms, the recognized regularizers and regimes (as ``bea derive`` prints)."""
        from .display import pretty

        return pretty(self)

    def latex(self) -> str:
        """The terms as a LaTeX ``align*`` block."""
        from .display import latex

        return latex(self)

    def to_json(self) -> str:
        """Machine-readable terms and recognition (as ``bea derive --format json`` prints)."""
        from .display import to_json

        return to_json(self)

    def concretize(self, loss, variables) -> "ModifiedODE":
        """Evaluate an abstract result for a concrete loss (any dimension)."""
        if not self.abstract:
            raise BeaError("this modified ODE is already concrete")
        loss, variables = check_loss(loss, variables)
        terms = [sp.Matrix([concretize(F, loss, variables, j) for j in range(len(variables))]) for F in self.terms]
        return ModifiedODE(self.spec, self.values, terms, self.order, self.h, self.stationary, loss, variables)

    # -- numerics -------------------------------------------------------
    def _function(self, backend: str):
        """(θ, n) ↦ the field, as generated code (every parameter, h included, must be a number)."""
        if self.abstract:
            raise BeaError("an abstract result has no numeric field; call .concretize(loss, variables) first")
        return function([list(self.variables), S.n], list(self.field), backend, hint="; pass them to modified_ode")

    @functools.cached_property
    def _numpy(self):
        return self._function("numpy")

    def numpy_field(self, theta, n: int = 0) -> np.ndarray:
        """The field at θ on the interval of step n (n is ignored when stationary)."""
        return np.asarray(self._numpy(list(np.asarray(theta, dtype=float)), n), dtype=float)

    def rhs(self, t, theta) -> np.ndarray:
        """Field at time t, with n = floor(t/h): ready for ``scipy.integrate.solve_ivp``."""
        self._numpy  # checks that every parameter, h included, is a number
        return self.numpy_field(theta, step_index(t, self.h))

    def at_step(self, step: int) -> "ModifiedODE":
        """The field of one interval [nh, (n+1)h], n = ``step``, as its own result."""
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise BeaError(f"step must be a non-negative integer, got {step!r}")
        values = {**self.values, S.n: sp.Integer(step)}
        terms = [F.xreplace({S.n: step}) for F in self.terms]
        return dataclasses.replace(self, values=values, terms=terms)

    def rhs_at_step(self, n: int):
        """``f(t, θ)`` on the interval [nh, (n+1)h] (for piecewise integration)."""
        return lambda t, theta: self.numpy_field(theta, n)

    def torch_field(self):
        """A torch function ``f(theta, n)`` of a 1-D tensor θ (needs the ``torch`` extra)."""
        fn = self._function("torch")  # checks that torch is there
        import torch

        def field(theta, n: int = 0):
            out = fn(list(theta), torch.as_tensor(n, dtype=theta.dtype, device=theta.device))
            return torch.stack([o if torch.is_tensor(o) else torch.as_tensor(o, dtype=theta.dtype) for o in out])

        return field


def step_index(t: float, h) -> int:
    """n = floor(t/h), robust to round-off at the interval ends."""
    return int(np.floor(float(t) / float(h) + 1e-9))


@functools.lru_cache(maxsize=64)
def derive_abstract(spec: OptimizerSpec, order: int, stationary: bool):
    fields = engine.derive(spec, AbstractCalculus(), order, stationary)
    return [F[0] for F in fields]


@functools.lru_cache(maxsize=64)
def derive_concrete(spec: OptimizerSpec, loss, variables: tuple, order: int, stationary: bool):
    fields = engine.derive(spec, ConcreteCalculus(loss, variables), order, stationary)
    return [sp.Matrix(F) for F in fields]


def check_order(order) -> int:
    """A non-negative integer order, or a BeaError."""
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        raise BeaError(f"order must be a non-negative integer, got {order!r}")
    if order < 0:
        raise BeaError(f"order must be >= 0, got {order}")
    return int(order)


def modified_ode(optimizer, loss=None, variables=None, order: int = 1, h=None, stationary: bool = False,
                 **hyper_and_options) -> ModifiedODE:
    """Derive the modified ODE of ``optimizer`` to the given order in h.

    Parameters
    ----------
    optimizer : str or OptimizerSpec
        A name from ``bea.optimizers.REGISTRY`` (``"gd"``, ``"adam"``, …) or a spec.
    loss, variables : SymPy expression and its symbols, optional
        Concrete mode.  Without them the result is abstract (every dimension).
    order : int
        p in θ̇ = F₀ + … + h^pF_p.
    h : number, optional
        Step size; a symbol when omitted.
    stationary : bool
        Take n → ∞ (memory sums to infinity, bias corrections gone).
    **hyper_and_options
        Hyperparameters (``beta``, ``rho``, ``eps``; symbols when omitted) and
        options (``bias_correction``).

    Examples
    --------
    >>> import sympy as sp, bea
    >>> x, y = sp.symbols("x y")
    >>> ode = bea.modified_ode("gd", (x**2 + 3*y**2)/2, [x, y], order=1)
    >>> ode.terms[1].T
    Matrix([[-x/2, -9*y/2]])
    """
    order = check_order(order)
    spec, values = build(optimizer, hyper_and_options)
    h_value = S.h if h is None else check_value("h", h, "positive")
    if loss is None:
        if variables is not None:
            raise BeaError("variables were given without a loss")
        terms = [F.xreplace(values) for F in derive_abstract(spec, order, stationary)]
        return ModifiedODE(spec, values, terms, order, h_value, stationary)
    if variables is None:
        raise BeaError("a concrete loss needs its variables, e.g. modified_ode('gd', E, [x, y])")
    loss, variables = check_loss(loss, variables)
    terms = [F.xreplace(values) for F in derive_concrete(spec, loss, variables, order, stationary)]
    return ModifiedODE(spec, values, terms, order, h_value, stationary, loss, variables)
