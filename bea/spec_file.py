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
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import sympy as sp
from sympy.parsing.sympy_parser import TokenError

from . import symbols as S
from .errors import BeaError
from .spec import DOMAINS, Hyper, OptimizerSpec, State

RESERVED = {"g": S.g, "theta": S.theta, "n": S.n}
#: Hyperparameter names that mean what they mean in the built-ins share their symbols
#: (so the perturbed one-norm with this ε, regimes in β and ρ, are recognized).
SHARED = {"beta": S.beta, "rho": S.rho, "eps": S.eps, "lam": sp.Symbol("lambda", nonnegative=True)}
FIELDS = {"name", "title", "step", "hyperparameters", "states"}
STATE_FIELDS = {"symbol", "decay", "input", "scale"}


def _expression(text, where: str, names: dict) -> sp.Expr:
    if not isinstance(text, (str, int, float)) or isinstance(text, bool):
        raise BeaError(f"{where} must be an expression written as a string, got {text!r}")
    try:
        expr = sp.parse_expr(str(text), local_dict=dict(names))
    except (SyntaxError, TypeError, sp.SympifyError, TokenError) as exc:
        raise BeaError(f"{where}: cannot parse {text!r} ({exc})") from None
    unknown = {str(s) for s in expr.free_symbols - set(names.values())}
    if unknown:
        raise BeaError(f"{where}: {sorted(unknown)} are not defined; known names: {sorted(names)}")
    return expr


def _hyperparameters(table) -> tuple[Hyper, ...]:
    if not isinstance(table, dict):
        raise BeaError("[hyperparameters] must be a table of name = { domain = ..., doc = ... }")
    out = []
    for name, entry in table.items():
        entry = {"domain": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or entry.get("domain") not in DOMAINS:
            raise BeaError(f"hyperparameter {name!r} needs a domain, one of {sorted(DOMAINS)}; got {entry!r}")
        if name in RESERVED:
            raise BeaError(f"hyperparameter name {name!r} is reserved (g, theta, n)")
        if not name.isidentifier():
            raise BeaError(f"hyperparameter name {name!r} must be an identifier")
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
    hyper = _hyperparameters(data.get("hyperparameters", {}))
    states_raw = data.get("states", [])
    if not isinstance(states_raw, list) or not all(isinstance(s, dict) for s in states_raw):
        raise BeaError("states must be an array of tables: [[states]] symbol = ..., decay = ..., input = ...")
    names = dict(RESERVED) | {hp.name: hp.symbol for hp in hyper}
    state_symbols = {}
    for k, st in enumerate(states_raw):
        bad = set(st) - STATE_FIELDS
        if bad or not {"symbol", "decay", "input"} <= set(st):
            raise BeaError(f"state {k + 1}: fields are symbol, decay, input and optional scale; got {sorted(st)}")
        if not isinstance(st["symbol"], str) or not st["symbol"].isidentifier() or st["symbol"] in names:
            raise BeaError(f"state {k + 1}: symbol {st['symbol']!r} must be a new identifier")
        state_symbols[st["symbol"]] = sp.Symbol(st["symbol"], real=True)
    states = tuple(
        State(state_symbols[st["symbol"]],
              _expression(st["decay"], f"state {st['symbol']}: decay", names),
              _expression(st["input"], f"state {st['symbol']}: input", names),
              _expression(st.get("scale", "1"), f"state {st['symbol']}: scale", names))
        for st in states_raw
    )
    step = _expression(data["step"], "step", names | state_symbols)
    name = data["name"]
    if not isinstance(name, str) or not name:
        raise BeaError(f"name must be a non-empty string, got {name!r}")
    return OptimizerSpec(name, str(data.get("title", name)), step, states, hyper)


def load_spec(path) -> OptimizerSpec:
    """Read an optimizer spec from a TOML file."""
    path = Path(path)
    if not path.is_file():
        raise BeaError(f"spec file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BeaError(f"{path}: not valid TOML ({exc})") from None
    return spec_from_dict(data)
