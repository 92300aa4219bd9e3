"""User text is never evaluated as Python: the sources are scanned, and the CLI runs with sympify guarded."""
import ast
from pathlib import Path

import pytest
import sympy

from bea.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "bea").rglob("*.py"))
#: Functions that run or parse text as code: builtins (called by their bare name) and SymPy's parsers.
BUILTINS = {"eval", "exec", "compile", "__import__"}
PARSERS = {"parse_expr", "parse_latex", "S", "sympify"}
#: Modules of the engine that sympify SymPy objects it built itself (fields, decays); user text reaches
#: them only through bea.expr.read.  Elsewhere sympify must be strict (strict=True refuses text).
SYMPIFY_ALLOWED = {"bea/abstract.py", "bea/engine.py", "bea/moments.py", "bea/concrete.py"}


def _calls(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            yield node, f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None, f


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_no_source_evaluates_text(path):
    name = str(path.relative_to(ROOT))
    text = path.read_text(encoding="utf-8")
    assert "sympy.parsing" not in text and "parse_expr" not in text, name
    for node, called, func in _calls(path):
        where = f"{name}:{node.lineno}"
        assert not (isinstance(func, ast.Name) and called in BUILTINS), f"{where}: {called}() runs text as code"
        if called in PARSERS:
            strict = any(k.arg == "strict" and isinstance(k.value, ast.Constant) and k.value.value is True
                         for k in node.keywords)
            assert called == "sympify" and (strict or name in SYMPIFY_ALLOWED), \
                f"{where}: {called}() parses text with eval; read text with bea.expr.read"


@pytest.fixture
def sympify_refuses_text(monkeypatch):
    """sympy.sympify (what ``sp.sympify`` reaches) raises on any str for the duration of a test."""
    original = sympy.sympify

    def guarded(a, *args, **kwargs):
        assert not isinstance(a, str), f"sympify was given text: {a!r}"
        return original(a, *args, **kwargs)

    monkeypatch.setattr(sympy, "sympify", guarded)


def test_the_cli_reads_text_without_sympify(sympify_refuses_text, tmp_path, capsys):
    spec = tmp_path / "mine.toml"
    spec.write_text('name = "mine"\nstep = "m / sqrt(v + eps)"\n[hyperparameters]\nbeta = "unit"\nrho = "unit"\n'
                    'eps = "positive"\n[[states]]\nsymbol = "m"\ndecay = "beta"\ninput = "g"\nscale = "1 - beta"\n'
                    '[[states]]\nsymbol = "v"\ndecay = "rho"\ninput = "g**2"\nscale = "1 - rho"\n')
    runs = [["derive", "gd", "--loss", "(x*y - 1)**2/2 + 0.1*sin(x)", "--vars", "x,y", "--order", "1"],
            ["derive", "gd", "--batch-loss", "(x - 1)**2/2", "--batch-loss", "(x + 1)**2/2", "--vars", "x"],
            ["derive", "--spec", str(spec), "--order", "0"],
            ["verify", "gd", "--loss-expr", "x**2/2 + x**4/12", "--vars", "x", "--theta0", "1", "--levels", "2",
             "--order", "0", "--out", str(tmp_path / "v")]]
    for argv in runs:
        assert main(argv) == 0, capsys.readouterr().err
