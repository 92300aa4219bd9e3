"""Derivation timings: the targets of the engine issue and how time grows with order and dimension.

    python benchmarks/derivation_times.py [--max-seconds 120] [--out results.json]

Each timing derives from scratch (bea's caches cleared) and is the best of ``--repeat`` runs.
Targets on a 2-core machine: Adam order 1 abstract < 2 s, Adam order 2 in 1-D < 30 s,
GD order 3 < 5 s.
"""
from __future__ import annotations

import argparse
import json
import platform
import signal
import time

import sympy as sp

import bea
from bea import moments, ode

TARGETS = [
    ("adam order 1, abstract", dict(optimizer="adam", order=1), 2.0),
    ("adam order 2, 1-D", dict(optimizer="adam", order=2, dim=1), 30.0),
    ("gd order 3, abstract", dict(optimizer="gd", order=3), 5.0),
    ("gd order 3, 2-D", dict(optimizer="gd", order=3, dim=2), 5.0),
]


def loss(dim):
    xs = sp.symbols(f"x1:{dim + 1}", real=True)
    quad = sum((i + 1) * x**2 for i, x in enumerate(xs)) / 2
    coupling = sum(xs[i] * xs[i + 1] for i in range(dim - 1)) / 3
    return quad + coupling + sum(x**4 for x in xs) / 10 + sp.cos(sum(xs)) / 4, xs


class TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise TooSlow


def derive_time(optimizer, order, dim=None, stationary=False, repeat=1, limit=None):
    """Best time of ``repeat`` derivations from scratch; inf when one exceeds ``limit`` seconds."""
    if limit:
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(int(limit))
        try:
            return derive_time(optimizer, order, dim, stationary, repeat)
        except TooSlow:
            return float("inf")
        finally:
            signal.alarm(0)
    best = float("inf")
    for _ in range(repeat):
        ode.derive_abstract.cache_clear()
        ode.derive_concrete.cache_clear()
        moments.moment.cache_clear()
        sp.core.cache.clear_cache()
        start = time.perf_counter()
        if dim is None:
            bea.modified_ode(optimizer, order=order, stationary=stationary)
        else:
            E, xs = loss(dim)
            bea.modified_ode(optimizer, E, xs, order=order, stationary=stationary)
        best = min(best, time.perf_counter() - start)
    return best


def batch_time(optimizer, order, dim, batches=3):
    """Seconds to derive the cyclic mini-batch fields on ``batches`` shifted copies of the loss."""
    ode.derive_concrete.cache_clear()
    sp.core.cache.clear_cache()
    E, xs = loss(dim)
    losses = [E.subs(xs[0], xs[0] - sp.Rational(k, 2)) for k in range(batches)]
    start = time.perf_counter()
    bea.cyclic_ode(optimizer, losses, xs, order=order)
    return time.perf_counter() - start


#: every registered optimizer with a modified equation beyond order 0 (AdaGrad's accumulator has none)
FAMILIES = [name for name, entry in bea.REGISTRY.items() if not entry().never_forgets()]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="abandon a derivation after this long and stop growing its family")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--out", help="write the numbers as JSON here")
    p.add_argument("--only", nargs="+", choices=FAMILIES, default=FAMILIES, help="optimizers to time")
    p.add_argument("--max-order", type=int, default=4)
    args = p.parse_args()
    results = {"machine": platform.platform(), "python": platform.python_version(), "sympy": sp.__version__,
               "targets": [], "growth": []}
    print(f"{'case':<28}{'seconds':>10}{'target':>10}")
    for name, case, target in TARGETS:
        t = derive_time(**case, repeat=args.repeat)
        results["targets"].append({"case": name, "seconds": t, "target": target})
        print(f"{name:<28}{t:>10.2f}{target:>10.1f}  {'ok' if t < target else 'SLOW'}", flush=True)
    print(f"\n{'optimizer':<12}{'regime':<12}{'dim':>5}{'order':>7}{'seconds':>10}")
    for optimizer in args.only:
        for dim in [None, 1, 2, 3]:
            for stationary in [True, False]:
                for order in range(0, args.max_order + 1):
                    t = derive_time(optimizer, order, dim, stationary, args.repeat, limit=args.max_seconds)
                    regime = "n→∞" if stationary else "finite n"
                    results["growth"].append({"optimizer": optimizer, "dim": dim or "abstract", "order": order,
                                              "regime": regime, "seconds": t})
                    shown = f"{t:>10.2f}" if t < float("inf") else f"{'>' + str(int(args.max_seconds)):>10}"
                    print(f"{optimizer:<12}{regime:<12}{dim or 'abs':>5}{order:>7}{shown}", flush=True)
                    if t > args.max_seconds:
                        break
    print(f"\n{'cyclic, 3 batches':<24}{'dim':>5}{'order':>7}{'seconds':>10}")
    results["batches"] = []
    for optimizer, orders in [("gd", range(4)), ("adam", range(2)), ("lion", range(2))]:
        for dim in [1, 2, 3]:
            for order in orders:
                t = batch_time(optimizer, order, dim)
                results["batches"].append({"optimizer": optimizer, "dim": dim, "order": order, "seconds": t})
                print(f"{optimizer:<24}{dim:>5}{order:>7}{t:>10.2f}", flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
