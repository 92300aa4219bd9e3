"""Optimizer specifications written as text (TOML), for users who do not write Python.

A file holds the fields of :class:`bea.spec.OptimizerSpec`; expressions are SymPy
strings in ``g`` (= ∂_jE), ``theta``, ``n``, the state names and the hyperparameters::

    name = "adam_no_bc"
    title = "Adam without bias correction"
    step = "m / sqrt(v + eps)"

    [hyperparameters]
    beta = { domain = "unit", doc = "momentum decay" }
    rho = { domain = "unit" }
    eps = { domain = "nonnegative" }

    [[states]]                 # s_{n+1} = decay * s_n + scale * input,  s_0 = 0
    symbol = "m"
    decay = "beta"
    input = "g"
    scale = "1 - beta"

Domains are those of :data:`bea.spec.DOMAINS` (unit, open_unit, nonnegative, positive).
Expressions are read by :func:`bea.expr.read` (a whitelist, never evaluated as Python); the name
is letters, digits and ``_ - . +`` (it names output folders).
"""
from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import sympy as sp

from . import symbols as S
from .errors import BeaError
from .expr import check_name, read
from .spec import DOMAINS, Hyper, OptimizerSpec, State

RESERVED = {"g": S.g, "theta": S.theta, "n": S.n, "t": S.t, "h": S.h, "player": S.player}
#: Hyperparameter names that mean what they mean in the built-ins share their symbols
#: (so the perturbed one-norm with this ε, regimes in β and ρ, are recognized).
SHARED = {"beta": S.beta, "rho": S.rho, "eps": S.eps, "lam": sp.Symbol("lambda", nonnegative=True)}
FIELDS = {"name", "title", "step", "hyperparameters", "states"}
STATE_FIELDS = {"symbol", "decay", "input", "scale"}
MAX_BYTES = 1 << 20
MAX_STATES, MAX_HYPERPARAMETERS = 16, 64
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")


def _expression(text, where: str, names: dict) -> sp.Expr:
    """A field: text through the reader, or a TOML number (finite)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not math.isfinite(text):
            raise BeaError(f"{where} must be finite, got {text!r}")
        text = repr(text)
    return read(text, names, where)


def _hyperparameters(table) -> tuple[Hyper, ...]:
    if not isinstance(table, dict):
        raise BeaError("[hyperparameters] must be a table of name = { domain = ..., doc = ... }")
    out = []
    for name, entry in table.items():
        entry = {"domain": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or entry.get("domain") not in DOMAINS:
            raise BeaError(f"hyperparameter {name!r} needs a domain, one of {sorted(DOMAINS)}; got {entry!r}")
        check_name(name, "hyperparameter name")
        if name in RESERVED:
            raise BeaError(f"hyperparameter name {name!r} is reserved ({', '.join(RESERVED)})")
        symbol = SHARED.get(name) or sp.Symbol(name, nonnegative=True)
        out.append(Hyper(name, symbol, entry["domain"], str(entry.get("doc", ""))))
    return tuple(out)


def spec_from_dict(data: dict) -> OptimizerSpec:
    """An :class:`OptimizerSpec` from the parsed TOML table (see the module docstring)."""
    if not isinstance(data, dict):
        raise BeaError("an optimizer spec must be a table")
    unknown, missing = set(data) - FIELDS, {"name", "step"} - set(data)
    if unknown or missing:
        raise BeaError(f"optimizer spec: unknown field(s) {sorted(unknown)}, missing field(s) {sorted(missing)}; "
                       f"fields are {sorted(FIELDS)}")
    name, title = data["name"], data.get("title", data["name"])
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise BeaError(f"name must be 1 to 64 letters, digits or _ - . + (it names output folders), got "
                       f"{str(name)[:70]!r}")
    if not isinstance(title, str) or not title.isprintable() or len(title) > 200:
        raise BeaError("title must be printable text on one line (at most 200 characters)")
    hyper = _hyperparameters(data.get("hyperparameters", {}))
    states_raw = data.get("states", [])
    if not isinstance(states_raw, list) or not all(isinstance(s, dict) for s in states_raw):
        raise BeaError("states must be an array of tables: [[states]] symbol = ..., decay = ..., input = ...")
    if len(states_raw) > MAX_STATES or len(hyper) > MAX_HYPERPARAMETERS:
        raise BeaError(f"a spec holds at most {MAX_STATES} states and {MAX_HYPERPARAMETERS} hyperparameters")
    names = dict(RESERVED) | {hp.name: hp.symbol for hp in hyper}
    state_symbols = {}
    for k, st in enumerate(states_raw):
        bad = set(st) - STATE_FIELDS
        if bad or not {"symbol", "decay", "input"} <= set(st):
            raise BeaError(f"state {k + 1}: fields are symbol, decay, input and optional scale; got {sorted(st)}")
        check_name(st["symbol"], f"state {k + 1}: symbol")
        if st["symbol"] in names or st["symbol"] in state_symbols:
            raise BeaError(f"state {k + 1}: symbol {st['symbol']!r} must be a new name (not g, theta, n, a "
                           "hyperparameter or another state)")
        state_symbols[st["symbol"]] = sp.Symbol(st["symbol"], real=True)
    states = tuple(
        State(state_symbols[st["symbol"]],
              _expression(st["decay"], f"state {st['symbol']}: decay", names),
              _expression(st["input"], f"state {st['symbol']}: input", names),
              _expression(st.get("scale", "1"), f"state {st['symbol']}: scale", names))
        for st in states_raw
    )
    step = _expression(data["step"], "step", names | state_symbols)
    return OptimizerSpec(name, title, step, states, hyper)


def load_spec(path) -> OptimizerSpec:
    """Read an optimizer spec from a TOML file."""
    path = Path(path)
    if not path.is_file():
        raise BeaError(f"spec file {str(path)!r} does not exist or is not a file")
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_BYTES:
            raise BeaError(f"{str(path)!r}: {len(raw):,} bytes; a spec file is at most {MAX_BYTES:,} bytes")
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BeaError(f"{str(path)!r}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BeaError(f"{str(path)!r}: not valid TOML ({exc})") from None
    except (OSError, RecursionError) as exc:
        raise BeaError(f"{str(path)!r}: cannot read ({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    try:
        return spec_from_dict(data)
    except BeaError as exc:
        raise BeaError(f"{path}: {exc}") from None
