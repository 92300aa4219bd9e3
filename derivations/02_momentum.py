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
# # 2. Heavy-ball and Nesterov momentum: eliminating the memory
#
# Heavy-ball (EMA form) keeps $m \leftarrow \beta m + (1-\beta)\nabla E$ and steps $\theta \leftarrow \theta - hm$.
# Unrolled, $m_{n+1} = (1-\beta) \sum_k \beta^k \nabla E(\theta_{n-k})$: the step depends on the whole past. bea
# writes each past iterate through the backward flow of the field it is looking for,
# $\theta_{n-k} = \exp(-kh D_F)\, \theta_n$, so that
# $\nabla E(\theta_{n-k}) = \sum_r \frac{(-kh)^r}{r!} D_F^r \nabla E(\theta_n)$, and sums the
# weights in closed form: $\sum_k \beta^k k^r$. What is left is a memoryless map, matched with a flow.

# %%
import sympy as sp
from IPython.display import Math, display

import bea
from bea.integrate import error_slope, step_sizes
from bea.verify import trajectory_error

beta = sp.Symbol("beta", nonnegative=True)
for name in ["heavy_ball", "nesterov"]:
    ode = bea.modified_ode(name, order=1, stationary=True)
    display(Math(rf"\text{{{name}}}:\quad F_0 = {sp.latex(ode.terms[0])},\qquad F_1 = {sp.latex(ode.terms[1])}"))
    print(name, "regularizer:", ode.recognized[0].regularizer())

# %% [markdown]
# The EMA heavy-ball's implicit regularizer is $(1+\beta)/(1-\beta)$ times gradient descent's
# $\frac{h}{4}\|\nabla E\|^2$
# (Ghosh et al. 2023): read it off bea's result.

# %%
hb = bea.modified_ode("heavy_ball", order=1, stationary=True).recognized[0]
gd = bea.modified_ode("gd", order=1).recognized[0]
ratio = sp.simplify(hb.parts[0].coefficient / gd.parts[0].coefficient)
display(Math(rf"\frac{{c_{{\mathrm{{heavy\ ball}}}}}}{{c_{{\mathrm{{GD}}}}}} = {sp.latex(ratio)}"))
assert sp.simplify(ratio - (1 + beta) / (1 - beta)) == 0

# %% [markdown]
# ## The amplification, measured
# After the memory transient, iterates follow the stationary field; the $O(h)$ correction matters:
# with it the error drops from $O(h)$ to $O(h^2)$. Change `BETA` to see the correction grow like $1/(1-\beta)$.

# %%
BETA = 0.7
x, y = sp.symbols("x y", real=True)
E = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3
sweeps = {p: error_slope(lambda h: trajectory_error("heavy_ball", E, [x, y], [0.3, 1.2], h, p, T=0.25, burn_in=1.5,
                                                    stationary=True, beta=BETA), step_sizes(0.01, 3))
          for p in (0, 1)}
for p, sweep in sweeps.items():
    print(f"order {p}: {sweep}")
assert abs(sweeps[0].slope - 1) < 0.2 and abs(sweeps[1].slope - 2) < 0.2
