"""The one reader of user text that becomes mathematics: a whitelist over Python's ``ast``, never ``eval``.

Every string that becomes a SymPy expression (``--loss``, ``--loss-expr``, ``--batch-loss``, the
fields of a TOML spec, strings given to :class:`bea.spec.OptimizerSpec` or as a loss) goes through
:func:`read`.  The text is parsed with ``ast.parse(text, mode="eval")`` and never run: the tree is
walked and SymPy objects are built from these nodes only,

* numbers: integer and decimal literals, read exactly (``0.1`` is 1/10) and finite;
* names: the declared ones and the constants ``pi`` and ``E``;
* ``+ - * / **``, unary ``-`` and ``+``, parentheses;
* calls ``f(a, …)`` of the functions of :data:`FUNCTIONS`, with their number of arguments.

Anything else (attributes, subscripts, strings, lambdas, comprehensions, comparisons, boolean
operators, keywords, ``^``, dunder names) is refused with the construct and its column.  The
limits of :data:`LIMITS` keep every input cheap: text length, node count, nesting depth (a long
sum or product counts as one level), the size of exact numbers, and numeric exponents
(``10**10**10`` is refused before any arithmetic).  A value that is not finite or not real
(``1/0``, ``log(0)``, ``sqrt(-1)``) is refused at the operation that produced it.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> read("x**2/2 + 0.1*sin(x)", {"x": x})
x**2/2 + sin(x)/10
>>> read("x.__class__", {"x": x}, where="--loss")
Traceback (most recent call last):
...
bea.errors.BeaError: --loss: not allowed: attribute access, at column 1 ('x.__class__')
"""
from __future__ import annotations

import ast
import keyword
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from . import symbols as S
from .errors import BeaError


@dataclass(frozen=True)
class Limits:
    """Bounds on one expression; each refusal names the limit it hit."""

    chars: int = 20_000     # characters of text
    nodes: int = 10_000     # nodes of the parsed tree
    depth: int = 100        # nesting (a chain a + b − c + … or a·b/c·… is one level)
    bits: int = 1_000       # exact numbers: numerator and denominator below 2**bits (≈ 300 digits)
    exponent: int = 100     # |p| in x**p for a numeric exponent p


LIMITS = Limits()

#: name -> (SymPy function, fewest arguments, most arguments)
FUNCTIONS = {
    **{name: (getattr(sp, name), 1, 1) for name in (
        "exp", "sqrt", "cbrt", "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan",
        "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "Abs", "sign", "Heaviside",
        "floor", "ceiling")},
    "abs": (sp.Abs, 1, 1),
    "log": (sp.log, 1, 2),
    "ln": (sp.log, 1, 1),
    "atan2": (sp.atan2, 2, 2),
    "Max": (sp.Max, 2, 16),
    "Min": (sp.Min, 2, 16),
    # the optimizer language's constructs (bea.symbols): refused in losses by check_loss
    "grad": (S.Grad, 1, 1),
    "prev": (S.Prev, 1, 1),
    "sum": (S.CoordSum, 1, 1),
}
CONSTANTS = {"pi": sp.pi, "E": sp.E}
#: Functions that jump (no derivative across the jump) and that bend (continuous, with a kink).
JUMPS = (sp.sign, sp.Heaviside, sp.floor, sp.ceiling)
KINKS = (sp.Abs, sp.Max, sp.Min)
_CLASSES = {f for f, _, _ in FUNCTIONS.values() if isinstance(f, type)}
_NOT_FINITE = (sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I)
_UNREAL = {"I": "the imaginary unit (expressions are real)", "oo": "infinity (expressions are finite)",
           "zoo": "complex infinity (expressions are finite)", "nan": "not a number",
           "inf": "infinity (expressions are finite)", "j": "the imaginary unit (expressions are real)"}
_CONSTRUCTS = {
    ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "a lambda",
    ast.JoinedStr: "an f-string", ast.Compare: "a comparison", ast.BoolOp: "a boolean operator",
    ast.IfExp: "a conditional expression", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension", ast.List: "a list", ast.Tuple: "a tuple",
    ast.Set: "a set", ast.Dict: "a dict", ast.NamedExpr: "an assignment", ast.Starred: "a starred argument",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "a slice",
}
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
              ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
              ast.BitAnd: "&", ast.BitXor: "^", ast.Not: "not", ast.Invert: "~", ast.USub: "-", ast.UAdd: "+"}
_CHAINS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}


def read(text, names: dict, where: str = "expression", limits: Limits = LIMITS) -> sp.Expr:
    """The SymPy expression written in ``text``, in the declared ``names`` ({name: SymPy object}).

    Raises :class:`BeaError` (one line: ``where``, what is wrong, its column) for anything
    outside the whitelist of the module docstring or beyond ``limits``.
    """
    if not isinstance(text, str):
        raise BeaError(f"{where} must be an expression written as a string, got {_short(text)}")
    for name, value in names.items():
        check_name(name, "declared name")
        if not isinstance(value, sp.Basic):
            raise BeaError(f"{where}: the declared name {name!r} must stand for a SymPy object")
        if name in FUNCTIONS or name in CONSTANTS:
            raise BeaError(f"{where}: {name!r} cannot be declared: it is a {'function' if name in FUNCTIONS else 'constant'}"
                           " of the expression language; choose another name")
    if len(text) > limits.chars:
        raise BeaError(f"{where}: the expression is {len(text):,} characters long; the limit is {limits.chars:,}")
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in "\t\n\r":
            raise BeaError(f"{where}: character {ch!r} (U+{ord(ch):04X}) is not allowed, at {_where(text, i)}")
    if not text.strip():
        raise BeaError(f"{where}: the expression is empty")
    lead = len(text) - len(text.lstrip())
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        if "Exceeds the limit" in str(exc.msg):  # CPython refuses integer literals of more than 4300 digits
            raise BeaError(f"{where}: a number has too many digits; the limit is about "
                           f"{int(limits.bits * 0.30103)} digits") from None
        offset = lead + max((exc.offset or 1) - 1, 0)
        if exc.lineno and exc.lineno > 1:
            offset += sum(len(line) + 1 for line in text.lstrip().split("\n")[:exc.lineno - 1])
        near = text[offset:offset + 20]
        raise BeaError(f"{where}: {exc.msg}, at {_where(text, offset)}" + (f" ({near!r})" if near else "")) from None
    except (RecursionError, MemoryError, ValueError):
        raise BeaError(f"{where}: the expression is nested too deeply for the parser; the limit is "
                       f"{limits.depth} levels") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > limits.nodes:
        raise BeaError(f"{where}: the expression has {count:,} syntax nodes; the limit is {limits.nodes:,}")
    return _Builder(text, lead, names, where, limits).build(tree.body, 0)


def check_name(name, what: str = "name") -> str:
    """A name the reader can read back: an identifier in Unicode normal form, not a keyword or dunder."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise BeaError(f"{what} {_short(name)} must be an identifier (letters, digits, _; not a Python keyword)")
    if unicodedata.normalize("NFKC", name) != name:
        raise BeaError(f"{what} {name!r} is not in Unicode normal form; write it as "
                       f"{unicodedata.normalize('NFKC', name)!r}")
    if name.startswith("__") or len(name) > 64:
        raise BeaError(f"{what} {_short(name)} must not start with '__' and must be at most 64 characters")
    return name


def check_expression(expr, where: str) -> sp.Expr:
    """``expr`` if it is a scalar SymPy expression of numbers, symbols, + · / ** and known functions,
    finite and real; else a :class:`BeaError` naming the construct."""
    if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixBase):
        raise BeaError(f"{where} must be a scalar SymPy expression, got {_short(expr)}")
    for node in sp.preorder_traversal(expr):
        if node in _NOT_FINITE:
            raise BeaError(f"{where} is not finite and real: it contains {node}")
        if not isinstance(node, (sp.Symbol, sp.Number, sp.NumberSymbol, sp.Add, sp.Mul, sp.Pow)) \
                and type(node) not in _CLASSES:
            raise BeaError(f"{where} uses {getattr(node.func, '__name__', type(node).__name__)}, which is not a "
                           "known function; "
                           f"known: {', '.join(FUNCTIONS)}")
    return expr


def nonsmooth(expr, kinds=KINKS) -> list[str]:
    """The sets where ``expr`` is not smooth, one per application of a function of ``kinds``.

    >>> x, y = sp.symbols("x y")
    >>> nonsmooth(abs(x - 1) + sp.Max(x, y)**2)
    ['x - 1 = 0 (from Abs(x - 1))', 'x = y (from Max(x, y))']
    """
    out = []
    for f in sorted(expr.atoms(*kinds), key=sp.default_sort_key):
        if isinstance(f, (sp.Max, sp.Min)):
            where = " or ".join(f"{a} = {b}" for i, a in enumerate(f.args) for b in f.args[i + 1:])
        elif isinstance(f, (sp.floor, sp.ceiling)):
            where = f"{f.args[0]} is an integer"
        else:
            where = f"{f.args[0]} = 0"
        out.append(f"{where} (from {f})")
    return out


class _Builder:
    """Builds SymPy objects from an accepted tree, checking each value where it is made."""

    def __init__(self, original, lead, names, where, limits):
        self.original, self.lead, self.text = original, lead, original.strip()
        self.names, self.where, self.limits = names, where, limits

    def fail(self, node, problem: str):
        segment = ast.get_source_segment(self.text, node) or ""
        segment = segment if len(segment) <= 40 else segment[:37] + "..."
        offset = self.lead + _offset(self.text, node)
        raise BeaError(f"{self.where}: {problem}, at {_where(self.original, offset)}"
                       + (f" ({segment!r})" if segment else ""))

    def build(self, node, depth: int) -> sp.Expr:
        if depth >= self.limits.depth:
            self.fail(node, f"the expression is nested more than {self.limits.depth} levels deep")
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, depth)
        if isinstance(node, ast.BinOp):
            return self.binary(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        self.fail(node, f"not allowed: {_CONSTRUCTS.get(type(node), type(node).__name__)}")

    def number(self, node):
        value = node.value
        if type(value) is int:
            return self.checked(node, sp.Integer(value))
        if type(value) is float:
            digits = (ast.get_source_segment(self.text, node) or repr(value)).replace("_", "").lower()
            mantissa, _, exponent = digits.partition("e")
            if value != value or value in (float("inf"), float("-inf")) or (exponent and abs(int(exponent)) > 400):
                self.fail(node, "the number is out of range (finite decimals between 1e-400 and 1e308)")
            fraction = Fraction(mantissa) * Fraction(10) ** int(exponent or 0)
            return self.checked(node, sp.Rational(fraction.numerator, fraction.denominator))
        kind = {str: "a string", bytes: "bytes", bool: "True/False", complex: "a complex number",
                type(None): "None"}.get(type(value), type(value).__name__)
        self.fail(node, f"not allowed: {kind}")

    def name(self, node):
        name = node.id
        if name in self.names:
            return self.names[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            self.fail(node, f"{name} is a function: call it, e.g. {name}(x)")
        if name.startswith("__"):
            self.fail(node, "not allowed: names starting with '__'")
        if name in _UNREAL:
            self.fail(node, f"{name} is {_UNREAL[name]}")
        known = ", ".join(sorted(self.names)) or "none"
        self.fail(node, f"unknown name {_short(name)} (declared names: {known}; constants: pi, E)")

    def unary(self, node, depth):
        sign = 1
        while isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                self.fail(node, f"not allowed: the operator {_OPERATORS.get(type(node.op), '?')!r}")
            sign = -sign if isinstance(node.op, ast.USub) else sign
            node = node.operand
        value = self.build(node, depth + 1)
        return -value if sign < 0 else value

    def binary(self, node, depth):
        op = type(node.op)
        if op is ast.BitXor:
            self.fail(node, "'^' is not a power here: write x**2")
        if op is ast.Pow:
            base, exponent = self.build(node.left, depth + 1), self.build(node.right, depth + 1)
            return self.power(node, base, exponent)
        if op not in _CHAINS:
            self.fail(node, f"not allowed: the operator {_OPERATORS.get(op, '?')!r} (use + - * / **)")
        top, kinds = node, (op, _CHAINS[op])
        operands = []  # (operator, right operand) of the chain, innermost last
        while isinstance(node, ast.BinOp) and type(node.op) in kinds:
            operands.append((type(node.op), node.right))
            node = node.left
        terms = [self.build(node, depth + 1)]
        for kind, right in reversed(operands):
            value = self.build(right, depth + 1)
            if kind is ast.Sub:
                value = -value
            elif kind is ast.Div:
                if value == 0:
                    self.fail(right, "division by zero")
                value = self.power(right, value, sp.S.NegativeOne)
            terms.append(value)
        return self.checked(top, sp.Add(*terms) if op in (ast.Add, ast.Sub) else sp.Mul(*terms))

    def power(self, node, base, exponent):
        if exponent.is_Rational:
            if abs(exponent) > self.limits.exponent:
                self.fail(node, f"the exponent {exponent} is larger than {self.limits.exponent} in size")
            if base.is_Rational and base != 0:
                bits = max(abs(base.p).bit_length(), base.q.bit_length()) * abs(exponent.p) / exponent.q
                if bits > self.limits.bits:
                    self.fail(node, f"the number would have about {int(bits):,} bits; the limit is {self.limits.bits:,}")
        return self.checked(node, base**exponent)

    def call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            self.fail(node.func, "not allowed: attribute access" if isinstance(node.func, ast.Attribute)
                      else "only named functions can be called")
        name = node.func.id
        if name.startswith("__"):
            self.fail(node.func, "not allowed: names starting with '__'")
        if name not in FUNCTIONS:
            if name in self.names:
                self.fail(node, f"{name} is not a function")
            self.fail(node, f"unknown function {_short(name)} (known: {', '.join(FUNCTIONS)})")
        if node.keywords:
            self.fail(node, f"not allowed: keyword arguments (in {name})")
        if any(isinstance(a, ast.Starred) for a in node.args):
            self.fail(node, f"not allowed: a starred argument (in {name})")
        function, fewest, most = FUNCTIONS[name]
        if not fewest <= len(node.args) <= most:
            count = str(fewest) if fewest == most else f"{fewest} to {most}"
            self.fail(node, f"{name} takes {count} argument{'s' if most > 1 else ''}, got {len(node.args)}")
        return self.checked(node, function(*(self.build(a, depth + 1) for a in node.args)))

    def checked(self, node, value):
        """``value`` if it is finite, real and its exact numbers are within the limits."""
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            self.fail(node, f"the value is not finite ({value})")
        if value.has(sp.I) or (value.is_number and value.is_extended_real is False):
            self.fail(node, f"the value is not real ({value})")
        for q in value.atoms(sp.Rational):
            if max(abs(q.p).bit_length(), q.q.bit_length()) > self.limits.bits:
                self.fail(node, f"a number has more than {self.limits.bits:,} bits (about "
                                f"{int(self.limits.bits * 0.30103)} digits)")
        return value


def _offset(text: str, node) -> int:
    """Character offset of ``node`` in ``text`` (ast counts UTF-8 bytes within a line)."""
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[:node.lineno - 1])
    return start + len(lines[node.lineno - 1].encode()[:node.col_offset].decode(errors="ignore"))


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"column {column}" + (f" of line {line + 1}" if "\n" in text else "")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
