# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. AdamW, Lion and Signum: the memory paper's conclusions (Cattaneo & Shigida 2025)
#
# * AdamW: decoupled weight decay λθ; with ε → 0 its memory term anti-penalizes the one-norm when β₂ > β₁.
# * Lion-K with K = ‖·‖_{1,ε}: the memory correction is ρ₁/(1−ρ₂)·ε/s³ ∇²E(g/s): small when ε is small —
#   memory does not anti-regularize Lion.
# * Adam with β₁ = β₂ and Lion with ρ₁ = ρ₂ (which is Signum) have the same correction.

# %%
import sympy as sp
from IPython.display import Math, display

import bea
from bea import symbols as S

for name in ["adamw", "lion", "signum"]:
    ode = bea.modified_ode(name, order=1, stationary=True)
    display(Math(rf"\text{{{name}}}:\ F_1 = {sp.latex(ode.terms[1])}"))

# %% [markdown]
# `compare` reads the corrections side by side (the λ-terms listed apart):

# %%
from bea.compare import compare  # noqa: E402

print(compare(["adam", "adamw", "lion", "signum"]))

# %% [markdown]
# Small-ε limits of the one-norm coefficient, from bea's recognition:

# %%
g = S.g
adam_c = bea.modified_ode("adamw", order=1, stationary=True, lam=0).recognized[0].parts[0].coefficient
lion_c = bea.modified_ode("lion", order=1, stationary=True, lam=0).recognized[0].parts[0].coefficient
display(Math(r"c_{\mathrm{AdamW}}(\varepsilon \to 0) = " + sp.latex(sp.factor(sp.limit(adam_c, g, sp.oo)))))
display(Math(r"c_{\mathrm{Lion}}(\varepsilon \to 0) = " + sp.latex(sp.limit(lion_c, g, sp.oo))))
assert sp.limit(lion_c, g, sp.oo) == 0
assert sp.limit(adam_c, g, sp.oo).subs({S.beta: 0.9, S.rho: 0.999}) < 0  # anti-penalized for β₂ > β₁

# %% [markdown]
# The equality of Adam(β₁ = β₂ = β) and Lion(ρ₁ = ρ₂ = β) corrections, symbolically:

# %%
b = S.rho
adam_eq = bea.modified_ode("adam", order=1, stationary=True, beta=b).terms[1]
lion_eq = bea.modified_ode("lion", order=1, stationary=True, beta=b, lam=0).terms[1]
display(Math(r"F_1^{\mathrm{Adam}} - F_1^{\mathrm{Lion}} = " + sp.latex(sp.simplify(adam_eq - lion_eq))))
assert sp.simplify(adam_eq - lion_eq) == 0

# %% [markdown]
# A plain sign (ε = 0) has no modified equation; bea says so instead of returning one:

# %%
try:
    bea.modified_ode("signum", order=1, eps=0)
except bea.BeaError as exc:
    print("BeaError:", exc)
