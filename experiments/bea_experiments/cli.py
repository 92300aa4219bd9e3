"""``bea experiment …``: the experiments' subcommands, registered with bea's command line.

bea finds them through the ``bea.commands`` entry point that experiments/pyproject.toml
declares (``experiment = "bea_experiments.cli:register"``); bea itself never imports this
package.  ``bea experiment separable`` writes the figures of docs/separable.md; ``cifar``,
``sweep`` and ``plot`` are in :mod:`bea_experiments.cifar.cli`.
"""
from __future__ import annotations

from pathlib import Path

from bea.errors import BeaError

from .cifar.cli import add_parsers as add_cifar_parsers


def register(subparsers):
    """Add the ``experiment`` command to the ``bea`` parser's subcommands."""
    e = subparsers.add_parser("experiment", help="validation experiments (separable data, CIFAR)")
    esub = e.add_subparsers(dest="experiment", required=True)
    sep = esub.add_parser("separable", help="max-margin directions of adaptive optimizers on separable data")
    sep.add_argument("--figure", required=True, help="incremental, signum, eps_effect, adagrad, toy_hinf, "
                                                    "engine, network, or all")
    sep.add_argument("--out", default="docs/figures/separable", help="folder for NAME.png and NAME.json")
    sep.add_argument("--quick", action="store_true", help="short horizons (a smoke run, not the documented figure)")
    sep.set_defaults(func=cmd_separable)
    add_cifar_parsers(esub)
    me = esub.add_parser("modified-equation", help="the modified equation checked on a real network: global-error "
                                                   "slopes of the order-0, 1, 2 flows against full-batch iterates")
    me.add_argument("--optimizer", default="all", help="adam, heavy_ball, rmsprop, a comma-separated list of them, or all (their documented settings)")
    me.add_argument("--out", default="docs/figures/modified_equation", help="folder for NAME/, slopes.png, table.md")
    me.add_argument("--data-dir", default="../shared/data", help="folder holding cifar-10-batches-py/")
    me.add_argument("--T", type=float, default=None, help="horizon (default 0.2)")
    me.add_argument("--h-max", type=float, default=None, help="largest step size (default 0.004)")
    me.add_argument("--levels", type=int, default=None, help="step sizes h_max, h_max/2, … (default 3)")
    me.add_argument("--images", type=int, default=None, help="training images (default 128)")
    me.set_defaults(func=cmd_modified_equation)


def cmd_modified_equation(args):
    from .modified_equation import PRESETS, run_all

    names = list(PRESETS) if args.optimizer == "all" else args.optimizer.split(",")
    overrides = {k: v for k, v in dict(T=args.T, h_max=args.h_max, levels=args.levels, images=args.images).items()
                 if v is not None}
    for path in run_all(names, Path(args.out), data_dir=args.data_dir, **overrides):
        print(f"wrote {path}")


def cmd_separable(args):
    from bea.atomic import writable_folder

    from .separable.figures import FIGURES

    if args.figure != "all" and args.figure not in FIGURES:
        raise BeaError(f"unknown figure {args.figure!r}; known: {', '.join(FIGURES)}, all")
    names = list(FIGURES) if args.figure == "all" else [args.figure]
    writable_folder(args.out)
    for name in names:
        FIGURES[name](Path(args.out), quick=args.quick)
        print(f"wrote {Path(args.out) / (name + '.png')} and {name}.json")
