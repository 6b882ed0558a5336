"""Telegram's flood limits, kept by design: `FloodLimiter` is python-telegram-bot's rate limiter.

At most 30 messages in any second overall, one per second per private chat, 20 per minute per
group (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this). A 429
still pauses every request for its `retry_after`.

Time comes from an injected `clock` (seconds, monotonic) and waits from an injected `sleep`, so
tests move time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.deliver.faults import retry_seconds

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits, with a margin so network jitter never tips us over."""

    overall: int = 30
    overall_period: float = 1.0
    private: int = 1
    private_period: float = 1.0
    group: int = 20
    group_period: float = 60.0
    # Windows are stretched by this factor: the server counts arrivals, we count departures.
    # The overall window is also paced evenly (see SlidingWindow), so arrivals never bunch up
    # and 2 % is enough: 29.4 messages/s, 98 % of Telegram's 30.
    margin: float = 1.02
    max_retries: int = 3


class SlidingWindow:
    """At most `rate` acquisitions in any window of `period` seconds.

    With `paced`, acquisitions are also spread evenly (`period / rate` apart, up to `burst`
    at once to absorb a late event loop) instead of `rate` at the start of every window: a
    backlog then leaves as a steady stream, and few requests are ever in flight together
    (fewer duplicates when the process is killed mid-send).
    """

    def __init__(
        self,
        rate: int,
        period: float,
        clock: Clock = time.monotonic,
        *,
        paced: bool = False,
        burst: int = 3,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self._interval = period / rate if paced else 0.0
        self._slack = self._interval * (max(burst, 1) - 1)
        # The theoretical time of the next evenly paced acquisition (GCRA).
        self._next = 0.0
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    def idle(self) -> bool:
        """True when nothing was acquired within the last period (the window can be dropped)."""
        return not self._times or self.clock() - self._times[-1] >= self.period

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                while self._times and now - self._times[0] >= self.period:
                    self._times.popleft()
                wait = self._next - self._slack - now if self._interval else 0.0
                if len(self._times) >= self.rate:
                    wait = max(wait, self._times[0] + self.period - now)
                if wait <= 0:
                    self._times.append(now)
                    self._next = max(self._next, now) + self._interval
                    return
                await self.sleep(wait)


class FloodLimiter(BaseRateLimiter[int]):
    """python-telegram-bot rate limiter with Telegram's three limits, per-private-chat included.

    A RetryAfter from any request pauses every request for `retry_after`, then the same request
    is retried (up to `max_retries` times, then raised to the caller).
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_retry_after: Callable[[], None] | None = None,
    ) -> None:
        self.limits = limits or Limits()
        # Told of every 429 received (issue 14's metric and /stats' "429s today").
        self.on_retry_after = on_retry_after
        # Seconds (monotonic) and the way to wait them: tests pass a fake pair.
        self.clock = clock
        self.sleep = sleep
        lim = self.limits
        self._overall = SlidingWindow(
            lim.overall, lim.overall_period * lim.margin, clock, paced=True, sleep=sleep
        )
        self._chats: dict[int | str, SlidingWindow] = {}
        # self.clock() before which nothing is sent: the last 429's retry_after.
        self._paused_until = 0.0
        self.retry_after_count = 0
        # Whether any message went through this limiter: until then it knows no history.
        self.has_sent = False

    def paused_for(self) -> float:
        """Seconds left of the pause a 429 imposed on every request (0 when not paused)."""
        return max(0.0, self._paused_until - self.clock())

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` (longer pauses already running are kept)."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def window_seconds(self) -> float:
        """How long a message counts against the overall limit."""
        return self.limits.overall_period * self.limits.margin

    async def _unpaused(self) -> None:
        while (left := self.paused_for()) > 0:
            await self.sleep(left)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _chat_window(self, chat_id: int | str) -> SlidingWindow:
        if len(self._chats) > 4096:
            for key in [k for k, w in self._chats.items() if w.idle()]:
                del self._chats[key]
        window = self._chats.get(chat_id)
        if window is None:
            lim = self.limits
            group = isinstance(chat_id, str) or chat_id < 0
            rate, period = (
                (lim.group, lim.group_period) if group else (lim.private, lim.private_period)
            )
            window = self._chats[chat_id] = SlidingWindow(
                rate, period * lim.margin, self.clock, sleep=self.sleep
            )
        return window

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = data.get("chat_id")
        counted = chat_id is not None and endpoint.startswith(("send", "copy", "forward"))
        if counted:
            with contextlib.suppress(TypeError, ValueError):
                chat_id = int(chat_id)  # type: ignore[arg-type]
        retries = self.limits.max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            await self._unpaused()
            if counted:
                await self._chat_window(chat_id).acquire()  # type: ignore[arg-type]
                await self._overall.acquire()
                if self.paused_for() > 0:
                    # A 429 arrived while we queued. Sending when it ends would release every
                    # request queued meanwhile in one burst: take fresh slots after the pause.
                    continue
                self.has_sent = True
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.retry_after_count += 1
                if self.on_retry_after is not None:
                    self.on_retry_after()
                pause = retry_seconds(exc) + 0.1
                # Telegram expects the whole bot to wait, whether or not this request retries.
                self.pause(pause)
                if attempt >= retries:
                    raise
                attempt += 1
                log.warning(
                    "Telegram asked to slow down (429): pausing all sends for %.1fs, then retrying",
                    pause,
                )
