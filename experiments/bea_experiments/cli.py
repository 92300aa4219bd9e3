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


def cmd_separable(args):
    from .separable.figures import FIGURES

    if args.figure != "all" and args.figure not in FIGURES:
        raise BeaError(f"unknown figure {args.figure!r}; known: {', '.join(FIGURES)}, all")
    names = list(FIGURES) if args.figure == "all" else [args.figure]
    for name in names:
        FIGURES[name](Path(args.out), quick=args.quick)
        print(f"wrote {Path(args.out) / (name + '.png')} and {name}.json")
