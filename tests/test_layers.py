"""Layers run one way: bea ← bea_experiments ← scripts.  bea never imports the experiments.

The experiments' ``experiment`` command reaches ``bea`` through the entry-point group
``bea.commands``; without that package, ``bea`` installs, imports, lists and derives alone.
"""
import ast
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import bea
from bea import cli

BEA = Path(bea.__file__).resolve().parent
FORBIDDEN = ("bea_experiments", "experiments")


def imported_modules(tree):
    """Every module name an ``ast`` tree imports (absolute imports; relative ones stay inside bea)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_no_module_under_bea_imports_the_experiments():
    offenders = [(path.name, name) for path in sorted(BEA.rglob("*.py"))
                 for name in imported_modules(ast.parse(path.read_text(), str(path)))
                 if name.split(".")[0] in FORBIDDEN]
    assert not offenders


def test_the_scan_sees_an_import_of_the_experiments():
    tree = ast.parse("def f():\n    from bea_experiments.cli import register\nimport experiments.cifar")
    assert sorted(n.split(".")[0] for n in imported_modules(tree)) == ["bea_experiments", "experiments"]


HIDDEN = textwrap.dedent("""
    import importlib, pkgutil, sys

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("bea_experiments", "experiments"):
                raise ModuleNotFoundError(f"{name} is hidden by the test", name=name)

    sys.meta_path.insert(0, Refuse())
    import bea
    names = [m.name for m in pkgutil.walk_packages(bea.__path__, "bea.")]
    for name in names:
        importlib.import_module(name)
    assert not [m for m in sys.modules if m.split(".")[0] in ("bea_experiments", "experiments")]
    from bea.cli import main
    assert main(["list"]) == 0
    assert main(["derive", "gd", "--order", "0"]) == 0
    assert main(["experiment", "separable", "--figure", "all"]) == 2
    print("imported", len(names), "modules")
""")


def test_every_bea_module_imports_and_the_cli_runs_with_the_experiments_hidden():
    proc = subprocess.run([sys.executable, "-c", HIDDEN], capture_output=True, text=True, timeout=300,
                          cwd=BEA.parent)
    assert proc.returncode == 0, proc.stderr
    assert "imported" in proc.stdout and "gradient descent" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("bea: error: ") and "experiment" in errors[0], errors


def test_without_the_plugin_experiment_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setattr(cli.importlib.metadata, "entry_points", lambda group: [])
    assert cli.main(["experiment", "cifar", "--out", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bea: error: `bea experiment` needs the bea-experiments package "
                   "(from a bea checkout: pip install -e ./experiments)"]
    assert cli.main(["list"]) == 0


def test_a_plugin_adds_a_subcommand(monkeypatch, capsys):
    class Entry:
        name, value = "hello", "tests:register"

        @staticmethod
        def load():
            def register(sub):
                p = sub.add_parser("hello")
                p.add_argument("--who", default="world")
                p.set_defaults(func=lambda args: print(f"hello {args.who}"))
            return register

    monkeypatch.setattr(cli.importlib.metadata, "entry_points",
                        lambda group: [Entry] if group == cli.PLUGIN_GROUP else [])
    assert cli.main(["hello", "--who", "bea"]) == 0
    assert capsys.readouterr().out == "hello bea\n"


def test_a_broken_plugin_does_not_break_the_built_in_commands(monkeypatch, capsys):
    class Entry:
        name, value = "broken", "nowhere:register"

        @staticmethod
        def load():
            raise ImportError("No module named 'nowhere'")

    monkeypatch.setattr(cli.importlib.metadata, "entry_points", lambda group: [Entry])
    assert cli.main(["list"]) == 0
    capsys.readouterr()
    assert cli.main(["broken"]) == 2
    assert "No module named 'nowhere'" in capsys.readouterr().err


def test_bea_modules_are_all_walked():
    names = {m.name for m in pkgutil.walk_packages(bea.__path__, "bea.")}
    assert {"bea.cli", "bea.engine", "bea.verify"} <= names
