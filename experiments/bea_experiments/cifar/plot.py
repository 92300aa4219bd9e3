"""Figures of a sweep folder, aggregated over seeds (mean ± standard deviation in every plot).

``sweep.png``: against the swept value, the test accuracy at equal training loss (the first
evaluation at which each run's train loss is at most L*, the largest final train loss of the
runs, so that every run reaches it), and the perturbed one-norm ‖∇E‖_{1,ε} and ‖∇E‖₁ there.
``one_norm.png``: ‖∇E‖_{1,ε}, ‖∇E‖₁ and the train loss over the steps, one band per value.
``summary.csv``: the same numbers.  ``paired.png`` / ``paired.csv``: the relative difference of
‖∇E‖_{1,ε} and ‖∇E‖₁ between each value and the first (smallest) one, run against run with the same
seed (the same initial weights), at equal train loss (interpolated between logged steps) on a grid
of loss levels, mean ± std over the seeds: the seeds' spread of the one-norm itself is far larger
than the effect of a hyperparameter, the paired difference is not.  A run that stopped counts up to
its last logged step, a corrected run only while its validity ratio is at most :data:`VALID`.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

from bea.atomic import save_figure, write_atomic
from bea.errors import BeaError, BeaWarning

from .logfile import read_log


def _number(text: str, cast):
    try:
        value = cast(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_runs(folder: Path):
    """{(key, value): [(seed, config, log rows)]} for every KEY=VALUE/seed=S run with a log of a CIFAR run,
    values sorted (a folder whose value or seed is not a number, or whose log is not one, is left out
    with a warning)."""
    runs = {}
    for sub in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        if "=" not in sub.name or not sub.is_dir():
            continue
        key, text = sub.name.split("=", 1)
        value = _number(text, float)
        if value is None:
            warnings.warn(f"ignoring {str(sub)!r}: {sub.name!r} is not KEY=NUMBER", BeaWarning, stacklevel=2)
            continue
        for seed_dir in sorted(sub.glob("seed=*")):
            seed = _number(seed_dir.name.split("=", 1)[1], int)
            if seed is None or not (seed_dir / "log.jsonl").is_file():
                continue
            rows = read_log(seed_dir / "log.jsonl")
            if rows is None or not any("step" in r for r in rows):
                continue
            try:
                config = json.loads((seed_dir / "config.json").read_text())
            except (OSError, ValueError):
                config = {}
            runs.setdefault((key, value), []).append((seed, config if isinstance(config, dict) else {}, rows))
    if not runs:
        raise BeaError(f"{folder}: no KEY=VALUE/seed=S run folders with a log.jsonl (run `bea experiment sweep` first)")
    return dict(sorted(runs.items(), key=lambda kv: kv[0][1]))


def at_loss(rows, level: float):
    """The first evaluated row whose train loss is at most ``level`` (None if none)."""
    return next((r for r in rows if "test_acc" in r and r["train_loss"] <= level), None)


def loss_level(*all_runs) -> float:
    """L*: the largest final train loss (at an evaluation) of the runs that finished, so that every one reaches it."""
    finished = [rows for runs in all_runs for seeds in runs.values() for _, _, rows in seeds
                if not any("note" in r for r in rows)]
    if not finished:
        raise BeaError("every run diverged or stopped: nothing to compare")
    return max(min(r["train_loss"] for r in rows if "test_acc" in r) for rows in finished)


def summarize(runs, level=None):
    """(L*, per value: the numbers of every seed at train loss L* and at the end)."""
    level = loss_level(runs) if level is None else level
    table = []
    for (key, value), seeds in runs.items():
        per_seed = []
        for seed, _, rows in seeds:
            steps = [r for r in rows if "step" in r]
            if any("note" in r for r in rows):
                continue
            hit = at_loss(steps, level)
            peak = max(steps, key=lambda r: r["one_norm_eps"])
            per_seed.append({"seed": seed, "test_acc_at_level": hit["test_acc"], "step_at_level": hit["step"],
                             "one_norm_at_level": hit["one_norm_eps"], "grad_l1_at_level": hit["grad_l1"],
                             "final_train_loss": steps[-1]["train_loss"], "final_one_norm": steps[-1]["one_norm_eps"],
                             "peak_one_norm": peak["one_norm_eps"], "peak_step": peak["step"]})
        table.append({"key": key, "value": value, "seeds": per_seed, "failed": len(seeds) - len(per_seed)})
    return level, table


def _stats(entry, name):
    xs = np.array([s[name] for s in entry["seeds"]], float)
    return (xs.mean(), xs.std(ddof=1) if xs.size > 1 else 0.0) if xs.size else (np.nan, np.nan)


def plot_sweep(folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = read_runs(folder)
    key = next(iter(runs))[0]
    level, table = summarize(runs)
    names = ["test_acc_at_level", "step_at_level", "one_norm_at_level", "grad_l1_at_level", "final_train_loss",
             "final_one_norm", "peak_one_norm", "peak_step"]
    lines = ["value,seeds,failed," + ",".join(f"{n}_mean,{n}_std" for n in names) + f",loss_level={level:.6g}"]
    for e in table:
        lines.append(f"{e['value']!r},{len(e['seeds'])},{e['failed']}," +
                     ",".join(f"{m:.6g},{s:.6g}" for m, s in (_stats(e, n) for n in names)))
    values = [e["value"] for e in table]
    decay = key in ("rho", "beta") and all(0 <= v < 1 for v in values)
    x = np.array([1 - v for v in values] if decay else values)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, name, label in zip(axes, ["test_acc_at_level", "one_norm_at_level", "grad_l1_at_level"],
                               [f"test accuracy at train loss ≤ {level:.3g}", "‖∇E‖_{1,ε} there", "‖∇E‖₁ there"]):
        mean, std = np.array([_stats(e, name) for e in table]).T
        ax.errorbar(x, mean, yerr=std, fmt="o-", capsize=3)
        ax.set_ylabel(label)
        ax.set_xlabel(f"1 − {key}" if decay else key)
        if decay:
            ax.set_xscale("log")
    seeds = sorted({len(e["seeds"]) for e in table})
    fig.suptitle(f"mean ± std over {'/'.join(map(str, seeds))} seeds", fontsize=9)
    fig.tight_layout()
    fig2, axes2 = plt.subplots(1, 3, figsize=(14, 4))
    for (k, value), seeds_runs in runs.items():
        ok = [[r for r in rows if "step" in r] for _, _, rows in seeds_runs if not any("note" in r for r in rows)]
        if not ok:
            continue
        length = min(len(rows) for rows in ok)
        steps = [r["step"] for r in ok[0][:length]]
        for ax, name in zip(axes2, ["one_norm_eps", "grad_l1", "train_loss"]):
            curves = np.array([[r[name] for r in rows[:length]] for rows in ok])
            mean, std = curves.mean(0), curves.std(0, ddof=1) if len(ok) > 1 else np.zeros(length)
            line, = ax.plot(steps, mean, label=f"{key} = {value!r} ({len(ok)} seeds)")
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.25)
    for ax, label in zip(axes2, ["perturbed one-norm ‖∇E‖_{1,ε}", "‖∇E‖₁", "train loss"]):
        ax.set_xlabel("full-batch step")
        ax.set_ylabel(label)
        ax.set_yscale("log")
    axes2[0].legend(fontsize=7)
    fig2.tight_layout()
    folder = Path(folder)
    paths = [save_figure(fig, folder / "sweep.png"), save_figure(fig2, folder / "one_norm.png"),
             write_atomic(folder / "summary.csv", "\n".join(lines) + "\n")]
    return paths + (plot_paired([folder], folder / "paired.png", folder / "paired.csv") if len(runs) > 1 else [])


def _label(runs, folder) -> str:
    config = next(iter(runs.values()))[0][1]
    c = config.get("correction", 0)
    return f"correction c = {c:g}" if c else f"plain ({Path(folder).name})"


def plot_comparison(folders, out: Path) -> Path:
    """Sweeps over the same setting side by side (e.g. plain, c = −1, c = +1), at one common train loss L*."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    all_runs = [read_runs(f) for f in folders]
    level = loss_level(*all_runs)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for runs, folder in zip(all_runs, folders):
        key = next(iter(runs))[0]
        _, table = summarize(runs, level)
        table = [e for e in table if e["seeds"]]
        values = [e["value"] for e in table]
        decay = key in ("rho", "beta") and all(0 <= v < 1 for v in values)
        x = np.array([1 - v for v in values] if decay else values)
        for ax, name in zip(axes, ["one_norm_at_level", "grad_l1_at_level", "test_acc_at_level"]):
            mean, std = np.array([_stats(e, name) for e in table]).T
            ax.errorbar(x, mean, yerr=std, fmt="o-", capsize=3, label=_label(runs, folder))
            ax.set_xlabel(f"1 − {key}" if decay else key)
            if decay:
                ax.set_xscale("log")
    for ax, label in zip(axes, ["‖∇E‖_{1,ε}", "‖∇E‖₁", "test accuracy"]):
        ax.set_ylabel(f"{label} at train loss ≤ {level:.3g}")
    axes[0].legend(fontsize=8)
    fig.suptitle("mean ± std over seeds", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, Path(out))


#: paired comparisons use a corrected run only while ‖hF₁‖/‖F₀‖ ≤ VALID (above it the first-order term is no
#: longer small against F₀: the derived correction does not describe what it does to the iterates).
VALID = 0.25


def _valid_part(rows, validity: float):
    """The rows before the first one whose validity ratio exceeds ``validity`` (all of a plain run's)."""
    end = next((i for i, r in enumerate(rows) if r.get("validity_ratio", 0) > validity), len(rows))
    return rows[:end]


def at_train_loss(rows, level: float, key: str):
    """``key`` where the train loss first reaches ``level``, linear between the two logged steps around it
    (None if it never does).

    >>> at_train_loss([{"step": 1, "train_loss": 2.0, "x": 10.0}, {"step": 2, "train_loss": 1.0, "x": 6.0}], 1.5, "x")
    8.0
    """
    previous = None
    for r in rows:
        if "step" not in r:
            continue
        if r["train_loss"] <= level:
            if previous is None:
                return r[key]
            w = (previous["train_loss"] - level) / (previous["train_loss"] - r["train_loss"])
            return previous[key] + w * (r[key] - previous[key])
        previous = r
    return None


def loss_range(runs) -> tuple[float, float]:
    """(the smallest first-step train loss, the lowest train loss every run reaches, valid or not)."""
    every = [rows for seeds in runs.values() for _, _, rows in seeds]
    every = [[r for r in rows if "step" in r] for rows in every]
    every = [rows for rows in every if rows]
    return min(rows[0]["train_loss"] for rows in every), max(min(r["train_loss"] for r in rows) for rows in every)


def paired(runs, points: int = 12, validity: float = VALID, span=None):
    """(loss levels, reference, {value: {key: array seeds × levels}}) of (q(value) − q(reference))/q(reference)
    for the one-norms, the reference the first value, pairs of runs with the same seed, NaN where one of the
    pair does not reach the level inside the validity range (a corrected run counts only up to the step
    before its validity ratio ‖hF₁‖/‖F₀‖ first exceeds ``validity``).  Levels: geometric over ``span``
    (default :func:`loss_range` of these runs), the first left out."""
    whole = {value: {seed: [r for r in rows if "step" in r] for seed, _, rows in seeds} for (_, value), seeds in runs.items()}
    top, bottom = loss_range(runs) if span is None else span
    logs = {value: {seed: _valid_part(rows, validity) for seed, rows in per_seed.items()} for value, per_seed in whole.items()}
    levels = np.geomspace(top, bottom, points)[1:]
    reference, *others = logs
    out = {}
    for value in others:
        seeds = sorted(set(logs[value]) & set(logs[reference]))
        out[value] = {}
        for key in ("one_norm_eps", "grad_l1"):
            table = np.full((len(seeds), len(levels)), np.nan)
            for i, seed in enumerate(seeds):
                for j, level in enumerate(levels):
                    a, b = at_train_loss(logs[value][seed], level, key), at_train_loss(logs[reference][seed], level, key)
                    if a is not None and b is not None:
                        table[i, j] = (a - b) / b
            out[value][key] = table
    return levels, reference, out


def plot_paired(folders, png: Path, csv: Path) -> list[Path]:
    """The paired differences (see the module docstring) of one sweep folder, or of several side by side
    (e.g. plain, c = −1, c = +1), as a figure and a CSV."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["sweep,value,reference,quantity,train_loss,mean,std,seeds"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    all_runs = [read_runs(folder) for folder in folders]
    spans = [loss_range(runs) for runs in all_runs]
    span = (min(a for a, _ in spans), max(b for _, b in spans))  # one grid for every folder
    for folder, runs in zip(folders, all_runs):
        key = next(iter(runs))[0]
        levels, reference, table = paired(runs, span=span)
        tag = f"{_label(runs, folder)}: " if len(folders) > 1 else ""
        for ax, name in zip(axes, ["one_norm_eps", "grad_l1"]):
            for value, per_key in table.items():
                t = per_key[name]
                count = np.sum(~np.isnan(t), axis=0)
                mean = np.array([np.nanmean(c) if k else np.nan for c, k in zip(t.T, count)])
                std = np.array([np.nanstd(c, ddof=1) if k > 1 else np.nan for c, k in zip(t.T, count)])
                line, = ax.plot(levels, 100 * mean, "o-", ms=3,
                                label=f"{tag}{key} = {value!r} vs {reference!r} ({t.shape[0]} seeds)")
                ax.fill_between(levels, 100 * (mean - std), 100 * (mean + std), color=line.get_color(), alpha=0.2)
                lines += [f"{Path(folder).name},{value!r},{reference!r},{name},{lv:.6g},{m:.6g},{sd:.6g},{k}"
                          for lv, m, sd, k in zip(levels, mean, std, count)]
    for ax, label in zip(axes, ["‖∇E‖_{1,ε}", "‖∇E‖₁"]):
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("train loss (training goes right)")
        ax.set_ylabel(f"{label}: % difference, same seed")
    axes[0].legend(fontsize=7)
    fig.suptitle("paired by seed, at equal train loss: mean ± std over seeds", fontsize=9)
    fig.tight_layout()
    return [save_figure(fig, Path(png)), write_atomic(Path(csv), "\n".join(lines) + "\n")]
