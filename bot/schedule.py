"""When each source runs: schedules parsed from config, and the APScheduler jobs built from them."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_SECONDS = 10
# A source runs within this many seconds of its slot, so boards on one host are not hit together.
MAX_JITTER_SECONDS = 30
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Schedule:
    """A crontab line (5 fields) or a fixed interval in seconds."""

    text: str
    cron: str | None = None
    interval: int | None = None

    def trigger(self, *, jitter: bool = True) -> BaseTrigger:
        """The APScheduler trigger for this schedule, with a small random jitter."""
        spread = self.jitter() if jitter else None
        if self.cron is not None:
            trigger = crontab_trigger(self.cron)
            trigger.jitter = spread
            return trigger
        assert self.interval is not None
        return IntervalTrigger(seconds=self.interval, jitter=spread, timezone=UTC)

    def jitter(self) -> int:
        """Seconds of random delay added to each run: a tenth of the interval, 1 to 30 s."""
        seconds = self.interval if self.interval is not None else 600
        return min(MAX_JITTER_SECONDS, max(1, seconds // 10))

    def next_run(self, now: datetime) -> datetime | None:
        """The next time this schedule fires after `now` (without jitter)."""
        next_time: datetime | None = self.trigger(jitter=False).get_next_fire_time(None, now)
        return next_time


def crontab_trigger(line: str) -> CronTrigger:
    """The APScheduler trigger (UTC) for a 5-field crontab line, days of the week as crontab
    means them; ValueError for a line it cannot read.

    crontab(5) counts days of the week 0 (or 7) = Sunday, 1 = Monday; APScheduler 3's
    `CronTrigger.from_crontab` passes the numbers through to its own field, where 0 = Monday,
    so `1-5` would fire Tuesday to Saturday. Numbers are therefore turned into day names first.
    """
    minute, hour, day, month, weekdays = line.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_crontab_weekdays(weekdays),
        timezone=UTC,
    )


def _crontab_weekdays(field: str) -> str:
    """crontab(5)'s day-of-week field (`1-5`, `0,6`, `*/2`, `mon-fri`) as APScheduler day names."""
    if not any(char.isdigit() for char in field):
        return field  # `*` or names: the two agree
    days: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            first, last = (int(part) for part in base.split("-", 1))
        else:
            first = int(base)
            last = 7 if step_text else first  # `1/2`: from Monday on, every other day
        if not (0 <= first <= last <= 7) or step < 1:
            raise ValueError(f"day of week {item!r} is outside 0-7 (0 and 7 are Sunday)")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def parse_schedule(text: str) -> Schedule:
    """Parse "*/30 * * * *" or "45s" / "15m" / "2h" / "1d"; ValueError says what is accepted."""
    text = text.strip()
    match = _INTERVAL.match(text)
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if seconds < MIN_INTERVAL_SECONDS:
            raise ValueError(f"interval {text!r} is shorter than {MIN_INTERVAL_SECONDS}s")
        return Schedule(text=text, interval=seconds)
    if len(text.split()) == 5:
        try:
            trigger = crontab_trigger(text)
        except ValueError as exc:
            raise ValueError(f"invalid crontab {text!r}: {exc}") from None
        # "0 0 31 2 *" (February 31st) reads, but APScheduler finds no time it fires.
        if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise ValueError(f"crontab {text!r} names no date that exists: it would never run")
        return Schedule(text=text, cron=text)
    raise ValueError(
        f'{text!r} is neither a crontab line of 5 fields ("*/30 * * * *") '
        'nor an interval such as "45s", "15m", "2h"'
    )


Job = Callable[[], Awaitable[None]]


def build_scheduler(
    jobs: Iterable[tuple[str, Schedule, Job]], *, run_now: bool = True
) -> AsyncIOScheduler:
    """One APScheduler job per source: never two runs of one source at once, misfires coalesced."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    now = datetime.now(UTC)
    for i, (name, schedule, job) in enumerate(jobs):
        extra = {}
        if run_now:
            # Start-up runs are staggered a little so the first cycle is not one burst.
            extra["next_run_time"] = now + timedelta(milliseconds=50 * i)
        scheduler.add_job(
            job,
            trigger=schedule.trigger(),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **extra,
        )
    return scheduler
