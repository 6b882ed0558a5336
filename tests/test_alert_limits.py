"""Alerts within Telegram's limits end to end: a feed served from 127.0.0.1, `once` with a
token (the sender against the fake Bot API), field cases 08 (100 entities) and 09 (UTF-16)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.deliver.format import MAX_ENTITIES, AlertItem, entity_count, pack_alerts, utf16_len
from bot.models import canonical_url
from bot.store import Store
from tests.fake_telegram import FakeTelegram
from tests.fetchkit import within
from tests.fieldkit import case_dir, field_site, once, serve_file, substitute, write_config

CHAT = 4242


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:  # Telegram's flood limits, 100 entities, 4096 UTF-16 units
        server.add_private_chat(CHAT, "Ada")
        yield server


def _item_urls(feed: bytes, base: str) -> list[str]:
    text = substitute(feed, base).decode()
    return [part.split("</link>")[0] for part in text.split("<link>")[2:]]


async def _two_runs(tmp_path: Path, tg: FakeTelegram, case: str, query: str) -> list[str]:
    """Baseline on feed-run1, subscribe `query`, then feed-run2; the URLs of run 2's items."""
    folder = case_dir(case)
    async with field_site(case) as (server, base):
        settings = write_config(
            tmp_path,
            [{"name": "field", "kind": "rss", "url": f"{base}/jobs.rss"}],
            extra=f'[telegram]\napi_url = "{tg.url}"\n',
            token=tg.token,
        )
        serve_file(server, "/jobs.rss", substitute((folder / "feed-run1.rss").read_bytes(), base))
        (first,) = await within(once(settings))
        assert first.ok
        assert first.baseline
        store = Store.open(settings.storage.path)
        store.touch_chat(CHAT, type="private", title="Ada")
        store.add_subscription(CHAT, query)
        store.close()
        run2 = (folder / "feed-run2.rss").read_bytes()
        serve_file(server, "/jobs.rss", substitute(run2, base))
        (second,) = await within(once(settings), 60)
        assert second.ok
        return _item_urls(run2, base)


def _announced(tg: FakeTelegram) -> list[str]:
    links = [
        e["url"] for m in tg.sent_messages(CHAT) for e in m.entities if e.get("type") == "text_link"
    ]
    return [canonical_url(url) for url in links]


def _within_limits(tg: FakeTelegram) -> None:
    refused = [c for c in tg.calls("sendMessage") if not c.ok]
    assert refused == []
    for message in tg.sent_messages(CHAT):
        assert len(message.entities) <= MAX_ENTITIES
        assert utf16_len(message.text) <= 4096


async def test_field_08_twenty_alerts_keep_every_linked_title_under_100_entities(
    tmp_path: Path, tg: FakeTelegram
) -> None:
    """Bug: one message of 20 highlighted alerts carried over 100 entities; Telegram dropped
    the formatting (and the title links) of the last postings."""
    urls = await _two_runs(tmp_path, tg, "08-telegram-100-entities", "python OR django OR backend")
    _within_limits(tg)
    announced = _announced(tg)
    assert len(announced) == 20
    assert len(set(announced)) == 20
    assert set(announced) <= {canonical_url(u) for u in urls}


async def test_field_09_emoji_dense_alerts_fit_4096_utf16_units(
    tmp_path: Path, tg: FakeTelegram
) -> None:
    urls = await _two_runs(tmp_path, tg, "09-telegram-utf16-length-emoji", "rust")
    _within_limits(tg)
    announced = _announced(tg)
    assert len(announced) == 20
    assert len(set(announced)) == 20
    assert set(announced) <= {canonical_url(u) for u in urls}


def _posting(n: int, title: str) -> object:
    from datetime import UTC, datetime

    from bot.models import StoredPosting

    now = datetime(2026, 1, 1, tzinfo=UTC)
    return StoredPosting(
        id=f"id{n}",
        url=f"https://x.test/jobs/{n}",
        source="s",
        title=title,
        company="Acme",
        location="Berlin",
        remote=False,
        tags=(),
        posted_at=None,
        salary="",
        description="",
        apply_url="",
        first_seen=now,
        last_seen=now,
    )


def test_highlights_give_way_before_links_under_the_entity_cap() -> None:
    title = " ".join(["python django"] * 30)  # 60 matched words: 60 underlines wanted
    items = [AlertItem(n, _posting(n, title), ("python", "django")) for n in range(30)]  # type: ignore[arg-type]
    messages = pack_alerts(items)
    assert sum(len(m.delivery_ids) for m in messages) == 30
    for message in messages:
        assert entity_count(message.html) <= MAX_ENTITIES
        # every posting of the message keeps its bold linked title
        assert message.html.count("<a href=") == len(message.delivery_ids)
        assert message.html.count("<b><a href=") == len(message.delivery_ids)
    # the first alert keeps as many underlines as fit, not none
    assert 0 < messages[0].html.split("\n\n")[1].count("<u>") < 60


def test_a_smaller_entity_budget_splits_rather_than_drops_links() -> None:
    items = [AlertItem(n, _posting(n, "Python dev"), ("python",)) for n in range(10)]  # type: ignore[arg-type]
    messages = pack_alerts(items, max_entities=12)
    assert [len(m.delivery_ids) for m in messages] == [3, 3, 3, 1]
    assert all(entity_count(m.html) <= 12 for m in messages)
    assert all(m.html.count("<a href=") == len(m.delivery_ids) for m in messages)
