"""Is the daemon alive: the verdict behind `/healthz`, from the scheduler state and each
enabled source's last cycle. Pure: the caller passes the clock and the store's timestamps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from bot.schedule import Schedule

# A source is stalled when its last cycle is older than this many of its intervals: one late
# run (jitter, a slow board, a busy host) is normal, three missed ones are not.
STALE_INTERVALS = 3

SourceCycle = tuple[str, float, datetime | None]


def schedule_interval(schedule: Schedule, now: datetime) -> float:
    """Seconds between two runs of `schedule`: its interval, or for a crontab line the gap
    between its next two fire times after `now` (so "0 9 * * 1-5" on a Friday gives 3 days)."""
    if schedule.interval is not None:
        return float(schedule.interval)
    first = schedule.next_run(now)
    # next_run includes its argument; a crontab fires at most once a minute, so 1 s later
    # finds the fire time after `first`.
    second = schedule.next_run(first + timedelta(seconds=1)) if first is not None else None
    if first is None or second is None:
        raise ValueError(f"schedule {schedule.text!r} does not fire twice after {now.isoformat()}")
    return (second - first).total_seconds()


def health(
    now: datetime,
    scheduler_running: bool,
    sources: Iterable[SourceCycle],
    *,
    started_at: datetime | None = None,
) -> tuple[bool, dict[str, Any]]:
    """(ok, reason): ok while the scheduler runs and each enabled source's last cycle is younger
    than STALE_INTERVALS of its interval (seconds).

    `sources` are (name, interval_seconds, last_cycle_at) for the enabled sources only;
    `last_cycle_at` None means it has not run yet, which is measured from `started_at` (the
    daemon's start) or is stale when that is None. All datetimes are timezone-aware.
    `reason` is JSON-ready: {"status", "scheduler", "stale": [{"source", "last_cycle_at",
    "age_seconds", "limit_seconds"}]}; HTTP 200 when ok, else 503.
    """
    stale: list[dict[str, Any]] = []
    for name, interval_seconds, last_cycle_at in sources:
        limit = timedelta(seconds=STALE_INTERVALS * interval_seconds)
        since = last_cycle_at or started_at
        if since is not None and now - since < limit:
            continue
        stale.append(
            {
                "source": name,
                "last_cycle_at": last_cycle_at.isoformat() if last_cycle_at else None,
                "age_seconds": round((now - since).total_seconds(), 3) if since else None,
                "limit_seconds": limit.total_seconds(),
            }
        )
    ok = scheduler_running and not stale
    reason: dict[str, Any] = {
        "status": "ok" if ok else "unhealthy",
        "scheduler": "running" if scheduler_running else "stopped",
        "stale": stale,
    }
    return ok, reason
