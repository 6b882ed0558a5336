"""One run of one source: collect → store/dedupe (+ match into the outbox) → health → publish.

A failing source is recorded and logged in one line; it never stops or delays the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from bot.errors import JobhoundError, ParseError, SourceError, StoreError
from bot.models import ScrapeResult, StoredPosting
from bot.operations import Operations
from bot.redact import redact
from bot.settings import SourceSettings
from bot.sources.base import SourceContext, SourceKind
from bot.store import Health, IngestResult, Matcher, PendingDelivery, Postings
from bot.text import counted

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
    # Skipped: an admin paused the source (`/pausesource`).
    paused: bool = False


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
    # Issue 14: paused sources, breakage alerts and metrics (None: none of that, as in tests).
    ops: Operations | None = None

    async def run(self, source: SourceSettings) -> SourceOutcome:
        """Run `source` once; never raises for a fault of the board."""
        if self.ops is not None and self.ops.paused(source.name):
            log.info("%s: paused by an admin; skipped (/resumesource %s)", source.name, source.name)
            return SourceOutcome(source.name, ok=True, paused=True)
        started = time.monotonic()
        error: BaseException | None = None
        try:
            outcome = await self._run(source)
        except SourceError as exc:
            error, outcome = exc, self._failed(source, str(exc), started)
        except StoreError as exc:  # the disk's fault, not the board's: nothing can be recorded
            log.warning(
                "%s: not stored: %s; %s. Retrying on its next run", source.name, exc, exc.remedy
            )
            return SourceOutcome(source.name, ok=False, error=str(exc), seconds=_since(started))
        except JobhoundError as exc:
            error, outcome = exc, self._failed(source, f"{source.name}: {exc}", started)
        except Exception as exc:  # a bug in a parser: log its traceback, keep the others going
            log.exception("source %s crashed; it will run again on its schedule", source.name)
            self.health.record_failure(source.name, f"internal error: {exc.__class__.__name__}")
            return SourceOutcome(source.name, ok=False, error=f"internal error: {exc!r}")
        if self.ops is not None:
            await self._observed(source, outcome, error)
        return outcome

    async def _observed(
        self, source: SourceSettings, outcome: SourceOutcome, error: BaseException | None
    ) -> None:
        """Issue 14: the run's metrics, and its breakage state (admins told when it says so)."""
        assert self.ops is not None
        metrics = self.ops.metrics
        metrics.observe_scrape(source.name, outcome.seconds)
        if isinstance(error, ParseError):
            metrics.parse_failed(source.name)
        count = None if outcome.unchanged else outcome.seen
        text = redact(outcome.error) if outcome.error else None
        await self.ops.after_run(source, count=count, error=error, error_text=text)

    def _measured(self, matcher: Matcher | None) -> Matcher | None:
        """`matcher`, timed into the matching histogram and counted into alerts queued."""
        if matcher is None or self.ops is None:
            return matcher
        metrics = self.ops.metrics

        def measured(postings: Sequence[StoredPosting]) -> Iterator[PendingDelivery]:
            # Streamed, not listed: the ingest keeps each delivery as a plain row (see
            # `Subscriptions.matcher` on why millions of named tuples must not live long).
            started = time.perf_counter()
            queued = capped = 0
            for delivery in matcher(postings):
                queued += 1
                capped += delivery.capped
                yield delivery
            metrics.observe_matching(time.perf_counter() - started)
            metrics.alert_queued(queued - capped)
            for _ in range(capped):  # over the per-chat, per-cycle cap: summarised instead
                metrics.alert_dropped("overflow")

        return measured

    async def _run(self, source: SourceSettings) -> SourceOutcome:
        started = time.monotonic()
        kind = self.kinds[source.kind]
        result = await kind.collect(self.context, source)
        if not result.unchanged:  # a changed layout is the run's one line, not its warnings
            self._check_layout(source, result)
        _log_warnings(source, result)
        if result.unchanged:
            self.health.record_success(source.name, count=None, new=0)
            log.info("%s: unchanged since the last run (%.2fs)", source.name, _since(started))
            return SourceOutcome(source.name, ok=True, unchanged=True, seconds=_since(started))
        # Absence closes only after a whole, clean listing (issue 12): never from a feed, a
        # partial crawl, a run with unreadable items or a kind that re-reads only what is new.
        closes = kind.lists_all and result.complete and result.listed_all and not result.warnings
        was_open = self.postings.open_count(source.name) if self.ops and closes else 0
        # Off the event loop's critical path: polling and sending go on meanwhile.
        stored = await self.postings.ingest_async(
            source.name,
            result.postings,
            matcher=self._measured(self.matcher()),
            complete=result.complete,
            identity=source.identity,
            closes=closes,
            listed=result.listed,
        )
        self.health.record_success(source.name, count=stored.seen, new=len(stored.new))
        # Open before and not seen now: closed (only a run that closes can tell a closed
        # posting from one it did not read).
        closed = max(0, was_open - (stored.seen - len(stored.new))) if closes else 0
        self._report(source, stored, closed, started)
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

    def _check_layout(self, source: SourceSettings, result: ScrapeResult) -> None:
        """ParseError when a board that had postings returns none: its layout changed."""
        previous = self.health.health(source.name)
        if not result.postings and not result.listed and previous and previous.last_count:
            # Zero items where there were many: a changed layout, not every posting gone.
            raise ParseError(
                f"returned no postings where the last run had {previous.last_count}; "
                "the page layout may have changed (stored postings are kept)",
                source=source.name,
                url=source.url,
            )

    def _report(
        self, source: SourceSettings, stored: IngestResult, closed: int, started: float
    ) -> None:
        """The run's one log line with counts and timing, and its metrics."""
        if self.ops is not None:
            self.ops.metrics.postings(source.name, stored.seen, len(stored.new), closed)
        log.info(
            "%s: %s, %d new, %d closed in %.2fs%s",
            source.name,
            counted(stored.seen, "posting"),
            len(stored.new),
            closed,
            _since(started),
            " (first run: stored as baseline, no alerts)" if stored.baseline else "",
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


def _log_warnings(source: SourceSettings, result: ScrapeResult) -> None:
    """A run's unreadable items: the first five by name, then how many more."""
    for warning in result.warnings[:5]:
        log.warning("%s: %s", source.name, warning)
    if len(result.warnings) > 5:
        more = counted(len(result.warnings) - 5, "more unreadable item")
        log.warning("%s: …and %s", source.name, more)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
