"""Crontab schedules fire on the days crontab(5) means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.schedule import parse_schedule

FRIDAY = datetime(2026, 11, 27, 10, tzinfo=UTC)


def _next_days(line: str, count: int = 4) -> list[str]:
    schedule, moment, days = parse_schedule(line), FRIDAY, []
    for _ in range(count):
        fire = schedule.next_run(moment)
        assert fire is not None
        days.append(fire.strftime("%a"))
        moment = fire + timedelta(seconds=1)
    return days


@pytest.mark.parametrize(
    ("line", "days"),
    [
        # Regression: APScheduler's from_crontab counts 0 = Monday, so 1-5 fired Tuesday-Saturday.
        ("0 9 * * 1-5", ["Mon", "Tue", "Wed", "Thu"]),
        ("0 9 * * 0", ["Sun"] * 4),
        ("0 9 * * 7", ["Sun"] * 4),
        ("0 9 * * 6,0", ["Sat", "Sun", "Sat", "Sun"]),
        ("0 9 * * */2", ["Sat", "Sun", "Tue", "Thu"]),  # 0,2,4,6: Sun, Tue, Thu, Sat
        ("0 9 * * mon-fri", ["Mon", "Tue", "Wed", "Thu"]),
        ("0 9 * * *", ["Sat", "Sun", "Mon", "Tue"]),
    ],
)
def test_days_of_the_week_as_crontab_means_them(line: str, days: list[str]) -> None:
    assert _next_days(line) == days


@pytest.mark.parametrize("line", ["0 9 * * 8", "0 9 * * 5-2", "0 9 * * 1/0"])
def test_impossible_days_are_refused(line: str) -> None:
    with pytest.raises(ValueError, match="invalid crontab"):
        parse_schedule(line)


@pytest.mark.parametrize("line", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_a_crontab_that_never_fires_is_refused(line: str) -> None:
    """Regression (tester): February 31st passed `check` with "next run never"."""
    with pytest.raises(ValueError, match="would never run"):
        parse_schedule(line)


def test_february_29th_is_a_date_that_exists() -> None:
    assert parse_schedule("0 0 29 2 *").cron == "0 0 29 2 *"
