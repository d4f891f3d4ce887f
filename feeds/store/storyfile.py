"""One story's Markdown source (the format of ``data/<slug>.md``) parsed into a Story.

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
from bisect import bisect_right
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, cast

from ..model import (
    NOT_XML,
    SLUG_RE,
    Person,
    Site,
    Status,
    Story,
    Update,
    story_feed_id,
    update_id,
)
from ..text import (
    MAX_TABLE_CELLS,
    STRUCTURE,
    TextLimit,
    derived_title,
    excerpt,
    markdown_to_html,
    plain_text,
    table_cells,
)
from ..timeutil import MAX_YEAR, MIN_YEAR, TimeError, resolve_local, zone
from .headings import LOOKS_TIMESTAMPED, Heading, parse_heading
from .people import person
from .problems import (
    Problems,
    Table,
    decode_utf8,
    forbidden_reference,
    parse_toml,
    toml_error,
)

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
SUMMARY_CHARS = 300

# Text that starts like a date or a time: in a heading of the wrong kind, or in
# a line that is not a heading at all, it is almost certainly a broken update
# heading, and silently merging it into the update above would lose an item.
_DATE_OR_TIME = re.compile(r"^(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}:\d{2}(?!\d))")
_RAW_HEADING = re.compile(r"^ {0,3}#{1,6}(?P<space>[ \t]*)(?P<text>.*)$")
_LOOKS_LIKE_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]*\d", re.MULTILINE)
# In a level-2 heading that is not an update's: a clock time, or an {#anchor ...}.
_TIME_TOKEN = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?![\d])")
_ANCHOR_BLOCK = re.compile(r"\{#[^{}]*\}\s*$")


def parse_story(slug: str, raw: bytes, site: Site, problems: Problems) -> Story | None:
    """Parse one story's source text; problems are added to ``problems`` (None if any).

    ``problems.where`` names the source in messages (the file, for the file store).
    """
    text = decode_utf8(raw, problems)
    if text is None:
        return None
    if not SLUG_RE.match(slug):
        problems.add(
            None,
            f"{slug!r} is not a valid story name: use lowercase letters, digits "
            "and hyphens (like kazerun-protests); it becomes the story's URL",
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
        data = parse_toml("\n".join(fm_lines))
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
    meta.reject_control_characters()

    title = meta.string("title", required=True)
    summary = meta.string("summary")
    link = meta.string("link") or None
    if link and not link.startswith(("http://", "https://")):
        meta.complain("link", f"link {link!r} must be an absolute http(s) URL")
    tz = meta.timezone(default=site.timezone)
    tz_name = tz.key if tz else site.timezone
    language = meta.language(default=site.language)
    authors: tuple[Person, ...] = (site.author,)
    raw_authors = data.get("authors")
    if isinstance(raw_authors, list) and raw_authors:
        found: list[Person] = []
        for value in raw_authors:
            who = person(value)
            if isinstance(who, str):
                meta.complain("authors", who)
            else:
                found.append(who)
        authors = tuple(found) or authors
    elif raw_authors is not None:
        meta.complain(
            "authors",
            'authors must be a non-empty list: authors = ["Ana Ribeiro", "Tom Hale <tom@x.org>"] '
            "(leave it out to credit the site's author)",
        )
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
    cells, over = table_cells(body)
    if over is not None:
        problems.add(
            body_first_line + over,
            f"the tables of this story have more than {MAX_TABLE_CELLS:,} cells; "
            "link to the data instead, or split it across stories",
        )
        return None
    headings = []
    if tz is not None:
        headings = _headings(body, body_first_line, tz_name, problems)
    if problems:
        return None

    lines_by_anchor: dict[str, list[int]] = {}
    for heading in headings:
        lines_by_anchor.setdefault(heading.anchor, []).append(heading.line)
    for anchor, where in lines_by_anchor.items():
        if len(where) > 1:
            # Reported on the upper (by convention newer) heading: the one readers
            # already have must keep its id, or they would get it again as new.
            problems.add(
                where[0],
                f"updates on lines {', '.join(map(str, where))} have the same id {anchor!r}; "
                f"keep it on the one already published and give the other its own anchor, "
                f"e.g. {{#{anchor}-b}} at the end of its heading",
            )
    if problems:
        return None

    updates: list[Update] = []
    bounds = [h.line - body_first_line for h in headings] + [len(body)]
    background = _strip_blank("\n".join(body[: bounds[0]]))
    for heading, start, end in zip(headings, bounds, bounds[1:], strict=False):
        section = _strip_blank("\n".join(body[start + 1 : end]))
        try:
            html = markdown_to_html(section, story_url)
        except TextLimit as exc:
            problems.add(heading.line, f"the text of this update: {exc}")
            continue
        if NOT_XML.search(html):
            _forbidden(problems, body[start + 1 : end], heading.line + 1)
            continue
        plain = plain_text(html)
        if not section and not heading.title:
            problems.add(
                heading.line,
                "this update has no text: write it under the heading, or give the heading a "
                "title after a dash (## 2018-05-17 02:30 — Title)",
            )
            continue
        update_authors = (heading.author,) if heading.author else authors
        updates.append(
            Update(
                id=update_id(site, slug, heading.anchor),
                anchor=heading.anchor,
                story_slug=slug,
                published=heading.published,
                updated=heading.updated or heading.published,
                title=heading.title
                or derived_title(plain, corrections=_corrections(section, story_url))
                or f"Update at {heading.local:%Y-%m-%d %H:%M}",
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
                plain=plain,
                story_title=title,
            )
        )
    if problems:
        return None
    try:
        background_html = markdown_to_html(background, story_url)
    except TextLimit as exc:
        problems.add(body_first_line, f"the text above the first update: {exc}")
        return None
    if NOT_XML.search(background_html):
        _forbidden(problems, body[: bounds[0]], body_first_line)
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
        background_html=background_html,
        updates=tuple(updates),
        link=link,
        created=created,
        source=str(problems.where),
    )


def _forbidden(problems: Problems, lines: list[str], first_line: int) -> None:
    """The text holds a character reference to a character XML forbids: say where."""
    found = forbidden_reference(lines)
    line, ref = (first_line + found[0], found[1]) if found else (first_line, "a reference")
    problems.add(
        line,
        f"{ref} stands for a control character that no feed can carry (XML forbids it); remove it",
    )


def _corrections(section: str, story_url: str) -> tuple[str, ...]:
    """The plain text of the correction notes at the top of an update's text."""
    if not section.startswith("**Correction ("):
        return ()
    notes = []
    for paragraph in section.split("\n\n"):
        if not paragraph.startswith("**Correction ("):
            break
        notes.append(plain_text(markdown_to_html(paragraph, story_url)))
    return tuple(notes)


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
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            meta.complain("created", f"created: years run {MIN_YEAR}-{MAX_YEAR} here")
            return None
        if value.tzinfo is not None:
            return value
        try:
            return resolve_local(value, zone(tz_name))
        except TimeError as exc:
            meta.complain("created", f"created: {exc}")
            return None
    meta.complain(
        "created", "created must be a TOML date and time: created = 2018-05-16T20:00:00+04:30"
    )
    return None


def _strip_blank(text: str) -> str:
    return text.strip("\n").rstrip()


def _headings(body: list[str], first_line: int, tz_name: str, problems: Problems) -> list[Heading]:
    """Every update heading in the body, in file order.

    Also reports lines that look like update headings but are not read as
    one (wrong level, no space after ##, swallowed by an unclosed code block),
    because each of those would silently merge an update into the one above.
    """
    tz = zone(tz_name)
    source = "\n".join(body)
    encoded = source.encode()
    # The tree's positions are byte offsets; lines are counted from them.
    starts = [0, *accumulate(len(line) + 1 for line in encoded.split(b"\n"))]
    found: list[Heading] = []
    heading_lines: set[int] = set()
    blocks: list[tuple[int, int, bool, str]] = []  # start, end, closed, what
    for node in STRUCTURE.tree(source).children:  # top level only
        begin, end = node.srcmap or (0, 0)
        first = bisect_right(starts, begin) - 1
        if node.name in ("fence", "code_block", "html_block"):
            last = bisect_right(starts, max(begin, end - 1)) - 1
            blocks.append((first, last + 1, _closed(node, body, first, last), node.name))
            continue
        if node.name not in ("heading", "lheading"):
            continue
        heading_lines.add(first)
        line = first_line + first
        if node.name == "heading":
            content = _atx_content(encoded[begin:end].decode())
        else:
            last = bisect_right(starts, max(begin, end - 1)) - 1
            content = "\n".join(body[first:last]).strip()
        is_update_level = node.name == "heading" and node.meta.get("level") == 2
        if is_update_level and LOOKS_TIMESTAMPED.match(content):
            heading = parse_heading(content, line, tz, problems)
            if heading is not None:
                found.append(heading)
        elif _DATE_OR_TIME.match(content):
            if not is_update_level:
                problems.add(
                    line,
                    f"{content!r} looks like an update, but update headings are level 2 and "
                    f"start with ##: write ## {content}",
                )
            else:
                problems.add(
                    line,
                    f"update heading {content!r} must start with the full local date and time: "
                    "## YYYY-MM-DD HH:MM",
                )
        elif is_update_level and (_TIME_TOKEN.search(content) or _ANCHOR_BLOCK.search(content)):
            # A mistyped date ("2026-1024", "Sat 24 Oct 23:00") must not turn an update
            # into text of the one above: it would leave every feed without a word.
            problems.add(
                line,
                f'"## {content}" looks like an update heading, but it does not start with a '
                "date and time: write ## YYYY-MM-DD HH:MM — Title (or, for a subheading in an "
                "update's text, ### ...)",
            )
    # Lines that look like update headings but are not headings (found in the
    # whole text at once: most lines do not start with a #).
    line_starts = [0, *accumulate(len(line) + 1 for line in body)]
    for candidate in _LOOKS_LIKE_HEADING.finditer(source):
        index = bisect_right(line_starts, candidate.start()) - 1
        text = body[index]
        m = _RAW_HEADING.match(text)
        if not m or index in heading_lines or not _DATE_OR_TIME.match(m["text"].strip()):
            continue
        block = next((b for b in blocks if b[0] <= index < b[1]), None)
        if block is None:
            problems.add(
                first_line + index,
                f"{text.strip()!r} is not read as a heading: put a space after the #s",
            )
        elif not block[2]:
            what = "code block" if block[3] != "html_block" else "HTML block or comment"
            problems.add(
                first_line + index,
                f"this looks like an update heading, but the {what} opened on line "
                f"{first_line + block[0]} is never closed, so everything after it is read as "
                "part of it: close it",
            )
        elif block[3] == "html_block" and m["space"]:
            problems.add(
                first_line + index,
                f"this update heading is inside the HTML block opened on line "
                f"{first_line + block[0]}, so it is read as part of that block: end the block "
                "before it (its closing tag; for most tags a blank line does too)",
            )
    return found


def _atx_content(line: str) -> str:
    """The text of an ATX heading line: without its #s and any closing sequence."""
    text = line.strip().lstrip("#")
    closing = _CLOSING.search(text)
    if closing:
        text = text[: closing.start()]
    return text.strip()


_CLOSING = re.compile(r"(?:^|[ \t])#+[ \t]*$")


def _closed(node: Any, body: list[str], first: int, last: int) -> bool:
    """Does a code or HTML block end before the end of the text (it was closed)?"""
    if node.name == "fence":
        markup = node.meta["marker"] * node.meta["marker_len"]
        closing = body[last].strip() if last > first else ""
        return closing.startswith(markup) and not closing.strip(markup[0])
    if node.name == "html_block":
        content = node.meta.get("content", "")
        opening = content.lstrip().lower()
        if opening.startswith("<!--"):
            return "-->" in content
        for tag in ("pre", "script", "style", "textarea"):
            if opening.startswith(f"<{tag}"):
                return f"</{tag}>" in content.lower()
    return True
