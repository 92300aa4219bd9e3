"""The named figures of the separable-data study: ``bea experiment separable --figure NAME``.

Each figure function runs its experiments, writes NAME.png and NAME.json (the settings
and the final numbers) into ``out`` and returns that summary.  ``quick=True`` runs
the same code with short horizons (for tests and smoke runs).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tqdm import tqdm

from bea.atomic import save_figure, write_atomic
from bea.errors import BeaWarning

from . import data, margins, toy
from .train import Settings, loss_value, train


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves(run, Z, refs: dict) -> dict:
    """Cosine to each reference direction, normalized ℓ2/ℓ∞ margins, loss and ‖w‖ along a run."""
    out = {"loss": [loss_value(Z, w, run.settings.loss) for w in run.w],
           "‖w‖": [float(np.linalg.norm(w)) for w in run.w]}
    out |= {f"cos {k}": [margins.cosine(w, r) if np.any(w) else 0.0 for w in run.w] for k, r in refs.items()}
    for p, name in ((2, "ℓ2"), (np.inf, "ℓ∞")):
        star = margins.normalized_margin(refs[name], Z, p)
        out[f"{name} margin ratio"] = [margins.normalized_margin(w, Z, p) / star if np.any(w) else 0.0 for w in run.w]
    return out


def _references(Z):
    face = margins.linf_face(Z)
    refs = {"ℓ2": margins.l2_max_margin(Z), "ℓ∞": face.w, "proxy": margins.proxy_fixed_point(Z).w}
    return refs, face


def _save(out, name, fig, summary) -> dict:
    out = Path(out)
    save_figure(fig, out / f"{name}.png")
    write_atomic(out / f"{name}.json", json.dumps(summary, indent=1, default=float, ensure_ascii=False))
    return summary


def incremental(out, quick=False):
    """Full-batch Adam → ℓ∞; per-sample Adam → the proxy direction (ℓ2 on SR data); GD → ℓ2."""
    plt = _plt()
    epochs = 300 if quick else 10_000
    datasets = {"Gaussian N=10, d=20": data.gaussian(), "scaled Rademacher N=6, d=10": data.scaled_rademacher()}
    fig, axes = plt.subplots(2, 3, figsize=(15, 7), sharex=True)
    summary = {"epochs": epochs, "datasets": {}}
    for row, (dname, Z) in enumerate(datasets.items()):
        N = len(Z)
        refs, face = _references(Z)
        runs = {
            "full-batch Adam": Settings("adam", epochs, beta2=0.99),
            "per-sample Adam (cyclic)": Settings("adam", epochs * N, beta2=0.99, batch=1),
            "per-sample Adam (shuffled)": Settings("adam", epochs * N, beta2=0.99, batch=1, order="shuffle"),
            "GD": Settings("gd", epochs),
        }
        entry = {"ℓ∞ face spread (1 − cos)": face.spread, "cos(proxy, ℓ2)": margins.cosine(refs["proxy"], refs["ℓ2"]),
                 "runs": {}}
        for label, s in tqdm(runs.items(), desc=f"incremental: {dname}", leave=False):
            run = train(Z, s)
            c = curves(run, Z, refs)
            x = run.steps / (1 if s.batch is None else N)  # epochs
            axes[row, 0].semilogx(x[1:], c["cos ℓ2"][1:], label=label)
            key = "cos ℓ∞" if face.unique else "ℓ∞ margin ratio"
            axes[row, 1].semilogx(x[1:], c[key][1:], label=label)
            axes[row, 2].semilogx(x[1:], c["cos proxy"][1:], label=label)
            entry["runs"][label] = {"settings": asdict(s)} | {k: v[-1] for k, v in c.items()}
        axes[row, 0].set_ylabel(f"{dname}\ncos(w, ℓ2 max-margin)")
        axes[row, 1].set_ylabel("cos(w, ℓ∞ max-margin)" if face.unique else "ℓ∞ margin / optimum (ℓ∞ face not unique)")
        axes[row, 2].set_ylabel("cos(w, AdamProxy fixed point)")
        for ax in axes[row]:
            ax.set_ylim(max(-0.2, ax.get_ylim()[0]), 1.02)
        summary["datasets"][dname] = entry
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("logistic loss, η_t = 0.1/√(t+2), β₁ = 0.9, β₂ = 0.99, ε = 0, no bias correction, w₀ = 0", fontsize=9)
    fig.tight_layout()
    return _save(out, "incremental", fig, summary)


def _two_panels(out, name, Z, runs, keys, ylabels, title, steps):
    """Train each (label, settings, line style) on Z; plot curves[keys[0]] and curves[keys[1]] against the step."""
    plt = _plt()
    refs, _ = _references(Z)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    summary = {"steps": steps, "runs": {}}
    for label, s, style in tqdm(runs, desc=name, leave=False):
        run = train(Z, s)
        c = curves(run, Z, refs)
        for ax, key in zip(axes, keys):
            ax.semilogx(run.steps[1:], c[key][1:], style, label=label)
        summary["runs"][label] = {"settings": asdict(s)} | {k: v[-1] for k, v in c.items()}
    for ax, ylabel in zip(axes, ylabels):
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(out, name, fig, summary)


def signum(out, quick=False):
    """Signum → ℓ∞ for every batch size once β is near 1 and the run ≫ 1/(1−β) steps."""
    steps = 20_000 if quick else 300_000
    Z = data.gaussian()
    runs = [(f"β = {beta}, batch {batch or len(Z)}", Settings("signum", steps, beta1=beta, batch=batch, lr=0.1), "-")
            for beta, batch in [(0.999, 1), (0.999, 5), (0.999, None), (0.9, 1)]]
    return _two_panels(out, "signum", Z, runs, ("ℓ∞ margin ratio", "cos ℓ2"),
                       ("ℓ∞ margin / optimum", "cos(w, ℓ2 max-margin)"),
                       "Signum on Gaussian data (N = 10, d = 20), η_t = 0.1/√(t+2)", steps)


def eps_effect(out, quick=False):
    """Full-batch Adam: ε = 0 goes to ℓ∞; ε > 0 turns it GD-like late and pulls it toward ℓ2."""
    steps = 10_000 if quick else 200_000
    runs = [(f"ε = {eps:g}" + (" outside √" if outside else (" inside √" if eps else "")),
             Settings("adam", steps, beta2=0.99, eps=eps, eps_outside=outside), "--" if outside else "-")
            for eps in (0.0, 1e-8, 1e-6, 1e-4) for outside in ((False, True) if eps else (False,))]
    return _two_panels(out, "eps_effect", data.gaussian(), runs, ("cos ℓ∞", "cos ℓ2"),
                       ("cos(w, ℓ∞ max-margin)", "cos(w, ℓ2 max-margin)"),
                       "full-batch Adam on Gaussian data, β₁ = 0.9, β₂ = 0.99, η_t = 0.1/√(t+2)", steps)


def adagrad(out, quick=False):
    """Linear model: AdaGrad → its own h_∞-weighted ℓ2 max-margin (init-dependent); RMSProp → ℓ2."""
    plt = _plt()
    steps = 20_000 if quick else 1_000_000
    inits = 3 if quick else 6
    Z = data.gaussian()
    w2 = margins.l2_max_margin(Z)
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    summary = {"steps": steps, "runs": []}
    for k in tqdm(range(inits), desc="adagrad: initializations", leave=False):
        w0 = rng.uniform(-3, 3, size=Z.shape[1])
        ada = train(Z, Settings("adagrad", steps, lr=0.1, decay=0.0, eps=1e-5), w0=w0)
        weighted = margins.weighted_l2_max_margin(Z, np.sqrt(1e-5 + ada.accumulator))
        rms = train(Z, Settings("adam", steps, lr=0.1, decay=0.0, beta1=0.0, beta2=0.9, eps=1e-5), w0=w0)
        cw = [margins.cosine(w, weighted) for w in ada.w]
        c2 = [margins.cosine(w, w2) for w in ada.w]
        r2 = [margins.cosine(w, w2) for w in rms.w]
        ax.semilogx(ada.steps[1:], cw[1:], "r-", alpha=0.7, label="AdaGrad vs its weighted SVM" if k == 0 else None)
        ax.semilogx(ada.steps[1:], c2[1:], "r:", alpha=0.7, label="AdaGrad vs ℓ2 SVM" if k == 0 else None)
        ax.semilogx(rms.steps[1:], r2[1:], "b-", alpha=0.7, label="RMSProp vs ℓ2 SVM" if k == 0 else None)
        summary["runs"].append({"init": k, "cos(AdaGrad, weighted SVM)": cw[-1], "cos(AdaGrad, ℓ2)": c2[-1],
                                "cos(RMSProp, ℓ2)": r2[-1],
                                "cos(weighted SVM, ℓ2)": margins.cosine(weighted, w2)})
    ax.set_xlabel("step")
    ax.set_ylabel("cosine similarity")
    ax.legend(fontsize=8)
    ax.set_title(f"linear logistic model, Gaussian data, {inits} initializations w₀ ~ U(−3, 3)^d, η = 0.1, ε = 1e-5",
                 fontsize=9)
    fig.tight_layout()
    return _save(out, "adagrad", fig, summary)


def toy_hinf(out, quick=False):
    """Wang et al.'s 3-parameter toy: directions of h_∞^{-1/2} and normalized margins per optimizer."""
    plt = _plt()
    steps, runs = (500, 20) if quick else (5000, 100)
    X, y = toy.dataset()
    rng = np.random.default_rng(0)
    theta0 = rng.uniform(-1, 1, size=(runs, 3))
    fig = plt.figure(figsize=(11, 4.5))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    axm = fig.add_subplot(1, 2, 2)
    iso = np.ones(3) / np.sqrt(3)
    summary = {"steps": steps, "runs": runs, "optimizers": {}}
    for name, colour, lr in [("adagrad", "r", 0.1), ("rmsprop", "b", 0.1), ("adam_nomomentum", "k", 0.1)]:
        theta, A = toy.train(name, theta0, X, y, steps, lr=lr)
        d = toy.h_direction(A)
        m = toy.normalized_margin(theta, X, y)
        ok = m > 0
        ax3.quiver(0, 0, 0, d[ok, 0], d[ok, 1], d[ok, 2], color=colour, alpha=0.3, length=1.0)
        axm.hist(m[ok], bins=20, alpha=0.5, color=colour, label=name)
        cos_iso = d[ok] @ iso
        summary["optimizers"][name] = {"separated runs": int(ok.sum()), "median normalized margin": float(np.median(m[ok])),
                                       "cos(h direction, isotropic) min": float(cos_iso.min()),
                                       "cos(h direction, isotropic) mean": float(cos_iso.mean())}
    ax3.quiver(0, 0, 0, *iso, color="g", length=1.0, linewidth=2)
    ax3.set_title("directions of h_∞^{-1/2} (green: isotropic)", fontsize=9)
    axm.set_xlabel("normalized margin min_i y_i Φ(θ; x_i) / ‖θ‖²")
    axm.legend(fontsize=8)
    fig.tight_layout()
    return _save(out, "toy_hinf", fig, summary)


FIGURES = {"incremental": incremental, "signum": signum, "eps_effect": eps_effect, "adagrad": adagrad,
           "toy_hinf": toy_hinf}


def engine(out, quick=False):
    """What bea's modified equations say: per-sample vs full-batch Adam on a 2-D separable problem.

    The cyclic (per-sample) piecewise ODE and the full-batch ODE, both derived by bea and
    integrated, against the two iterate sequences: the direction angle of w over training.
    Right: the size of the first correction, h‖F̄₁‖/‖F̄₀‖ (cycle means), along the run for
    several β₂: the expansion needs it ≪ 1, i.e. h ≪ 1 − β₂."""
    import sympy as sp

    import bea
    from bea.minibatch import iterate_batches
    from bea.numeric import function

    plt = _plt()
    Z = np.array([[1.0, 0.3], [0.2, 1.5], [0.8, 0.9]])
    w = sp.symbols("w1 w2", real=True)
    losses = [sp.log(1 + sp.exp(-(sp.Rational(str(z[0])) * w[0] + sp.Rational(str(z[1])) * w[1]))) for z in Z]
    h, steps = 0.01, (600 if quick else 6000)
    params = dict(beta=0.5, rho=0.9, eps=1e-10)
    per_sample = bea.cyclic_ode("adam", losses, w, order=1, h=h, **params)
    full = bea.modified_ode("adam", sum(losses) / 3, w, order=1, h=h, stationary=True, **params)
    start = np.zeros(2)
    runs = {
        "per-sample Adam (iterates)": iterate_batches("adam", losses, w, start, steps, h, bias_correction=False,
                                                      **params),
        "per-sample Adam (bea's cyclic ODE)": bea.integrate(per_sample, start, steps),
        "full-batch Adam (iterates)": bea.iterate("adam", sum(losses) / 3, w, start, steps, h, bias_correction=False,
                                                  **params),
        "full-batch Adam (bea's ODE)": bea.integrate(full, start, steps),
    }
    refs, face = _references(Z)
    fig, (ax, axr) = plt.subplots(1, 2, figsize=(11, 4.2))
    angle = lambda W: np.degrees(np.arctan2(W[:, 1], W[:, 0]))  # noqa: E731
    t = np.arange(steps + 1)
    summary = {"h": h, "steps": steps, "params": params, "final angle (degrees)": {}, "references (degrees)": {}}
    for (label, W), style in zip(runs.items(), ["b-", "c--", "r-", "m--"]):
        ax.semilogx(t[1:], angle(W)[1:], style, label=label)
        summary["final angle (degrees)"][label] = float(angle(W)[-1])
    by_angle = {}
    for name, r in refs.items():
        a = float(np.degrees(np.arctan2(r[1], r[0])))
        summary["references (degrees)"][name] = a
        by_angle.setdefault(round(a, 3), []).append(name)
    for a, names in by_angle.items():
        ax.axhline(a, color="gray", lw=0.8, ls=":")
        ax.text(1.2, a, " = ".join(names), fontsize=8, va="bottom")
    summary["max gap, ODE vs iterates (per-sample, full-batch)"] = [
        float(np.max(np.linalg.norm(runs["per-sample Adam (iterates)"] - runs["per-sample Adam (bea's cyclic ODE)"], axis=1))),
        float(np.max(np.linalg.norm(runs["full-batch Adam (iterates)"] - runs["full-batch Adam (bea's ODE)"], axis=1)))]
    ax.set_xlabel("step")
    ax.set_ylabel("direction of w (degrees)")
    ax.legend(fontsize=7)
    ax.set_title(f"h = {h}, β₁ = {params['beta']}, β₂ = {params['rho']}, ε = {params['eps']:g}", fontsize=9)
    along = runs["per-sample Adam (iterates)"][:: max(1, steps // 40)]
    summary["h‖F̄1‖/‖F̄0‖ median"] = {}
    for rho in (0.9, 0.99, 0.999):
        cyc = bea.cyclic_ode("adam", losses, w, order=1, h=h, **(params | {"rho": rho}))
        f0 = [function([list(w)], list(cyc.terms[r][0])) for r in range(3)]
        f1 = [function([list(w)], list(cyc.terms[r][1])) for r in range(3)]
        ratio = [h * np.linalg.norm(np.mean([np.array(f(p), float) for f in f1], axis=0))
                 / np.linalg.norm(np.mean([np.array(f(p), float) for f in f0], axis=0)) for p in along]
        axr.loglog(np.arange(len(along))[1:] * max(1, steps // 40), ratio[1:], label=f"β₂ = {rho} (h/(1−β₂) = {h / (1 - rho):.2g})")
        summary["h‖F̄1‖/‖F̄0‖ median"][str(rho)] = float(np.median(ratio))
    axr.axhline(1, color="k", lw=0.8)
    axr.xaxis.set_minor_formatter(plt.NullFormatter())
    axr.set_xlabel("step (points of the per-sample run)")
    axr.set_ylabel("h‖F̄₁‖ / ‖F̄₀‖")
    axr.legend(fontsize=8)
    fig.tight_layout()
    return _save(out, "engine", fig, summary)


FIGURES["engine"] = engine


def _cached_run(path: Path):
    """A network run's history saved at ``path`` ({metric: [numbers per logged step]}), or None (with a
    warning if a file is there but is not one): a cache is recomputed, never trusted blindly."""
    if not path.is_file():
        return None
    try:
        hist = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        hist = None
    keys = {"step", "loss", "train_acc", "test_acc", "margin"}  # what network.train records
    if not (isinstance(hist, dict) and set(hist) == keys and all(isinstance(v, list) and v for v in hist.values())
            and len({len(v) for v in hist.values()}) == 1
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for v in hist.values() for x in v)):
        warnings.warn(f"ignoring the cached run {str(path)!r}: it is not one; running it again", BeaWarning,
                      stacklevel=2)
        return None
    return hist


def network(out, quick=False, data_dir="../shared/data"):
    """Homogeneous CNN on airplane vs automobile: normalized margin and test accuracy per optimizer and ε.

    Each finished run is kept in out/network_runs/ (keyed by its settings) and reused, so an
    interrupted figure resumes where it stopped."""
    from . import network as net

    plt = _plt()
    n_train, steps, every = (64, 20, 5) if quick else (300, 2000, 20)
    data = net.two_classes(data_dir, n_train=n_train)
    configs = [("adagrad", 1e-2, 1e-10), ("rmsprop", 1e-3, 1e-8), ("adam_nomomentum", 1e-3, 1e-8),
               ("adam_nomomentum", 1e-3, 1e-4), ("adam_nomomentum", 1e-3, 1e-2)]
    cache = Path(out) / "network_runs"
    fig, (axm, axa) = plt.subplots(1, 2, figsize=(11, 4))
    summary = {"n_train": n_train, "n_test": int(len(data[3])), "steps": steps, "classes": "airplane (−1) vs automobile (+1)",
               "runs": {}}
    for name, lr, eps in tqdm(configs, desc="network runs", leave=False):
        key = f"{name}_lr{lr:g}_eps{eps:g}_n{n_train}_T{steps}"
        path = cache / f"{key}.json"
        hist = _cached_run(path)
        if hist is None:
            hist = net.train(name, data, steps, lr, eps, every=every)
            write_atomic(path, json.dumps(hist))
        label = f"{name}, lr {lr:g}, ε {eps:g}"
        x = np.array(hist["step"])
        axm.semilogx(x[1:], hist["margin"][1:], label=label)
        axa.semilogx(x[1:], hist["test_acc"][1:], label=label)
        summary["runs"][label] = {k: v[-1] for k, v in hist.items()} | {
            "first step with train accuracy 1": next((s for s, a in zip(hist["step"], hist["train_acc"]) if a == 1.0), None)}
    axm.set_ylabel("normalized margin min y f(x) / ‖θ‖³")
    axa.set_ylabel("test accuracy")
    for ax in (axm, axa):
        ax.set_xlabel("full-batch step")
    axm.legend(fontsize=7)
    fig.suptitle(f"bias-free CNN (3-homogeneous) on {n_train} CIFAR-10 images, logistic loss, PyTorch optimizers "
                 "(ε outside the root)", fontsize=9)
    fig.tight_layout()
    return _save(out, "network", fig, summary)


FIGURES["network"] = network
