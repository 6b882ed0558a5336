"""The field harness itself: case 05 (Atom entries known by their alternate link) end to end."""

from __future__ import annotations

from pathlib import Path

from tests.fetchkit import within
from tests.fieldkit import field_site, once, stored, write_config


async def test_field_05_atom_alternate_links(tmp_path: Path) -> None:
    async with field_site("05-atom-several-links") as (_, base):
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "rss", "url": f"{base}/jobs.atom"}]
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok
    assert outcome.seen == 2
    urls = {p.title: p.url for p in stored(settings)}
    assert urls == {
        "Embedded Engineer": f"{base}/jobs/201-embedded-engineer",
        "Platform Engineer": f"{base}/jobs/202-platform-engineer",
    }
