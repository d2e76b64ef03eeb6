"""Client-side pacing for API teachers: token buckets for requests/min and tokens/min, and the
retry schedule (exponential backoff with full jitter, or the server's Retry-After when it sends one)."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Mapping


class RateLimiter:
    """A token bucket refilled at `per_min / 60` units per second that holds one second's worth (at
    least one unit), the way providers enforce per-minute limits on a short time scale.

    `acquire(n)` waits (FIFO: waiters queue on a lock) until the bucket holds min(n, capacity), then
    takes all n, possibly going into debt: a request larger than the bucket still goes out, and the
    ones after it wait until the debt is repaid, so the long-run rate never passes `per_min`.
    `refund(n)` gives back units taken but not used (a failed request, fewer tokens than reserved).
    `per_min=None` means no limit.
    """

    def __init__(self, per_min: float | None, clock=time.monotonic):
        self.per_min = per_min
        self.capacity = max(1.0, (per_min or 0.0) / 60.0)
        self._clock = clock
        self._level = self.capacity
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.per_min / 60.0)
        self._stamp = now

    async def acquire(self, amount: float = 1.0) -> float:
        """Take `amount` units; returns what was taken (what `refund` may give back)."""
        if self.per_min is None:
            return 0.0
        need = min(amount, self.capacity)
        async with self._lock:
            self._refill()
            while self._level < need:
                await asyncio.sleep((need - self._level) * 60.0 / self.per_min)
                self._refill()
            self._level -= amount
        return amount

    def refund(self, amount: float) -> None:
        if self.per_min is None or amount <= 0:
            return
        self._refill()
        self._level = min(self.capacity, self._level + amount)


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or an HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max_s, base_s * 2**attempt)]."""
    return rng.uniform(0.0, min(max_s, base_s * (2**attempt)))


def retry_delay(
    attempt: int, headers: Mapping[str, str] | None, base_s: float, max_s: float, rng: random.Random
) -> float:
    """The server's Retry-After wins when given (honoured up to 10 minutes); otherwise jittered backoff."""
    server = parse_retry_after(headers)
    if server is not None:
        return min(server, 600.0)
    return backoff_delay(attempt, base_s, max_s, rng)
