"""Per-client rate limits for the public endpoints (citizens need no account, so bots don't).

A sliding window per (bucket, client) in memory: nothing about a citizen is stored, and the
window forgets them within a minute. Each server process keeps its own windows; behind several
workers the effective limit is the per-process limit times the workers, which is still a limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from twin.errors import TwinError

MAX_CLIENTS = 50_000


class RateLimited(TwinError):
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, bucket: str, client: str, limit: int) -> None:
        """Count one request of `client` in `bucket`; over `limit` per window: RateLimited."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > MAX_CLIENTS:
                self._forget(now)
            hits = self._hits.setdefault((bucket, client), deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= limit:
                retry = int(hits[0] + self.window_s - now) + 1
                raise RateLimited(
                    f"too many requests ({limit} per minute for {bucket}); retry in {retry} s",
                    retry,
                )
            hits.append(now)

    def _forget(self, now: float) -> None:
        stale = [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window_s]
        for key in stale:
            del self._hits[key]
