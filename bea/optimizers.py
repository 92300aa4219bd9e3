"""The built-in optimizers, each a short specification (see :mod:`bea.spec`) with its examples.

Hyperparameter names follow Cattaneo, Klusowski & Shigida (2024): ``beta`` is the
first-moment (momentum) decay β₁, ``rho`` the second-moment decay β₂, ``eps`` the
ε of the denominator.  Options (like ``bias_correction``) are keyword arguments
of the builders.  Each builder is registered (:mod:`bea.registry`) with the
hyperparameter values on which the tests, ``verify/run_all.py`` and the benchmarks
check its order.
"""
from __future__ import annotations

import sympy as sp

from . import symbols as S
from .registry import REGISTRY, Example, build, get, option_names, registered  # noqa: F401 (the public lookups)
from .spec import Hyper, OptimizerSpec, State

BETA = Hyper("beta", S.beta, "unit", "first-moment (momentum) decay β₁")
RHO = Hyper("rho", S.rho, "unit", "second-moment decay β₂")
EPS = Hyper("eps", S.eps, "nonnegative", "ε of the denominator")
LAM = Hyper("lam", sp.Symbol("lambda", nonnegative=True), "nonnegative", "decoupled weight decay λ")


def _correction(decay, on: bool):
    """Bias-correction divisor 1 − a^{n+1} (exponent n+1: the first step is n = 0)."""
    return 1 - decay ** (S.n + 1) if on else sp.S.One


@registered(Example(orders=(0, 1, 2), slow_orders=(3,), abstract_order=2))
def gd() -> OptimizerSpec:
    """Gradient descent: θ ← θ − h ∇E(θ)."""
    return OptimizerSpec("gd", "gradient descent", step=S.g)


@registered(Example(dict(beta=0.5), abstract_order=2),
            Example(dict(beta=0.5, bias_correction=True), slow_orders=(3,), label="bc"))
def heavy_ball(bias_correction: bool = False) -> OptimizerSpec:
    """Heavy-ball momentum, EMA form: m ← βm + (1−β)∇E, θ ← θ − h m̂."""
    return OptimizerSpec(
        "heavy_ball", "heavy-ball momentum (EMA form)",
        step=S.m / _correction(S.beta, bias_correction),
        states=(State(S.m, S.beta, S.g, 1 - S.beta),),
        hyperparameters=(BETA,),
        options={"bias_correction": bias_correction},
    )


@registered(Example(dict(beta=0.4), abstract_order=2))
def heavy_ball_polyak() -> OptimizerSpec:
    """Heavy-ball momentum, Polyak form: m ← βm + ∇E, θ ← θ − h m."""
    return OptimizerSpec(
        "heavy_ball_polyak", "heavy-ball momentum (Polyak form)",
        step=S.m,
        states=(State(S.m, S.beta, S.g),),
        hyperparameters=(BETA,),
    )


@registered(Example(dict(rho=0.6, eps=0.1), orders=(0, 1), slow_orders=(2,)),  # F₀ depends on n: capped at 2
            Example(dict(rho=0.6, eps=0.1, bias_correction=True), label="bc"))
def rmsprop(bias_correction: bool = False) -> OptimizerSpec:
    """RMSProp: v ← ρv + (1−ρ)g², θ ← θ − h g / √(v̂ + ε)."""
    return OptimizerSpec(
        "rmsprop", "RMSProp (ε inside the square root)",
        step=S.g / sp.sqrt(S.v / _correction(S.rho, bias_correction) + S.eps),
        states=(State(S.v, S.rho, S.g**2, 1 - S.rho),),
        hyperparameters=(RHO, EPS),
        options={"bias_correction": bias_correction},
    )


@registered(Example(dict(beta=0.5, rho=0.6, eps=0.1), abstract_order=2),
            Example(dict(beta=0.5, rho=0.6, eps=0.1, bias_correction=False), orders=(0, 1), slow_orders=(2,),
                    label="no_bc"))
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


@registered(Example(dict(beta=0.5, rho=0.6, eps=0.1), loss="shifted_quadratic"))  # gradients away from 0
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


@registered(Example(dict(beta=0.5, rho=0.6, eps=0.1, lam=0.3)))
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


@registered(Example(dict(beta=0.4)))
def nesterov() -> OptimizerSpec:
    """Nesterov momentum, PyTorch form: m ← βm + ∇E, θ ← θ − h(∇E + βm)."""
    return OptimizerSpec(
        "nesterov", "Nesterov momentum (PyTorch form)",
        step=S.g + S.beta * S.m,
        states=(State(S.m, S.beta, S.g),),
        hyperparameters=(BETA,),
    )


@registered(Example(dict(beta=0.5, rho=0.6, eps=0.1, lam=0.3)))
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


@registered(Example(dict(eps=0.1), orders=(0,)))  # order 0 only: checked over a fixed number of steps
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


@registered(Example(dict(beta=0.5, eps=0.2)), Example(dict(beta=0, eps=0.2), label="sgd"))
def signum() -> OptimizerSpec:
    """Signum with the smooth sign: m ← βm + (1−β)g, θ ← θ − h m/√(m² + ε) (β = 0: signSGD)."""
    return OptimizerSpec(
        "signum", "Signum (momentum sign descent, smooth sign; beta = 0 is signSGD)",
        step=soft_sign(S.m),
        states=(State(S.m, S.beta, S.g, 1 - S.beta),),
        hyperparameters=(BETA, SMOOTH_EPS),
    )


@registered(Example(dict(beta=0.3, rho=0.6, eps=0.2, lam=0.2)))
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
