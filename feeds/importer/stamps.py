"""Timestamp styles live blogs use at the start of an update.

Each recogniser looks only at the *start* of a paragraph or heading: a time
further in ("the train due at 14:30") is text. A match gives the parts of the
time that were written; turning them into an instant is resolve.py's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..timeutil import DAY_NAMES, MONTH_NAMES

WEEKDAYS = tuple(d.lower() for d in DAY_NAMES)
MONTHS = tuple(m.lower() for m in MONTH_NAMES)

# Zone abbreviations that newsrooms print. A generic one (ET) means the zone,
# daylight saving included; a specific one (EDT) also fixes the offset.
ZONES: dict[str, tuple[str, timedelta | None]] = {
    "ET": ("America/New_York", None),
    "EST": ("America/New_York", timedelta(hours=-5)),
    "EDT": ("America/New_York", timedelta(hours=-4)),
    "CT": ("America/Chicago", None),
    "CST": ("America/Chicago", timedelta(hours=-6)),
    "CDT": ("America/Chicago", timedelta(hours=-5)),
    "MT": ("America/Denver", None),
    "MST": ("America/Denver", timedelta(hours=-7)),
    "MDT": ("America/Denver", timedelta(hours=-6)),
    "PT": ("America/Los_Angeles", None),
    "PST": ("America/Los_Angeles", timedelta(hours=-8)),
    "PDT": ("America/Los_Angeles", timedelta(hours=-7)),
    "GMT": ("UTC", timedelta(0)),
    "UTC": ("UTC", timedelta(0)),
    "Z": ("UTC", timedelta(0)),
    "BST": ("Europe/London", timedelta(hours=1)),
    "UK": ("Europe/London", None),
    "CET": ("Europe/Paris", timedelta(hours=1)),
    "CEST": ("Europe/Paris", timedelta(hours=2)),
    "IRST": ("Asia/Tehran", timedelta(hours=3, minutes=30)),
    "IRDT": ("Asia/Tehran", timedelta(hours=4, minutes=30)),
    "IST": ("Asia/Kolkata", timedelta(hours=5, minutes=30)),
    "JST": ("Asia/Tokyo", timedelta(hours=9)),
    "AEST": ("Australia/Sydney", timedelta(hours=10)),
    "AEDT": ("Australia/Sydney", timedelta(hours=11)),
}

_SEP = r"\s*(?:[:\-–—|]\s*|\s)"  # what separates the stamp from the text
_WEEKDAY = r"(?P<weekday>mon|tues|wednes|thurs|fri|satur|sun)day"
_ZONE = r"(?P<zone>" + "|".join(sorted(ZONES, key=len, reverse=True)) + r")"

STYLES: list[tuple[str, re.Pattern[str]]] = [
    # 2018-05-17T02:30:00+04:30 — text ; 2018-05-17 02:30 — text
    (
        "iso",
        re.compile(
            r"^(?P<iso>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)" + _SEP,
            re.I,
        ),
    ),
    # Update 3 (09:12 GMT): text
    (
        "numbered",
        re.compile(
            r"^update\s+\d+\s*\((?P<h>\d{1,2}):(?P<m>\d{2})\s*(?:(?P<ampm>[ap])\.?m\.?\s*)?"
            + _ZONE
            + r"?\)"
            + _SEP,
            re.I,
        ),
    ),
    # [14:05] text ; **14:05** text
    (
        "bracketed",
        re.compile(
            r"^(?:\[|\*\*|__)(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:\s*(?P<ampm>[ap])\.?m\.?)?"
            r"(?:\s*" + _ZONE + r")?(?:\]|\*\*|__)" + _SEP,
            re.I,
        ),
    ),
    # 10:45 a.m. ET: text ; 2:15 PM EDT - text
    (
        "12-hour",
        re.compile(
            r"^(?P<h>\d{1,2}):(?P<m>\d{2})\s*(?P<ampm>[ap])\.?\s*m\.?(?:\s*" + _ZONE + r")?" + _SEP,
            re.I,
        ),
    ),
    # 02:30 Thursday local time: text ; 14:05 GMT: text ; 14:05 - text
    (
        "24-hour",
        re.compile(
            r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?:\s+" + _WEEKDAY + r")?(?:\s+" + _ZONE + r")?"
            r"(?:\s+local\s+time)?(?:\s*[:\-–—|]\s*|\s*$)",
            re.I,
        ),
    ),
]

# A paragraph or heading that is only a date: it dates the bare times below it.
_DATE_LINE = [
    re.compile(
        r"^(?:" + _WEEKDAY + r",?\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month>[a-z]+)"
        r"(?:,?\s+(?P<year>\d{4}))?\s*[-–—:]?$",
        re.I,
    ),
    re.compile(
        r"^(?:" + _WEEKDAY + r",?\s+)?(?P<month>[a-z]+)\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?"
        r"(?:,?\s+(?P<year>\d{4}))?\s*[-–—:]?$",
        re.I,
    ),
    re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\s*[-–—:]?$"),
]


@dataclass(frozen=True)
class Stamp:
    """The parts of a time as written at the start of an update."""

    style: str
    rest: str  # the paragraph without the stamp
    hour: int = 0
    minute: int = 0
    second: int = 0
    weekday: int | None = None  # 0 = Monday
    zone: str | None = None  # abbreviation as written, upper case
    on: date | None = None  # a date written with the time
    exact: datetime | None = None  # an instant (ISO 8601 with an offset, <time datetime>)


def find_stamp(text: str) -> Stamp | None:
    """The timestamp opening ``text``, if it has one."""
    for style, pattern in STYLES:
        m = pattern.match(text)
        if not m:
            continue
        rest = text[m.end() :].strip()
        if style == "iso":
            value = datetime.fromisoformat(m["iso"].replace("Z", "+00:00").replace(" ", "T"))
            if value.tzinfo is not None:
                return Stamp(style, rest, exact=value)
            return Stamp(style, rest, value.hour, value.minute, value.second, on=value.date())
        hour, minute = int(m["h"]), int(m["m"])
        ampm = (m.groupdict().get("ampm") or "").lower()
        if ampm:
            if not 1 <= hour <= 12:
                continue
            hour = hour % 12 + (12 if ampm == "p" else 0)
        if hour > 23 or minute > 59:
            continue
        weekday = m.groupdict().get("weekday")
        zone = m.groupdict().get("zone")
        return Stamp(
            style,
            rest,
            hour,
            minute,
            weekday=WEEKDAYS.index(weekday.lower() + "day") if weekday else None,
            zone=zone.upper() if zone else None,
        )
    return None


def stamp_from_attribute(value: str, rest: str) -> Stamp | None:
    """``<time datetime="...">``: an instant, or a local date and time."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return Stamp("time-element", rest, exact=parsed)
    return Stamp("time-element", rest, parsed.hour, parsed.minute, parsed.second, on=parsed.date())


def find_date_line(text: str, year: int | None) -> date | None:
    """The date if ``text`` is a date on its own ("Saturday 3 June", "June 3, 2023")."""
    text = text.strip().strip("*_#").strip()
    if len(text) > 40:
        return None
    for pattern in _DATE_LINE:
        m = pattern.match(text)
        if not m:
            continue
        month = m["month"]
        if month.isdigit():
            number = int(month)
        else:
            names = [n for n in MONTHS if n.startswith(month.lower()[:3])]
            if not names or len(month) < 3:
                continue
            number = MONTHS.index(names[0]) + 1
        written_year = int(m["year"]) if m["year"] else year
        if written_year is None:
            continue
        try:
            return date(written_year, number, int(m["day"]))
        except ValueError:
            continue
    return None
