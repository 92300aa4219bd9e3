"""Convergence studies: does the order-p modified ODE track the iterates to O(h^{q})?

For a geometric sequence of step sizes, each order's ODE is integrated on the
step grid and compared with the discrete iterates (max over n ≤ T/h of
‖θ_n − θ̃(nh)‖).  Three guards keep the fitted slopes honest:

* integration error: every flow is integrated twice, once more with steps of
  at most h/8; their difference estimates the integrator's share of the error
  (never below 1e-15·scale, the float64 floor), and a point whose error is not
  100× above it is marked *saturated* and left out of the fit (float64 cannot
  resolve it).  With ``precision="auto"`` (the default) such points are
  recomputed in 40-digit arithmetic (:mod:`bea.highprec`), ``"mp"`` does every
  point that way, ``"double"`` never does and warns instead;
* validity: memory optimizers need h ≪ 1 − a for every state decay a; steps
  with h > (1 − a)/5 are reported as outside the validity range;
* the expected slope is the result's ``global_order`` (see :mod:`bea.ode`).

Results are cached per (order, h) in a JSON file written atomically, so an
interrupted study resumes where it stopped.  The cache is keyed by a hash of
everything that decides a point (the spec's content, not its name; the
hyperparameters, loss, variables, start, horizon and tolerances); a cache with
another key, or one that is not readable or not well formed, is ignored with a
warning and overwritten.

The loss must be smooth: the orders measured here are those of the expansion in h,
which a kink (Abs, Max, Min) breaks where the iterates reach it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

from .errors import BeaError, BeaWarning
from .atomic import save_figure, write_atomic
from .concrete import check_loss
from .games import Game
from .limits import check_interrupt
from .expr import nonsmooth
from .integrate import ATOL, RTOL, ErrorSlope, error_slope, global_error, integrate
from .iterate import check_start, iterate
from .minibatch import cyclic_ode, iterate_batches
from .ode import check_order, modified_ode
from .optimizers import build
from .spec import check_value

SATURATION_FACTOR = 100.0
MP_DIGITS = 40
VALIDITY = 0.2  # h / (1 − a) above this is outside the validity range


@dataclass
class Study:
    """The numbers of one convergence study (plain data: JSON-able)."""

    optimizer: str
    params: dict
    loss: str
    theta0: list
    T: float
    hs: list
    orders: list
    errors: dict = field(default_factory=dict)             # order -> [error per h]
    integration_errors: dict = field(default_factory=dict)  # order -> [estimate per h]
    expected: dict = field(default_factory=dict)           # order -> global order
    precision: dict = field(default_factory=dict)          # order -> ["double" or "mp40" per h]
    warnings: list = field(default_factory=list)

    def saturated(self, order) -> list[bool]:
        errs, integ = self.errors[str(order)], self.integration_errors[str(order)]
        return [_saturated({"error": e, "integration": i}) for e, i in zip(errs, integ)]

    def slope(self, order) -> float | None:
        """Slope over the unsaturated points (None if fewer than two)."""
        keep = [(h, e) for h, e, s in zip(self.hs, self.errors[str(order)], self.saturated(order)) if not s]
        return ErrorSlope(*zip(*keep)).slope if len(keep) >= 2 else None

    def table(self) -> str:
        lines = [f"{self.optimizer} {self.params} on {self.loss}, T = {self.T}: "
                 "max_n ‖θ_n − θ̃(nh)‖ for the order-p modified ODE"]
        lines.append("h".rjust(10) + "".join(f"order {p}".rjust(13) for p in self.orders))
        for i, h in enumerate(self.hs):
            row = f"{h:10.3g}"
            for p in self.orders:
                mark = "*" if self.saturated(p)[i] else " "
                row += f"{self.errors[str(p)][i]:12.3e}{mark}"
            lines.append(row)
        slopes = "".join(f"{(self.slope(p) or float('nan')):13.2f}" for p in self.orders)
        expected = "".join(f"{self.expected[str(p)] or float('nan'):13.0f}" for p in self.orders)
        lines += ["slope".rjust(10) + slopes, "expected".rjust(10) + expected]
        worst = max(max(v) for v in self.integration_errors.values())
        lines.append(f"integration error ≤ {worst:.1e} (DOP853 at rtol 1e-12 against steps ≤ h/8); "
                     f"* = saturated (within {SATURATION_FACTOR:.0f}× of it), left out of the slope")
        high = sorted({(p, h) for p in self.orders for h, pr in zip(self.hs, self.precision.get(str(p), []))
                       if pr != "double"})
        if high:
            lines.append(f"computed in {MP_DIGITS}-digit arithmetic (bea.highprec): "
                         + ", ".join(f"order {p} at h = {h:g}" for p, h in high))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _saturated(point) -> bool:
    return point["error"] < SATURATION_FACTOR * point["integration"]


def validity_warnings(optimizer, hs, params) -> list[str]:
    """Steps outside h ≪ 1 − a for the optimizer's state decays a."""
    spec, values = build(optimizer, params)
    out = []
    for st in spec.states:
        decay = st.decay.xreplace(values)
        if not decay.is_number or decay >= 1:
            continue
        ratio = max(hs) / (1 - float(decay))
        if ratio > VALIDITY:
            out.append(f"h = {max(hs):g} is outside the validity range h ≪ 1 − {st.decay} = {1 - float(decay):g} "
                       f"(h/(1 − {st.decay}) = {ratio:.2f} > {VALIDITY}): slopes are not meaningful there")
    return out


def trajectory_error(optimizer, loss, variables, theta0, h, order: int, T: float, burn_in: float = 0.0,
                     stationary: bool = False, **params) -> float:
    """max_n ‖θ_n − θ̃(nh)‖ over n ≤ T/h: the order-p modified flow against the iterates.

    With ``burn_in`` = t₀ > 0 the optimizer first runs t₀/h steps and the flow starts where the
    iterates are then (a check after the memory transient, with ``stationary=True``).  A list of
    losses is a set of mini-batches in cyclic order (:func:`bea.cyclic_ode`); both step counts are
    then whole cycles.  Over step sizes: ``error_slope(lambda h: trajectory_error(…, h, …), hs)``.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> error = lambda h: trajectory_error("gd", x**2 / 2 + x**4 / 4, [x], [1.0], h, 1, T=0.5)
    >>> round(error_slope(error, [0.02, 0.01, 0.005]).slope, 1)
    2.0
    """
    batched = isinstance(loss, (list, tuple))
    cycle = len(loss) if batched else 1
    burn, steps = (cycle * int(round(t / (cycle * h))) for t in (burn_in, T))
    if batched:
        ode = cyclic_ode(optimizer, loss, variables, order=order, h=h, stationary=stationary, **params)
        run = iterate_batches(optimizer, loss, variables, theta0, burn + steps, h, **params)
        return global_error(run[burn:], integrate(ode, run[burn], steps))
    ode = modified_ode(optimizer, loss, variables, order=order, h=h, stationary=stationary, **params)
    run, states = iterate(optimizer, loss, variables, theta0, burn + steps, h, states=True, **params)
    start = max(burn, ode.start_step)
    flow = integrate(ode, ode.start_value(run, states, start), burn + steps - start, start=start)
    return global_error(run[start:], flow[:, :run.shape[1]])


def _point_double(optimizer, loss, variables, theta0, h, p, T, params, iterates):
    steps = int(round(T / h))
    if h not in iterates:
        iterates[h] = iterate(optimizer, loss, variables, theta0, steps, h, states=True, **params)
    run, states = iterates[h]
    ode = modified_ode(optimizer, loss, variables, order=p, h=h, **params)
    start, d = ode.start_step, len(theta0)  # a joint flow starts where its field is regular, from the iterates
    y0 = ode.start_value(run, states, start)
    flow = integrate(ode, y0, steps - start, start=start)
    refined = integrate(ode, y0, steps - start, max_step=h / 8, start=start)
    floor = 1e-15 * max(1.0, float(np.abs(flow).max()))
    return {"error": global_error(run[start:], flow[:, :d]),
            "integration": max(global_error(flow[:, :d], refined[:, :d]), floor),
            "expected": ode.global_order, "precision": "double"}


def _point_mp(optimizer, loss, variables, theta0, h, p, T, params, dps=MP_DIGITS):
    from .highprec import global_error_mp, integrate_mp, iterate_mp

    steps = int(round(T / h))
    ode = modified_ode(optimizer, loss, variables, order=p, h=h, **params)
    run, states = iterate_mp(optimizer, loss, variables, theta0, steps, h, dps, states=True, **params)
    start, d = ode.start_step, len(theta0)
    y0 = run[start] + [v for st in ode.slow_states for v in states[st][start]]
    flow, integration = integrate_mp(ode, y0, steps - start, dps, start=start)
    error = global_error_mp(run[start:], [row[:d] for row in flow])
    return {"error": error, "integration": max(integration, 10.0 ** (5 - dps)), "expected": ode.global_order,
            "precision": f"mp{dps}"}


def study(optimizer, loss, variables, theta0, orders=(0, 1), hs=(0.02, 0.01, 0.005, 0.0025), T: float = 0.5,
          loss_name: str = "user loss", cache: str | os.PathLike | None = None, progress: bool = True,
          precision: str = "auto", **params) -> Study:
    """Run (or resume) a convergence study; see the module docstring."""
    if precision not in ("auto", "double", "mp"):
        raise BeaError(f"precision must be 'auto', 'double' or 'mp', got {precision!r}")
    hs = sorted((float(check_value("h", h, "positive")) for h in hs), reverse=True)
    if len(hs) < 2:
        raise BeaError("a slope needs at least two step sizes")
    orders = [check_order(p) for p in orders]
    if not orders:
        raise BeaError("give at least one order to check")
    T = float(check_value("T", T, "positive"))
    if any(T / h < 1 for h in hs):
        raise BeaError(f"the horizon T = {T} must cover at least one step of every h")
    spec, values = build(optimizer, params, require_all=True)
    if isinstance(loss, Game):  # a field v in place of ∇E, checked where the derivation reads it
        variables = loss.variables
    else:
        loss, variables = check_loss(loss, variables, spec)
        check_smooth(loss)
    theta0 = [float(t) for t in check_start(theta0, len(variables))]
    result = Study(optimizer if isinstance(optimizer, str) else optimizer.name, dict(params), loss_name,
                   theta0, T, hs, list(orders))
    result.warnings = validity_warnings(optimizer, hs, params)
    key = cache_key(spec, values, loss, variables, theta0, T)
    done = _read_cache(cache, key)
    jobs = [(h, p) for h in hs for p in orders]
    iterates = {}
    with _progress(len(jobs), progress, f"{result.optimizer} on {loss_name}") as bar:
        for h, p in jobs:
            check_interrupt()
            name = f"{p}:{h!r}"
            point = done.get(name)
            if point is None or (precision == "mp" and point["precision"] == "double"):
                args = (optimizer, loss, variables, theta0, h, p, T, params)
                point = _point_mp(*args) if precision == "mp" else _point_double(*args, iterates)
            if precision == "auto" and point["precision"] == "double" and _saturated(point):
                point = _point_mp(optimizer, loss, variables, theta0, h, p, T, params)
            if done.get(name) != point:
                done[name] = point
                if cache:
                    write_atomic(cache, json.dumps({"key": key, "optimizer": result.optimizer, "loss": loss_name,
                                                    "points": done}, indent=1))
            bar.update(1)
    check_interrupt()
    for p in orders:
        result.errors[str(p)] = [done[f"{p}:{h!r}"]["error"] for h in hs]
        result.integration_errors[str(p)] = [done[f"{p}:{h!r}"]["integration"] for h in hs]
        result.expected[str(p)] = done[f"{p}:{hs[0]!r}"]["expected"]
        result.precision[str(p)] = [done[f"{p}:{h!r}"]["precision"] for h in hs]
        if sum(result.saturated(p)) > len(hs) - 2:
            result.warnings.append(f"order {p}: the errors are at the integration-error floor at these step sizes "
                                   f"({'float64' if precision == 'double' else f'{MP_DIGITS} digits'}); "
                                   "use larger h, fewer orders" + (" or precision='auto'" if precision == "double" else ""))
    return result


def check_smooth(loss):
    """``loss`` if it has no kinks (Abs, Max, Min); the orders measured here are those of the expansion
    in h, which a kink breaks where the iterates reach it."""
    kinks = nonsmooth(loss)
    if kinks:
        raise BeaError(f"verify measures the orders of the expansion in h, which needs a smooth loss; this one is "
                       f"not smooth where {'; '.join(kinks)}")
    return loss


def cache_key(spec, values, loss, variables, theta0, T) -> str:
    """SHA-256 of everything that decides a point: the spec's content (step, states, hyperparameters
    with their symbols and domains, options; not its name), the hyperparameter values, the loss and
    its variables (``srepr``: assumptions included), the start, the horizon and the tolerances."""
    content = {
        "format": 2,
        "step": sp.srepr(spec.step),
        "states": [[sp.srepr(st.symbol), sp.srepr(st.decay), sp.srepr(st.input), sp.srepr(st.scale)]
                   for st in spec.states],
        "hyperparameters": [[hp.name, sp.srepr(hp.symbol), hp.domain] for hp in spec.hyperparameters],
        "options": {k: repr(v) for k, v in sorted(spec.options.items())},
        "values": sorted((sp.srepr(k), sp.srepr(v)) for k, v in values.items()),
        "loss": [sp.srepr(v) for v in loss.field] + [repr(loss.players)] if isinstance(loss, Game) else sp.srepr(loss),
        "variables": [sp.srepr(x) for x in variables],
        "theta0": [repr(float(t)) for t in theta0], "T": repr(float(T)),
        "numerics": [RTOL, ATOL, MP_DIGITS, SATURATION_FACTOR],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


_POINT_NAME = re.compile(r"\d+:[0-9.e+-]+")


def _read_cache(path, key: str) -> dict:
    """The points of the cache at ``path`` if it was made with ``key`` and is well formed; else {}
    (with a warning when a file was there)."""
    if not path or not Path(path).exists():
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return _ignore(path, f"it is not readable JSON ({type(exc).__name__})")
    if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
        return _ignore(path, "it is not a bea verification cache")
    if data.get("key") != key:
        return _ignore(path, "it was made with other settings (spec, loss, hyperparameters, start or horizon)")
    points = data["points"]
    if not all(isinstance(k, str) and _POINT_NAME.fullmatch(k) and _valid_point(v) for k, v in points.items()):
        return _ignore(path, "some of its points are not well formed")
    return points


def _valid_point(point) -> bool:
    number = lambda x: isinstance(x, float) and math.isfinite(x) and x >= 0  # noqa: E731
    return (isinstance(point, dict) and set(point) == {"error", "integration", "expected", "precision"}
            and number(point["error"]) and number(point["integration"])
            and (point["expected"] is None or type(point["expected"]) is int)
            and point["precision"] in ("double", f"mp{MP_DIGITS}"))


def _ignore(path, why: str) -> dict:
    warnings.warn(f"ignoring the cache {str(path)!r}: {why}; computing afresh (it will be overwritten)",
                  BeaWarning, stacklevel=3)
    return {}


def _progress(total, enabled, desc):
    """A progress bar on a terminal (none when stderr is a file or a pipe); it erases itself when closed,
    so a message printed after it, an error included, starts on its own line."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=None if enabled else True, desc=desc, leave=False)


def save(result: Study, out_dir) -> list[Path]:
    """study.json, study.csv and study.png (log-log errors with reference slopes) under ``out_dir``."""
    out = Path(out_dir)
    write_atomic(out / "study.json", json.dumps(asdict(result) | {
        "slopes": {str(p): result.slope(p) for p in result.orders},
        "saturated": {str(p): result.saturated(p) for p in result.orders}}, indent=2))
    rows = ["h," + ",".join(f"order_{p}" for p in result.orders)]
    rows += [f"{h!r}," + ",".join(repr(result.errors[str(p)][i]) for p in result.orders) for i, h in enumerate(result.hs)]
    write_atomic(out / "study.csv", "\n".join(rows) + "\n")
    plot(result, out / "study.png")
    return [out / "study.json", out / "study.csv", out / "study.png"]


def plot(result: Study, path):
    """Errors against h on log-log axes, one line per order, with dashed h^q reference lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    hs = np.array(result.hs)
    for p in result.orders:
        errs = np.array(result.errors[str(p)])
        line, = ax.loglog(hs, errs, "o-", label=f"order {p} (slope {result.slope(p) or float('nan'):.2f})")
        q = result.expected[str(p)]
        if q:
            ax.loglog(hs, errs[0] * (hs / hs[0]) ** q, "--", color=line.get_color(), alpha=0.5, lw=1)
        sat = np.array(result.saturated(p))
        if sat.any():
            ax.loglog(hs[sat], errs[sat], "x", color="k")
    ax.set_xlabel("step size h")
    ax.set_ylabel(r"$\max_n \|\theta_n - \tilde\theta(nh)\|$")
    params = ", ".join(f"{k}={v}" for k, v in result.params.items())
    ax.set_title(f"{result.optimizer}" + (f" ({params})" if params else "") + f" on {result.loss}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
