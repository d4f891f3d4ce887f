"""One story file: ``data/<slug>.md``.

```
+++
title = "Deadly clashes in Kazerun"        # TOML front matter
timezone = "Asia/Tehran"
+++
Background text (Markdown), then one section per update, newest first:

## 2018-05-17 02:30 — Convoy reaches the city {#convoy}
Update text...
```

An update heading is a level-2 ATX heading (``##``) at the top level of the
document that starts with a local date and time; any other heading is body
text. Headings inside code blocks, lists or quotes are never updates, which is
why we find them in markdown-it's token stream rather than with a regex.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from ..model import (
    ANCHOR_RE,
    SLUG_RE,
    Person,
    Site,
    Status,
    Story,
    Update,
    story_feed_id,
    update_id,
)
from ..text import MARKDOWN, derived_title, excerpt, markdown_to_html, plain_text
from ..timeutil import TimeError, naive_local, parse_offset, resolve_local, zone
from .people import person
from .problems import Problems, Table, decode_utf8, toml_error

FRONT_MATTER_KEYS = (
    "title",
    "summary",
    "link",
    "timezone",
    "language",
    "authors",
    "tags",
    "status",
    "created",
)
HEADING_ATTRS = ("author", "updated", "retracted", "note")
SUMMARY_CHARS = 300
LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")

# Anything that starts like a timestamp is meant as one and is checked strictly,
# so "## 2018-05-17 25:10" is an error rather than silently becoming body text.
_LOOKS_TIMESTAMPED = re.compile(r"^\d{1,4}-\d{1,2}-\d{1,2}(?:[T ]|$)")
_HEADING = re.compile(
    r"""^(?P<date>\S+?)[T ](?P<time>[0-9:]+)
        (?:\s*(?P<offset>Z|UTC|[+-][0-9:]+))?
        (?P<rest>.*)$""",
    re.X,
)
_REST = re.compile(r"^(?:\s+[—–-]\s*(?P<title>.*?))?\s*(?:\{(?P<attrs>[^{}]*)\})?\s*$")
_ATTR = re.compile(
    r'\s*(?:#(?P<anchor>\S+)|(?P<key>[A-Za-z_]+)(?:=(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+)))?)'
)


@dataclass
class Heading:
    line: int
    local: datetime  # naive wall-clock time as written
    published: datetime
    title: str
    anchor: str
    author: str | None = None
    updated: datetime | None = None  # updated="..."
    retracted: bool = False
    retracted_at: datetime | None = None  # retracted="..."
    note: str | None = None  # note="...": why it was retracted


def default_anchor(local: datetime) -> str:
    """The id an update gets when its heading has no ``{#anchor}``.

    Derived from the wall-clock time as written, ``u20180517-0230`` (seconds
    appended when given), so the same file always yields the same ids.
    """
    anchor = local.strftime("u%Y%m%d-%H%M")
    return anchor + local.strftime("%S") if local.second else anchor


def parse_story(path: Path, raw: bytes, site: Site, problems: Problems) -> Story | None:
    """Parse one story file; problems are added to ``problems`` (None if any)."""
    text = decode_utf8(raw, problems)
    if text is None:
        return None
    slug = path.stem
    if not SLUG_RE.match(slug):
        problems.add(
            None,
            f"{path.name!r} is not a valid story file name: use lowercase letters, digits "
            "and hyphens (like kazerun-protests.md); it becomes the story's URL",
        )
        return None
    lines = text.split("\n")
    if not lines or lines[0].strip() != "+++":
        problems.add(
            1,
            "a story file starts with a line +++, then TOML front matter "
            '(title = "..."), then another +++ line',
        )
        return None
    try:
        close = next(i for i in range(1, len(lines)) if lines[i].strip() == "+++")
    except StopIteration:
        problems.add(1, "the front matter opened here is never closed: add a line +++ after it")
        return None
    fm_lines = lines[1:close]
    try:
        data = tomllib.loads("\n".join(fm_lines))
    except tomllib.TOMLDecodeError as exc:
        rel, message = toml_error(str(exc))
        problems.add(
            1 + rel if rel else 1,
            f"front matter is not valid TOML: {message} "
            '(strings need double quotes: title = "...")',
        )
        return None
    meta = Table(data, fm_lines, 2, problems)
    meta.reject_unknown(FRONT_MATTER_KEYS, "the front matter")

    title = meta.string("title", required=True)
    summary = meta.string("summary")
    link = meta.string("link") or None
    if link and not link.startswith(("http://", "https://")):
        meta.complain("link", f"link {link!r} must be an absolute http(s) URL")
    tz_name = meta.string("timezone", default=site.timezone)
    tz = None
    try:
        tz = zone(tz_name)
    except TimeError as exc:
        meta.complain("timezone", str(exc))
    language = meta.string("language", default=site.language)
    if not LANGUAGE_RE.match(language):
        meta.complain(
            "language", f'language {language!r} is not a language tag like "en" or "pt-PT"'
        )
    authors: tuple[Person, ...] = (site.author,)
    raw_authors = data.get("authors")
    if raw_authors is not None:
        found: list[Person] = []
        for value in raw_authors if isinstance(raw_authors, list) else [raw_authors]:
            who = person(value)
            if isinstance(who, str):
                meta.complain("authors", who)
            else:
                found.append(who)
        authors = tuple(found) or authors
    tags = meta.strings("tags") or ()
    status = meta.string("status", default="live")
    if status not in ("live", "ended"):
        meta.complain("status", f'status must be "live" or "ended", not {status!r}')
    created = None
    if "created" in data and tz is not None:
        created = _created(data["created"], tz_name, meta)

    body_first_line = close + 2
    body = lines[close + 1 :]
    story_url = site.url(f"{slug}/")
    headings = []
    if tz is not None:
        headings = _headings(body, body_first_line, tz_name, problems)
    if problems:
        return None

    updates: list[Update] = []
    seen: dict[str, int] = {}
    bounds = [h.line - body_first_line for h in headings] + [len(body)]
    background = _strip_blank("\n".join(body[: bounds[0]]))
    for heading, start, end in zip(headings, bounds, bounds[1:], strict=False):
        if heading.anchor in seen:
            problems.add(
                heading.line,
                f"two updates have the id {heading.anchor!r} (the other is on line "
                f"{seen[heading.anchor]}); give this one its own anchor, e.g. "
                f"{{#{heading.anchor}-2}} at the end of the heading",
            )
            continue
        seen[heading.anchor] = heading.line
        section = _strip_blank("\n".join(body[start + 1 : end]))
        html = markdown_to_html(section, story_url)
        plain = plain_text(html)
        if not section and not heading.title:
            problems.add(
                heading.line,
                "this update has no text: write it under the heading, or give the heading a "
                "title after a dash (## 02:30 — Title)",
            )
            continue
        update_authors = (Person(heading.author),) if heading.author else authors
        updates.append(
            Update(
                id=update_id(site, slug, heading.anchor),
                anchor=heading.anchor,
                story_slug=slug,
                published=heading.published,
                updated=heading.updated or heading.published,
                title=heading.title or derived_title(plain),
                title_is_derived=not heading.title,
                text=section,
                html=html,
                summary=excerpt(plain, SUMMARY_CHARS) or heading.title,
                url=f"{story_url}#{heading.anchor}",
                authors=update_authors,
                tags=tags,
                language=language,
                line=heading.line,
                content_hash=_content_hash(heading, section, update_authors),
                explicit_updated=heading.updated,
                retracted=heading.retracted,
                retracted_at=heading.retracted_at,
                retraction_note=heading.note or "",
            )
        )
    if problems:
        return None
    updates.sort(key=lambda u: u.sort_key, reverse=True)
    if not updates and created is None:
        problems.add(
            body_first_line,
            "this story has no updates yet: add one (## YYYY-MM-DD HH:MM) or set "
            "created = 2018-05-16T20:00:00+04:30 in the front matter",
        )
        return None
    return Story(
        slug=slug,
        title=title,
        summary=summary,
        timezone=tz_name,
        language=language,
        authors=authors,
        tags=tags,
        status=cast(Status, status),
        url=story_url,
        feed_id=story_feed_id(site, slug),
        background=background,
        background_html=markdown_to_html(background, story_url),
        updates=tuple(updates),
        link=link,
        created=created,
        source=str(path),
    )


def _content_hash(heading: Heading, text: str, authors: tuple[Person, ...]) -> str:
    """What an edit is measured by; the story's tags and the base URL are not part of it."""
    parts = [
        heading.title,
        text,
        heading.published.astimezone(UTC).isoformat(),
        "\x1f".join(f"{p.name}\x1e{p.email or ''}\x1e{p.uri or ''}" for p in authors),
    ]
    return hashlib.sha256("\x1d".join(parts).encode()).hexdigest()[:32]


def _created(value: object, tz_name: str, meta: Table) -> datetime | None:
    """``created`` as a TOML datetime; a local one is read in the story's zone."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        try:
            return resolve_local(value, zone(tz_name))
        except TimeError as exc:
            meta.complain("created", f"created: {exc}")
            return None
    meta.complain("created", "created must be a date and time: created = 2018-05-16T20:00:00+04:30")
    return None


def _strip_blank(text: str) -> str:
    return text.strip("\n").rstrip()


def _headings(body: list[str], first_line: int, tz_name: str, problems: Problems) -> list[Heading]:
    """Every update heading in the body, in file order."""
    tz = zone(tz_name)
    tokens = MARKDOWN.parse("\n".join(body))
    found: list[Heading] = []
    for i, tok in enumerate(tokens):
        if not (
            tok.type == "heading_open"
            and tok.tag == "h2"
            and tok.markup == "##"
            and tok.level == 0
            and tok.map
        ):
            continue
        content = tokens[i + 1].content.strip()
        if not _LOOKS_TIMESTAMPED.match(content):
            continue
        line = first_line + tok.map[0]
        heading = _parse_heading(content, line, tz, problems)
        if heading is not None:
            found.append(heading)
    return found


def _stamp(text: str, tz: ZoneInfo) -> datetime:
    """``2018-05-17 02:30`` (optionally ``+04:30``) in ``tz``, or a TimeError."""
    m = _HEADING.match(text.strip())
    if not m or m["rest"].strip():
        raise TimeError(f"{text!r} is not a time; write it as YYYY-MM-DD HH:MM (+offset if needed)")
    local = naive_local(m["date"], m["time"])
    offset = parse_offset("Z" if m["offset"] == "UTC" else m["offset"]) if m["offset"] else None
    return resolve_local(local, tz, offset)


def _parse_heading(content: str, line: int, tz: ZoneInfo, problems: Problems) -> Heading | None:
    m = _HEADING.match(content)
    if not m:
        problems.add(line, f"update heading {content!r} needs a time: ## YYYY-MM-DD HH:MM")
        return None
    try:
        local = naive_local(m["date"], m["time"])
        offset = parse_offset("Z" if m["offset"] == "UTC" else m["offset"]) if m["offset"] else None
        published = resolve_local(local, tz, offset)
    except TimeError as exc:
        problems.add(line, str(exc))
        return None
    rest = _REST.match(m["rest"])
    if not rest:
        problems.add(
            line,
            f"cannot read {m['rest'].strip()!r} after the time: write a title after a dash "
            "(## 2018-05-17 02:30 — Title) and/or an anchor in braces ({#convoy-arrives})",
        )
        return None
    title = plain_text(MARKDOWN.renderInline(rest["title"])) if rest["title"] else ""
    heading = Heading(line, local, published, title, default_anchor(local))
    if rest["attrs"] is not None and not _apply_attrs(heading, rest["attrs"], tz, problems):
        return None
    return heading


def _apply_attrs(heading: Heading, attrs: str, tz: ZoneInfo, problems: Problems) -> bool:
    """Read ``{#anchor key="value" flag}`` into ``heading``; False after a problem."""
    line, pos, seen = heading.line, 0, set()
    while pos < len(attrs.rstrip()):
        a = _ATTR.match(attrs, pos)
        if not a:
            problems.add(
                line,
                f'cannot read {{{attrs}}}: write {{#anchor}} or {{#anchor author="Name"}}; '
                "values with spaces need double quotes",
            )
            return False
        pos = a.end()
        key = "#" if a["anchor"] is not None else a["key"]
        if key in seen:
            problems.add(line, f"{'the anchor' if key == '#' else key} is given twice; keep one")
            return False
        seen.add(key)
        value = (
            a["anchor"] if key == "#" else (a["quoted"] if a["quoted"] is not None else a["bare"])
        )
        if key == "#":
            if not ANCHOR_RE.match(value):
                problems.add(
                    line,
                    f"anchor {value!r} must start with a letter and use only letters, "
                    "digits, - and _ (at most 64)",
                )
                return False
            heading.anchor = value
        elif key not in HEADING_ATTRS:
            problems.add(
                line,
                f"unknown attribute {key!r}; an update heading accepts #anchor, "
                + ", ".join(HEADING_ATTRS),
            )
            return False
        elif key == "retracted" and value is None:
            heading.retracted = True
        elif value is None or not value.strip():
            problems.add(line, f'{key} needs a value: {key}="..."')
            return False
        elif key == "author":
            heading.author = value.strip()
        elif key == "note":
            heading.note = value.strip()
        else:  # updated, retracted: times in the story's zone
            try:
                when = _stamp(value, tz)
            except TimeError as exc:
                problems.add(line, f"{key}: {exc}")
                return False
            if when.astimezone(UTC) < heading.published.astimezone(UTC):
                problems.add(line, f"{key} {value!r} is before the update was published")
                return False
            if key == "updated":
                heading.updated = when
            else:
                heading.retracted, heading.retracted_at = True, when
    if heading.note and not heading.retracted:
        problems.add(line, 'note="..." explains a retraction; add retracted, or remove the note')
        return False
    return True
