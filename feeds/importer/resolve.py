"""From blocks to updates with exact times.

Segmenting: a block that opens with a timestamp (or holds a ``<time
datetime>``) starts an update; the blocks after it belong to it until the next
one (or, on an HTML page, until its update element ends). Before the first
update come the headline, the byline, the page date and background; after the
last one, a wider gap (or, on HTML, a heading) starts trailing background.
Boilerplate ("We will be updating this page...") is dropped.

Dating: each update's time is resolved to an aware instant in the story's zone.
A written instant (ISO 8601 with an offset, ``<time datetime>``) is taken as
is; a zone abbreviation (EDT, GMT) fixes the offset; a date heading or a
weekday names the day; a bare time takes its day from the page date and the
list's order. The order rule is what makes a newest-first list of bare times
that crosses midnight go back a day, and what tells the two 01:30s of a DST
night apart: each update must be no later than the one above it (newest
first) or no earlier (oldest first), so of the candidate instants (this day or
the next one back, either side of a clock change) the nearest one that keeps
the order wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ..errors import ImportProblem
from ..timeutil import MAX_YEAR, MIN_YEAR, TimeError, wall_time_exists
from ..timeutil import zone as timeutil_zone
from .page import Page
from .stamps import ZONES, Stamp, find_date_line, find_stamp, stamp_from_attribute

BOILERPLATE = re.compile(
    r"^(we will|we'll|we are|we're) (be )?(continu\w* to )?(updat|follow|bring)|"
    r"(this|the) (page|story|post|blog) (will be|is being|is) updated|"
    r"^(refresh|check back)|as the story (develops|unfolds)|^follow our live",
    re.I,
)
BYLINE = re.compile(r"^(by|reported by|words by)\s|\breporter\b|^posted by", re.I)


@dataclass
class Found:
    """One update found on the page."""

    stamp: Stamp
    title: str
    paragraphs: list[str]
    anchor: str | None = None  # the page's own id for it (HTML)
    day: date | None = None  # from a date heading above it
    when: datetime | None = None  # resolved

    @property
    def text(self) -> str:
        return "\n\n".join(p for p in self.paragraphs if p.strip())


@dataclass
class Reading:
    title: str
    background: list[str]
    updates: list[Found]  # in page order
    order: str  # "newest first" or "oldest first"
    zone: str


def segment(page: Page, year_hint: int | None) -> tuple[list[str], list[Found], list[str]]:
    """(leading background, updates, trailing background) of a page."""
    leading: list[str] = []
    updates: list[Found] = []
    trailing: list[str] = []
    current: Found | None = None
    current_container: str | None = None
    day: date | None = None
    ended = False
    for index, block in enumerate(page.blocks):
        text = block.text
        if BOILERPLATE.search(text) and len(text) < 200:
            continue
        stamp = None
        if block.time_attr:
            rest = text
            if block.time_text:
                rest = text.replace(block.time_text, "", 1).strip(" \n:-–—|")
            stamp = stamp_from_attribute(block.time_attr, rest)
        if stamp is None:
            stamp = find_stamp(text)
        if stamp is None:
            dated = find_date_line(text, year_hint)
            if dated is not None and (block.heading or len(text) < 40):
                day = dated
                if not updates and index < 6:
                    continue  # the page date, near the top
                continue
        if stamp is not None:
            title, paragraphs = "", [stamp.rest] if stamp.rest else []
            if block.heading:
                title, paragraphs = stamp.rest, []
            current = Found(stamp, title, paragraphs, anchor=block.anchor, day=day)
            current_container = block.container
            updates.append(current)
            ended = False
            continue
        if current is None:
            if index == 0 and (block.heading or text == page.title):
                continue  # the headline
            if BYLINE.search(text) and len(text) < 120:
                continue
            if text == page.title:
                continue
            leading.append(text)
            continue
        if ended:
            trailing.append(text)
            continue
        if page.kind == "html" and current_container is not None:
            if block.container == current_container:
                current.paragraphs.append(text)
            else:
                ended = True
                trailing.append(text)
            continue
        if page.kind == "html" and block.heading:
            ended = True  # a heading after the updates starts the page's other content
            trailing.append(text)
            continue
        current.paragraphs.append(text)
    if page.kind == "text" and updates:
        trailing = _split_trailing(page, updates[-1], trailing)
    return leading, updates, trailing


def _split_trailing(page: Page, last: Found, trailing: list[str]) -> list[str]:
    """On a text page, the last update's paragraphs end at a gap wider than usual.

    Text pages have no element that says where an update ends. The gaps
    between an update's own paragraphs are the yardstick: a wider one after
    the last update is where the page's closing background starts.
    """
    blocks = [b for b in page.blocks if not (BOILERPLATE.search(b.text) and len(b.text) < 200)]
    opened = [i for i, b in enumerate(blocks) if find_stamp(b.text) or b.time_attr]
    if not opened:
        return trailing
    # Gaps before follow-up paragraphs of every update but the last.
    inner: list[int] = []
    for start, end in zip(opened, opened[1:], strict=False):
        inner += [b.gap for b in blocks[start + 1 : end]]
    usual = max(inner, default=1)  # one blank line between paragraphs, unless shown otherwise
    follow = blocks[opened[-1] + 1 :]
    keep = 0
    for block in follow:
        if block.gap > usual:
            break
        keep += 1
    moved = [b.text for b in follow[keep:]]
    if moved:
        del last.paragraphs[len(last.paragraphs) - len(moved) :]
    return moved + trailing


def read(page: Page, *, zone: str | None, page_date: date | None) -> Reading:
    """Segment ``page`` and resolve every update's time."""
    reference = page_date or _page_day(page)
    leading, updates, trailing = segment(page, reference.year if reference else None)
    if not updates:
        raise ImportProblem(
            "no update with a timestamp found. Looked for paragraphs or headings that start with "
            "a time: '02:30 Thursday local time:', '10:45 a.m. ET:', '[14:05]', '**14:05**', "
            "'Update 3 (09:12 GMT):', '2018-05-17T02:30+04:30', '## 14:05 — Title'; and for "
            '<time datetime="..."> in HTML updates'
        )
    zone_name = zone or _zone_from_page(updates)
    if zone_name is None:
        raise ImportProblem(
            "the page's times have no zone: give the story's zone with --timezone "
            "(an IANA name such as Asia/Tehran)"
        )
    try:
        tz = timeutil_zone(zone_name)
    except TimeError as exc:
        raise ImportProblem(f"--timezone: {exc}") from None
    order = _order(updates)
    if reference is None and not all(u.stamp.exact or u.stamp.on or u.day for u in updates):
        raise ImportProblem(
            "the page has bare times but no date: give the date of its top update with "
            "--date YYYY-MM-DD"
        )
    _resolve(updates, tz, order, reference)
    title = page.title or (leading[0] if leading else "")
    return Reading(title, leading + trailing, updates, order, zone_name)


def _page_day(page: Page) -> date | None:
    """The page's date: for a newest-first page the last modification dates the top."""
    for value in (page.modified, page.published):
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
    for block in page.blocks[:6]:
        found = find_date_line(block.text, None)
        if found:
            return found
    return None


def _zone_from_page(updates: list[Found]) -> str | None:
    for update in updates:
        if update.stamp.zone and update.stamp.zone in ZONES:
            return ZONES[update.stamp.zone][0]
    return None


def _order(updates: list[Found]) -> str:
    """Newest first unless the page's times mostly go up."""
    ups = downs = 0
    for a, b in zip(updates, updates[1:], strict=False):
        if a.stamp.exact and b.stamp.exact:
            ups += b.stamp.exact > a.stamp.exact
            downs += b.stamp.exact < a.stamp.exact
            continue
        if a.stamp.exact or b.stamp.exact:
            continue
        x = (a.stamp.on or a.day or date.min, a.stamp.hour, a.stamp.minute)
        y = (b.stamp.on or b.day or date.min, b.stamp.hour, b.stamp.minute)
        ups, downs = ups + (y > x), downs + (y < x)
    return "oldest first" if ups > downs else "newest first"


def _candidates(update: Found, tz: ZoneInfo, day: date) -> list[datetime]:
    """The instants this update's written time could mean on ``day``."""
    stamp = update.stamp
    if stamp.exact is not None:
        return [stamp.exact.astimezone(tz)]
    naive = datetime(day.year, day.month, day.day, stamp.hour, stamp.minute, stamp.second)
    if stamp.zone and stamp.zone in ZONES:
        zone_name, offset = ZONES[stamp.zone]
        if offset is not None:
            return [naive.replace(tzinfo=timezone(offset)).astimezone(tz)]
        tz_written = ZoneInfo(zone_name)
    else:
        tz_written = tz
    if not wall_time_exists(naive, tz_written):
        return []  # a time the clocks jump over
    out = [naive.replace(tzinfo=tz_written, fold=fold).astimezone(tz) for fold in (0, 1)]
    # Deduplicated by instant: two datetimes sharing a ZoneInfo compare (and
    # hash) by wall-clock time, so a set would merge the two 01:30s of a DST night.
    unique: dict[datetime, datetime] = {}
    for t in out:  # the first (fold=0) for a time that is not repeated
        unique.setdefault(t.astimezone(UTC), t)
    return [unique[k] for k in sorted(unique)]


def _resolve(updates: list[Found], tz: ZoneInfo, order: str, reference: date | None) -> None:
    newest_first = order == "newest first"
    previous: datetime | None = None
    day = reference
    for update in updates:
        stamp = update.stamp
        if stamp.exact is not None:
            if not MIN_YEAR <= stamp.exact.year <= MAX_YEAR:
                raise ImportProblem(
                    f"{stamp.exact.isoformat()}: years run {MIN_YEAR}-{MAX_YEAR} here; this "
                    "page's time cannot be right"
                )
            update.when = stamp.exact.astimezone(tz)
            previous, day = update.when, update.when.date()
            continue
        if stamp.on:
            days = [stamp.on]
        elif stamp.weekday is not None and (update.day or reference):
            # "02:30 Thursday": the Thursday nearest the page's (or heading's) date.
            days = [_nearest_weekday(update.day or reference, stamp.weekday)]  # type: ignore[arg-type]
        elif update.day:
            days = [update.day]
        else:
            assert day is not None
            step = -1 if newest_first else 1
            days = [day, day + timedelta(days=step)]
        options = [c for d in days if d for c in _candidates(update, tz, d)]
        if not options:
            raise ImportProblem(
                f"{stamp.hour:02d}:{stamp.minute:02d} does not exist in {tz.key} on "
                f"{days[0]}: the clocks skip it; check the page"
            )
        chosen = None
        if previous is not None:
            keeps = [
                c
                for c in options
                if (c.astimezone(UTC) <= previous.astimezone(UTC)) == newest_first
                or c.astimezone(UTC) == previous.astimezone(UTC)
            ]
            if keeps:
                chosen = (max if newest_first else min)(keeps, key=lambda t: t.astimezone(UTC))
        if chosen is None:
            # The first update, or one the order cannot place: its own day, the
            # later instant of a repeated time for a newest-first page.
            same_day = [c for c in options if c.date() == days[0]] or options
            chosen = (max if newest_first else min)(same_day, key=lambda t: t.astimezone(UTC))
        update.when = chosen
        previous = chosen
        day = chosen.date()


def _nearest_weekday(reference: date, weekday: int) -> date:
    """The date with ``weekday`` nearest ``reference`` (later on a tie)."""
    ahead = (weekday - reference.weekday()) % 7
    return reference + timedelta(days=ahead if ahead <= 3 else ahead - 7)
