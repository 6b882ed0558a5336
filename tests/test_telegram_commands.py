"""The Telegram commands, through python-telegram-bot over real HTTP to the fake Bot API server."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import parse_settings
from bot.deliver import Limits
from bot.models import Posting
from bot.settings import Settings
from bot.sources.markdown import read_folder
from bot.sources.registry import KINDS
from bot.store import Store
from bot.subscriptions import Subscriptions
from bot.telegram.app import TelegramFront, telegram_front
from tests.conftest import ROOT
from tests.fake_telegram import ChatMessage, FakeTelegram

USER, OTHER, OPERATOR = 1001, 1002, 4242
GROUP = -5001
BOT_NAME = "JobhoundTestBot"


@dataclass
class Env:
    tg: FakeTelegram
    store: Store
    subs: Subscriptions
    front: TelegramFront
    settings: Settings


def make_settings(tg: FakeTelegram, tmp: Path) -> Settings:
    raw = {
        "telegram": {"api_url": tg.url, "admins": [OPERATOR]},
        "storage": {"path": str(tmp / "db.sqlite")},
        "sources": [
            {"name": "seeds", "kind": "markdown", "url": str(ROOT / "seeds")},
            {
                "name": "lever",
                "kind": "lever",
                "url": "https://jobs.lever.co/acme",
                "enabled": False,
            },
        ],
    }
    return parse_settings(
        kinds=KINDS, raw=raw, path=tmp / "jobhound.toml", env={"TELEGRAM_BOT_TOKEN": tg.token}
    )


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        tg.add_private_chat(USER, "Ada")
        tg.add_private_chat(OTHER, "Bob")
        tg.add_group(GROUP, "Rustaceans", admins=[USER], members=[OTHER])
        settings = make_settings(tg, tmp_path)
        # A file, as in the daemon: scans then run in a worker thread on a connection of their own.
        store = Store.open(settings.storage.path)
        store.ingest("seeds", read_folder(ROOT / "seeds").postings)
        store.record_success("seeds", count=5, new=5)
        subs = Subscriptions(store)
        stop = asyncio.Event()
        # Replies are paced like alerts; these tests are about what is said, so pace them loosely.
        limits = Limits(private=100, private_period=1.0)
        async with telegram_front(settings, store, subs, stop, limits=limits) as front:
            yield Env(tg, store, subs, front, settings)
        store.close()


async def ask(
    env: Env, chat_id: int, text: str, user: int = USER, replies: int = 1
) -> list[ChatMessage]:
    before = len(env.tg.sent_messages(chat_id))
    env.tg.send_user_message(chat_id, user, text)
    await env.tg.wait_for_async(lambda: len(env.tg.sent_messages(chat_id)) >= before + replies)
    await asyncio.sleep(0.05)  # a stray extra reply would show up here
    return env.tg.sent_messages(chat_id)[before:]


async def one(env: Env, chat_id: int, text: str, user: int = USER) -> ChatMessage:
    (reply,) = await ask(env, chat_id, text, user)
    return reply


async def test_commands_are_registered(env: Env) -> None:
    names = [c["command"] for c in env.tg.commands()]
    assert names[:3] == ["subscribe", "list", "unsubscribe"]
    assert "latest" in names
    assert "help" in names


async def test_start_and_help_explain_the_syntax(env: Env) -> None:
    for command in ("/start", "/help"):
        reply = await one(env, USER, command)
        assert "/subscribe" in reply.text
        assert "OR" in reply.text
        assert "title:" in reply.text
        assert reply.link_preview_disabled


async def test_subscribe_replies_with_id_query_and_current_matches(env: Env) -> None:
    reply = await one(env, USER, "/subscribe (rust OR golang) backend")
    sub = env.store.subscriptions(USER)[0]
    assert f"Subscription #{sub.id}" in reply.text
    assert "(rust OR golang) backend" in reply.text.replace("AND ", "")
    assert "matches 1 stored posting right now" in reply.text  # the Golang backend lead


async def test_sub_alias_and_usage_without_query(env: Env) -> None:
    reply = await one(env, USER, "/sub")
    assert reply.text.startswith("Usage: /subscribe")
    assert env.store.subscriptions(USER) == []
    await one(env, USER, "/sub rust")
    assert [s.query for s in env.store.subscriptions(USER)] == ["rust"]


async def test_bad_queries_get_the_parser_message(env: Env) -> None:
    reply = await one(env, USER, "/subscribe (rust")
    assert reply.text.startswith("Cannot use that query:")
    assert "(" in reply.text
    reply = await one(env, USER, "/subscribe " + "x" * 201)
    assert "200" in reply.text
    reply = await one(env, USER, "/subscribe " + " ".join(f"w{i}" for i in range(21)))
    assert "20" in reply.text
    assert "terms" in reply.text
    assert env.store.subscriptions(USER) == []


async def test_subscription_bound_per_chat(env: Env) -> None:
    env.store.touch_chat(USER, type="private", title="Ada")
    for i in range(50):
        env.subs.add(USER, f"word{i}")
    reply = await one(env, USER, "/subscribe one-too-many")
    assert "maximum of 50 subscriptions" in reply.text
    assert len(env.store.subscriptions(USER)) == 50


def links(message: Any) -> list[dict[str, str]]:
    """A message's Apply (URL) buttons, without the Mute company / Not for me ones."""
    return [b for b in message.buttons if "url" in b]


async def test_list_with_unsubscribe_buttons(env: Env) -> None:
    assert "no subscriptions" in (await one(env, USER, "/list")).text
    await one(env, USER, "/subscribe rust")
    await one(env, USER, '/subscribe "site reliability"')
    reply = await one(env, USER, "/list")
    first, second = env.store.subscriptions(USER)
    assert f"#{first.id}: rust" in reply.text
    assert f'#{second.id}: "site reliability"' in reply.text
    buttons = reply.buttons
    unsubscribe = [b["callback_data"] for b in buttons if b["callback_data"].startswith("unsub:")]
    assert unsubscribe == [f"unsub:{first.id}", f"unsub:{second.id}"]
    # Issue 13: each subscription's row of mode buttons follows its Unsubscribe button.
    assert [b["callback_data"] for b in buttons][1] == f"mode:{first.id}:instant"
    env.tg.press_button(USER, USER, reply.message_id, f"unsub:{first.id}")
    await env.tg.wait_for_async(lambda: len(env.store.subscriptions(USER)) == 1)
    confirmation = await env.tg.wait_for_async(
        lambda: [
            m for m in env.tg.sent_messages(USER) if m.text == f"Removed subscription #{first.id}."
        ]
    )
    assert confirmation


async def test_a_long_list_is_paged_within_telegrams_limits(env: Env) -> None:
    """Regression (tester): 50 long subscriptions made one /list reply Telegram refused (over
    4,096 characters, and 200 buttons where it takes 100); the user got no answer."""
    env.store.touch_chat(USER, type="private", title="Ada")
    for i in range(50):  # 18 terms of 10 characters: about 200, the longest query there is
        env.subs.add(USER, " ".join(f"w{i:02d}term{k:03d}" for k in range(18)))
    companies = env.store.company_ids(
        [f"Company number {n} of a long mute list" for n in range(60)]
    )
    for company_id in companies.values():
        env.store.mute(USER, company_id)
    env.store.set_paused(USER, True)
    before = len(env.tg.sent_messages(USER))
    env.tg.send_user_message(USER, USER, "/list")
    await env.tg.wait_for_async(
        lambda: any("Alerts are paused" in m.text for m in env.tg.sent_messages(USER)[before:])
    )
    pages = env.tg.sent_messages(USER)[before:]
    assert len(pages) >= 3
    assert pages[0].text.startswith("Subscriptions (50)")
    unsubscribe = [
        b["callback_data"] for page in pages for b in page.buttons if "unsub:" in b["callback_data"]
    ]
    assert unsubscribe == [f"unsub:{s.id}" for s in env.store.subscriptions(USER)]
    for page in pages:  # every subscription's line with its own buttons
        listed = [line.split(":")[0] for line in page.text.splitlines() if line.startswith("#")]
        assert [
            f"#{b['callback_data'][6:]}" for b in page.buttons if "unsub:" in b["callback_data"]
        ] == listed
    shown = "".join(page.text for page in pages)
    assert "Muted companies (60)" in shown
    assert all(name in shown for name in companies)


async def test_unsubscribe_by_id_and_all(env: Env) -> None:
    await one(env, USER, "/subscribe rust")
    await one(env, USER, "/subscribe golang")
    sub_id = env.store.subscriptions(USER)[0].id
    assert (
        await one(env, USER, f"/unsubscribe {sub_id}")
    ).text == f"Removed subscription #{sub_id}."
    assert "no subscription #999" in (await one(env, USER, "/unsub 999")).text
    # Singular since issue 10 (CL): "Removed all 1 subscriptions." was the plural bug.
    assert (await one(env, USER, "/unsubscribe all")).text == "Removed all 1 subscription."
    assert (await one(env, USER, "/unsubscribe")).text.startswith("Usage: /unsubscribe")
    assert (await one(env, USER, "/unsubscribe rust")).text.startswith("Usage: /unsubscribe")


async def test_subscriptions_are_per_chat(env: Env) -> None:
    await one(env, USER, "/subscribe rust")
    sub_id = env.store.subscriptions(USER)[0].id
    assert "no subscription" in (await one(env, OTHER, f"/unsubscribe {sub_id}", user=OTHER)).text
    assert len(env.store.subscriptions(USER)) == 1


async def test_latest_default_count_query_and_bounds(env: Env) -> None:
    (reply,) = await ask(env, USER, "/latest")
    assert reply.text.count("Apply") == 0
    assert len(links(reply)) == 5
    (reply,) = await ask(env, USER, "/latest 2 rust")
    assert "Senior Rust Engineer" in reply.text
    assert len(links(reply)) == 1
    assert "between 1 and 20" in (await one(env, USER, "/latest 21")).text
    assert "No stored posting matches" in (await one(env, USER, "/latest kotlin")).text
    assert "Cannot use that query" in (await one(env, USER, "/latest title:")).text


async def test_latest_uses_the_chats_subscriptions(env: Env) -> None:
    await one(env, USER, "/subscribe title:rust")
    (reply,) = await ask(env, USER, "/latest")
    assert len(links(reply)) == 1
    assert "Senior Rust Engineer" in reply.text


async def test_pause_and_resume(env: Env) -> None:
    await one(env, USER, "/subscribe rust")
    assert "paused" in (await one(env, USER, "/pause")).text
    chat = env.store.get_chat(USER)
    assert chat is not None
    assert chat.paused
    assert "Alerts are paused" in (await one(env, USER, "/list")).text
    assert len(env.store.subscriptions(USER)) == 1
    assert "resumed" in (await one(env, USER, "/resume")).text
    chat = env.store.get_chat(USER)
    assert chat is not None
    assert not chat.paused


async def test_sources_shows_health(env: Env) -> None:
    env.store.record_failure("seeds", "seeds <x>: folder missing & gone")
    reply = await one(env, USER, "/sources")
    assert "seeds (markdown)" in reply.text
    # Singular since issue 10 (CL): it said "1 failed runs".
    assert "1 failed run in a row" in reply.text
    assert "seeds <x>: folder missing & gone" in reply.text  # escaped on the way, intact on arrival
    assert "lever (lever): disabled" in reply.text


async def test_unknown_command_and_chatter(env: Env) -> None:
    assert (await one(env, USER, "/frobnicate now")).text == (
        "Unknown command /frobnicate. Send /help to see what I can do."
    )
    assert "commands only" in (await one(env, USER, "hello there")).text


async def test_group_commands_addressed_to_the_bot(env: Env) -> None:
    reply = await one(env, GROUP, f"/subscribe@{BOT_NAME} rust", user=USER)
    assert "Subscription #" in reply.text
    assert [s.query for s in env.store.subscriptions(GROUP)] == ["rust"]
    reply = await one(env, GROUP, f"/list@{BOT_NAME}", user=OTHER)  # anyone may look
    assert "rust" in reply.text


async def test_only_group_admins_change_subscriptions(env: Env) -> None:
    reply = await one(env, GROUP, f"/subscribe@{BOT_NAME} rust", user=OTHER)
    assert "Only this group's administrators" in reply.text
    assert env.store.subscriptions(GROUP) == []
    assert "Only this group's administrators" in (await one(env, GROUP, "/pause", user=OTHER)).text
    await one(env, GROUP, "/subscribe rust", user=USER)
    listing = await one(env, GROUP, "/list", user=OTHER)
    sub_id = env.store.subscriptions(GROUP)[0].id
    query_id = env.tg.press_button(GROUP, OTHER, listing.message_id, f"unsub:{sub_id}")
    answer = await env.tg.wait_for_async(lambda: env.tg.callback_answer(query_id))
    assert "administrators" in answer["text"]
    assert len(env.store.subscriptions(GROUP)) == 1


async def test_group_ignores_other_bots_commands(env: Env) -> None:
    env.tg.send_user_message(GROUP, OTHER, "/frobnicate@SomeOtherBot")
    reply = await one(env, GROUP, f"/frobnicate@{BOT_NAME}", user=OTHER)
    assert reply.text.startswith("Unknown command /frobnicate")


async def test_operator_stats(env: Env) -> None:
    assert "operators" in (await one(env, USER, "/stats")).text
    env.tg.add_private_chat(OPERATOR, "Op")
    assert "postings: 5" in (await one(env, OPERATOR, "/stats", user=OPERATOR)).text


async def test_flood_of_commands_is_refused_once(env: Env) -> None:
    for _ in range(20):
        env.tg.send_user_message(OTHER, OTHER, "/help")
    await env.tg.wait_for_async(lambda: len(env.tg.sent_messages(OTHER)) >= 20, timeout=20)
    env.tg.send_user_message(OTHER, OTHER, "/help")
    env.tg.send_user_message(OTHER, OTHER, "/help")
    await env.tg.wait_for_async(lambda: len(env.tg.sent_messages(OTHER)) >= 21)
    await asyncio.sleep(0.3)
    replies = env.tg.sent_messages(OTHER)
    assert len(replies) == 21
    assert "Too many commands" in replies[-1].text


async def test_overlong_input_is_refused(env: Env) -> None:
    reply = await one(env, USER, "/subscribe " + "a " * 600)
    assert "too long" in reply.text


async def test_alert_for_a_new_matching_posting_after_a_scrape(env: Env) -> None:
    await one(env, USER, "/subscribe rust")
    await one(env, USER, "/subscribe title:rust")  # two matching subscriptions: one alert
    posting = Posting(
        url="https://jobs.example.com/rust-1",
        title='Rust & <Systems> Engineer "Core"',
        company="R&D Labs",
        location="Remote",
        remote=True,
        salary="$150k",
        apply_url="https://jobs.example.com/rust-1/apply",
    )
    env.store.ingest("seeds", [posting], matcher=env.subs.matcher)
    env.front.sender.wake()
    alerts = await env.tg.wait_for_async(
        lambda: [m for m in env.tg.sent_messages(USER) if "New posting" in m.text]
    )
    await asyncio.sleep(0.3)
    (alert,) = [m for m in env.tg.sent_messages(USER) if "New posting" in m.text]
    assert alerts
    assert 'Rust & <Systems> Engineer "Core"' in alert.text
    assert "R&D Labs" in alert.text
    assert "$150k" in alert.text
    assert alert.link_preview_disabled
    assert alert.buttons[0]["url"] == "https://jobs.example.com/rust-1/apply"
    assert html.escape("<Systems>") in alert.source
