"""The expression reader: honest text reads as SymPy would read it; hostile text is refused, never run."""
import os
import re
import signal

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings, strategies as st

from bea.errors import BeaError
from bea.expr import FUNCTIONS, LIMITS, check_expression, nonsmooth, read

x, y = sp.symbols("x y", real=True)
NAMES = {"x": x, "y": y}


# -- honest input: what the reader accepts is what sympify gives ------------------------------------
def _atoms():
    integers = st.integers(0, 30).map(str)
    decimals = st.tuples(st.integers(0, 99), st.integers(0, 999)).map(lambda t: f"{t[0]}.{t[1]}")
    scientific = st.tuples(st.integers(1, 9), st.integers(-5, 5)).map(lambda t: f"{t[0]}e{t[1]}")
    return st.one_of(integers, decimals, scientific, st.sampled_from(["x", "y", "pi", "E"]))


def _combine(children):
    unary = st.sampled_from(["sin", "cos", "exp", "log", "sqrt", "tanh", "atan", "Abs", "abs", "ln", "cosh"])
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, children).map(lambda t: f"{t[0]}*{t[1]}"),
        st.tuples(children, st.sampled_from(["2", "3", "-1", "(1/2)", "-2", "0.5"])).map(lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(unary, children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["Max", "Min", "atan2", "log"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"+({c})"),
    )


EXPRESSIONS = st.recursive(_atoms(), _combine, max_leaves=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_honest_expressions_read_as_sympify_reads_them(text):
    try:
        reference = sp.sympify(text, locals=dict(NAMES), rational=True)  # test oracle only: honest generated text
    except (ValueError, TypeError):  # SymPy cannot build it either (e.g. Max(0, 0/0): nan is not comparable)
        reference = None
    try:
        mine = read(text, NAMES)
    except BeaError as exc:  # the reader refuses only values that are not finite or not real
        assert re.search(r"division by zero|not finite|not real", str(exc)), str(exc)
        return
    assert reference is not None and (mine == reference or sp.simplify(mine - reference) == 0), (text, mine, reference)


@pytest.mark.parametrize("text,expected", [
    ("x**2/2 + 0.1*sin(x)", x**2 / 2 + sp.sin(x) / 10),
    ("1e-3*x", x / 1000),
    ("1_000.5", sp.Rational(2001, 2)),
    ("x^2" if False else "x**-2", x**-2),
    ("-(-x)", x),
    ("log(x, 2)", sp.log(x) / sp.log(2)),
    ("  x +\ty  ", x + y),
    ("ｘ**2", x**2),  # Python reads identifiers in Unicode normal form (NFKC): ｘ is x
    ("(" * 90 + "x" + ")" * 90, x),
    ("+".join(["x"] * 1500), 1500 * x),  # a long sum is one level of nesting, not 1500
])
def test_readings(text, expected):
    assert read(text, NAMES) == expected


# -- hostile input: refused with one line that names the construct and its column -------------------
HOSTILE = [
    ("__import__('os').system('touch MARKER')", "attribute access"),
    ("__import__('os')", "names starting with '__'"),
    ("x.__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("x.__class__.__mro__[-1].__subclasses__()", "attribute access"),
    ("[c for c in ().__class__.__base__.__subclasses__()]", "comprehension"),
    ("(lambda: __import__('os').system('touch MARKER'))()", "only named functions can be called"),
    ("lambda x: x**2", "lambda"),
    ("f'{__import__(\"os\").system(\"touch MARKER\")}'", "f-string"),
    ("Symbol(open('SECRET').read())", "unknown function 'Symbol'"),
    ("exp(open('SECRET').read())", "attribute access"),
    ("eval('1')", "unknown function 'eval'"),
    ("exec('import os')", "unknown function 'exec'"),
    ("getattr(x, '__class__')", "unknown function 'getattr'"),
    ("__builtins__", "names starting with '__'"),
    ("x[0]", "subscript"),
    ("(x := 1)", "assignment"),
    ("exp(*[x])", "starred argument"),
    ("sin(x=1)", "keyword arguments"),
    ("g > 0", "comparison"),
    ("x < y < 1", "comparison"),
    ("x and y", "boolean operator"),
    ("not x", "'not'"),
    ("~x", "'~'"),
    ("x if y else 1", "conditional expression"),
    ("x @ y", "'@'"),
    ("x // y", "'//'"),
    ("x % y", "'%'"),
    ("x ^ 2", "'^' is not a power here: write x**2"),
    ("x << 2", "'<<'"),
    ("'x'", "a string"),
    ("b'x'", "bytes"),
    ("True", "True/False"),
    ("None", "None"),
    ("1j", "complex number"),
    ("...", "ellipsis"),
    ("{x: 1}", "dict"),
    ("(x, y)", "tuple"),
    ("await x", "invalid syntax|await|outside"),
    ("yield x", "invalid syntax|yield|outside"),
    ("import os", "invalid syntax"),
    ("x = 1", "invalid syntax"),
    ("x; y", "invalid syntax"),
    ("(x", "was never closed"),
    ("x +* y", "invalid syntax"),
    ("", "empty"),
    ("   ", "empty"),
    ("z", "unknown name 'z'"),
    ("exp", "exp is a function"),
    ("x(1)", "x is not a function"),
    ("sin(x, y)", "sin takes 1 argument, got 2"),
    ("Max(x)", "Max takes 2 to 16 arguments, got 1"),
    ("grad_at(theta)", "unknown function 'grad_at'"),
    ("I*x**2", "imaginary unit"),
    ("oo*x", "infinity"),
    ("zoo", "complex infinity"),
    ("nan", "not a number"),
    ("1/0", "division by zero"),
    ("x/(x - x)", "division by zero"),
    ("0**-1", "not finite"),
    ("log(0)", "not finite"),
    ("sqrt(-1)", "not real"),
    ("log(-2)", "not real"),
    ("asin(2)", "not real"),
    ("(-8)**(1/3)", "not real"),
    ("atan2(0, 0)", "not finite"),
    ("1e999", "out of range"),
    ("1e-999", "out of range"),
    ("10**10**10", "exponent 10000000000 is larger than 100"),
    ("x**2 + 10**10**10", "exponent 10000000000"),
    ("x**10**10", "exponent 10000000000"),
    ("2**(10**6)", "exponent 1000000"),
    ("(2**100)**100", "bits"),
    ("9" * 5000, "too many digits"),
    ("0x" + "f" * 400, "bits"),
    ("1" + "0" * 400 + "*x", "bits"),
    ("+".join(["x"] * 20000), "characters long"),
    ("+".join(["x"] * 2600), "syntax nodes"),
    ("(" * 300 + "x" + ")" * 300, "nested"),
    ("-" * 10000 + "x", "nested too deeply"),
    ("**".join(["x"] * 150), "nested more than 100 levels"),
    ("exp(" * 120 + "x" + ")" * 120, "nested"),
    ("x\x00", "U+0000"),
    ("x\u200b+1", "U+200B"),  # zero-width space
    ("x\u202e+1", "U+202E"),  # right-to-left override
    ("x\ud800", "U+D800"),  # a lone surrogate (what undecodable bytes in argv become)
    ("x\x1b[31m", "U+001B"),
    ("a" * 30000, "characters long"),
    ("a" * 5000, "unknown name"),
    ("__class__", "names starting with '__'"),
    ("х**2", "unknown name 'х'"),  # Cyrillic х is not Latin x
]


@pytest.mark.parametrize("text,fragment", HOSTILE, ids=[f"h{i}" for i in range(len(HOSTILE))])
def test_hostile_text_is_refused_and_never_run(text, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "SECRET").write_text("the-secret-content")
    signal.alarm(20)  # a guard against hangs, not a speed test
    try:
        with pytest.raises(BeaError) as info:
            read(text, NAMES, where="--loss")
    finally:
        signal.alarm(0)
    message = str(info.value)
    assert fragment in message or re.search(fragment, message), message
    assert message.startswith("--loss") and "\n" not in message and len(message) < 600
    assert "the-secret-content" not in message
    assert sorted(os.listdir(tmp_path)) == ["SECRET"]


def test_declared_names_must_be_plain_and_not_functions():
    for name, fragment in [("exp", "it is a function"), ("pi", "it is a constant"), ("lambda", "identifier"),
                           ("__x", "must not start with '__'"), ("ｘ", "normal form"), ("a b", "identifier")]:
        with pytest.raises(BeaError, match=fragment):
            read("1", {name: x})


def test_non_text_is_refused():
    for value in [b"x", 1.5, None, ["x"]]:
        with pytest.raises(BeaError, match="must be an expression written as a string"):
            read(value, NAMES)


def test_errors_point_at_the_offending_token():
    with pytest.raises(BeaError, match=r"column 9 \('z'\)"):
        read("  x + y*z", NAMES)
    with pytest.raises(BeaError, match=r"column 7 \('x.real'\)"):
        read("1 + 2*x.real", NAMES)


def test_limits_are_what_the_docs_say():
    assert (LIMITS.chars, LIMITS.nodes, LIMITS.depth, LIMITS.bits, LIMITS.exponent) == (20_000, 10_000, 100, 1_000, 100)
    read("x**100 + 2**99 + 1" + "0" * 300, NAMES)  # at the limits
    with pytest.raises(BeaError):
        read("x**101", NAMES)


def test_sympy_expressions_from_python_are_checked_too():
    assert check_expression(sp.exp(x) + sp.Abs(y), "E") == sp.exp(x) + sp.Abs(y)
    for bad, fragment in [(sp.Function("f")(x), "f, which is not a known function"),
                          (sp.Integral(x, x), "Integral"), (sp.I * x, "not finite and real"),
                          (x + sp.oo, "not finite"), (sp.Matrix([x]), "scalar")]:
        with pytest.raises(BeaError, match=fragment):
            check_expression(bad, "E")


def test_every_function_is_a_sympy_function_of_its_arity():
    for name, (function, fewest, most) in FUNCTIONS.items():
        args = [x + i for i in range(1, fewest + 1)]
        assert isinstance(read(f"{name}({', '.join(map(str, args))})", NAMES), sp.Expr)


def test_nonsmooth_sets():
    assert nonsmooth(sp.Abs(x) + sp.Min(x, y, 1)) == ["x = 0 (from Abs(x))", "1 = x or 1 = y or x = y (from Min(1, x, y))"]
    assert nonsmooth(x**2 + sp.sin(y)) == []


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_honest_expressions_many(text):
    test_honest_expressions_read_as_sympify_reads_them.hypothesis.inner_test(text)
