"""The derivation: memory elimination and order-by-order matching with a flow.

We look for a field F = F₀ + hF₁ + … + h^pF_p whose time-h flow reproduces the
map θ_{n+1} = θ_n − h φ(s_{n+1}, g_n, θ_n, n) to O(h^{p+2}).

1. Memory.  Past iterates are points of the backward flow of F, so for any
   per-coordinate function u,  u(θ_{n-k}) = exp(−kh D_F) u (θ_n) = Σ_r (−kh)^r/r! D_F^r u,
   with D_F u = (∇u)·F.  A state s_{n+1} = b Σ_k a^k u(θ_{n-k}) becomes
   s = b Σ_r (−h)^r/r! μ_r(n) D_F^r u, with the moments μ_r of :mod:`bea.moments`.
   On the interval of step n the past is written with that interval's field
   ("frozen" history); this is exact once the fields stop depending on n and its
   error decays geometrically in n, so it does not change the global order.
2. Step.  φ is Taylor-expanded around the leading state values, giving
   φ = φ₀ + hφ₁ + … .
3. Flow.  The time-h flow is Σ_{r≥1} h^r/r! D_F^{r−1}F.  Matching the h^{i+1}
   coefficients gives F_i = −φ_i − Σ_{r=2}^{i+1} [D_F^r θ]_{i+1−r}/r!, where the
   right side only involves F₀…F_{i−1}.

Power series in h are carried as coefficient lists and truncated as we go.
"""
from __future__ import annotations

import itertools
import math

import sympy as sp

from . import symbols as S
from .errors import BeaError
from .moments import moment, stationary_limit
from .spec import OptimizerSpec


def _zero(d):
    return (sp.S.Zero,) * d


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b))


def _scale(c, a):
    return tuple(c * x for x in a)


def _away_from_kinks(expr):
    """Drop DiracDelta terms: derivatives of |g| and sign(g) are taken where g ≠ 0 (the expansion
    of a step with |·| in it, e.g. Adam with ε outside the root, holds only there)."""
    return expr.replace(sp.DiracDelta, lambda *args: sp.S.Zero) if expr.has(sp.DiracDelta) else expr


class LieTower:
    """Coefficients [D_F^r u]_q of the Lie series of seeds u along F = Σ h^b F_b, memoized."""

    def __init__(self, calculus, fields):
        self.calc, self.fields, self.cache = calculus, fields, {}

    def coeff(self, seed, r: int, q: int):
        key = (seed, r, q)
        if key not in self.cache:
            d = len(seed)
            if r == 0:
                value = seed if q == 0 else _zero(d)
            else:
                value = _zero(d)
                for b in range(q + 1):
                    inner = self.coeff(seed, r - 1, q - b)
                    if any(x != 0 for x in inner):
                        value = _add(value, tuple(map(_away_from_kinks, self.calc.lie(inner, self.fields[b]))))
            self.cache[key] = value
        return self.cache[key]


def _series_mul(a, b, order):
    """Truncated product of two scalar power series given as coefficient lists."""
    out = [sp.S.Zero] * (order + 1)
    for i, x in enumerate(a):
        if x == 0:
            continue
        for j, y in enumerate(b[: order + 1 - i]):
            out[i + j] += x * y
    return out


def _taylor_coefficient(step, symbols, series, order):
    """[h^order] of step(symbols = series) for scalar series (Taylor around the h⁰ values)."""
    base = {s: ser[0] for s, ser in zip(symbols, series)}
    deltas = [[sp.S.Zero] + list(ser[1:order + 1]) for ser in series]
    total = sp.S.Zero
    for alpha in itertools.product(range(order + 1), repeat=len(symbols)):
        if sum(alpha) > order:
            continue
        product = [sp.S.One] + [sp.S.Zero] * order
        for delta, a in zip(deltas, alpha):
            for _ in range(a):
                product = _series_mul(product, delta, order)
        if product[order] == 0:
            continue
        deriv = sp.diff(step, *[(s, a) for s, a in zip(symbols, alpha) if a]) if any(alpha) else step
        denom = math.prod(math.factorial(a) for a in alpha)
        total += deriv.xreplace(base) * product[order] / denom
    return total


def check_expandable(spec: OptimizerSpec, order: int):
    """Refuse the steps that have no modified equation in powers of h (or none at this order).

    * sign(·) is piecewise constant: the iterates chatter across its jump with
      amplitude O(h) and no smooth field describes them.
    * A state with decay 1 (an accumulator that never forgets, as in AdaGrad) weighs
      all of its past equally; past fields differ from the current one at O(1), so
      writing the past through the current field is right at order 0 only.
    """
    if sp.sympify(spec.step).has(sp.sign, sp.Heaviside):
        raise BeaError(
            f"{spec.name}: the step uses sign(·), which is discontinuous: the iterates chatter across its jump "
            "and no modified equation in powers of h describes them. Use the smooth sign x/√(x² + ε) with "
            "ε > 0 (the built-in signum and lion do)"
        )
    if order >= 1 and spec.never_forgets():
        raise BeaError(
            f"{spec.name}: a state with decay 1 never forgets, so its past cannot be written through the "
            "current field beyond order 0; only order 0 is available (it matches a fixed number of steps "
            "to O(h^2) as h → 0, not a fixed time horizon)"
        )


def derive(spec: OptimizerSpec, calculus, order: int, stationary: bool = False):
    """The fields [F₀, …, F_order] (tuples, one entry per coordinate slot) of the modified ODE."""
    check_expandable(spec, order)
    step = stationary_limit(spec.step) if stationary else sp.sympify(spec.step)
    probe = calculus.local(S.g)
    d = len(probe)
    fields = []
    tower = LieTower(calculus, fields)
    theta_seed = calculus.local(S.theta)
    seeds = [calculus.local(st.input) for st in spec.states]
    weights = [  # b (−1)^r μ_r / r!, the coefficient of h^r D_F^r u in the state
        [sp.powsimp(sp.factor(st.scale * (-1) ** r * moment(st.decay, r, stationary) / math.factorial(r)))
         for r in range(order + 1)]
        for st in spec.states
    ]
    state_symbols = [st.symbol for st in spec.states]
    for i in range(order + 1):
        # state series s = b Σ_r (−h)^r/r! μ_r D_F^r u, per coordinate, up to h^i
        state_series = []
        for seed, ws in zip(seeds, weights):
            coeffs = []
            for q in range(i + 1):
                acc = _zero(d)
                for r in range(q + 1):
                    if ws[r] != 0:
                        acc = _add(acc, _scale(ws[r], tower.coeff(seed, r, q - r)))
                coeffs.append(acc)
            state_series.append(coeffs)
        phi_i = []
        for j in range(d):
            local_step = step.xreplace({S.g: probe[j], S.theta: theta_seed[j]})
            series = [[c[j] for c in coeffs] for coeffs in state_series]
            phi_i.append(_taylor_coefficient(local_step, state_symbols, series, i))
        flow = _zero(d)
        for r in range(2, i + 2):
            flow = _add(flow, _scale(sp.Rational(1, math.factorial(r)), tower.coeff(theta_seed, r, i + 1 - r)))
        fields.append(calculus.tidy(tuple(-p - f for p, f in zip(phi_i, flow))))
    return fields
