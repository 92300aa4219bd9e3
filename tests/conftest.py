"""Shared helpers for the tests: random smooth losses and numeric comparison."""
import sympy as sp

X2 = sp.symbols("x y", real=True)
X3 = sp.symbols("x y z", real=True)


def random_loss(rng, variables):
    """A smooth non-convex loss with random coefficients: quadratic + quartic + a trigonometric bump."""
    xs = list(variables)
    A = rng.normal(size=(len(xs), len(xs)))
    quad = sum(sp.Rational(round(A[i, j] * A[j, i] * 50), 100) * xs[i] * xs[j]
               for i in range(len(xs)) for j in range(i, len(xs)))
    quart = sum(sp.Rational(int(rng.integers(1, 10)), 40) * x**4 for x in xs)
    w = [sp.Rational(int(rng.integers(-10, 11)), 10) for _ in xs]
    bump = sp.Rational(int(rng.integers(1, 10)), 10) * sp.cos(sum(wi * x for wi, x in zip(w, xs)) + 1)
    return quad + quart + bump + sum(x**2 for x in xs) / 2


def evaluate(expr, variables, point, extra=None):
    subs = dict(zip(variables, point))
    subs.update(extra or {})
    return complex(sp.N(expr.xreplace({k: sp.Float(v, 30) for k, v in subs.items()}), 20)).real
