"""mkdocs hook: bundle MathJax into the site, so math renders offline.

The script and its fonts come from the installed ``django-static-mathjax`` package (MathJax 3,
no Django needed: it is MathJax's own ``es5/`` folder) and are copied to ``assets/mathjax/``;
``docs/javascripts/mathjax.js`` configures it and ``mkdocs.yml`` loads both. Nothing is fetched
from the network when a page is viewed.
"""
from __future__ import annotations

from importlib.resources import files as package_files
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

TARGET = "assets/mathjax"
#: The TeX-to-HTML bundle, what it loads on demand (TeX extensions, fonts, menu, accessibility).
PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y", "sre", "adaptors")


def source() -> Path:
    try:
        root = Path(str(package_files("mathjax"))) / "static" / "mathjax" / "es5"
    except ModuleNotFoundError:
        root = None
    if root is None or not (root / "tex-chtml.js").is_file():
        raise PluginError("MathJax is not installed: pip install -e '.[docs]' (package django-static-mathjax)")
    return root


def on_files(files, config):
    root = source()
    for part in PARTS:
        path = root / part
        for item in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            files.append(File.generated(config, f"{TARGET}/{item.relative_to(root).as_posix()}",
                                        abs_src_path=str(item)))
    return files
