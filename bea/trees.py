"""Canonical per-coordinate algebra: the fast core of the dimension-free calculus.

A per-coordinate expression is a SymEngine expression in

* *local generators*, one value per coordinate j: ``g`` (= ∂_jE, or v_j for a vector field),
  ``theta`` (= θ_j) and the variables of slow states;
* *global generators*, one value for all coordinates: the time ``t``, the step index ``n`` and
  the hyperparameters;
* *nodes*, interned once and standing in expressions as symbols:
  ``DE(u₁,…,u_r)`` = ∇^{r+1}E[u₁,…,u_r]_j = Σ_{i₁…i_r} ∂_j∂_{i₁}…∂_{i_r}E · u₁(i₁)…u_r(i_r)
  (local; a rooted tree whose children are again per-coordinate expressions) and
  ``SUM(u)`` = Σ_j u_j (a global scalar such as ‖∇E‖²).

Node arguments are kept canonical: expanded by multilinearity, global factors pulled out
of the contraction, like terms merged and the arguments of a DE sorted (∇^{r+1}E is
symmetric).  Two equal trees are then one symbol, so sums, products and Lie derivatives
are plain SymEngine arithmetic — no ``simplify`` anywhere.  The Lie derivative along a
field F (with components F_θ, F_s, … and, for non-autonomous fields, ∂_t) follows from

    D g = DE(F_θ),   D θ = F_θ,   D s = F_s,   D t = 1,
    D DE(u₁…u_r) = DE(u₁…u_r, F_θ) + Σ_k DE(u₁ … D u_k … u_r),   D SUM(u) = SUM(D u).

>>> from bea.trees import GEN, contract, lie, Direction, show
>>> F = Direction({GEN["theta"]: -GEN["g"]})          # gradient flow θ̇ = −g
>>> show(lie(GEN["g"], F))                          # D g = ∇²E[F] = −∇²E[g]
'-DE(g)'
>>> show(lie(contract(GEN["g"]), F))                # D ∇²E[g] = ∇³E[g, F] + ∇²E[D g]
'-DE(DE(g)) - DE(g, g)'
"""
from __future__ import annotations

import itertools

import symengine as se

#: The local generators every calculation has.
GEN = {name: se.Symbol(name) for name in ("g", "theta", "t")}
_LOCAL = {GEN["g"], GEN["theta"]}
_NODES = {}       # symbol -> (kind, args)
_INTERNED = {}    # (kind, args) -> symbol
_SORT = {}        # expression -> sort key


def local_generator(name: str) -> se.Symbol:
    """A further per-coordinate variable (a slow state, a mask), registered as local."""
    sym = se.Symbol(name)
    _LOCAL.add(sym)
    return sym


_IS_LOCAL = {}


def is_local(expr) -> bool:
    """Whether ``expr`` depends on the coordinate (a local generator or a DE node in it)."""
    found = _IS_LOCAL.get(expr)
    if found is None:
        found = _IS_LOCAL[expr] = any(s in _LOCAL for s in expr.free_symbols)
    return found


def node(symbol):
    """(kind, args) of a node symbol, or None for any other symbol."""
    return _NODES.get(symbol)


def _intern(kind: str, args: tuple) -> se.Symbol:
    key = (kind, args)
    sym = _INTERNED.get(key)
    if sym is None:
        sym = se.Symbol(f"_{kind}{len(_INTERNED)}")
        _INTERNED[key], _NODES[sym] = sym, key
        if kind == "DE":
            _LOCAL.add(sym)
    return sym


def _key(expr):
    key = _SORT.get(expr)
    if key is None:
        key = _SORT[expr] = str(expr)
    return key


_SPLIT = {}


def split(expr) -> dict:
    """{local monomial: global coefficient} of an expression (expanded first)."""
    found = _SPLIT.get(expr)
    if found is None:
        found = _SPLIT[expr] = _split(expr)
    return found


def _split(expr) -> dict:
    out = {}
    for term in se.Add.make_args(se.expand(expr)):
        glob, loc = [], []
        for factor in se.Mul.make_args(term):
            (loc if is_local(factor) else glob).append(factor)
        mono = se.Mul(*loc) if loc else se.Integer(1)
        out[mono] = out.get(mono, 0) + se.Mul(*glob)
    return {m: c for m, c in out.items() if c != 0}


_CONTRACT = {}


def contract(*args) -> se.Basic:
    """∇^{r+1}E[u₁,…,u_r] as a canonical expression (multilinear, symmetric); r = 0 gives g."""
    if not args:
        return GEN["g"]
    key = tuple(sorted(args, key=_key))
    found = _CONTRACT.get(key)
    if found is None:
        terms = []
        for combo in itertools.product(*(split(a).items() for a in key)):
            coeff = se.Mul(*(c for _, c in combo))
            monos = tuple(sorted((m for m, _ in combo), key=_key))
            terms.append(coeff * _intern("DE", monos))
        found = _CONTRACT[key] = se.Add(*terms)
    return found


def coord_sum(expr) -> se.Basic:
    """Σ_j u_j: global factors pulled out, one SUM node per local monomial."""
    return se.Add(*(c * _intern("SUM", (m,)) for m, c in split(expr).items()))


class Direction:
    """A field to differentiate along: {generator: its derivative} (θ ↦ F_θ, s ↦ F_s, t ↦ 1).

    Lie derivatives along it are memoized per node, so shared subtrees are differentiated once.
    """

    def __init__(self, components: dict):
        self.components = {k: v for k, v in components.items() if v != 0}
        self._memo = {}
        self._terms = {}

    def of_term(self, term):
        """D of one product: constant factors kept aside, the rest by the product rule (memoized)."""
        const, active = [], []
        for factor in se.Mul.make_args(term):
            (active if self._moves(factor) else const).append(factor)
        if not active:
            return se.Integer(0)
        mono = se.Mul(*active)
        d = self._terms.get(mono)
        if d is None:
            d = se.Integer(0)
            for k, factor in enumerate(active):
                rest = se.Mul(*active[:k], *active[k + 1:])
                for sym in factor.free_symbols:
                    dsym = self.of_generator(sym)
                    if dsym != 0:
                        d += se.diff(factor, sym) * dsym * rest
            self._terms[mono] = d
        return se.Mul(*const) * d

    def _moves(self, factor) -> bool:
        """Whether D can act on ``factor`` (a local generator, a node, or t when ∂_t is on)."""
        return any(s in _LOCAL or s in _NODES or s in self.components for s in factor.free_symbols)

    def of_generator(self, sym):
        if sym in self._memo:
            return self._memo[sym]
        if sym in self.components:
            value = self.components[sym]
        elif sym == GEN["g"]:
            value = contract(self.components[GEN["theta"]]) if GEN["theta"] in self.components else 0
        elif sym in _NODES:
            kind, args = _NODES[sym]
            if kind == "SUM":
                value = coord_sum(lie(args[0], self))
            else:
                value = contract(*args, self.components[GEN["theta"]]) if GEN["theta"] in self.components else 0
                for k, arg in enumerate(args):
                    d = lie(arg, self)
                    if d != 0:
                        value += contract(*args[:k], d, *args[k + 1:])
        else:
            value = 0
        self._memo[sym] = value
        return value


def diff(expr, x) -> se.Basic:
    """∂expr/∂x with sign′ = 0: a loss with kinks is expanded off them, where the iterates stay
    (SymEngine leaves ``Subs(Derivative(sign(ξ), ξ), ξ, u)``; SymPy's sign′ = 2δ is zero there too).

    >>> a = se.Symbol("a")
    >>> diff(a**2 * se.sign(a - 1), a)
    2*a*sign(-1 + a)
    >>> diff(a + se.sign(a), a)
    1
    """
    out = se.diff(expr, x)
    left = out.atoms(se.Subs, se.Derivative)
    if not left:
        return out
    kinks = {s for s in left if {type(f) for f in s.expr.atoms(se.Function)} == {se.sign}}
    if left - kinks:
        from .errors import BeaError

        raise BeaError(f"cannot differentiate {sorted(map(str, left - kinks))[0][:80]} exactly")
    return out.xreplace({k: se.Integer(0) for k in kinks})


def lie(expr, direction: Direction) -> se.Basic:
    """D expr along ``direction``: term by term, each monomial's derivative memoized."""
    return se.expand(se.Add(*(direction.of_term(term) for term in se.Add.make_args(se.expand(expr)))))


def from_sympy(expr, names: dict | None = None) -> se.Basic:
    """A SymPy expression as a SymEngine one, |u| written √(u²) (differentiable away from its kink,
    where the expansion holds; SymEngine has no derivative for abs).  ``names`` (name → SymPy
    symbol) records the symbols met, for :func:`to_sympy` on the way back."""
    if names is not None:
        import sympy as sp

        expr = sp.sympify(expr, strict=True)
        for sym in expr.free_symbols:
            names.setdefault(sym.name, sym)
    out = se.sympify(expr)
    found = out.atoms(se.Abs)
    while found:
        out = out.xreplace({a: se.sqrt(from_sympy(a.args[0]) ** 2) for a in found})
        found = out.atoms(se.Abs)
    return out


def to_sympy(expr, symbols: dict, memo: dict | None = None):
    """A SymEngine expression back in SymPy, walking shared subtrees once (a large field is a
    DAG far smaller than its tree); ``symbols`` maps names to the SymPy symbols to use."""
    import sympy as sp

    memo = {} if memo is None else memo
    stack = [expr]
    while stack:
        e = stack[-1]
        if e in memo:
            stack.pop()
            continue
        if e.is_Symbol:
            memo[e] = symbols.get(e.name) or sp.Symbol(e.name)
        elif e.is_Number or not e.args:
            memo[e] = sp.sympify(e, strict=True)
        else:
            todo = [a for a in e.args if a not in memo]
            if todo:
                stack.extend(todo)
                continue
            args = [memo[a] for a in e.args]
            memo[e] = sp.Add(*args) if e.is_Add else sp.Mul(*args) if e.is_Mul else sp.Pow(*args) if e.is_Pow \
                else _head(type(e))(*args)
        stack.pop()
    return memo[expr]


_HEADS = {}


def _head(kind):
    """The SymPy function for a SymEngine function type (sin → sympy.sin, …)."""
    if kind not in _HEADS:
        import sympy as sp

        probe = se.Symbol("_probe")
        _HEADS[kind] = sp.sympify(kind(probe), strict=True).func
    return _HEADS[kind]


def show(expr) -> str:
    """Readable text with nodes spelled out (for doctests and debugging)."""
    def spell(e):
        return e.xreplace({s: se.Symbol(_spell(s)) for s in e.free_symbols if s in _NODES})

    return str(spell(se.expand(expr)))


def _spell(sym) -> str:
    kind, args = _NODES[sym]
    inner = ", ".join(show(a) for a in args)
    return f"{kind}({inner})"
