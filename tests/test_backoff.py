"""Delivery backoff (issue 9, item 10): capped at 10 minutes, reset once Telegram answers again;
and a storage fault holds the sender with one log line instead of a traceback per chat.

Time is the sender's injected clock: nothing here sleeps for the backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from telegram.ext import ExtBot

from bot.deliver import BACKOFF_CAP_SECONDS, Sender, backoff_seconds
from bot.models import Posting
from bot.store import PendingDelivery, Store
from tests.fake_telegram import FakeTelegram, Fault
from tests.fetchkit import within
from tests.test_delivery import make_bot

ADA, BOB = 1001, 1002
T0 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


class Clock:
    """A settable UTC clock for the sender."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(rate_limits=None) as server:
        for user in (ADA, BOB):
            server.add_private_chat(user, f"user{user}")
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[ExtBot[None]]:
    async with make_bot(tg) as client:
        yield client


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store.open(":memory:")
    for n, chat in enumerate((ADA, BOB)):
        posting = Posting(url=f"https://jobs.example/{n}", title=f"Python developer {n}")
        store.ingest("board", [posting])
        store.touch_chat(chat, type="private", title=f"chat {chat}")
        store.enqueue([PendingDelivery(chat, posting.id, 1)], now=T0)
    yield store
    store.close()


def row(store: Store, chat: int) -> tuple[str, int, str]:
    """(status, attempts, next_attempt_at) of the chat's delivery."""
    return store.db.execute(  # type: ignore[no-any-return]
        "SELECT status, attempts, next_attempt_at FROM deliveries WHERE chat_id = ?", [chat]
    ).fetchone()


def test_backoff_is_capped_at_ten_minutes() -> None:
    assert BACKOFF_CAP_SECONDS == 600
    for attempts in (10, 20, 50, 1000):
        waits = [backoff_seconds(attempts) for _ in range(200)]
        assert all(300 <= wait <= 600 for wait in waits)
    assert 2.5 <= backoff_seconds(0) <= 5


async def test_a_long_outage_backs_off_at_most_ten_minutes(
    tg: FakeTelegram, bot: ExtBot[None], store: Store
) -> None:
    """Regression: after a long outage a delivery waited 3,161 s (the cap was an hour)."""
    clock = Clock()
    (delivery,) = store.pending_for_chat(ADA)
    for _ in range(30):  # thirty failures already
        store.defer([delivery.id], T0, "NetworkError: Bad Gateway")
    tg.fail_next("sendMessage", Fault.server_error(502))
    await within(Sender(store, bot, clock=clock).deliver_chat(ADA))
    status, attempts, due = row(store, ADA)
    assert status == "pending"
    assert attempts == 31
    assert timedelta(minutes=5) <= datetime.fromisoformat(due) - T0 <= timedelta(minutes=10)


async def test_the_first_success_after_an_outage_brings_backed_off_deliveries_forward(
    tg: FakeTelegram, bot: ExtBot[None], store: Store
) -> None:
    clock = Clock()
    sender = Sender(store, bot, clock=clock)
    tg.fail_next("sendMessage", Fault.server_error(502), times=1, chat_id=BOB)
    await within(sender.deliver_chat(BOB))  # the first send: it resets nothing, it failed
    (ada,) = store.pending_for_chat(ADA)
    for _ in range(30):  # the outage is long: Ada's alert has failed many times
        store.defer([ada.id], T0, "NetworkError: Bad Gateway")
    tg.fail_next("sendMessage", Fault.server_error(502), times=1, chat_id=ADA)
    await within(sender.deliver_chat(ADA))
    assert row(store, ADA)[:2] == ("pending", 31)  # due in 5 to 10 minutes
    assert store.due_chats(now=clock()) == []  # both wait out their backoff

    clock.now = T0 + timedelta(seconds=60)  # a minute without a success: an outage
    store.db.execute("UPDATE deliveries SET next_attempt_at = ? WHERE chat_id = ?", [T0, BOB])
    await within(sender.deliver_chat(BOB))  # Telegram answers again
    assert row(store, BOB)[0] == "sent"
    assert row(store, ADA) == ("pending", 0, clock.now.isoformat(timespec="seconds"))
    assert store.due_chats(now=clock()) == [ADA]
    await within(sender.deliver_chat(ADA))
    assert row(store, ADA)[0] == "sent"
    assert [m.chat_id for m in tg.sent_messages()] == [BOB, ADA]


async def test_the_first_success_after_a_restart_brings_backed_off_deliveries_forward(
    tg: FakeTelegram, bot: ExtBot[None], store: Store
) -> None:
    (ada,) = store.pending_for_chat(ADA)
    store.defer([ada.id], T0 + timedelta(minutes=9), "NetworkError: Bad Gateway")  # last run's
    clock = Clock()
    await within(Sender(store, bot, clock=clock).deliver_chat(BOB))
    assert row(store, ADA) == ("pending", 0, T0.isoformat(timespec="seconds"))


async def test_one_chat_failing_among_working_ones_keeps_its_backoff(
    tg: FakeTelegram, bot: ExtBot[None], store: Store
) -> None:
    clock = Clock()
    sender = Sender(store, bot, clock=clock)
    await within(sender.deliver_chat(BOB))  # Telegram works
    store.enqueue(
        [PendingDelivery(BOB, Posting(url="https://jobs.example/0", title="x").id)], now=T0
    )
    tg.fail_chat(ADA, Fault.error(500, "Internal Server Error"))
    await within(sender.deliver_chat(ADA))
    due = row(store, ADA)[2]
    clock.now = T0 + timedelta(seconds=1)
    await within(sender.deliver_chat(BOB))  # another chat's success is no outage's end
    assert row(store, ADA) == ("pending", 1, due)


async def test_a_storage_fault_holds_the_sender_with_one_line_then_it_resumes(
    tg: FakeTelegram, bot: ExtBot[None], store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    store.db.execute("DELETE FROM deliveries WHERE chat_id = ?", [BOB])
    store.db.execute("PRAGMA query_only = ON")  # marking the alert sent will fail
    sender = Sender(store, bot, clock=clock, idle_poll=0.05)
    stop = asyncio.Event()
    caplog.set_level(logging.INFO)
    running = asyncio.create_task(sender.run(stop))
    try:
        await tg.wait_for_async(lambda: tg.sent_messages(ADA), timeout=10)
        await asyncio.sleep(0.3)  # several polls while held: nothing sent again, nothing logged
        assert len(tg.sent_messages(ADA)) == 1
        store.db.execute("PRAGMA query_only = OFF")
        clock.now = T0 + timedelta(seconds=31)  # the hold is over
        await tg.wait_for_async(lambda: row(store, ADA)[0] == "sent", timeout=10)
    finally:
        stop.set()
        await within(running)
    # Sent, not marked sent, sent again: at-least-once, as after a kill.
    assert len(tg.sent_messages(ADA)) == 2
    assert all(r.exc_info is None for r in caplog.records)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.startswith("outbox: database :memory:: the file cannot be written")
    assert warning.endswith("Deliveries stay pending; sending again in 30s")
    assert "the database works again" in caplog.text
