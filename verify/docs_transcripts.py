"""The command transcripts on the documentation pages are what bea prints today.

    python verify/docs_transcripts.py            # check every page; exit 1 with a diff when one is stale
    python verify/docs_transcripts.py --write    # rerun every command and rewrite the pages (and figures)

A transcript is a ``console`` or ``text`` block of a page in docs/ whose lines start with
``$ bea …`` (or ``$ python docs/examples/….py``, a script run in a fresh interpreter): each command
is followed by what it printed (stdout and stderr, as a terminal shows them).  ``--write`` runs the commands from the repository root, so a ``bea verify … --out
docs/figures/…`` command regenerates its figure too; the check runs them in a scratch folder
with a copy of docs/examples, so that it writes nothing into the repository.  The test suite runs
the check (tests/test_docs_transcripts.py; ``bea verify`` transcripts in the slow suite).
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(?:console|text)\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Transcript:
    """One ``$ bea …`` line of a page and the output printed under it."""

    page: Path
    command: str
    output: str

    @property
    def slow(self) -> bool:
        """Verification studies take tens of seconds: the slow suite checks them."""
        return shlex.split(self.command)[1:2] == ["verify"]

    @property
    def needs(self) -> str | None:
        """A module the command needs beyond bea (torch for the torch examples), or None."""
        script = shlex.split(self.command)[1:2]
        if self.command.startswith("python ") and script and "import torch" in (ROOT / script[0]).read_text():
            return "torch"
        return None


def transcripts(page: Path) -> list[Transcript]:
    """The transcripts of ``page``, in order."""
    out = []
    for block in BLOCK.findall(page.read_text(encoding="utf-8")):
        if not block.startswith(("$ bea ", "$ python docs/examples/")):
            continue
        for chunk in re.split(r"^(?=\$ (?:bea |python docs/examples/))", block, flags=re.MULTILINE):
            if chunk:
                command, _, output = chunk.partition("\n")
                out.append(Transcript(page, command[2:], output))
    return out


def pages() -> list[Path]:
    return sorted((ROOT / "docs").rglob("*.md"))


def run(command: str) -> str:
    """What ``command`` (``bea …``, or ``python docs/examples/X.py`` run from the repository root)
    prints in the current folder, stdout and stderr together."""
    if command.startswith("python "):
        done = subprocess.run([sys.executable, *shlex.split(command)[1:]], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
        return done.stdout + done.stderr
    from bea.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        main(shlex.split(command)[1:])
    return buffer.getvalue()


@contextlib.contextmanager
def working_folder(folder: Path):
    """Run the block in ``folder``, then return to the current one."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield Path(folder)
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def scratch():
    """A scratch working folder holding a copy of docs/examples (the pages' spec files)."""
    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(ROOT / "docs" / "examples", Path(folder) / "docs" / "examples")
        with working_folder(Path(folder)):
            yield Path(folder)


SCIENTIFIC = re.compile(r"\b\d\.\d+e[-+]\d+\b")


def _rounded(match) -> str:
    """A printed error as its two leading digits, and rounding-level values (< 1e-10) as one token:
    the last digits of an integration error differ between machines, what they show does not."""
    value = float(match.group())
    return "<1e-10" if abs(value) < 1e-10 else f"{value:.1e}"


def _lines(text: str) -> list[str]:
    return [SCIENTIFIC.sub(_rounded, line.rstrip()) for line in text.rstrip("\n").splitlines()]


def stale(transcript: Transcript) -> str | None:
    """A diff when ``transcript`` is not what its command prints now (run in a scratch folder); else None."""
    with scratch():
        now = run(transcript.command)
    if _lines(now) == _lines(transcript.output):
        return None
    diff = difflib.unified_diff(_lines(transcript.output), _lines(now), "on the page", "printed now", lineterm="")
    return f"{transcript.page.relative_to(ROOT)}: $ {transcript.command}\n" + "\n".join(diff)


def write(page: Path) -> bool:
    """Rerun the transcripts of ``page`` from the repository root and rewrite it; True when it changed."""
    before = page.read_text(encoding="utf-8")
    text = before
    with working_folder(ROOT):
        for t in transcripts(page):
            text = text.replace(f"$ {t.command}\n{t.output}", f"$ {t.command}\n{run(t.command).rstrip()}\n", 1)
    changed = text != before
    if changed:
        from bea.atomic import write_atomic

        write_atomic(page, text)
    return changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", action="store_true", help="rerun every command and rewrite the pages")
    args = p.parse_args(argv)
    if args.write:
        for page in pages():
            if write(page):
                print(f"rewrote {page.relative_to(ROOT)}")
        return 0
    problems = [d for page in pages() for t in transcripts(page) if (d := stale(t))]
    print("\n\n".join(problems) if problems else "every transcript is current")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
