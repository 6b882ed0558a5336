"""When an alert may go (issue 13): time zones, modes, quiet hours, the daily cap, due times."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.timing import (
    HELP_TIMING,
    ChatTiming,
    DailyCap,
    Due,
    Mode,
    QuietHours,
    due_for,
    is_quiet,
    local_day_bounds,
    next_due,
    parse_cap,
    parse_quiet,
    quiet_ends,
    resolve_timezone,
    settings_text,
    zone,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


def local(tz: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone(tz), fold=fold)  # type: ignore[misc,arg-type]


# -- time zones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("  AMERICA/NEW_YORK ", "America/New_York"),
        ("utc", "UTC"),
        ("Berlin", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("New-York", "America/New_York"),
        ("São Paulo", "America/Sao_Paulo"),
        ("sao paulo", "America/Sao_Paulo"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
        ("tokyo", "Asia/Tokyo"),
        ("Munich", "Europe/Berlin"),
        ("München", "Europe/Berlin"),
        ("Bangalore", "Asia/Kolkata"),
        ("San Francisco", "America/Los_Angeles"),
        ("GMT", "UTC"),
        ("UTC+0", "UTC"),
    ],
)
def test_resolve_timezone_names_and_cities(text: str, expected: str) -> None:
    assert resolve_timezone(text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "offset"),
    [
        # Etc/GMT-2 is two hours AHEAD of UTC: the POSIX sign is inverted.
        ("UTC+2", "Etc/GMT-2", timedelta(hours=2)),
        ("utc +2", "Etc/GMT-2", timedelta(hours=2)),
        ("+02:00", "Etc/GMT-2", timedelta(hours=2)),
        ("GMT-3", "Etc/GMT+3", timedelta(hours=-3)),
        ("UTC−3", "Etc/GMT+3", timedelta(hours=-3)),  # a typographic minus
        ("UTC+14", "Etc/GMT-14", timedelta(hours=14)),
        ("UTC-12", "Etc/GMT+12", timedelta(hours=-12)),
        ("+05:30", "UTC+05:30", timedelta(hours=5, minutes=30)),
        ("UTC+0530", "UTC+05:30", timedelta(hours=5, minutes=30)),
        ("UTC-03:30", "UTC-03:30", timedelta(hours=-3, minutes=-30)),
        ("utc+5:45", "UTC+05:45", timedelta(hours=5, minutes=45)),
    ],
)
def test_resolve_timezone_offsets(text: str, expected: str, offset: timedelta) -> None:
    name = resolve_timezone(text)
    assert name == expected
    assert zone(name).utcoffset(datetime(2026, 7, 1)) == offset
    assert resolve_timezone(name) == name  # the stored form resolves to itself


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Atlantis", "Unknown time zone 'Atlantis'"),
        ("", "Give a time zone"),
        ("UTC+15", "between UTC-12:00 and UTC+14:00"),
        ("+05:75", "00 to 59"),
        ("UTC+２", "Unknown time zone"),  # fullwidth digits are not ASCII
        ("x" * 65, "at most 64 characters"),
        ("Eastern", "Unknown time zone"),  # legacy US/Eastern only by its full name
    ],
)
def test_resolve_timezone_refusals_say_what_to_type(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve_timezone(text)


def test_zone_refuses_unknown_stored_name() -> None:
    with pytest.raises(ValueError, match="Unknown time zone"):
        zone("Mars/Olympus_Mons")


# -- modes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode", "stored", "described"),
    [
        ("instant", Mode(), "instant", "instant"),
        ("--instant", Mode(), "instant", "instant"),
        ("--daily 09:00", Mode("daily", time(9, 0)), "daily 09:00", "daily at 09:00"),
        ("daily 9:00", Mode("daily", time(9, 0)), "daily 09:00", "daily at 09:00"),
        ("Daily 23:59", Mode("daily", time(23, 59)), "daily 23:59", "daily at 23:59"),
        (
            "weekly mon 09:00",
            Mode("weekly", time(9), 0),
            "weekly mon 09:00",
            "weekly on Monday at 09:00",
        ),
        (
            "weekly monday 9:00",
            Mode("weekly", time(9), 0),
            "weekly mon 09:00",
            "weekly on Monday at 09:00",
        ),
        ("--weekly SUN 18:30", Mode("weekly", time(18, 30), 6), "weekly sun 18:30", None),
        ("weekly tues 7:05", Mode("weekly", time(7, 5), 1), "weekly tue 07:05", None),
    ],
)
def test_mode_parse_store_describe(
    text: str, mode: Mode, stored: str, described: str | None
) -> None:
    parsed = Mode.parse(text)
    assert parsed == mode
    assert str(parsed) == stored
    assert Mode.parse(stored) == mode
    if described:
        assert parsed.describe() == described


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Give a mode"),
        ("hourly", "is not a mode"),
        ("daily", "is not a mode"),
        ("daily 24:00", "is not a time of day"),
        ("daily 9", "is not a time of day"),
        ("daily ９:００", "is not a time of day"),  # fullwidth digits are not ASCII
        ("weekly mo 09:00", "is not a day of the week"),
        ("weekly funday 09:00", "is not a day of the week"),
        ("weekly 09:00", "is not a mode"),
    ],
)
def test_mode_refusals(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Mode.parse(text)


@pytest.mark.parametrize(
    ("tz", "wall", "day", "expected_utc"),
    [
        # Spring forward: 02:30 does not exist, the digest fires at the end of the gap.
        (BERLIN, time(2, 30), date(2026, 3, 29), utc(2026, 3, 29, 1, 0)),
        (NEW_YORK, time(2, 30), date(2026, 3, 8), utc(2026, 3, 8, 7, 0)),
        # Fall back: 02:30 (Berlin) / 01:30 (New York) happen twice, the first one counts.
        (BERLIN, time(2, 30), date(2026, 10, 25), utc(2026, 10, 25, 0, 30)),
        (NEW_YORK, time(1, 30), date(2026, 11, 1), utc(2026, 11, 1, 5, 30)),
        # Ordinary days either side.
        (BERLIN, time(9, 0), date(2026, 3, 29), utc(2026, 3, 29, 7, 0)),
        (BERLIN, time(9, 0), date(2026, 3, 28), utc(2026, 3, 28, 8, 0)),
    ],
)
def test_next_due_on_dst_edges(tz: str, wall: time, day: date, expected_utc: datetime) -> None:
    start = datetime.combine(day, time(0, 0), tzinfo=zone(tz)).astimezone(UTC)
    assert next_due(Mode("daily", wall), tz, start) == expected_utc


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK])
@pytest.mark.parametrize("wall", [time(0, 0), time(1, 30), time(2, 0), time(2, 30), time(9, 0)])
def test_daily_digest_over_a_year_never_skipped_never_doubled(tz: str, wall: time) -> None:
    """Every local date of 2026 gets exactly one digest, DST edges included."""
    mode = Mode("daily", wall)
    year_start = local(tz, 2026, 1, 1).astimezone(UTC)
    year_end = local(tz, 2027, 1, 1).astimezone(UTC)
    dues: list[datetime] = []
    cursor = year_start - timedelta(seconds=1)
    while True:
        cursor = next_due(mode, tz, cursor)
        if cursor >= year_end:
            break
        dues.append(cursor)
    assert len(dues) == 365
    assert all(a < b for a, b in itertools.pairwise(dues))
    dates = [d.astimezone(zone(tz)).date() for d in dues]
    assert dates == [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    walls = {d.astimezone(zone(tz)).time() for d in dues}
    # The wall time, or on the spring-forward day (if it falls in the gap) the gap's end.
    assert walls <= {wall, time(3, 0)}
    assert sum(1 for d in dues if d.astimezone(zone(tz)).time() != wall) <= 1


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK])
def test_weekly_digest_over_a_year(tz: str) -> None:
    mode = Mode.parse("weekly sun 02:30")  # both DST changes happen on a Sunday morning
    cursor = local(tz, 2026, 1, 1).astimezone(UTC)
    dues = []
    for _ in range(52):
        cursor = next_due(mode, tz, cursor)
        dues.append(cursor)
    local_dates = [d.astimezone(zone(tz)).date() for d in dues]
    assert local_dates == [date(2026, 1, 4) + timedelta(weeks=n) for n in range(52)]
    assert {b - a for a, b in itertools.pairwise(dues)} <= {
        timedelta(weeks=1),
        timedelta(weeks=1, hours=-1),
        timedelta(weeks=1, hours=1),
        timedelta(weeks=1, minutes=-30),  # into the gap: 03:00 instead of 02:30
        timedelta(weeks=1, minutes=30),
    }


def test_next_due_is_strictly_after() -> None:
    mode = Mode.parse("daily 09:00")
    due = next_due(mode, BERLIN, utc(2026, 6, 1, 6, 0))
    assert due == utc(2026, 6, 1, 7, 0)
    assert next_due(mode, BERLIN, due) == utc(2026, 6, 2, 7, 0)
    assert next_due(mode, BERLIN, due - timedelta(microseconds=1)) == due


def test_next_due_instant_is_now_and_naive_is_refused() -> None:
    now = utc(2026, 6, 1, 6, 0)
    assert next_due(Mode(), BERLIN, now) == now
    with pytest.raises(ValueError, match="naive"):
        next_due(Mode(), BERLIN, datetime(2026, 6, 1))


@settings(max_examples=300, deadline=None)
@given(
    tz=st.sampled_from([BERLIN, NEW_YORK, "Australia/Lord_Howe", "Pacific/Chatham", "UTC+05:30"]),
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
    wall=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    weekday=st.none() | st.integers(0, 6),
)
def test_next_due_is_the_first_matching_instant(
    tz: str, after: datetime, wall: time, weekday: int | None
) -> None:
    """Property: the due time is after `after`, on the right weekday, shows the wall time
    (or lies at the end of a gap), and nothing earlier would have qualified."""
    mode = Mode("daily", wall) if weekday is None else Mode("weekly", wall, weekday)
    start = after.replace(tzinfo=UTC)
    due = next_due(mode, tz, start)
    assert due > start
    shown = due.astimezone(zone(tz))
    assert weekday is None or shown.weekday() == weekday
    if shown.time() != wall:  # only at the end of a gap: one second earlier was before it
        before = (due - timedelta(seconds=1)).astimezone(zone(tz))
        assert before.utcoffset() != shown.utcoffset()
    assert due - start <= timedelta(days=8 if weekday is not None else 2)
    assert next_due(mode, tz, due - timedelta(seconds=1)) == due


# -- quiet hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "stored"),
    [
        ("22:00-08:00", QuietHours(time(22), time(8)), "22:00-08:00"),
        ("22:00 - 8:00", QuietHours(time(22), time(8)), "22:00-08:00"),
        ("22:00–08:00 silent", QuietHours(time(22), time(8), True), "22:00-08:00 silent"),
        ("13:00-14:30 SILENT", QuietHours(time(13), time(14, 30), True), "13:00-14:30 silent"),
        ("off", None, None),
        ("OFF", None, None),
    ],
)
def test_parse_quiet(text: str, expected: QuietHours | None, stored: str | None) -> None:
    quiet = parse_quiet(text)
    assert quiet == expected
    if quiet is not None:
        assert str(quiet) == stored
        assert parse_quiet(str(quiet)) == quiet


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("22:00", "Quiet hours are HH:MM-HH:MM"),
        ("silent", "Quiet hours are HH:MM-HH:MM"),
        ("", "Quiet hours are HH:MM-HH:MM"),
        ("22:00-25:00", "not a time of day"),
        ("08:00-08:00", "differ"),
    ],
)
def test_parse_quiet_refusals(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_quiet(text)


NIGHT = QuietHours(time(22), time(8))


@pytest.mark.parametrize(
    ("at_local", "quiet", "ends_local"),
    [
        ((2026, 6, 1, 21, 59), False, None),
        ((2026, 6, 1, 22, 0), True, (2026, 6, 2, 8, 0)),
        ((2026, 6, 1, 23, 30), True, (2026, 6, 2, 8, 0)),
        ((2026, 6, 2, 3, 0), True, (2026, 6, 2, 8, 0)),
        ((2026, 6, 2, 7, 59), True, (2026, 6, 2, 8, 0)),
        ((2026, 6, 2, 8, 0), False, None),
        ((2026, 6, 2, 12, 0), False, None),
    ],
)
def test_quiet_window_across_midnight(
    at_local: tuple[int, ...], quiet: bool, ends_local: tuple[int, ...] | None
) -> None:
    at = local(BERLIN, *at_local).astimezone(UTC)
    assert is_quiet(NIGHT, BERLIN, at) is quiet
    ends = local(BERLIN, *ends_local).astimezone(UTC) if ends_local else at
    assert quiet_ends(NIGHT, BERLIN, at) == ends


def test_quiet_window_within_a_day() -> None:
    lunch = QuietHours(time(12), time(13, 30))
    assert not is_quiet(lunch, BERLIN, local(BERLIN, 2026, 6, 1, 11, 59).astimezone(UTC))
    assert is_quiet(lunch, BERLIN, local(BERLIN, 2026, 6, 1, 12, 0).astimezone(UTC))
    assert quiet_ends(lunch, BERLIN, utc(2026, 6, 1, 10, 45)) == utc(2026, 6, 1, 11, 30)
    assert not is_quiet(lunch, BERLIN, local(BERLIN, 2026, 6, 1, 13, 30).astimezone(UTC))
    assert not is_quiet(None, BERLIN, utc(2026, 6, 1, 10, 45))
    assert quiet_ends(None, BERLIN, utc(2026, 6, 1, 10, 45)) == utc(2026, 6, 1, 10, 45)


@pytest.mark.parametrize(
    ("tz", "night", "hours"),
    [
        (BERLIN, date(2026, 3, 28), 9),  # 22:00 CET -> 08:00 CEST: an hour shorter
        (BERLIN, date(2026, 10, 24), 11),  # 22:00 CEST -> 08:00 CET: an hour longer
        (BERLIN, date(2026, 6, 1), 10),
        (NEW_YORK, date(2026, 3, 7), 9),
        (NEW_YORK, date(2026, 10, 31), 11),
    ],
)
def test_quiet_hours_across_dst_nights(tz: str, night: date, hours: int) -> None:
    """Minute by minute over a DST night: quiet is one unbroken stretch from 22:00 to 08:00
    local, as long as the clocks make it, and every alert held in it goes at its end."""
    start = datetime.combine(night, time(12), tzinfo=zone(tz)).astimezone(UTC)
    minutes = [start + timedelta(minutes=n) for n in range(24 * 60)]
    quiet = [m for m in minutes if is_quiet(NIGHT, tz, m)]
    assert len(quiet) == hours * 60
    assert quiet[-1] - quiet[0] == timedelta(hours=hours, minutes=-1)  # one stretch
    end = quiet[-1] + timedelta(minutes=1)
    assert end.astimezone(zone(tz)).time() == time(8, 0)
    assert {quiet_ends(NIGHT, tz, m) for m in quiet} == {end}


def test_quiet_end_in_the_repeated_hour_is_its_first_occurrence() -> None:
    """Quiet until 02:30 on Berlin's fall-back night ends at 02:30 CEST; the repeated
    02:00-02:59 CET hour after it is not quiet again."""
    quiet = QuietHours(time(1), time(2, 30))
    end = quiet_ends(quiet, BERLIN, utc(2026, 10, 24, 23, 30))  # 01:30 CEST
    assert end == utc(2026, 10, 25, 0, 30)
    assert not is_quiet(quiet, BERLIN, utc(2026, 10, 25, 1, 15))  # 02:15 CET


def test_quiet_end_in_the_skipped_hour_is_the_gap_end() -> None:
    quiet = QuietHours(time(23), time(2, 30))
    assert quiet_ends(quiet, BERLIN, utc(2026, 3, 28, 23, 0)) == utc(2026, 3, 29, 1, 0)


# -- the daily cap ----------------------------------------------------------------------------


def test_daily_cap() -> None:
    cap = parse_cap("30")
    assert cap == DailyCap(30)
    assert cap.allows(29)
    assert not cap.allows(30)
    assert cap.remaining(12) == 18
    assert cap.remaining(40) == 0
    assert parse_cap("off") == DailyCap()
    assert DailyCap().allows(10**6)
    assert DailyCap().remaining(5) is None
    assert str(cap) == "30"
    assert str(DailyCap()) == "off"
    for bad in ("0", "-1", "1001", "３０", "many", ""):
        with pytest.raises(ValueError, match="from 1 to 1000, or off"):
            parse_cap(bad)
    with pytest.raises(ValueError, match="from 1 to 1000, or off"):
        DailyCap(0)


@pytest.mark.parametrize(
    ("tz", "at", "start", "length"),
    [
        (BERLIN, utc(2026, 6, 1, 21, 59), utc(2026, 5, 31, 22, 0), timedelta(hours=24)),
        (BERLIN, utc(2026, 6, 1, 22, 0), utc(2026, 6, 1, 22, 0), timedelta(hours=24)),
        (BERLIN, utc(2026, 3, 29, 12, 0), utc(2026, 3, 28, 23, 0), timedelta(hours=23)),
        (BERLIN, utc(2026, 10, 25, 12, 0), utc(2026, 10, 24, 22, 0), timedelta(hours=25)),
        (NEW_YORK, utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 4, 0) - timedelta(days=1), None),
        # Havana springs forward at midnight: that day starts at 01:00 local.
        ("America/Havana", utc(2026, 3, 8, 12, 0), utc(2026, 3, 8, 5, 0), timedelta(hours=23)),
        ("UTC+05:30", utc(2026, 6, 1, 20, 0), utc(2026, 6, 1, 18, 30), timedelta(hours=24)),
    ],
)
def test_local_day_bounds(tz: str, at: datetime, start: datetime, length: timedelta | None) -> None:
    begin, end = local_day_bounds(tz, at)
    assert begin == start
    assert begin <= at < end
    if length is not None:
        assert end - begin == length


# -- due times --------------------------------------------------------------------------------

QUIET_BERLIN = ChatTiming(BERLIN, NIGHT)
DAYTIME = utc(2026, 6, 1, 10, 0)  # 12:00 in Berlin
NIGHTTIME = utc(2026, 6, 1, 23, 0)  # 01:00 in Berlin


def test_due_instant_outside_quiet_hours_is_now() -> None:
    assert due_for(Mode(), QUIET_BERLIN, DAYTIME) == Due(DAYTIME, False, "now")
    assert due_for(Mode(), ChatTiming(), NIGHTTIME) == Due(NIGHTTIME, False, "now")


def test_due_instant_inside_quiet_hours_waits_for_their_end() -> None:
    assert due_for(Mode(), QUIET_BERLIN, NIGHTTIME) == Due(utc(2026, 6, 2, 6, 0), False, "quiet")


def test_due_instant_inside_silent_quiet_hours_goes_now_silently() -> None:
    chat = ChatTiming(BERLIN, parse_quiet("22:00-08:00 silent"))
    assert due_for(Mode(), chat, NIGHTTIME) == Due(NIGHTTIME, True, "quiet")
    assert due_for(Mode(), chat, DAYTIME) == Due(DAYTIME, False, "now")


def test_due_digest_is_its_next_time_quiet_or_not() -> None:
    daily = Mode.parse("daily 07:00")
    assert due_for(daily, QUIET_BERLIN, DAYTIME) == Due(utc(2026, 6, 2, 5, 0), False, "digest")
    assert due_for(daily, QUIET_BERLIN, NIGHTTIME) == Due(utc(2026, 6, 2, 5, 0), False, "digest")
    weekly = Mode.parse("weekly fri 18:00")  # 2026-06-01 is a Monday
    assert due_for(weekly, ChatTiming(NEW_YORK), DAYTIME).at == utc(2026, 6, 5, 22, 0)


def test_due_past_the_cap_waits_for_the_next_digest() -> None:
    chat = ChatTiming(BERLIN, None, DailyCap(30))
    assert due_for(Mode(), chat, DAYTIME, sent_today=29) == Due(DAYTIME, False, "now")
    digests = (Mode.parse("daily 18:00"), Mode(), Mode.parse("weekly tue 08:00"))
    held = due_for(Mode(), chat, DAYTIME, sent_today=30, digests=digests)
    assert held == Due(utc(2026, 6, 1, 16, 0), False, "cap")


def test_due_past_the_cap_without_digests_waits_for_local_midnight() -> None:
    chat = ChatTiming(BERLIN, None, DailyCap(5))
    assert due_for(Mode(), chat, DAYTIME, sent_today=5) == Due(utc(2026, 6, 1, 22, 0), False, "cap")
    quiet = ChatTiming(BERLIN, NIGHT, DailyCap(5))
    assert due_for(Mode(), quiet, DAYTIME, sent_today=5) == Due(utc(2026, 6, 2, 6, 0), False, "cap")


def test_soonest_due_wins_when_a_posting_matches_several_subscriptions() -> None:
    dues = [
        due_for(Mode.parse("daily 09:00"), QUIET_BERLIN, DAYTIME),
        due_for(Mode(), QUIET_BERLIN, DAYTIME),
    ]
    assert min(dues) == Due(DAYTIME, False, "now")


def test_chat_timing_from_columns() -> None:
    assert ChatTiming.from_columns(None, None, None) == ChatTiming()
    assert ChatTiming.from_columns("", "", 0) == ChatTiming()
    assert ChatTiming.from_columns(BERLIN, "22:00-08:00 silent", 30) == ChatTiming(
        BERLIN, QuietHours(time(22), time(8), True), DailyCap(30)
    )


# -- /settings and /help ----------------------------------------------------------------------


def test_settings_text() -> None:
    chat = ChatTiming(BERLIN, NIGHT, DailyCap(30))
    lines = settings_text(
        chat,
        DAYTIME,
        sent_today=12,
        subscriptions=[(3, Mode()), (7, Mode.parse("weekly mon 09:00"))],
    )
    assert lines == [
        "Time zone: Europe/Berlin (now Mon 12:00, UTC+02:00)",
        "Quiet hours: 22:00–08:00, alerts held until they end",
        "Daily cap: 30 instant alerts a day (12 sent today)",
        "#3: instant",
        "#7: weekly on Monday at 09:00 (next: Mon 08 Jun 09:00)",
    ]
    assert settings_text(ChatTiming(resolve_timezone("+05:30")), DAYTIME) == [
        "Time zone: UTC+05:30 (now Mon 15:30, UTC+05:30)",
        "Quiet hours: off",
        "Daily cap: off",
    ]


def test_help_examples_are_accepted() -> None:
    """Every example command the help paragraph shows parses as it says."""
    modes = re.findall(r"/mode ID ([a-z0-9: ]+?)(?:,|\.| or|$)", HELP_TIMING)
    assert modes == ["instant", "daily 09:00", "weekly mon 09:00"]
    assert all(Mode.parse(m) for m in modes)
    assert Mode.parse(re.findall(r"(--daily \d\d:\d\d)", HELP_TIMING)[0]).kind == "daily"
    for tz in re.findall(r"/settings tz (\S+?)[,.]? ", HELP_TIMING):
        resolve_timezone(tz)
    quiet = re.findall(r"/settings quiet ([^;)]+?)(?:\)|;|$|\.)", HELP_TIMING)
    assert quiet == ["22:00-08:00", "22:00-08:00 silent", "off"]
    assert [str(q) if q else "off" for q in map(parse_quiet, quiet)] == quiet
    caps = re.findall(r"/settings cap (\w+)", HELP_TIMING)
    assert caps == ["30", "off"]
    assert [str(parse_cap(c)) for c in caps] == caps
