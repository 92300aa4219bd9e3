"""Step-size schedules η(t) of the time t = nh, for any optimizer: θ ← θ − h η(t_n) φ.

The modified equation is then non-autonomous, θ̇ = F₀(θ, t) + hF₁(θ, t) + …: the flow's Taylor
series carries ∂_t (GD: F₁ = −½(η²∇²E∇E − η′∇E)) and the memory of past steps carries their
sizes η(t − kh).  Each schedule is smooth on its horizon [0, T] (a kink, such as warmup followed
by a constant, has no modified equation across it), and runs past T are refused.

>>> from bea.optimizers import get
>>> spec = with_schedule(get("gd"), "cosine:2")
>>> spec.step, spec.options["horizon"]
(g*(cos(pi*t/2)/2 + 1/2), 2)
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from . import symbols as S
from .errors import BeaError
from .spec import exact

#: name -> (η(t) given the horizon T, what it is)
SCHEDULES = {
    "warmup": (lambda T: S.t / T, "linear warmup η = t/T on [0, T]"),
    "cosine": (lambda T: (1 + sp.cos(sp.pi * S.t / T)) / 2, "cosine decay η = (1 + cos(πt/T))/2 on [0, T]"),
    "exp_warmup": (lambda T: 1 - sp.exp(-S.t / T), "smooth warmup η = 1 − exp(−t/T) (any horizon)"),
}


def parse(text: str):
    """(name, T) from ``NAME:T``."""
    name, sep, value = str(text).partition(":")
    if name not in SCHEDULES or not sep:
        raise BeaError(f"schedule must be NAME:T with NAME one of {', '.join(SCHEDULES)}, got {text!r}")
    try:
        T = float(value)
    except ValueError:
        raise BeaError(f"schedule {text!r}: {value!r} is not a number") from None
    if not (T > 0 and T < float("inf")):
        raise BeaError(f"schedule {text!r}: the horizon T must be a positive finite number")
    return name, exact(T)


def with_schedule(spec, text: str):
    """``spec`` with its step multiplied by η(t); ``options['horizon']`` is where η stays smooth."""
    name, T = parse(text)
    eta, _ = SCHEDULES[name]
    horizon = None if name == "exp_warmup" else T
    return dataclasses.replace(spec, name=f"{spec.name}+{name}", title=f"{spec.title}, schedule {SCHEDULES[name][1]}",
                               step=eta(T) * spec.step, options={**spec.options, "schedule": text, "horizon": horizon})


def check_horizon(spec, t_end: float):
    """Refuse a run past the schedule's horizon (beyond it the literal formula is not the schedule)."""
    horizon = spec.options.get("horizon")
    if horizon is not None and t_end > float(horizon) * (1 + 1e-12):
        raise BeaError(f"{spec.name}: the run reaches t = {t_end:g}, past the schedule's horizon T = {horizon}; "
                       "shorten the run or lengthen the schedule")
