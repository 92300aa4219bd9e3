"""What the engine does with each part of an optimizer, and what it refuses (with the reason).

A state s_{n+1} = a s_n + b u is

* **fast** when its decay a is a constant below 1: an exponential moving average whose memory
  spans O(1) steps, eliminated by writing the past through the backward flow;
* **slow** when, at fixed time t = nh, a = 1 − O(h) and b = O(h) (a running average with weight
  1/(n+1) = h/(t + h), or a decay written as 1 − c·h): an O(h) step of its own, so it becomes
  a variable of the modified equation next to θ;
* an **accumulator** when a = 1 and b = O(1) (AdaGrad): its past weighs as much as its present,
  so only order 0 over a fixed number of steps is derived.

Refused, each with the reason: discontinuous functions (sign, Heaviside, max/min, floor, …),
unknown functions, a fast state fed by itself (nonlinear self-dependence) or a cycle of states,
decays that vary with n or t in any other way, and inputs of fast states that depend on n.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sympy as sp

from . import symbols as S
from .errors import BeaError
from .moments import stationary_limit
from .spec import OptimizerSpec

#: Functions with a jump or a kink that the expansion in h cannot cross, and why.
DISCONTINUOUS = {
    sp.sign: "sign(·) is discontinuous: the iterates chatter across its jump and no modified equation in powers "
             "of h describes them. Use the smooth sign x/√(x² + ε) with ε > 0 (the built-in signum and lion do)",
    sp.Heaviside: "Heaviside(·) is discontinuous: no modified equation in powers of h crosses its jump",
    sp.Max: "max(·,·) has a kink where its arguments meet (AMSGrad's running maximum, hard clipping): the field "
            "switches between branches and no single modified equation in powers of h holds across the switch; "
            "write the branch that applies, or a smooth surrogate",
    sp.Min: "min(·,·) has a kink where its arguments meet (hard clipping): the field switches between branches and "
            "no single modified equation in powers of h holds across the switch; use a smooth surrogate such as "
            "x/√(1 + x²/c²)",
    sp.floor: "floor(·) is piecewise constant (periodic resets such as Lookahead's every k steps): the map is not "
              "a smooth function of the step, so no modified equation in powers of h follows",
    sp.ceiling: "ceiling(·) is piecewise constant: no modified equation in powers of h follows",
    sp.Mod: "Mod(·) makes the update periodic in n (resets every k steps): no single smooth modified equation "
            "follows",
    sp.Piecewise: "Piecewise(·) switches between formulas: no modified equation in powers of h crosses a switch",
}


@dataclass
class Plan:
    """The classified parts of a spec (see the module docstring)."""

    spec: OptimizerSpec
    step: sp.Expr
    fast: dict = field(default_factory=dict)        # symbol -> State (eliminated)
    slow: list = field(default_factory=list)        # States that are variables of the flow
    accumulators: list = field(default_factory=list)
    in_time: bool = False                           # slow states: n written as t/h everywhere

    @property
    def slow_symbols(self):
        return {st.symbol for st in self.slow}

    @property
    def by_symbol(self):
        return {st.symbol: st for st in self.spec.states}

    @functools.cached_property
    def slow_coefficients(self):
        """{symbol: ([h^k](a − 1), [h^k] b) for k = 0…}: lazily extended coefficient lists."""
        return {st.symbol: (_Coefficients(st.decay - 1), _Coefficients(st.scale)) for st in self.slow}

    @property
    def start_step(self) -> int:
        """1 when a slow state's field is singular at t = 0 (weights 1/(n+1) = h/(t+h)), else 0."""
        for alpha, beta in self.slow_coefficients.values():
            if any(sp.denom(sp.together(c[k])).has(S.t) for c in (alpha, beta) for k in range(1, 3)):
                return 1
        return 0

    @property
    def has_prev(self) -> bool:
        return any(e.has(S.Prev) for e in self.expressions())

    def expressions(self):
        yield self.spec.step
        for st in self.spec.states:
            yield from (st.decay, st.input, st.scale)

    def check(self, order: int):
        """Refuse a derivation at ``order`` that would not be right."""
        if order >= 1 and self.accumulators:
            names = ", ".join(str(st.symbol) for st in self.accumulators)
            raise BeaError(
                f"{self.spec.name}: state {names} has decay 1 and never forgets, so its past cannot be written "
                "through the current field beyond order 0; only order 0 is available (it matches a fixed number of "
                "steps to O(h^2) as h → 0, not a fixed time horizon)")


class _Coefficients:
    """Coefficients of an expression in n and t, with n = t/h, as a power series in h at fixed t."""

    def __init__(self, expr):
        self.expr = sp.sympify(expr, strict=True).subs(S.n, S.t / S.h)
        self._known = {}

    def __getitem__(self, k: int):
        if k not in self._known:
            series = sp.series(self.expr, S.h, 0, k + 1).removeO()
            self._known[k] = sp.factor(sp.expand(series).coeff(S.h, k))
        return self._known[k]


def _refuse_functions(spec: OptimizerSpec, expr, where: str):
    for kind, why in DISCONTINUOUS.items():
        if expr.has(kind):
            raise BeaError(f"{spec.name}: the {where} uses {kind.__name__}: {why}")
    unknown = {f.func for f in expr.atoms(sp.core.function.AppliedUndef)}
    if unknown:
        names = ", ".join(sorted(str(f) for f in unknown))
        raise BeaError(f"{spec.name}: the {where} uses unknown function(s) {names}; known constructs are "
                       "grad(theta + u), prev(q), sum(q) and the elementary functions")


def _refuse_inverse_h(spec: OptimizerSpec, expr, where: str):
    """1/h (a Polyak-form momentum (θ − prev(θ))/h, cos(t/h)) has no expansion in powers of h."""
    if any(p.exp.is_negative and p.base.has(S.h) for p in expr.atoms(sp.Pow)):
        raise BeaError(f"{spec.name}: the {where} divides by h ({expr}): a step with 1/h has no expansion in "
                       "powers of h (write Polyak's momentum with a state, as heavy_ball_polyak does)")


def _references(expr) -> set:
    """The symbols ``expr`` uses at the current step (those inside prev(·) are previous values)."""
    expr = sp.sympify(expr, strict=True)
    return expr.xreplace({p: sp.S.Zero for p in expr.atoms(S.Prev)}).free_symbols


def plan(spec: OptimizerSpec, stationary: bool = False) -> Plan:
    """Classify the states of ``spec`` and check what can be derived (see the module docstring)."""
    for name, expr in [("step", spec.step)] + [(f"state {st.symbol}", e) for st in spec.states
                                                for e in (st.decay, st.input, st.scale)]:
        expr = sp.sympify(expr, strict=True)
        _refuse_functions(spec, expr, name)
        _refuse_inverse_h(spec, expr, name)
        if not stationary and any(p.args[0].has(S.Prev) for p in expr.atoms(S.Prev)):
            raise BeaError(f"{spec.name}: the {name} uses prev of prev: at finite n its first steps depend on the "
                           "start convention in a way that is not derived; the stationary regime (n → ∞) is")
    for st in spec.states:
        for part, expr in (("decay", st.decay), ("scale", st.scale)):
            constructs = [c.word for c in (S.Grad, S.Prev, S.CoordSum) if sp.sympify(expr, strict=True).has(c)]
            if constructs:
                raise BeaError(f"{spec.name}: state {st.symbol}: the {part} uses {', '.join(constructs)}; a {part} "
                               "is a weight of past inputs, built from numbers, hyperparameters, n, t and h")
    symbols = [st.symbol for st in spec.states]
    if len(set(symbols)) != len(symbols):
        raise BeaError(f"{spec.name}: two states share one symbol ({', '.join(map(str, symbols))}); give each its own")
    result = Plan(spec, sp.sympify(spec.step, strict=True))
    for st in spec.states:
        kind = _kind(spec, st)
        {"fast": lambda: result.fast.__setitem__(st.symbol, st), "slow": lambda: result.slow.append(st),
         "accumulator": lambda: (result.fast.__setitem__(st.symbol, st), result.accumulators.append(st))}[kind]()
    _check_dependencies(spec, result, stationary)
    result.in_time = bool(result.slow)
    if stationary or result.in_time:
        result.step = stationary_limit(result.step)
    return result


def _kind(spec, st) -> str:
    decay, scale = sp.sympify(st.decay, strict=True), sp.sympify(st.scale, strict=True)
    varying = decay.free_symbols & {S.n, S.t, S.h}
    if not varying:
        if decay == 1:
            if (scale.free_symbols & {S.n, S.t, S.h}):
                raise BeaError(f"{spec.name}: state {st.symbol} has decay 1 and a scale that varies "
                               f"({scale}); write it as a running average (decay n/(n+1), scale 1/(n+1))")
            return "accumulator"
        if scale.has(S.n) or scale.has(S.h):
            raise BeaError(f"{spec.name}: state {st.symbol}: a scale that depends on n or h ({scale}) changes the "
                           "weights of past inputs in a way the memory sums do not model; put n-dependent factors "
                           "(bias corrections) in the step")
        if st.input.has(S.n):
            raise BeaError(f"{spec.name}: state {st.symbol}: its input depends on n, but past inputs were taken at "
                           "other n; put n-dependent factors in the step")
        return "fast"
    a = sp.sympify(decay, strict=True).subs(S.n, S.t / S.h)
    b = sp.sympify(scale, strict=True).subs(S.n, S.t / S.h)
    try:
        a0, b0 = sp.limit(a, S.h, 0, "+"), sp.limit(b, S.h, 0, "+")
    except (NotImplementedError, ValueError):
        a0 = b0 = None
    if a0 == 1 and b0 == 0:
        if decay.has(S.n) and sp.simplify(decay - S.n / (S.n + 1)) != 0:
            raise BeaError(f"{spec.name}: state {st.symbol} has decay {decay}: of the decays in n that tend to 1, "
                           "only the running average's n/(n+1) is derived (a shifted start such as (n+1)/(n+2) "
                           "changes the first steps in a way the flow does not carry)")
        return "slow"
    raise BeaError(f"{spec.name}: state {st.symbol} has decay {decay}, which varies with n or t without tending "
                   "to 1 like n/(n+1) (a running average) as h → 0 at fixed t = nh; such memories are not derived")


def _fed_by_own_old_value(st, fast: bool) -> bool:
    """A fast state may not read prev(itself); a slow one (a running average, weight h/(t + h)) only at
    O(h): with an O(1) share of its old value in its input its effective decay is no longer n/(n+1)."""
    expr = sp.sympify(st.input, strict=True)
    if not expr.has(S.Prev(st.symbol)):
        return False
    if fast:
        return True
    q = sp.Dummy("q")
    return sp.simplify(sp.diff(expr.xreplace({S.Prev(st.symbol): q}), q).subs(S.h, 0)) != 0


def _check_dependencies(spec, result: Plan, stationary: bool):
    """Fast states may be fed by other states (their new values) as long as no state feeds itself."""
    states = {st.symbol for st in spec.states}
    graph = {}
    for st in spec.states:
        refs = _references(st.input) & states
        if st.symbol in refs:
            raise BeaError(f"{spec.name}: state {st.symbol} is fed by its own new value ({st.input}); write its "
                           f"linear part as the decay, and prev({st.symbol}) for its old value")
        if _fed_by_own_old_value(st, st.symbol in result.fast):
            raise BeaError(f"{spec.name}: state {st.symbol} is fed by its own old value through prev({st.symbol}) "
                           "in its input: write its linear part as the decay (a nonlinear self-dependence has no "
                           "closed-form memory)")
        fed_by_old = {p.args[0] for p in sp.sympify(st.input, strict=True).atoms(S.Prev)} & set(result.fast)
        if fed_by_old and not stationary:
            raise BeaError(f"{spec.name}: state {st.symbol} is fed by the old value of state(s) "
                           f"{', '.join(sorted(map(str, fed_by_old)))} (prev): its start-up transient at finite n "
                           "is not derived; the stationary regime (n → ∞) is")
        graph[st.symbol] = refs
    if result.slow and result.fast:
        raise BeaError(f"{spec.name}: a running average ({', '.join(str(st.symbol) for st in result.slow)}) next to "
                       f"moving averages ({', '.join(map(str, result.fast))}): the moving averages' start-up is not "
                       "carried by the joint flow; such combinations are not derived")
    _refuse_cycles(spec, graph, "within one step every state must be computable from states updated before it")
    fast = set(result.fast)
    old_values = {st.symbol: (graph[st.symbol] | {p.args[0] for p in sp.sympify(st.input, strict=True).atoms(S.Prev)})
                  & fast - {st.symbol} for st in spec.states if st.symbol in fast}
    _refuse_cycles(spec, old_values, "through prev the memories are coupled (a matrix of decays, not one geometric "
                                     "memory per state), which is not derived")


def _refuse_cycles(spec, graph: dict, why: str):
    """A BeaError naming the first cycle of ``graph`` (state → the states it reads)."""
    done, active = set(), []

    def visit(s):
        if s in active:
            cycle = " → ".join(map(str, active[active.index(s):] + [s]))
            raise BeaError(f"{spec.name}: the states feed each other in a cycle ({cycle}); {why}")
        if s in done:
            return
        active.append(s)
        for r in sorted(graph[s], key=str):
            visit(r)
        active.pop()
        done.add(s)

    for s in sorted(graph, key=str):
        visit(s)
