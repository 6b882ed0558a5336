"""One run of one source: collect → store/dedupe (+ match into the outbox) → health → publish.

A failing source is recorded and logged in one line; it never stops or delays the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.errors import JobhoundError, SourceError, StoreError
from bot.settings import SourceSettings
from bot.sources.base import SourceContext, SourceKind
from bot.store import Health, IngestResult, Matcher, Postings

log = logging.getLogger(__name__)

Publish = Callable[[IngestResult], Awaitable[None]]


@dataclass(frozen=True)
class SourceOutcome:
    """How one run of one source ended."""

    source: str
    ok: bool
    seen: int = 0
    new: int = 0
    unchanged: bool = False
    baseline: bool = False
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Pipeline:
    """Everything a source run needs, built once at start-up and passed in."""

    # The repositories a run uses (the daemon passes its one `Store` for both).
    postings: Postings
    health: Health
    context: SourceContext
    # The kind registry (`bot.sources.registry.KINDS`): `kind` name -> parser.
    kinds: Mapping[str, SourceKind]
    publish: Publish | None = None
    # Returns the matcher for the current subscriptions (None: nobody to alert, console mode).
    matcher: Callable[[], Matcher | None] = lambda: None

    async def run(self, source: SourceSettings) -> SourceOutcome:
        """Run `source` once; never raises for a fault of the board."""
        started = time.monotonic()
        try:
            outcome = await self._run(source)
        except SourceError as exc:
            outcome = self._failed(source, str(exc), started)
        except StoreError as exc:  # the disk's fault, not the board's: nothing can be recorded
            log.warning(
                "%s: not stored: %s; %s. Retrying on its next run", source.name, exc, exc.remedy
            )
            return SourceOutcome(source.name, ok=False, error=str(exc), seconds=_since(started))
        except JobhoundError as exc:
            outcome = self._failed(source, f"{source.name}: {exc}", started)
        except Exception as exc:  # a bug in a parser: log its traceback, keep the others going
            log.exception("source %s crashed; it will run again on its schedule", source.name)
            self.health.record_failure(source.name, f"internal error: {exc.__class__.__name__}")
            return SourceOutcome(source.name, ok=False, error=f"internal error: {exc!r}")
        return outcome

    async def _run(self, source: SourceSettings) -> SourceOutcome:
        started = time.monotonic()
        kind = self.kinds[source.kind]
        result = await kind.collect(self.context, source)
        for warning in result.warnings[:5]:
            log.warning("%s: %s", source.name, warning)
        if len(result.warnings) > 5:
            log.warning("%s: …and %d more unreadable items", source.name, len(result.warnings) - 5)
        if result.unchanged:
            self.health.record_success(source.name, count=None, new=0)
            log.info("%s: unchanged since the last run", source.name)
            return SourceOutcome(source.name, ok=True, unchanged=True, seconds=_since(started))
        previous = self.health.health(source.name)
        if not result.postings and previous and previous.last_count:
            # Zero items where there were many: a changed layout, not every posting gone.
            raise SourceError(
                f"returned no postings where the last run had {previous.last_count}; "
                "the page layout may have changed (stored postings are kept)",
                source=source.name,
                url=source.url,
            )
        # Off the event loop's critical path: polling and sending go on meanwhile.
        stored = await self.postings.ingest_async(
            source.name,
            result.postings,
            matcher=self.matcher(),
            complete=result.complete,
            identity=source.identity,
            # Absence closes only after a whole, clean listing (issue 12): never from a feed,
            # a partial crawl or a run with unreadable items.
            closes=kind.lists_all and result.complete and result.listed_all and not result.warnings,
        )
        self.health.record_success(source.name, count=stored.seen, new=len(stored.new))
        log.info(
            "%s: %d postings, %d new%s",
            source.name,
            stored.seen,
            len(stored.new),
            " (first run: stored as baseline, no alerts)" if stored.baseline else "",
        )
        if self.publish is not None and (stored.new or stored.deliveries):
            await self.publish(stored)
        return SourceOutcome(
            source.name,
            ok=True,
            seen=stored.seen,
            new=len(stored.new),
            baseline=stored.baseline,
            seconds=_since(started),
        )

    def _failed(self, source: SourceSettings, message: str, started: float) -> SourceOutcome:
        try:
            streak = f"failure {self.health.record_failure(source.name, message)} in a row"
        except StoreError as exc:
            streak = f"not recorded: {exc}"
        log.warning("source failed: %s (%s; next try on its schedule)", message, streak)
        return SourceOutcome(source.name, ok=False, error=message, seconds=_since(started))

    async def run_all(self, sources: Sequence[SourceSettings]) -> list[SourceOutcome]:
        """Run every source concurrently (the fetcher keeps per-host politeness)."""
        return list(await asyncio.gather(*(self.run(source) for source in sources)))


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
