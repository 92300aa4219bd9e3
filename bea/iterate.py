"""Discrete iterates of an optimizer spec: the ground truth the modified ODE must match.

This runs the recursions of :mod:`bea.spec` literally (no expansion):
s ← a s + b u(g, θ) for each state, then θ ← θ − h φ(s, g, θ, n), in float64.
"""
from __future__ import annotations

import numbers

import numpy as np
import sympy as sp

from . import symbols as S
from .concrete import check_loss
from .errors import BeaError
from .numeric import function, gradient_function
from .optimizers import build
from .schedules import check_horizon
from .spec import check_value


def _prepared(optimizer, loss, variables, hyper_and_options):
    """(spec with every hyperparameter a number, loss, variables), all checked."""
    spec, values = build(optimizer, hyper_and_options, require_all=True)
    loss, variables = check_loss(loss, variables, spec)
    return spec.substitute(values), loss, variables


def iterate(optimizer, loss, variables, theta0, steps: int, h, field=None, players=None, states: bool = False,
            **hyper_and_options):
    """θ₀, θ₁, …, θ_steps of the optimizer on ``loss``: an array of shape (steps+1, d).

    Every hyperparameter needs a number here.  ``field`` (with ``loss=None``) runs the optimizer
    on a vector field in place of ∇E, ``players`` as in :func:`bea.modified_ode`.  With
    ``states=True`` the result is (iterates, {state symbol: array (steps+1, d)}), the states
    after each step (zero at step 0).

    Examples
    --------
    >>> import sympy as sp, bea
    >>> x = sp.Symbol("x")
    >>> bea.iterate("gd", x**2 / 2, [x], [1.0], steps=2, h=0.5)[:, 0]
    array([1.  , 0.5 , 0.25])
    """
    from .games import as_field

    steps, h = check_steps(steps, h)
    loss, variables, field, players = as_field(loss, variables, field, players)
    masks = {}
    if field is None:
        spec, loss, variables = _prepared(optimizer, loss, variables, hyper_and_options)
        grad = gradient_function(loss, variables)
    else:
        from .games import check_field

        field, variables, masks = check_field(field, variables, players, loss)
        spec, values = build(optimizer, hyper_and_options, require_all=True)
        spec = spec.substitute(values)
        grad = function([list(variables)], list(field))
    theta = check_start(theta0, len(variables))
    check_horizon(spec, steps * h)
    out = run(spec, lambda n, point: grad(point), theta, steps, h, masks=masks, keep_states=states)
    if not states:
        return out
    iterates, kept = out
    return iterates, {sym: np.array([k[sym] for k in kept]) for sym in kept[0]}


def check_steps(steps, h) -> tuple[int, float]:
    """A non-negative integer number of steps and a positive step size."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise BeaError(f"steps must be a non-negative integer, got {steps!r}")
    return int(steps), float(check_value("h", h, "positive"))


def check_start(theta0, d: int) -> np.ndarray:
    """θ₀ as a finite float vector with one entry per variable."""
    try:
        theta = np.array(theta0, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise BeaError(f"theta0 must be a list of {d} numbers, got {theta0!r}"[:200]) from None
    if theta.shape != (d,):
        raise BeaError(f"theta0 must have {d} entries (one per variable), got {np.shape(theta0)}")
    if not np.all(np.isfinite(theta)):
        raise BeaError(f"theta0 must be finite, got {theta0!r}")
    return theta


class _Arrays:
    """The few array operations a step needs, on NumPy arrays (float64, or object arrays of mpf)."""

    @staticmethod
    def full(value, like):
        """``value`` (a number or an array) as an array shaped like ``like``."""
        return np.broadcast_to(value, like.shape) if np.ndim(value) else np.full(like.shape, value, dtype=like.dtype)

    @staticmethod
    def total(value, like):
        """Σ_j value_j in every coordinate."""
        return np.broadcast_to(np.sum(value), like.shape)

    @staticmethod
    def scalar(value):
        """A step-dependent number (n, t) as the generated code takes it."""
        return value

    @staticmethod
    def decayed(a, old, b, u):
        """a·old + b·u, the update of a state."""
        return a * old + b * u


class _Tensors:
    """The same operations on torch tensors; n and t as float64 scalars (bias corrections in double)."""

    def __init__(self):
        import torch
        self.torch = torch

    def full(self, value, like):
        if not self.torch.is_tensor(value):
            return self.torch.full_like(like, float(value))
        value = value.to(device=like.device, dtype=like.dtype)  # n-only values are float64 scalars on the CPU
        return value.expand_as(like) if value.shape != like.shape else value

    def total(self, value, like):
        return value.sum().expand_as(like)

    def scalar(self, value):
        return self.torch.tensor(float(value), dtype=self.torch.float64)

    def decayed(self, a, old, b, u):
        if isinstance(b, (int, float)):  # one pass less over memory: a·old + b·u as add(a·old, u, alpha=b)
            return self.torch.add(a * old, u, alpha=b)
        return a * old + b * u


class Program:
    """One step of a numeric spec, compiled: every quantity evaluated on demand, once per step.

    States are updated in dependency order (a state's symbol means its new value wherever it
    appears; ``prev(q)`` is q at the previous step — at n = 0, q with every state at its start
    value 0, so prev(g) = g_0 and prev(s) = 0 for a state s), ``grad(P)``
    calls the gradient at the point P, ``sum(q)`` sums over the coordinates.  Arrays are float64
    (``modules="numpy"``), object arrays of mpf (``modules="mpmath"``) or torch tensors of any
    dtype and device (``modules="torch"``).
    """

    def __init__(self, spec, h, modules="numpy", masks=None):
        self.spec, self.h, self.modules, self.masks = spec, h, modules, dict(masks or {})
        self.arrays = _Tensors() if modules == "torch" else _Arrays()
        self.constructs = {}      # placeholder symbol -> (kind, compiled argument)
        self._made = {}
        self.states = {st.symbol: st for st in spec.states}
        self.step = self._compile(spec.step)
        self.inputs = {sym: self._compile(st.input) for sym, st in self.states.items()}
        self.decays = {sym: self._compile(st.decay) for sym, st in self.states.items()}
        self.scales = {sym: self._compile(st.scale) for sym, st in self.states.items()}

    def _compile(self, expr):
        expr = sp.sympify(expr, strict=True)
        replace = {}
        for node in S.constructs_innermost_first(expr):
            arg = node.args[0].xreplace(replace)
            key = (type(node), arg)
            if key not in self._made:
                sym = sp.Symbol(f"_c{len(self._made)}")
                self._made[key] = sym
                self.constructs[sym] = (type(node), self._compile(arg))
            replace[node] = self._made[key]
        body = expr.xreplace(replace)
        names = sorted(body.free_symbols, key=str)
        fn = function(names, body, self.modules)
        if self.modules == "mpmath":
            fn = np.frompyfunc(fn, len(names), 1) if names else fn
        return names, fn

    def advance(self, gradient, n, theta, old, recorded):
        """(θ_{n+1}, states after the step, values for prev(·) at the next step)."""
        arrays = self.arrays
        env = {S.theta: theta, S.n: arrays.scalar(n), S.t: arrays.scalar(n * self.h), S.h: self.h}
        env.update({sym: arrays.full(v, theta) for sym, v in self.masks.items()})

        def value(sym):
            if sym in env:
                return env[sym]
            if sym == S.g:
                env[sym] = gradient(n, theta)
            elif sym in self.states:
                env[sym] = arrays.decayed(number(self.decays[sym]), old[sym], number(self.scales[sym]),
                                          evaluate(self.inputs[sym]))
            elif sym in self.constructs:
                kind, arg = self.constructs[sym]
                if kind is S.Prev:  # at n = 0: the argument with every state at its start value
                    env[sym] = recorded[sym] if n > 0 else evaluate(arg, {s: old[s] for s in self.states})
                elif kind is S.Grad:
                    env[sym] = gradient(n, evaluate(arg))
                else:
                    env[sym] = arrays.total(evaluate(arg), theta)
            else:
                raise BeaError(f"{self.spec.name}: {sym} has no value in a step (neither a state, hyperparameter "
                               "with a number, g, theta, n, t nor h)")
            return env[sym]

        def evaluate(compiled, bound=None):
            names, fn = compiled
            args = [bound[s] if bound and s in bound else value(s) for s in names]
            return arrays.full(fn(*args), theta)

        def number(compiled):  # a decay or scale: a plain number when constant (most are), else per coordinate
            return compiled[1]() if not compiled[0] else evaluate(compiled)

        new_theta = theta - self.h * evaluate(self.step)
        new_states = {sym: value(sym) for sym in self.states}
        prev_args = {sym: evaluate(arg) for sym, (kind, arg) in self.constructs.items() if kind is S.Prev}
        return new_theta, new_states, prev_args


def run(spec, gradient, theta, steps: int, h: float, masks=None, keep_states: bool = False):
    """The recursions of a numeric ``spec`` with g = ``gradient(n, point)`` (per-step losses allowed), float64.

    Returns the iterates, shape (steps + 1, d) (and the state values after each step when ``keep_states``).
    """
    program = Program(spec, h, "numpy", masks)
    theta = np.asarray(theta, dtype=float)
    d = theta.shape[0]

    def checked(n, point):
        return np.broadcast_to(np.asarray(gradient(n, point), dtype=float), (d,))

    with np.errstate(all="ignore"):
        old = {sym: np.zeros(d) for sym in program.states}
        recorded = {}
        out = np.empty((steps + 1, d))
        out[0] = theta
        kept = [dict(old)]
        for n in range(steps):
            theta, old, recorded = program.advance(checked, n, theta, old, recorded)
            if not np.all(np.isfinite(theta)):
                raise BeaError(f"{spec.name} diverged at step {n + 1} (non-finite iterate); reduce h")
            out[n + 1] = theta
            if keep_states:
                kept.append(dict(old))
    return (out, kept) if keep_states else out
