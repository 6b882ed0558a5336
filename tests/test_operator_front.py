"""Issue 14's Telegram side, through python-telegram-bot against the fake Bot API: the admin
source commands (others refused in one line), /stats' figures, breakage alerts as admin
messages, and the sender's and flood limiter's metrics (alerts sent, 429s received)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.deliver import Limits
from bot.operations import Operations
from bot.sources.markdown import read_folder
from bot.store import PendingDelivery, Store
from bot.subscriptions import Subscriptions
from bot.telegram.admin import AdminMessages
from bot.telegram.app import TelegramFront, telegram_front
from tests.conftest import ROOT
from tests.fake_telegram import FakeTelegram, Fault
from tests.fetchkit import within
from tests.test_telegram_commands import BOT_NAME, OPERATOR, USER, make_settings, one


@dataclass
class Env:
    tg: FakeTelegram
    store: Store
    ops: Operations
    front: TelegramFront


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        tg.add_private_chat(USER, "Ada")
        tg.add_private_chat(OPERATOR, "Op")
        settings = make_settings(tg, tmp_path)
        store = Store.open(settings.storage.path)
        store.ingest("seeds", read_folder(ROOT / "seeds").postings)
        store.record_success("seeds", count=5, new=5)
        ops = Operations(settings, store)
        limits = Limits(private=100, private_period=1.0)
        stop = asyncio.Event()
        async with telegram_front(
            settings, store, Subscriptions(store), stop, limits=limits, ops=ops
        ) as front:
            yield Env(tg, store, ops, front)
        store.close()


def metric(ops: Operations, name: str) -> float:
    text = generate_latest(ops.metrics.registry).decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


async def test_source_commands_are_for_admins_and_a_pause_is_stored(env: Env) -> None:
    for command in ("/pausesource seeds", "/resumesource seeds", "/runsource seeds"):
        refusal = await one(env, USER, command)  # type: ignore[arg-type]
        assert refusal.text == f"{command.split()[0]} is for the bot's operators."
    assert not env.ops.paused("seeds")

    async def admin(text: str) -> str:
        return (await one(env, OPERATOR, text, user=OPERATOR)).text  # type: ignore[arg-type]

    assert "one of: lever, seeds" in await admin("/pausesource")
    assert "one of: lever, seeds" in await admin("/pausesource nosuch")
    assert (await admin("/pausesource seeds")).startswith("Paused seeds: no runs until")
    assert env.store.paused_sources() == {"seeds"}
    assert "seeds (markdown): paused by an admin" in await admin("/sources")
    assert "is paused: /resumesource seeds first" in await admin("/runsource seeds")
    assert (await admin("/resumesource seeds")).startswith("Resumed seeds")
    assert env.store.paused_sources() == set()
    ran: list[str] = []

    def run_now(name: str) -> bool:
        ran.append(name)
        return True

    env.ops.run_now = run_now
    assert (await admin("/runsource seeds")).startswith("Running seeds now")
    assert ran == ["seeds"]
    assert "not scheduled" in await admin("/runsource lever")  # disabled in the config


async def test_stats_counts_alerts_and_429s_of_today(env: Env) -> None:
    env.store.touch_chat(USER, type="private", title="Ada")
    env.store.add_subscription(USER, "python")
    (posting, *_) = env.store.latest(1)
    env.tg.fail_next("sendMessage", Fault.retry_after(1))
    env.store.enqueue([PendingDelivery(USER, posting.id)])
    env.front.sender.wake()
    await within(env.tg.wait_for_async(lambda: env.tg.sent_messages(USER)))
    await within(env.tg.wait_for_async(lambda: env.store.pending_count() == 0))
    text = (await one(env, OPERATOR, "/stats", user=OPERATOR)).text  # type: ignore[arg-type]
    assert text.splitlines() == [
        "chats: 2",
        "active chats: 2",
        "subscriptions: 1",
        "postings stored: 5",
        "postings open: 5",
        "alerts today: 1",
        "outbox depth: 0",
        "429s today: 1",
        "not for me: 0",
    ]
    assert metric(env.ops, "jobhound_alerts_sent_total") == 1
    # Regression: the running daemon's /stats left out the Not for me answers issue 11 counts.
    env.store.record_feedback(USER, posting.id, "l")
    text = (await one(env, OPERATOR, "/stats", user=OPERATOR)).text  # type: ignore[arg-type]
    assert text.splitlines()[-1] == "not for me: 1 (wrong location 1)"
    assert metric(env.ops, "jobhound_telegram_429_total") == 1


async def test_breakage_alert_goes_to_each_admin_escaped(env: Env) -> None:
    env.ops.notify = AdminMessages(env.front.app.bot, [OPERATOR]).send
    source = next(s for s in env.ops.settings.sources if s.name == "seeds")
    error = RuntimeError("boom")
    for _ in range(3):
        await env.ops.after_run(source, error=error, error_text="HTTP 503 <b>bad</b> & worse")
    await within(env.tg.wait_for_async(lambda: env.tg.sent_messages(OPERATOR)))
    (message,) = env.tg.sent_messages(OPERATOR)
    assert message.text.startswith("⚠️ seeds is failing (network errors or server errors): 3")
    assert "Last error: HTTP 503 <b>bad</b> & worse" in message.text  # shown as text
    await env.ops.after_run(source, count=5)
    await within(env.tg.wait_for_async(lambda: len(env.tg.sent_messages(OPERATOR)) == 2))
    assert env.tg.sent_messages(OPERATOR)[1].text.startswith("✅ seeds recovered: 5 postings")
