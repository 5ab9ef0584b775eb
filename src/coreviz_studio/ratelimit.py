"""Failure counters against guessing (passwords, device user codes), kept in process memory.

Each process counts on its own, so N server processes allow N times the limit; that still turns
a 34-bit user code or a password into something that cannot be guessed in its lifetime.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

from coreviz_studio.errors import TooManyRequests


class FailureLimiter:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def check(self, *keys: str) -> None:
        """429 (with Retry-After) when any key has failed `limit` times within the window."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.limit:
                    wait = math.ceil(failures[0] + self.window - now)
                    raise TooManyRequests(
                        f"Too many failed attempts; try again in {wait} seconds",
                        headers={"Retry-After": str(max(wait, 1))})

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 100_000:  # forget idle keys rather than grow forever
                for key in [k for k, v in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[key]

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
