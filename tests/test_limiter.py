"""The flood limiter's sliding windows never allow more than `rate` in any window."""

import asyncio
import time

from bot.deliver import FloodLimiter, Limits, SlidingWindow, backoff_seconds


async def test_sliding_window_never_exceeds_its_rate() -> None:
    window = SlidingWindow(rate=5, period=0.2)
    stamps: list[float] = []

    async def one() -> None:
        await window.acquire()
        stamps.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(15)))
    stamps.sort()
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 0.2 - 1e-3
    assert stamps[-1] - stamps[0] >= 0.4 - 1e-3


async def test_private_and_group_chats_get_their_own_windows() -> None:
    limiter = FloodLimiter(
        Limits(overall=100, private=1, private_period=0.3, group=2, group_period=0.3)
    )
    calls: list[tuple[object, float]] = []

    async def callback(chat_id: int) -> bool:
        calls.append((chat_id, time.monotonic()))
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


def test_backoff_grows_and_is_capped() -> None:
    assert 2.5 <= backoff_seconds(0) <= 5
    assert 40 <= backoff_seconds(4) <= 80
    assert backoff_seconds(50) <= 3600
