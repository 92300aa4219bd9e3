"""Bounds on symbolic steps whose cost has no a-priori limit (``sympy.integrate``, ``limit``, …).

>>> with time_limit(5):
...     1 + 1
2
"""
from __future__ import annotations

import contextlib
import signal
import threading


class TimeLimit(Exception):
    """A bounded step ran out of time (or could not be bounded here)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`TimeLimit` in the block after ``seconds`` (a real-time timer, main thread only:
    elsewhere no timer can interrupt the block, so it does not start at all)."""
    if threading.current_thread() is not threading.main_thread():
        raise TimeLimit("an unbounded symbolic step can only be time-limited in the main thread")

    def expire(signum, frame):
        raise TimeLimit(f"gave up after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
