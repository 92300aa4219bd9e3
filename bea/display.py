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
    """Write √(g² + ε) as s (when the optimizer has an ε) for display."""
    eps = _eps(ode)
    return expr if eps is None else expr.subs(sp.sqrt(S.g**2 + eps), s_sym)


def _coefficient(c, ode):
    """A coefficient c(g) rewritten in s (g² = s² − ε) and split into partial fractions."""
    eps = _eps(ode)
    if not c.has(S.g) or eps is None:
        return sp.factor(c)
    if c.has(sp.Abs(S.g)):  # ε outside the root: write it in a = |g| (g² = a²), partial fractions in a
        a = sp.Symbol("|g|", positive=True)
        in_a = sp.factor(c.replace(sp.Abs(S.g), a).replace(lambda e: e.is_Pow and e.base == S.g,
                                                              lambda e: a**e.exp))
        return in_a if in_a.has(S.g) else sp.collect(sp.apart(in_a, a), a, sp.factor)
    in_s = sp.simplify(c.subs(S.g**2, s_sym**2 - eps))
    if in_s.has(S.g):
        return readable(sp.factor(c), ode)
    try:  # A + B/s² + …, each coefficient factored
        return sp.collect(sp.apart(sp.together(in_s), s_sym), s_sym, sp.factor)
    except (sp.PolynomialError, NotImplementedError):
        return in_s


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
            reg = " + ".join(f"({text(sp.factor(p.coefficient))})·{p.functional.name}" for p in rec.parts)
            lead = "−∇" if P == 1 else "−P ⊙ ∇"
            out.append(f"F{sub} = {lead}({reg}): a gradient; implicit regularizer {power}·({reg})")
            if rec.order == 1:
                out.append(f"  modified loss: Ẽ = E + {power}·({reg})")
        else:
            for p in rec.parts:
                c = _coefficient(p.coefficient, ode)
                out.append(f"F{sub} = −P ⊙ c ⊙ ∇{p.functional.name}, c = {text(c)}")
            out.append("  not a gradient of one functional: c varies with the coordinate (through g)")
        if rec.rest != 0:
            out.append(f"  plus terms not of that form: {text(readable(rec.rest, ode))}")
        for p in rec.parts:
            for rg in p.regimes:
                out.append(f"  {rg.name}: coefficient → {text(rg.coefficient)}: {text(rg.verdict())}")
    return out


def pretty(ode) -> str:
    """Multi-line text: the ODE, its terms, the recognized regularizers, the regimes."""
    lines = _header(ode)
    terms = " + ".join(["F₀"] + [f"h{'' if i == 1 else '^' + str(i)} F{SUBSCRIPTS[i]}" for i in range(1, ode.order + 1)])
    lines += ["", f"θ̇ = {terms} + O(h^{ode.order + 1})", ""]
    for i, F in enumerate(ode.terms):
        body = sp.pretty(readable(F, ode), use_unicode=True)
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
                     for c in (sp.factor(p.coefficient) for p in rec.parts))
            reg = " + ".join(rf"{c} {p.functional.latex}" for c, p in zip(terms, rec.parts))
            lead = "-" if P == 1 else r"-P \odot "
            rows.append(rf"{F} &= {lead}\nabla\left({reg}\right)")
            if rec.order == 1:
                rows.append(rf"\tilde E &= E + {power} \left({reg}\right)")
        else:
            for p in rec.parts:
                rows.append(rf"{F} &= -P \odot c \odot \nabla {p.functional.latex}, \quad "
                            rf"c = {_tex(_coefficient(p.coefficient, ode), ode)}")
            rows.append(r"&\quad \text{not a gradient of one functional: } c \text{ varies with the coordinate "
                        r"(through } g \text{)}")
        if rec.rest != 0:
            rows.append(rf"&\quad \text{{plus terms not of that form: }} {_tex(rec.rest, ode)}")
        for p in rec.parts:
            for rg in p.regimes:
                rows.append(rf"&{_tex_name(rg.name)}: \quad c \to {_tex(rg.coefficient)}:")
                rows.append(rf"&\qquad {_tex_verdict(rg)}")
    return rows


def latex(ode) -> str:
    """LaTeX ``align*`` blocks: the terms F₀ … F_p, then (order ≥ 1) the recognized form and its regimes."""
    rows = [r"\dot\theta &= " + " + ".join(["F_0"] + [f"h^{{{i}}} F_{{{i}}}" for i in range(1, ode.order + 1)])
            + rf" + O(h^{{{ode.order + 1}}})"]
    for i, F in enumerate(ode.terms):
        rows.append(rf"F_{{{i}}} &= {_tex(F, ode)}")
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
