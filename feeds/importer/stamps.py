"""Timestamps and date lines as live blogs write them, in several languages.

A stamp is looked for only at the *start* of a paragraph or heading (after a
word such as "Updated" or a relative "2 hours ago ·"): a time further in ("the
train due at 14:30") is text. The time itself is matched here (``14:05``,
``2.05pm``, ``4:30 AM EST``, ``14h05``, ``14.05 Uhr``, ``a las 14.05``, ``2:05
p. m.``), with a date before it when there is one (``Feb 3, 10:12 PM``,
``2025-03-01 14:05``); dates are read by python-dateutil with month and
weekday names in English, German, Spanish, French and Portuguese. Turning the
parts into an instant is resolve.py's job.

Zone abbreviations are in feeds.zones.ZONES (the table is in docs/importing.md): a generic one (ET)
names the zone, daylight saving included; a specific one (EDT) also fixes the
offset, which is what tells the two 01:30s of a night the clocks go back apart.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from dateutil import parser as dateutil_parser

from ..timeutil import MAX_YEAR, MIN_YEAR
from ..zones import ZONES as ZONES

# Month and weekday names (lower case, without accents), for dateutil and for
# recognising a date in front of a time.
_MONTHS = [
    ("jan", "january", "januar", "janner", "enero", "ene", "janvier", "janv", "janeiro"),
    ("feb", "february", "februar", "febrero", "fevrier", "fevr", "fev", "fevereiro"),
    ("mar", "march", "marz", "maerz", "mrz", "marzo", "mars", "marco"),
    ("apr", "april", "abril", "abr", "avril", "avr"),
    ("may", "mai", "mayo", "maio"),
    ("jun", "june", "juni", "junio", "juin", "junho"),
    ("jul", "july", "juli", "julio", "juillet", "juil", "julho"),
    ("aug", "august", "agosto", "ago", "aout"),
    ("sep", "sept", "september", "septiembre", "setiembre", "septembre", "setembro", "set"),
    ("oct", "october", "oktober", "okt", "octubre", "octobre", "outubro", "out"),
    ("nov", "november", "noviembre", "novembre", "novembro"),
    ("dec", "december", "dezember", "dez", "diciembre", "dic", "decembre", "dezembro"),
]
_WEEKDAYS = [
    ("mon", "monday", "montag", "mo", "lunes", "lun", "lundi", "segunda", "segunda-feira"),
    ("tue", "tues", "tuesday", "dienstag", "di", "martes", "mar", "mardi", "terca",
     "terca-feira"),
    ("wed", "wednesday", "mittwoch", "mi", "miercoles", "mie", "mercredi", "quarta",
     "quarta-feira"),
    ("thu", "thur", "thurs", "thursday", "donnerstag", "do", "jueves", "jue", "jeudi", "quinta",
     "quinta-feira"),
    ("fri", "friday", "freitag", "fr", "viernes", "vie", "vendredi", "sexta", "sexta-feira"),
    ("sat", "saturday", "samstag", "sonnabend", "sa", "sabado", "sab", "samedi"),
    ("sun", "sunday", "sonntag", "so", "domingo", "dom", "dimanche"),
]  # fmt: skip
MONTH_NUMBER = {name: i + 1 for i, names in enumerate(_MONTHS) for name in names}
WEEKDAY_NUMBER = {name: i for i, names in enumerate(_WEEKDAYS) for name in names}
# Words that may stand in a date line besides the date ("Sunday, the 23rd of
# February", "miércoles 15 de enero de 2025", "le 3 mars", "am 23. Februar").
_FILLERS = {
    "the", "of", "on", "at", "de", "del", "den", "der", "am", "um", "le", "la", "el", "du",
    "a", "las", "los", "em", "as", "ce", "en", "y", "und", "and", "feira",
}  # fmt: skip


def fold(text: str) -> str:
    """Lower case without accents: how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Names(dateutil_parser.parserinfo):  # type: ignore[misc]
    """dateutil's parser, knowing month and weekday names in five languages."""

    JUMP = [*dateutil_parser.parserinfo.JUMP, *_FILLERS, "·", "|", "–", "—"]
    MONTHS = [tuple(names) for names in _MONTHS]
    WEEKDAYS = [tuple(names) for names in _WEEKDAYS]

    def __init__(self, dayfirst: bool = False) -> None:
        super().__init__(dayfirst=dayfirst)


_PARSER = dateutil_parser.parser(_Names())
_PARSER_DAYFIRST = dateutil_parser.parser(_Names(dayfirst=True))

_SEP = r"(?:\s*[:\-–—|·•]+\s*|\s+|$)"  # between the stamp and the text
_ZONE = r"(?P<zone>" + "|".join(sorted(ZONES, key=len, reverse=True)) + r")"
_PREFIX = (
    r"(?:(?:last\s+)?(?:updated|update|posted|published|actualizado|actualización|"
    r"aktualisiert|aktualisierung|stand|mis\s+à\s+jour|publié|atualizado|atualização|"
    r"publicado)\b\s*(?:at|a\s+las|um|à|às|a\s+las)?\s*:?\s*)?"
)
_RELATIVE = (
    r"(?:(?:\d+|an?|one)\s*(?:min(?:ute)?s?|m|hours?|hrs?|h|days?|d)\s+ago\s*[·•|,\-–—]?\s*|"
    r"(?:hace|vor|il\s+y\s+a|há)\s+\d+\s*\w+\s*[·•|,\-–—]?\s*|just\s+now\s*[·•|,\-–—]?\s*)?"
)
_DATE_WORD = r"[^\W\d_][^\W\d_.]{1,11}\.?"
_DATE = (
    r"(?:(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}|"
    r"(?:" + _DATE_WORD + r",?\s+)?(?:" + _DATE_WORD + r"\s+\d{1,2}(?:st|nd|rd|th)?|"
    r"\d{1,2}(?:st|nd|rd|th)?\.?\s+(?:de\s+)?" + _DATE_WORD + r")(?:,?\s+(?:de\s+)?\d{4})?)"
    r"\s*(?:,|\s|T|·|\||-|–)\s*(?:at\s+|um\s+|à\s+|às\s+|a\s+las\s+)?)?"
)
_TIME = (
    r"(?P<at>a\s+las\s+|à\s+|às\s+|um\s+|at\s+|ore\s+|alle\s+|om\s+)?"
    r"(?P<h>\d{1,2})(?:(?P<sep>[:.h])(?P<m>\d{2})(?::(?P<s>\d{2}))?)?"
    r"(?:\s*(?P<ampm>[ap])\.?\s?m\b\.?)?"
    r"(?P<suffix>\s*(?:uhr|uur|hrs|hs|h)\b\.?)?"
    r"(?:\s*\(?" + _ZONE + r"\)?(?![\w]))?"
    r"(?:\s*,?\s*(?P<weekday>[^\W\d_]+day))?"
    r"(?P<local>\s+(?:local\s+time|hora\s+local|ortszeit|heure\s+locale))?"
)
_STAMP = re.compile(
    r"^\s*(?:\[|\*\*|__|\(|\+{2,3}\s*)?"
    + _PREFIX
    + _RELATIVE
    + _DATE
    + _TIME
    + r"(?:\s*[:\-–—]?\s*(?:\]|\*\*|__|\)|\+{2,3}))?",
    re.IGNORECASE,
)
_ISO = re.compile(
    r"^\s*(?P<iso>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))",
    re.I,
)
_NUMBERED = re.compile(r"^\s*update\s+\d+\s*\((?P<inner>[^)]{3,30})\)", re.I)


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


def find_stamp(text: str, year: int | None = None) -> Stamp | None:
    """The timestamp opening ``text``, if it has one; ``year`` completes a date
    written without one."""
    head = text[:160]
    m = _ISO.match(head)
    if m:
        try:
            value = datetime.fromisoformat(m["iso"].replace("Z", "+00:00").replace(" ", "T"))
        except ValueError:
            return None
        rest = _rest(text, m.end())
        if rest is None:
            return None
        return Stamp("iso", rest, exact=value)
    numbered = _NUMBERED.match(head)
    if numbered:
        inner = find_stamp(numbered["inner"], year)
        rest = _rest(text, numbered.end())
        if inner is None or rest is None:
            return None
        return Stamp("numbered", rest, inner.hour, inner.minute, zone=inner.zone, on=inner.on)
    m = _STAMP.match(head)
    if not m:
        return None
    rest = _rest(text, m.end())
    if rest is None:
        return None
    ampm = (m["ampm"] or "").lower()
    if m["m"] is None and not ampm:
        return None  # "3 of 44": a number; "3 p.m." is a time
    hour, minute = int(m["h"]), int(m["m"] or 0)
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    separator = m["sep"]
    explicit = bool(ampm or m["suffix"] or m["zone"] or m["local"] or m["weekday"] or m["at"])
    if separator == "." and not explicit and not _separated(text, m.end()):
        return None  # "12.50 euros": a number, not a stamp
    if separator == "h" and m["suffix"]:
        return None
    on = None
    if m["date"]:
        on = parse_date(m["date"], year)
        if on is None:
            return None
    weekday = None
    if m["weekday"]:
        weekday = WEEKDAY_NUMBER.get(fold(m["weekday"]))
        if weekday is None:
            return None
    return Stamp(
        "time",
        rest,
        hour,
        minute,
        int(m["s"] or 0),
        weekday=weekday,
        zone=m["zone"].upper() if m["zone"] else None,
        on=on,
    )


def _separated(text: str, end: int) -> bool:
    """After a time written with "." or "h": a dash, colon, bar or the line's end."""
    return bool(re.match(r"\s*(?:[:\-–—|·•]|\n|$)", text[end:]))


def _rest(text: str, end: int) -> str | None:
    """The text after a stamp, or None if the stamp runs into a word or number."""
    after = text[end:]
    if after and not re.match(r"[\s:\-–—|·•,.]", after):
        return None  # "14:05pm" is read whole; "14:05x" is not a stamp
    return after.lstrip(" \t:-–—|·•,").lstrip("\n").strip()


def stamp_from_attribute(value: str, rest: str) -> Stamp | None:
    """``<time datetime="...">``: an instant, or a local date and time."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return Stamp("time-element", rest, exact=parsed)
    if len(value.strip()) <= 10:
        return None  # a date only: it dates the page, it does not time an update
    return Stamp("time-element", rest, parsed.hour, parsed.minute, parsed.second, on=parsed.date())


def parse_date(text: str, year: int | None) -> date | None:
    """A written date (month names in five languages), its year from ``year`` if
    it has none; None if it is not a whole date."""
    cleaned = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", fold(text)).strip(" ,.·|-–—:")
    if not re.search(r"\d", cleaned):
        return None
    numeric = re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{2,4})", cleaned)
    results = []
    for base_year in (2000, 2001):  # two defaults tell a written field from a filled one
        default = datetime(year or base_year, 1, 1) if year else datetime(base_year, 1, 1)
        try:
            got = (_PARSER_DAYFIRST if numeric or _day_first(cleaned) else _PARSER).parse(
                cleaned, default=default, fuzzy=False
            )
        except (ValueError, OverflowError, TypeError):
            return None
        results.append(got)  # a datetime
    a, b = results
    if a.year != b.year and year is None:
        return None  # no year written and none known
    if not (MIN_YEAR <= a.year <= MAX_YEAR):
        return None
    if not _names_a_day(cleaned):
        return None
    day: date = a.date()
    return day


def _day_first(text: str) -> bool:
    return bool(re.match(r"^(?:[^\W\d_]+,?\s+)?\d{1,2}\.?\s", text))


def _names_a_day(text: str) -> bool:
    """A month (by name or number) and a day number are written."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}", text):
        return True
    words = re.findall(r"[^\W\d_]+", text)
    return any(w in MONTH_NUMBER for w in words) and bool(re.search(r"\b\d{1,2}\b", text))


DATE_LINE_PREFIX = re.compile(
    r"^(?:(?:last\s+)?(?:updated|published|first\s+published|posted|stand|aktualisiert|"
    r"veröffentlicht|actualizado|publicado|mis\s+à\s+jour|publié\s+le|publié|atualizado)"
    r"\b\s*(?:on|am|el|le|em)?\s*:?\s*)",
    re.IGNORECASE,
)
_TRAILING_TIME = re.compile(
    r"[,\s]+(?:at\s+|um\s+|à\s+|às\s+|a\s+las\s+|-\s+)?\d{1,2}[:.h]\d{2}(?:\s*[ap]\.?\s?m\.?)?"
    r"(?:\s*(?:uhr|h))?(?:\s*" + _ZONE + r")?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DateLine:
    day: date
    kind: str  # "date" (a date on its own), "updated" (a last-updated line), "published"


def find_date_line(text: str, year: int | None) -> date | None:
    found = read_date_line(text, year)
    return found.day if found else None


def read_date_line(text: str, year: int | None) -> DateLine | None:
    """The date if ``text`` is a date on its own line ("Saturday 3 June",
    "Sonntag, 23. Februar 2025", "Stand: 24.02.2025, 00:35 Uhr")."""
    text = text.strip().strip("*_#").strip()
    if not text or len(text) > 60 or "\n" in text:
        return None
    kind = "date"
    prefix = DATE_LINE_PREFIX.match(text)
    if prefix:
        word = fold(prefix.group()).strip()
        kind = "published" if "publi" in word or "veroff" in word else "updated"
        text = text[prefix.end() :]
    text = _TRAILING_TIME.sub("", text)
    words = [w for w in re.findall(r"[^\W\d_]+", fold(text)) if w not in _FILLERS]
    if any(w not in MONTH_NUMBER and w not in WEEKDAY_NUMBER for w in words):
        return None  # other words: a sentence that mentions a date
    day = parse_date(text, year)
    return DateLine(day, kind) if day else None


_DATE_IN_TEXT = re.compile(
    r"\b(\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4}|"
    r"(?:[^\W\d_]{3,10}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})|"
    r"(?:\d{1,2}(?:st|nd|rd|th)?\.?\s+(?:de\s+)?[^\W\d_]{3,10}\.?,?\s+(?:de\s+)?\d{4}))\b"
)
_UPDATED_WORD = re.compile(r"updat|stand|actualiz|aktualis|atualiz|mis à jour|modif", re.I)


def dates_in_text(text: str) -> list[DateLine]:
    """Whole dates (with a year) written inside a line, such as a byline's
    "Published Mon., March 3, 2025 at 6:02 a.m. PT · Updated 3:48 p.m. PT"."""
    found = []
    for m in _DATE_IN_TEXT.finditer(text):
        day = parse_date(m.group(), None)
        if day is None:
            continue
        before = text[: m.start()]
        last_word = before[-30:]
        kind = "updated" if _UPDATED_WORD.search(last_word) else "published"
        found.append(DateLine(day, kind))
    return found
