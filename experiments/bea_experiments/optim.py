"""Any optimizer bea derives, as a torch optimizer, and its derived explicit correction.

:class:`SpecOptimizer` runs an optimizer's :class:`bea.OptimizerSpec` literally, the recursions
of :func:`bea.iterate.run` on tensors: for each parameter, every state s ← a s + b u(g, θ), then
θ ← θ − h φ(s, g, θ, n), with φ and u generated from the spec (:func:`bea.numeric.function`) and
the step's n-dependent numbers (bias corrections) computed in float64, a schedule's time at
t_n = nh (and refused past its horizon).  No optimizer is written twice: Adam here is bea's
``adam`` spec.  What a per-parameter step of the current gradient cannot run is refused by name:
gradients at other points (SAM, extragradient, look-ahead), previous values (Adan), sums over all
coordinates (normalized and clipped steps), games' player masks, running averages, states fed by
other states (AdaBelief).

:class:`Correction` is the explicit correction of the derived modified equation: the iterates of
a step size h follow θ̇ = F₀ + hF₁ + h²F₂ + … (finite n, every ε-term kept), so adding
c₁·h·(hF₁(θ_n, n)) [+ c₂·h·(h²F₂)] to each step makes them follow F₀ + (1 + c₁)hF₁ [+ (1 + c₂)h²F₂]:
c = −1 cancels the implicit term, c = 1 doubles it.  F₁ and F₂ come from the abstract derivation,
evaluated on the model by :class:`bea.autodiff.AutodiffField`; nothing is typed by hand.  The
validity ratio ‖hF₁‖/‖F₀‖ says whether the expansion means anything at this step.
"""
from __future__ import annotations

import sympy as sp
import torch

import bea
from bea import symbols as S
from bea.autodiff import AutodiffField
from bea.errors import BeaError
from bea.numeric import function
from bea.optimizers import build as build_spec
from bea.schedules import check_horizon


def numeric_spec(optimizer: str, params: dict):
    """The built-in spec with every hyperparameter a number (options such as bias_correction applied)."""
    spec, values = build_spec(optimizer, dict(params), require_all=True)
    return spec.substitute(values)


class SpecOptimizer(torch.optim.Optimizer):
    """A bea optimizer spec as a torch optimizer (step size ``lr`` = h).

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = SpecOptimizer([w], "adam", lr=0.1, params=dict(beta=0.9, rho=0.999, eps=0.0))
    >>> w.grad = torch.tensor([2.0]); opt.step(); w.data       # first Adam step: −h·sign(g)
    tensor([0.9000])
    """

    def __init__(self, parameters, optimizer: str, lr: float, params: dict):
        if not lr > 0:
            raise BeaError(f"lr must be > 0, got {lr}")
        self.spec = numeric_spec(optimizer, params)
        _refuse_unsupported(self.spec)
        local = [S.g, S.theta, S.n, S.t]
        self._inputs = [function(local, st.input, "torch") for st in self.spec.states]
        self._step = function([*(st.symbol for st in self.spec.states), *local], self.spec.step, "torch")
        self._decay = [(float(st.decay), float(st.scale)) for st in self.spec.states]
        super().__init__(parameters, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    for i in range(len(self.spec.states)):
                        state[f"s{i}"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                check_horizon(self.spec, (state["step"] + 1) * group["lr"])
                n = torch.tensor(float(state["step"]), dtype=torch.float64)
                t = n * group["lr"]  # a schedule's time t_n = nh
                g, states = p.grad, []
                for i, ((a, b), u) in enumerate(zip(self._decay, self._inputs)):
                    s = state[f"s{i}"]
                    s.mul_(a).add_(_full(u(g, p, n, t), p), alpha=b)
                    states.append(s)
                p.sub_(_full(self._step(*states, g, p, n, t), p), alpha=group["lr"])
                state["step"] += 1


def _refuse_unsupported(spec):
    """A BeaError naming what a per-parameter step of the current gradient cannot run: gradients at other
    points, previous values, sums over all coordinates, a game's player mask, decays that change with n,
    states fed by other states."""
    exprs = [spec.step, *(st.input for st in spec.states)]
    for construct, why in ((S.Grad, "a gradient at another point (needs the loss, not the current gradient)"),
                           (S.Prev, "a previous value"), (S.CoordSum, "a sum over all coordinates")):
        if any((sp.S.Zero + e).atoms(construct) for e in exprs):
            raise BeaError(f"{spec.name}: SpecOptimizer does not run {construct.word}(·), {why}")
    if any((sp.S.Zero + e).has(S.player) for e in exprs):
        raise BeaError(f"{spec.name}: SpecOptimizer does not run a two-player game's player mask")
    for st in spec.states:
        if not ((sp.S.Zero + st.decay).is_number and (sp.S.Zero + st.scale).is_number):
            raise BeaError(f"{spec.name}: SpecOptimizer does not run state {st.symbol}, whose decay {st.decay} "
                           "changes with the step (a running average)")
        fed = sorted(str(o.symbol) for o in spec.states if (sp.S.Zero + st.input).has(o.symbol))
        if fed:
            raise BeaError(f"{spec.name}: SpecOptimizer does not run state {st.symbol}, whose input uses the "
                           f"state(s) {', '.join(fed)}")


def _full(value, like):
    """A value of generated code as a tensor shaped and typed like ``like``."""
    if not torch.is_tensor(value) or value.shape != like.shape:
        value = torch.as_tensor(value, device=like.device).expand_as(like)
    return value.to(like.dtype)


class Correction:
    """c₁·h²·F₁ (+ c₂·h³·F₂) at θ_n on step n, for a :class:`bea.autodiff.ModelLoss` of the model.

    ``delta(θ, n, g)`` returns (Δθ, validity ratio ‖hF₁‖/‖F₀‖); the step becomes θ_{n+1} = θ_n − hφ + Δθ.
    """

    def __init__(self, optimizer: str, params: dict, lr: float, loss, c1: float, c2: float = 0.0):
        self.c1, self.c2, self.h = float(c1), float(c2), float(lr)
        order = 2 if c2 else 1
        ode = bea.modified_ode(optimizer, order=order, h=lr, **params)
        if ode.accumulates:
            raise BeaError(f"{optimizer}: a state that never forgets has no correction beyond order 0")
        self.field = AutodiffField(ode, loss)

    def delta(self, theta, n: int, gradient=None):
        F = self.field.terms(theta, n, gradient, t=n * self.h if self.field.uses_t else None)  # a schedule: t_n = nh
        ratio = float(self.h * F[1].norm() / F[0].norm()) if F[0].norm() > 0 else float("inf")
        out = self.c1 * self.h**2 * F[1]
        if self.c2:
            out = out + self.c2 * self.h**3 * F[2]
        return out, ratio
