"""Any optimizer bea derives, as a torch optimizer, and its derived explicit correction.

:class:`SpecOptimizer` runs an optimizer's :class:`bea.OptimizerSpec` literally: the step of
:func:`bea.iterate` (:class:`bea.iterate.Program`) on tensors, parameter by parameter (or on all
parameters as one vector when the step sums over all coordinates or takes gradients at other
points): every state s ← a s + b u(g, θ), then θ ← θ − h φ(s, g, θ, n), with the step's
n-dependent numbers (bias corrections) computed in float64, a schedule's time at t_n = nh (and
refused past its horizon), previous values kept in the optimizer's state, and gradients at other
points through ``step(closure)``.  No optimizer is written twice: Adam here is bea's ``adam`` spec
and SAM bea's ``sam``.  Only a game's player mask is refused.

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
    coordinatewise step runs parameter by parameter, as torch's optimizers do (each group with its own
    lr; parameters without a gradient are skipped).  A step with sums over all coordinates (normalized
    and clipped steps, SAM's ‖∇E‖) or gradients at other points runs on θ = every parameter that has a
    gradient, flattened into one vector (one lr, one dtype and device), so the sums span the whole
    model; its state is the optimizer's ``"whole vector"`` entry, and a non-finite step is refused.

    ``step(closure)`` follows torch's convention: the closure recomputes the loss and every ``.grad`` at
    the current parameters; it is called first and its loss returned.  A gradient at another point,
    grad(θ + u) (SAM, extragradient, look-ahead Nesterov, schedule-free), is taken by ``recompute``
    (default: the closure), called with the parameters set to θ + u; parameters and gradients are
    restored after it, even when it fails.  A game's player mask is refused.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = SpecOptimizer([w], "adam", lr=0.1, params=dict(beta=0.9, rho=0.999, eps=0.0))
    >>> w.grad = torch.tensor([2.0]); opt.step(); w.data       # first Adam step: −h·sign(g)
    tensor([0.9000])
    """

    def __init__(self, parameters, optimizer: str, lr: float, params: dict):
        self.spec = numeric_spec(optimizer, params)
        if any((sp.S.Zero + e).has(S.player) for e in [self.spec.step, *(st.input for st in self.spec.states)]):
            raise BeaError(f"{self.spec.name}: SpecOptimizer does not run a two-player game's player mask")
        self._program = Program(self.spec, _checked_lr(lr), "torch")
        self._whole = any(kind in (S.Grad, S.CoordSum) for kind, _ in self._program.constructs.values())
        super().__init__(parameters, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None, recompute=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        recompute = recompute or closure
        if self._whole:
            self._step_whole(recompute)
        else:
            for group in self.param_groups:
                lr = _checked_lr(group["lr"])
                for p in group["params"]:
                    if p.grad is not None:
                        self._advance([p], lr, self.state[p], recompute)
        return loss

    def _step_whole(self, recompute):
        groups = [(i, j, p) for i, group in enumerate(self.param_groups) for j, p in enumerate(group["params"])
                  if p.grad is not None]
        if not groups:
            return
        params = [p for _, _, p in groups]
        lrs = {group["lr"] for group in self.param_groups}
        kinds = {(p.dtype, p.device) for p in params}
        if len(lrs) != 1 or len(kinds) != 1:
            raise BeaError(f"{self.spec.name} sums over all coordinates: it runs one lr on parameters of one dtype "
                           f"and device; got lr {sorted(lrs)} and {len(kinds)} dtype/device pairs")
        state = self.state["whole vector"]
        layout = [(i, j, p.numel()) for i, j, p in groups]
        if state and state.get("layout") != layout:
            raise BeaError(f"{self.spec.name} sums over all coordinates: the parameters with a gradient must be the "
                           "same at every step (parameters were added, or some lost their gradient)")
        state["layout"] = layout
        self._advance(params, _checked_lr(lrs.pop()), state, recompute)

    def _advance(self, params, lr, state, recompute):
        """One step of θ = the given parameters flattened, with its ``state``."""
        program = self._program
        program.h = lr
        # a coordinatewise step reads one parameter in place; a whole-vector step copies θ, which gradients at
        # other points move and restore
        theta = torch.cat([p.detach().reshape(-1) for p in params]) if self._whole else params[0].detach().reshape(-1)
        g = _flat_gradient(params)
        keys = [f"state {sym}" for sym in program.states]
        if "step" not in state:
            state.update({"step": 0, **{key: torch.zeros_like(theta) for key in keys}})
        elif any(key not in state for key in keys):
            raise BeaError(f"{self.spec.name}: the optimizer state has no {', '.join(keys)} (a checkpoint from an "
                           "earlier bea or another optimizer); start the run again")
        n = state["step"]
        check_horizon(self.spec, (n + 1) * lr)
        like = dict(device=theta.device, dtype=theta.dtype)  # a state loaded under a string key stays where it was
        old = {sym: state[f"state {sym}"].to(**like) for sym in program.states}
        recorded = {sym: state[f"prev {sym}"].to(**like)
                    for sym, (kind, _) in program.constructs.items() if kind is S.Prev and n}

        def gradient(_, point):
            return g if point is theta else _gradient_at(point, theta, params, recompute, self.spec.name)

        new_theta, new_states, prev = program.advance(gradient, n, theta, old, recorded)
        if self._whole and not _finite(new_theta):  # one check per step, where sums can vanish
            raise BeaError(f"{self.spec.name}: non-finite step at step {n + 1} (a sum over coordinates that vanishes, "
                           "e.g. ‖∇E‖ = 0 at a stationary point, or a diverging run); nothing was changed")
        state.update({f"state {sym}": v.contiguous() for sym, v in new_states.items()})
        state.update({f"prev {sym}": v.clone() for sym, v in prev.items()})  # copies before θ (and g) change
        state["step"] = n + 1
        _write(params, new_theta)


def _finite(x) -> bool:
    """All entries finite (a tensor on the "meta" device has no values to check)."""
    return x.device.type == "meta" or bool(torch.isfinite(x).all())


def _checked_lr(lr) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
        raise BeaError(f"lr must be a positive finite number, got {lr!r}")
    return float(lr)


def _flat_gradient(params):
    grads = [p.grad.reshape(-1) for p in params]
    return torch.cat(grads) if len(grads) > 1 else grads[0]


def _write(params, flat):
    """Copy a flat vector into the parameters, in order."""
    for p, chunk in zip(params, flat.split([p.numel() for p in params])):
        p.copy_(chunk.view_as(p))


def _gradient_at(point, theta, params, recompute, name):
    """∇E at ``point`` by ``recompute`` run with the parameters set there; parameters (θ) and gradients (the
    same tensors, with their values) restored, even when it fails."""
    if recompute is None:
        raise BeaError(f"{name}: the step needs the gradient at another point; call step(closure) with a closure "
                       "that recomputes every parameter's .grad")
    saved = [(p.grad, p.grad.detach().clone()) for p in params]
    _write(params, point)
    try:
        with torch.enable_grad():
            recompute()
        missing = sum(p.grad is None for p in params)
        if missing:
            raise BeaError(f"{name}: after the closure {missing} parameter(s) have no .grad; it must recompute "
                           "every parameter's gradient")
        return _flat_gradient(params).clone()
    finally:
        _write(params, theta)
        for p, (grad, values) in zip(params, saved):
            p.grad = grad.copy_(values)


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
        if not _finite(out):
            bad = int((~torch.isfinite(out)).sum())
            raise BeaError(f"{self.field.ode.spec.name}: the derived correction is not finite at step {n} on {bad} of "
                           f"{out.numel()} coordinates: the field is not smooth there (e.g. |g| from ε outside a "
                           "square root, at a gradient coordinate that is exactly 0)")
        return out, ratio
