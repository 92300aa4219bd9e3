"""The ``bea`` command line: list optimizers, print derived modified equations.

Every input is checked before any work (numbers finite, expressions read by :mod:`bea.expr`,
output folders writable) and bounded (:data:`MAX_ORDER`, :data:`MAX_STEPS`, :data:`MAX_DIMENSION`,
lifted by ``--max-order`` and ``--max-steps``).  Bad input ends with one line ``bea: error: …``
and exit code 2, Ctrl-C with one line and exit code 130; warnings are ``bea: warning: …`` lines.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import math
import os
import re
import sys
import warnings

import sympy as sp

from . import display
from .errors import BeaError, BeaWarning
from .expr import check_name, read
from .ode import modified_ode
from .optimizers import REGISTRY, get

MAX_ORDER = 4          # derivation time grows fast with the order (docs/performance.md)
MAX_SECONDS = 600      # derive, compare: wall-clock seconds before the command stops with an error
MAX_VERIFY_SECONDS = 3600  # verify (its steps are bounded by --max-steps too)
MAX_STEPS = 20_000     # verify: steps over all step sizes; derive --step N: N (exact powers a^N grow with N)
MAX_DIMENSION = 50     # variables of a loss (--vars, --dim)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one ``bea: error:`` line (exit code 2) like every other error."""

    def error(self, message):
        raise BeaError(f"{message} (see `{self.prog} --help`)")


def finite(text: str) -> float:
    """An argparse type: a finite float (nan and inf refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text[:40]!r}")
    return value


def _parse_params(items):
    """``k=v`` strings → dict; true/false become booleans, numbers finite floats (made exact later)."""
    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BeaError(f"--param takes key=value, got {item[:60]!r}")
        if key in out:
            raise BeaError(f"--param {key[:40]!r} is given twice")
        low = raw.strip().lower()
        if low in ("true", "false"):
            out[key] = low == "true"
            continue
        try:
            out[key] = finite(raw)
        except argparse.ArgumentTypeError as exc:
            raise BeaError(f"--param {key[:40]!r}: {exc} (or true/false)") from None
    return out


def _parse_vars(names, flag="--loss"):
    """``x,y`` → real symbols, each a plain name, at most :data:`MAX_DIMENSION` of them."""
    if not names:
        raise BeaError(f"{flag} needs --vars, e.g. {flag} '(x*y-1)**2/2' --vars x,y")
    parts = [n.strip() for n in names.split(",")]
    if len(parts) > MAX_DIMENSION:
        raise BeaError(f"--vars: {len(parts)} variables; at most {MAX_DIMENSION}")
    for name in parts:
        check_name(name, "--vars: variable")
    if len(set(parts)) != len(parts):
        raise BeaError(f"--vars: variables must be distinct, got {names[:80]!r}")
    return [sp.Symbol(name, real=True) for name in parts]


def _parse_loss(loss, names, flag="--loss"):
    """(E, variables) from text and ``--vars``, or a library loss by its name (no ``--vars``)."""
    from . import losses

    if loss is None:
        if names:
            raise BeaError(f"--vars needs {flag}")
        return None, None
    if names is None and loss in losses.LOSSES:
        E, variables, _ = losses.get(loss)
        return E, variables
    variables = _parse_vars(names, flag)
    return read(loss, {str(v): v for v in variables}, flag), variables


def _parse_numbers(text, flag, count):
    """``a,b`` → ``count`` finite floats."""
    try:
        values = [finite(t) for t in text.split(",")]
    except argparse.ArgumentTypeError as exc:
        raise BeaError(f"{flag}: {exc}") from None
    if len(values) != count:
        raise BeaError(f"{flag} needs {count} comma-separated numbers (one per variable), got {len(values)}")
    return values


def _check_order(args):
    from .ode import check_order

    order = check_order(args.order)
    if args.max_order < 0:
        raise BeaError(f"--max-order must be >= 0, got {args.max_order}")
    if order > args.max_order:
        raise BeaError(f"order {order} is above the limit {args.max_order} (a derivation's cost grows fast with "
                       f"the order, see docs/performance.md); --max-order {order} lifts the limit")
    return order


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


def _with_schedule(params, args):
    """--schedule NAME:T as the ``schedule`` hyperparameter (bea.schedules)."""
    if getattr(args, "schedule", None):
        params["schedule"] = args.schedule
    return params


def cmd_derive(args):
    params = _with_schedule(_parse_params(args.param), args)
    _check_order(args)
    if args.step is not None and not 0 <= args.step <= args.max_steps:
        raise BeaError(f"--step must be in [0, {args.max_steps:,}] (exact powers a^N grow with N; --finite gives "
                       f"the field for every n; --max-steps lifts the limit), got {args.step}")
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
    variables = _parse_vars(args.vars, "--batch-loss")
    losses = [read(E, {str(v): v for v in variables}, f"--batch-loss {k + 1}") for k, E in enumerate(args.batch_loss)]
    batch = cyclic_ode(_optimizer(args), losses, variables, order=args.order, h=args.h,
                       stationary=args.step is None and not args.finite, **params)
    print(batch.pretty())
    if args.reshuffled:
        mean = batch.reshuffled()
        print("\nrandom reshuffling each epoch: the expected epoch follows F̄ = (1/k) Σ_r F^(r)")
        for i, (F, V, why) in enumerate(zip(mean.terms, mean.potentials, mean.reasons)):
            print(f"  F̄{i} = {list(F)}" + (f" = −∇({V})" if V is not None else f" ({why})"))


def cmd_verify(args):
    from . import verify
    from .atomic import writable_folder
    from .concrete import check_loss
    from .games import Game
    from .integrate import step_sizes
    from .optimizers import build
    from .plan import plan

    order = _check_order(args)
    optimizer = _optimizer(args)
    label = args.optimizer or optimizer.name
    params = _with_schedule(_parse_params(args.param), args)
    spec, _ = build(optimizer, params, require_all=True)  # every check before any work
    plan(spec)  # refuses what the engine cannot derive before a folder is made
    if args.loss_expr:
        if args.dim is not None:
            raise BeaError("--dim applies to a library loss (--loss), not to --loss-expr")
        loss, variables = _parse_loss(args.loss_expr, args.vars, "--loss-expr")
        if args.theta0 is None:
            raise BeaError("--loss-expr needs a starting point --theta0, one number per variable")
        theta0 = _parse_numbers(args.theta0, "--theta0", len(variables))
        name = args.loss_expr if len(args.loss_expr) <= 60 else args.loss_expr[:57] + "..."
    else:
        if args.vars:
            raise BeaError("--vars goes with --loss-expr (a library loss has its own variables)")
        loss, variables, theta0 = _library_loss(args.loss, args.dim)
        theta0 = _parse_numbers(args.theta0, "--theta0", len(variables)) if args.theta0 is not None else theta0
        name = args.loss + (f" (d = {args.dim})" if args.dim else "")
    if not 2 <= args.levels <= 60:
        raise BeaError(f"--levels must be in [2, 60], got {args.levels}")
    if not 0 < args.h_max <= args.T:
        raise BeaError(f"need 0 < --h-max <= --T (the horizon covers a step of every size), got --h-max "
                       f"{args.h_max:g} and --T {args.T:g}")
    hs = step_sizes(args.h_max, args.levels)
    steps = sum(round(args.T / h) for h in hs)
    if steps > args.max_steps:
        raise BeaError(f"this study runs {steps:,} steps (T/h summed over the {args.levels} step sizes); the limit is "
                       f"{args.max_steps:,}: fewer --levels, a larger --h-max or a shorter --T, or --max-steps "
                       f"{steps} to lift it")
    if not isinstance(loss, Game):  # a game's field is checked where it is read
        verify.check_smooth(check_loss(loss, variables, spec)[0])
    default = f"runs/verify/{_safe(label)}_{_safe(args.loss) if not args.loss_expr else 'user'}"
    out = writable_folder(args.out or default)
    result = verify.study(optimizer, loss, variables, theta0, orders=range(order + 1), hs=hs,
                          T=args.T, loss_name=name, cache=out / "cache.json", precision=args.precision, **params)
    print(result.table())
    for path in verify.save(result, out):
        print(f"wrote {path}")


def _library_loss(name, dim):
    """(E, variables, θ₀) of the library loss ``name`` in dimension ``dim`` (its default when None)."""
    import inspect

    from . import losses

    if name not in losses.LOSSES:
        raise BeaError(f"unknown loss {name[:40]!r}; known: {', '.join(losses.LOSSES)}")
    if dim is None:
        return losses.get(name)
    if "d" not in inspect.signature(losses.LOSSES[name]).parameters:
        raise BeaError(f"--dim does not apply to {name} (its size is fixed)")
    if not 1 <= dim <= MAX_DIMENSION:
        raise BeaError(f"--dim must be in [1, {MAX_DIMENSION}], got {dim}")
    return losses.get(name, d=dim)


def _safe(name: str) -> str:
    """``name`` as one harmless path component (no separators, no leading dot)."""
    return re.sub(r"[^A-Za-z0-9_+-]", "_", name)[:64] or "_"


def cmd_compare(args):
    from .compare import compare
    from .optimizers import build

    params = _parse_params(args.param)
    for name in args.optimizers:
        get(name)
    specs = [build(name, {})[0] for name in args.optimizers]
    takes = {k for spec in specs for k in [*spec.hyper_names, *spec.options]}
    unknown = sorted(set(params) - takes)
    if unknown:
        raise BeaError(f"--param {', '.join(unknown)}: none of {', '.join(args.optimizers)} takes it; they take "
                       f"{', '.join(sorted(takes)) or 'nothing'}")
    print(compare(args.optimizers, params))


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
    p = _Parser(prog="bea", description="Backward error analysis of optimization algorithms.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the built-in optimizers").set_defaults(func=cmd_list)
    d = sub.add_parser("derive", help="derive and print a modified ODE")
    d.add_argument("--max-seconds", type=float, default=MAX_SECONDS, metavar="S",
                   help=f"stop with an error after S seconds (default {MAX_SECONDS})")
    d.add_argument("optimizer", nargs="?", help="optimizer name (see `bea list`)")
    d.add_argument("--spec", metavar="FILE", help="an optimizer of your own, as a TOML spec (docs/optimizers.md)")
    d.add_argument("--order", type=int, default=1, help="order p in h (default 1)")
    d.add_argument("--schedule", metavar="NAME:T", help="step-size schedule eta(t): warmup:T, cosine:T, exp_warmup:T")
    d.add_argument("--max-order", type=int, default=MAX_ORDER, metavar="P",
                   help=f"refuse orders above P (default {MAX_ORDER}; derivations grow fast with the order)")
    d.add_argument("--max-steps", type=int, default=MAX_STEPS, metavar="N",
                   help=f"refuse --step above N (default {MAX_STEPS:,})")
    d.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="hyperparameter or option, e.g. --param beta=0.9 --param bias_correction=false")
    d.add_argument("--h", type=finite, default=None, help="step size (symbolic when omitted)")
    regime = d.add_mutually_exclusive_group()
    regime.add_argument("--finite", action="store_true", help="finite-n field on each interval (default: n → ∞)")
    regime.add_argument("--step", type=int, default=None, metavar="N", help="the field on the interval of step N")
    d.add_argument("--loss", help="a concrete loss, e.g. '(x*y-1)**2/2 + x**4/10' with --vars x,y, or a library loss by name "
                        "(see `bea verify --help`); abstract when omitted")
    d.add_argument("--vars", help="its variables, comma-separated, e.g. x,y")
    d.add_argument("--format", choices=["pretty", "latex", "json"], default="pretty")
    d.add_argument("--batch-loss", action="append", metavar="EXPR",
                   help="mini-batch losses in cyclic order, one flag per batch (with --vars)")
    d.add_argument("--reshuffled", action="store_true",
                   help="with --batch-loss: also the mean field of random reshuffling (memoryless optimizers)")
    d.set_defaults(func=cmd_derive)
    c = sub.add_parser("compare", help="order-1 corrections of several optimizers, side by side")
    c.add_argument("--max-seconds", type=float, default=MAX_SECONDS, metavar="S",
                   help=f"stop with an error after S seconds (default {MAX_SECONDS})")
    c.add_argument("optimizers", nargs="+", help="optimizer names (see `bea list`)")
    c.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="hyperparameter values, applied to each optimizer that has them")
    c.set_defaults(func=cmd_compare)
    v = sub.add_parser("verify", help="error slopes of the order-0…p modified ODEs against the iterates")
    v.add_argument("--max-seconds", type=float, default=MAX_VERIFY_SECONDS, metavar="S",
                   help=f"stop with an error after S seconds (default {MAX_VERIFY_SECONDS})")
    v.add_argument("optimizer", nargs="?", help="optimizer name (see `bea list`)")
    v.add_argument("--spec", metavar="FILE", help="an optimizer of your own, as a TOML spec (docs/optimizers.md)")
    v.add_argument("--order", type=int, default=1, help="highest order checked (default 1)")
    v.add_argument("--max-order", type=int, default=MAX_ORDER, metavar="P",
                   help=f"refuse orders above P (default {MAX_ORDER})")
    v.add_argument("--max-steps", type=int, default=MAX_STEPS, metavar="N",
                   help=f"refuse studies of more than N steps over all step sizes (default {MAX_STEPS:,})")
    v.add_argument("--param", action="append", metavar="KEY=VALUE", help="hyperparameters and options (numbers)")
    v.add_argument("--schedule", metavar="NAME:T", help="step-size schedule eta(t): warmup:T, cosine:T, exp_warmup:T")
    v.add_argument("--loss", default="nonconvex", help="a library loss: quadratic, rosenbrock, nonconvex, logistic, "
                                                       "two_layer (default nonconvex)")
    v.add_argument("--dim", type=int, help="dimension of the library loss")
    v.add_argument("--loss-expr", help="a loss of your own (with --vars and --theta0)")
    v.add_argument("--vars", help="variables of --loss-expr, comma-separated")
    v.add_argument("--theta0", help="starting point, comma-separated")
    v.add_argument("--h-max", type=finite, default=0.01, help="largest step size (default 0.01)")
    v.add_argument("--levels", type=int, default=4, help="number of step sizes, halving each time (default 4)")
    v.add_argument("--T", type=finite, default=0.25, help="time horizon (default 0.25)")
    v.add_argument("--precision", choices=["auto", "double", "mp"], default="auto",
                   help="auto: float64, saturated points again in 40 digits (default); mp: all in 40 digits")
    v.add_argument("--out", help="folder for study.json/.csv/.png and a resumable cache "
                                 "(default runs/verify/OPTIMIZER_LOSS)")
    v.set_defaults(func=cmd_verify)
    _add_plugins(sub)
    return p


def _warning_printer(fallback):
    """``warnings.showwarning`` that prints bea's warnings as ``bea: warning: …`` lines."""
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, BeaWarning):
            print(f"bea: warning: {message}", file=sys.stderr)
        else:
            fallback(message, category, filename, lineno, file, line)
    return show


def _error(message) -> int:
    print(f"bea: error: {message}".replace("\n", " "), file=sys.stderr)
    return 2


@contextlib.contextmanager
def _bounded(args):
    """Run a command under its wall-clock limit (--max-seconds): a derivation whose size explodes
    ends with an error that says what to change, never an unbounded wait."""
    from .limits import TimeLimit, time_limit

    seconds = getattr(args, "max_seconds", None)  # plugin commands (experiments) bound their own steps
    if seconds is None:
        yield
        return
    if not (seconds > 0 and math.isfinite(seconds)):
        raise BeaError(f"--max-seconds must be a positive number, got {seconds}")
    try:
        with time_limit(seconds):
            yield
    except TimeLimit:
        raise BeaError(f"stopped after {seconds:g} s (--max-seconds): a lower --order, numbers for the "
                       "hyperparameters (--param), or a larger --max-seconds") from None


def _refuse_empty(args):
    """An option given as an empty string is a mistake, never "use the default"."""
    for name, value in vars(args).items():
        if isinstance(value, str) and not value.strip():
            raise BeaError(f"--{name.replace('_', '-')} is empty; give a value or leave the option out")


def main(argv=None) -> int:
    """Run the command line; returns the exit code (0, 2 for bad input, 130 when interrupted)."""
    from .limits import interruptible

    with warnings.catch_warnings():
        warnings.simplefilter("default", BeaWarning)
        warnings.showwarning = _warning_printer(warnings.showwarning)
        try:
            try:
                args = parser().parse_args(argv)
            except SystemExit as exc:  # --help and --version print and stop
                return exc.code if isinstance(exc.code, int) else 0
            _refuse_empty(args)
            with interruptible(), _bounded(args):
                args.func(args)
        except BeaError as exc:
            return _error(exc)
        except KeyboardInterrupt:
            print("bea: interrupted (files written so far are complete)", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the output went to a reader that stopped early (`bea derive … | head`)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except RecursionError:
            return _error("the expression is too deeply nested for SymPy (RecursionError); write it more simply")
        except OSError as exc:
            return _error(f"{exc.filename or 'output'}: {exc.strerror or exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
