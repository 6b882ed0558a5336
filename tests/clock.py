"""A fake monotonic clock for the limiters: `sleep` moves time instead of waiting for it."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Seconds that only pass when someone sleeps: `sleep(s)` moves the clock `s` forward.

    Concurrent sleepers add up rather than overlap, so time may run ahead of a real clock's:
    fine for limiters, whose promises are lower bounds on the gaps between events."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)  # let the other tasks run, as a real sleep would
