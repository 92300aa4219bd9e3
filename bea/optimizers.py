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
            Example(dict(beta=0.5, bias_correction=True), slow_orders=(3,), label="bc"),
            Example(dict(beta=0.5, schedule="cosine:2"), label="cosine"))
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
                    label="no_bc"),
            Example(dict(beta=0.5, rho=0.6, eps=0.1, schedule="cosine:2"), label="cosine"))
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


# -- gradients at other points ----------------------------------------------------------------
RADIUS = Hyper("c", sp.Symbol("c", positive=True), "positive",
               "radius per step size: the perturbation radius is r = c·h (expanded jointly with h)")


@registered(Example(orders=(0, 1, 2), abstract_order=2))
def extragradient() -> OptimizerSpec:
    """Extragradient: θ ← θ − h ∇E(θ − h∇E(θ)) (an extrapolation step, then the update)."""
    return OptimizerSpec("extragradient", "extragradient", step=S.Grad(S.theta - S.h * S.g))


@registered(Example(dict(c=0.7), orders=(0, 1, 2), abstract_order=2))
def usam() -> OptimizerSpec:
    """Unnormalized SAM: θ ← θ − h ∇E(θ + r∇E(θ)), radius r = c·h."""
    return OptimizerSpec("usam", "unnormalized SAM (radius r = c·h)", step=S.Grad(S.theta + RADIUS.symbol * S.h * S.g),
                         hyperparameters=(RADIUS,))


@registered(Example(dict(c=0.7), orders=(0, 1, 2), abstract_order=2, loss="shifted_quadratic"))  # ∇E ≠ 0
def sam() -> OptimizerSpec:
    """SAM: θ ← θ − h ∇E(θ + r ∇E/‖∇E‖), radius r = c·h (away from ∇E = 0, where ∇E/‖∇E‖ jumps)."""
    norm = sp.sqrt(S.CoordSum(S.g**2))
    return OptimizerSpec("sam", "sharpness-aware minimization (radius r = c·h)",
                         step=S.Grad(S.theta + RADIUS.symbol * S.h * S.g / norm), hyperparameters=(RADIUS,))


@registered(Example(dict(beta=0.4), abstract_order=2))
def nesterov_lookahead() -> OptimizerSpec:
    """Nesterov momentum, look-ahead form (Sutskever et al.): m ← βm + ∇E(θ + β(θ − θ_prev)), θ ← θ − h m.

    θ − θ_prev = −h m_n: the gradient is taken at the look-ahead point θ − hβm_n.
    """
    return OptimizerSpec(
        "nesterov_lookahead", "Nesterov momentum (look-ahead form)",
        step=S.m,
        states=(State(S.m, S.beta, S.Grad(S.theta + S.beta * (S.theta - S.Prev(S.theta)))),),
        hyperparameters=(BETA,),
    )


# -- states fed by other states and by previous gradients -------------------------------------
@registered(Example(dict(beta=0.5, rho=0.6, eps=0.1), abstract_order=1),
            Example(dict(beta=0.5, rho=0.6, eps=0.1, bias_correction=False), orders=(0, 1), label="nobc"))
def adabelief(bias_correction: bool = True) -> OptimizerSpec:
    """AdaBelief (Zhuang et al. 2020): m ← βm + (1−β)g, s ← ρs + (1−ρ)(g − m)² + ε,
    θ ← θ − h m̂/(√ŝ + ε) (the variance of g around its own average, fed by the new m)."""
    return OptimizerSpec(
        "adabelief", "AdaBelief",
        step=(S.m / _correction(S.beta, bias_correction)) / (sp.sqrt(S.v / _correction(S.rho, bias_correction)) + S.eps),
        states=(State(S.m, S.beta, S.g, 1 - S.beta), State(S.v, S.rho, (S.g - S.m) ** 2 + S.eps / (1 - S.rho), 1 - S.rho)),
        hyperparameters=(BETA, RHO, Hyper("eps", S.eps, "positive", "ε added to s and to its root")),
        options={"bias_correction": bias_correction},
    )


BETA2 = Hyper("beta2", sp.Symbol("beta_2", nonnegative=True), "unit", "decay of the gradient-difference average")
BETA3 = Hyper("beta3", sp.Symbol("beta_3", nonnegative=True), "unit", "decay of the second moment")


@registered(Example(dict(beta=0.5, beta2=0.4, beta3=0.6, eps=0.1), orders=(0, 1), abstract_order=1,
                    loss="shifted_quadratic"))  # √s = |g| at h⁰: gradients kept away from 0
def adan() -> OptimizerSpec:
    """Adan (Xie et al. 2022), decays written as EMA weights: with d = g − g_prev,
    m ← βm + (1−β)g,  v ← β₂v + (1−β₂)d,  s ← β₃s + (1−β₃)(g + β₂d)²,  θ ← θ − h (m + β₂v)/(√s + ε).
    At n = 0, g_prev = g (d = 0)."""
    b2, b3 = BETA2.symbol, BETA3.symbol
    d = S.g - S.Prev(S.g)
    v, s = sp.Symbol("v", real=True), sp.Symbol("s", real=True)
    return OptimizerSpec(
        "adan", "Adan (adaptive Nesterov momentum, no weight decay or bias correction)",
        step=(S.m + b2 * v) / (sp.sqrt(s) + S.eps),
        states=(State(S.m, S.beta, S.g, 1 - S.beta), State(v, b2, d, 1 - b2), State(s, b3, (S.g + b2 * d) ** 2, 1 - b3)),
        hyperparameters=(BETA, BETA2, BETA3, Hyper("eps", S.eps, "positive", "ε of the denominator")),
    )


# -- global norms -------------------------------------------------------------------------------
CLIP = Hyper("clip", sp.Symbol("C", positive=True), "positive", "clipping threshold C of the global norm")


@registered(Example(dict(clip=0.8), abstract_order=2))
def clip_norm_sgd() -> OptimizerSpec:
    """SGD with smooth clipping by the global norm: θ ← θ − h g/√(1 + ‖g‖²/C²)
    (≈ g below C, ≈ C g/‖g‖ above; hard clipping min(1, C/‖g‖) has a kink and no modified equation
    across it)."""
    C = CLIP.symbol
    return OptimizerSpec("clip_norm_sgd", "SGD with smooth clipping by the global norm",
                         step=S.g / sp.sqrt(1 + S.CoordSum(S.g**2) / C**2), hyperparameters=(CLIP,))


@registered(Example(dict(eps=0.1), abstract_order=2))
def normalized_gd() -> OptimizerSpec:
    """Normalized gradient descent: θ ← θ − h g/√(‖g‖² + ε) (ε > 0 keeps it smooth at g = 0)."""
    return OptimizerSpec("normalized_gd", "normalized gradient descent",
                         step=S.g / sp.sqrt(S.CoordSum(S.g**2) + S.eps),
                         hyperparameters=(Hyper("eps", S.eps, "positive", "ε under the norm"),))


# -- running averages: states that are variables of the flow ------------------------------------
@registered(Example(dict(beta=0.6), orders=(0, 1), abstract_order=None))
def schedule_free_sgd() -> OptimizerSpec:
    """Schedule-free SGD (Defazio et al. 2024), with θ the base sequence z and x̄ its running average:
    y = (1−β)z + βx̄, z ← z − h∇E(y), x̄ ← (n/(n+1))x̄ + z/(n+1).  The average never forgets (its
    weight 1/(n+1) = h/(t+h) is O(h)), so x̄ is a variable of the modified equation next to z."""
    x = sp.Symbol("xbar", real=True)
    G = S.Grad(S.theta + S.beta * (S.Prev(x) - S.theta))
    return OptimizerSpec(
        "schedule_free_sgd", "schedule-free SGD (the averaged iterate x̄ is a variable of the flow)",
        step=G,
        states=(State(x, S.n / (S.n + 1), S.theta - S.h * G, 1 / (S.n + 1)),),
        hyperparameters=(Hyper("beta", S.beta, "unit", "interpolation between z and its average x"),),
    )


@registered(Example(orders=(0, 1), abstract_order=1))
def running_average() -> OptimizerSpec:
    """Gradient descent along the running average of all past gradients: m ← (n m + g)/(n+1), θ ← θ − h m."""
    return OptimizerSpec("running_average", "descent along the running average of the gradients",
                         step=S.m, states=(State(S.m, S.n / (S.n + 1), S.g, 1 / (S.n + 1)),))


# -- games ------------------------------------------------------------------------------------------
@registered(Example(orders=(0, 1, 2), loss="bilinear_game", abstract_order=None))
def gda_simultaneous() -> OptimizerSpec:
    """Simultaneous gradient descent–ascent on a game with field v: θ ← θ − h v(θ) (give the game as the loss)."""
    return OptimizerSpec("gda_simultaneous", "simultaneous gradient descent on a game (v in place of ∇E)", step=S.g)


@registered(Example(orders=(0, 1, 2), loss="bilinear_game", abstract_order=None))
def gda_alternating() -> OptimizerSpec:
    """Alternating gradient descent on a two-player game: the first player moves, then the second
    sees its new position: step = p·v + (1 − p)·v(θ − h p v), p the first player's indicator."""
    p = S.player
    return OptimizerSpec("gda_alternating", "alternating gradient descent on a two-player game",
                         step=p * S.g + (1 - p) * S.Grad(S.theta - S.h * p * S.g))


# -- refused, with the reason ---------------------------------------------------------------------
@registered()
def amsgrad() -> OptimizerSpec:
    """AMSGrad: v̂ ← max(v̂, v) — refused: the running maximum switches between branches (a kink)."""
    vmax = sp.Symbol("vmax", real=True)
    return OptimizerSpec(
        "amsgrad", "AMSGrad (refused: max(·,·) has a kink; where v only grows, v̂ = v and it is Adam)",
        step=S.m / sp.sqrt(vmax + S.eps),
        states=(State(S.m, S.beta, S.g, 1 - S.beta), State(S.v, S.rho, S.g**2, 1 - S.rho),
                State(vmax, 0, sp.Max(S.Prev(vmax), S.v))),
        hyperparameters=(BETA, RHO, EPS),
    )
