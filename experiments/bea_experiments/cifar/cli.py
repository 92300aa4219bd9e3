"""``bea experiment cifar | sweep | plot``: flags generated from :class:`bea_experiments.cifar.config.Config`.

:func:`main` is the same ``cifar`` command on its own, for ``python -m bea_experiments.cifar.train``
(what ``torchrun`` launches).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path

from bea.errors import BeaError

HELP = {
    "out": "folder for config.json, log.jsonl/.csv and checkpoint.pt",
    "model": "resnet18, resnet50, resnet101, small_cnn or mlp (pooled 8×8 images, one tanh layer of --width units)",
    "dataset": "cifar10 or cifar100",
    "data_dir": "folder holding cifar-10-batches-py/ or cifar-100-python/ (official python format)",
    "train_size": "use the first N training images (default: all present)",
    "width": "channels of the first stage (64 in the papers)",
    "lr": "step size h",
    "beta": "first-moment decay β₁",
    "rho": "second-moment decay β₂",
    "eps_inside": "ε inside the square root (the paper's); --no-eps-inside puts it outside (PyTorch's)",
    "micro_batch": "images per forward pass; the gradients of all of them make one full-batch step",
    "norm": "ResNets: batch (BatchNorm, the papers') or group (GroupNorm: the loss is a sum over images)",
    "optimizer": "any built-in bea optimizer (bea list); its hyperparameters among --beta --rho --eps --lam, "
                 "others in --params",
    "params": "the optimizer's other hyperparameters as KEY=VALUE,... (e.g. c=50 for sam: radius c·lr)",
    "lam": "decoupled weight decay λ (adamw, nadam, lion)",
    "correction": "c: add c·h·(hF₁), the optimizer's derived O(h) term at step n, to every step "
                  "(−1 cancels the implicit term, 1 doubles it)",
    "correction_order": "1: c·h·(hF₁); 2: c·h·(hF₁ + h²F₂)",
    "max_validity": "stop when the validity ratio ‖hF₁‖/‖F₀‖ exceeds this (a warning above 0.1)",
    "amp": "bf16 autocast: off (the faithful default), on, auto (on with CUDA); --check-device measures its effect",
    "tf32": "TF32 matmuls on CUDA: off (default), on, auto",
    "deterministic": "deterministic algorithms on CUDA (bit-exact resume on the same GPU and software): "
                     "auto (off on CUDA, on a CPU always), on, off",
}


def _add_config_flags(p: argparse.ArgumentParser):
    from typing import get_type_hints

    from bea_experiments.cifar.config import Config

    hints = get_type_hints(Config)
    for f in dataclasses.fields(Config):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        if kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=HELP.get(f.name))
            continue
        base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
        default = None if f.default is dataclasses.MISSING else f.default
        p.add_argument(flag, type=base, required=f.default is dataclasses.MISSING,
                       help=(HELP.get(f.name, "") + f" (default {default})").strip())


def _cifar_flags(c: argparse.ArgumentParser):
    _add_config_flags(c)
    c.add_argument("--resume", action="store_true", help="continue from out/checkpoint.pt")
    c.add_argument("--check-device", action="store_true",
                   help="instead of training: a few steps with the fast settings (bf16, TF32, channels_last, compile) "
                        "and with the fp32 reference from the same weights; their agreement, images/s and MFU")
    c.set_defaults(func=cmd_cifar)


def add_parsers(esub):
    _cifar_flags(esub.add_parser("cifar", help="full-batch training on CIFAR (any bea optimizer, ResNets or a small CNN; torch)"))
    s = esub.add_parser("sweep", help="runs over one hyperparameter (rho with beta fixed, or beta with rho fixed)")
    _add_config_flags(s)
    s.add_argument("--over", required=True, choices=["rho", "beta", "eps", "lr", "lam", "correction"])
    s.add_argument("--values", required=True, help="comma-separated values, e.g. 0.9,0.99,0.999 (negative ones as --values=-1,1)")
    s.add_argument("--seeds", default=None, help="comma-separated seeds, one run each (default: --seed)")
    s.set_defaults(func=cmd_sweep)
    pl = esub.add_parser("plot", help="figures of a sweep folder, mean ± std over seeds (test accuracy at equal "
                                      "train loss and the one-norm against the value, the one-norm over training, "
                                      "the one-norm's difference to the first value paired by seed)")
    pl.add_argument("folder", nargs="+", help="a sweep folder; several: also their comparison (--out)")
    pl.add_argument("--out", default=None, help="the comparison figure, when several folders are given (also OUT_paired.png/.csv)")
    pl.set_defaults(func=cmd_plot)


def _config(args, **override):
    from bea_experiments.cifar.config import Config

    names = {f.name for f in dataclasses.fields(Config)}
    return Config(**({k: v for k, v in vars(args).items() if k in names and v is not None} | override))


def cmd_cifar(args):
    if args.check_device:
        from bea_experiments.cifar.check_device import check, report

        print(report(check(_config(args))))
        return
    from bea_experiments.cifar.train import run

    log = run(_config(args), resume=args.resume)
    last = log[-1]
    print(f"step {last['step']}: train loss {last['train_loss']:.4f}, train acc {last['train_acc']:.3f}, "
          f"‖∇E‖_1,ε {last['one_norm_eps']:.4g}; logs in {args.out}")


def cmd_sweep(args):
    from bea_experiments.cifar.sweep import sweep

    try:
        values = [float(v) for v in args.values.split(",") if v.strip()]
    except ValueError:
        raise BeaError(f"--values must be comma-separated numbers, got {args.values!r}") from None
    seeds = None
    if args.seeds:
        try:
            seeds = [int(v) for v in args.seeds.split(",") if v.strip()]
        except ValueError:
            raise BeaError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    for folder in sweep(_config(args), args.over, values, seeds):
        print(f"done: {folder}")


def cmd_plot(args):
    from bea_experiments.cifar.plot import plot_comparison, plot_paired, plot_sweep

    for folder in args.folder:
        for path in plot_sweep(Path(folder)):
            print(f"wrote {path}")
    if len(args.folder) > 1:
        if not args.out:
            raise BeaError("several folders: give --out for their comparison figure")
        folders, out = [Path(f) for f in args.folder], Path(args.out)
        print(f"wrote {plot_comparison(folders, out)}")
        for path in plot_paired(folders, out.with_name(out.stem + "_paired.png"), out.with_name(out.stem + "_paired.csv")):
            print(f"wrote {path}")


def main(argv=None, prog: str = "python -m bea_experiments.cifar.train") -> int:
    """One CIFAR run from the flags of ``bea experiment cifar``; bad settings end with one line and exit code 2."""
    p = argparse.ArgumentParser(prog=prog, description="Full-batch training on CIFAR (any bea optimizer; torch).")
    _cifar_flags(p)
    args = p.parse_args(argv)
    try:
        args.func(args)
    except BeaError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0
