"""Adapting the Invoke rate to throttling: additive increase, multiplicative decrease (AIMD).

`AimdLimiter` bounds how many Invoke calls the Lambda executor has open at once. A 429
(``TooManyRequestsException``) halves that bound, at most once per window (calls that
started before the last decrease do not shrink it again, as TCP counts one loss per round
trip), and pauses every sender: for the ``retryAfterSeconds`` the 429 carried, else an
exponential backoff with jitter that resets on the next success. Each success grows the
bound by ``1 / bound`` (about one per window of successes), back up to the ceiling. So a
run whose rate is above what Lambda (or the account) allows slows down to it and finishes,
instead of exhausting a fixed number of retries.

How many invocations are *running* is bounded separately: by the Prefect global
concurrency limit (`tasks.stage`), sized from the account's real limits
(`tasks.lambda_limits`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class LimiterStats:
    """What a limiter went through (for logs and tests)."""

    limit: float
    lowest: float
    throttles: int
    decreases: int
    successes: int
    paused_s: float


class AimdLimiter:
    """At most ``limit`` calls at once; see the module docstring.

    Args:
        ceiling: The largest (and first) bound.
        floor: The smallest bound.
        decrease: The factor a throttle multiplies the bound by.
        base_pause_s: The first backoff pause without a Retry-After; doubles per throttle
            in a row, up to ``max_pause_s``.
        max_pause_s: The longest backoff pause (a Retry-After is honoured whatever it says,
            up to ``max_retry_after_s``).
        max_retry_after_s: A longer Retry-After is taken as this.
    """

    def __init__(
        self,
        ceiling: int,
        floor: int = 1,
        decrease: float = 0.5,
        base_pause_s: float = 0.1,
        max_pause_s: float = 20.0,
        max_retry_after_s: float = 300.0,
    ) -> None:
        if ceiling < floor or floor < 1 or not 0 < decrease < 1:
            raise ValueError(f"bad AIMD limiter: ceiling {ceiling}, floor {floor}, x{decrease}")
        self.ceiling, self.floor, self.decrease = float(ceiling), float(floor), decrease
        self.base_pause_s, self.max_pause_s = base_pause_s, max_pause_s
        self.max_retry_after_s = max_retry_after_s
        self.limit = self.ceiling
        self._lowest = self.limit
        self._active = 0
        self._window = 0  # bumped by every decrease
        self._streak = 0  # throttles since the last success
        self._resume_at = 0.0  # time.monotonic() before which nobody sends
        self._throttles = self._decreases = self._successes = 0
        self._paused_s = 0.0
        self._cond = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[int]:
        """Hold one of the ``limit`` slots for one call; yields the window it started in."""
        with self._cond:
            while True:
                wait = self._resume_at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                elif self._active < max(int(self.limit), 1):
                    break
                else:
                    self._cond.wait(1.0)
            self._active += 1
            window = self._window
        try:
            yield window
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def throttled(self, window: int, retry_after_s: float | None = None) -> float:
        """A call started in ``window`` was throttled: shrink (once per window) and pause.

        Returns:
            The pause every sender now waits, in seconds.
        """
        with self._cond:
            self._throttles += 1
            self._streak += 1
            if window == self._window:
                self.limit = max(self.floor, self.limit * self.decrease)
                self._lowest = min(self._lowest, self.limit)
                self._window += 1
                self._decreases += 1
            if retry_after_s is not None and retry_after_s >= 0:
                pause = min(float(retry_after_s), self.max_retry_after_s)
            else:
                backoff = self.base_pause_s * 2 ** min(self._streak - 1, 30)
                pause = min(self.max_pause_s, backoff) * random.uniform(0.5, 1.0)
            resume_at = time.monotonic() + pause
            if resume_at > self._resume_at:
                self._paused_s += resume_at - max(self._resume_at, time.monotonic())
                self._resume_at = resume_at
            return pause

    def succeeded(self) -> None:
        """A call went through: grow the bound by ``1 / bound``."""
        with self._cond:
            self._successes += 1
            self._streak = 0
            self.limit = min(self.ceiling, self.limit + 1.0 / self.limit)
            self._cond.notify_all()

    def stats(self) -> LimiterStats:
        with self._cond:
            return LimiterStats(
                limit=self.limit,
                lowest=self._lowest,
                throttles=self._throttles,
                decreases=self._decreases,
                successes=self._successes,
                paused_s=round(self._paused_s, 3),
            )
