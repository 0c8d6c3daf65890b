"""Reporting long work: ``Progress`` callbacks, and ``Laps``, where a search spends its time.

The engine records each stage of a search that ran (``filter``, ``embed``, ``dense``,
``lexical``, ``fuse``, ``late``, ``rerank``, ``highlight``, ``answerable``) in
``SearchResult.stages``; what a caller does with them (a log line, a metrics histogram)
is the caller's business.

>>> laps = Laps()
>>> laps.lap("embed")
>>> sorted(laps.ms)
['embed']
"""

from __future__ import annotations

import time
from collections.abc import Callable

Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total) during long work; total 0 when unknown."""


class Laps:
    """A stopwatch whose every ``lap`` records the time since the previous one."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str, ran: bool = True) -> None:
        """Record the time since the last lap as ``stage`` (added to it if it ran before).

        ``ran=False`` restarts the clock without recording: a stage the search skipped
        is absent, not a near-zero timing that would pull its histogram down."""
        now = time.perf_counter()
        if ran:
            self.ms[stage] = self.ms.get(stage, 0.0) + (now - self._last) * 1000
        self._last = now
