"""Issue 13's chat commands through python-telegram-bot against the fake Bot API: /settings
(alone, tz, quiet, cap, buttons), /subscribe … --daily, /mode, the mode buttons under /list,
and /help's words on modes, time zone and quiet hours."""

from __future__ import annotations

from tests.test_telegram_commands import OTHER, USER, Env, env, one

__all__ = ["env"]  # the fixture, shared with the command tests


async def test_settings_alone_shows_everything_with_buttons(env: Env) -> None:
    reply = await one(env, USER, "/settings")
    assert "Time zone: UTC" in reply.text
    assert "Quiet hours: off" in reply.text
    assert "Daily cap: off" in reply.text
    data = [b["callback_data"] for b in reply.buttons]
    assert "set:quiet:22:00-08:00" in data
    assert "set:cap:off" in data
    assert "set:tz:UTC" in data


async def test_settings_change_time_zone_quiet_hours_and_cap(env: Env) -> None:
    assert "Time zone: Europe/Berlin" in (await one(env, USER, "/settings tz munich")).text
    assert "Time zone: Etc/GMT-2" in (await one(env, USER, "/settings tz UTC+2")).text
    await one(env, USER, "/settings tz Europe/Berlin")
    reply = await one(env, USER, "/settings quiet 22:00-08:00 silent")
    assert "22:00–08:00, alerts sent silently" in reply.text
    assert "Daily cap: 30" in (await one(env, USER, "/settings cap 30")).text
    chat = env.store.get_chat(USER)
    assert chat is not None
    assert (chat.tz, chat.quiet, chat.cap) == ("Europe/Berlin", "22:00-08:00 silent", 30)
    summary = await one(env, USER, "/settings")
    assert "Europe/Berlin" in summary.text
    assert "Daily cap: 30 instant alerts a day" in summary.text


async def test_settings_refuse_bad_values_with_a_clear_line(env: Env) -> None:
    assert "Unknown time zone '<Mars>'" in (await one(env, USER, "/settings tz <Mars>")).text
    assert "Quiet hours are" in (await one(env, USER, "/settings quiet soon")).text
    assert "from 1 to 1000" in (await one(env, USER, "/settings cap 10001")).text
    assert (await one(env, USER, "/settings colour blue")).text.startswith("Usage: /settings")
    chat = env.store.get_chat(USER)
    assert chat is not None
    assert (chat.tz, chat.quiet, chat.cap) == (None, None, None)


async def test_subscribe_with_a_digest_mode(env: Env) -> None:
    reply = await one(env, USER, "/subscribe rust remote --daily 09:00")
    (sub,) = env.store.subscriptions(USER)
    assert (sub.query, sub.mode) == ("rust AND remote", "daily 09:00")
    assert "in a digest, daily at 09:00" in reply.text
    bad = await one(env, USER, "/subscribe rust --daily 25:00")
    assert "not a time of day" in bad.text
    assert len(env.store.subscriptions(USER)) == 1


async def test_mode_command_and_list_buttons_change_a_subscription(env: Env) -> None:
    await one(env, USER, "/subscribe golang")
    (sub,) = env.store.subscriptions(USER)
    reply = await one(env, USER, f"/mode {sub.id} weekly mon 9:00")
    assert "weekly on Monday at 09:00" in reply.text
    assert env.store.subscriptions(USER)[0].mode == "weekly mon 09:00"
    assert "no subscription #999" in (await one(env, USER, "/mode 999 instant")).text
    assert (await one(env, USER, "/mode x")).text.startswith("Usage: /mode")
    listing = await one(env, USER, "/list")
    assert "weekly on Monday at 09:00" in listing.text
    data = f"mode:{sub.id}:daily 09:00"
    assert data in [b["callback_data"] for b in listing.buttons]
    query_id = env.tg.press_button(USER, USER, listing.message_id, data)
    answer = await env.tg.wait_for_async(lambda: env.tg.callback_answer(query_id))
    assert "daily at 09:00" in answer["text"]
    assert env.store.subscriptions(USER)[0].mode == "daily 09:00"


async def test_settings_button_sets_quiet_hours(env: Env) -> None:
    summary = await one(env, USER, "/settings")
    query_id = env.tg.press_button(USER, USER, summary.message_id, "set:quiet:22:00-08:00")
    await env.tg.wait_for_async(lambda: env.tg.callback_answer(query_id))
    chat = env.store.get_chat(USER)
    assert chat is not None
    assert chat.quiet == "22:00-08:00"
    forged = env.tg.press_button(USER, USER, summary.message_id, "set:quiet:", check=False)
    answer = await env.tg.wait_for_async(lambda: env.tg.callback_answer(forged))
    assert answer["text"] == "This button has expired."


async def test_help_explains_modes_time_zone_and_quiet_hours(env: Env) -> None:
    text = (await one(env, OTHER, "/help", user=OTHER)).text
    assert "/settings tz Berlin" in text
    assert "--daily 09:00" in text
    assert "Quiet hours hold instant alerts" in text
    assert "/mode ID daily 09:00" in text
