"""End to end: the daemon scrapes on its schedule and a subscriber's chat gets the new posting."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import parse_settings
from bot.daemon import run_daemon
from bot.sources.registry import KINDS
from tests.conftest import ROOT
from tests.fake_telegram import FakeTelegram

USER = 1001
NEW_POSTING = """# [Staff Rust Engineer & <Infra> Lead](https://jobs.example.com/rust-staff)
### Ferrous & Co
#### `💰 $200k` `🌎 Remote, Europe`

Build the core.
"""


@pytest.mark.long_wait  # the next run of a 10 s schedule (its minimum)
async def test_alert_arrives_after_a_scheduled_scrape(tmp_path: Path) -> None:
    board = tmp_path / "board"
    shutil.copytree(ROOT / "seeds", board)
    with FakeTelegram(rate_limits=None) as tg:
        tg.add_private_chat(USER, "Ada")
        raw = {
            "telegram": {"api_url": tg.url},
            "storage": {"path": str(tmp_path / "db.sqlite")},
            "sources": [
                {"name": "board", "kind": "markdown", "url": str(board), "schedule": "10s"}
            ],
        }
        settings = parse_settings(
            kinds=KINDS, raw=raw, path=tmp_path / "j.toml", env={"TELEGRAM_BOT_TOKEN": tg.token}
        )
        stop = asyncio.Event()
        daemon = asyncio.create_task(run_daemon(settings, stop))
        try:
            await _wait_for_baseline(tmp_path / "db.sqlite")
            tg.send_user_message(USER, USER, "/subscribe rust remote")
            await tg.wait_for_async(
                lambda: [m for m in tg.sent_messages(USER) if "Subscription #" in m.text]
            )
            (board / "new.md").write_text(NEW_POSTING)
            alerts = await tg.wait_for_async(
                lambda: [m for m in tg.sent_messages(USER) if "New posting" in m.text], timeout=40
            )
        finally:
            stop.set()
            await asyncio.wait_for(daemon, timeout=15)
    (alert,) = alerts
    assert "Staff Rust Engineer & <Infra> Lead" in alert.text
    assert "Ferrous & Co" in alert.text
    # the seeds were the source's baseline: the Rust seed posting was never alerted
    assert not [
        m for m in tg.sent_messages(USER) if "Senior Rust Engineer" in m.text and "New" in m.text
    ]


async def _wait_for_baseline(db: Path, timeout: float = 20) -> None:
    """The start-up scrape has stored the seeds (the daemon holds its own connection)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if db.exists():
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                (count,) = conn.execute("SELECT count(*) FROM postings").fetchone()
                if count == 5:
                    return
            except sqlite3.OperationalError:  # not migrated yet
                pass
            finally:
                conn.close()
        await asyncio.sleep(0.1)
    raise AssertionError("the start-up scrape did not store the seeds")


def test_a_rejected_token_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeTelegram(rate_limits=None) as tg:
        config = tmp_path / "j.toml"
        config.write_text(
            f'[telegram]\napi_url = "{tg.url}"\n[storage]\npath = "{tmp_path / "db.sqlite"}"\n'
        )
        wrong = "987654321:" + "x" * 35
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", wrong)
        assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in err
    assert "Traceback" not in err
    assert wrong not in err
