"""A run's log read back (log.jsonl, or the log inside a checkpoint): what train.py writes, or nothing.

A log that cannot be read, or whose rows are not those of :mod:`bea_experiments.cifar.train`
(a dict per step with its metrics, a final ``{"note": …}`` when a run diverged), is ignored
with a warning: a sweep then runs that value again and a plot leaves it out.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from bea.errors import BeaWarning

#: What every step row holds (train.py writes them each step); test and correction metrics are optional.
STEP_KEYS = ("step", "train_loss", "train_acc", "one_norm_eps", "grad_l1", "grad_l2", "wall_s")


def valid_rows(rows) -> bool:
    """Whether ``rows`` is a list of step rows (numbers under :data:`STEP_KEYS`, step ≥ 1) and notes."""
    def number(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    def row_ok(row):
        if not isinstance(row, dict):
            return False
        if set(row) == {"note"}:
            return isinstance(row["note"], str)
        return (all(k in row and number(row[k]) for k in STEP_KEYS) and type(row["step"]) is int
                and row["step"] >= 1 and all(number(v) for k, v in row.items()))

    return isinstance(rows, list) and all(row_ok(r) for r in rows)


def read_log(path) -> list[dict] | None:
    """The rows of the log.jsonl at ``path``; None (with a :class:`BeaWarning`) when it is not one."""
    try:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return _ignore(path, f"it is not readable JSON lines ({type(exc).__name__})")
    if not rows:
        return _ignore(path, "it is empty")
    if not valid_rows(rows):
        return _ignore(path, "its rows are not those of a CIFAR run")
    return rows


def _ignore(path, why: str):
    warnings.warn(f"ignoring {str(path)!r}: {why}", BeaWarning, stacklevel=3)
    return None
