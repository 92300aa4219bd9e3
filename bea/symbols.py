"""The SymPy symbols and constructs shared by optimizer specifications and derived results.

Per-coordinate quantities are written for one generic coordinate and read
componentwise: ``g`` is the gradient component ∂_jE(θ) (or v_j for a vector field
that is not a gradient), ``theta`` the coordinate θ_j.  ``n`` is the step index
(interval [nh, (n+1)h]), ``t`` = nh the time, ``h`` the step size.

Three constructs extend a step beyond "the current gradient, coordinate by coordinate":

* ``Grad(theta + u)`` — the gradient at another point (extragradient, SAM, look-ahead);
* ``Prev(q)`` — the value q had at the previous step (Adan's g_n − g_{n−1});
* ``CoordSum(q)`` — the sum Σ_j q_j over all coordinates, a global scalar (‖g‖² = CoordSum(g²)).

>>> Grad(theta - h*g), Prev(g), CoordSum(g**2)
(grad(-g*h + theta), prev(g), sum(g**2))
"""
import sympy as sp

g = sp.Symbol("g", real=True)
theta = sp.Symbol("theta", real=True)
n = sp.Symbol("n", integer=True, nonnegative=True)
h = sp.Symbol("h", positive=True)
t = sp.Symbol("t", nonnegative=True)
player = sp.Symbol("player", nonnegative=True)  # games: 1 on the first player's coordinates, 0 elsewhere

beta = sp.Symbol("beta", nonnegative=True)
rho = sp.Symbol("rho", nonnegative=True)
eps = sp.Symbol("epsilon", nonnegative=True)

m = sp.Symbol("m", real=True)
v = sp.Symbol("v", real=True)  # no sign assumption: sqrt(v/c) must not split before v is substituted


class _Construct(sp.Function):
    """A one-argument construct of the optimizer language, printed by its user-facing name."""

    nargs = 1
    word = ""

    def _sympystr(self, printer):
        return f"{self.word}({printer.doprint(self.args[0])})"

    def _latex(self, printer, exp=None):
        out = rf"\operatorname{{{self.word}}}\left({printer.doprint(self.args[0])}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"


class Grad(_Construct):
    """∂_jE at the point whose j-th coordinate is the argument (theta + u)."""

    word = "grad"


class Prev(_Construct):
    """The argument's value at the previous step (at n = 0: its current value)."""

    word = "prev"


class CoordSum(_Construct):
    """Σ_j of the argument over all coordinates (the same value for every coordinate)."""

    word = "sum"

    def _pretty(self, printer, *args):
        return printer._helper_print_function(self.func, self.args, func_name="Σⱼ" if printer._use_unicode else "sum")

    def _latex(self, printer, exp=None):
        out = rf"\sum_j\left({printer.doprint(self.args[0])}\right)"
        return out if exp is None else rf"\left({out}\right)^{{{exp}}}"


CONSTRUCTS = {"grad": Grad, "prev": Prev, "sum": CoordSum}


def constructs_innermost_first(expr) -> list:
    """The Grad/Prev/CoordSum nodes of ``expr``, each after the ones inside it."""
    out = []

    def visit(e):
        for arg in e.args:
            visit(arg)
        if isinstance(e, _Construct) and e not in out:
            out.append(e)

    visit(sp.sympify(expr, strict=True))
    return out
