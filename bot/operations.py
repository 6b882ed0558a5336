"""The operator's side of a running daemon (issue 14): what each source's runs mean for the
admins (breakage alerts through `bot.breakage`), which sources an admin paused, /healthz's
verdict, the daily counts of /stats, and the metrics that the pipeline, the sender and the
fetcher record into.

`Operations` is built once by the daemon and handed to the pipeline and the Telegram front.
The breakage state of every source is seeded from the stored source health (failure streak,
problem kind and start, when the admins were last told), so a restart neither repeats a
failure message within the hour nor forgets a problem whose recovery must be told.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.breakage import Kind, Policy, Run, SourceState, classify, step
from bot.errors import FetchError, ParseError, RobotsDisallowed, StoreError
from bot.health import health, schedule_interval
from bot.metrics import Metrics
from bot.settings import Settings, SourceSettings
from bot.store.base import now_utc
from bot.store.health import SourceHealth
from bot.text import counted

log = logging.getLogger(__name__)

# An admin message (plain text; escaped here before it goes out as HTML).
Notify = Callable[[str], Awaitable[None]]
KINDS: tuple[Kind, ...] = (
    "ok",
    "blocked",
    "not_found",
    "failing",
    "layout_changed",
    "robots_disallowed",
)


Answer = tuple[int, Mapping[str, str], bytes]


def failure_kind(exc: BaseException, last_answer: Answer | None = None) -> Kind:
    """What a failed run's exception means for the admins (`bot.breakage.classify` on what
    the fetcher kept of the answer): robots-disallowed, blocked (403/429 or a bot-protection
    challenge), not found (404/410), layout changed (the answer did not parse) or failing.
    `last_answer` (status, headers, first bytes) is the source's last 2xx answer, which a
    ParseError is judged on: a challenge page served with a 200 is "blocked"."""
    if isinstance(exc, RobotsDisallowed):
        return classify(None, {}, b"", robots_disallowed=True)
    if isinstance(exc, FetchError):
        return classify(exc.status, exc.headers, exc.body)
    if isinstance(exc, ParseError):
        status, headers, body = last_answer or (200, {}, b"")
        return classify(status, headers, body, parse_failed=True)
    return "failing"


def seed_state(name: str, stored: SourceHealth | None) -> SourceState:
    """The breakage state of `name` as the store left it (a new `SourceState` if never run)."""
    if stored is None:
        return SourceState(name)
    good = (stored.last_count,) if stored.last_count else ()
    if stored.consecutive_failures == 0:
        return SourceState(name, good_counts=good, last_alert_at=stored.alerted_at)
    kind: Kind = "failing"
    for known in KINDS:
        if stored.problem_kind == known:
            kind = known
    since = stored.problem_since or stored.last_error_at
    announced = stored.alerted_at is not None and since is not None and stored.alerted_at >= since
    return SourceState(
        name,
        problem="failure",
        kind=kind,
        since=since,
        failures=stored.consecutive_failures,
        last_error=stored.last_error,
        good_counts=good,
        announced=announced,
        last_alert_at=stored.alerted_at,
    )


def start_of_day(moment: datetime) -> datetime:
    """Midnight UTC of `moment`'s day: "today" in /stats."""
    day = moment.astimezone(UTC)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


class OperationsStore(Protocol):
    """The store as `Operations` uses it: source health and paused state (`Health`), chat and
    subscription counts (`Chats`), posting counts (`Postings`), the outbox's figures
    (`Outbox`)."""

    def source_health(self) -> list[SourceHealth]: ...
    def set_source_paused(self, source: str, paused: bool) -> None: ...
    def record_problem(
        self,
        source: str,
        kind: str | None,
        since: datetime | None,
        alerted_at: datetime | None,
    ) -> None: ...
    def chat_counts(self) -> tuple[int, int, int]: ...
    def count_postings(self, source: str | None = None) -> int: ...
    def open_count(self, source: str | None = None) -> int: ...
    def pending_count(self) -> int: ...
    def oldest_pending_at(self) -> datetime | None: ...
    def sent_count_since(self, since: datetime) -> int: ...


class Operations:
    """Breakage alerts, paused sources, health, daily counts and metrics of one daemon.

    `notify` gets each admin message (escaped HTML); until one is set (console mode, or before
    Telegram is up) messages go to the log at WARNING. `clock` returns aware UTC datetimes.
    """

    def __init__(
        self,
        settings: Settings,
        store: OperationsStore,
        *,
        metrics: Metrics | None = None,
        policy: Policy | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.settings = settings
        self.store = store
        self.policy = policy or Policy()
        self.clock = clock
        self.started_at = clock()
        self.metrics = metrics or Metrics(
            (s.name for s in settings.sources),
            outbox_depth=store.pending_count,
            outbox_oldest_pending_age=self._oldest_pending_age,
            subscriptions=lambda: store.chat_counts()[2],
            active_chats=lambda: store.chat_counts()[1],
        )
        self.notify: Notify | None = None
        # Set by the daemon once its scheduler exists: is it running, and "run NAME now".
        self.scheduler_running: Callable[[], bool] = lambda: False
        self.run_now: Callable[[str], bool] | None = None
        # A source's last 2xx answer (the fetcher's `last_answers`), set by the daemon.
        self.last_answers: Mapping[str, Answer] = {}
        stored = {h.name: h for h in store.source_health()}
        self._states = {s.name: seed_state(s.name, stored.get(s.name)) for s in settings.sources}
        self._paused = {h.name for h in stored.values() if h.paused}
        self._429_day = start_of_day(self.started_at)
        self._429_today = 0

    # Sources: paused or not, their one-line state.

    def paused(self, name: str) -> bool:
        """Whether an admin paused `name` (`/pausesource`); kept across restarts."""
        return name in self._paused

    def set_paused(self, name: str, paused: bool) -> None:
        """Pause or resume `name`; raises StoreError when it cannot be recorded."""
        self.store.set_source_paused(name, paused)
        if paused:
            self._paused.add(name)
        else:
            self._paused.discard(name)

    def state(self, name: str) -> SourceState:
        """The breakage state of `name` (a fresh one for a source added since start-up)."""
        return self._states.get(name) or SourceState(name)

    def reconfigure(self, settings: Settings) -> None:
        """Follow a config reload: states for added sources, new metric labels need a restart."""
        self.settings = settings
        for source in settings.sources:
            self._states.setdefault(source.name, SourceState(source.name))

    # After each run.

    async def after_run(
        self,
        source: SourceSettings,
        *,
        count: int | None = None,
        error: BaseException | None = None,
        error_text: str | None = None,
    ) -> None:
        """Feed one run of `source` to its breakage state machine and tell the admins what it
        says: `count` postings of a good run (None: unchanged, 304), or the `error` that ended
        it with its redacted `error_text`. Never raises for a storage fault (one line)."""
        now = self.clock()
        answer = self.last_answers.get(source.name)
        kind: Kind = "ok" if error is None else failure_kind(error, answer)
        state = self.state(source.name)
        if kind == "ok" and count is None:
            # Unchanged (304): the board answered, its size is as before.
            count = state.good_counts[-1] if state.good_counts else None
            if count is None:
                return
        run = Run(kind, count, error_text, source.schedule.next_run(now + timedelta(seconds=1)))
        new, message = step(state, run, now, self.policy)
        self._states[source.name] = new
        if (new.problem, new.kind, new.since, new.last_alert_at) != (
            state.problem,
            state.kind,
            state.since,
            state.last_alert_at,
        ):
            try:
                self.store.record_problem(
                    source.name,
                    new.kind if new.problem else None,
                    new.since if new.problem else None,
                    new.last_alert_at,
                )
            except StoreError as exc:
                log.warning(
                    "%s: breakage state not recorded (%s); kept in memory", source.name, exc
                )
        if message is not None:
            await self._tell(message)

    async def _tell(self, message: str) -> None:
        if self.notify is None:
            log.warning("%s", message.replace("\n", " "))
            return
        await self.notify(html.escape(message))

    # Telegram's 429s, for /metrics and /stats.

    def telegram_429(self) -> None:
        """The Bot API answered 429 Too Many Requests."""
        self.metrics.telegram_429()
        today = start_of_day(self.clock())
        if today != self._429_day:
            self._429_day, self._429_today = today, 0
        self._429_today += 1

    def telegram_429_today(self) -> int:
        """429s received since midnight UTC (since start-up, if that was later)."""
        return self._429_today if start_of_day(self.clock()) == self._429_day else 0

    # /healthz and /stats.

    def health(self) -> tuple[bool, dict[str, Any]]:
        """`/healthz`'s verdict (`bot.health.health`) over the enabled, unpaused sources."""
        now = self.clock()
        last_runs = {h.name: h.last_run_at for h in self.store.source_health()}
        cycles = [
            (s.name, schedule_interval(s.schedule, now), last_runs.get(s.name))
            for s in self.settings.enabled_sources
            if not self.paused(s.name)
        ]
        return health(now, self.scheduler_running(), cycles, started_at=self.started_at)

    def stats(self) -> dict[str, int]:
        """The figures of /stats: chats, subscriptions, postings stored and open, alerts sent
        today (UTC), outbox depth, 429s today."""
        chats, active, subscriptions = self.store.chat_counts()
        return {
            "chats": chats,
            "active chats": active,
            "subscriptions": subscriptions,
            "postings stored": self.store.count_postings(),
            "postings open": self.store.open_count(),
            "alerts today": self.store.sent_count_since(start_of_day(self.clock())),
            "outbox depth": self.store.pending_count(),
            "429s today": self.telegram_429_today(),
        }

    def _oldest_pending_age(self) -> float:
        oldest = self.store.oldest_pending_at()
        return max(0.0, (self.clock() - oldest).total_seconds()) if oldest else 0.0


def sources_with_state(ops: Operations, sources: Iterable[SourceSettings]) -> list[str]:
    """One plain-text line per configured source for /sources: its name and kind, then
    "paused", "disabled", "not run yet" or its breakage state line ("ok", "blocked since …")
    with the last error of a failing one."""
    stored = {h.name: h for h in ops.store.source_health()}
    lines = []
    for source in sources:
        head = f"{source.name} ({source.kind})"
        h = stored.get(source.name)
        if not source.enabled:
            lines.append(f"⚪️ {head}: disabled")
        elif ops.paused(source.name):
            lines.append(f"⏸ {head}: paused by an admin (/resumesource {source.name})")
        elif h is None or h.last_run_at is None:
            lines.append(f"⏳ {head}: not run yet")
        else:
            state = ops.state(source.name)
            if state.problem is None and not h.consecutive_failures:
                count = h.last_count if h.last_count is not None else 0
                lines.append(f"✅ {head}: ok, {counted(count, 'posting')}")
                continue
            if state.problem is None:  # a failure the machine has not seen (a fresh state)
                state = replace(state, problem="failure", since=h.last_error_at, failures=1)
            error = (h.last_error or "")[:200]
            tail = f"; last error: {error}" if error and state.problem == "failure" else ""
            lines.append(f"❌ {head}: {state.line()}{tail}")
    return lines
