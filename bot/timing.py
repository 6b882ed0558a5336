"""When an alert may go: a chat's time zone, a subscription's mode (instant, daily or weekly
digest), quiet hours and a daily cap, turned into the outbox's due time.

Pure: strings, aware datetimes and dataclasses in, dataclasses and aware UTC datetimes out; the
only data read is the IANA time zone database (`zoneinfo`, with the `tzdata` package as the
fallback on machines without one).

Wall-clock rules, the same everywhere in this module (PEP 495 terms):
- a local time that does not exist (the hour skipped when clocks spring forward) happens at the
  first instant after the gap, i.e. the transition itself (02:30 on Berlin's spring-forward day
  is 03:00 CEST = 01:00 UTC);
- a local time that happens twice (the hour repeated when clocks fall back) happens once, at
  its first occurrence (fold=0).
So a daily digest is never skipped and never doubled across daylight-saving changes.

Stored forms (what the outbox, chat and subscription columns hold) round-trip through the
parsers: `str(mode)` ("instant", "daily 09:00", "weekly mon 09:00"), `str(quiet)`
("22:00-08:00", "22:00-08:00 silent") and the time zone name `resolve_timezone` returns.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import cache, lru_cache
from typing import Literal

__all__ = [
    "HELP_TIMING",
    "ChatTiming",
    "DailyCap",
    "Due",
    "Mode",
    "QuietHours",
    "due_for",
    "is_quiet",
    "local_day_bounds",
    "next_due",
    "parse_cap",
    "parse_quiet",
    "quiet_ends",
    "resolve_timezone",
    "settings_text",
    "zone",
]

DEFAULT_TZ = "UTC"
# Most instant alerts a chat can ask to be capped at (a bounded user input).
MAX_CAP = 1000
INPUT_CHARS = 64

# Areas of the tz database whose zones are named after a city (zone1970.tab's areas); the
# legacy top-level names (US/Eastern, Canada/*, GB, …) are reachable by their full name only.
_CITY_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# Names people type that are not the last component of a zone (a metropolis without a zone
# of its own, an older spelling). Keys are in the normalised form of `_key`.
ALIASES: dict[str, str] = {
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "zulu": "UTC",
    "nyc": "America/New_York",
    "washington": "America/New_York",
    "boston": "America/New_York",
    "miami": "America/New_York",
    "atlanta": "America/New_York",
    "philadelphia": "America/New_York",
    "san_francisco": "America/Los_Angeles",
    "sf": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "la": "America/Los_Angeles",
    "portland": "America/Los_Angeles",
    "austin": "America/Chicago",
    "dallas": "America/Chicago",
    "houston": "America/Chicago",
    "montreal": "America/Toronto",
    "munich": "Europe/Berlin",
    "munchen": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "hamburg": "Europe/Berlin",
    "cologne": "Europe/Berlin",
    "koln": "Europe/Berlin",
    "geneva": "Europe/Zurich",
    "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome",
    "st_petersburg": "Europe/Moscow",
    "krakow": "Europe/Warsaw",
    "edinburgh": "Europe/London",
    "manchester": "Europe/London",
    "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new_delhi": "Asia/Kolkata",
    "hyderabad": "Asia/Kolkata",
    "chennai": "Asia/Kolkata",
    "calcutta": "Asia/Kolkata",
    "beijing": "Asia/Shanghai",
    "shenzhen": "Asia/Shanghai",
    "saigon": "Asia/Ho_Chi_Minh",
    "rio": "America/Sao_Paulo",
    "rio_de_janeiro": "America/Sao_Paulo",
    "melbourne": "Australia/Melbourne",
    "canberra": "Australia/Sydney",
    "wellington": "Pacific/Auckland",
    "cape_town": "Africa/Johannesburg",
    "tel_aviv": "Asia/Jerusalem",
    "kiev": "Europe/Kyiv",
}

_OFFSET = re.compile(
    r"^(?:utc|gmt|z)?\s*(?P<sign>[+\-\u2212])\s*(?P<hours>\d{1,2})"
    r"(?:(?::|h)?(?P<minutes>\d{2}))?$",
    re.ASCII,  # numbers in ASCII digits only, as everywhere in the bot
)
# How `resolve_timezone` writes an offset that is not a whole number of hours (no IANA zone
# has a fixed such offset): "UTC+05:30"; `zone` reads it back.
_FIXED = re.compile(r"^UTC(?P<sign>[+-])(?P<hours>\d{2}):(?P<minutes>\d{2})$", re.ASCII)


def _key(text: str) -> str:
    """A place name as compared: case, accents, spaces and hyphens folded ("São Paulo" ->
    "sao_paulo")."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\s\-_.]+", "_", plain).strip("_")


@cache
def _zone_names() -> tuple[dict[str, str], dict[str, str]]:
    """(folded full name -> zone, folded city -> zone) over the installed tz database."""
    full: dict[str, str] = {}
    cities: dict[str, str] = {}
    names = {n for n in zoneinfo.available_timezones() if not n.startswith(("posix/", "right/"))}
    # Canonical zones have the deeper names (America/Argentina/Buenos_Aires, while
    # America/Buenos_Aires is a backward link): visiting deeper names first lets them win.
    for name in sorted(names, key=lambda n: (-n.count("/"), n)):
        full.setdefault(name.casefold(), name)
        area, _, rest = name.partition("/")
        if area in _CITY_AREAS and rest:
            cities.setdefault(_key(rest.rsplit("/", 1)[-1]), name)
    return full, cities


def resolve_timezone(text: str) -> str:
    """The time zone a user means, as a name `zone()` accepts.

    Accepts an IANA name in any case ("europe/berlin" -> "Europe/Berlin"), a city named by a
    zone's last component or a common alias ("new york", "São Paulo", "Munich"), or a UTC
    offset ("UTC+2", "+05:30", "GMT-3", "utc"). A whole-hour offset becomes the IANA zone
    `Etc/GMT∓N`, whose sign is inverted by POSIX convention (UTC+2 -> "Etc/GMT-2",
    https://data.iana.org/time-zones/tz-link.html); any other offset becomes "UTC+05:30".
    Offsets range from -12:00 to +14:00, as on Earth.

    Raises ValueError with a message for the user when nothing matches.
    """
    raw = text.strip()
    if not raw:
        raise ValueError(
            "Give a time zone: a city (Berlin), an IANA name (Europe/Berlin) or UTC+2."
        )
    if len(raw) > INPUT_CHARS:
        raise ValueError(f"A time zone is at most {INPUT_CHARS} characters.")
    full, cities = _zone_names()
    key = _key(raw)
    if key in ALIASES:  # first, so that GMT and Zulu (links to UTC) are stored as "UTC"
        return ALIASES[key]
    if raw.casefold() in full:
        return full[raw.casefold()]
    offset = _OFFSET.match(raw.casefold().replace(" ", ""))
    if offset:
        return _offset_zone(offset)
    if key in cities:
        return cities[key]
    raise ValueError(
        f"Unknown time zone {raw!r}: give a city (Berlin, New York), an IANA name "
        "(Europe/Berlin) or an offset from UTC (UTC+2, UTC-03:30)."
    )


def _offset_zone(match: re.Match[str]) -> str:
    hours = int(match["hours"])
    minutes = int(match["minutes"] or 0)
    if minutes >= 60:
        raise ValueError(f"Minutes of a UTC offset are 00 to 59, not {minutes:02d}.")
    sign = -1 if match["sign"] in "-\u2212" else 1
    total = sign * (hours * 60 + minutes)
    if not -12 * 60 <= total <= 14 * 60:
        raise ValueError("A UTC offset is between UTC-12:00 and UTC+14:00.")
    if total == 0:
        return "UTC"
    if minutes == 0:
        # Etc/GMT-2 is two hours *ahead* of UTC (POSIX sign convention).
        return f"Etc/GMT{'-' if sign > 0 else '+'}{hours}"
    return f"UTC{'+' if sign > 0 else '-'}{hours:02d}:{minutes:02d}"


@lru_cache(maxsize=1024)
def zone(name: str) -> tzinfo:
    """The tzinfo for a name `resolve_timezone` returned (an IANA name or "UTC+05:30").

    Raises ValueError for anything else (a stored value edited by hand)."""
    fixed = _FIXED.match(name)
    if fixed:
        sign = 1 if fixed["sign"] == "+" else -1
        delta = timedelta(hours=int(fixed["hours"]), minutes=int(fixed["minutes"]))
        return timezone(sign * delta, name)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {name!r}.") from exc


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"Expected an aware datetime, got naive {moment.isoformat()}.")
    return moment.astimezone(UTC)


def _wall_instant(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant when the local clock of `tz` shows `at` on `day`: a skipped time
    happens at the end of the gap, a repeated time at its first occurrence."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=1 reads the wall time with the offset after the transition, which puts it
    # before the transition; fold=0 with the offset before, after it. The transition is the
    # first second in between whose offset is the later one.
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    later = high.astimezone(tz).utcoffset()
    lo, hi = 0, int((high - low).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        if (low + timedelta(seconds=mid)).astimezone(tz).utcoffset() == later:
            hi = mid
        else:
            lo = mid + 1
    return low + timedelta(seconds=lo)


def _next_wall(at: time, tz: tzinfo, after: datetime, weekday: int | None = None) -> datetime:
    """The first instant strictly after `after` (UTC) when the local clock shows `at` (on
    `weekday`, 0 = Monday, if given)."""
    today = after.astimezone(tz).date()
    for shift in range(-1, 9):
        day = today + timedelta(days=shift)
        if weekday is not None and day.weekday() != weekday:
            continue
        instant = _wall_instant(day, at, tz)
        if instant > after:
            return instant
    raise AssertionError("a wall-clock time recurs within 8 days")  # pragma: no cover


def _last_wall(at: time, tz: tzinfo, not_after: datetime) -> datetime:
    """The last instant at or before `not_after` (UTC) when the local clock showed `at`."""
    today = not_after.astimezone(tz).date()
    for shift in range(1, -3, -1):
        instant = _wall_instant(today + timedelta(days=shift), at, tz)
        if instant <= not_after:
            return instant
    raise AssertionError("a wall-clock time recurs within 2 days")  # pragma: no cover


# -- modes ------------------------------------------------------------------------------------

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^(?P<hour>\d{1,2}):(?P<minute>\d{2})$", re.ASCII)
MODE_USAGE = "instant, daily HH:MM or weekly DAY HH:MM (for example: daily 09:00, weekly mon 9:00)"


def parse_clock(text: str) -> time:
    """ "9:00" or "09:00" (24-hour, ASCII digits) -> time(9, 0); ValueError otherwise."""
    match = _CLOCK.match(text.strip())
    if match:
        hour, minute = int(match["hour"]), int(match["minute"])
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValueError(
        f"{text.strip()[:INPUT_CHARS]!r} is not a time of day: use HH:MM, 00:00 to 23:59."
    )


def parse_day(text: str) -> int:
    """A weekday in English, full or from its first three letters ("mon", "Tues") -> 0..6
    (Monday = 0); ValueError otherwise."""
    word = text.strip().casefold()
    if len(word) >= 3:
        for number, day in enumerate(DAYS):
            if day.startswith(word):
                return number
    raise ValueError(f"{text.strip()[:INPUT_CHARS]!r} is not a day of the week: use mon … sun.")


@dataclass(frozen=True)
class Mode:
    """How a subscription's alerts go: each at once (`instant`), or collected into one digest
    a day at `at` (`daily`) or a week on `weekday` (0 = Monday) at `at` (`weekly`), in the
    chat's time zone."""

    kind: Literal["instant", "daily", "weekly"] = "instant"
    at: time | None = None
    weekday: int | None = None

    def __post_init__(self) -> None:
        shape_ok = {
            "instant": self.at is None and self.weekday is None,
            "daily": self.at is not None and self.weekday is None,
            "weekly": self.at is not None and self.weekday is not None,
        }.get(self.kind, False)
        if not shape_ok or (self.weekday is not None and not 0 <= self.weekday <= 6):
            raise ValueError(f"Inconsistent mode {self.kind} at={self.at} weekday={self.weekday}.")

    @classmethod
    def parse(cls, text: str) -> Mode:
        """ "instant", "daily 09:00", "--daily 9:00", "weekly mon 09:00", "weekly Monday
        9:00" (case-insensitive) -> Mode. Raises ValueError saying the accepted forms."""
        words = text.strip()[: INPUT_CHARS * 2].split()
        if not words:
            raise ValueError(f"Give a mode: {MODE_USAGE}.")
        kind = words[0].casefold().removeprefix("--")
        if kind == "instant" and len(words) == 1:
            return cls()
        if kind == "daily" and len(words) == 2:
            return cls("daily", parse_clock(words[1]))
        if kind == "weekly" and len(words) == 3:
            return cls("weekly", parse_clock(words[2]), parse_day(words[1]))
        raise ValueError(f"{' '.join(words)[:INPUT_CHARS]!r} is not a mode: use {MODE_USAGE}.")

    @property
    def digest(self) -> bool:
        """True for daily and weekly: alerts wait for one message at the mode's time."""
        return self.kind != "instant"

    def __str__(self) -> str:
        """The stored form, read back by `Mode.parse`."""
        if self.at is None:
            return "instant"
        clock = self.at.strftime("%H:%M")
        if self.weekday is None:
            return f"daily {clock}"
        return f"weekly {DAYS[self.weekday][:3]} {clock}"

    def describe(self) -> str:
        """For people: "instant", "daily at 09:00", "weekly on Monday at 09:00"."""
        if self.at is None:
            return "instant"
        clock = self.at.strftime("%H:%M")
        if self.weekday is None:
            return f"daily at {clock}"
        return f"weekly on {DAYS[self.weekday].capitalize()} at {clock}"


INSTANT = Mode()


def next_due(mode: Mode, tz: str, after_utc: datetime) -> datetime:
    """When the next digest of `mode` goes, in UTC: the first instant strictly after
    `after_utc` (aware) at which the clock of time zone `tz` shows the mode's HH:MM (on its
    weekday); skipped and repeated local times as in the module docstring. For `instant`
    that is `after_utc` itself (due now). Raises ValueError for a naive datetime or an
    unknown zone."""
    after = _aware(after_utc)
    if mode.at is None:
        return after
    return _next_wall(mode.at, zone(tz), after, mode.weekday)


# -- quiet hours ------------------------------------------------------------------------------

QUIET_USAGE = "HH:MM-HH:MM, optionally followed by silent (22:00-08:00 silent), or off"


@dataclass(frozen=True)
class QuietHours:
    """Local hours during which instant alerts are held until `end` or, if `silent`, sent
    without a notification sound (Bot API `disable_notification`). The window starts at
    `start` and may cross midnight (22:00-08:00); start == end is refused."""

    start: time
    end: time
    silent: bool = False

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("Quiet hours need a start and an end that differ (22:00-08:00).")

    def __str__(self) -> str:
        """The stored form, read back by `parse_quiet`."""
        window = f"{self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')}"
        return f"{window} silent" if self.silent else window

    def describe(self) -> str:
        """For people: "22:00–08:00, alerts held until the end" or "…, alerts sent silently"."""
        window = f"{self.start.strftime('%H:%M')}–{self.end.strftime('%H:%M')}"
        how = "alerts sent silently" if self.silent else "alerts held until they end"
        return f"{window}, {how}"


def parse_quiet(text: str) -> QuietHours | None:
    """ "22:00-08:00", "22:00 - 08:00 silent", "off" (-> None); ValueError otherwise."""
    words = text.strip()[: INPUT_CHARS * 2].casefold().replace("\u2013", "-").split()
    if words == ["off"]:
        return None
    silent = bool(words) and words[-1] == "silent"
    window = "".join(words[:-1] if silent else words)
    start, dash, end = window.partition("-")
    if not dash or not start or not end:
        raise ValueError(f"Quiet hours are {QUIET_USAGE}.")
    return QuietHours(parse_clock(start), parse_clock(end), silent)


def _quiet_window(quiet: QuietHours, tz: tzinfo, at: datetime) -> tuple[datetime, datetime]:
    """The latest quiet window that started at or before `at`: (start, end) in UTC."""
    start = _last_wall(quiet.start, tz, at)
    return start, _next_wall(quiet.end, tz, start)


def is_quiet(quiet: QuietHours | None, tz: str, at_utc: datetime) -> bool:
    """Whether `at_utc` (aware) falls inside the chat's quiet hours: from the instant its
    clock shows `start` up to (excluding) the next instant it shows `end`. Measured in
    instants, so the hour repeated at a fall-back change is quiet once, not twice."""
    if quiet is None:
        return False
    at = _aware(at_utc)
    _, end = _quiet_window(quiet, zone(tz), at)
    return at < end


def quiet_ends(quiet: QuietHours | None, tz: str, at_utc: datetime) -> datetime:
    """When the quiet hours around `at_utc` end, in UTC; `at_utc` itself when it is not quiet."""
    at = _aware(at_utc)
    if quiet is None:
        return at
    _, end = _quiet_window(quiet, zone(tz), at)
    return end if at < end else at


# -- the daily cap ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyCap:
    """At most `limit` instant alerts a local day per chat (None: no cap); the ones past it wait
    for the next digest instead of being dropped."""

    limit: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and not 1 <= self.limit <= MAX_CAP:
            raise ValueError(f"The daily cap is a number of alerts from 1 to {MAX_CAP}, or off.")

    def allows(self, sent_today: int) -> bool:
        """Whether one more instant alert may go now, `sent_today` having gone already today
        (in the chat's time zone: see `local_day_bounds`)."""
        return self.limit is None or sent_today < self.limit

    def remaining(self, sent_today: int) -> int | None:
        """How many more instant alerts may go today (None: unlimited)."""
        return None if self.limit is None else max(0, self.limit - sent_today)

    def __str__(self) -> str:
        return "off" if self.limit is None else str(self.limit)


def parse_cap(text: str) -> DailyCap:
    """ "30" (1 to MAX_CAP, ASCII digits) or "off" -> DailyCap; ValueError otherwise."""
    word = text.strip()[:INPUT_CHARS].casefold()
    if word == "off":
        return DailyCap()
    if word.isascii() and word.isdigit() and 1 <= int(word) <= MAX_CAP:
        return DailyCap(int(word))
    raise ValueError(f"The daily cap is a number of alerts from 1 to {MAX_CAP}, or off.")


def local_day_bounds(tz: str, at_utc: datetime) -> tuple[datetime, datetime]:
    """The local day of time zone `tz` containing `at_utc`: [start, end) in UTC, from its
    midnight to the next (23, 24 or 25 hours long; a skipped midnight starts the day at the
    gap's end). The count a cap compares is of instant alerts sent in this range."""
    at = _aware(at_utc)
    tzinfo_ = zone(tz)
    start = _last_wall(time(0, 0), tzinfo_, at)
    return start, _next_wall(time(0, 0), tzinfo_, start)


# -- the due time of one alert ----------------------------------------------------------------


@dataclass(frozen=True)
class ChatTiming:
    """A chat's delivery settings as stored: time zone name, quiet hours, daily cap."""

    tz: str = DEFAULT_TZ
    quiet: QuietHours | None = None
    cap: DailyCap = DailyCap()

    @classmethod
    def from_columns(cls, tz: str | None, quiet: str | None, cap: int | None) -> ChatTiming:
        """From the chat row's `tz`, `quiet` and `cap` columns (NULLs: the defaults)."""
        return cls(tz or DEFAULT_TZ, parse_quiet(quiet) if quiet else None, DailyCap(cap or None))


Why = Literal["now", "quiet", "digest", "cap"]


@dataclass(frozen=True, order=True)
class Due:
    """When one pending alert goes (`at`, UTC: the outbox's `due_at`) and whether without a
    notification sound (`silent`). `why`: "now" (instant), "quiet" (held for the end of quiet
    hours, or sent silently inside them), "digest" (the subscription's digest time), "cap"
    (past the daily cap, held for the next digest). Ordered by `at` first: `min(dues)` is the
    one to keep when a posting matches several subscriptions of one chat."""

    at: datetime
    silent: bool = False
    why: Why = "now"


def due_for(
    mode: Mode,
    chat: ChatTiming,
    now_utc: datetime,
    *,
    sent_today: int = 0,
    digests: Sequence[Mode] = (),
) -> Due:
    """The due time of an alert queued at `now_utc` (aware) for a subscription in `mode`.

    - digest mode: `next_due(mode)`; quiet hours do not move it (the user chose the time);
    - instant, past the cap (`sent_today` instant alerts already sent or due today): the
      soonest due time of the chat's digest modes `digests` (riding with that digest), else
      its next local midnight, when the count starts over, then as below if that is quiet;
    - instant inside quiet hours: the end of quiet hours, or now and silent if the chat chose
      silent;
    - instant otherwise: now.
    Raises ValueError for a naive datetime or an unknown stored zone.
    """
    now = _aware(now_utc)
    if mode.digest:
        return Due(next_due(mode, chat.tz, now), why="digest")
    at: datetime = now
    why: Why = "now"
    if not chat.cap.allows(sent_today):
        digest_times = [next_due(m, chat.tz, now) for m in digests if m.digest]
        if digest_times:
            # They ride with that digest, which goes at its chosen time, quiet or not.
            return Due(min(digest_times), why="cap")
        at, why = local_day_bounds(chat.tz, now)[1], "cap"
    if chat.quiet is not None and is_quiet(chat.quiet, chat.tz, at):
        held: Why = "quiet" if why == "now" else why
        if chat.quiet.silent:
            return Due(at, silent=True, why=held)
        return Due(quiet_ends(chat.quiet, chat.tz, at), why=held)
    return Due(at, why=why)


# -- the words for /settings and /help --------------------------------------------------------


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def settings_text(
    chat: ChatTiming,
    now_utc: datetime,
    *,
    sent_today: int = 0,
    subscriptions: Iterable[tuple[int, Mode]] = (),
) -> list[str]:
    """The `/settings` summary as plain-text lines (the caller escapes them for HTML): the
    time zone with its local time and offset now, quiet hours, the daily cap with today's
    count, and each (subscription id, mode) with its next digest in local time."""
    now = _aware(now_utc)
    local = now.astimezone(zone(chat.tz))
    lines = [
        f"Time zone: {chat.tz} (now {local:%a %H:%M}, {_offset_text(local)})",
        f"Quiet hours: {chat.quiet.describe() if chat.quiet else 'off'}",
    ]
    if chat.cap.limit is None:
        lines.append("Daily cap: off")
    else:
        lines.append(f"Daily cap: {chat.cap.limit} instant alerts a day ({sent_today} sent today)")
    for sub_id, mode in subscriptions:
        line = f"#{sub_id}: {mode.describe()}"
        if mode.digest:
            upcoming = next_due(mode, chat.tz, now).astimezone(zone(chat.tz))
            line += f" (next: {upcoming:%a %d %b %H:%M})"
        lines.append(line)
    return lines


HELP_TIMING = """\
When alerts come
Each subscription is instant (the default) or a digest: one message a day or a week listing \
its new postings, newest first. Choose when subscribing, /subscribe rust remote --daily 09:00, \
or later: /mode ID instant, /mode ID daily 09:00, /mode ID weekly mon 09:00. An empty digest \
is not sent.
Times are in the chat's time zone (UTC until you set one): /settings tz Berlin, \
/settings tz America/New_York or /settings tz UTC+2. Daylight-saving changes neither skip nor \
repeat a digest.
Quiet hours hold instant alerts and deliver them as one message when they end: \
/settings quiet 22:00-08:00; add silent to get them at once without a sound \
(/settings quiet 22:00-08:00 silent); /settings quiet off. Digests come at the time you chose.
A daily cap, /settings cap 30, keeps instant alerts past 30 a day for the next digest \
(or the next day) instead of dropping them; /settings cap off.
/settings alone shows all of this."""
