"""The built-in optimizers, each a short specification (see :mod:`bea.spec`).

Hyperparameter names follow Cattaneo, Klusowski & Shigida (2024): ``beta`` is the
first-moment (momentum) decay β₁, ``rho`` the second-moment decay β₂, ``eps`` the
ε of the denominator.  Options (like ``bias_correction``) are keyword arguments
of the builders.
"""
from __future__ import annotations

import inspect

import sympy as sp

from . import symbols as S
from .errors import BeaError
from .spec import Hyper, OptimizerSpec, State, check_derivable

BETA = Hyper("beta", S.beta, "unit", "first-moment (momentum) decay β₁")
RHO = Hyper("rho", S.rho, "unit", "second-moment decay β₂")
EPS = Hyper("eps", S.eps, "nonnegative", "ε of the denominator")
LAM = Hyper("lam", sp.Symbol("lambda", nonnegative=True), "nonnegative", "decoupled weight decay λ")


def _correction(decay, on: bool):
    """Bias-correction divisor 1 − a^{n+1} (exponent n+1: the first step is n = 0)."""
    return 1 - decay ** (S.n + 1) if on else sp.S.One


def gd() -> OptimizerSpec:
    """Gradient descent: θ ← θ − h ∇E(θ)."""
    return OptimizerSpec("gd", "gradient descent", step=S.g)


def heavy_ball(bias_correction: bool = False) -> OptimizerSpec:
    """Heavy-ball momentum, EMA form: m ← βm + (1−β)∇E, θ ← θ − h m̂."""
    return OptimizerSpec(
        "heavy_ball", "heavy-ball momentum (EMA form)",
        step=S.m / _correction(S.beta, bias_correction),
        states=(State(S.m, S.beta, S.g, 1 - S.beta),),
        hyperparameters=(BETA,),
        options={"bias_correction": bias_correction},
    )


def heavy_ball_polyak() -> OptimizerSpec:
    """Heavy-ball momentum, Polyak form: m ← βm + ∇E, θ ← θ − h m."""
    return OptimizerSpec(
        "heavy_ball_polyak", "heavy-ball momentum (Polyak form)",
        step=S.m,
        states=(State(S.m, S.beta, S.g),),
        hyperparameters=(BETA,),
    )


def rmsprop(bias_correction: bool = False) -> OptimizerSpec:
    """RMSProp: v ← ρv + (1−ρ)g², θ ← θ − h g / √(v̂ + ε)."""
    return OptimizerSpec(
        "rmsprop", "RMSProp (ε inside the square root)",
        step=S.g / sp.sqrt(S.v / _correction(S.rho, bias_correction) + S.eps),
        states=(State(S.v, S.rho, S.g**2, 1 - S.rho),),
        hyperparameters=(RHO, EPS),
        options={"bias_correction": bias_correction},
    )


def adam(bias_correction: bool = True) -> OptimizerSpec:
    """Adam, ε inside the square root: θ ← θ − h m̂ / √(v̂ + ε).

    m ← βm + (1−β)g, v ← ρv + (1−ρ)g², m̂ = m/(1−β^{n+1}), v̂ = v/(1−ρ^{n+1}).
    """
    return OptimizerSpec(
        "adam", "Adam (ε inside the square root)",
        step=(S.m / _correction(S.beta, bias_correction))
        / sp.sqrt(S.v / _correction(S.rho, bias_correction) + S.eps),
        states=(State(S.m, S.beta, S.g, 1 - S.beta), State(S.v, S.rho, S.g**2, 1 - S.rho)),
        hyperparameters=(BETA, RHO, EPS),
        options={"bias_correction": bias_correction},
    )


def nesterov() -> OptimizerSpec:
    """Nesterov momentum, PyTorch form: m ← βm + ∇E, θ ← θ − h(∇E + βm)."""
    return OptimizerSpec(
        "nesterov", "Nesterov momentum (PyTorch form)",
        step=S.g + S.beta * S.m,
        states=(State(S.m, S.beta, S.g),),
        hyperparameters=(BETA,),
    )


def adam_eps_outside(bias_correction: bool = True) -> OptimizerSpec:
    """Adam with ε outside the square root (PyTorch's convention): θ ← θ − h m̂ / (√v̂ + ε).

    Needs every gradient component away from 0 (|·| is not smooth there).
    """
    return OptimizerSpec(
        "adam_eps_outside", "Adam (ε outside the square root)",
        step=(S.m / _correction(S.beta, bias_correction))
        / (sp.sqrt(S.v / _correction(S.rho, bias_correction)) + S.eps),
        states=(State(S.m, S.beta, S.g, 1 - S.beta), State(S.v, S.rho, S.g**2, 1 - S.rho)),
        hyperparameters=(BETA, RHO, EPS),
        options={"bias_correction": bias_correction},
    )


def adamw(bias_correction: bool = True) -> OptimizerSpec:
    """AdamW, ε inside the square root: θ ← θ − h (m̂ / √(v̂ + ε) + λθ)."""
    base = adam(bias_correction)
    return OptimizerSpec(
        "adamw", "AdamW (decoupled weight decay, ε inside the square root)",
        step=base.step + LAM.symbol * S.theta,
        states=base.states,
        hyperparameters=(BETA, RHO, EPS, LAM),
        options={"bias_correction": bias_correction},
    )


def nadam(bias_correction: bool = True) -> OptimizerSpec:
    """NAdam (Dozat's form, constant μ = β) with decoupled weight decay, ε inside the root.

    m̂ = β m_{n+1}/(1−β^{n+2}) + (1−β) g/(1−β^{n+1}) (the momentum looks one step ahead),
    θ ← θ − h (m̂ / √(v̂ + ε) + λθ).
    """
    ahead = S.beta * S.m / _correction(S.beta, bias_correction).subs(S.n, S.n + 1)
    current = (1 - S.beta) * S.g / _correction(S.beta, bias_correction)
    return OptimizerSpec(
        "nadam", "NAdam (Nesterov momentum in Adam, decoupled weight decay, ε inside the square root)",
        step=(ahead + current) / sp.sqrt(S.v / _correction(S.rho, bias_correction) + S.eps) + LAM.symbol * S.theta,
        states=(State(S.m, S.beta, S.g, 1 - S.beta), State(S.v, S.rho, S.g**2, 1 - S.rho)),
        hyperparameters=(BETA, RHO, EPS, LAM),
        options={"bias_correction": bias_correction},
    )


def adagrad() -> OptimizerSpec:
    """AdaGrad: v ← v + g², θ ← θ − h g / √(v + ε) (the accumulator never forgets)."""
    return OptimizerSpec(
        "adagrad", "AdaGrad (ε inside the square root)",
        step=S.g / sp.sqrt(S.v + S.eps),
        states=(State(S.v, sp.S.One, S.g**2),),
        hyperparameters=(EPS,),
    )


def soft_sign(x):
    """∇‖x‖_{1,ε} = x / √(x² + ε): the smooth surrogate of sign(x) (ε > 0)."""
    return x / sp.sqrt(x**2 + S.eps)


SMOOTH_EPS = Hyper("eps", S.eps, "positive", "ε of the smooth sign x/√(x²+ε); sign itself has no modified equation")


def signum() -> OptimizerSpec:
    """Signum with the smooth sign: m ← βm + (1−β)g, θ ← θ − h m/√(m² + ε) (β = 0: signSGD)."""
    return OptimizerSpec(
        "signum", "Signum (momentum sign descent, smooth sign; beta = 0 is signSGD)",
        step=soft_sign(S.m),
        states=(State(S.m, S.beta, S.g, 1 - S.beta),),
        hyperparameters=(BETA, SMOOTH_EPS),
    )


def lion() -> OptimizerSpec:
    """Lion-K with K = ‖·‖_{1,ε} (Cattaneo & Shigida 2025): ρ₁ = ``beta``, ρ₂ = ``rho``.

    c = ρ₁ m_n + (1−ρ₁) g,  θ ← θ − h (∇K(c) + λθ),  m_{n+1} = ρ₂ m_n + (1−ρ₂) g.
    The step uses the momentum *before* its update, m_n = (m_{n+1} − (1−ρ₂) g)/ρ₂, so ρ₂ > 0.
    """
    previous = (S.m - (1 - S.rho) * S.g) / S.rho
    return OptimizerSpec(
        "lion", "Lion-K with K the perturbed one-norm (smooth sign)",
        step=soft_sign(S.beta * previous + (1 - S.beta) * S.g) + LAM.symbol * S.theta,
        states=(State(S.m, S.rho, S.g, 1 - S.rho),),
        hyperparameters=(Hyper("beta", S.beta, "unit", "ρ₁: weight of the momentum in the update direction"),
                         Hyper("rho", S.rho, "open_unit", "ρ₂: momentum decay"), SMOOTH_EPS, LAM),
    )


REGISTRY = {
    "gd": gd,
    "heavy_ball": heavy_ball,
    "heavy_ball_polyak": heavy_ball_polyak,
    "rmsprop": rmsprop,
    "adam": adam,
    "adam_eps_outside": adam_eps_outside,
    "adamw": adamw,
    "nesterov": nesterov,
    "nadam": nadam,
    "adagrad": adagrad,
    "signum": signum,
    "lion": lion,
}


def option_names(name: str) -> list[str]:
    """The options (builder keyword arguments) of a registered optimizer."""
    return list(inspect.signature(REGISTRY[name]).parameters)


def get(name_or_spec, **options) -> OptimizerSpec:
    """Look up a built-in optimizer by name (with options) or pass a spec through."""
    if isinstance(name_or_spec, OptimizerSpec):
        if options:
            raise BeaError(f"options {sorted(options)} only apply to built-in optimizers")
        return name_or_spec
    if not isinstance(name_or_spec, str) or name_or_spec not in REGISTRY:
        raise BeaError(f"unknown optimizer {name_or_spec!r}; known: {', '.join(REGISTRY)}")
    allowed = option_names(name_or_spec)
    unknown = set(options) - set(allowed)
    if unknown:
        raise BeaError(f"{name_or_spec}: unknown option(s) {sorted(unknown)}; options: {allowed or 'none'}")
    for key, value in options.items():
        if not isinstance(value, bool):
            raise BeaError(f"option {key} must be True or False, got {value!r}")
    return REGISTRY[name_or_spec](**options)


def build(optimizer, values: dict, require_all: bool = False):
    """(spec, {symbol: number}): options applied, hyperparameter values checked.

    Keys that are options of a built-in optimizer (e.g. ``bias_correction``) go
    to its builder; the rest are hyperparameters, checked against their domains.
    The spec keeps its symbols: derivations stay symbolic and numbers are
    substituted at the end (exact, and SymPy's factoring is unreliable on floats).
    """
    values = dict(values)
    options = {}
    if isinstance(optimizer, str) and optimizer in REGISTRY:
        options = {k: values.pop(k) for k in option_names(optimizer) if k in values}
    spec = get(optimizer, **options)
    mapping = spec.values_map(values, require_all)
    check_derivable(spec, mapping)
    return spec, mapping
