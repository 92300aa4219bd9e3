"""The numeric layer: SymPy expressions as generated NumPy, torch or mpmath code.

Every numeric evaluation in bea goes through :func:`function` (``sympy.lambdify`` with
common-subexpression elimination), which first checks that the expressions use no symbol
other than the arguments: a hyperparameter or step size left symbolic is an error naming it,
not a ``NameError`` inside generated code.
"""
from __future__ import annotations

import sympy as sp

from .errors import BeaError

#: The backends: ``modules`` of ``sympy.lambdify``.
BACKENDS = ("numpy", "torch", "mpmath")


def _symbols(args) -> set:
    """The symbols among the (possibly nested lists of) arguments."""
    if isinstance(args, sp.Basic):
        return {args}
    return set().union(*(_symbols(a) for a in args)) if args else set()


def free_symbols(exprs) -> set:
    """The free symbols of an expression, a matrix or a (nested) list of them."""
    if isinstance(exprs, (list, tuple)):
        return set().union(*(free_symbols(e) for e in exprs)) if exprs else set()
    return sp.sympify(exprs, strict=True).free_symbols  # strict: never parses text


def function(args, exprs, backend: str = "numpy", hint: str = ""):
    """``f(*args) = exprs`` as generated code for ``backend`` (one of :data:`BACKENDS`).

    Parameters
    ----------
    args : list
        The positional arguments of ``f``: symbols, or lists of symbols (passed as sequences).
    exprs : expression or list of expressions
        What ``f`` returns (a list gives a list).
    backend : str
        ``"numpy"``, ``"torch"`` (needs the ``torch`` extra) or ``"mpmath"``.
    hint : str
        Appended to the error when a symbol of ``exprs`` is not among ``args``.

    Examples
    --------
    >>> x, y, a = sp.symbols("x y a")
    >>> f = function([[x, y]], [x * y, x + y])
    >>> f([2.0, 3.0])
    [6.0, 5.0]
    >>> function([[x, y]], a * x)
    Traceback (most recent call last):
    ...
    bea.errors.BeaError: numeric evaluation needs numbers for ['a']
    """
    if backend not in BACKENDS:
        raise BeaError(f"unknown numeric backend {backend!r}; known: {', '.join(BACKENDS)}")
    missing = free_symbols(exprs) - _symbols(args)
    if missing:
        raise BeaError(f"numeric evaluation needs numbers for {sorted(map(str, missing))}{hint}")
    if backend == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise BeaError("torch is not installed; pip install 'bea[torch]'") from None
        exprs = _constants_as_floats(exprs)
    return sp.lambdify(args, exprs, modules=backend, cse=True)


def _constants_as_floats(exprs):
    """Constant subexpressions such as √10 as floats: torch's functions take tensors, not numbers; so
    are integers beyond int64 (a hyperparameter 1e20 taken exactly), which torch cannot convert."""
    def constant(a):
        return (a.is_number and not a.is_Atom and a.is_real) or (a.is_Integer and abs(a) >= 2**62)

    def fold(e):
        return sp.sympify(e, strict=True).replace(constant, lambda a: sp.Float(a.evalf(20), 20))
    return [fold(e) for e in exprs] if isinstance(exprs, (list, tuple)) else fold(exprs)


def gradient_function(loss, variables, backend: str = "numpy"):
    """θ ↦ [∂₁E(θ), …, ∂_dE(θ)] as generated code.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> gradient_function(x**2 * y, [x, y])([3.0, 2.0])
    [12.0, 9.0]
    """
    return function([list(variables)], [sp.diff(loss, x) for x in variables], backend)
