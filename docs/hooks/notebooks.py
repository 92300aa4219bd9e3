"""mkdocs hook: the derivation notebooks, executed at build time, as pages of the site.

Each jupytext script ``derivations/NN_*.py`` is read with jupytext, run top to bottom in a
Jupyter kernel (nbclient, the same way ``tests/test_notebooks.py`` runs it) and converted
to Markdown with its outputs (nbconvert); the page ``derivations/NN_*.md`` and its figures
are added to the site, so their math goes through the same arithmatex/MathJax path as every
other page. A cell that raises fails the build.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File
from nbclient import NotebookClient
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "derivations").glob("[0-9]*.py"))
log = logging.getLogger("mkdocs.hooks.notebooks")
#: A cell output of IPython.display.Math alone on its lines: shown as display math.
MATH_OUTPUT = re.compile(r"^\$\\displaystyle (.+)\$$", re.MULTILINE)


def execute(script: Path):
    """The notebook of ``script`` with its outputs, run in a fresh kernel in a scratch folder."""
    notebook = jupytext.read(script)
    with tempfile.TemporaryDirectory() as scratch:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": scratch}}).execute()
    return notebook


def page(script: Path) -> tuple[str, dict]:
    """Markdown of the executed notebook and its figures ({file name: bytes})."""
    start = time.perf_counter()
    try:
        notebook = execute(script)
    except Exception as exc:  # CellExecutionError, DeadKernelError, timeouts: say which notebook
        raise PluginError(f"derivations/{script.name} failed to execute: {exc}") from exc
    body, resources = MarkdownExporter().from_notebook_node(
        notebook, resources={"output_files_dir": f"{script.stem}_files", "unique_key": script.stem})
    log.info("executed derivations/%s in %.1f s", script.name, time.perf_counter() - start)
    source = (f"!!! note \"A notebook, executed when this site was built\"\n"
              f"    This page is [`derivations/{script.name}`]({script.name}), a jupytext script. Run it with "
              f"`python derivations/{script.name}` or open it as a notebook with "
              f"`jupytext --to notebook derivations/{script.name}`.\n\n")
    return _after_title(display_math(body), source), resources.get("outputs", {})


def display_math(markdown: str) -> str:
    """IPython.display.Math outputs ($\\displaystyle …$ alone on a line) as display math ($$ … $$)."""
    return MATH_OUTPUT.sub(lambda m: "$$\n" + m.group(1) + "\n$$", markdown)


def _after_title(markdown: str, text: str) -> str:
    """Insert ``text`` after the first heading line (the page title)."""
    head, sep, rest = markdown.partition("\n")
    return head + sep + "\n" + text + rest if head.startswith("# ") else text + markdown


def on_files(files, config):
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # one kernel per notebook
        pages = list(pool.map(page, SCRIPTS))
    for script, (markdown, figures) in zip(SCRIPTS, pages):
        files.append(File.generated(config, f"derivations/{script.stem}.md", content=markdown))
        files.append(File.generated(config, f"derivations/{script.name}", abs_src_path=str(script)))
        for name, data in figures.items():
            files.append(File.generated(config, f"derivations/{name}", content=data))
    return files
