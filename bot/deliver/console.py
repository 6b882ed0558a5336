"""Console alerts: what the daemon prints when no Telegram token is set."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.models import StoredPosting
from bot.sameness import also_on, location_list
from bot.store import IngestResult
from bot.text import counted


def posting_date(posting: StoredPosting) -> str:
    """The posting's own date when the board gave one ("posted 2024-06-03"), else the day we
    first stored it ("seen 2026-11-30"): labelled, because readers take an unlabelled date for
    the posting's."""
    if posting.posted_at is not None:
        return f"posted {posting.posted_at:%Y-%m-%d}"
    return f"seen {posting.first_seen:%Y-%m-%d}"


def posting_line(posting: StoredPosting) -> str:
    """One readable line: title — company — location(s) — URL, then issue 12's notes where
    they apply (" · closed", " · reposted · …", " · also on: remotewlb.com")."""
    place = location_list(posting.locations) if posting.locations else posting.location
    parts = [posting.title, posting.company, place or ("Remote" if posting.remote else "")]
    line = " — ".join(part for part in parts if part) + f" — {posting.apply_url or posting.url}"
    notes = ["closed"] if posting.closed_at else []
    notes += [posting.repost] if posting.repost else []
    notes += [also_on(posting.also_on)] if posting.also_on else []
    return " · ".join([line, *notes])


class ConsoleAlerts:
    """Prints newly stored postings; a source's first scrape prints one summary line instead."""

    def __init__(self, out: TextIO | None = None, *, cap: int = 20) -> None:
        self.out = out or sys.stdout
        self.cap = cap

    async def publish(self, result: IngestResult) -> None:
        if result.baseline:
            self._print(f"{result.source}: {counted(len(result.new), 'posting')} stored")
            return
        # One line per job: postings that joined a known job's group are not announced.
        for posting in result.alerted[: self.cap]:
            self._print(posting_line(posting))
        if len(result.alerted) > self.cap:
            more = len(result.alerted) - self.cap
            self._print(f"{result.source}: …and {more} more, see `python main.py latest`")

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)
