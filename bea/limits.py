"""Bounds on symbolic steps whose cost has no a-priori limit (``sympy.integrate``, ``limit``, …).

>>> with time_limit(5):
...     1 + 1
2
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time


class TimeLimit(Exception):
    """A bounded step ran out of time (or could not be bounded here)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`TimeLimit` in the block after ``seconds`` (a real-time timer, main thread only:
    elsewhere no timer can interrupt the block, so it does not start at all).  Limits nest: an inner
    block ends no later than the outer one, and the outer timer runs on after it."""
    if threading.current_thread() is not threading.main_thread():
        raise TimeLimit("an unbounded symbolic step can only be time-limited in the main thread")
    outer = signal.getitimer(signal.ITIMER_REAL)[0]  # seconds left to an enclosing limit (0: none)

    def expire(signum, frame):
        raise TimeLimit(f"gave up after {seconds:g} s")

    # when the enclosing limit comes first, its handler (and message) stays
    handler = expire if not outer or seconds < outer else signal.getsignal(signal.SIGALRM)
    previous = signal.signal(signal.SIGALRM, handler)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # the enclosing limit goes on with the time it has left (at least a moment)
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))



_interrupted = False


@contextlib.contextmanager
def interruptible():
    """Ctrl-C (SIGINT) raises KeyboardInterrupt as usual, and is remembered: Python drops an exception
    raised inside a finalizer ("Exception ignored in …"), so long loops call :func:`check_interrupt`
    between their steps to stop anyway.  Main thread only (elsewhere it does nothing)."""
    global _interrupted
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        global _interrupted
        _interrupted = True
        raise KeyboardInterrupt

    _interrupted = False
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _interrupted = False


def check_interrupt():
    """Raise KeyboardInterrupt if Ctrl-C came while its exception may have been dropped (see :func:`interruptible`)."""
    if _interrupted:
        raise KeyboardInterrupt
