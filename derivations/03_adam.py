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
# # 3. Adam and RMSProp: bias correction, the perturbed one-norm, three regimes
#
# Adam ($\varepsilon$ inside the root, Cattaneo, Klusowski & Shigida 2024): $m \leftarrow \beta m + (1-\beta)g$,
# $v \leftarrow \rho v + (1-\rho)g^2$, $\theta \leftarrow \theta - h\, \hat m/\sqrt{\hat v + \varepsilon}$ with
# $\hat m = m/(1 - \beta^{n+1})$, $\hat v = v/(1 - \rho^{n+1})$. RMSProp is $\beta = 0$.

# %%
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from IPython.display import Math, display

import bea
from bea import symbols as S
from bea.integrate import error_slope, step_sizes
from bea.numeric import function
from bea.verify import trajectory_error

finite = bea.modified_ode("adam", order=1)  # finite n: the bias-correction terms are there
display(Math(r"F_1^{(n)} = " + sp.latex(finite.terms[1])))

# %% [markdown]
# Recognition writes $F_1 = -(c/s) \odot \nabla\|\nabla E\|_{1,\varepsilon}$ with $s = \sqrt{g^2 + \varepsilon}$ and
# $\|\nabla E\|_{1,\varepsilon} = \sum_j \sqrt{\partial_jE^2 + \varepsilon}$. After the transient ($n \to \infty$)
# the paper's coefficient is
# $c = \frac{\beta}{1-\beta} - \frac{\rho}{1-\rho} + \frac{(1+\rho)\varepsilon}{2(1-\rho)s^2}$; the cell checks
# bea's against it.

# %%
stat = bea.modified_ode("adam", order=1, stationary=True)
part = stat.recognized[0].parts[0]
print("functional:", part.functional.name)
display(Math("c = " + sp.latex(sp.simplify(part.coefficient))))
beta, rho, eps, g = S.beta, S.rho, S.eps, S.g
s = sp.sqrt(g**2 + eps)
expected = beta / (1 - beta) - rho / (1 - rho) + (1 + rho) * eps / (2 * (1 - rho) * s**2)
assert sp.simplify(part.coefficient - expected) == 0

# %% [markdown]
# ## The three regimes as a phase diagram
# Small $\varepsilon$ (early training, $|\partial_jE| \gg \sqrt{\varepsilon}$):
# $c \to \frac{\beta}{1-\beta} - \frac{\rho}{1-\rho}$: the one-norm is penalized when $\beta > \rho$ and
# anti-penalized when $\beta < \rho$ (the usual 0.9 / 0.999). Large $\varepsilon$ (late training): $c \cdot s \to$ a
# positive multiple of $\|\nabla E\|_2^2$'s coefficient: the two-norm is penalized. Evaluate bea's own coefficient.

# %%
small_eps = part.regimes[0]  # recognition carries the regimes: the limit of c as |∂_jE| ≫ √ε
print(small_eps.name, small_eps.coefficient, small_eps.verdict())
c_small = function([beta, rho], small_eps.coefficient)
grid = np.linspace(0.0, 0.995, 200)
B, R = np.meshgrid(grid, grid)
fig, ax = plt.subplots(figsize=(5, 4))
im = ax.contourf(B, R, np.sign(c_small(B, R)), levels=[-1.5, 0, 1.5], colors=["#d9534f", "#5cb85c"])
ax.plot([0.9], [0.999], "k*", ms=10)
ax.set_xlabel("β (first moment)")
ax.set_ylabel("ρ (second moment)")
ax.set_title("small ε: green penalizes ‖∇E‖₁, red anti-penalizes\n(large ε: ‖∇E‖₂² penalized everywhere)", fontsize=9)
plt.show()
assert c_small(0.9, 0.999) < 0 < c_small(0.999, 0.9)

# %% [markdown]
# ## Validity: h ≪ 1 − ρ
# The expansion averages the memory over $\sim 1/(1-\rho)$ steps, so it needs $h/(1-\rho)$ small. For a fixed $h$,
# what the order-1 correction gains over the order-0 field (after the transient) collapses as $\rho \to 1$:
# once $h/(1-\rho)$ is not small, the "correction" makes things worse.

# %%
x, y = sp.symbols("x y", real=True)
E = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3
h = 0.01
for RHO in (0.5, 0.9, 0.99):
    errs = [trajectory_error("adam", E, [x, y], [0.3, 1.2], h, p, T=50 * h, burn_in=h * round(8 / (1 - RHO)),
                             stationary=True, beta=0.5, rho=RHO, eps=0.1) for p in (0, 1)]
    print(f"ρ = {RHO}: h/(1−ρ) = {h / (1 - RHO):.2f}; error order 0 {errs[0]:.2e}, order 1 {errs[1]:.2e}, "
          f"gain ×{errs[0] / errs[1]:.1f}")

# %% [markdown]
# And the check that fails if the derivation is wrong: from step 0, with bias correction, the
# finite-$n$ order-1 field tracks Adam with error $O(h^2)$.

# %%
sweep = error_slope(lambda h: trajectory_error("adam", E, [x, y], [0.3, 1.2], h, 1, T=0.25, beta=0.5, rho=0.6,
                                               eps=0.1), step_sizes(0.01, 3))
declared = bea.modified_ode("adam", E, [x, y], order=1, h=0.01, beta=0.5, rho=0.6, eps=0.1).global_order
print(sweep, "declared:", declared)
assert abs(sweep.slope - declared) < 0.2
