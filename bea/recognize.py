"""Recognition: read a derived correction as (preconditioned) gradients of named functionals.

With F₀ = −P ∇E for a coordinatewise preconditioner P(g), a correction of the form

    F_i = −P Σ_k c_k(g) ⊙ ∇Ψ_k,      Ψ_k(θ) = Σ_j ψ_k(∂_jE(θ)),   ∇Ψ_k = ∇²E · ψ_k'(∇E),

is found by collecting F_i/(−P) by the contractions ∇²E[u] = DE(u) and integrating
u = ψ'.  When every c_k is a constant the correction is a preconditioned gradient
and θ̇ = −P ∇(E + h^i Σ_k c_k Ψ_k) + … names the implicit regularizer.

Each recognized part also carries what it means: its small- and large-ε regimes, with the
sign of the limiting coefficient and the factors that sign depends on, probed over the
optimizer's hyperparameter domains (:data:`PROBE_RANGES`).  Display only formats these.
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import sympy as sp

from . import symbols as S
from .abstract import DE, collect, factor_if_cheap, signs_as_ratios
from .limits import TimeLimit, time_limit

INTEGRATION_SECONDS = 5.0  # for ψ with ψ' = u when u is not a known functional's derivative

#: Where a coefficient's sign is probed, per hyperparameter domain (ε gets its own range in the large-ε regime).
PROBE_RANGES = {"unit": (0.0, 0.999), "open_unit": (0.001, 0.999), "nonnegative": (0.0, 10.0),
                "positive": (1e-6, 10.0)}


def probe_domains(spec) -> tuple:
    """((symbol, (low, high)), …): where the signs of ``spec``'s coefficients are probed.

    Examples
    --------
    >>> import bea
    >>> probe_domains(bea.REGISTRY["rmsprop"]())
    ((rho, (0.0, 0.999)), (epsilon, (0.0, 10.0)))
    """
    return tuple((hp.symbol, PROBE_RANGES[hp.domain]) for hp in spec.hyperparameters)


#: Functionals of the whole gradient (not sums over coordinates): (∇Ψ/∇²E, i.e. the argument u with
#: ∇Ψ = ∇²E[u], Ψ itself, its name, its LaTeX).
GLOBAL = [
    (S.g / sp.sqrt(S.CoordSum(S.g**2)), sp.sqrt(S.CoordSum(S.g**2)), "‖∇E‖₂", r"\|\nabla E\|_2"),
]
#: The loss itself: a correction along ∇E (a schedule's η′ term, a rescaling of time).
LOSS = (S.g, "E", "E")

#: Functionals Σ_j ψ(∂_jE) with names users know.
KNOWN = [
    (S.g**2, "‖∇E‖₂²", r"\|\nabla E\|_2^2"),
    (sp.sqrt(S.g**2 + S.eps), "‖∇E‖_{1,ε}", r"\|\nabla E\|_{1,\varepsilon}"),
    (sp.Abs(S.g), "‖∇E‖₁", r"\|\nabla E\|_1"),
    (sp.Abs(S.g) - S.eps * sp.log(1 + sp.Abs(S.g) / S.eps), "R_ε = Σ_j (|∂_jE| − ε log(1 + |∂_jE|/ε))",
     r"R_\varepsilon"),
]


@dataclass(frozen=True)
class Functional:
    """Ψ(θ) = Σ_j ψ(∂_jE(θ)); ``name`` is its common name or a generic Σ_j ψ(∂_jE)."""

    psi: sp.Expr
    name: str
    latex: str


@dataclass(frozen=True)
class Part:
    """One piece c(g) ⊙ ∇Ψ of a correction (componentwise coefficient c).

    ``domains`` ((symbol, (low, high)) pairs) is where the signs of its regimes are probed.
    """

    coefficient: sp.Expr
    functional: Functional
    domains: tuple = ()

    @property
    def constant(self) -> bool:
        return not self.coefficient.has(S.g, S.theta)

    @functools.cached_property
    def regimes(self) -> tuple:
        """Its small- and large-ε limits (:class:`Regime`, with sign and sign conditions); empty when
        ψ is a polynomial or c depends on n."""
        return tuple(regimes(self, dict(self.domains)))

    @functools.cached_property
    def crossover(self):
        """The |∂_jE| at which the coefficient changes sign between its regimes (an expression in the
        hyperparameters, a number once they are given), or None when it keeps its sign or depends on
        more than |∂_jE|.

        Examples
        --------
        >>> import bea
        >>> part = bea.modified_ode("adam", order=1, stationary=True, beta=0.9, rho=0.999,
        ...                         eps=1e-8).recognized[0].parts[0]
        >>> round(float(part.crossover) / 1e-4, 4)      # |∂_jE| / √ε where Adam's sign turns
        0.098
        """
        if len(self.regimes) < 2 or self.coefficient.has(S.theta, S.n, S.CoordSum, DE):
            return None
        x = sp.Symbol("x", positive=True)  # x = g², the coefficient is even in g
        c = sp.together(signs_as_ratios(self.coefficient).subs(S.g, sp.sqrt(x)))
        if c.has(S.g):
            return None
        try:
            with time_limit(INTEGRATION_SECONDS):
                roots = [r for r in sp.solve(sp.numer(c), x) if not r.is_number or r > 0]
        except (TimeLimit, NotImplementedError):
            return None
        return sp.sqrt(roots[0]) if len(roots) == 1 else None

    def substitute(self, values: dict) -> "Part":
        """The same part with hyperparameter symbols replaced by numbers (its regimes follow)."""
        f = self.functional
        return Part(self.coefficient.xreplace(values), Functional(f.psi.xreplace(values), f.name, f.latex),
                    self.domains)


@dataclass(frozen=True)
class Recognition:
    """F_order = −P Σ parts (+ ``rest``, what is not of that form).

    Parameters
    ----------
    order : int
        i in F_i.
    preconditioner : sympy.Expr
        P, with F₀ = −P g.
    parts : tuple of Part
        The pieces c_k(g) ⊙ ∇Ψ_k.
    rest : sympy.Expr
        What is left, times −P (0 when everything was recognized).

    Examples
    --------
    >>> import bea
    >>> gd = bea.modified_ode("gd", order=1).recognized[0]
    >>> gd.is_gradient, gd.regularizer()
    (True, ‖∇E‖₂²/4)
    """

    order: int
    preconditioner: sp.Expr
    parts: tuple
    rest: sp.Expr

    def substitute(self, values: dict) -> "Recognition":
        """The same recognition with hyperparameter symbols replaced by numbers."""
        parts = tuple(p.substitute(values) for p in self.parts)
        return Recognition(self.order, self.preconditioner.xreplace(values), parts, self.rest.xreplace(values))

    @property
    def is_gradient(self) -> bool:
        """True when F_order = −P ∇(Σ c_k Ψ_k) with constant c_k: a named implicit regularizer."""
        return self.rest == 0 and bool(self.parts) and all(p.constant for p in self.parts)

    def regularizer(self) -> sp.Expr | None:
        """Σ c_k Ψ_k as an expression in placeholder symbols named after Ψ_k (None if not a gradient)."""
        if not self.is_gradient:
            return None
        return sp.Add(*(p.coefficient * sp.Symbol(p.functional.name) for p in self.parts))


def functional(u):
    """(factor, Ψ) with ψ' = u / factor, Ψ = Σ_j ψ(∂_jE), if u depends on g alone (else None).

    Examples
    --------
    >>> factor, psi = functional(S.g / sp.sqrt(S.g**2 + S.eps))
    >>> factor, psi.name
    (1, '‖∇E‖_{1,ε}')
    >>> functional(S.g**3)[1].name
    'Σ_j ψ(∂_jE) with ψ(g) = g**4/4'
    >>> functional(S.theta * S.g) is None
    True
    """
    if u.free_symbols & {S.theta} or u.has(DE) or not u.has(S.g):
        return None
    for derivative, psi, name, latex in GLOBAL:
        ratio = sp.simplify(u / derivative)
        if not ratio.has(S.g, S.CoordSum):
            return ratio, Functional(psi, name, latex)
    if u.has(S.CoordSum):
        return None
    for known, name, latex in KNOWN:  # u a constant multiple of a known ψ' (integrate cannot do |g| terms)
        ratio = sp.simplify(signs_as_ratios(u / sp.diff(known, S.g)))
        if not ratio.has(S.g):
            return ratio, Functional(known, name, latex)
    try:  # not a known functional: name ψ itself, if an antiderivative is found in bounded time
        with time_limit(INTEGRATION_SECONDS):
            psi = sp.integrate(u, S.g)
            if psi.has(sp.Integral) or sp.simplify(sp.diff(psi, S.g) - u) != 0:
                return None
    except TimeLimit:
        return None
    return sp.S.One, Functional(psi, f"Σ_j ψ(∂_jE) with ψ(g) = {psi}",
                                rf"\sum_j \psi(\partial_j E),\ \psi(g) = {sp.latex(psi)}")


def preconditioner(F0) -> sp.Expr | None:
    """P with F₀ = −P g, when F₀ is a coordinatewise rescaling of the gradient.

    Examples
    --------
    >>> preconditioner(-S.g / sp.sqrt(S.g**2 + S.eps))
    1/sqrt(epsilon + g**2)
    >>> preconditioner(-S.g - S.theta) is None  # weight decay: not a rescaled gradient
    True
    """
    P = sp.simplify(-F0 / S.g)
    if P.has(DE, S.theta) or P == 0:
        return None
    return P


def recognize(terms, domains: tuple = ()) -> list[Recognition]:
    """Recognition of each correction F₁, F₂, … of an abstract result (empty if F₀ ≠ −P g).

    Parameters
    ----------
    terms : list
        [F₀, F₁, …] of an abstract result (per-coordinate expressions).
    domains : tuple
        (symbol, (low, high)) pairs, e.g. :func:`probe_domains`: where the signs of the parts'
        regimes are probed.

    Examples
    --------
    >>> from bea.abstract import DE
    >>> [rec] = recognize([-S.g, -DE(S.g) / 2])   # gradient descent, order 1
    >>> rec.parts[0].coefficient, rec.parts[0].functional.name, rec.is_gradient
    (1/4, '‖∇E‖₂²', True)
    """
    P = preconditioner(terms[0])
    if P is None:
        return []
    out = []
    for i, Fi in enumerate(terms[1:], start=1):
        scaled = collect(sp.expand(Fi / (-P)))
        parts, rest, along = [], sp.S.Zero, sp.S.Zero
        for term in sp.Add.make_args(scaled):
            coeff, mono = term.as_independent(DE, as_Add=False)
            found = None
            if isinstance(mono, DE) and len(mono.args) == 1:  # global scalars go inside: ∇²E[u]·c = ∇²E[c u]
                local, glob = coeff.as_independent(S.CoordSum, as_Add=False)
                found = functional(mono.args[0] * glob)
                coeff = local if found is not None else coeff
            elif mono == 1 and not (coeff / S.g).has(S.g, S.theta, S.CoordSum):
                along += coeff / S.g  # a multiple of ∇E: the loss itself
                continue
            if found is None:
                rest += term
            else:
                parts.append(Part(factor_if_cheap(coeff * found[0]), found[1], domains))
        if along != 0:
            parts.append(Part(factor_if_cheap(along), Functional(*LOSS), domains))
        out.append(Recognition(i, P, tuple(parts), sp.factor(rest * -P) if rest != 0 else sp.S.Zero))
    return out


def sign_conditions(expr, domains: dict, samples: int = 64, seed: int = 0):
    """Split a constant coefficient into (fixed sign, factors whose sign varies).

    The factors of ``expr`` are probed at random points of the hyperparameter
    domains (``{symbol: (low, high)}``); a factor of constant sign folds into the
    overall sign, the others are returned as the conditions the sign depends on.
    Returns (sign, [factors]) with sign in {+1, −1}, or (0, []) for a zero coefficient.

    Examples
    --------
    >>> unit = {S.beta: (0.0, 0.999), S.rho: (0.0, 0.999)}
    >>> sign_conditions((S.beta - S.rho) / ((1 - S.beta) * (1 - S.rho)), unit)
    (1, [beta - rho])
    >>> sign_conditions(-(1 + S.beta) / (1 - S.beta), unit)
    (-1, [])
    """
    expr = sp.factor(expr)
    if expr == 0:
        return 0, []
    rng = random.Random(seed)
    points = [{s: sp.Float(rng.uniform(*domains[s])) for s in expr.free_symbols if s in domains} for _ in range(samples)]
    sign, varying = 1, []
    numer, denom = sp.fraction(expr)
    for base, exp in (sp.factor_list(numer)[1] + sp.factor_list(denom)[1]):
        if base.free_symbols - set(domains):  # a symbol with no known range: its sign is a condition
            varying.append(base)
            continue
        values = {bool(base.xreplace(p).evalf() > 0) for p in points} if base.free_symbols else {bool(base > 0)}
        if len(values) == 2:
            varying.append(base)
        elif values == {False} and exp % 2 == 1:
            sign = -sign
    lead = sp.factor_list(numer)[0] / sp.factor_list(denom)[0]
    return (sign if lead > 0 else -sign), varying


@dataclass(frozen=True)
class Regime:
    """The limit of one correction part when |∂_jE| ≫ √ε ("small ε") or |∂_jE| ≪ √ε ("large ε")."""

    name: str
    coefficient: sp.Expr
    functional: str
    sign: int
    conditions: tuple

    def verdict(self) -> str:
        what = self.functional
        if self.sign == 0:
            return f"{what}: coefficient 0, neither penalized nor anti-penalized at this order"
        if not self.conditions:
            return f"{what} {'penalized' if self.sign > 0 else 'anti-penalized'}"
        cond = " · ".join(f"({c})" for c in self.conditions)
        pos, neg = ("penalized", "anti-penalized") if self.sign > 0 else ("anti-penalized", "penalized")
        return f"{what} {pos} when {cond} > 0, {neg} when {cond} < 0"


def regimes(part: Part, domains: dict) -> list[Regime]:
    """Small- and large-ε limits of a part c(g) ⊙ ∇Ψ whose ψ is smooth but not polynomial (Adam-like).

    Parameters
    ----------
    part : Part
        A recognized piece (usually read as ``part.regimes``, which calls this once).
    domains : dict
        {symbol: (low, high)}: where signs are probed.

    Examples
    --------
    >>> import bea
    >>> part = bea.modified_ode("adam", order=1, stationary=True, rho=0.5).recognized[0].parts[0]
    >>> [regime.verdict() for regime in part.regimes]
    ['‖∇E‖₁ penalized when (2*beta - 1) > 0, anti-penalized when (2*beta - 1) < 0', '‖∇E‖₂² penalized']
    >>> part = bea.modified_ode("adam", order=1, stationary=True, beta=0.9, rho=0.999).recognized[0].parts[0]
    >>> part.regimes[0].verdict()
    '‖∇E‖₁ anti-penalized'
    """
    if part.functional.psi.is_polynomial(S.g) or part.coefficient.has(S.n) or part.functional.psi.has(S.CoordSum):
        return []  # no ε-regimes, or a step-dependent coefficient (see the n → ∞ result)
    c, psi = part.coefficient, part.functional.psi
    out = []
    c_small = sp.factor(sp.limit(c, S.g, sp.oo))
    slope = sp.limit(psi / S.g, S.g, sp.oo)
    if slope == 1:
        sign, cond = sign_conditions(c_small, domains)
        out.append(Regime("√ε ≪ |∂_jE| (early training, small ε)", c_small, "‖∇E‖₁", sign, tuple(cond)))
    # ψ ≈ ψ(0) + κ g²/2 near 0 (a limit, since |g| in ψ has no second derivative at 0 in SymPy's sense)
    curvature = sp.simplify(sp.limit(2 * (psi - psi.subs(S.g, 0)) / S.g**2, S.g, 0, "+"))
    if curvature != 0:
        coeff = sp.factor(sp.limit(c, S.g, 0, "+") * curvature / 2)
        sign, cond = sign_conditions(coeff, domains | {S.eps: (1e-6, 1.0)})
        out.append(Regime("√ε ≫ |∂_jE| (late training, large ε)", coeff, "‖∇E‖₂²", sign, tuple(cond)))
    return out
