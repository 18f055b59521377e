"""How far a run got, and how signals reach it. Imports nothing heavy: it must work from a signal's path even while
other modules are half imported.

SIGINT and SIGTERM raise KeyboardInterrupt / ``Terminated`` where the program stands, except inside ``critical()``
(the writer's commit: the journal and its renames), where they are held and raised when it ends. A Python signal
handler runs in the main thread whatever thread the kernel delivered the signal to, so holding them is done here
rather than with a thread's signal mask."""

from __future__ import annotations

import contextlib
import signal

PROGRESS = {"committed": False}
RECEIVED: list[int] = []  # every signal received, first first
_HELD: list[int] = []
_DEPTH = [0]


class Terminated(BaseException):
    """SIGTERM, raised where the program stands (like KeyboardInterrupt for SIGINT)."""


def _raise(signum: int):
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
    RECEIVED.append(signum)
    if _DEPTH[0]:
        _HELD.append(signum)
        return
    _raise(signum)


def install() -> None:
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


@contextlib.contextmanager
def critical():
    """Signals received inside are raised only when the block is done."""
    _DEPTH[0] += 1
    try:
        yield
    finally:
        _DEPTH[0] -= 1
        if not _DEPTH[0] and _HELD:
            signum = _HELD[0]
            _HELD.clear()
            _raise(signum)
