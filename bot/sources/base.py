"""What every source kind implements, and what it is handed to do its work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.models import Identity, ScrapeResult

if TYPE_CHECKING:
    from bot.fetch import Fetcher
    from bot.settings import SourceSettings


def _nothing_known(urls: Iterable[str], identity: Identity) -> set[str]:
    return set()


@dataclass(frozen=True)
class SourceContext:
    """The resources a source kind may use: passed in, never imported."""

    # The shared polite HTTP fetcher (bot.fetch.Fetcher); None where no network is wired.
    fetcher: Fetcher | None = None
    # Which of these posting URLs are stored already under the source's identity rules (lets
    # a crawler skip known job pages).
    known_urls: Callable[[Iterable[str], Identity], set[str]] = field(default=_nothing_known)
    # Relative local paths (the markdown kind) are read from here.
    base_dir: Path = field(default_factory=Path.cwd)


Collect = Callable[["SourceContext", "SourceSettings"], Awaitable[ScrapeResult]]


@dataclass(frozen=True)
class SourceKind:
    """A parser registered under a `kind` name in the config."""

    name: str
    collect: Collect
    # True when `url` names a local file or folder rather than an http(s) URL.
    local: bool = False
    # Keys a `[[sources]]` entry of this kind may carry beyond the common ones.
    options: frozenset[str] = frozenset()
    # Checks those keys at start-up; raises ValueError("what is wrong") for config to report.
    validate: Callable[[Mapping[str, Any]], None] | None = None
    # True when a complete run lists every open posting of the board, so a posting missing
    # from two complete runs in a row has closed (issue 12). False for kinds that show only
    # recent postings (feeds) or a hand-kept folder (markdown): they never close by absence.
    lists_all: bool = True
