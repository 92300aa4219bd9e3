"""Corrections of several optimizers side by side (``bea compare``).

For each optimizer: the leading field F₀, the first correction F₁ (n → ∞ where the
optimizer has a stationary regime) and what recognition makes of it, with the
small-/large-ε regimes.  Decoupled weight decay λθ is read separately: the result is
derived once, the recognition is of its λ = 0 part (λ substituted), and the λ-terms are
listed as they are.
"""
from __future__ import annotations

import sympy as sp

from .display import readable, recognition_lines, text
from .ode import modified_ode
from .optimizers import LAM, build


def summary(name: str, params: dict) -> list[str]:
    """Lines describing one optimizer's order-1 modified equation (abstract, every dimension)."""
    spec, _ = build(name, {})
    own = {k: v for k, v in params.items() if k in spec.hyper_names or k in spec.options}
    accumulates = spec.never_forgets()
    ode = modified_ode(name, order=0 if accumulates else 1, stationary=not accumulates, **own)
    lines = [f"{name}: {spec.title}" + (f" ({', '.join(f'{k}={v}' for k, v in own.items())})" if own else ""),
             f"  F₀ = {text(readable(ode.terms[0], ode))}"]
    if accumulates:
        return lines + ["  order 0 only: the accumulator never forgets (see `bea derive " + name + " --order 0`)"]
    lines.append(f"  F₁ = {text(readable(ode.terms[1], ode))}")
    has_lam = LAM.symbol in {hp.symbol for hp in spec.hyperparameters} and LAM.symbol not in ode.values
    if has_lam:
        plain = ode.with_values({LAM.symbol: sp.S.Zero})
        extra = sp.simplify(ode.terms[1] - plain.terms[1])
        lines.append("  at λ = 0 (the weight-decay terms listed below aside):")
        lines += ["    " + x for x in recognition_lines(plain)]
        lines.append(f"  λ-terms of F₁: {text(readable(extra, ode))}")
    else:
        lines += ["  " + x for x in recognition_lines(ode)]
    return lines


def compare(names, params: dict | None = None) -> str:
    """The summaries of ``names`` one after the other, with shared hyperparameter values."""
    notation = "notation: g = ∇E(θ), s = √(g² + ε), D2E[u] = ∇²E·u; products and quotients componentwise"
    return "\n\n".join([notation] + ["\n".join(summary(name, dict(params or {}))) for name in names])
