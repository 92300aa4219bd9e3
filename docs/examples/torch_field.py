"""A derived field on a torch model: GD's and Adam's F₀, F₁ on a small MLP, by autodiff (bea.autodiff).

Run: python docs/examples/torch_field.py   (needs torch; float64, a few seconds on a CPU)
"""
import torch

import bea
from bea.autodiff import AutodiffField, ModelLoss

torch.manual_seed(0)
X, y = torch.randn(64, 5, dtype=torch.float64), torch.randint(0, 3, (64,))
model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
loss = ModelLoss(model, lambda: torch.nn.functional.cross_entropy(model(X), y))
theta = loss.theta()
print(f"{theta.numel()} parameters")

# GD: F₁ = −½ ∇²E ∇E, checked against a central difference of the gradient along g
gd = AutodiffField(bea.modified_ode("gd", order=1), loss)
F0, F1 = gd.terms(theta)
g, delta = -F0, 1e-5
hvp = (gd.gradient(theta + delta * g) - gd.gradient(theta - delta * g)) / (2 * delta)
relative = float((F1 + hvp / 2).norm() / F1.norm())
print(f"GD:   F1 = -Hg/2 by finite differences: {'yes' if relative < 1e-8 else 'NO'} (relative difference < 1e-8)")

# Adam (stationary regime, n → ∞): F₀ = −g/s and the correction's size against F₀
for h in (1e-5, 1e-4, 1e-3):
    ode = bea.modified_ode("adam", order=1, stationary=True, h=h, beta=0.9, rho=0.999, eps=1e-8)
    F0, F1 = AutodiffField(ode, loss).terms(theta)
    s = (g**2 + 1e-8).sqrt()
    exact = float((F0 + g / s).norm()) < 1e-12
    print(f"Adam: h = {h:g}: F0 = -g/s: {'yes' if exact else 'NO'}, "
          f"validity ratio |h F1| / |F0| = {float(h * F1.norm() / F0.norm()):.3f}")
