"""mkdocs hook: derived formulas on the pages come from bea itself, at build time.

A page writes ``{{ bea derive NAME [flags] --format latex }}`` where a derived result belongs;
the hook runs that command (in process, through ``bea.cli.main``) and puts its LaTeX there:

- on a line of its own: every ``align*`` block it prints (the terms, then the recognized form);
- ``{{ … | recognized }}``: only the recognized form and its regimes;
- ``{{ … | F_{1} }}`` (or ``\tilde E``) inside a sentence or a table: that row, inline, from the
  recognized form (from the terms when the order is 0 and nothing is recognized).

The page names the command next to the result, so a reader can rerun it. Nothing is typed by
hand, and a command that fails fails the build.
"""
from __future__ import annotations

import contextlib
import io
import re
import shlex
from functools import lru_cache

from mkdocs.exceptions import PluginError

PLACEHOLDER = re.compile(r"\{\{\s*(bea derive [^|}]*?)\s*(?:\|\s*(recognized|F_\{\d+\}|\\tilde E))?\s*\}\}")
BLOCK = re.compile(r"\\begin\{align\*\}.*?\\end\{align\*\}", re.DOTALL)


@lru_cache(maxsize=None)
def run(command: str) -> str:
    """What ``command`` prints (a ``bea derive … --format latex`` command line)."""
    argv = shlex.split(command)[1:]
    if "--format" not in argv or argv[argv.index("--format") + 1:][:1] != ["latex"]:
        raise PluginError(f"{command!r}: formulas on pages come from `--format latex`")
    out, err = io.StringIO(), io.StringIO()
    from bea.cli import main

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    if code != 0:
        raise PluginError(f"{command!r} failed: {err.getvalue().strip()}")
    return out.getvalue()


def formula(command: str, select: str | None) -> str:
    """The LaTeX that replaces one placeholder."""
    blocks = BLOCK.findall(run(command))
    if select is None:
        return "\n\n".join(blocks)
    if select == "recognized":
        if len(blocks) < 2:
            raise PluginError(f"{command!r} printed no recognized form")
        return blocks[-1]
    for row in blocks[-1].splitlines():
        if row.startswith(select + " &"):
            # inline, possibly inside a Markdown table: no bare | (it would end the cell)
            tex = row.rstrip(" \\").replace("&", "", 1).replace(r"\|", r"\Vert ").replace("|", r"\vert ")
            return rf"\({tex}\)"
    raise PluginError(f"{command!r}: no row {select} in its last block")


def on_page_markdown(markdown, page, config, files):
    def replace(match):
        command, select = match.group(1), match.group(2)
        try:
            return formula(command, select)
        except PluginError as exc:
            raise PluginError(f"{page.file.src_path}: {exc}") from None

    return PLACEHOLDER.sub(replace, markdown)
