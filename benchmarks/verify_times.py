"""Seconds for one 4-step-size slope check (orders 0 and 1, 2-D loss) per registered example.

    python benchmarks/verify_times.py

The cases are the registry's (bea.registry.cases) with a fixed-horizon order, each on its
example's library loss (by default the non-convex one).

Target: < 10 s per optimizer on a 2-core machine.  Each check derives, iterates,
integrates (twice, for the integration-error estimate) and fits, from scratch.
"""
import time

import sympy as sp

from bea import losses, moments, ode, verify
from bea.registry import cases


def studies():
    """(case, optimizer, hyperparameters, loss name) for every registered example."""
    return [(case.id, case.name, case.params, case.example.loss or "nonconvex")
            for case in cases() if not case.accumulates]


def main():
    print(f"{'optimizer':<20}{'seconds':>9}{'slope 0':>9}{'slope 1':>9}")
    for label, name, params, loss in studies():
        E, xs, theta0 = losses.get(loss)
        ode.derive_concrete.cache_clear()
        moments.moment.cache_clear()
        sp.core.cache.clear_cache()
        start = time.perf_counter()
        result = verify.study(name, E, xs, theta0, orders=(0, 1), hs=(0.01, 0.005, 0.0025, 0.00125), T=0.25,
                              progress=False, **params)
        seconds = time.perf_counter() - start
        print(f"{label:<20}{seconds:>9.2f}{result.slope(0):>9.2f}{result.slope(1):>9.2f}", flush=True)


if __name__ == "__main__":
    main()
