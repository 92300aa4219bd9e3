"""Derivation timings: the engine's targets, growth with order and dimension, before and after.

    python benchmarks/derivation_times.py [--baseline REV] [--limit 60] [--out docs/figures/performance]

Every case runs in a fresh Python process (no cache carried over), once with the working tree's
bea and, with ``--baseline REV``, once with bea as it was at git revision REV (checked out into a
temporary worktree), so "before" and "after" are measured in the same run on the same machine.
A case is abandoned after ``--limit`` seconds.  Times are the CPU seconds of the derivation in
the child process (``time.process_time``; less sensitive to other load than wall time) and its
wall seconds.  ``--bseries`` also times the Python B-series package (``pip install BSeries``)
computing explicit Euler's modified equation to the same orders, in the same run.

Targets (issue "The engine at high order", a 2-core machine): GD abstract to h⁷ ≥ 10× faster than
the B-series package, to h⁸ ≤ 5 s; Adam abstract order 2 ≤ 1 s, order 3 ≤ 30 s (stationary and
finite n); Adam concrete order 3 in 3-D ≤ 3 s, order 4 in 2-D ≤ 60 s; reshuffled() on three
smooth 2-D batch losses ≤ 10 s.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (label, optimizer, order, dimension or None for abstract, stationary)
TARGETS = [
    ("gd h^7 abstract", "gd", 7, None, True),
    ("gd h^8 abstract", "gd", 8, None, True),
    ("gd h^9 abstract", "gd", 9, None, True),
    ("adam order 2 abstract, n→∞", "adam", 2, None, True),
    ("adam order 2 abstract, finite n", "adam", 2, None, False),
    ("adam order 3 abstract, n→∞", "adam", 3, None, True),
    ("adam order 3 abstract, finite n", "adam", 3, None, False),
    ("adam order 3 concrete 3-D, finite n", "adam", 3, 3, False),
    ("adam order 4 concrete 2-D, finite n", "adam", 4, 2, False),
]
sys.path.insert(0, str(ROOT))
from bea.atomic import write_atomic  # noqa: E402
from bea.optimizers import REGISTRY  # noqa: E402  (the working tree's registry: every family it derives)

FAMILIES = [name for name, entry in REGISTRY.items() if not entry().never_forgets()]

CHILD = r"""
import json, sys, time
import sympy as sp
import bea
case = json.loads(sys.argv[1])

def loss(dim):
    xs = sp.symbols(f"x1:{dim + 1}", real=True)
    quad = sum((i + 1) * x**2 for i, x in enumerate(xs)) / 2
    coupling = sum(xs[i] * xs[i + 1] for i in range(dim - 1)) / 3
    return quad + coupling + sum(x**4 for x in xs) / 10 + sp.cos(sum(xs)) / 4, xs

if case["kind"] == "reshuffled":
    x, y = sp.symbols("x y", real=True)
    losses = [sp.log(1 + sp.exp(x + 2 * y - 1)) + x**2 / 2, sp.exp(x - y) / 3 + y**2,
              sp.sin(x) * sp.cos(y) + x**2 * y**2 / 5]
    start, wall = time.process_time(), time.perf_counter()
    bea.cyclic_ode("gd", losses, [x, y], order=1).reshuffled()
else:
    args = {} if case["dim"] is None else dict(zip(("loss", "variables"), loss(case["dim"])))
    start, wall = time.process_time(), time.perf_counter()
    bea.modified_ode(case["optimizer"], order=case["order"], stationary=case["stationary"], **args)
print(json.dumps({"cpu": time.process_time() - start, "wall": time.perf_counter() - wall}))
"""

BSERIES = r"""
import json, sys, time
import numpy as np, sympy
from BSeries import bs
order = int(sys.argv[1])
y = sympy.Symbol("y")
start, wall = time.process_time(), time.perf_counter()
bs.modified_equation(np.array([y]), np.array([sympy.Function("f")(y)]), np.array([[0]]), np.array([1]), order=order + 1)
print(json.dumps({"cpu": time.process_time() - start, "wall": time.perf_counter() - wall}))
"""


def run_child(code: str, arg: str, tree: Path | None, limit: float) -> dict | None:
    """Run ``code`` in a fresh interpreter importing bea from ``tree``; None when it exceeds ``limit``."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    try:
        done = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, timeout=limit,
                              env=env, cwd=tree or ROOT)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def shown(result, limit) -> str:
    if result is None:
        return f"> {limit:g}"
    if "error" in result:
        return "error"
    return f"{result['cpu']:.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", help="git revision to time as 'before' (e.g. the commit before the rewrite)")
    p.add_argument("--limit", type=float, default=60.0, help="seconds before a case is abandoned")
    p.add_argument("--bseries", action="store_true", help="also time the Python B-series package")
    p.add_argument("--families", action="store_true", help="also every family to order 3, abstract and 1-3 D")
    p.add_argument("--family-limit", type=float, default=20.0, help="seconds before a family case is abandoned")
    p.add_argument("--only", nargs="+", metavar="FAMILY", help="with --families: only these optimizers")
    p.add_argument("--cases", nargs="+", metavar="TEXT", help="only the cases whose label contains one of these")
    p.add_argument("--out", help="write derivation_times.json here (rewritten after every case, so a cut run keeps "
                                 "what it measured)")
    p.add_argument("--markdown", metavar="JSON", help="print the tables of docs/performance.md from a results file")
    args = p.parse_args()
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return
    trees = {"after": ROOT}
    tmp = None
    if args.baseline:
        tmp = tempfile.mkdtemp(prefix="bea-baseline-")
        subprocess.run(["git", "worktree", "add", "--detach", tmp, args.baseline], cwd=ROOT, check=True,
                       capture_output=True)
        trees = {"before": Path(tmp), "after": ROOT}
    results = {"machine": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
               "load_at_start": os.getloadavg(), "limit": args.limit, "family_limit": args.family_limit,
               "baseline": args.baseline, "rows": []}
    try:
        header = f"{'case':<40}" + "".join(f"{k + ' (cpu s)':>18}" for k in trees)
        if args.bseries:
            header += f"{'BSeries (cpu s)':>18}"
        print(header)
        cases = [("target", label, dict(kind="derive", optimizer=o, order=p_, dim=d, stationary=s))
                 for label, o, p_, d, s in TARGETS]
        cases.append(("target", "reshuffled(), 3 smooth 2-D batches", dict(kind="reshuffled")))
        if args.families:
            cases += [("family", f"{o} order {p_} {'abstract' if d is None else f'{d}-D'}, "
                                 f"{'n→∞' if s else 'finite n'}",
                       dict(kind="derive", optimizer=o, order=p_, dim=d, stationary=s))
                      for o in (args.only or FAMILIES) for d in (None, 1, 2, 3) for s in (True, False)
                      for p_ in range(4)]
        if args.cases:
            cases = [c for c in cases if any(text in c[1] for text in args.cases)]
        for group, label, case in cases:
            row = {"group": group, "case": label, **case}
            line = f"{label:<40}"
            limit = args.limit if group == "target" else args.family_limit
            for name, tree in trees.items():
                row[name] = run_child(CHILD, json.dumps(case), tree, limit)
                line += f"{shown(row[name], limit):>18}"
            if args.bseries and case.get("optimizer") == "gd" and case.get("dim") is None:
                row["bseries"] = run_child(BSERIES, str(case["order"]), None, limit)
                line += f"{shown(row['bseries'], limit):>18}"
            results["rows"].append(row)
            print(line, flush=True)
            if args.out:
                Path(args.out).mkdir(parents=True, exist_ok=True)
                write_atomic(Path(args.out) / "derivation_times.json", json.dumps(results, indent=1))
    finally:
        if tmp:
            subprocess.run(["git", "worktree", "remove", "--force", tmp], cwd=ROOT, capture_output=True)
    if args.out:
        print(f"wrote {Path(args.out) / 'derivation_times.json'}")


def markdown(results: dict) -> str:
    """The targets table and the per-family table (orders in columns) of a results file, as Markdown."""
    limit, family_limit = results["limit"], results.get("family_limit", 20.0)
    columns = [k for k in ("before", "after", "bseries") if any(k in r for r in results["rows"])]
    names = {"before": f"before ({results.get('baseline') or '-'})", "after": "after", "bseries": "BSeries"}
    out = ["| case | " + " | ".join(names[c] for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for r in results["rows"]:
        if r["group"] == "target":
            out.append(f"| {r['case']} | " + " | ".join(shown(r.get(c), limit) if c in r else "" for c in columns)
                       + " |")
    families = [r for r in results["rows"] if r["group"] == "family"]
    if families:
        out += ["", "| optimizer | mode | regime | " + " | ".join(f"p = {p} before / after" for p in range(4)) + " |",
                "|---" * 7 + "|"]
        keys = dict.fromkeys((r["optimizer"], r["dim"], r["stationary"]) for r in families)
        for o, d, s in keys:
            cells = {r["order"]: r for r in families if (r["optimizer"], r["dim"], r["stationary"]) == (o, d, s)}
            out.append(f"| {o} | {'abstract' if d is None else f'{d}-D'} | {'n→∞' if s else 'finite n'} | " + " | ".join(
                f"{shown(cells[p].get('before'), family_limit) if 'before' in cells[p] else '-'} / "
                f"{shown(cells[p].get('after'), family_limit)}" if p in cells else "" for p in range(4)) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
