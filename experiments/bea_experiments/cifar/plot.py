"""Paper-style figures of a sweep folder: test accuracy and the perturbed one-norm against the swept value,
and the one-norm over training for every run."""
from __future__ import annotations

import json
from pathlib import Path

from bea.atomic import save_figure, write_atomic
from bea.errors import BeaError


def read_runs(folder: Path):
    """[(key, value, config, log rows)] for every KEY=VALUE subfolder with a log, sorted by value."""
    runs = []
    for sub in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        if "=" not in sub.name or not (sub / "log.jsonl").is_file():
            continue
        key, value = sub.name.split("=", 1)
        rows = [json.loads(line) for line in (sub / "log.jsonl").read_text().splitlines() if line.strip()]
        config = json.loads((sub / "config.json").read_text()) if (sub / "config.json").is_file() else {}
        runs.append((key, float(value), config, rows))
    if not runs:
        raise BeaError(f"{folder}: no KEY=VALUE run folders with a log.jsonl (run `bea experiment sweep` first)")
    return sorted(runs, key=lambda r: r[1])


def plot_sweep(folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = read_runs(folder)
    key = runs[0][0]
    summary = ["value,steps,final_train_loss,final_test_acc,final_one_norm_eps,final_grad_l1,diverged"]
    xs, accs, norms, l1s = [], [], [], []
    fig2, (ax2, ax3) = plt.subplots(1, 2, figsize=(11, 4))
    for _, value, _, rows in runs:
        steps = [r for r in rows if "step" in r]
        tests = [r for r in steps if "test_acc" in r]
        diverged = any("note" in r for r in rows)
        last = steps[-1]
        acc = tests[-1]["test_acc"] if tests else float("nan")
        summary.append(f"{value:g},{last['step']},{last['train_loss']:.6g},{acc:.6g},{last['one_norm_eps']:.6g},"
                       f"{last['grad_l1']:.6g},{diverged}")
        if not diverged:
            xs.append(value)
            accs.append(acc)
            norms.append(last["one_norm_eps"])
            l1s.append(last["grad_l1"])
        ax2.plot([r["step"] for r in steps], [r["one_norm_eps"] for r in steps], label=f"{key} = {value:g}")
        ax3.plot([r["step"] for r in steps], [r["grad_l1"] for r in steps], label=f"{key} = {value:g}")
    ax2.set_ylabel("perturbed one-norm ‖∇E‖_{1,ε}")
    ax3.set_ylabel("‖∇E‖₁")
    for ax in (ax2, ax3):
        ax.set_xlabel("full-batch step")
        ax.set_yscale("log")
    ax2.legend(fontsize=8)
    fig2.tight_layout()
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 4))
    decay = key in ("rho", "beta") and all(0 <= v < 1 for v in xs)
    x = [1 - v for v in xs] if decay else xs  # decays near 1 read best as 1 − value on a log axis
    a.plot(x, accs, "o-")
    a.set_ylabel("test accuracy (last evaluation)")
    b.plot(x, norms, "o-")
    b.set_ylabel("‖∇E‖_{1,ε} at the last step")
    c.plot(x, l1s, "o-")
    c.set_ylabel("‖∇E‖₁ at the last step")
    for ax in (a, b, c):
        ax.set_xlabel(f"1 − {key}" if decay else key)
        if decay:
            ax.set_xscale("log")
    fig.tight_layout()
    folder = Path(folder)
    return [save_figure(fig, folder / "sweep.png"), save_figure(fig2, folder / "one_norm.png"),
            write_atomic(folder / "summary.csv", "\n".join(summary) + "\n")]
