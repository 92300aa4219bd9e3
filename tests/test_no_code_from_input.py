"""User text is never evaluated as Python, and files from outside are never unpickled: the sources are
scanned, and the CLI runs with sympify guarded."""
import ast
from pathlib import Path

import pytest
import sympy

from bea.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for folder in ("bea", "experiments/bea_experiments") for p in (ROOT / folder).rglob("*.py"))
#: Functions that run or parse text as code: builtins (called by their bare name) and SymPy's parsers.
BUILTINS = {"eval", "exec", "compile", "__import__"}
PARSERS = {"parse_expr", "parse_latex", "S", "sympify"}
#: Modules of the engine that sympify SymPy objects it built itself (fields, decays); user text reaches
#: them only through bea.expr.read.  Elsewhere sympify must be strict (strict=True refuses text).
#: bea/trees.py converts SymPy trees to SymEngine with ``symengine.sympify`` (no ``strict`` flag; its
#: string grammar is SymEngine's own C++ parser, which never runs Python).
SYMPIFY_ALLOWED = {"bea/abstract.py", "bea/engine.py", "bea/moments.py", "bea/concrete.py", "bea/trees.py"}
#: Loaders that run code stored in a file.
UNSAFE_LOADERS = {("pickle", "load"), ("pickle", "loads"), ("marshal", "load"), ("marshal", "loads"),
                  ("shelve", "open"), ("yaml", "load"), ("yaml", "unsafe_load"), ("dill", "load"), ("joblib", "load")}


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def violations(source: str, name: str) -> list[str]:
    """The calls in ``source`` that run text or stored code (see the constants above), as ``name:line: why``."""
    out = []
    if "sympy.parsing" in source or "parse_expr" in source:
        out.append(f"{name}: uses SymPy's parser")
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func, where = node.func, f"{name}:{node.lineno}"
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        keywords = {k.arg: k.value for k in node.keywords}
        if isinstance(func, ast.Name) and called in BUILTINS:
            out.append(f"{where}: {called}() runs text as code")
        if (owner, called) in UNSAFE_LOADERS:
            out.append(f"{where}: {owner}.{called} runs code stored in the file")
        if (owner, called) == ("torch", "load") and not _is_true(keywords.get("weights_only")):
            out.append(f"{where}: torch.load needs weights_only=True")
        if (owner, called) in (("np", "load"), ("numpy", "load")) and "allow_pickle" in keywords \
                and not (isinstance(keywords["allow_pickle"], ast.Constant) and keywords["allow_pickle"].value is False):
            out.append(f"{where}: numpy.load with allow_pickle")
        if called in PARSERS and not (called == "sympify" and (_is_true(keywords.get("strict"))
                                                               or name in SYMPIFY_ALLOWED)):
            out.append(f"{where}: {called}() parses text with eval; read text with bea.expr.read")
    return out


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_no_source_evaluates_text_or_unpickles(path):
    name = str(path.relative_to(ROOT))
    assert violations(path.read_text(encoding="utf-8"), name) == []


def test_the_scan_finds_each_kind_of_violation():
    bad = """
import pickle, torch, numpy as np, sympy as sp
from sympy.parsing.sympy_parser import parse_expr
eval(text); exec(text); __import__(text); compile(text, "f", "exec")
pickle.loads(blob); torch.load(path); torch.load(path, weights_only=False); np.load(path, allow_pickle=True)
sp.sympify(text); sp.S(text); sp.sympify(x, strict=True); model.eval(); torch.load(path, weights_only=True)
"""
    found = violations(bad, "bea/x.py")
    assert len(found) == 11, found  # the parser import, 4 builtins, pickle, 2 torch.load, np.load, sympify, S
    in_engine = violations(bad, "bea/engine.py")  # a module allowed to sympify its own objects
    assert len(in_engine) == 10 and not any("sympify" in v for v in in_engine)


def test_the_only_unpickler_is_the_restricted_cifar_one():
    users = [str(p.relative_to(ROOT)) for p in SOURCES if "Unpickler" in p.read_text(encoding="utf-8")]
    assert users == ["experiments/bea_experiments/cifar/data.py"]
    tree = ast.parse((ROOT / users[0]).read_text(encoding="utf-8"))
    mentions = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "Unpickler"]
    bases = [b for n in ast.walk(tree) if isinstance(n, ast.ClassDef) for b in n.bases]
    assert mentions and all(m in bases for m in mentions)  # only ever subclassed, with find_class restricted


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
