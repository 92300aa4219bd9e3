"""Atomic output: a result file is either the old one or the complete new one, never half-written.

Files are created with the user's umask (0644 under the usual 022), like any other tool's output.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from .errors import BeaError


def _create(folder: Path, stem: str, suffix: str) -> Path:
    """A new empty file ``folder/.STEM.RANDOM SUFFIX``, mode 0666 less the umask, never an existing path."""
    while True:
        tmp = folder / f".{stem}.{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path in ``path``'s folder; on success it is renamed onto ``path``, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create(path.parent, path.stem, path.suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def save_figure(fig, path, dpi: int = 120) -> Path:
    """``fig.savefig`` to a temporary file, then rename; closes the figure."""
    import matplotlib.pyplot as plt

    try:
        with replacing(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return Path(path)


def writable_folder(path, flag: str = "--out") -> Path:
    """``path`` as an existing folder that accepts new files (created if missing), checked by writing a
    probe file; a :class:`BeaError` naming ``flag`` otherwise.  Call it before long work."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BeaError(f"{flag} {str(path)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        _create(path, "write-test", "").unlink()
    except OSError as exc:
        raise BeaError(f"{flag} {str(path)!r} is not a writable folder ({exc.strerror or exc})") from None
    return path
