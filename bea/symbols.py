"""The SymPy symbols shared by optimizer specifications and derived results.

Per-coordinate quantities are written for one generic coordinate and read
componentwise: ``g`` is the gradient component ∂_jE(θ), ``theta`` the
coordinate θ_j.  ``n`` is the step index (interval [nh, (n+1)h]).
"""
import sympy as sp

g = sp.Symbol("g", real=True)
theta = sp.Symbol("theta", real=True)
n = sp.Symbol("n", integer=True, nonnegative=True)
h = sp.Symbol("h", positive=True)

beta = sp.Symbol("beta", nonnegative=True)
rho = sp.Symbol("rho", nonnegative=True)
eps = sp.Symbol("epsilon", nonnegative=True)

m = sp.Symbol("m", real=True)
v = sp.Symbol("v", real=True)  # no sign assumption: sqrt(v/c) must not split before v is substituted
