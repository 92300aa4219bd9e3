"""Steps per second of per-sample Adam on separable data: the NumPy loop of bea_experiments.separable.train
against the same recursion written with torch tensors (CPU), to decide whether torch pays.

    python benchmarks/separable_speed.py [--steps 20000] [--N 10] [--d 20]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from bea_experiments.separable import data
from bea_experiments.separable.train import Settings, train


def torch_loop(Z, steps, lr=0.1, b1=0.9, b2=0.99):
    import torch

    Zt = torch.tensor(Z, dtype=torch.float64)
    w, m, v = (torch.zeros(Z.shape[1], dtype=torch.float64) for _ in range(3))
    for t in range(steps):
        z = Zt[t % len(Z)]
        g = -torch.sigmoid(-(z @ w)) * z
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        w.sub_(lr / (t + 2) ** 0.5 * m / v.sqrt())
    return w.numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--N", type=int, default=10)
    p.add_argument("--d", type=int, default=20)
    args = p.parse_args()
    Z = data.gaussian(args.N, args.d)
    start = time.perf_counter()
    w_np = train(Z, Settings("adam", args.steps, beta2=0.99, batch=1, records=2)).w[-1]
    t_np = time.perf_counter() - start
    start = time.perf_counter()
    w_t = torch_loop(Z, args.steps)
    t_t = time.perf_counter() - start
    print(f"numpy loop: {args.steps / t_np:,.0f} steps/s; torch loop: {args.steps / t_t:,.0f} steps/s; "
          f"same iterate: {np.allclose(w_np, w_t, rtol=1e-6)}")


if __name__ == "__main__":
    main()
