"""/addsource: an admin adds a board from Telegram; the running daemon alerts on its next new
posting without a restart (it watches the config file)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.daemon import run_daemon
from bot.sources.registry import KINDS
from tests.boardserver import Reply, Request, serve
from tests.conftest import ROOT
from tests.fake_telegram import FakeTelegram
from tests.fetchkit import fixture_text, within
from tests.test_telegram_e2e import _wait_for_baseline

ADMIN, USER = 1001, 2002
NEW_ITEM = """<item>
      <title>Ferrous &amp; Co: Staff Rust Engineer</title>
      <region>Anywhere in the World</region>
      <description>&lt;p&gt;Build the core in Rust.&lt;/p&gt;</description>
      <pubDate>Sat, 11 Jul 2026 09:00:00 +0000</pubDate>
      <guid>https://jobs.example.com/ferrous/staff-rust</guid>
      <link>https://jobs.example.com/ferrous/staff-rust</link>
    </item>
    <item>"""


def write_config(tmp_path: Path, api_url: str) -> Path:
    board = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", board)
    path = tmp_path / "jobhound.toml"
    path.write_text(
        f"""# operator's notes stay
[telegram]
api_url = "{api_url}"
admins = [{ADMIN}]

[storage]
path = "{tmp_path / "db.sqlite"}"

[defaults]
schedule = "10s"

[fetch]
host_delay = 0
retries = 0

[[sources]]
name = "seeds"
kind = "markdown"
url = "{board}"
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.long_wait  # the next run of a 10 s schedule (its minimum)
async def test_addsource_preview_and_alert_without_restart(tmp_path: Path) -> None:
    feed = {"body": fixture_text("weworkremotely_remote_jobs_rss.xml")}

    def jobs(request: Request) -> Reply:
        return Reply(200, feed["body"].encode(), {"Content-Type": "application/rss+xml"})

    async with serve() as server:
        server.add("/board/jobs.rss", handler=jobs)
        with FakeTelegram(rate_limits=None) as tg:
            tg.add_private_chat(ADMIN, "Ops")
            tg.add_private_chat(USER, "Ada")
            path = write_config(tmp_path, tg.url)
            settings = load_settings(kinds=KINDS, path=path, env={"TELEGRAM_BOT_TOKEN": tg.token})
            stop = asyncio.Event()
            daemon = asyncio.create_task(run_daemon(settings, stop, watch_interval=0.2))
            try:
                await _wait_for_baseline(tmp_path / "db.sqlite")
                tg.send_user_message(USER, USER, "/subscribe rust")
                await tg.wait_for_async(
                    lambda: [m for m in tg.sent_messages(USER) if "Subscription #" in m.text]
                )
                # Not an admin: refused, and nothing is written.
                tg.send_user_message(USER, USER, f"/addsource {server.url('/board/jobs.rss')}")
                await tg.wait_for_async(
                    lambda: [
                        m for m in tg.sent_messages(USER) if "for the bot's operators" in m.text
                    ]
                )
                # Regression (tester): a URL urlsplit cannot read left the admin with only
                # "Looking at …" and a traceback in the log.
                tg.send_user_message(ADMIN, ADMIN, "/addsource http://127.0.0.1:99999/x")
                (refused,) = await tg.wait_for_async(
                    lambda: [m for m in tg.sent_messages(ADMIN) if "not a valid URL" in m.text]
                )
                tg.send_user_message(ADMIN, ADMIN, f"/addsource {server.url('/board/jobs.rss')}")
                (answer,) = await tg.wait_for_async(
                    lambda: [m for m in tg.sent_messages(ADMIN) if "Added source" in m.text],
                    timeout=20,
                )
                # The new board's first run is its baseline: 4 feed items stored, no alert.
                await _wait_for_count(tmp_path / "db.sqlite", 5 + 4)
                feed["body"] = feed["body"].replace("<item>", NEW_ITEM, 1)
                alerts = await tg.wait_for_async(
                    lambda: [m for m in tg.sent_messages(USER) if "New posting" in m.text],
                    timeout=40,
                )
            finally:
                stop.set()
                await within(daemon, 15)
    assert refused.text.startswith("Cannot use that: 'http://127.0.0.1:99999/x' is not a valid")
    assert answer.text.startswith("RSS/Atom feed 127.0.0.1: 4 postings, newest: ")
    assert "Added source 127-0-0-1 (rss)" in answer.text
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# operator's notes stay")
    assert 'name = "127-0-0-1"' in text
    (alert,) = alerts
    assert "Staff Rust Engineer" in alert.text
    assert "Ferrous &amp; Co" not in alert.text
    assert not [m for m in tg.sent_messages(USER) if "Unknown command" in m.text]


async def _wait_for_count(db: Path, count: int, timeout: float = 20) -> None:
    import sqlite3

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            (stored,) = conn.execute("SELECT count(*) FROM postings").fetchone()
        finally:
            conn.close()
        if stored >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} postings stored after {timeout}s")
