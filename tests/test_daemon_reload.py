"""The daemon follows its config file: sources added, changed, removed; invalid edits kept out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.daemon import reschedule, watch_config
from bot.schedule import build_scheduler
from bot.settings import Settings
from bot.sources.registry import KINDS
from tests.fetchkit import within

BASE = """[storage]
path = "{db}"

[[sources]]
name = "a"
kind = "rss"
url = "https://a.example/jobs.rss"

[[sources]]
name = "b"
kind = "rss"
url = "https://b.example/jobs.rss"
"""


def _settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "j.toml"
    path.write_text(text.format(db=tmp_path / "db.sqlite"), encoding="utf-8")
    return load_settings(kinds=KINDS, path=path, env={})


async def test_reschedule_adds_changes_and_removes_jobs(tmp_path: Path) -> None:
    old = _settings(tmp_path, BASE)
    edited = BASE.replace("https://b.example/jobs.rss", "https://b.example/feed.rss")
    edited = edited.replace('name = "a"\nkind = "rss"\nurl = "https://a.example/jobs.rss"\n', "")
    edited += '\n[[sources]]\nname = "c"\nkind = "breezy"\nurl = "https://c.breezy.hr"\n'
    new = _settings(tmp_path, edited.replace("[[sources]]\n\n", ""))

    async def job() -> None:
        return None

    scheduler = build_scheduler(((s.name, s.schedule, job) for s in old.sources), run_now=False)
    changes = reschedule(scheduler, old, new, lambda source: job)
    assert sorted(changes) == ["+b", "+c", "-a", "-b"]
    assert sorted(j.id for j in scheduler.get_jobs()) == ["b", "c"]


async def test_watch_applies_valid_edits_and_keeps_sources_on_invalid_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, BASE)
    seen: list[tuple[list[str], list[str]]] = []
    changed = asyncio.Event()

    def apply(old: Settings, new: Settings) -> list[str]:
        seen.append(([s.name for s in old.sources], [s.name for s in new.sources]))
        changed.set()
        return ["+c"]

    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_config(settings, stop, apply, interval=0.01))
    with caplog.at_level(logging.WARNING, logger="bot.daemon"):
        settings.path.write_text(settings.path.read_text() + '\nbogus = "x"\n')
        await within(_until(lambda: "keeping the running sources" in caplog.text))
        caplog.clear()
        # Regression (tester): a URL urlsplit cannot read ended the watcher without a word.
        text = BASE.format(db=tmp_path / "db.sqlite")
        settings.path.write_text(
            text + '\n[[sources]]\nname = "v6"\nkind = "rss"\nurl = "http://[::1/x"\n'
        )
        await within(_until(lambda: "keeping the running sources" in caplog.text))
        assert "is not a valid URL" in caplog.text
    assert seen == []
    text = BASE.format(db=tmp_path / "db.sqlite")
    settings.path.write_text(
        text + '\n[[sources]]\nname = "c"\nkind = "rss"\nurl = "https://c/x.rss"\n'
    )
    await within(changed.wait())
    stop.set()
    await within(watcher)
    assert seen == [(["a", "b"], ["a", "b", "c"])]


async def _until(condition: Callable[[], bool]) -> None:
    # The watcher signals nothing we could await: poll its observable effect.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
