"""High precision: iterates and flows in mpmath arithmetic, for when float64 saturates.

At higher orders and small h the modified-equation error falls towards 1e-12
and below, where float64 round-off and the integrator's tolerance dominate and
a fitted slope would be meaningless.  Here the optimizer runs in mpmath with
``dps`` digits and the ODE is integrated on each interval [nh, (n+1)h] by
Gragg–Bulirsch–Stoer extrapolation (modified midpoint rule with n = 2, 4, 6, …
substeps, Aitken–Neville extrapolation in the squared substep), continued until
two successive extrapolations agree to 10^(5−dps); an interval on which they do not is halved.
"""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from . import symbols as S
from .errors import BeaError
from .iterate import Program, _prepared
from .optimizers import build
from .numeric import function, gradient_function
from .spec import exact


def _mpf(value):
    """A number, taken exactly (see :func:`bea.spec.exact`), as an mpf at the working precision."""
    q = sp.Rational(exact(value))
    return mpmath.mpf(int(q.p)) / int(q.q)


def iterate_mp(optimizer, loss, variables, theta0, steps: int, h, dps: int = 40, states: bool = False,
               **hyper_and_options):
    """The iterates θ₀ … θ_steps in ``dps``-digit arithmetic: a list of rows of mpf (with ``states``,
    also {state symbol: rows}, the states entering each step, as :func:`bea.iterate` gives them)."""
    from .games import as_field, check_field

    with mpmath.workdps(dps):
        loss, variables, field, players = as_field(loss, variables, None, None)
        masks = {}
        if field is None:
            spec, loss, variables = _prepared(optimizer, loss, variables, hyper_and_options)
            grad = gradient_function(loss, variables, "mpmath")
        else:
            field, variables, masks = check_field(field, variables, players, None)
            spec, values = build(optimizer, hyper_and_options, require_all=True)
            spec = spec.substitute(values)
            grad = function([list(variables)], list(field), "mpmath")
        program = Program(spec, _mpf(h), "mpmath", masks)
        theta = np.array([_mpf(t) for t in theta0], dtype=object)
        old = {sym: np.array([mpmath.mpf(0)] * len(theta), dtype=object) for sym in program.states}
        recorded, out, kept = {}, [list(theta)], [dict(old)]
        for n in range(steps):
            theta, old, recorded = program.advance(lambda n, point: np.array(grad(list(point)), dtype=object), n,
                                                   theta, old, recorded)
            out.append(list(theta))
            kept.append(dict(old))
        if not states:
            return out
        return out, {sym: [list(k[sym]) for k in kept] for sym in program.states}


def _midpoint(f, t0, y, H, substeps):
    """Modified midpoint rule for y' = f(t, y) over [t0, t0 + H] with ``substeps`` substeps (Gragg's smoothing)."""
    d = H / substeps
    z0, z1 = y, [a + d * b for a, b in zip(y, f(t0, y))]
    for k in range(1, substeps):
        z0, z1 = z1, [a + 2 * d * b for a, b in zip(z0, f(t0 + k * d, z1))]
    return [(a + b + d * c) / 2 for a, b, c in zip(z1, z0, f(t0 + H, z1))]


def _gbs_step(f, t0, y, H, tol, levels=12):
    """One extrapolated step from t0: (y(t0 + H), error estimate), or None when the table has not converged."""
    table = []
    for k in range(1, levels + 1):
        row = [_midpoint(f, t0, y, H, 2 * k)]
        for j in range(1, k):  # Aitken–Neville in (H/n)²
            ratio = (mpmath.mpf(k) / (k - j)) ** 2 - 1
            row.append([a + (a - b) / ratio for a, b in zip(row[j - 1], table[-1][j - 1])])
        if table:
            err = max(abs(a - b) for a, b in zip(row[-1], table[-1][-1]))
            if err < tol:
                return row[-1], err
        table.append(row)
    return None


HALVINGS = 8  #: an interval is split into at most 2**HALVINGS pieces


def _gbs(f, t0, y, H, tol, halvings=HALVINGS):
    """y(t0 + H) by :func:`_gbs_step`, halving the step where the table does not converge (a field whose
    nearest singularity lies about one step away, such as a running average's 1/t, needs a few halvings);
    returns (y, summed error estimate)."""
    done = _gbs_step(f, t0, y, H, tol)
    if done is not None:
        return done
    if halvings == 0:
        raise BeaError(f"high-precision integration did not converge on a step of {mpmath.nstr(H * 2**HALVINGS, 6)} "
                       f"near t = {mpmath.nstr(t0, 6)} even in {2**HALVINGS} pieces; use fewer digits")
    middle, first = _gbs(f, t0, y, H / 2, tol / 2, halvings - 1)
    end, second = _gbs(f, t0 + H / 2, middle, H / 2, tol / 2, halvings - 1)
    return end, first + second


def integrate_mp(ode, theta0, steps: int, dps: int = 40, start: int = 0):
    """y at t = start·h, …, (start + steps)·h in ``dps``-digit arithmetic from y = ``theta0`` (θ, and the slow
    states' variables of a joint flow); returns (rows of mpf, error estimate)."""
    with mpmath.workdps(dps):
        fn = function([list(ode.flow_variables), S.n, S.t], list(ode.field), "mpmath")
        H = _mpf(ode.h)
        tol = mpmath.mpf(10) ** (5 - dps)
        y = [_mpf(t) if not isinstance(t, mpmath.mpf) else t for t in theta0]
        out, worst = [list(y)], mpmath.mpf(0)
        for n in range(start, start + steps):
            y, err = _gbs(lambda t, z, n=n: fn(z, n, t), n * H, y, H, tol)
            worst = max(worst, err)
            out.append(list(y))
        return out, float(worst)


def global_error_mp(a, b) -> float:
    """max_n ‖a_n − b_n‖₂, computed in mpmath and returned as a float."""
    return float(max(mpmath.sqrt(sum((x - y) ** 2 for x, y in zip(ra, rb))) for ra, rb in zip(a, b)))
