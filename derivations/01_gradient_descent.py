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
# # 1. Gradient descent: the modified loss and its higher-order terms
#
# Gradient descent $\theta \leftarrow \theta - h\nabla E(\theta)$ is a one-step map. bea looks for a field
# $F = F_0 + hF_1 + h^2F_2 + \dots$ whose time-$h$ flow reproduces that map order by order.
# Change `ORDER` or the loss below and re-run.

# %%
import sympy as sp
from IPython.display import Math, display

import bea
from bea.verify import plot, study

ORDER = 3
ode = bea.modified_ode("gd", order=ORDER)  # abstract: valid in every dimension
for i, F in enumerate(ode.terms):
    display(Math(rf"F_{i} = {sp.latex(F)}"))

# %% [markdown]
# `recognized` reads $F_1$ as a gradient: the modified loss is $E + \frac{h}{4}\|\nabla E\|_2^2$ (Barrett & Dherin 2021).

# %%
first = ode.recognized[0]
print("F1 is a gradient:", first.is_gradient, "| implicit regularizer (times h):", first.regularizer())
assert first.is_gradient and first.regularizer() == sp.Symbol("‖∇E‖₂²") / 4

# %% [markdown]
# ## A second route: the explicit Euler method's modified equation
# For $\dot y = f(y)$, explicit Euler's modified field is
# $f - \frac{h}{2}f'f + h^2\left(\frac{1}{12}f''(f,f) + \frac13 f'f'f\right) + \dots$
# (Hairer, Lubich & Wanner, via B-series). With $f = -\nabla E$ this must equal bea's $F_1$ and $F_2$ on any loss.

# %%
x, y = sp.symbols("x y", real=True)
E = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3
X = sp.Matrix([x, y])
f = -sp.Matrix([sp.diff(E, v) for v in X])
J = f.jacobian(X)
second = sp.Matrix([sum(sp.diff(f[k], X[i], X[j]) * f[i] * f[j] for i in range(2) for j in range(2)) for k in range(2)])
euler = [f, -J * f / 2, second / 12 + J * J * f / 3]
concrete = bea.modified_ode("gd", E, [x, y], order=2)
point = {x: 0.3, y: -0.7}
for i in range(3):
    diff = (concrete.terms[i] - euler[i]).subs(point).evalf()
    print(f"F{i}: bea − Euler B-series at {point} = {list(diff)}")
    assert max(abs(float(d)) for d in diff) < 1e-12

# %% [markdown]
# ## Verification: the order-p field tracks the iterates with error O(hᵖ⁺¹)

# %%
result = study("gd", E, [x, y], [0.3, 1.2], orders=range(4), hs=[0.02, 0.01, 0.005, 0.0025], T=0.25, progress=False)
print(result.table())
fig_path = "gd_verification.png"
plot(result, fig_path)
from IPython.display import Image  # noqa: E402

display(Image(fig_path))

# %% [markdown]
# The check that would fail if the derivation were wrong: the fitted slopes.

# %%
for p in range(4):
    assert abs(result.slope(p) - (p + 1)) < 0.25, (p, result.slope(p))
print("slopes:", [round(result.slope(p), 2) for p in range(4)])
