"""The modified equation checked on a real network.

A tanh MLP (real CIFAR-10 images average-pooled to 8×8, 192 → ``hidden`` → 10, float64, a few
thousand parameters) is trained by a full-batch optimizer from zero state: the iterates θ_n are
the spec's own recursions (:func:`bea.iterate.run`) with the gradient computed by torch.  The
order-p modified flow θ̃ is integrated interval by interval (the fields depend on n) with DOP853
at tight tolerances, the field of step n evaluated on the network by :class:`bea.autodiff.AutodiffField`.
For step sizes h = h_max, h_max/2, …, the global error max_{n ≤ T/h} ‖θ_n − θ̃(nh)‖ should fall
like h^q with q the derived result's ``global_order`` (p + 1 here).

Guards: every h must be inside the validity range the tool reports (:func:`bea.verify.validity_warnings`,
h ≤ (1 − a)/5 for each state decay a), and the validity ratio max_n ‖hF₁‖/‖F₀‖ along the flow is
recorded.  The memory transient must also be short against the horizon (T/h_max ≫ 1/(1 − a)):
the finite-n coefficients run over b_n, which grows from 0 to its limit in about 1/(1 − a) steps,
and while n = t/h is inside the transient the error does not fall with h at fixed t (with
ρ = 0.99, T = 0.005 and h ≤ 5e-4, the order-0 slope was 0.3–0.5).  The integration error is
estimated at the smallest h by a second integration with at least two DOP853 steps per interval
(``max_step = h/2``; at rtol 1e-12 one step of length h usually passes the error test, so a
looser tolerance alone would repeat the same arithmetic): their difference estimates the error of
the first.  Results are cached per (order, h), written atomically, so an interrupted study resumes.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.integrate import solve_ivp

import bea
from bea.atomic import save_figure, write_atomic
from bea.autodiff import AutodiffField, ModelLoss
from bea.errors import BeaError
from bea.integrate import error_slope, global_error, step_sizes
from bea.iterate import run as iterate_spec
from bea.optimizers import build as build_spec
from bea.verify import validity_warnings

from .cifar import data as cifar_data

RTOL, ATOL = 1e-12, 1e-14

#: The documented studies: bias correction on, so that F₀ does not depend on n and the order-2
#: flow reaches global order 3; decays with a transient of ≤ 5 steps against T/h_max = 50.
PRESETS = {
    "adam": dict(beta=0.5, rho=0.8, eps=1e-2, bias_correction=True),
    "heavy_ball": dict(beta=0.8, bias_correction=True),
    "rmsprop": dict(rho=0.8, eps=1e-2, bias_correction=True),
}


@dataclass(frozen=True)
class Setup:
    """One study: the optimizer with its numbers, the network and data, the horizon and step sizes."""

    optimizer: str = "adam"
    params: dict = field(default_factory=lambda: dict(PRESETS["adam"]))
    images: int = 128
    hidden: int = 16
    T: float = 0.2
    h_max: float = 0.004
    levels: int = 3
    orders: tuple = (0, 1, 2)
    seed: int = 0
    data_dir: str = "../shared/data"

    def key(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


def network(setup: Setup):
    """(ModelLoss of the mean cross-entropy, θ₀) for the MLP on the first ``images`` training images."""
    split = cifar_data.load(setup.data_dir, "cifar10", "train", setup.images)
    x = torch.tensor(split.images, dtype=torch.float64) / 255.0
    x = torch.nn.functional.avg_pool2d(x, 4)
    x = (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), keepdim=True)
    x, y = x.flatten(1), torch.tensor(split.labels)
    torch.manual_seed(setup.seed)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], setup.hidden), torch.nn.Tanh(),
                                torch.nn.Linear(setup.hidden, 10)).double()
    loss = ModelLoss(model, lambda: torch.nn.functional.cross_entropy(model(x), y))
    return loss, loss.theta()


def iterates(setup: Setup, loss, theta0, h: float, steps: int) -> np.ndarray:
    """θ₀ … θ_steps of the optimizer (bea's spec, float64), gradients by torch."""
    spec, values = build_spec(setup.optimizer, dict(setup.params), require_all=True)
    gradient = torch.func.grad(loss.fn)
    return iterate_spec(spec.substitute(values), lambda n, th: gradient(torch.from_numpy(th)).numpy(),
                        theta0.numpy().copy(), steps, h)


def flow(field: AutodiffField, theta0, h: float, steps: int, max_step: float = np.inf):
    """θ̃(0), θ̃(h), …, θ̃(steps·h) and max_n ‖hF₁‖/‖F₀‖ along it (None at order 0)."""
    out = np.empty((steps + 1, theta0.numel()))
    out[0] = y = theta0.numpy()
    ratio = 0.0
    for n in range(steps):
        def rhs(t, y, n=n):
            return field.field(torch.from_numpy(y), n, h=h).numpy()

        sol = solve_ivp(rhs, (n * h, (n + 1) * h), y, method="DOP853", rtol=RTOL, atol=ATOL, max_step=max_step)
        if not sol.success or not np.all(np.isfinite(sol.y)):
            raise BeaError(f"integration of the modified flow failed on step {n}: {sol.message}")
        y = out[n + 1] = sol.y[:, -1]
        if field.ode.order >= 1:
            F = field.terms(torch.from_numpy(y), n)
            ratio = max(ratio, float(h * F[1].norm() / F[0].norm()))
    return out, (ratio if field.ode.order >= 1 else None)


def study(setup: Setup, out: Path, progress: bool = True) -> dict:
    """Errors for every order and step size (cached in out/cache.json); returns the results."""
    hs = step_sizes(setup.h_max, setup.levels)
    warnings = validity_warnings(setup.optimizer, hs, {k: v for k, v in setup.params.items() if k != "bias_correction"})
    if warnings:
        raise BeaError("; ".join(warnings) + " — choose a smaller --h-max")
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "cache.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    if cache.get("setup") != setup.key():
        cache = {"setup": setup.key(), "points": {}}
    loss, theta0 = network(setup)
    fields = {p: AutodiffField(bea.modified_ode(setup.optimizer, order=p, **setup.params), loss) for p in setup.orders}
    from tqdm import tqdm

    bar = tqdm(total=len(hs) * len(setup.orders), disable=not progress, desc=f"{setup.optimizer} slopes")
    for h in hs:
        steps = round(setup.T / h)
        todo = [p for p in setup.orders if f"{p}:{h!r}" not in cache["points"]]
        if not todo:
            bar.update(len(setup.orders))
            continue
        theta = iterates(setup, loss, theta0, h, steps)
        for p in todo:
            t0 = time.perf_counter()
            traj, ratio = flow(fields[p], theta0, h, steps)
            point = {"order": p, "h": h, "steps": steps, "error": global_error(theta, traj), "validity_ratio": ratio,
                     "seconds": time.perf_counter() - t0}
            if h == hs[-1]:  # the integrator's share at the smallest step size
                finer, _ = flow(fields[p], theta0, h, steps, max_step=h / 2)
                point["integration"] = global_error(finer, traj)
            cache["points"][f"{p}:{h!r}"] = point
            write_atomic(cache_path, json.dumps(cache, indent=1))
            bar.update(1)
    bar.close()
    return summarize(setup, cache, fields)


def summarize(setup: Setup, cache: dict, fields: dict) -> dict:
    hs = step_sizes(setup.h_max, setup.levels)
    result = {"setup": setup.key(), "parameters": int(next(iter(fields.values())).loss.theta().numel()),
              "hs": hs, "orders": {}}
    for p in setup.orders:
        points = [cache["points"][f"{p}:{h!r}"] for h in hs]
        slope = error_slope(lambda h, pts={pt["h"]: pt["error"] for pt in points}: pts[h], hs)
        result["orders"][str(p)] = {
            "errors": [pt["error"] for pt in points], "slope": slope.slope, "slope_last2": slope.last(2).slope,
            "expected": fields[p].ode.global_order, "integration": points[-1].get("integration"),
            "validity_ratio": max((pt["validity_ratio"] or 0.0) for pt in points) if p >= 1 else None,
        }
    return result


def table(result: dict) -> str:
    """A Markdown table of one study."""
    s = result["setup"]
    params = ", ".join(f"{k} = {v}" for k, v in s["params"].items())
    lines = [f"**{s['optimizer']}** ({params}), MLP 192-{s['hidden']}-10 ({result['parameters']:,} parameters), "
             f"{s['images']} images, T = {s['T']}", "",
             "| h | " + " | ".join(f"order {p}" for p in result["orders"]) + " |",
             "| --- |" + " --- |" * len(result["orders"])]
    for i, h in enumerate(result["hs"]):
        lines.append(f"| {h:g} | " + " | ".join(f"{r['errors'][i]:.2e}" for r in result["orders"].values()) + " |")
    lines.append("| slope (all / last two) | " + " | ".join(
        f"{r['slope']:.2f} / {r['slope_last2']:.2f}" for r in result["orders"].values()) + " |")
    lines.append("| expected (global order) | " + " | ".join(str(r["expected"]) for r in result["orders"].values()) + " |")
    lines.append("| integration error at the smallest h (estimate, max_step h/2) | " + " | ".join(
        f"{r['integration']:.1e}" for r in result["orders"].values()) + " |")
    lines.append("| max ‖hF₁‖/‖F₀‖ along the flow | " + " | ".join(
        "—" if r["validity_ratio"] is None else f"{r['validity_ratio']:.3f}" for r in result["orders"].values()) + " |")
    return "\n".join(lines)


def run_all(names, out: Path, progress: bool = True, **overrides) -> list[Path]:
    """Studies of the named optimizers (their PRESETS) in out/NAME/, then out/slopes.png and out/table.md."""
    results = []
    for name in names:
        if name not in PRESETS:
            raise BeaError(f"no documented study for {name!r}; known: {', '.join(PRESETS)}")
        setup = Setup(optimizer=name, params=dict(PRESETS[name]), **overrides)
        results.append(study(setup, out / name, progress))
        write_atomic(out / name / "study.json", json.dumps(results[-1], indent=1))
    text = "\n\n".join(table(r) for r in results) + "\n"
    return [plot(results, out / "slopes.png"), write_atomic(out / "table.md", text)]


def plot(results: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results), 4), squeeze=False)
    for ax, r in zip(axes[0], results):
        for p, o in r["orders"].items():
            ax.loglog(r["hs"], o["errors"], "o-", label=f"order {p}: slope {o['slope']:.2f} (expected {o['expected']})")
        ax.set_title(f"{r['setup']['optimizer']} on a CIFAR MLP ({r['parameters']:,} params)", fontsize=9)
        ax.set_xlabel("h")
        ax.set_ylabel("max_n ‖θ_n − θ̃(nh)‖")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
