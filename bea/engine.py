"""The derivation: memory elimination and order-by-order matching with a flow.

We look for a field F = F₀ + hF₁ + … + h^pF_p whose time-h flow reproduces one step of
the optimizer to O(h^{p+2}).  The variables of the flow are θ and the *slow* states (those
whose update is itself O(h), such as a running average with weight 1/(n+1)); *fast* states
(exponential moving averages with a fixed decay) are eliminated:

1. Memory.  Past iterates are points of the backward flow of F, so for any per-coordinate
   quantity u, u(y_{n-k}, t_{n-k}) = exp(−kh D) u (y_n, t_n) = Σ_r (−kh)^r/r! D^r u with
   D = ∂_t + F·∇ (the ∂_t is there for schedules).  A fast state s_{n+1} = b Σ_k a^k u_{n-k}
   becomes s = Σ_r (−h)^r/r! μ_r(n) D^r (b u), with the moments μ_r of :mod:`bea.moments`;
   ``Prev(q)`` is the same with a single weight at k = 1.  On the interval of step n the past
   is written with that interval's field ("frozen" history): exact once the fields stop
   depending on n, with an error that decays geometrically in n otherwise.
2. Step.  Every quantity (states, ``Grad(θ + u)`` = Σ_r ∇^{r+1}E[u,…,u]/r!, ``CoordSum``,
   explicit h) is a truncated power series in h; the step is Taylor-expanded around the
   h⁰ values, giving the map's increment Δy = hΦ₁ + h²Φ₂ + … for every variable y.
3. Flow.  The time-h flow of F moves y by Σ_{r≥1} h^r/r! D^r y.  Matching the h^{i+1}
   coefficients gives F_i = Φ_{i+1} − Σ_{r=2}^{i+1} [D^r y]_{i+1−r}/r!, where the right side
   only involves F₀…F_{i−1}.

Series are lists of coefficients computed lazily and memoized; nothing calls ``sympy.series``
on a large expression.  The arithmetic is the calculus's (:mod:`bea.abstract` for every
dimension, :mod:`bea.concrete` for a given loss).
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import sympy as sp
import symengine as se

from . import symbols as S
from .errors import BeaError
from .moments import moment, stationary_limit
from .plan import plan as make_plan
from .spec import OptimizerSpec


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b))


def _mul(a, b):
    return tuple(x * y for x, y in zip(a, b))


def _is_zero(a) -> bool:
    return all(x == 0 for x in a)


class Series:
    """A truncated power series in h whose coefficients are computed on demand and kept."""

    def __init__(self, base, coefficient):
        self.base, self._coefficient, self._known = base, coefficient, []

    def __getitem__(self, k: int):
        while len(self._known) <= k:
            self._known.append(self._coefficient(len(self._known)))
        return self._known[k]


def _tidy(expr):
    """Cancel the h⁰ values of a step's derivatives (small expressions, bias factors included):
    inside roots first (√(v₀/(1 − ρ^{n+1}) + ε) = √(g² + ε)), then the whole."""
    expr = sp.powsimp(expr).replace(lambda e: e.is_Pow and not e.exp.is_Integer and e.base.is_Add,
                                    lambda e: sp.Pow(sp.factor(sp.cancel(e.base)), e.exp))
    return sp.factor(expr) if sp.count_ops(expr) < 200 else expr


class Derivation:
    """The fields F₀, F₁, … of one optimizer in one calculus, computed one order after the other."""

    def __init__(self, spec: OptimizerSpec, calculus, stationary: bool):
        self.plan = make_plan(spec, stationary)
        uses_player = any(sp.sympify(e, strict=True).has(S.player)
                          for e in [spec.step] + [x for st in spec.states for x in (st.decay, st.input, st.scale)])
        if uses_player and (calculus.dimension is None or S.player not in getattr(calculus, "masks", {})):
            raise BeaError(f"{spec.name}: player (the first player's coordinates) needs a concrete game: pass "
                           "bea.game(...) as the loss (on the command line, --loss bilinear_game); the abstract "
                           "calculus has no per-player coordinates")
        self.calc, self.stationary = calculus, stationary or self.plan.in_time
        self.zero = calculus.const(0)
        self.variables = [S.theta] + [st.symbol for st in self.plan.slow]
        self.generator = {S.theta: calculus.local(S.theta)}
        self.generator.update({st.symbol: calculus.variable(st.symbol) for st in self.plan.slow})
        self.fields = []          # F_b as {variable: local value}
        self.directions = []      # the calculus's directions for D_b
        self._tower = {}
        self._quantities = {}
        self._constructs = {}
        self._placeholder = {}   # symbol standing for a construct -> its Series
        self._value0 = {}        # that symbol -> its h⁰ value in the spec's vocabulary
        self._powers = {}
        self._derivatives = {}
        self.h = Series(sp.S.Zero, lambda k: calculus.const(1 if k == 1 else 0))
        self.powers = {}          # symbol P_a standing for a**n -> a**n (restored in the output)
        self.bases = {}           # P_a -> a
        self.first_step = sp.Symbol("_first", nonnegative=True)  # 0**n: 1 on the first interval, else 0
        self.frozen_transient = False  # a state's input is not polynomial in an upstream transient
        self.plan.step = self.symbolic_powers(self.plan.step)

    def symbolic_powers(self, expr):
        """a^{c·n + k} → P_a^c a^k with a symbol P_a for a^n: bias corrections stay rational."""
        def power(e):
            c, k = sp.Poly(e.exp, S.n).all_coeffs() if sp.Poly(e.exp, S.n).degree() == 1 else (None, None)
            if c is None or not c.is_Integer:
                return e
            base = e.base
            if base.is_number and base > 1:  # SymPy writes (1/2)**n as 2**(-n): use the decay itself
                base, c, k = 1 / base, -c, -k
            return self.power_symbol(base) ** c * base**k

        return sp.sympify(expr).replace(lambda e: e.is_Pow and e.exp.has(S.n) and not e.base.has(S.n), power)

    @property
    def restore(self) -> dict:
        """The symbols standing for a^n and 0^n, with what they stand for (for the output)."""
        return {**self.powers, self.first_step: sp.Integer(0) ** S.n}

    def power_symbol(self, base):
        """The symbol standing for base**n (0**n is the first-step indicator)."""
        if base == 0:
            return self.first_step
        for sym, b in self.bases.items():
            if b == base:
                return sym
        sym = sp.Symbol(f"_pow{len(self.powers)}", positive=True)
        self.powers[sym] = base**S.n
        self.bases[sym] = base
        return sym

    # -- the Lie series ------------------------------------------------------
    def tower(self, seed, r: int, q: int):
        """[h^q] D^r seed, with D = Σ_b h^b D_b (D₀ includes ∂_t)."""
        key = (seed, r, q)
        if key not in self._tower:
            if r == 0:
                value = seed if q == 0 else self.zero
            else:
                value = self.zero
                for b in range(q + 1):
                    inner = self.tower(seed, r - 1, q - b)
                    if not _is_zero(inner):
                        value = _add(value, self.calc.lie(inner, self.directions[b]))
            self._tower[key] = value
        return self._tower[key]

    def memory(self, series: Series, k: int, decay=None):
        """[h^k] of Σ_j w_j u_{n−j}: past values of u = ``series`` written through the backward flow.

        ``decay`` a gives the weights a^j, j = 0…n (or 0…∞ when stationary); None the single weight
        at j = 1 (``Prev``).  A past value u_{n−j} is u at θ_{n−j} = exp(−jh D)θ and at step n − j:
        where u depends on n (through n and the powers c^n of an upstream transient), that
        dependence is shifted exactly, c^n → c^n c^{−j}, n → n − j, which only changes the
        moments: Σ_j a^j (−j)^r/r! (n−j)^A c^{−j} = Σ_i C(A,i) n^{A−i} (−1)^{r+i}/r! μ_{r+i}(a/c).
        This is done for u's h⁰ part (a polynomial in the transients when u is one in the upstream
        states); its higher parts carry the frozen field's n-dependence and stay frozen, an error
        that lands one order later, inside the transient (:attr:`ModifiedODE.global_order`).
        """
        total = self.zero
        for q in range(k + 1):
            seed = series[q]
            if _is_zero(seed):
                continue
            for signature, part in self._signatures(seed) if q == 0 and not self.stationary else [((0, {}, 0), seed)]:
                for r in range(k - q + 1):
                    w = self._weight(decay, signature, r)
                    if w == 0:
                        continue
                    term = self.tower(part, r, k - q - r)
                    if not _is_zero(term):
                        total = _add(total, _mul(self.calc.const(w), term))
        return total

    def _signatures(self, value):
        """[(signature, part)]: ``value`` as a polynomial in n, the powers c^n and the first-step
        indicator 0^n, each coefficient ``part`` free of them; signature = (A, {P: j}, z)."""
        names = {S.n.name: S.n, self.first_step.name: self.first_step, **{p.name: p for p in self.powers}}
        present = sorted({x.name for e in value for x in e.free_symbols} & set(names))
        parts = [((0, {}, 0), value)]
        for name in present:
            x, out = se.Symbol(name), []
            for (A, J, z), f in parts:
                a, g = 0, f
                while not _is_zero(g):
                    c = tuple(e.xreplace({x: 0}) / math.factorial(a) for e in g)
                    if not _is_zero(c):
                        if name == S.n.name:
                            out.append(((a, J, z), c))
                        elif names[name] == self.first_step:
                            out.append(((A, J, int(z or a > 0)), c))
                        else:
                            out.append(((A, {**J, names[name]: a} if a else J, z), c))
                    g = tuple(se.diff(e, x) for e in g)
                    a += 1
                    if a > 32:  # not a polynomial in the transients: keep them frozen (see global_order)
                        self.frozen_transient = True
                        return [((0, {}, 0), value)]
            parts = out
        return parts

    def _shifted_base(self, base, decay):
        """The h⁰ value of a memory of u (what :meth:`memory` gives at k = 0), as a SymPy expression."""
        gens = [x for x in [S.n, self.first_step, *self.powers] if base.has(x)]
        if self.stationary or not gens:
            return self._weight(decay, (0, {}, 0), 0) * base
        try:
            poly = sp.Poly(sp.expand(base), *gens)
        except sp.PolynomialError:
            self.frozen_transient = True
            return self._weight(decay, (0, {}, 0), 0) * base
        total = sp.S.Zero
        for exps, coeff in poly.terms():
            named = dict(zip(gens, exps))
            J = {P: j for P, j in named.items() if P in self.powers and j}
            signature = (named.get(S.n, 0), J, int(named.get(self.first_step, 0) > 0))
            total += self._weight(decay, signature, 0) * coeff
        return total

    def _weight(self, decay, signature, r):
        """The shifted moment of one signature (see :meth:`memory`), a SymPy constant."""
        A, J, z = signature
        sign = sp.Rational((-1) ** r, math.factorial(r))
        if decay is None:  # Prev: the single weight at j = 1
            if z:
                raise BeaError("prev(·) of a quantity that itself depends on the first step's convention "
                               "(prev of prev) is not derived")
            gamma = sp.Mul(*(self.bases[P] ** j for P, j in J.items()))
            return sign * (S.n - 1) ** A / gamma * sp.Mul(*(P**j for P, j in J.items()))
        if self.stationary:
            return sign * moment(decay, r, True) if (A, J, z) == (0, {}, 0) else sp.S.Zero
        decay = sp.sympify(decay)
        if z:  # the j = n term only: a^n (−n)^r/r! (and 0^A)
            return sign * self.power_symbol(decay) * S.n**r if A == 0 else sp.S.Zero
        gamma = sp.Mul(*(self.bases[P] ** j for P, j in J.items()))
        scale = sp.Mul(*(P**j for P, j in J.items()))
        power = (self.power_symbol(decay) if decay != 1 else sp.S.One) / scale
        total = sp.S.Zero
        for i in range(A + 1):
            mu = moment(decay / gamma, r + i, False, power if decay / gamma not in (0, 1) else None)
            total += sp.binomial(A, i) * S.n ** (A - i) * (-1) ** i * mu
        return sp.expand(sign * scale * total)  # P^J (a/c)^n = a^n: no c^{-n} left to overflow

    # -- quantities as series ------------------------------------------------
    def quantity(self, expr) -> Series:
        """The series of a spec expression at the current step."""
        expr = sp.sympify(expr)
        key = expr
        if key not in self._quantities:
            replace = {}
            for node in S.constructs_innermost_first(expr):
                replace[node] = self._construct(type(node), node.args[0].xreplace(replace))
            body = expr.xreplace(replace)
            inputs = {}
            for sym in body.free_symbols:
                if sym in self._placeholder:
                    inputs[sym] = self._placeholder[sym]
                elif sym == S.h:
                    inputs[sym] = self.h
                elif sym in self.plan.fast:
                    inputs[sym] = self.state(sym)
                elif sym in self.plan.slow_symbols:
                    inputs[sym] = self.slow_update(sym)
            self._quantities[key] = self._expand(body, inputs)
        return self._quantities[key]

    def _construct(self, kind, inner):
        """A placeholder symbol standing for Grad/Prev/CoordSum of ``inner``, with its series."""
        key = (kind, inner)
        if key not in self._constructs:
            if kind is S.Prev and inner in self.plan.slow_symbols:  # a slow state's old value is its variable
                var = self.generator[inner]
                series = Series(inner, lambda k: var if k == 0 else self.zero)
                self._value0[inner] = inner
                self._constructs[key] = inner
                self._placeholder[inner] = series
                return inner
            elif kind is S.Grad:
                series = self._gradient_at(self.quantity(inner - S.theta))
            else:
                arg = self.quantity(inner)
                if kind is S.CoordSum:
                    series = Series(None, lambda k: self.calc.coord_sum(arg[k]))
                elif self.stationary:  # Prev: a memory with the single weight 1 at j = 1
                    series = Series(None, lambda k: self.memory(arg, k))
                else:  # at n = 0, prev(q) is q with every state at its start value 0 (g_{−1} = g_0):
                    first = self.calc.const(self.first_step)  # first · that + (1 − first) · the shifted past
                    start = self.quantity(inner.xreplace({st.symbol: 0 for st in self.plan.spec.states}))
                    series = Series(None, lambda k: _add(_mul(first, start[k]),
                                                         _mul(self.calc.const(1 - self.first_step), self.memory(arg, k))))
            sym = sp.Symbol(f"_{kind.word}{len(self._constructs)}")
            series.base = sym
            self._placeholder[sym] = series
            if kind is S.Grad:
                self._value0[sym] = S.g if series.offset0 == 0 else S.Grad(S.theta + series.offset0)
            elif kind is S.CoordSum:
                self._value0[sym] = S.CoordSum(self.resolve(self.quantity(inner).base))
            else:
                value = self.resolve(self.quantity(inner).base)
                at_start = self.resolve(self.quantity(inner.xreplace({st.symbol: 0 for st in self.plan.spec.states})).base)
                self._value0[sym] = value if self.stationary else \
                    self.first_step * at_start + (1 - self.first_step) * self._shifted_base(value, None)
            self._constructs[key] = sym
        return self._constructs[key]

    def resolve(self, expr):
        """``expr`` with every construct placeholder replaced by its h⁰ value."""
        return sp.sympify(expr).xreplace(self._value0)

    def local(self, expr):
        """A SymPy expression in the spec's vocabulary (placeholders allowed) as a local value."""
        return self.calc.local(expr, {p: self._placeholder[p][0] for p in expr.free_symbols & set(self._placeholder)})

    def _expand(self, expr, inputs: dict) -> Series:
        """Series of ``expr`` given the series of its inputs (Taylor around their h⁰ values)."""
        names = sorted(inputs, key=str)
        base = {p: inputs[p].base for p in names}
        h0 = _tidy(expr.xreplace(base))
        if not names:
            value = self.local(expr)
            return Series(h0, lambda k: value if k == 0 else self.zero)

        def coefficient(k):
            if k == 0:
                return self.local(h0)
            total = self.zero
            for alpha in _multi_indices(len(names), k):
                product = self._delta_product(names, inputs, alpha, k)
                if product is not None:
                    total = _add(total, _mul(self._derivative(expr, names, alpha, base), product))
            return total

        return Series(h0, coefficient)

    def _gradient_at(self, offset: Series) -> Series:
        """∇E(θ + u) = Σ_r ∇^{r+1}E[u,…,u]/r!, u = ``offset`` (u₀ ≠ 0 only where the calculus allows it)."""
        at = sp.expand(self.resolve(offset.base))
        if at != 0 and not self.calc.offsets:
            raise BeaError(f"grad(theta + u) with u = {at} at h = 0: a gradient an O(1) distance away has no "
                           "dimension-free Taylor expansion; tie the offset to h (e.g. r = c*h) or use a concrete loss")

        def coefficient(k):
            u0 = offset[0]
            if k == 0:
                return self.calc.contract([], at=u0)
            total = self.zero
            for r in range(1, k + 1):
                weight = self.calc.const(sp.Rational(1, math.factorial(r)))
                for parts in _compositions(k, r):
                    args = [offset[p] for p in parts]
                    if not any(_is_zero(a) for a in args):
                        total = _add(total, _mul(weight, self.calc.contract(args, at=u0)))
            return total

        series = Series(None, coefficient)
        series.offset0 = at
        return series

    def _delta_product(self, names, inputs, alpha, k):
        """[h^k] Π_i (series_i − base_i)^{α_i}, or None when it vanishes."""
        coeffs = None
        for name, a in zip(names, alpha):
            if a == 0:
                continue
            power = [self._power(inputs[name], a, j) for j in range(k + 1)]
            coeffs = power if coeffs is None else [_sum_products(coeffs, power, j, self.zero) for j in range(k + 1)]
        return None if _is_zero(coeffs[k]) else coeffs[k]

    def _power(self, series, a, j):
        """[h^j] (series − base)^a (memoized)."""
        key = (id(series), a, j)
        if key not in self._powers:
            if j < a:
                value = self.zero  # each factor starts at h¹
            elif a == 1:
                value = series[j]
            else:
                value = self.zero
                for i in range(1, j - a + 2):
                    left = series[i]
                    if not _is_zero(left):
                        right = self._power(series, a - 1, j - i)
                        if not _is_zero(right):
                            value = _add(value, _mul(left, right))
            self._powers[key] = value
        return self._powers[key]

    def _derivative(self, expr, names, alpha, base):
        """∂^α expr / α! at the h⁰ values, as a local value (simplified once, in SymPy)."""
        key = (expr, tuple(names), alpha)
        if key not in self._derivatives:
            d = sp.diff(expr, *[(p, a) for p, a in zip(names, alpha) if a])
            d = _tidy(d.xreplace(base) / math.prod(math.factorial(a) for a in alpha))
            self._derivatives[key] = self.local(d) if d != 0 else self.zero
        return self._derivatives[key]

    # -- states --------------------------------------------------------------
    def state(self, symbol) -> Series:
        """A fast state s = Σ_r (−h)^r/r! μ_r D^r (b u) as a series."""
        key = ("state", symbol)
        if key not in self._quantities:
            st = self.plan.by_symbol[symbol]
            self._quantities[key] = None  # cycle guard (the plan has checked acyclicity)
            seed = self.quantity(st.scale * st.input)
            base = _tidy(self._shifted_base(seed.base, st.decay))
            self._quantities[key] = Series(base, lambda k: self.memory(seed, k, st.decay))
        return self._quantities[key]

    def slow_update(self, symbol) -> Series:
        """The new value s + (a − 1)s + b u of a slow state, a series starting at its variable."""
        key = ("slow", symbol)
        if key not in self._quantities:
            st = self.plan.by_symbol[symbol]
            u = self.quantity(st.input)
            var = self.generator[symbol]
            alpha, beta = self.plan.slow_coefficients[symbol]

            def coefficient(k):
                if k == 0:
                    return var
                total = _mul(self.calc.const(alpha[k]), var) if alpha[k] != 0 else self.zero
                for j in range(1, k + 1):
                    if beta[j] != 0:
                        total = _add(total, _mul(self.calc.const(beta[j]), u[k - j]))
                return total

            self._quantities[key] = Series(symbol, coefficient)
        return self._quantities[key]

    # -- matching -----------------------------------------------------------
    def increment(self, var, k: int):
        """Φ_k: [h^k] of the map's increment of ``var``."""
        if var == S.theta:
            return tuple(-x for x in self.quantity(self.plan.step)[k - 1])
        update = self.slow_update(var)
        return update[k]

    def next_field(self):
        """F_i from F₀ … F_{i−1}."""
        i = len(self.fields)
        field = {}
        for var in self.variables:
            value = self.increment(var, i + 1)
            for r in range(2, i + 2):
                value = _add(value, _mul(self.calc.const(sp.Rational(-1, math.factorial(r))),
                                         self.tower(self.generator[var], r, i + 1 - r)))
            field[var] = self.calc.simplify(value)
        self.fields.append(field)
        self.directions.append(self.calc.direction({self.generator[v]: field[v] for v in self.variables},
                                                   time=(i == 0)))
        return field


def _multi_indices(count: int, k: int):
    """Multi-indices α with 1 ≤ |α| ≤ k (each input's delta starts at h¹, so |α| ≤ k suffices)."""
    for alpha in itertools.product(range(k + 1), repeat=count):
        if 0 < sum(alpha) <= k:
            yield alpha


def _compositions(k: int, r: int):
    """Ordered r-tuples of positive integers summing to k."""
    if r == 1:
        yield (k,)
        return
    for first in range(1, k - r + 2):
        for rest in _compositions(k - first, r - 1):
            yield (first,) + rest


def _sum_products(a, b, j, zero):
    total = zero
    for i in range(j + 1):
        if not _is_zero(a[i]) and not _is_zero(b[j - i]):
            total = _add(total, _mul(a[i], b[j - i]))
    return total


def check_expandable(spec: OptimizerSpec, order: int, stationary: bool = False):
    """Refuse what has no modified equation in powers of h (or none at this order); see :mod:`bea.plan`."""
    make_plan(spec, stationary).check(order)


def derive(spec: OptimizerSpec, calculus, order: int, stationary: bool = False):
    """The fields [F₀, …, F_order], each {variable: local value} (θ and the slow states)."""
    derivation = Derivation(spec, calculus, stationary)
    derivation.plan.check(order)
    for _ in range(order + 1):
        derivation.next_field()
    return derivation
