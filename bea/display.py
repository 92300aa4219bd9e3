"""Human- and machine-readable forms of a derived modified ODE: text, LaTeX, JSON.

Formatting only: the terms come from the derivation, what they mean (named functionals,
regimes, sign conditions) from :mod:`bea.recognize`.
"""
from __future__ import annotations

import json

import sympy as sp

from . import symbols as S

#: s = √(g² + ε), the denominator of Adam-type steps, shown as one symbol.
s_sym = sp.Symbol("s", positive=True)
SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉"


def text(expr) -> str:
    """One-line text of an expression, with Greek letters."""
    return (str(expr).replace("epsilon", "ε").replace("beta", "β").replace("rho", "ρ").replace("lambda", "λ")
            .replace("theta", "θ"))


def _eps(ode):
    """The optimizer's ε (its number, or the symbol), or None when it has no ε."""
    if S.eps not in {hp.symbol for hp in ode.spec.hyperparameters}:
        return None
    return ode.values.get(S.eps, S.eps)


def readable(expr, ode):
    """Write √(g² + ε) as s (when the optimizer has an ε) and c·a − c as −c·(1 − a) for a decay a, for display."""
    eps = _eps(ode)
    expr = expr if eps is None else expr.subs(sp.sqrt(S.g**2 + eps), s_sym)
    return one_minus(expr, {hp.symbol for hp in ode.spec.hyperparameters if hp.domain in ("unit", "open_unit")})


class _OneMinus(sp.Symbol):
    """(1 − a) as one printed factor (display only)."""

    def _sympystr(self, printer):
        return f"(1 - {self.name})"

    def _pretty(self, printer):
        from sympy.printing.pretty.stringpict import prettyForm

        return prettyForm(f"(1 - {text(self.name)})")

    def _latex(self, printer):
        return rf"\left(1 - {sp.latex(sp.Symbol(self.name))}\right)"


def one_minus(expr, decays):
    """Factors written (1 − β) rather than (β − 1) for a decay β (display only).

    >>> b = sp.Symbol("beta")
    >>> one_minus(1 / (2 * b - 2), {b})
    -1/(2*(1 - beta))
    """
    def split(e):
        if not (e.is_Add and len(e.args) == 2):
            return None
        number = [a for a in e.args if a.is_Number]
        rest = [a for a in e.args if not a.is_Number]
        if len(number) != 1 or len(rest) != 1:
            return None
        c, a = rest[0].as_coeff_Mul()
        return (c, a) if a in decays and c == -number[0] and c > 0 else None

    def rewrite(e):
        c, a = split(e)
        return -c * _OneMinus(a.name)

    return expr.replace(lambda e: split(e) is not None, rewrite) if decays else expr


def _decays(ode):
    return [hp.symbol for hp in ode.spec.hyperparameters if hp.domain in ("unit", "open_unit")]


def memory_form(c, decays):
    """A finite-n coefficient as its n → ∞ form with each x/(1 − x) replaced by the bias-corrected
    memory b_n(x) = x/(1 − x) − (n + 1)x^{n+1}/(1 − x^{n+1}) (CKS24), when it is exactly that; else None.

    The n → ∞ coefficient is read as α + Σ_x κ_x·x/(1 − x) (affine in each X = x/(1 − x)), and the
    candidate α + Σ_x κ_x b_n(x) is checked to equal ``c`` identically.

    >>> from bea import symbols as S
    >>> b, n = S.beta, S.n
    >>> memory_form(b/(1 - b) - (n + 1)*b**(n + 1)/(1 - b**(n + 1)) + 3, [b])
    b_n(beta) + 3
    """
    from .moments import stationary_limit
    from .rational import factor

    present = [x for x in decays if c.has(x**S.n) or c.has(x ** (S.n + 1))]
    if not present or not c.has(S.n):
        return None
    limit = stationary_limit(c)
    X = {x: sp.Symbol(f"X_{x.name}") for x in present}
    affine = sp.expand(sp.cancel(limit.subs({x: X[x] / (1 + X[x]) for x in present})))
    if any(sp.degree(affine, X[x]) > 1 if affine.is_polynomial(X[x]) else True for x in present):
        return None
    b_n = {x: sp.Function("b_n")(x) for x in present}
    candidate = affine.subs({X[x]: b_n[x] for x in present})
    full = candidate.subs({b_n[x]: x / (1 - x) - (S.n + 1) * x ** (S.n + 1) / (1 - x ** (S.n + 1)) for x in present})
    powers = {x**S.n: sp.Symbol(f"P_{x.name}", positive=True) for x in present}
    def rational(e):
        return sp.expand_power_base(sp.powsimp(sp.expand(e), combine="exp")).replace(
            lambda p: p.is_Pow and p.exp.has(S.n), lambda p: powers[p.base**S.n] ** sp.Poly(p.exp, S.n).coeffs()[0]
            * p.base ** (sp.Poly(p.exp, S.n).all_coeffs()[1] if sp.Poly(p.exp, S.n).degree() == 1 else 0))
    try:
        if factor(rational(c) - rational(full)) != 0:
            return None
    except (sp.PolynomialError, KeyError, IndexError):
        return None
    return sp.collect(sp.expand(candidate), list(b_n.values()), sp.factor)


def compact(c):
    """``c`` factored, unless factoring splits powers of exp (e^{10t} − 1 into cyclotomic pieces in e^t):
    then the shortest of the factored, expanded-fraction and expanded forms.

    >>> t = sp.Symbol("t")
    >>> compact((1 - sp.exp(-10*t)) / 4)
    1/4 - exp(-10*t)/4
    >>> compact(sp.Symbol("b")**2 - 1)
    (b - 1)*(b + 1)
    """
    factored = sp.factor(c)
    if not factored.has(sp.exp):
        return factored
    numerator, denominator = sp.fraction(sp.together(c))
    cancelled = sp.cancel(c)
    forms = [factored, cancelled, sp.expand(cancelled), sp.expand(numerator) / sp.expand(denominator)]
    return min(forms, key=sp.count_ops)


def _coefficient(c, ode):
    """A coefficient c(g) rewritten in s (g² = s² − ε) and split into partial fractions."""
    sums = {node: sp.Dummy(f"sum{i}") for i, node in enumerate(c.atoms(S.CoordSum))}
    if sums:  # Σ_j(…) sums over every coordinate: it keeps its own g, not the s of this coordinate
        return _coefficient(c.xreplace(sums), ode).xreplace({d: node for node, d in sums.items()})
    eps = _eps(ode)
    if not c.has(S.g) or eps is None:
        return compact(c)
    if c.has(sp.Abs(S.g)):  # ε outside the root: write it in a = |g| (g² = a²), partial fractions in a
        a = sp.Symbol("|g|", positive=True)
        in_a = sp.factor(c.replace(sp.Abs(S.g), a).replace(lambda e: e.is_Pow and e.base == S.g,
                                                              lambda e: a**e.exp))
        return in_a if in_a.has(S.g) else sp.collect(sp.apart(in_a, a), a, sp.factor)
    in_s = sp.simplify(c.subs(S.g**2, s_sym**2 - eps))
    if in_s.has(S.g):
        return readable(compact(c), ode)
    try:  # A + B/s² + …, each coefficient factored
        return sp.collect(sp.apart(sp.together(in_s), s_sym), s_sym, sp.factor)
    except (sp.PolynomialError, NotImplementedError):
        return in_s


#: Terms up to this many operations are regrouped for display (larger ones would cost many seconds).
SMALL = 300


def field_term(F, ode):
    """A term F_i for display: grouped by its contractions ∇^{r+1}E[…], each coefficient written in s
    (:func:`_coefficient`); a concrete term (a column) only gets :func:`readable`.

    >>> import bea
    >>> ode = bea.modified_ode("signum", order=1, beta=sp.Rational(1, 2), stationary=True)
    >>> field_term(ode.terms[1], ode)
    -3*epsilon*D2E[g/s]/(2*s**3)
    """
    from .abstract import DE

    if not isinstance(F, sp.Expr) or not F.has(DE) or F.has(S.n) or sp.count_ops(F) > SMALL:
        return readable(F, ode)  # finite-n coefficients (β^n) are left as derived: simplifying them costs minutes
    groups = {}
    for term in sp.Add.make_args(sp.expand(F)):
        c, node = term.as_independent(DE, as_Add=False)
        groups[node] = groups.get(node, 0) + c
    return readable(sp.Add(*(_coefficient(c, ode) * node for node, c in groups.items())), ode)


def _header(ode):
    options = ", ".join(f"{k}={v}" for k, v in ode.spec.options.items())
    values = ", ".join(f"{text(k)}={v}" for k, v in ode.values.items() if k != S.n)
    if ode.stationary:
        regime = "stationary (n → ∞)"
    elif S.n in ode.values:
        regime = f"the interval of step n = {ode.values[S.n]}"
    else:
        regime = "finite n (field on each interval [nh, (n+1)h])"
    lines = [f"{ode.spec.title}" + (f"; {options}" if options else ""),
             f"regime: {regime}; order {ode.order} in h" + (f"; {values}" if values else "")]
    if ode.abstract:
        notation = "notation: g = ∇E(θ), products and quotients componentwise, ∇²E[u] = ∇²E·u, ∇³E[u, w] = ∇³E(u, w, ·)"
        if _eps(ode) is not None:
            notation += ", s = √(g² + ε)"
        lines.append(notation)
    else:
        lines.append(f"loss: E = {ode.loss}; variables: {', '.join(map(str, ode.variables))}")
    return lines


def _order_note(ode):
    q = ode.global_order
    if ode.accumulates:
        return ("regime: a fixed number of steps N as h → 0 (error O(h^2) after N steps); the accumulator never "
                "forgets, so over a fixed horizon T = Nh the iterates move only O(√(hT)) and no order in h holds")
    if q is None:
        return ("global error: describes the iterates once the bias-correction/initialization transient "
                "has passed (use finite n to match iterates from step 0)")
    note = f"global error O(h^{q}) over a fixed horizon T = nh"
    if ode.joint and q == 2:
        note += (" up to a factor log²(1/h) (a running average's first steps, where 1/(n+1) is not small; "
                 "from a fixed t₀ > 0 on, the error is O(h^" + f"{ode.order + 1})" + ")")
        return note
    if q < ode.order + 1:
        note += (f" (not O(h^{ode.order + 1}): F{SUBSCRIPTS[q - 2]} depends on n, and writing the past with the"
                 f" current interval's field costs O(h^{q}) over the transient)")
    return note


def recognition_lines(ode):
    """Sentences naming the preconditioned gradients and regularizers found in the corrections."""
    found = ode.recognized
    if not found:
        return ["no recognized structure (F₀ is not a coordinatewise rescaling of −∇E)"]
    P = readable(found[0].preconditioner, ode)
    out = [f"F₀ = −P ⊙ ∇E with P = {text(P)}" if P != 1 else "F₀ = −∇E (plain gradient flow)"]
    for rec in found:
        sub = SUBSCRIPTS[rec.order] if rec.order < 10 else str(rec.order)
        power = "h" if rec.order == 1 else f"h^{rec.order}"
        if not rec.parts:
            out.append(f"F{sub}: not a combination of gradients of known functionals")
            continue
        if rec.is_gradient:
            reg = " + ".join(f"({text(readable(compact(p.coefficient), ode))})·{p.functional.name}" for p in rec.parts)
            lead = "−∇" if P == 1 else "−P ⊙ ∇"
            when = " at each time t" if any(p.coefficient.has(S.t) for p in rec.parts) else ""
            out.append(f"F{sub} = {lead}({reg}): a gradient{when}; implicit regularizer {power}·({reg})")
            if rec.order == 1:
                out.append(f"  modified loss: Ẽ = E + {power}·({reg})")
        else:
            for p in rec.parts:
                short = memory_form(p.coefficient, _decays(ode))
                c = short if short is not None else _coefficient(p.coefficient, ode)
                out.append(f"F{sub} = −P ⊙ c ⊙ ∇{p.functional.name}, c = {text(readable(c, ode))}")
                if short is not None:
                    out.append("  with the bias-corrected memory b_n(x) = x/(1 − x) − (n + 1)x^(n+1)/(1 − x^(n+1)) "
                               "(→ x/(1 − x) as n → ∞)")
            if not all(p.constant for p in rec.parts):
                out.append("  not a gradient of one functional: c varies with the coordinate (through g)")
        if rec.rest != 0:
            out.append(f"  plus terms not of that form: {text(readable(rec.rest, ode))}")
        for p in rec.parts:
            for rg in p.regimes:
                out.append(f"  {rg.name}: coefficient → {text(readable(rg.coefficient, ode))}: {text(rg.verdict())}")
            if p.crossover is not None:
                at = p.crossover
                shown = f"{float(at):.4g}" if at.is_number else text(readable(at, ode))
                ratio = f" = {float(at / sp.sqrt(ode.values[S.eps])):.4g}·√ε" if at.is_number and ode.values.get(S.eps) else ""
                out.append(f"  the coefficient changes sign at |∂_jE| = {shown}{ratio} (between the two regimes)")
    return out


def pretty(ode) -> str:
    """Multi-line text: the ODE, its terms, the recognized regularizers, the regimes."""
    lines = _header(ode)
    terms = " + ".join(["F₀"] + [f"h{'' if i == 1 else '^' + str(i)} F{SUBSCRIPTS[i]}" for i in range(1, ode.order + 1)])
    lines += ["", f"θ̇ = {terms} + O(h^{ode.order + 1})", ""]
    for i, F in enumerate(ode.terms):
        body = sp.pretty(field_term(F, ode), use_unicode=True)
        label = f"F{SUBSCRIPTS[i] if i < 10 else i} = "
        pad = " " * len(label)
        body_lines = body.splitlines()
        mid = len(body_lines) // 2
        lines += [(label if k == mid else pad) + row for k, row in enumerate(body_lines)]
        lines.append("")
    lines.append(_order_note(ode))
    if ode.order >= 1:
        lines += ["", "recognized:"] + ["  " + x for x in recognition_lines(ode)]
    return "\n".join(lines)


#: Unicode in recognition's regime names and functionals → LaTeX (longest first: √ε before ε).
_TEX = {"√ε": r"\sqrt{\varepsilon}", "≪": r"\ll", "≫": r"\gg", "|∂_jE|": r"|\partial_j E|",
        "‖∇E‖₁": r"\|\nabla E\|_1", "‖∇E‖₂²": r"\|\nabla E\|_2^2", "ε": r"\varepsilon"}


def _tex(expr, ode=None) -> str:
    """LaTeX of an expression (ε as \varepsilon, √(g² + ε) as s when ``ode`` is given)."""
    return sp.latex(readable(expr, ode) if ode is not None else expr, symbol_names={S.eps: r"\varepsilon"})


def _tex_name(name: str) -> str:
    """A regime or functional name such as "√ε ≪ |∂_jE| (early training, small ε)" in LaTeX."""
    math, _, note = name.partition(" (")
    for unicode, tex in _TEX.items():
        math = math.replace(unicode, tex)
    return math + (rf"\ \text{{({note}}}" if note else "")


def _tex_verdict(rg) -> str:
    """Regime.verdict() in LaTeX."""
    what = _tex_name(rg.functional)
    if rg.sign == 0:
        return what + r"\text{: coefficient 0, neither penalized nor anti-penalized at this order}"
    if not rg.conditions:
        return what + (r"\ \text{penalized}" if rg.sign > 0 else r"\ \text{anti-penalized}")
    cond = r" \cdot ".join(rf"\left({_tex(c)}\right)" for c in rg.conditions)
    pos, neg = ("penalized", "anti-penalized") if rg.sign > 0 else ("anti-penalized", "penalized")
    return rf"{what}\ \text{{{pos} when }} {cond} > 0,\ \text{{{neg} when }} {cond} < 0"


def recognition_latex(ode) -> list[str]:
    """``recognition_lines`` as rows of a LaTeX ``align*`` block."""
    found = ode.recognized
    if not found:
        return [r"&\text{no recognized structure (}F_{0}\text{ is not a coordinatewise rescaling of }-\nabla E\text{)}"]
    P = readable(found[0].preconditioner, ode)
    rows = [r"F_{0} &= -\nabla E" if P == 1 else rf"F_{{0}} &= -P \odot \nabla E, \quad P = {_tex(P)}"]
    for rec in found:
        F, power = f"F_{{{rec.order}}}", "h" if rec.order == 1 else f"h^{{{rec.order}}}"
        if not rec.parts:
            rows.append(rf"{F} &\quad \text{{not a combination of gradients of known functionals}}")
            continue
        if rec.is_gradient:
            terms = (rf"\left({_tex(c)}\right)" if isinstance(c, sp.Add) else _tex(c)
                     for c in (readable(compact(p.coefficient), ode) for p in rec.parts))
            reg = " + ".join(rf"{c} {p.functional.latex}" for c, p in zip(terms, rec.parts))
            lead = "-" if P == 1 else r"-P \odot "
            rows.append(rf"{F} &= {lead}\nabla\left({reg}\right)")
            if rec.order == 1:
                rows.append(rf"\tilde E &= E + {power} \left({reg}\right)")
        else:
            for p in rec.parts:
                short = memory_form(p.coefficient, _decays(ode))
                c = short if short is not None else _coefficient(p.coefficient, ode)
                rows.append(rf"{F} &= -P \odot c \odot \nabla {p.functional.latex}, \quad c = {_tex(c, ode)}")
                if short is not None:
                    rows.append(r"&\quad b_n(x) = \frac{x}{1 - x} - \frac{(n + 1)\, x^{n+1}}{1 - x^{n+1}}")
            if not all(p.constant for p in rec.parts):
                rows.append(r"&\quad \text{not a gradient of one functional: } c \text{ varies with the coordinate "
                            r"(through } g \text{)}")
        if rec.rest != 0:
            rows.append(rf"&\quad \text{{plus terms not of that form: }} {_tex(rec.rest, ode)}")
        for p in rec.parts:
            for rg in p.regimes:
                rows.append(rf"&{_tex_name(rg.name)}: \quad c \to {_tex(rg.coefficient, ode)}:")
                rows.append(rf"&\qquad {_tex_verdict(rg)}")
    return rows


def latex(ode) -> str:
    """LaTeX ``align*`` blocks: the terms F₀ … F_p, then (order ≥ 1) the recognized form and its regimes."""
    rows = [r"\dot\theta &= " + " + ".join(["F_0"] + [f"h^{{{i}}} F_{{{i}}}" for i in range(1, ode.order + 1)])
            + rf" + O(h^{{{ode.order + 1}}})"]
    for i, F in enumerate(ode.terms):
        rows.append(rf"F_{{{i}}} &= {_tex(field_term(F, ode))}")
    out = "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"
    if ode.order >= 1:
        out += "\n% recognized\n\\begin{align*}\n" + " \\\\\n".join(recognition_latex(ode)) + "\n\\end{align*}"
    return out


def to_dict(ode) -> dict:
    """Everything a script needs, as plain JSON-able data (expressions as SymPy strings)."""
    def expr(e):
        return [str(x) for x in e] if isinstance(e, sp.MatrixBase) else str(e)

    recs = []
    for rec in ode.recognized if ode.order >= 1 else []:
        recs.append({
            "order": rec.order,
            "preconditioner": str(rec.preconditioner),
            "is_gradient": rec.is_gradient,
            "parts": [{"coefficient": str(p.coefficient), "functional": p.functional.name,
                       "psi": str(p.functional.psi),
                       "regimes": [{"regime": r.name, "coefficient": str(r.coefficient), "verdict": r.verdict()}
                                   for r in p.regimes]}
                      for p in rec.parts],
            "rest": str(rec.rest),
        })
    return {
        "optimizer": ode.spec.name,
        "title": ode.spec.title,
        "options": ode.spec.options,
        "hyperparameters": {hp.name: str(ode.values.get(hp.symbol, hp.symbol)) for hp in ode.spec.hyperparameters},
        "h": str(ode.h),
        "order": ode.order,
        "regime": "stationary" if ode.stationary else "finite",
        "global_order": ode.global_order,
        "mode": "abstract" if ode.abstract else "concrete",
        "variables": None if ode.abstract else [str(x) for x in ode.variables],
        "loss": None if ode.abstract else str(ode.loss),
        "terms": [{"order": i, "expr": expr(F), "latex": sp.latex(F)} for i, F in enumerate(ode.terms)],
        "recognized": recs,
    }


def to_json(ode) -> str:
    return json.dumps(to_dict(ode), indent=2, ensure_ascii=False)
