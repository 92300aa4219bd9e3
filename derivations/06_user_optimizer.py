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
# # 6. An optimizer of your own, in a few lines
#
# A spec is states started at zero, $s \leftarrow a s + b\, u(g, \theta)$, and a coordinatewise step
# $\varphi(s, g, \theta, n)$. Here: a "clipped-momentum" method $m \leftarrow \beta m + (1-\beta)g$,
# $\theta \leftarrow \theta - h\, m/(1 + m^2)$ — not a built-in.

# %%
import sympy as sp
from IPython.display import Math, display

import bea
from bea import symbols as S
from bea.integrate import error_slope, step_sizes
from bea.verify import trajectory_error
from bea.spec import Hyper, OptimizerSpec, State

mine = OptimizerSpec(
    "clipped_momentum", "momentum with a soft clip m/(1 + m²)",
    step=S.m / (1 + S.m**2),
    states=(State(S.m, S.beta, S.g, 1 - S.beta),),
    hyperparameters=(Hyper("beta", S.beta, "unit"),),
)
ode = bea.modified_ode(mine, order=1, stationary=True)
for i, F in enumerate(ode.terms):
    display(Math(rf"F_{i} = {sp.latex(F)}"))

# %% [markdown]
# The same result for a concrete loss, and the check: the order-1 field tracks the iterates with the
# declared global order.

# %%
x, y = sp.symbols("x y", real=True)
E = (x * y - 1) ** 2 / 2 + x**4 / 10
sweep = error_slope(lambda h: trajectory_error(mine, E, [x, y], [0.3, 1.2], h, 1, T=0.25, beta=0.6),
                    step_sizes(0.01, 3))
declared = bea.modified_ode(mine, E, [x, y], order=1, h=0.01, beta=0.6).global_order
print(sweep, "declared:", declared)
assert abs(sweep.slope - declared) < 0.2
