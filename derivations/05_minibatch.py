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
# # 5. Mini-batches: cyclic order, random reshuffling, per-sample Adam
#
# With $k$ batch losses $E_0, \dots, E_{k-1}$ visited in cyclic order, step $n$ uses $E_{n \bmod k}$ and the
# modified field is piecewise: $F^{(n \bmod k)}$ on $[nh, (n+1)h]$.

# %%
import sympy as sp
from IPython.display import Math, display

import bea
from bea.integrate import error_slope, step_sizes
from bea.verify import trajectory_error

x, y = sp.symbols("x y", real=True)
batches = [(x - 1) ** 2 / 2 + y**2 / 4, (x + 1) ** 2 / 2 + (y - x) ** 2 / 2, x**4 / 4 + y**2]
sgd = bea.cyclic_ode("gd", batches, [x, y], order=1)
for r, terms in enumerate(sgd.terms):
    display(Math(rf"F_1^{{({r})}} = {sp.latex(terms[1].T)}"))

# %% [markdown]
# ## Random reshuffling
# Over an epoch the batch flows compose to the flow of their sum plus commutators
# $\frac12 h[F^{(j)}, F^{(i)}]$; averaged over the random order, the commutators cancel. The expected epoch
# follows the mean field, and for SGD bea finds its potential:
# $E + \frac{h}{4k} \sum_k \|\nabla E_k\|^2$ (Smith et al. 2021), $E$ the mean loss.

# %%
mean = sgd.reshuffled()
display(Math(r"V_1 = " + sp.latex(sp.expand(mean.regularizer))))
typed = sum(sp.diff(Ek, x) ** 2 + sp.diff(Ek, y) ** 2 for Ek in batches) / (4 * len(batches))
assert all(sp.simplify(sp.diff(mean.regularizer - typed, v)) == 0 for v in (x, y))
print("matches (h/4k) Σ ‖∇E_k‖² up to a constant")

# %% [markdown]
# ## Per-sample Adam
# Batches of one sample each, in cyclic order: the memory now mixes per-sample gradients, and the
# denominator averages per-sample squares, not the square of the mean gradient. bea's cyclic field
# for Adam (after the transient) tracks it with error $O(h^2)$:

# %%
params = dict(beta=0.5, rho=0.6, eps=0.1)
sweep = error_slope(lambda h: trajectory_error("adam", batches, [x, y], [0.3, -0.4], h, 1, T=0.3, burn_in=1.5,
                                               stationary=True, **params), step_sizes(0.01, 3))
print(sweep)
assert abs(sweep.slope - 2) < 0.2
