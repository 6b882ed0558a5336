"""The flood limiter's sliding windows never allow more than `rate` in any window; the command
rate limit refuses once, then drops. Time is a fake clock: no test waits on the wall clock."""

import asyncio

from bot.deliver import FloodLimiter, Limits, SlidingWindow, backoff_seconds
from bot.telegram.guard import ChatRateLimit
from tests.clock import FakeClock


async def test_sliding_window_never_exceeds_its_rate() -> None:
    clock = FakeClock()
    window = SlidingWindow(rate=5, period=0.2, clock=clock, sleep=clock.sleep)
    stamps: list[float] = []

    async def one() -> None:
        await window.acquire()
        stamps.append(clock())

    await asyncio.gather(*(one() for _ in range(15)))
    stamps.sort()
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 0.2 - 1e-3
    assert stamps[-1] - stamps[0] >= 0.4 - 1e-3


async def test_private_and_group_chats_get_their_own_windows() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(
        Limits(overall=100, private=1, private_period=0.3, group=2, group_period=0.3),
        clock=clock,
        sleep=clock.sleep,
    )
    calls: list[tuple[object, float]] = []

    async def callback(chat_id: int) -> bool:
        calls.append((chat_id, clock()))
        return True

    async def send(chat_id: int) -> None:
        await limiter.process_request(
            callback, (chat_id,), {}, "sendMessage", {"chat_id": chat_id}, None
        )

    await asyncio.gather(send(1), send(1), send(-5), send(-5), send(2))
    by_chat: dict[object, list[float]] = {}
    for chat, at in calls:
        by_chat.setdefault(chat, []).append(at)
    assert by_chat[1][1] - by_chat[1][0] >= 0.3  # one per period in a private chat
    assert len(by_chat[-5]) == 2
    assert len(by_chat[2]) == 1


async def test_a_429_pause_is_waited_out_on_the_limiters_clock() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(clock=clock, sleep=clock.sleep)
    limiter.pause(30.0)
    assert limiter.paused_for() == 30.0
    sent: list[float] = []

    async def callback() -> bool:
        sent.append(clock())
        return True

    await asyncio.wait_for(
        limiter.process_request(callback, (), {}, "sendMessage", {"chat_id": 7}, None), 5
    )
    assert sent == [1030.0]
    assert limiter.paused_for() == 0.0


def test_command_rate_limit_refuses_once_then_drops_until_the_minute_is_over() -> None:
    clock = FakeClock()
    limit = ChatRateLimit(rate=3, period=60.0, clock=clock)
    assert [limit.check(1) for _ in range(5)] == ["ok", "ok", "ok", "warn", "drop"]
    assert limit.check(2) == "ok"  # another chat has its own count
    clock.now += 59.9
    assert limit.check(1) == "drop"
    clock.now += 0.2
    assert limit.check(1) == "ok"


def test_backoff_grows_and_is_capped() -> None:
    assert 2.5 <= backoff_seconds(0) <= 5
    assert 40 <= backoff_seconds(4) <= 80
    assert backoff_seconds(50) <= 3600
