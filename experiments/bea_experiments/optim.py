"""Any optimizer bea derives, as a torch optimizer, and its derived explicit correction.

:class:`SpecOptimizer` runs an optimizer's :class:`bea.OptimizerSpec` literally: the step of
:func:`bea.iterate` (:class:`bea.iterate.Program`) on tensors, θ every parameter flattened into one
vector: every state s ← a s + b u(g, θ), then θ ← θ − h φ(s, g, θ, n), with the step's n-dependent
numbers (bias corrections) computed in float64, a schedule's time at t_n = nh (and refused past its
horizon), sums over all coordinates over the whole model, previous values kept in the optimizer's
state, and gradients at other points through ``step(closure)``.  No optimizer is written twice:
Adam here is bea's ``adam`` spec and SAM bea's ``sam``.  Only a game's player mask is refused.

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
from bea.iterate import Program
from bea.optimizers import build as build_spec
from bea.schedules import check_horizon


def numeric_spec(optimizer: str, params: dict):
    """The built-in spec with every hyperparameter a number (options such as bias_correction applied)."""
    spec, values = build_spec(optimizer, dict(params), require_all=True)
    return spec.substitute(values)


class SpecOptimizer(torch.optim.Optimizer):
    """A bea optimizer spec as a torch optimizer (step size ``lr`` = h).

    The step is bea's own :class:`bea.iterate.Program` (the recursions of :func:`bea.iterate`): prev(·)
    keeps the last step's values in the optimizer's state, and states may be fed by other states.  A
    step with sums over all coordinates (normalized and clipped steps, SAM's ‖∇E‖) or gradients at other
    points runs on θ = every parameter flattened into one vector, so the sums span the whole model; any
    other step is coordinatewise and runs parameter by parameter: the same arithmetic, several times
    faster on a CPU, where the temporaries of a flattened ResNet are fresh memory at every operation.  A gradient at another point, grad(θ + u) (SAM,
    extragradient, look-ahead Nesterov, schedule-free), needs ``step(closure)``: the closure recomputes
    every parameter's ``.grad`` at the parameters' current values (torch's convention); it runs with the
    parameters set to θ + u, and parameters and gradients are restored after it.  A parameter without
    a gradient counts as a zero gradient.  A game's player mask is refused.

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
        if any((sp.S.Zero + e).has(S.player) for e in [self.spec.step, *(st.input for st in self.spec.states)]):
            raise BeaError(f"{self.spec.name}: SpecOptimizer does not run a two-player game's player mask")
        self._program = Program(self.spec, float(lr), "torch")
        self._whole = any(kind in (S.Grad, S.CoordSum) for kind, _ in self._program.constructs.values())
        super().__init__(parameters, dict(lr=lr))

    def _flat(self):
        """(parameters, their common step size), all of one dtype and device."""
        params = [p for group in self.param_groups for p in group["params"]]
        lrs = {group["lr"] for group in self.param_groups}
        kinds = {(p.dtype, p.device) for p in params}
        if len(lrs) != 1 or len(kinds) != 1:
            raise BeaError("SpecOptimizer runs one step size on parameters of one dtype and device; got "
                           f"lr {sorted(lrs)} and {len(kinds)} dtype/device pairs")
        return params, float(lrs.pop())

    @torch.no_grad()
    def step(self, closure=None):
        params, lr = self._flat()
        self._program.h = lr
        for part in [params] if self._whole else [[p] for p in params]:
            self._advance(part, lr, closure)

    def _advance(self, params, lr, closure):
        """One step of θ = the given parameters flattened (their state is kept with the first of them)."""
        program, state = self._program, self.state[params[0]]
        theta = torch.cat([p.detach().reshape(-1) for p in params]) if len(params) > 1 else params[0].detach().reshape(-1)
        g = _flat_gradient(params)
        if not state:
            state["step"] = 0
            state.update({f"state {sym}": torch.zeros_like(theta) for sym in program.states})
        n = state["step"]
        check_horizon(self.spec, (n + 1) * lr)
        old = {sym: state[f"state {sym}"] for sym in program.states}
        recorded = {sym: state[f"prev {sym}"] for sym, (kind, _) in program.constructs.items() if kind is S.Prev and n}

        def gradient(_, point):
            return g if point is theta else _gradient_at(point, params, closure, self.spec.name)

        new_theta, new_states, prev = program.advance(gradient, n, theta, old, recorded)
        state.update({f"state {sym}": v.contiguous() for sym, v in new_states.items()})
        state.update({f"prev {sym}": v.clone() for sym, v in prev.items()})  # copies before θ (and g) change
        state["step"] = n + 1
        _write(params, new_theta)


def _flat_gradient(params):
    grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    return torch.cat(grads) if len(grads) > 1 else grads[0]


def _write(params, flat):
    """Copy a flat vector into the parameters, in order."""
    for p, chunk in zip(params, flat.split([p.numel() for p in params])):
        p.copy_(chunk.view_as(p))


def _gradient_at(point, params, closure, name):
    """∇E at ``point`` by ``closure`` run with the parameters set there; parameters and gradients restored."""
    if closure is None:
        raise BeaError(f"{name}: the step needs the gradient at another point; call step(closure) with a closure "
                       "that recomputes every parameter's .grad")
    saved = [(p.detach().clone(), None if p.grad is None else p.grad.detach().clone()) for p in params]
    _write(params, point)
    with torch.enable_grad():
        closure()
    out = _flat_gradient(params)
    for p, (value, grad) in zip(params, saved):
        p.copy_(value)
        p.grad = grad
    return out


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
