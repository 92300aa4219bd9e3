"""The documentation's build hooks: derived formulas come from bea's LaTeX output, unchanged."""
import importlib.util
import re
from pathlib import Path

import pytest

HOOKS = Path(__file__).resolve().parents[1] / "docs" / "hooks"


def load(name):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", HOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_placeholder_becomes_the_latex_bea_prints(capsys):
    from bea.cli import main

    formulas = load("formulas")
    main(["derive", "heavy_ball", "--format", "latex"])
    printed = capsys.readouterr().out
    page = "Intro.\n\n{{ bea derive heavy_ball --format latex }}\n\nThe row: {{ bea derive heavy_ball --format latex | F_{1} }}."
    out = formulas.on_page_markdown(page, page=None, config=None, files=None)
    blocks = printed.split("% recognized\n")
    assert blocks[0].strip() in out and blocks[1].strip() in out  # every align* block, verbatim
    row = next(r for r in blocks[1].splitlines() if r.startswith("F_{1} &= "))
    inline = out.rsplit("The row: ", 1)[1]
    assert inline.startswith(r"\(F_{1} = ") and inline.endswith(r"\).")
    assert "|" not in inline  # a bare | would end a Markdown table cell
    assert inline[2:-3].replace(r"\Vert ", r"\|") == row.rstrip(" \\").replace(" &= ", " = ")


def test_a_failing_or_non_latex_command_fails_the_build():
    formulas = load("formulas")
    from mkdocs.exceptions import PluginError

    class Page:
        class file:
            src_path = "broken.md"

    with pytest.raises(PluginError, match=r"broken.md: .*beta must be in"):
        formulas.on_page_markdown("{{ bea derive adam --param beta=2 --format latex }}", Page, None, None)
    with pytest.raises(PluginError, match="--format latex"):
        formulas.on_page_markdown("{{ bea derive adam }}", Page, None, None)
    with pytest.raises(PluginError, match=re.escape("no row F_{7}")):
        formulas.on_page_markdown("{{ bea derive gd --format latex | F_{7} }}", Page, None, None)


def test_notebook_math_outputs_become_display_math():
    notebooks = load("notebooks")
    body = "text\n\n$\\displaystyle F_0 = - g$\n\nmore $x$ inline\n"
    assert notebooks.display_math(body) == "text\n\n$$\nF_0 = - g\n$$\n\nmore $x$ inline\n"
    assert notebooks._after_title("# Title\nbody", "NOTE\n") == "# Title\n\nNOTE\nbody"
