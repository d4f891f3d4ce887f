"""Authoring commands over any Store: new stories, updates, edits, corrections, retractions.

Each command decides its change from the story as it is (under the store's
lock, inside :meth:`Store.apply`) and the store writes it atomically, after
checking that it did exactly that and nothing else; a command that fails
leaves the store as it was. Ids are never reused: a new update's anchor
avoids every anchor in the story, every anchor builds published (the state),
and every anchor the store retired.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .errors import AuthoringError, EditConflict, Problem, StoreError
from .model import Site, Story, Update, check_slug
from .publish.files import write_if_changed
from .settings import SITE_TOML, Workspace, load_site, site_template, url_host
from .store.changes import AddUpdate, CreateStory, EndStory, NewUpdate, ReviseUpdate
from .store.headings import default_anchor
from .store.storytext import format_stamp, toml_string
from .timeutil import is_ambiguous, zone

if TYPE_CHECKING:
    from .store.postgres import PostgresStore

_NEWLINE = re.compile(r"\r\n|\r|\n")


def init_site(
    root: Path,
    *,
    title: str,
    base_url: str,
    timezone: str,
    author: str,
    id_authority: str | None,
    now: datetime,
) -> list[Path]:
    """A new site in ``root``: data/site.toml, an example story, a .gitignore."""
    data = root / "data"
    if (data / SITE_TOML).exists():
        raise AuthoringError(f"{data / SITE_TOML} already exists; nothing was changed")
    site_toml = _settings(title, base_url, timezone, author, id_authority, now)
    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    example = (
        "+++\n"
        'title = "Example story"\n'
        'summary = "What a live story looks like in feeds; edit or delete this file."\n'
        f"timezone = {toml_string(timezone)}\n"
        'status = "live"\n'
        "+++\n\n"
        "Background goes here, before the first update: what happened before the story began.\n\n"
        f"## {format_stamp(local)} — The first update {{#first-update}}\n\n"
        "Each update is a level-2 heading with its local time, then its text. Add the next one\n"
        'with `feeds add example "Text of the update"`, then run `feeds build`.\n'
    )
    created = []
    for path, text in (
        (data / SITE_TOML, site_toml),
        (data / "example.md", example),
        (root / ".gitignore", "/out/\n/.feeds/\n/.venv/\n"),
    ):
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(path, text.encode(), mode=0o644)
        created.append(path)
    return created


def _settings(
    title: str, base_url: str, timezone: str, author: str, id_authority: str | None, now: datetime
) -> str:
    """A new site's settings, as site.toml holds them; AuthoringError if they are bad."""
    zone(timezone)  # raises TimeError with a clear message
    host = url_host(base_url)
    values = {
        "title": title,
        "base_url": base_url,
        "id_authority": id_authority or f"{host},{now.year}",
        "author": author,
        "timezone": timezone,
    }
    site_toml = site_template(values)
    problems: list[Problem] = []
    if load_site(SITE_TOML, site_toml.encode(), problems) is None:
        raise AuthoringError("\n".join(p.message for p in problems))
    return site_toml


def init_database(
    store: PostgresStore,
    *,
    title: str,
    base_url: str,
    timezone: str,
    author: str,
    id_authority: str | None,
    now: datetime,
) -> list[str]:
    """A new site in a PostgreSQL database: the schema, then the settings; what was done."""
    from .store.postgres import SCHEMA_VERSION, migrate

    site_toml = _settings(title, base_url, timezone, author, id_authority, now)
    done = [f"applied {name}" for name in migrate(store)]
    if store.site_settings():
        raise AuthoringError(
            f"{store.name} already has a site (schema {SCHEMA_VERSION} is current); "
            "nothing else was changed"
        )
    store.put_site(site_toml)
    done.append(f"created the site {title!r} in {store.name}")
    return done


def new_story(
    ws: Workspace,
    slug: str,
    *,
    title: str,
    timezone: str | None = None,
    link: str | None = None,
    summary: str | None = None,
    now: datetime,
) -> Story:
    check_slug(slug)
    if not title.strip():
        raise AuthoringError('a story needs a title: --title "..."')

    tz_name = timezone or _site(ws).timezone
    change = CreateStory(
        title=title.strip(),
        timezone=tz_name,
        summary=(summary or "").strip(),
        link=link,
        created=now.astimezone(zone(tz_name)).replace(microsecond=0),
    )
    return ws.store.apply(slug, change)


def import_story(ws: Workspace, slug: str, change: CreateStory) -> Story:
    """Write a whole new story (for importers), checked first."""
    check_slug(slug)
    return ws.store.apply(slug, change)


def end_story(ws: Workspace, slug: str) -> Story:
    """Mark a story ended (``status = "ended"``)."""
    return ws.store.apply(slug, lambda story: EndStory())


def add_update(
    ws: Workspace,
    slug: str,
    text: str,
    *,
    at: datetime | None,
    now: datetime,
    title: str | None = None,
    author: str | None = None,
    anchor: str | None = None,
) -> Update:
    """Insert a new update where it belongs (newest first) and return it."""
    text = clean_text(text)
    title = _one_line(title)
    if not text and not title:
        raise AuthoringError("the update has no text; nothing was written")
    chosen: list[str] = []

    def change(story: Story | None) -> AddUpdate:
        story = _existing(story, slug)
        when = (at or now.replace(second=0, microsecond=0)).astimezone(ZoneInfo(story.timezone))
        taken = {u.anchor for u in story.updates} | used_anchors(ws, story)
        name = anchor
        if name is None:
            second = is_ambiguous(when) and when.fold == 1
            name = free_anchor(default_anchor(when.replace(tzinfo=None), second), taken)
        elif name in taken:
            raise AuthoringError(
                f"story {slug!r} already has (or had) an update with the id {name!r}; "
                "choose another --id"
            )
        chosen.append(name)
        return AddUpdate(NewUpdate(when, name, text, title, _one_line(author) or None))

    return find(ws.store.apply(slug, change), chosen[-1])


def edit_update(
    ws: Workspace,
    slug: str,
    ident: str,
    *,
    text: str | None = None,
    title: str | None = None,
    started_from: str | None = None,
) -> Update:
    """Replace an update's text and/or title; its id and time stay.

    ``started_from`` is the text an editor was opened on: if the update no
    longer has it (someone corrected it meanwhile), nothing is overwritten.
    """
    if text is not None:
        text = clean_text(text)
        if not text:
            raise AuthoringError("the new text is empty; nothing was written (use feeds retract)")

    def change(story: Story | None) -> ReviseUpdate:
        update = find(_existing(story, slug), ident)
        if started_from is not None and update.text != clean_text(started_from):
            raise EditConflict(
                f"{update.anchor!r} was changed by someone else while you were editing it; "
                "nothing was written"
            )
        return ReviseUpdate(update.anchor, text=text, title=title)

    return _revised(ws, slug, ident, change)


def correct_update(ws: Workspace, slug: str, ident: str, *, note: str, now: datetime) -> Update:
    """Put a dated correction note at the top of an update (above earlier ones, where
    readers who had it see it first) and set its ``updated``."""
    note = clean_text(note)
    if not note:
        raise AuthoringError('a correction needs a note: --note "what was wrong"')

    def change(story: Story | None) -> ReviseUpdate:
        story = _existing(story, slug)
        update = find(story, ident)
        if update.retracted:
            raise AuthoringError(f"{update.anchor!r} is retracted: nobody would see a correction")
        when = change_time(now, story, update)
        shown = when or now.astimezone(ZoneInfo(story.timezone))
        body = f"**Correction ({shown:%Y-%m-%d %H:%M}):** {note}\n\n{update.text}".strip()
        # No edit time for an update still held back: it was never published.
        return ReviseUpdate(update.anchor, text=body, updated=when)

    return _revised(ws, slug, ident, change)


def retract_update(
    ws: Workspace, slug: str, ident: str, *, note: str | None, now: datetime
) -> Update:
    """Withdraw an update: it leaves RSS and becomes a tombstone in Atom."""
    cleaned = None
    if note is not None:
        cleaned = " ".join(note.split())
        if not cleaned or re.search(r'["{}]', cleaned):
            raise AuthoringError(
                'a retraction note must not be empty or contain " { or }; nothing was written'
            )

    def change(story: Story | None) -> ReviseUpdate:
        story = _existing(story, slug)
        update = find(story, ident)
        if update.retracted:
            raise AuthoringError(f"{update.anchor!r} is already retracted; nothing was changed")
        # Held back and never published: withdrawn without a date (and no tombstone).
        when = change_time(now, story, update)
        return ReviseUpdate(update.anchor, retract=True, retracted_at=when, note=cleaned)

    return _revised(ws, slug, ident, change)


def _revised(ws: Workspace, slug: str, ident: str, change: object) -> Update:
    anchor = ident.rpartition("/")[2] if ident.startswith("tag:") else ident.lstrip("#")
    return find(ws.store.apply(slug, change), anchor)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Helpers


def _site(ws: Workspace) -> Site:
    try:
        return ws.store.read_site()
    except StoreError as exc:
        hint = "fix site.toml first, or run feeds init (or pass --data DIR)"
        raise AuthoringError(f"{exc}\n{hint}") from exc


def _existing(story: Story | None, slug: str) -> Story:
    if story is None:
        raise AuthoringError(f'no story {slug!r}; create one with feeds new {slug} --title "..."')
    return story


def find(story: Story, ident: str) -> Update:
    """An update of ``story`` by anchor (``roads``, ``#roads``) or full id."""
    anchor = ident.rpartition("/")[2] if ident.startswith("tag:") else ident.lstrip("#")
    for update in story.updates:
        if update.anchor == anchor and (not ident.startswith("tag:") or update.id == ident):
            return update
    newest = ", ".join(u.anchor for u in story.updates[:5]) or "none"
    raise AuthoringError(
        f"story {story.slug!r} has no update {ident!r} (newest: {newest}); "
        f"see them all with feeds show {story.slug}"
    )


def used_anchors(ws: Workspace, story: Story) -> set[str]:
    """Anchors of updates published before and since deleted or retracted: reusing
    one would resurrect a dead item's id. From the build state and the store."""
    from .build.state import load_history

    history = load_history(ws.state, story.slug)
    prefix = story.feed_id + "/"
    ids = set(history.published) | set(history.tombstones)
    return {i[len(prefix) :] for i in ids if i.startswith(prefix)} | ws.store.retired(story.slug)


def free_anchor(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    # Letters first (-b ... -z), then numbers from 27 (never -2: that is the second
    # 01:30 of the night the clocks go back).
    for suffix in [*"bcdefghijklmnopqrstuvwxyz", *map(str, range(27, 1000))]:
        if f"{base}-{suffix}" not in taken:
            return f"{base}-{suffix}"
    raise AuthoringError(f"too many updates at the same minute ({base}); give this one --id")


def clean_text(text: str) -> str:
    """Newlines normalised, leading and trailing blank lines dropped; nothing else.

    Trailing spaces stay: two of them are a Markdown line break.
    """
    lines = _NEWLINE.split(text)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def change_time(now: datetime, story: Story, update: Update) -> datetime | None:
    """When an edit of ``update`` happens: now, to the minute, in the story's zone.

    None for an update still held back (dated after now): it was never
    published, so changing it is not an update readers need to hear about.
    """
    tz = ZoneInfo(story.timezone)
    if update.published.astimezone(UTC) > now.astimezone(UTC):
        return None
    local = now.astimezone(tz).replace(second=0, microsecond=0)
    # Within the update's own minute, its time (with seconds) comes first.
    return max(local, update.published.astimezone(tz), key=lambda t: t.astimezone(UTC))


def read_story(ws: Workspace, slug: str) -> Story:
    """One story as it is now, for a command about to change it; AuthoringError if it
    is not there or does not parse."""
    site = _site(ws)
    read = ws.store.read_story(slug, site)
    if read.story is not None and not read.problems:
        return read.story
    stories = ws.store.scan().stories  # only now: it lists every story
    if slug not in stories:
        known = ", ".join(stories) or "none yet"
        raise AuthoringError(
            f"no story {slug!r} in {ws.store.describe()} (stories: {known}); create one with "
            f'feeds new {slug} --title "..."'
        )
    listing = "\n".join(str(p) for p in read.problems)
    raise AuthoringError(f"{listing}\nfix the story file first; nothing was changed")
