"""Source health: what the store knows about each source's recent runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.base import Repository, _from_iso, _guarded, _iso, now_utc


@dataclass(frozen=True)
class SourceHealth:
    """What the store knows about one source's recent runs."""

    name: str
    baseline_at: datetime | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    last_count: int | None
    last_new: int | None
    # Issue 14 (m014): paused by an admin; the breakage alert's problem and last message.
    paused: bool = False
    problem_kind: str | None = None
    problem_since: datetime | None = None
    alerted_at: datetime | None = None


@_guarded
class Health(Repository):
    """Each source's recent runs: successes, failure streaks, counts."""

    def record_success(
        self, source: str, *, count: int | None, new: int, now: datetime | None = None
    ) -> None:
        """A run that answered: reset the failure streak; `count` None means "unchanged"."""
        stamp = _iso(now or now_utc())
        self.db.execute(
            "INSERT INTO sources (name, last_run_at, last_success_at, consecutive_failures, "
            "last_count, last_new) VALUES (?, ?, ?, 0, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET last_run_at = excluded.last_run_at, "
            "last_success_at = excluded.last_success_at, consecutive_failures = 0, "
            "last_count = coalesce(excluded.last_count, sources.last_count), "
            "last_new = excluded.last_new",
            [source, stamp, stamp, count, new],
        )

    def record_failure(self, source: str, error: str, *, now: datetime | None = None) -> int:
        """A run that failed; returns the number of consecutive failures so far."""
        stamp = _iso(now or now_utc())
        self.db.execute(
            "INSERT INTO sources (name, last_run_at, last_error, last_error_at, "
            "consecutive_failures) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT(name) DO UPDATE SET last_run_at = excluded.last_run_at, "
            "last_error = excluded.last_error, last_error_at = excluded.last_error_at, "
            "consecutive_failures = sources.consecutive_failures + 1",
            [source, stamp, self._clean(error), stamp],
        )
        return self.health(source).consecutive_failures  # type: ignore[union-attr]

    def health(self, source: str) -> SourceHealth | None:
        cursor = self.db.execute("SELECT * FROM sources WHERE name = ?", [source])
        row = cursor.fetchone()
        if row is None:
            return None
        data = dict(zip([c[0] for c in cursor.description], row, strict=True))
        return SourceHealth(
            name=data["name"],
            baseline_at=_from_iso(data["baseline_at"]),
            last_run_at=_from_iso(data["last_run_at"]),
            last_success_at=_from_iso(data["last_success_at"]),
            last_error=data["last_error"],
            last_error_at=_from_iso(data["last_error_at"]),
            consecutive_failures=data["consecutive_failures"] or 0,
            last_count=data["last_count"],
            last_new=data["last_new"],
            paused=bool(data.get("paused")),
            problem_kind=data.get("problem_kind"),
            problem_since=_from_iso(data.get("problem_since")),
            alerted_at=_from_iso(data.get("alerted_at")),
        )

    def source_health(self) -> list[SourceHealth]:
        """Health of every source that has run."""
        names = [row[0] for row in self.db.execute("SELECT name FROM sources ORDER BY name")]
        return [h for name in names if (h := self.health(name)) is not None]

    def set_source_paused(self, source: str, paused: bool) -> None:
        """Pause (`/pausesource`) or resume a source; kept across restarts."""
        self.db.execute(
            "INSERT INTO sources (name, paused) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET paused = excluded.paused",
            [source, int(paused)],
        )

    def paused_sources(self) -> set[str]:
        """The names of the sources an admin paused."""
        return {row[0] for row in self.db.execute("SELECT name FROM sources WHERE paused = 1")}

    def record_problem(
        self,
        source: str,
        kind: str | None,
        since: datetime | None,
        alerted_at: datetime | None,
    ) -> None:
        """The breakage alert's state of `source` (`bot.breakage.SourceState`): the problem's
        kind and start (None: none) and when the admins were last told, so a restart keeps
        the once-an-hour cap."""
        self.db.execute(
            "INSERT INTO sources (name, problem_kind, problem_since, alerted_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
            "problem_kind = excluded.problem_kind, problem_since = excluded.problem_since, "
            "alerted_at = excluded.alerted_at",
            [source, kind, _iso(since), _iso(alerted_at)],
        )
