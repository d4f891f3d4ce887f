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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ..errors import ImportProblem
from ..timeutil import MAX_YEAR, MIN_YEAR, TimeError, wall_time_exists
from ..timeutil import zone as timeutil_zone
from .page import Block, Page
from .stamps import (
    DATE_LINE_PREFIX,
    ZONES,
    Stamp,
    dates_in_text,
    find_stamp,
    read_date_line,
    stamp_from_attribute,
)

BOILERPLATE = re.compile(
    r"^(we will|we'll|we are|we're) (be )?(continu\w* to )?(keep |updat|follow|bring)|"
    r"(this|the) (page|story|post|blog) (will be|is being|is) (updated|refreshed)|"
    r"^(refresh|check back)|as the story (develops|unfolds)|^follow our live|"
    r"diese seite wird (laufend )?aktualisiert|"
    r"wir (berichten|halten sie) .* (auf dem laufenden|live)|"
    r"esta (página|noticia) se (actualiza|irá actualizando)|seguiremos informando|"
    r"cette page (est|sera) (mise à jour|actualisée)|esta página (é|será) atualizada|"
    r"^latest updates first|^newest first|^show (more|key events|all)|^load more|"
    r"wir aktualisieren (diesen|den) (artikel|beitrag|liveblog)|"
    r"(este|el) (directo|artículo) se (actualiza|irá actualizando)",
    re.I,
)
# Furniture: a line that is only one of these is never text of an update.
FURNITURE = {
    "share", "share this", "share this story", "share this post", "facebook", "x", "twitter",
    "email", "e-mail", "whatsapp", "linkedin", "telegram", "reddit", "bluesky", "threads",
    "copy link", "copy", "link", "print", "advertisement", "advertising", "ad", "sponsored",
    "anzeige", "werbung", "teilen", "link kopieren", "publicidad", "compartir", "copiar enlace",
    "publicité", "partager", "copier le lien", "publicidade", "compartilhar", "copiar link",
    "skip to content", "skip to main content", "menu", "search", "log in", "sign in",
    "subscribe", "comments", "comment", "jump to", "back to top", "top",
}  # fmt: skip
# A heading or a line that starts what follows the updates (or a box between them).
TAIL = re.compile(
    r"^(background|context|what we know|what you need to know|key (facts|dates)|explainer|"
    r"read more|read also|also read|more on this story|more on this|more from|related|"
    r"related (stories|articles|news|coverage|links)|see also|full results|full scorecard|"
    r"results|most read|most popular|trending|recommended|you may also like|newsletter|"
    r"sign up|have a (news )?tip|donate|support (us|our)|about (this|us)|"
    r"hintergrund|zum hintergrund|mehr zum thema|lesen sie auch|auch interessant|weitere artikel|"
    r"das könnte sie auch interessieren|contexto|antecedentes|más noticias|más información|"
    r"lea también|le puede interesar|te puede interesar|noticias relacionadas|"
    r"contexte|à lire aussi|lire aussi|sur le même sujet|pour aller plus loin|"
    r"leia (também|mais)|saiba mais|entenda|notícias relacionadas|relacionadas)\b",
    re.I,
)
COPYRIGHT = re.compile(
    r"©|\(c\)\s*\d{4}|copyright|all rights reserved|alle rechte vorbehalten|"
    r"todos los derechos reservados|tous droits réservés|todos os direitos reservados",
    re.I,
)
# Lines that start the page's tail even as a short sentence ("Have a news tip? ...").
TAIL_PHRASE = re.compile(
    r"^(have a (news )?tip|read more|related|more on this story|sign up|subscribe to|"
    r"lesen sie (auch|mehr)|mehr zum|lea también|leia também|lire aussi|à lire aussi)\b",
    re.I,
)
SEPARATOR = re.compile(r"^\s*([*_=~\-•■◆·]\s*){3,}$")
# A heading above a box of highlights: what follows it summarises updates.
KEY_EVENTS = re.compile(
    r"^(key (events|moments|points|updates)|highlights|summary|the latest|latest|in brief|"
    r"at a glance|das wichtigste( in kürze)?|überblick|lo (más|mas) importante|lo último|"
    r"resumen|claves|l'essentiel|ce qu'il faut retenir|en bref|resumo|destaques|"
    r"o que (se )?sabe)\b",
    re.I,
)
BYLINE = re.compile(
    r"^(by|reported by|words by|posted by|written by|edited by|reporting by|von|por|par|"
    r"redacción|redação|redaktion)\s|\breporter\b|^(staff|redacción|redação)\b",
    re.I,
)


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
    warnings: list[str] = field(default_factory=list)  # where a boundary is a guess


def _is_furniture(text: str, repeated: set[str]) -> bool:
    lines = [ln.strip().strip("·|•").strip() for ln in text.split("\n") if ln.strip()]
    return bool(lines) and all(
        ln.lower().rstrip(":") in FURNITURE
        or ln in repeated
        or re.fullmatch(r"\d+ comments?|comments \(\d+\)", ln, re.I)
        or (len(ln) < 60 and all(w.lower().strip(":,|") in FURNITURE for w in ln.split()))
        or _link_row(ln)
        for ln in lines
    )


def _boilerplate(text: str) -> bool:
    """A line about the page ("We will update this page..."), not news: one that
    starts so, or is short; the closing words of a real update ("...are back on.
    Seguiremos informando mañana.") keep it an update."""
    first = text.strip().split("\n", 1)[0]
    found = BOILERPLATE.search(first)
    return found is not None and len(text) < 300 and (found.start() <= 3 or len(first) < 100)


def _link_row(line: str) -> bool:
    """ "Impressum | Datenschutz | Kontakt": a row of the site's links."""
    parts = re.split(r"\s+[|·•]\s+", line)
    return len(parts) >= 3 and all(1 <= len(p.split()) <= 4 for p in parts)


def _strip_furniture(text: str, repeated: set[str]) -> str:
    """Drop furniture lines at the end of a block ("Share", "Advertisement")."""
    lines = text.split("\n")
    while lines and (not lines[-1].strip() or _is_furniture(lines[-1], repeated)):
        lines.pop()
    return "\n".join(lines)


def _repeated_lines(page: Page) -> set[str]:
    """Short lines that occur three times or more: buttons and labels of the site."""
    counts: dict[str, int] = {}
    for block in page.blocks:
        for line in block.text.split("\n"):
            line = line.strip()
            if line and len(line) <= 30:
                counts[line] = counts.get(line, 0) + 1
    return {line for line, n in counts.items() if n >= 3 and find_stamp(line) is None}


def _ends_updates(block: Block) -> bool:
    """Does this block start something that is not an update (a box, the page's tail)?"""
    if SEPARATOR.match(block.text.strip().split("\n", 1)[0]):
        return True
    text = block.text.strip().strip("*_#").strip()
    first = text.split("\n", 1)[0]
    if COPYRIGHT.search(first) and len(text) < 300:
        return True
    if _boilerplate(text):
        return True
    short = len(first) <= 60 and not first.rstrip().endswith((".", "!", "?", '"', "”"))
    if TAIL.match(first) and (short or block.heading or first.rstrip().endswith(":")):
        return True
    if TAIL_PHRASE.match(first) and len(first) < 120:
        return True
    if (
        len(text) <= 80
        and "\n" not in text
        and DATE_LINE_PREFIX.match(text)
        and dates_in_text(text)
    ):
        return True  # "Posted 11 Jun 2025, updated 12 Jun 2025": the page's own dates
    return block.linked and len(text) < 400 and block.heading == 0


def _heading_like(line: str) -> bool:
    """A section heading in a text page: a few words, no digits, no sentence end."""
    line = line.strip()
    words = line.split()
    return (
        1 <= len(words) <= 6
        and len(line) <= 45
        and line[:1].isupper()
        and not re.search(r"\d|:|[.!?,;\"”’)]$", line)
    )


def segment(
    page: Page, year_hint: int | None, warnings: list[str] | None = None
) -> tuple[list[str], list[Found], list[str]]:
    """(leading background, updates, trailing background) of a page; where a
    boundary is a guess, a line for the user is added to ``warnings``."""
    warnings = [] if warnings is None else warnings
    boxed: list[str] = []
    leading: list[str] = []
    updates: list[Found] = []
    trailing: list[str] = []
    current: Found | None = None
    current_container: str | None = None
    day: date | None = None
    ended = False
    in_box = False  # inside a key-events box: its times are not updates
    repeated = _repeated_lines(page)
    site_name = _site_name(page)
    last_stamp = max(
        (i for i, b in enumerate(page.blocks) if b.time_attr or find_stamp(b.text, year_hint)),
        default=-1,
    )
    for index, block in enumerate(page.blocks):
        text = block.text if block.time_attr else _strip_furniture(block.text, repeated)
        if not block.time_attr and (not text.strip() or _is_furniture(text, repeated)):
            continue
        stamp = None
        if block.time_attr:
            rest = text
            if block.time_text:
                rest = text.replace(block.time_text, "", 1).strip(" \n:-–—|·")
            stamp = stamp_from_attribute(block.time_attr, rest)
        if stamp is None:
            stamp = find_stamp(text, year_hint)
        if stamp is None:
            dated = read_date_line(text, year_hint)
            if dated is not None and (block.heading or len(text) < 60):
                if current is not None or block.heading:
                    day = dated.day  # a date heading: it dates the times below it
                if current is not None:
                    ended = True
                continue
        heading_box = block.heading or (len(text) < 40 and "\n" not in text)
        if stamp is None and heading_box and KEY_EVENTS.match(text.strip("*_# ")):
            in_box = True
            continue
        if in_box:
            if (
                stamp is not None
                and (block.container is None or page.kind == "text")
                and _boxed(page, index)
            ):
                boxed.append(_quote(text))
                continue
            in_box = False
        if stamp is not None and (block.heading == 1 or BYLINE.search(text)):
            stamp = None  # "By A and B · Updated 11:42": a byline, not an update
            warnings.append(f"not an update: {_quote(text)} (a byline or headline with a time)")
        if stamp is not None:
            title, paragraphs = "", [stamp.rest] if stamp.rest else []
            if block.heading:
                title, paragraphs = stamp.rest, []
            elif stamp.rest and "\n" in stamp.rest:
                head, body = stamp.rest.split("\n", 1)
                if _looks_like_title(head):
                    title, paragraphs = head.strip("*_ "), [body.strip()]
            current = Found(stamp, title, paragraphs, anchor=block.anchor, day=day)
            current_container = block.container
            updates.append(current)
            ended = False
            continue
        if current is None:
            if index == 0 and (block.heading or text == page.title):
                continue  # the headline
            if BYLINE.search(text) and len(text) < 160:
                continue
            if text == page.title or block.heading == 1:
                continue
            if _ends_updates(block) or _boilerplate(text):
                continue
            leading.append(text)
            continue
        if ended:
            trailing.append(text)
            continue
        if page.kind == "html" and current_container is not None:
            if block.container == current_container:
                if (block.heading or _BOLD_LINE.fullmatch(text)) and not (
                    current.title or current.paragraphs
                ):
                    current.title = text.strip("*_ ")
                else:  # the update's own element says what belongs to it
                    current.paragraphs.append(_as_item(block, text))
                continue
            ended = True
            if not _ends_updates(block) and not block.heading and block.container is None:
                trailing.append(text)
            continue
        strong = _ends_updates(block)
        if strong or (
            page.kind == "text"
            and index > last_stamp  # after the last update's first paragraph only
            and current.paragraphs
            and not current.paragraphs[-1].rstrip().endswith(":")  # its list
            and (
                _heading_like(text.split("\n", 1)[0])
                or _heading_like(text.split("\n", 1)[0].rstrip(":"))
                and "\n" in text
                or (site_name and text.startswith(site_name + " "))
            )
        ):
            ended = True
            if not strong:
                warnings.append(
                    f"the updates were taken to end before {_quote(text)} (it reads like a "
                    "section heading or the publisher's note): check the last update"
                )
            if not _boilerplate(text) and not COPYRIGHT.search(text):
                trailing.append(text)
            continue
        if page.kind == "html" and (block.heading or _BOLD_LINE.fullmatch(text)):
            if not (current.title or current.paragraphs) and block.heading in (0, 3, 4, 5, 6):
                current.title = text.strip("*_ ")
                continue
            if not block.heading:
                current.paragraphs.append(_as_item(block, text))
                continue
            ended = True  # a heading after the updates starts the page's other content
            trailing.append(text)
            continue
        if (
            not current.paragraphs
            and not current.title
            and _looks_like_title(text)
            and page.kind == "text"
        ):
            current.title = text.strip("*_ ")
            continue
        current.paragraphs.append(_as_item(block, text))
    if page.kind == "text" and updates:
        before = len(trailing)
        trailing = _split_trailing(page, updates[-1], trailing)
        if len(trailing) > before:
            warnings.append(
                f"the last update was taken to end before {_quote(trailing[0])} (a wider gap "
                "between paragraphs): check it"
            )
    trailing = _background_only(trailing)
    if boxed:
        warnings.append(
            f"{len(boxed)} times in a highlights box were read as summaries, not updates "
            f"(the first: {boxed[0]})"
        )
    return leading, updates, trailing


CONTEXT = re.compile(
    r"^(background|context|what we know|what you need to know|key facts|explainer|"
    r"hintergrund|zum hintergrund|contexto|antecedentes|contexte|le contexte|entenda|"
    r"o que se sabe|sfondo|il contesto|achtergrond)\b",
    re.I,
)


def _background_only(trailing: list[str]) -> list[str]:
    """Of what follows the updates, what is background: a context section is kept,
    while related-story lists, "Read more" links, copyright lines and the site's
    furniture after them are dropped (until another context section)."""
    kept: list[str] = []
    dropping = False
    for text in trailing:
        first = text.strip().strip("*_#").strip().split("\n", 1)[0]
        if CONTEXT.match(first):
            dropping = False
        elif (
            TAIL.match(first)
            or TAIL_PHRASE.match(first)
            or COPYRIGHT.search(first)
            or _link_row(first)
            or _boilerplate(text)
        ):
            dropping = True
            continue
        if not dropping:
            kept.append(text)
    return kept


def _quote(text: str) -> str:
    words = " ".join(text.split())
    return repr(words if len(words) <= 50 else words[:49] + "…")


_BOLD_LINE = re.compile(r"\*\*[^*\n]{3,160}\*\*")


def _as_item(block: Block, text: str) -> str:
    """A list item of the page stays one in the update's Markdown."""
    return f"{block.item} {text}" if block.item else text


def _site_name(page: Page) -> str:
    """A text page's first line, when it is short: the publication's name."""
    if page.kind != "text" or not page.blocks:
        return ""
    first = page.blocks[0].text.split("\n", 1)[0].strip()
    return first if 3 <= len(first) <= 40 and find_stamp(first) is None else ""


def _looks_like_title(line: str) -> bool:
    """A short line without a closing full stop, or one in bold: an update's headline."""
    line = line.strip()
    if _BOLD_LINE.fullmatch(line):
        return True
    return (
        3 <= len(line) <= 90
        and not line.endswith((".", ":", ",", ";", '"', "”", "’"))
        and line[:1].isupper()
        and len(line.split()) >= 2
    )


def _boxed(page: Page, index: int) -> bool:
    """Is the stamped block at ``index`` an entry of a highlights box (a short
    line of a list of times) rather than an update?"""
    block = page.blocks[index]
    lines = [ln for ln in block.text.split("\n") if ln.strip()]
    if page.kind == "text":
        return len(lines) > 1 and all(find_stamp(ln) for ln in lines) or len(block.text) < 90
    return len(block.text) < 120


def _split_trailing(page: Page, last: Found, trailing: list[str]) -> list[str]:
    """On a text page, the last update's paragraphs end at a gap wider than usual.

    Text pages have no element that says where an update ends. The gaps
    between an update's own paragraphs are the yardstick: a wider one after
    the last update is where the page's closing background starts.
    """
    blocks = [b for b in page.blocks if not _boilerplate(b.text)]
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
    moved = [b.text for b in follow[keep:] if b.text in last.paragraphs]
    if moved:
        del last.paragraphs[len(last.paragraphs) - len(moved) :]
    return moved + trailing


def read(page: Page, *, zone: str | None, page_date: date | None) -> Reading:
    """Segment ``page`` and resolve every update's time."""
    start, top = _page_days(page)
    if page_date is not None:
        start, top = None, page_date
    anchor = top or start
    hint = anchor.year if anchor else _year_in_head(page)
    warnings: list[str] = []
    if page.structured:
        leading, updates, trailing = _from_structured(page)
    else:
        leading, updates, trailing = segment(page, hint, warnings)
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
    dated = all(u.stamp.exact or u.stamp.on or u.day for u in updates)
    if start is None and top is None and not dated:
        raise ImportProblem(
            "the page has bare times but no date: give the date of its top update with "
            "--date YYYY-MM-DD"
        )
    # Times are read in the order they happened, from the date that anchors them:
    # the page's start (a date line, its publication) dates the oldest update, a
    # last-updated date or --date the top one.
    chronological = updates if order == "oldest first" else updates[::-1]
    if top is not None and (start is None or page_date is not None):
        anchored_top = order == "newest first"
        sequence = chronological[::-1] if anchored_top else chronological
        _resolve(sequence, tz, "newest first" if anchored_top else "oldest first", top)
    else:
        _resolve(chronological, tz, "oldest first", start)
    title = page.title or (leading[0] if leading else "")
    return Reading(title, leading + trailing, updates, order, zone_name, warnings)


def _year_in_head(page: Page) -> int | None:
    """A year written in the headline or the lines above the updates ("Rally 2025
    live"), for stamps that give a month and day only."""
    for text in [page.title, *page.header, *(b.text for b in page.blocks[:12])]:
        m = re.search(r"\b(19[5-9]\d|20\d\d|21\d\d)\b", text)
        if m:
            return int(m.group(1))
    return None


def _from_structured(page: Page) -> tuple[list[str], list[Found], list[str]]:
    """Updates from the page's own data (JSON-LD, microdata, h-entry)."""
    updates = []
    for entry in page.structured:
        when = entry.when
        if when.tzinfo is not None:
            stamp = Stamp("structured", "", exact=when)
        else:
            stamp = Stamp("structured", "", when.hour, when.minute, when.second, on=when.date())
        text = entry.text
        title = entry.title
        if title and " ".join(text.split()).startswith(" ".join(title.split()).rstrip(".…")):
            title = ""  # a headline that only repeats the text's opening
        updates.append(Found(stamp, title, [text] if text else [], anchor=entry.anchor))
    return [], updates, []


def _page_days(page: Page) -> tuple[date | None, date | None]:
    """(the day the page started, the day of its top update), from its data or
    its date lines, each None if the page does not say."""
    start = top = None
    if isinstance(page.published, datetime):
        start = page.published.date()
    elif isinstance(page.published, date):
        start = page.published
    if isinstance(page.modified, datetime):
        top = page.modified.date()
    elif isinstance(page.modified, date):
        top = page.modified
    anchor = top or start
    year = anchor.year if anchor else None
    head = [Block(line) for line in page.header]
    for block in head + page.blocks[:25]:
        if block not in head and find_stamp(block.text, year) and not BYLINE.search(block.text):
            break  # the updates begin
        for line in block.text.split("\n")[:40]:
            found = read_date_line(line, year)
            if found is None:
                continue
            if found.kind == "updated":
                top = top or found.day
            else:
                start = start or found.day
    if start is None and top is None:  # a date inside a byline or a dateline
        for block in head + page.blocks[:25]:
            if block not in head and find_stamp(block.text, year) and not BYLINE.search(block.text):
                break
            for line in block.text.split("\n")[:40]:
                for found in dates_in_text(line):
                    if found.kind == "updated":
                        top = top or found.day
                    else:
                        start = start or found.day
    return start, top


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
