"""What the daemon does, as Prometheus metrics (the official `prometheus-client` library).

One `Metrics` per process, each with its own `CollectorRegistry` (never the library's global
default), so tests can build several. Names follow the Prometheus conventions
(https://prometheus.io/docs/practices/naming/): a `jobhound_` prefix, `_total` on counters, base
units (seconds). Label values are bounded: a source name from the config (anything else is
counted as "other"), an HTTP status class ("2xx"), or a reason from a fixed list; never a URL
or a chat id, which would make one series per value.

The gauges that describe the database (outbox depth, oldest pending alert, subscriptions,
active chats) are read through callbacks at scrape time, so the store is only queried when
Prometheus asks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)

OTHER = "other"
# Why an alert was not sent (dropped: given up for good) or not sent yet (failed: retried).
ALERT_REASONS = frozenset(
    {
        "blocked",  # the user blocked the bot (403 Forbidden)
        "chat_not_found",  # the chat is gone (400 chat not found, kicked, deactivated)
        "chat_inactive",  # the chat was marked inactive or paused
        "rate_limited",  # 429 Too Many Requests
        "network",  # transport error or timeout reaching the Bot API
        "server_error",  # 5xx from the Bot API
        "bad_request",  # 400 other than chat not found (message too long, bad markup)
        "too_many_attempts",  # retried up to the limit
        "expired",  # the posting closed or the alert is too old to matter
        "overflow",  # over the per-chat, per-cycle cap (summarised instead)
        "muted",  # the chat muted the posting's company (Mute company)
        OTHER,
    }
)
# Request durations (seconds): a board answers in 0.1-30 s, a match over thousands of
# subscriptions takes about a millisecond.
SCRAPE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
MATCHING_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)

GaugeReader = Callable[[], float]


def status_class(status: int | None) -> str:
    """The label for an HTTP status: "2xx" … "5xx"; "error" when there was no answer
    (transport fault, timeout) or the code is outside 100-599."""
    if status is None or not 100 <= status <= 599:
        return "error"
    return f"{status // 100}xx"


class Metrics:
    """Every metric of issue 14, one small method per event; `registry` is this process's own.

    `sources` are the configured source names (the bounded set of `source` label values);
    the readers return the current value of a database gauge and are called at scrape time
    only (a reader that raises is logged in one line and reported as NaN).
    """

    def __init__(  # long: a declaration table, one metric per few lines
        self,
        sources: Iterable[str],
        *,
        outbox_depth: GaugeReader | None = None,
        outbox_oldest_pending_age: GaugeReader | None = None,
        subscriptions: GaugeReader | None = None,
        active_chats: GaugeReader | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._sources = frozenset(sources)
        reg = self.registry
        self._fetches = Counter(
            "jobhound_fetches",
            "Board requests answered, by source and HTTP status class ('error': no answer).",
            ["source", "status_class"],
            registry=reg,
        )
        self._not_modified = Counter(
            "jobhound_not_modified",
            "Board requests answered 304 Not Modified (nothing parsed).",
            ["source"],
            registry=reg,
        )
        self._parse_failures = Counter(
            "jobhound_parse_failures",
            "Board answers that could not be parsed (ParseError).",
            ["source"],
            registry=reg,
        )
        self._seen = Counter(
            "jobhound_postings_seen",
            "Postings read from a board, new or not.",
            ["source"],
            registry=reg,
        )
        self._stored = Counter(
            "jobhound_postings_stored",
            "Postings stored for the first time.",
            ["source"],
            registry=reg,
        )
        self._closed = Counter(
            "jobhound_postings_closed",
            "Postings that left their board (marked closed).",
            ["source"],
            registry=reg,
        )
        self._queued = Counter(
            "jobhound_alerts_queued", "Alerts written to the outbox.", registry=reg
        )
        self._sent = Counter("jobhound_alerts_sent", "Alerts Telegram accepted.", registry=reg)
        self._failed = Counter(
            "jobhound_alerts_failed",
            "Alert send attempts that failed and will be retried, by reason.",
            ["reason"],
            registry=reg,
        )
        self._dropped = Counter(
            "jobhound_alerts_dropped",
            "Alerts given up for good, by reason.",
            ["reason"],
            registry=reg,
        )
        self._telegram_429 = Counter(
            "jobhound_telegram_429",
            "429 Too Many Requests answers received from the Telegram Bot API.",
            registry=reg,
        )
        self._matching = Histogram(
            "jobhound_matching_duration_seconds",
            "Time to match one batch of new postings against every subscription.",
            buckets=MATCHING_BUCKETS,
            registry=reg,
        )
        self._scrape = Histogram(
            "jobhound_scrape_duration_seconds",
            "Time of one source run: fetch, parse and store.",
            ["source"],
            buckets=SCRAPE_BUCKETS,
            registry=reg,
        )
        readers = {
            "jobhound_outbox_depth": ("Alerts pending in the outbox.", outbox_depth),
            "jobhound_outbox_oldest_pending_age_seconds": (
                "Age of the oldest pending alert in the outbox (0 when empty).",
                outbox_oldest_pending_age,
            ),
            "jobhound_subscriptions": ("Subscriptions stored.", subscriptions),
            "jobhound_active_chats": ("Chats that are active and not paused.", active_chats),
        }
        for name, (documentation, reader) in readers.items():
            gauge = Gauge(name, documentation, registry=reg)
            if reader is not None:
                gauge.set_function(_guarded(name, reader))
        # Series for every configured source exist from the start at 0, so a rate() over a
        # source that never failed is 0 and not "no data".
        for source in sorted(self._sources):
            for counter in (
                self._not_modified,
                self._parse_failures,
                self._seen,
                self._stored,
                self._closed,
            ):
                counter.labels(source=source)
            self._scrape.labels(source=source)
        for reason in sorted(ALERT_REASONS):
            self._failed.labels(reason=reason)
            self._dropped.labels(reason=reason)

    def _source(self, source: str) -> str:
        return source if source in self._sources else OTHER

    def fetched(self, source: str, status: int | None) -> None:
        """One board request ended: `status` is the HTTP status, None when there was no answer."""
        self._fetches.labels(source=self._source(source), status_class=status_class(status)).inc()

    def not_modified(self, source: str) -> None:
        """The board answered 304 Not Modified."""
        self._not_modified.labels(source=self._source(source)).inc()

    def parse_failed(self, source: str) -> None:
        """The board's answer could not be parsed."""
        self._parse_failures.labels(source=self._source(source)).inc()

    def postings(self, source: str, seen: int, stored: int, closed: int) -> None:
        """One source run's counts: postings read, stored for the first time, marked closed."""
        label = self._source(source)
        self._seen.labels(source=label).inc(seen)
        self._stored.labels(source=label).inc(stored)
        self._closed.labels(source=label).inc(closed)

    def alert_queued(self, count: int = 1) -> None:
        """`count` alerts were written to the outbox."""
        self._queued.inc(count)

    def alert_sent(self) -> None:
        """Telegram accepted one alert."""
        self._sent.inc()

    def alert_failed(self, reason: str) -> None:
        """One send attempt failed and will be retried; `reason` from ALERT_REASONS."""
        self._failed.labels(reason=_reason(reason)).inc()

    def alert_dropped(self, reason: str) -> None:
        """One alert was given up for good; `reason` from ALERT_REASONS."""
        self._dropped.labels(reason=_reason(reason)).inc()

    def telegram_429(self) -> None:
        """The Bot API answered 429 Too Many Requests."""
        self._telegram_429.inc()

    def observe_matching(self, seconds: float) -> None:
        """One matching pass took `seconds`."""
        self._matching.observe(seconds)

    def observe_scrape(self, source: str, seconds: float) -> None:
        """One source run (fetch, parse, store) took `seconds`."""
        self._scrape.labels(source=self._source(source)).observe(seconds)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The scrape body and its Content-Type, in the format the `Accept` header asks for
        (Prometheus text 0.0.4 by default, OpenMetrics on request), by the library's encoder."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


def _reason(reason: str) -> str:
    return reason if reason in ALERT_REASONS else OTHER


def _guarded(name: str, reader: GaugeReader) -> GaugeReader:
    """A reader that cannot break a scrape: a fault is one log line and NaN for that gauge."""

    def read() -> float:
        try:
            return float(reader())
        except Exception as exc:  # noqa: BLE001 - a scrape must answer whatever the store does
            log.warning("metrics: could not read %s (%s); reported as NaN", name, exc)
            return math.nan

    return read
