"""Seconds for one 4-step-size slope check (orders 0 and 1, 2-D loss) per optimizer.

    python benchmarks/verify_times.py

Target: < 10 s per optimizer on a 2-core machine.  Each check derives, iterates,
integrates (twice, for the integration-error estimate) and fits, from scratch.
"""
import time

import sympy as sp

from bea import losses, moments, ode, verify

CASES = {
    "gd": ("gd", {}),
    "heavy_ball": ("heavy_ball", dict(beta=0.5)),
    "heavy_ball_polyak": ("heavy_ball_polyak", dict(beta=0.4)),
    "rmsprop": ("rmsprop", dict(rho=0.6, eps=0.1)),
    "adam": ("adam", dict(beta=0.5, rho=0.6, eps=0.1)),
}


def main():
    E, xs, theta0 = losses.nonconvex()
    print(f"{'optimizer':<20}{'seconds':>9}{'slope 0':>9}{'slope 1':>9}")
    for label, (name, params) in CASES.items():
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
