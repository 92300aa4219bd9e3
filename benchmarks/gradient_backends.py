"""Gradient and Hessian-vector product evaluation: SymPy lambdify (NumPy) vs torch.func.

    python benchmarks/gradient_backends.py

The verification suite evaluates ∇E (discrete iterates) and fields containing
∇²E·v (modified ODEs) at one point at a time, many thousands of times.  This
measures the time per call of each backend on the library losses.
"""
import timeit

import numpy as np
import sympy as sp
import torch
from torch.func import grad, jvp

from bea import losses
from bea.numeric import function

CASES = [("nonconvex", {}), ("logistic", dict(d=10, samples=8)), ("two_layer", dict(width=4, samples=8))]


def per_call(fn, number=2000):
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def main():
    torch.set_num_threads(1)
    print(f"{'loss':<12}{'d':>4}{'grad np':>10}{'grad torch':>12}{'Hv np':>10}{'Hv torch':>10}   (µs per call)")
    for name, kwargs in CASES:
        E, xs, theta0 = losses.get(name, **kwargs)
        v = sp.symbols(f"v0:{len(xs)}", real=True)
        g = [sp.diff(E, x) for x in xs]
        Hv = [sum(sp.diff(gi, x) * vj for x, vj in zip(xs, v)) for gi in g]
        g_np = function([list(xs)], g)  # what bea evaluates (bea.numeric)
        Hv_np = function([list(xs), list(v)], Hv)
        E_t = function([list(xs)], E, "torch")
        loss_t = lambda t: E_t(list(t))  # noqa: E731
        g_t = grad(loss_t)
        theta = np.array(theta0, float)
        vec = np.ones_like(theta)
        tt, vt = torch.tensor(theta, dtype=torch.float64), torch.ones(len(xs), dtype=torch.float64)
        np.testing.assert_allclose(g_np(list(theta)), g_t(tt).numpy(), rtol=1e-10)
        np.testing.assert_allclose(Hv_np(list(theta), list(vec)), jvp(g_t, (tt,), (vt,))[1].numpy(), rtol=1e-10)
        row = [per_call(lambda: g_np(list(theta))), per_call(lambda: g_t(tt), 200),
               per_call(lambda: Hv_np(list(theta), list(vec))), per_call(lambda: jvp(g_t, (tt,), (vt,)), 200)]
        print(f"{name:<12}{len(xs):>4}" + "".join(f"{t:>10.1f}" if i != 1 else f"{t:>12.1f}" for i, t in enumerate(row)))


if __name__ == "__main__":
    main()
