"""Digest messages (pure): grouped by subscription, split under Telegram's limits, an Apply
button per posting while the button cap allows and an Apply link after it."""

from __future__ import annotations

from bot.deliver.digest import DigestGroup, pack_digest
from bot.deliver.format import (
    MAX_BUTTONS,
    MAX_ENTITIES,
    MESSAGE_LIMIT,
    AlertItem,
    entity_count,
    utf16_len,
    visible_text,
)
from tests.test_format import stored


def group(label: str, first: int, count: int, terms: tuple[str, ...] = ()) -> DigestGroup:
    return DigestGroup(
        label,
        [
            AlertItem(n, stored(n, title=f"Backend Engineer {n} ✨"), terms)
            for n in range(first, first + count)
        ],
    )


def test_empty_digest_is_no_message() -> None:
    assert pack_digest([]) == []
    assert pack_digest([DigestGroup("#1 rust · daily at 09:00", [])]) == []


def test_small_digest_is_one_message_grouped_by_subscription_with_a_button_each() -> None:
    (message,) = pack_digest(
        [group("#1 rust · daily at 09:00", 1, 2), group("#2 go · daily at 09:00", 3, 1)]
    )
    text = visible_text(message.html)
    assert text.startswith("📬 Digest: 3 new postings\n")
    assert text.index("#1 rust") < text.index("Backend Engineer 1") < text.index("#2 go")
    assert [b.url for b in message.buttons] == [
        f"https://jobs.example.com/{n}/apply" for n in (1, 2, 3)
    ]
    assert message.delivery_ids == (1, 2, 3)


def test_large_digest_is_split_under_every_limit_and_loses_nothing() -> None:
    groups = [
        group("#1 backend · daily at 09:00", 1, 130, ("backend", "engineer")),
        group("#2 go", 500, 40),
    ]
    messages = pack_digest(groups)
    assert len(messages) > 1
    for number, message in enumerate(messages, 1):
        assert utf16_len(visible_text(message.html)) <= MESSAGE_LIMIT
        assert entity_count(message.html) <= MAX_ENTITIES
        assert len(message.buttons) <= MAX_BUTTONS
        assert visible_text(message.html).startswith(
            f"📬 Digest: 170 new postings ({number}/{len(messages)})"
        )
    ids = [i for m in messages for i in m.delivery_ids]
    assert sorted(ids) == [*range(1, 131), *range(500, 540)]
    # A group that goes on in the next message says so.
    assert "#1 backend · daily at 09:00 (continued)" in visible_text(messages[1].html)


def test_past_the_button_cap_postings_get_an_apply_link() -> None:
    items = [AlertItem(n, stored(n, title="Dev", company="", location="")) for n in range(1, 61)]
    messages = pack_digest([DigestGroup("#1 dev", items)], max_entities=10_000, limit=100_000)
    (message,) = messages
    assert len(message.buttons) == MAX_BUTTONS
    assert message.html.count(">Apply</a>") == 60 - MAX_BUTTONS


def test_a_digest_shows_where_else_a_job_is_listed_and_its_places() -> None:
    """Issue 12 in digests: the same facts as alerts ("also on", the place list, a repost)."""
    posting = stored(
        1,
        also_on=("https://www.remotewlb.com/apply/x", "https://jobs.lever.co/acme/1"),
        locations=("Berlin", "Munich", *(f"City {n}" for n in range(28))),
        repost="reposted · first seen 94 days ago · 3rd time",
    )
    (message,) = pack_digest([DigestGroup("#1 backend · daily at 09:00", [AlertItem(1, posting)])])
    text = visible_text(message.html)
    assert "also on: remotewlb.com, jobs.lever.co" in text
    assert "Berlin, Munich +28" in text
    assert "reposted · first seen 94 days ago · 3rd time" in text
