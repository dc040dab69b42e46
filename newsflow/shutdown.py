"""A graceful stop for long-running workers: signals set a flag the loops check between batches."""

import signal
from collections.abc import Callable


class Shutdown:
    """`requested` turns true on any of `signals`; `on_signal` runs too (e.g. to tell children)."""

    def __init__(self, *signals: signal.Signals, on_signal: Callable[[], None] = lambda: None) -> None:
        self.requested = False
        self._on_signal = on_signal
        for signum in signals:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        self._on_signal()
