"""A CPU-time budget per file: a crafted file that slips past every structural bound still cannot
hold a worker for minutes.

`cpu_budget(seconds)` arms the process's profiling timer (ITIMER_PROF: CPU time of the process,
user and system) and turns its signal into TooComplexError at the next Python instruction. Timers
and signal handlers belong to the main thread, which is where a Celery prefork worker runs its
tasks; elsewhere (tasks run eagerly in a web request's thread, the embedded mode) it does nothing,
and the structural bounds (imaging.deid.bounds, fastread's depth limit) still apply.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from imaging.deid.errors import TooComplexError


def _words(seconds: float) -> str:
    return (f"took more than {seconds:g} s of processing, far more than any real image needs; "
            "it was stopped and not stored")


@contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TooComplexError(_words(seconds))

    previous_handler = signal.signal(signal.SIGPROF, expired)
    previous_timer = signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous_handler)
        if previous_timer[0]:
            signal.setitimer(signal.ITIMER_PROF, *previous_timer)
