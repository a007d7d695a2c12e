"""Peak resident memory of a block of work on CPU, sampled by a background thread (psutil RSS).

tracemalloc cannot see torch's tensor allocations (they bypass Python's allocator), so the figure is
the process's resident set: peak during the block minus the level just before it."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import psutil


class PeakRSS:
    def __init__(self, interval_s: float = 0.002):
        self.interval_s = interval_s
        self.proc = psutil.Process()
        self.before = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakRSS:
        self.before = self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def delta_bytes(self) -> int:
        return self.peak - self.before
