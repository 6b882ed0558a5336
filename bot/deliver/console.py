"""Console alerts: what the daemon prints when no Telegram token is set."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.models import StoredPosting
from bot.store import IngestResult


def posting_line(posting: StoredPosting) -> str:
    """One readable line: title — company — location — URL."""
    parts = [
        posting.title,
        posting.company,
        posting.location or ("Remote" if posting.remote else ""),
    ]
    return " — ".join(part for part in parts if part) + f" — {posting.apply_url or posting.url}"


class ConsoleAlerts:
    """Prints newly stored postings; a source's first scrape prints one summary line instead."""

    def __init__(self, out: TextIO | None = None, *, cap: int = 20) -> None:
        self.out = out or sys.stdout
        self.cap = cap

    async def publish(self, result: IngestResult) -> None:
        if result.baseline:
            self._print(f"{result.source}: {len(result.new)} postings stored")
            return
        for posting in result.new[: self.cap]:
            self._print(posting_line(posting))
        if len(result.new) > self.cap:
            more = len(result.new) - self.cap
            self._print(f"{result.source}: …and {more} more, see `python main.py latest`")

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)
