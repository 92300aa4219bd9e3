"""Integrate a modified ODE on the step grid and measure its distance to the iterates.

Step-dependent fields are integrated interval by interval, [nh, (n+1)h] with the
field of step n; others in one sweep.  DOP853 with tight tolerances keeps the
integration error far below the modified-equation error being measured.  The work is
bounded: a field that is not smooth (a kink of the loss) can make the integrator shrink
its steps without end, and more than :data:`EVALUATIONS_PER_STEP` field evaluations per
step of the grid end the integration with an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.integrate import solve_ivp

from .errors import BeaError
from .iterate import check_start, check_steps

RTOL, ATOL = 1e-12, 1e-14
EVALUATIONS_PER_STEP = 5_000  # smooth fields need about 100 (12 per DOP853 substep, ≥ 8 substeps when refined)


class _Stalled(Exception):
    pass


class _Budget:
    """Counts field evaluations; raises :class:`_Stalled` past ``total``."""

    def __init__(self, total: int):
        self.left, self.t = total, 0.0

    def __call__(self, f):
        def counted(t, y):
            self.left, self.t = self.left - 1, t
            if self.left < 0:
                raise _Stalled
            return f(t, y)
        return counted


def integrate(ode, theta0, steps: int, rtol: float = RTOL, atol: float = ATOL, max_step: float = np.inf,
              start: int = 0) -> np.ndarray:
    """θ̃ at t = start·h, …, (start + steps)·h of a concrete modified ODE from θ̃(start·h) = ``theta0``:
    shape (steps+1, d) (d counts the slow states' variables too when the flow has them)."""
    if getattr(ode, "variables", None) is None:
        raise BeaError("an abstract modified ODE cannot be integrated; call .concretize(loss, variables) first")
    if not getattr(ode.h, "is_number", False):
        raise BeaError("integration needs a number for h; pass h= when deriving the modified ODE")
    steps, h = check_steps(steps, ode.h)
    y = check_start(theta0, len(getattr(ode, "flow_variables", ode.variables)))
    grid = h * np.arange(start, start + steps + 1)
    budget = _Budget(EVALUATIONS_PER_STEP * max(steps, 1))
    out = np.empty((steps + 1, y.size))
    out[0] = y
    try:
        if steps and not ode.step_dependent:
            sol = solve_ivp(budget(ode.rhs), (grid[0], grid[-1]), y, method="DOP853", t_eval=grid, rtol=rtol,
                            atol=atol, max_step=max_step)
            _check(sol, grid[0])
            return sol.y.T
        for k in range(steps):
            sol = solve_ivp(budget(ode.rhs_at_step(start + k)), (grid[k], grid[k + 1]), y, method="DOP853",
                            rtol=rtol, atol=atol, max_step=max_step)
            _check(sol, grid[k])
            y = sol.y[:, -1]
            out[k + 1] = y
    except _Stalled:
        raise BeaError(f"integration of the modified ODE stalled at t = {budget.t:.6g}: more than "
                       f"{EVALUATIONS_PER_STEP:,} field evaluations per step (is the field smooth there? a kink "
                       "of the loss stalls the integrator)") from None
    return out


def _check(sol, t0):
    if not sol.success or not np.all(np.isfinite(sol.y)):
        raise BeaError(f"integration of the modified ODE failed after t = {t0:g}: {sol.message}")


def global_error(iterates, flow) -> float:
    """max_n ‖θ_n − θ̃(nh)‖₂."""
    return float(np.max(np.linalg.norm(np.asarray(iterates) - np.asarray(flow), axis=1)))


def fitted_slope(hs, errors) -> float:
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def step_sizes(h_max: float, levels: int, ratio: float = 2.0) -> list[float]:
    """The geometric sequence h_max, h_max/ratio, …, ``levels`` step sizes.

    Examples
    --------
    >>> step_sizes(0.01, 3)
    [0.01, 0.005, 0.0025]
    """
    return [h_max / ratio**k for k in range(levels)]


@dataclass(frozen=True)
class ErrorSlope:
    """Errors e(h) at decreasing step sizes and the fitted slope q of log e against log h (e = O(h^q))."""

    hs: tuple
    errors: tuple

    @property
    def slope(self) -> float:
        return fitted_slope(self.hs, self.errors)

    def last(self, k: int) -> "ErrorSlope":
        """The ``k`` smallest step sizes only (the asymptotic end of the sequence)."""
        return ErrorSlope(self.hs[-k:], self.errors[-k:])

    def halved(self, error: Callable[[float], float]) -> "ErrorSlope":
        """One more point, at half the smallest step size."""
        h = self.hs[-1] / 2
        return ErrorSlope(self.hs + (h,), self.errors + (float(error(h)),))

    def __str__(self) -> str:
        return (", ".join(f"e({h:g}) = {e:.2e}" for h, e in zip(self.hs, self.errors))
                + f"; slope {self.slope:.2f}")


def error_slope(error: Callable[[float], float], hs) -> ErrorSlope:
    """``error(h)`` over the step sizes ``hs`` (e.g. :func:`step_sizes`) and the fitted slope.

    Examples
    --------
    >>> sweep = error_slope(lambda h: 3 * h**2 + h**4, step_sizes(0.1, 4))
    >>> round(sweep.slope, 2), round(sweep.last(2).slope, 3)
    (2.0, 2.0)
    """
    return ErrorSlope(tuple(float(h) for h in hs), tuple(float(error(h)) for h in hs))
