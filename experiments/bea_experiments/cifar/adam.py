"""Adam as Cattaneo, Klusowski & Shigida define it, as a torch optimizer.

For step n = 0, 1, … with g = ∇E(θ_n):

    m ← β m + (1−β) g,   v ← ρ v + (1−ρ) g²,
    m̂ = m/(1 − β^{n+1}),  v̂ = v/(1 − ρ^{n+1})                (``bias_correction``)
    θ ← θ − h m̂/√(v̂ + ε)   (ε inside, the paper's)  or  θ − h m̂/(√v̂ + ε)  (ε outside, PyTorch's)

With ε outside and bias correction this is ``torch.optim.Adam`` (tests compare the two).
"""
from __future__ import annotations

import torch

from bea.errors import BeaError


class PaperAdam(torch.optim.Optimizer):
    def __init__(self, params, lr: float, beta: float = 0.9, rho: float = 0.999, eps: float = 1e-8,
                 eps_inside: bool = True, bias_correction: bool = True):
        for name, value in (("beta", beta), ("rho", rho)):
            if not 0 <= value < 1:
                raise BeaError(f"{name} must be in [0, 1), got {value}")
        if eps < 0 or lr <= 0:
            raise BeaError(f"need lr > 0 and eps >= 0, got lr={lr}, eps={eps}")
        super().__init__(params, dict(lr=lr, beta=beta, rho=rho, eps=eps, eps_inside=eps_inside,
                                      bias_correction=bias_correction))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta, rho, eps, lr = group["beta"], group["rho"], group["eps"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["v"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                n, m, v, g = state["step"], state["m"], state["v"], p.grad
                m.mul_(beta).add_(g, alpha=1 - beta)
                v.mul_(rho).addcmul_(g, g, value=1 - rho)
                c1 = 1 - beta ** (n + 1) if group["bias_correction"] else 1.0
                c2 = 1 - rho ** (n + 1) if group["bias_correction"] else 1.0
                if group["eps_inside"]:
                    denom = (v / c2).add_(eps).sqrt_()
                else:
                    denom = (v / c2).sqrt_().add_(eps)
                p.addcdiv_(m, denom, value=-lr / c1)
                state["step"] = n + 1
