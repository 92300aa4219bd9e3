"""Potentials of concrete fields: V with F = −∇V, found by bounded means or not at all.

1. A field that is a known combination of gradients (a candidate V, e.g. the regularizers
   recognition names for each mini-batch) is checked numerically and used as it is.
2. Otherwise the Jacobian's symmetry is tested numerically at random points: an asymmetric
   Jacobian means no potential exists (the answer is "not a gradient", with the point).
3. A symmetric one is integrated coordinate by coordinate, V = ∫F₁dx₁ + ∫(F₂ − ∂₂V)dx₂ + …,
   under a time limit; the result is accepted only if ∇V matches F numerically.

Nothing here calls ``simplify``; every symbolic integration has a deadline.

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> find([-2*x*y, -x**2], [x, y]).expr
x**2*y
>>> find([-y, x], [x, y]).reason[:16]
'not a gradient: '
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .limits import TimeLimit, time_limit

POINTS = 5
TOLERANCE = 1e-8


@dataclass(frozen=True)
class Found:
    """A potential (``expr``, or None) and how it was found or why none was."""

    expr: sp.Expr | None
    reason: str


def _points(variables, seed=0):
    return np.random.default_rng(seed).uniform(-1.3, 1.3, size=(POINTS, len(variables)))


def _matches(field, V, variables) -> bool:
    """∇V = −F at random points (relative to the field's size)."""
    grad = sp.lambdify([list(variables)], [-sp.diff(V, x) for x in variables], "numpy")
    target = sp.lambdify([list(variables)], list(field), "numpy")
    for p in _points(variables, 1):
        a, b = np.asarray(grad(list(p)), float), np.asarray(target(list(p)), float)
        if not np.all(np.isfinite(a)) or np.max(np.abs(a - b)) > TOLERANCE * (1 + np.max(np.abs(b))):
            return False
    return True


def find(field, variables, candidates=(), seconds: float = 5.0) -> Found:
    """V with field = −∇V over ``variables`` (see the module docstring)."""
    field, xs = sp.Matrix(field), list(variables)
    for V in candidates:
        if V is not None and _matches(field, V, xs):
            return Found(V, "from the recognized regularizers")
    J = field.jacobian(xs)
    asym = sp.lambdify([xs], J - J.T, "numpy")
    for p in _points(xs):
        A = np.asarray(asym(list(p)), float)
        if np.max(np.abs(A)) > TOLERANCE * (1 + np.max(np.abs(np.asarray(sp.lambdify([xs], J, "numpy")(list(p)), float)))):
            where = ", ".join(f"{x} = {v:.3g}" for x, v in zip(xs, p))
            return Found(None, f"not a gradient: its Jacobian is not symmetric (at {where})")
    V = sp.S.Zero
    try:
        with time_limit(seconds):
            for i, x in enumerate(xs):
                V += sp.integrate(-(field[i] + sp.diff(V, x)), x)
    except TimeLimit as exc:
        return Found(None, f"no potential found: the field passes the symmetry test but its integral was not found ({exc})")
    if V.has(sp.Integral) or not _matches(field, V, xs):
        return Found(None, "no potential found: the field passes the symmetry test but has no closed-form integral")
    return Found(V, "by integration (checked numerically)")
