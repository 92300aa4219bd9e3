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
# * AdamW: decoupled weight decay $\lambda\theta$; with $\varepsilon \to 0$ its memory term anti-penalizes the
#   one-norm when $\beta_2 > \beta_1$.
# * Lion-K with $K = \|\cdot\|_{1,\varepsilon}$: the memory correction is
#   $\frac{\rho_1}{1-\rho_2} \cdot \frac{\varepsilon}{s^3} \nabla^2E(g/s)$: small when $\varepsilon$ is small —
#   memory does not anti-regularize Lion.
# * Adam with $\beta_1 = \beta_2$ and Lion with $\rho_1 = \rho_2$ (which is Signum) have the same correction.

# %%
import sympy as sp
from IPython.display import Math, display

import bea
from bea import symbols as S

for name in ["adamw", "lion", "signum"]:
    ode = bea.modified_ode(name, order=1, stationary=True)
    display(Math(rf"\text{{{name}}}:\ F_1 = {sp.latex(ode.terms[1])}"))

# %% [markdown]
# `compare` reads the corrections side by side (the $\lambda$-terms listed apart):

# %%
from bea.compare import compare  # noqa: E402

print(compare(["adam", "adamw", "lion", "signum"]))

# %% [markdown]
# Small-$\varepsilon$ limits of the one-norm coefficient, from bea's recognition:

# %%
g = S.g
adam_c = bea.modified_ode("adamw", order=1, stationary=True, lam=0).recognized[0].parts[0].coefficient
lion_c = bea.modified_ode("lion", order=1, stationary=True, lam=0).recognized[0].parts[0].coefficient
display(Math(r"c_{\mathrm{AdamW}}(\varepsilon \to 0) = " + sp.latex(sp.factor(sp.limit(adam_c, g, sp.oo)))))
display(Math(r"c_{\mathrm{Lion}}(\varepsilon \to 0) = " + sp.latex(sp.limit(lion_c, g, sp.oo))))
assert sp.limit(lion_c, g, sp.oo) == 0
assert sp.limit(adam_c, g, sp.oo).subs({S.beta: 0.9, S.rho: 0.999}) < 0  # anti-penalized for β₂ > β₁

# %% [markdown]
# The equality of Adam($\beta_1 = \beta_2 = \beta$) and Lion($\rho_1 = \rho_2 = \beta$) corrections, symbolically:

# %%
b = S.rho
adam_eq = bea.modified_ode("adam", order=1, stationary=True, beta=b).terms[1]
lion_eq = bea.modified_ode("lion", order=1, stationary=True, beta=b, lam=0).terms[1]
display(Math(r"F_1^{\mathrm{Adam}} - F_1^{\mathrm{Lion}} = " + sp.latex(sp.simplify(adam_eq - lion_eq))))
assert sp.simplify(adam_eq - lion_eq) == 0

# %% [markdown]
# A plain sign ($\varepsilon = 0$) has no modified equation; bea says so instead of returning one:

# %%
try:
    bea.modified_ode("signum", order=1, eps=0)
except bea.BeaError as exc:
    print("BeaError:", exc)
