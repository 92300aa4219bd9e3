"""The documentation site, built strictly and opened in headless Chromium (slow suite).

Each key page is loaded from a local HTTP server, its DOM dumped after MathJax has run, and a
screenshot kept in ``site-screenshots/`` (CI artifacts). The checks: every formula was typeset
by MathJax without a TeX error, no raw TeX (``\\(``, ``$``, ``_{``) is left in the visible text,
no emphasis was produced by an underscore of a formula, and the built pages load nothing from
the network (MathJax and its fonts are bundled).
"""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "site-screenshots"
PAGES = {
    "index": "",
    "getting-started": "getting-started/",
    "method": "method/",
    "regimes": "regimes/",
    "experiments": "experiments/",
    "notebook-03-adam": "derivations/03_adam/",
}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=30000"]
#: TeX left over in visible text: delimiters, commands, sub- and superscript groups.
RAW_TEX = re.compile(r"\\[()\[\]]|\$|\{\{|\\(?:frac|nabla|varepsilon|beta|rho|sqrt|left|right)\b|[_^]\{")
#: Characters of a formula: an <em> containing one was made by an underscore inside math.
MATH_IN_EMPHASIS = re.compile(r"[_^{}\\∇‖εβρθ∂]")


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
    pytest.importorskip("bs4", reason="the docs extra is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def server(site):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def browse(chromium: str, url: str, *action: str) -> subprocess.CompletedProcess:
    """Headless Chromium on ``url`` with a fresh profile (``action``: --dump-dom or --screenshot=…)."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *action, url],
                              capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def pages(chromium, server):  # chromium first: skip before building the site
    """{name: typeset DOM} of the key pages; their screenshots land in site-screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    dom = {}
    for name, path in PAGES.items():
        dom[name] = browse(chromium, server + path, "--dump-dom").stdout
        browse(chromium, server + path, "--window-size=1280,2400", f"--screenshot={SCREENSHOTS / (name + '.png')}")
    return dom


def visible_text(soup) -> str:
    """The page's text as a reader sees it: no code, no scripts, no typeset math."""
    for tag in soup.find_all(["script", "style", "code", "pre", "mjx-container", "textarea"]):
        tag.decompose()
    return soup.get_text(" ")


@pytest.mark.parametrize("name", PAGES)
def test_math_is_typeset_and_nothing_raw_is_left(pages, name):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(pages[name], "html.parser")
    assert soup.find("article") is not None, f"{name}: no page content in the dumped DOM"
    formulas = soup.select(".arithmatex")
    assert formulas, f"{name}: no math on the page"
    untypeset = [f.get_text()[:80] for f in formulas if f.find("mjx-container") is None]
    assert not untypeset, f"{name}: MathJax did not typeset {len(untypeset)} formulas, e.g. {untypeset[:3]}"
    errors = [e.get_text()[:80] for e in soup.find_all("mjx-merror")]
    assert not errors, f"{name}: TeX errors {errors[:3]}"
    stray = [em.get_text()[:80] for em in soup.select("article em") if MATH_IN_EMPHASIS.search(em.get_text())]
    assert not stray, f"{name}: emphasis made by underscores in formulas: {stray[:3]}"
    raw = [m.group(0) + " in …" + text[max(0, m.start() - 40):m.end() + 40] + "…"
           for text in [visible_text(soup)] for m in RAW_TEX.finditer(text)]
    assert not raw, f"{name}: raw TeX in the visible text: {raw[:3]}"
    assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000


def test_the_site_loads_nothing_from_the_network(site):
    remote = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)
    found = {str(p.relative_to(site)): remote.findall(p.read_text(encoding="utf-8"))[:2]
             for p in site.rglob("*.html") if remote.search(p.read_text(encoding="utf-8"))}
    assert not found, f"pages load remote resources: {found}"
    fonts = site / "assets" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (site / "assets" / "mathjax" / "tex-chtml.js").is_file() and (fonts / "MathJax_Main-Regular.woff").is_file()


def test_every_notebook_is_a_page_with_its_outputs(site):
    for script in sorted((ROOT / "derivations").glob("[0-9]*.py")):
        html = (site / "derivations" / script.stem / "index.html").read_text(encoding="utf-8")
        assert "arithmatex" in html, f"{script.name}: no math on its page"
    figure = next((site / "derivations").glob("03_adam_files/*.png"))  # the phase diagram, drawn at build time
    assert figure.stat().st_size > 10_000
