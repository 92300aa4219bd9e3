"""The ``bea`` command line: list optimizers, print derived modified equations."""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from pathlib import Path

import sympy as sp

from . import display
from .errors import BeaError
from .ode import modified_ode
from .optimizers import REGISTRY, get


def _parse_params(items):
    """``k=v`` strings → dict; true/false become booleans, numbers stay exact."""
    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise BeaError(f"--param takes key=value, got {item!r}")
        low = raw.strip().lower()
        if low in ("true", "false"):
            out[key] = low == "true"
            continue
        try:
            out[key] = float(raw)
        except ValueError:
            raise BeaError(f"--param {key}: {raw!r} is not a number (or true/false)") from None
    return out


def _parse_loss(loss, names):
    if loss is None:
        if names:
            raise BeaError("--vars needs --loss")
        return None, None
    if not names:
        raise BeaError("--loss needs --vars, e.g. --loss '(x*y-1)**2/2' --vars x,y")
    variables = sp.symbols([n.strip() for n in names.split(",") if n.strip()], real=True)
    local = {str(v): v for v in variables}
    try:
        expr = sp.parse_expr(loss, local_dict=local)
    except (SyntaxError, TypeError, sp.SympifyError) as exc:
        raise BeaError(f"cannot parse --loss {loss!r}: {exc}") from None
    return expr, list(variables)


def cmd_list(args):
    width = max(map(len, REGISTRY))
    for name in REGISTRY:
        spec = get(name)
        hyper = ", ".join(hp.name for hp in spec.hyperparameters) or "-"
        opts = ", ".join(f"{k}={v}" for k, v in spec.options.items())
        print(f"{name:<{width}}  {spec.title}; hyperparameters: {hyper}" + (f"; options: {opts}" if opts else ""))


def _optimizer(args):
    """The optimizer named on the command line, or the spec file given with --spec."""
    if (args.optimizer is None) == (args.spec is None):
        raise BeaError("give an optimizer name (see `bea list`) or --spec FILE.toml, not both")
    if args.spec is None:
        return args.optimizer
    from .spec_file import load_spec

    return load_spec(args.spec)


def cmd_derive(args):
    params = _parse_params(args.param)
    if args.batch_loss:
        return _derive_batches(args, params)
    if args.reshuffled:
        raise BeaError("--reshuffled needs mini-batch losses (--batch-loss, one per batch)")
    loss, variables = _parse_loss(args.loss, args.vars)
    ode = modified_ode(_optimizer(args), loss, variables, order=args.order, h=args.h,
                       stationary=args.step is None and not args.finite, **params)
    if args.step is not None:
        ode = ode.at_step(args.step)
    out = {"pretty": display.pretty, "latex": display.latex, "json": display.to_json}[args.format](ode)
    print(out)


def _derive_batches(args, params):
    """Cyclic mini-batch fields (and their reshuffled mean with --reshuffled)."""
    from .minibatch import cyclic_ode

    if args.loss:
        raise BeaError("give either --loss or --batch-loss, not both")
    losses = [_parse_loss(E, args.vars)[0] for E in args.batch_loss]
    variables = _parse_loss(args.batch_loss[0], args.vars)[1]
    batch = cyclic_ode(_optimizer(args), losses, variables, order=args.order, h=args.h,
                       stationary=args.step is None and not args.finite, **params)
    print(batch.pretty())
    if args.reshuffled:
        mean = batch.reshuffled()
        print("\nrandom reshuffling each epoch: the expected epoch follows F̄ = (1/k) Σ_r F^(r)")
        for i, (F, V) in enumerate(zip(mean.terms, mean.potentials)):
            print(f"  F̄{i} = {list(F)}" + (f" = −∇({V})" if V is not None else " (not a gradient)"))


def cmd_verify(args):
    from . import losses, verify
    from .integrate import step_sizes
    from .ode import check_order

    check_order(args.order)
    optimizer = _optimizer(args)
    label = args.optimizer or optimizer.name
    params = _parse_params(args.param)
    if args.loss_expr:
        loss, variables = _parse_loss(args.loss_expr, args.vars)
        theta0 = [float(t) for t in (args.theta0 or "").split(",") if t.strip()]
        name = args.loss_expr
    else:
        loss, variables, theta0 = losses.get(args.loss, **({"d": args.dim} if args.dim else {}))
        theta0 = [float(t) for t in args.theta0.split(",")] if args.theta0 else theta0
        name = args.loss + (f" (d = {args.dim})" if args.dim else "")
    if len(theta0) != len(variables):
        raise BeaError(f"--theta0 needs {len(variables)} comma-separated numbers")
    if args.levels < 2:
        raise BeaError("--levels must be >= 2")
    hs = step_sizes(args.h_max, args.levels)
    out = Path(args.out or f"runs/verify/{label}_{args.loss if not args.loss_expr else 'user'}")
    result = verify.study(optimizer, loss, variables, theta0, orders=range(args.order + 1), hs=hs, T=args.T,
                          loss_name=name, cache=out / "cache.json", precision=args.precision, **params)
    print(result.table())
    for path in verify.save(result, out):
        print(f"wrote {path}")


def cmd_compare(args):
    from .compare import compare

    print(compare(args.optimizers, _parse_params(args.param)))


#: Entry-point group through which other distributions add subcommands: each entry point, named
#: after its subcommand, is a callable ``register(subparsers)`` that adds that subcommand's parser
#: with ``func`` set (bea-experiments registers ``experiment`` this way).
PLUGIN_GROUP = "bea.commands"
#: Subcommands that a separate distribution provides, and how to get it (for a one-line hint).
KNOWN_PLUGINS = {"experiment": "the bea-experiments package (from a bea checkout: pip install -e ./experiments)"}


def _add_plugins(sub):
    """Subcommands registered under :data:`PLUGIN_GROUP`; a known one that is missing explains itself."""
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        if entry.name in sub.choices:
            continue
        try:
            entry.load()(sub)
        except Exception as exc:  # a broken plugin must not take the built-in commands down with it
            message = f"the {entry.name!r} command ({entry.value}) could not be loaded: {exc}"
            _placeholder(sub, entry.name, message)
    for name, where in KNOWN_PLUGINS.items():
        if name not in sub.choices:
            _placeholder(sub, name, f"`bea {name}` needs {where}")


def _placeholder(sub, name, message):
    """A subcommand that takes any arguments and ends with ``message`` as a one-line error."""
    def fail(args):
        raise BeaError(message)

    if name in sub.choices:  # a plugin that failed half-way: replace what it registered
        sub.choices[name] = p = argparse.ArgumentParser(prog=f"bea {name}")
    else:
        p = sub.add_parser(name, help=f"(unavailable) {message}")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=fail)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bea", description="Backward error analysis of optimization algorithms.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the built-in optimizers").set_defaults(func=cmd_list)
    d = sub.add_parser("derive", help="derive and print a modified ODE")
    d.add_argument("optimizer", nargs="?", help="optimizer name (see `bea list`)")
    d.add_argument("--spec", metavar="FILE", help="an optimizer of your own, as a TOML spec (docs/optimizers.md)")
    d.add_argument("--order", type=int, default=1, help="order p in h (default 1)")
    d.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="hyperparameter or option, e.g. --param beta=0.9 --param bias_correction=false")
    d.add_argument("--h", type=float, default=None, help="step size (symbolic when omitted)")
    regime = d.add_mutually_exclusive_group()
    regime.add_argument("--finite", action="store_true", help="finite-n field on each interval (default: n → ∞)")
    regime.add_argument("--step", type=int, default=None, metavar="N", help="the field on the interval of step N")
    d.add_argument("--loss", help="a concrete loss, e.g. '(x*y-1)**2/2 + x**4/10' (abstract when omitted)")
    d.add_argument("--vars", help="its variables, comma-separated, e.g. x,y")
    d.add_argument("--format", choices=["pretty", "latex", "json"], default="pretty")
    d.add_argument("--batch-loss", action="append", metavar="EXPR",
                   help="mini-batch losses in cyclic order, one flag per batch (with --vars)")
    d.add_argument("--reshuffled", action="store_true",
                   help="with --batch-loss: also the mean field of random reshuffling (memoryless optimizers)")
    d.set_defaults(func=cmd_derive)
    c = sub.add_parser("compare", help="order-1 corrections of several optimizers, side by side")
    c.add_argument("optimizers", nargs="+", help="optimizer names (see `bea list`)")
    c.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="hyperparameter values, applied to each optimizer that has them")
    c.set_defaults(func=cmd_compare)
    v = sub.add_parser("verify", help="error slopes of the order-0…p modified ODEs against the iterates")
    v.add_argument("optimizer", nargs="?", help="optimizer name (see `bea list`)")
    v.add_argument("--spec", metavar="FILE", help="an optimizer of your own, as a TOML spec (docs/optimizers.md)")
    v.add_argument("--order", type=int, default=1, help="highest order checked (default 1)")
    v.add_argument("--param", action="append", metavar="KEY=VALUE", help="hyperparameters and options (numbers)")
    v.add_argument("--loss", default="nonconvex", help="a library loss: quadratic, rosenbrock, nonconvex, logistic, "
                                                       "two_layer (default nonconvex)")
    v.add_argument("--dim", type=int, help="dimension of the library loss")
    v.add_argument("--loss-expr", help="a loss of your own (with --vars and --theta0)")
    v.add_argument("--vars", help="variables of --loss-expr, comma-separated")
    v.add_argument("--theta0", help="starting point, comma-separated")
    v.add_argument("--h-max", type=float, default=0.01, help="largest step size (default 0.01)")
    v.add_argument("--levels", type=int, default=4, help="number of step sizes, halving each time (default 4)")
    v.add_argument("--T", type=float, default=0.25, help="time horizon (default 0.25)")
    v.add_argument("--precision", choices=["auto", "double", "mp"], default="auto",
                   help="auto: float64, saturated points again in 40 digits (default); mp: all in 40 digits")
    v.add_argument("--out", help="folder for study.json/.csv/.png and a resumable cache "
                                 "(default runs/verify/OPTIMIZER_LOSS)")
    v.set_defaults(func=cmd_verify)
    _add_plugins(sub)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except BeaError as exc:
        print(f"bea: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output went to a reader that stopped early (`bea derive … | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
