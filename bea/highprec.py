"""High precision: iterates and flows in mpmath arithmetic, for when float64 saturates.

At higher orders and small h the modified-equation error falls towards 1e-12
and below, where float64 round-off and the integrator's tolerance dominate and
a fitted slope would be meaningless.  Here the optimizer runs in mpmath with
``dps`` digits and the ODE is integrated on each interval [nh, (n+1)h] by
Gragg–Bulirsch–Stoer extrapolation (modified midpoint rule with n = 2, 4, 6, …
substeps, Aitken–Neville extrapolation in the squared substep), continued until
two successive extrapolations agree to 10^(5−dps).
"""
from __future__ import annotations

import mpmath
import sympy as sp

from . import symbols as S
from .errors import BeaError
from .iterate import _prepared
from .numeric import function, gradient_function
from .spec import exact


def _mpf(value):
    """A number, taken exactly (see :func:`bea.spec.exact`), as an mpf at the working precision."""
    q = sp.Rational(exact(value))
    return mpmath.mpf(int(q.p)) / int(q.q)


def iterate_mp(optimizer, loss, variables, theta0, steps: int, h, dps: int = 40, **hyper_and_options):
    """The iterates θ₀ … θ_steps in ``dps``-digit arithmetic: a list of rows of mpf."""
    with mpmath.workdps(dps):
        spec, loss, variables = _prepared(optimizer, loss, variables, hyper_and_options)
        grad = gradient_function(loss, variables, "mpmath")
        local = [S.g, S.theta, S.n]
        inputs = [function(local, st.input, "mpmath") for st in spec.states]
        coeffs = [(_mpf(st.decay), _mpf(st.scale)) for st in spec.states]
        step = function([*(st.symbol for st in spec.states), *local], spec.step, "mpmath")
        hm = _mpf(h)
        theta = [_mpf(t) for t in theta0]
        states = [[mpmath.mpf(0)] * len(theta) for _ in spec.states]
        out = [list(theta)]
        for n in range(steps):
            g = grad(theta)
            states = [[a * s + b * u(gj, tj, n) for s, gj, tj in zip(state, g, theta)]
                      for state, (a, b), u in zip(states, coeffs, inputs)]
            theta = [tj - hm * step(*(state[j] for state in states), g[j], tj, n) for j, tj in enumerate(theta)]
            out.append(list(theta))
        return out


def _midpoint(f, y, H, substeps):
    """Modified midpoint rule over a step H with ``substeps`` substeps (Gragg's smoothing)."""
    d = H / substeps
    z0, z1 = y, [a + d * b for a, b in zip(y, f(y))]
    for _ in range(substeps - 1):
        z0, z1 = z1, [a + 2 * d * b for a, b in zip(z0, f(z1))]
    return [(a + b + d * c) / 2 for a, b, c in zip(z1, z0, f(z1))]


def _gbs_step(f, y, H, tol, levels=12):
    """One extrapolated step; returns (y(H), error estimate)."""
    table = []
    for k in range(1, levels + 1):
        row = [_midpoint(f, y, H, 2 * k)]
        for j in range(1, k):  # Aitken–Neville in (H/n)²
            ratio = (mpmath.mpf(k) / (k - j)) ** 2 - 1
            row.append([a + (a - b) / ratio for a, b in zip(row[j - 1], table[-1][j - 1])])
        if table:
            err = max(abs(a - b) for a, b in zip(row[-1], table[-1][-1]))
            if err < tol:
                return row[-1], err
        table.append(row)
    raise BeaError(f"high-precision integration did not converge on a step of {H} (error {err}); use fewer digits")


def integrate_mp(ode, theta0, steps: int, dps: int = 40):
    """θ̃ at t = 0, h, …, steps·h in ``dps``-digit arithmetic; returns (rows of mpf, error estimate)."""
    with mpmath.workdps(dps):
        fn = function([list(ode.variables), S.n], list(ode.field), "mpmath")
        H = _mpf(ode.h)
        tol = mpmath.mpf(10) ** (5 - dps)
        y = [_mpf(t) for t in theta0]
        out, worst = [list(y)], mpmath.mpf(0)
        for n in range(steps):
            y, err = _gbs_step(lambda z, n=n: fn(z, n), y, H, tol)
            worst = max(worst, err)
            out.append(list(y))
        return out, float(worst)


def global_error_mp(a, b) -> float:
    """max_n ‖a_n − b_n‖₂, computed in mpmath and returned as a float."""
    return float(max(mpmath.sqrt(sum((x - y) ** 2 for x, y in zip(ra, rb))) for ra, rb in zip(a, b)))
