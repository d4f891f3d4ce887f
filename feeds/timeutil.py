"""Time handling: zones, local timestamps, and the formats feeds need.

Every datetime that leaves this module is timezone-aware. Local wall-clock
times are resolved against an IANA zone with :mod:`zoneinfo`, so half-hour
offsets (Asia/Tehran was UTC+04:30 in May 2018) and DST changes are right, and
a wall-clock time that a DST change skips or repeats is refused unless an
explicit UTC offset says which instant is meant.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import TimeError as TimeError

# English names, whatever the machine's locale (strftime's %A and %B follow it).
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

#: A clock returns "now" as an aware datetime; tests pass a fixed one.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def require_aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise TypeError(f"{what} must be timezone-aware, got naive {dt!r}")
    return dt


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name`` (``Asia/Tehran``), or a TimeError."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise TimeError(f'{name!r} is not an IANA timezone name (like "Europe/Lisbon")')
    try:
        if not _ZONE_NAME.match(name) or name in _NOT_IANA or name.startswith(("posix/", "right/")):
            raise ZoneInfoNotFoundError(name)  # "localtime", file paths...
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "America", a folder
        raise TimeError(
            f'unknown timezone {name!r}: use an IANA name such as "Asia/Tehran" or '
            f'"America/New_York" (an identifier from the IANA tz database)'
        ) from exc


# Only IANA names: "localtime" would make the output depend on the machine it
# is built on, and a path is not a zone. (Checked by shape, then loaded: listing
# every zone with available_timezones() would cost each command 25 ms.)
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*$")
_NOT_IANA = frozenset({"localtime", "posixrules", "Factory"})


_OFFSET = re.compile(r"^(?:Z|(?P<sign>[+-])(?P<h>\d{2}):?(?P<m>\d{2}))$")


def parse_offset(text: str) -> timedelta:
    """``+04:30``, ``-0500`` or ``Z`` as a timedelta."""
    m = _OFFSET.match(text)
    if not m:
        raise TimeError(f"{text!r} is not a UTC offset; write it like +04:30, -05:00 or Z")
    if text == "Z":
        return timedelta(0)
    hours, minutes = int(m["h"]), int(m["m"])
    if hours > 23 or minutes > 59:
        raise TimeError(f"{text!r} is not a UTC offset (hours run 00-23, minutes 00-59)")
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if m["sign"] == "-" else delta


def format_offset(delta: timedelta) -> str:
    total = int(delta.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def wall_time_exists(local: datetime, tz: ZoneInfo) -> bool:
    """Does naive ``local`` happen in ``tz`` (not skipped when the clocks go forward)?

    A time in the gap does not survive a round trip through UTC.
    """
    aware = local.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local


def is_ambiguous(when: datetime) -> bool:
    """Does ``when``'s wall-clock time happen twice in its zone (clocks go back)?

    PEP 495: only then do the two folds have different offsets (a skipped time
    has them too, so check :func:`wall_time_exists` first for naive input).
    """
    return when.replace(fold=0).utcoffset() != when.replace(fold=1).utcoffset()


# Wide enough for any live blog, narrow enough that converting between zones
# can never overflow datetime's range.
MIN_YEAR, MAX_YEAR = 1900, 2199


def naive_local(date_text: str, time_text: str) -> datetime:
    """Parse ``2018-05-17`` and ``02:30`` (or ``02:30:15``) into a naive datetime.

    The messages name the field that is out of range, because a reporter typing
    at 3 a.m. is more helped by "hours run 00-23" than by "invalid value".
    """
    dm = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", date_text)
    if not dm:
        raise TimeError(f"{date_text!r} is not a date; write it as YYYY-MM-DD")
    tm = re.fullmatch(r"(\d{2}):(\d{2})(?::(\d{2}))?", time_text)
    if not tm:
        raise TimeError(f"{time_text!r} is not a time; write it as HH:MM (24-hour)")
    year, month, day = (int(g) for g in dm.groups())
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise TimeError(f"{date_text!r}: years run {MIN_YEAR}-{MAX_YEAR} here; check the year")
    hour, minute = int(tm[1]), int(tm[2])
    second = int(tm[3] or 0)
    stamp = f"{date_text} {time_text}"
    if not 1 <= month <= 12:
        raise TimeError(f"{stamp!r} is not a date (months run 01-12)")
    if hour > 23:
        raise TimeError(f"{stamp!r} is not a time (hours run 00-23)")
    if minute > 59:
        raise TimeError(f"{stamp!r} is not a time (minutes run 00-59)")
    if second > 59:
        raise TimeError(f"{stamp!r} is not a time (seconds run 00-59)")
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise TimeError(f"{stamp!r} is not a date: {year}-{month:02d} has no day {day}") from exc


def resolve_local(local: datetime, tz: ZoneInfo, offset: timedelta | None = None) -> datetime:
    """The aware instant of wall-clock ``local`` in ``tz``.

    On a DST change a wall-clock time can be skipped (spring forward) or occur
    twice (fall back). Both are errors unless ``offset`` names one of the two
    offsets the zone uses around that moment; an offset the zone never uses
    there is an error too, because it is almost always a typo.
    """
    if local.tzinfo is not None:
        raise TypeError("resolve_local takes a naive wall-clock time")
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    off_first, off_second = first.utcoffset(), second.utcoffset()
    assert off_first is not None and off_second is not None
    if offset is None and off_first == off_second:
        return first  # neither skipped nor repeated (PEP 495: only then do both folds agree)
    stamp = local.strftime("%Y-%m-%d %H:%M")
    key = tz.key
    exists = wall_time_exists(local, tz)
    candidates = [off_first] if off_first == off_second else [off_first, off_second]
    if offset is not None:
        if offset not in candidates:
            valid = " or ".join(format_offset(o) for o in candidates)
            raise TimeError(
                f"offset {format_offset(offset)} is not used by {key} at {stamp} "
                f"(it is {valid} there); fix the offset or remove it"
            )
        return local.replace(tzinfo=timezone(offset)).astimezone(tz)
    if not exists:
        choices = " or ".join(
            f'"{stamp} {format_offset(o)}" '
            f"(that is {local.replace(tzinfo=timezone(o)).astimezone(tz):%H:%M} local)"
            for o in (off_first, off_second)
        )
        raise TimeError(
            f"{stamp} does not exist in {key}: the clocks skip it when daylight saving starts; "
            f"fix the time, or add the offset of the clock it was read from: {choices}"
        )
    if off_first != off_second:
        raise TimeError(
            f"{stamp} happens twice in {key} (clocks go back); add the offset you mean: "
            f'"{stamp} {format_offset(off_first)}" for the first, '
            f'"{stamp} {format_offset(off_second)}" for the second'
        )
    return first


def whole_minute_offset(dt: datetime) -> datetime:
    """The same instant with its UTC offset rounded to the nearest minute.

    Zones' local mean times before standardisation had offsets with seconds
    (Africa/Monrovia until 1972: -00:44:30; Europe/Amsterdam until 1937:
    +00:19:32). RFC 3339 and RFC 822 offsets are hours and minutes only, so
    such a time is written with the offset rounded and the wall-clock time
    moved to match: the instant is exact, the local time off by under 30 s.
    """
    offset = dt.utcoffset()
    if offset is None or not (offset.seconds % 60 or offset.microseconds):
        return dt
    minutes = round(offset.total_seconds() / 60)
    return dt.astimezone(timezone(timedelta(minutes=minutes)))


def rfc3339(dt: datetime) -> str:
    """``2018-05-17T02:30:00+04:30``; UTC is written ``Z``; an offset with seconds is
    rounded to the minute (:func:`whole_minute_offset`)."""
    require_aware(dt, "rfc3339()")
    text = whole_minute_offset(dt).isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def rfc822(dt: datetime, *, gmt: bool = False) -> str:
    """``Thu, 17 May 2018 02:30:00 +0430``: RFC 822 with a four-digit year (RFC 1123).

    English names whatever the locale (``strftime``'s follow it).
    With ``gmt``, the time in UTC written ``GMT``, as OPML and HTTP dates are.
    """
    require_aware(dt, "rfc822()")
    if gmt:
        dt = dt.astimezone(UTC)
        zone_text = "GMT"
    else:
        dt = whole_minute_offset(dt)
        seconds = int(dt.utcoffset().total_seconds())  # type: ignore[union-attr]
        minutes = abs(seconds) // 60
        zone_text = f"{'-' if seconds < 0 else '+'}{minutes // 60:02d}{minutes % 60:02d}"
    return (
        f"{DAY_NAMES[dt.weekday()][:3]}, {dt.day:02d} {MONTH_NAMES[dt.month - 1][:3]} "
        f"{dt.year:04d} {dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} {zone_text}"
    )


_AGO = re.compile(r"^(\d+)\s*(second|minute|hour|day)s?\s+ago$")
_CLOCK_TIME = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?$")
_DATE_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ]+(?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_when(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    """A time typed on the command line, in the story's zone.

    ``now`` and ``5 minutes ago`` (to the minute); ``02:30`` (the latest 02:30
    that is not after now, on the night the clocks change too);
    ``2018-05-17 02:30``; ``2018-05-17T02:30+04:30`` (an exact instant).
    """
    require_aware(now, "now")
    value = " ".join(text.strip().lower().split())
    minute = now.replace(second=0, microsecond=0)
    if value == "now":
        return minute.astimezone(tz)
    if m := _AGO.match(value):
        amount = int(m[1])
        if amount > 100 * 366 * 24 * 3600:
            raise TimeError(f"{text!r} is too long ago")
        try:
            return (minute - timedelta(**{m[2] + "s": amount})).astimezone(tz)
        except OverflowError:
            raise TimeError(f"{text!r} is too long ago") from None
    if _CLOCK_TIME.match(value):
        return _latest_clock_time(value, tz, now)
    if m := _DATE_TIME.match(text.strip()):
        local = naive_local(m["date"], m["time"])
        if m["offset"]:  # an exact instant, whatever zone it was written in
            return local.replace(tzinfo=timezone(parse_offset(m["offset"]))).astimezone(tz)
        return resolve_local(local, tz)
    raise TimeError(
        f'{text!r} is not a time: use 02:30, "2018-05-17 02:30", 2018-05-17T02:30+04:30 '
        'or "5 minutes ago"'
    )


def _latest_clock_time(value: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The latest ``HH:MM`` not after ``now``: today's, else yesterday's.

    On the day the clocks change, today's time may not exist (refused) or may
    have happened twice (the later one if both are past, refused as
    ambiguous: say which with a date and an offset).
    """
    hh, mm, *ss = value.split(":")
    clock = f"{int(hh):02d}:{mm}" + (f":{ss[0]}" if ss else "")
    now_utc = now.astimezone(UTC)
    today = now.astimezone(tz).date()
    for day in (today, today - timedelta(days=1)):
        local = naive_local(day.isoformat(), clock)
        first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
        if not wall_time_exists(local, tz):
            if day == today and first.astimezone(UTC) <= now_utc:
                resolve_local(local, tz)  # raises: it does not exist today
            continue
        past = [t for t in {first.astimezone(UTC), second.astimezone(UTC)} if t <= now_utc]
        if len(past) == 2:
            resolve_local(local, tz)  # raises: it happened twice; say which
        if past:
            return past[0].astimezone(tz)
    raise TimeError(f'{value!r}: give the date too, like "{today} {value}"')
