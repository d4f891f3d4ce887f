"""Changing the store from commands: sites, stories, updates, edits.

Every change to a story file follows the same steps, under the store lock
(``.feeds/store.lock``) so that two reporters adding updates at once both land:

1. read the file and parse it; a file that is already invalid is refused;
2. change its text, touching only the lines the change is about (the rest of
   the file keeps every byte, including a byte-order mark and CRLF newlines);
3. parse the result and check it is exactly the change asked for;
4. write it atomically (temporary file, fsync, rename), keeping its mode.

So a command that fails leaves ``data/`` byte-identical, and a build running
meanwhile reads either the old file or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .errors import FeedsError, Problem, StoreError
from .lock import store_lock
from .model import SLUG_RE, Site, Story, Update, check_slug
from .pipeline import default_state_dir
from .publish import write_if_changed
from .state import load_state
from .store.files import MAX_FILE_BYTES, SITE_FILE, FileStore, load_site
from .store.headings import HeadingLine, default_anchor
from .store.problems import Problems
from .store.storyfile import parse_story
from .timeutil import format_offset, zone

STORE_LOCK_WAIT = 30.0


class AuthoringError(FeedsError):
    """A change that cannot be made; nothing was written."""


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escaping is a subset TOML accepts)."""
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------
# Sites and stories


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
    if (data / SITE_FILE).exists():
        raise AuthoringError(f"{data / SITE_FILE} already exists; nothing was changed")
    zone(timezone)  # raises TimeError with a clear message
    host = urlsplit(base_url).hostname or ""
    authority = id_authority or f"{host},{now.year}"
    site_toml = (
        '# The site. See the README, "The store".\n'
        f"title = {toml_string(title)}\n"
        f"base_url = {toml_string(base_url)}\n"
        "# Part of every item id (RFC 4151 tag: URI): never change it, even if base_url moves.\n"
        f"id_authority = {toml_string(authority)}\n"
        f"author = {toml_string(author)}\n"
        'language = "en"\n'
        f"timezone = {toml_string(timezone)}\n"
        "items_per_feed = 50\n"
    )
    problems: list[Problem] = []
    site = load_site(data / SITE_FILE, site_toml.encode(), problems)
    if site is None:
        raise AuthoringError("\n".join(p.message for p in problems))
    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    stamp = format_stamp(local)
    example = (
        "+++\n"
        'title = "Example story"\n'
        'summary = "What a live story looks like in feeds; edit or delete this file."\n'
        f"timezone = {toml_string(timezone)}\n"
        'status = "live"\n'
        "+++\n\n"
        "Background goes here, before the first update: what happened before the story began.\n\n"
        f"## {stamp} — The first update {{#first-update}}\n\n"
        "Each update is a level-2 heading with its local time, then its text. Add the next one\n"
        'with `feeds add example "Text of the update"`, then run `feeds build`.\n'
    )
    created = []
    for path, text in (
        (data / SITE_FILE, site_toml),
        (data / "example.md", example),
        (root / ".gitignore", "/out/\n/.feeds/\n/.venv/\n"),
    ):
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(path, text.encode(), mode=0o644)
        created.append(path)
    return created


def new_story(
    data_dir: Path,
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
    with store_lock(default_state_dir(data_dir), STORE_LOCK_WAIT):
        site = _site(data_dir)
        path = data_dir / f"{slug}.md"
        if path.exists():
            raise AuthoringError(f"{path} already exists; nothing was changed")
        tz_name = timezone or site.timezone
        created = now.astimezone(zone(tz_name)).replace(microsecond=0)
        lines = ["+++", f"title = {toml_string(title.strip())}"]
        if summary:
            lines.append(f"summary = {toml_string(summary.strip())}")
        if link:
            lines.append(f"link = {toml_string(link)}")
        lines += [
            f"timezone = {toml_string(tz_name)}",
            'status = "live"',
            f"created = {created.isoformat()}",
            "+++",
            "",
            "",
        ]
        raw = "\n".join(lines).encode()
        story = _parse(path, raw, site)
        write_if_changed(path, raw, mode=0o644)
        return story


def end_story(data_dir: Path, slug: str) -> Story:
    """Mark a story ended (``status = "ended"`` in its front matter)."""
    with _story_file(data_dir, slug) as sf:
        close = next(i for i in range(1, len(sf.lines)) if sf.lines[i].strip() == "+++")
        status = next(
            (i for i in range(1, close) if re.match(r"^\s*status\s*=", sf.lines[i])), None
        )
        if status is None:
            sf.insert(close, ['status = "ended"'])
        else:
            sf.lines[status] = 'status = "ended"'

        return sf.save(lambda s: None if s.status == "ended" else "status did not change")


# --------------------------------------------------------------------------
# Updates


def add_update(
    data_dir: Path,
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
    text = _clean_text(text)
    title = _one_line(title)
    if not text and not title:
        raise AuthoringError("the update has no text; nothing was written")
    with _story_file(data_dir, slug) as sf:
        tz = ZoneInfo(sf.story.timezone)
        when = (at or now.replace(second=0, microsecond=0)).astimezone(tz)
        local = when.replace(tzinfo=None)
        repeated = when.replace(fold=0).utcoffset() != when.replace(fold=1).utcoffset()
        # Anchors in the file, and those of updates published before and since
        # deleted or retracted: reusing one would resurrect a dead item's id.
        taken = {u.anchor for u in sf.story.updates} | _anchors_in_state(data_dir, sf.story)
        if anchor is None:
            anchor = _free_anchor(default_anchor(local, repeated and when.fold == 1), taken)
        elif anchor in taken:
            raise AuthoringError(
                f"story {slug!r} already has (or had) an update with the id {anchor!r}; "
                "choose another --id"
            )
        heading = HeadingLine(format_stamp(when), title, ())
        try:
            heading = heading.with_attr("#", anchor)
            if author:
                heading = heading.with_attr("author", _one_line(author))
        except ValueError as exc:
            raise AuthoringError(f"{exc}; nothing was written") from exc
        section = [heading.render(), ""] + (text.split("\n") + [""] if text else [])

        # Newest first: before the first update (in file order) not newer than this one.
        position = None
        for update in sorted(sf.story.updates, key=lambda u: u.line):
            if update.published.astimezone(UTC) <= when.astimezone(UTC):
                position = update.line - 1
                break
        if position is None:
            sf.append(section)
        else:
            if position > 0 and sf.lines[position - 1].strip():
                section.insert(0, "")
            sf.insert(position, section)
        new_id = f"{sf.story.feed_id}/{anchor}"
        story = sf.save(lambda s: _exactly(sf.story, s, added=new_id))
        return _find(story, anchor)


def story_zone(data_dir: Path, slug: str) -> ZoneInfo:
    """The zone story ``slug``'s local times are in."""
    return ZoneInfo(_site_and_story(data_dir, slug)[1].timezone)


def update_text(data_dir: Path, slug: str, ident: str) -> str:
    """The Markdown text of one update, for an editor."""
    story = _site_and_story(data_dir, slug)[1]
    return _find(story, ident).text


class EditConflict(AuthoringError):
    """The update changed while its new text was being written."""


def edit_update(
    data_dir: Path,
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
        text = _clean_text(text)
        if not text:
            raise AuthoringError("the new text is empty; nothing was written (use feeds retract)")
    with _story_file(data_dir, slug) as sf:
        update = _find(sf.story, ident)
        if started_from is not None and update.text != _clean_text(started_from):
            raise EditConflict(
                f"{update.anchor!r} was changed by someone else while you were editing it; "
                "nothing was written"
            )
        heading = sf.heading(update)
        if title is not None:
            heading = heading.with_title(_one_line(title))
        sf.set_heading(update, heading)
        if text is not None:
            sf.set_body(update, text)
        return _find(sf.save(lambda s: _exactly(sf.story, s, changed=update.id)), update.anchor)


def correct_update(data_dir: Path, slug: str, ident: str, *, note: str, now: datetime) -> Update:
    """Append a dated correction note to an update and set its ``updated``."""
    note = _clean_text(note)
    if not note:
        raise AuthoringError('a correction needs a note: --note "what was wrong"')
    with _story_file(data_dir, slug) as sf:
        update = _find(sf.story, ident)
        if update.retracted:
            raise AuthoringError(f"{update.anchor!r} is retracted: nobody would see a correction")
        when = _change_time(now, sf.story, update)
        heading = sf.heading(update)
        if when is not None:  # not for an update still held back: it was never published
            heading = heading.with_attr("updated", format_stamp(when))
        stamp = (when or now.astimezone(ZoneInfo(sf.story.timezone))).strftime("%Y-%m-%d %H:%M")
        sf.set_heading(update, heading)
        sf.set_body(update, f"{update.text}\n\n**Correction ({stamp}):** {note}".strip())
        return _find(sf.save(lambda s: _exactly(sf.story, s, changed=update.id)), update.anchor)


def retract_update(
    data_dir: Path, slug: str, ident: str, *, note: str | None, now: datetime
) -> Update:
    """Withdraw an update: it leaves RSS and becomes a tombstone in Atom."""
    with _story_file(data_dir, slug) as sf:
        update = _find(sf.story, ident)
        if update.retracted:
            raise AuthoringError(f"{update.anchor!r} is already retracted; nothing was changed")
        when = _change_time(now, sf.story, update)
        # Held back and never published: withdrawn without a date (and no tombstone).
        heading = sf.heading(update).with_attr("retracted", format_stamp(when) if when else None)
        if note is not None:
            cleaned = " ".join(note.split())
            if not cleaned or re.search(r'["{}]', cleaned):
                raise AuthoringError(
                    'a retraction note must not be empty or contain " { or }; nothing was written'
                )
            heading = heading.with_attr("note", cleaned)
        sf.set_heading(update, heading)
        return _find(sf.save(lambda s: _exactly(sf.story, s, changed=update.id)), update.anchor)


# --------------------------------------------------------------------------
# Helpers

_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass
class _StoryFile:
    path: Path  # data/<slug>.md: its name is the slug
    real: Path  # the file to write (a symbolic link is followed, not replaced)
    site: Site
    story: Story  # parsed from exactly the bytes below
    lines: list[str]
    ends: list[str]  # each line's own line ending ("" after the last line)
    newline: str  # for new lines: the file's most common line ending
    bom: bool
    mode: int

    def heading(self, update: Update) -> HeadingLine:
        try:
            line = HeadingLine.parse(self.lines[update.line - 1])
        except ValueError as exc:
            raise AuthoringError(f"{self.path}:{update.line}: {exc}") from exc
        # Pin the id: an anchor derived from the time would change if the time did.
        return line if line.has("#") else line.with_attr("#", update.anchor)

    def set_heading(self, update: Update, heading: HeadingLine) -> None:
        self.lines[update.line - 1] = heading.render()

    def _replace(self, start: int, end: int, new: list[str]) -> None:
        ends = self.ends[start:end]
        last = ends[-1] if ends else self.newline
        self.lines[start:end] = new
        self.ends[start:end] = [self.newline] * (len(new) - 1) + [last] if new else []

    def insert(self, index: int, new: list[str]) -> None:
        self.lines[index:index] = new
        self.ends[index:index] = [self.newline] * len(new)

    def append(self, section: list[str]) -> None:
        """Add ``section`` (which ends with "") at the end, after one blank line."""
        while len(self.lines) > 1 and self.lines[-1] == "":
            self.lines.pop()
            self.ends.pop()
        self.ends[-1] = self.newline
        new = ["", *section]
        self.lines += new
        self.ends += [self.newline] * (len(new) - 1) + [""]

    def set_body(self, update: Update, text: str) -> None:
        start = update.line  # index of the line after the heading
        later = [u.line for u in self.story.updates if u.line > update.line]
        end = min(later) - 1 if later else len(self.lines)
        # A blank line before the next heading, or the file's final newline.
        body = ["", *text.split("\n"), ""]
        if not later and self.lines[-1] != "":
            body.pop()  # the file had no final newline; keep it that way
        self._replace(start, end, body)

    def save(self, check: Callable[[Story], str | None]) -> Story:
        text = "".join(line + end for line, end in zip(self.lines, self.ends, strict=True))
        raw = ("\ufeff" if self.bom else "").encode() + text.encode()
        if len(raw) > MAX_FILE_BYTES:
            raise AuthoringError(
                f"{self.path}: the story would grow past {MAX_FILE_BYTES:,} bytes; start a new "
                "story for what follows; nothing was written"
            )
        story = _parse(self.path, raw, self.site)
        wrong = check(story)
        if wrong:
            raise AuthoringError(f"{self.path}: {wrong}; nothing was written")
        write_if_changed(self.real, raw, mode=self.mode)
        return story


@contextmanager
def _story_file(data_dir: Path, slug: str) -> Iterator[_StoryFile]:
    """Open a story for a change, under the store lock: read once, parse those bytes."""
    with store_lock(default_state_dir(data_dir), STORE_LOCK_WAIT):
        site, path = _site(data_dir), _story_path(data_dir, slug)
        real = Path(os.path.realpath(path))
        raw = real.read_bytes()
        story = _parse(path, raw, site, before=True)
        text = raw.decode("utf-8-sig")
        # Split exactly as the parser does (\r\n, \r or \n), keeping each ending.
        parts = _NEWLINE.split(text)
        ends = _NEWLINE.findall(text) + [""]
        counts = {e: ends.count(e) for e in ("\n", "\r\n", "\r")}
        yield _StoryFile(
            path=path,
            real=real,
            site=site,
            story=story,
            lines=parts,
            ends=ends,
            newline=max(counts, key=lambda e: counts[e]) if any(counts.values()) else "\n",
            bom=raw.startswith(b"\xef\xbb\xbf"),
            mode=real.stat().st_mode & 0o777,
        )


def _site(data_dir: Path) -> Site:
    try:
        return FileStore(data_dir).load_site()
    except StoreError as exc:
        hint = "fix site.toml first, or run feeds init (or pass --data DIR)"
        raise AuthoringError(f"{exc}\n{hint}") from exc


def _story_path(data_dir: Path, slug: str) -> Path:
    path = data_dir / f"{slug}.md"
    if not SLUG_RE.match(slug) or not path.is_file():
        known = ", ".join(p.stem for p in FileStore(data_dir).story_paths()[0]) or "none yet"
        raise AuthoringError(
            f"no story {slug!r} in {data_dir} (stories: {known}); create one with "
            f'feeds new {slug if SLUG_RE.match(slug) else "SLUG"} --title "..."'
        )
    return path


def _site_and_story(data_dir: Path, slug: str) -> tuple[Site, Story]:
    site = _site(data_dir)
    path = _story_path(data_dir, slug)
    return site, _parse(path, path.read_bytes(), site, before=True)


def _parse(path: Path, raw: bytes, site: Site, before: bool = False) -> Story:
    problems = Problems(path)
    story = parse_story(path, raw, site, problems)
    if story is None:
        listing = "\n".join(str(p) for p in problems.items)
        if before:
            raise AuthoringError(f"{listing}\nfix the story file first; nothing was changed")
        raise AuthoringError(
            f"{listing}\n(line numbers are those the file would have had) "
            "the change would break the story; nothing was written"
        )
    return story


def _find(story: Story, ident: str) -> Update:
    anchor = ident.rpartition("/")[2] if ident.startswith("tag:") else ident.lstrip("#")
    for update in story.updates:
        if update.anchor == anchor and (not ident.startswith("tag:") or update.id == ident):
            return update
    newest = ", ".join(u.anchor for u in story.updates[:5]) or "none"
    raise AuthoringError(
        f"story {story.slug!r} has no update {ident!r} (newest: {newest}); "
        f"see them all with feeds show {story.slug}"
    )


def _exactly(
    before: Story, after: Story, *, added: str | None = None, changed: str | None = None
) -> str | None:
    """Did the change do exactly what was asked, and nothing to any other update?"""
    old = {u.id: u for u in before.updates}
    new = {u.id: u for u in after.updates}
    expected = set(old) | ({added} if added else set())
    if set(new) != expected:
        extra = sorted(set(new) - expected)
        if extra:
            return (
                f"the text would create another update ({extra[0]}): a line in it starts like "
                "an update heading (## YYYY-MM-DD HH:MM); reword it or indent it"
            )
        return f"the change would remove {sorted(expected - set(new))[0]}"
    for update_id, update in old.items():
        if update_id == changed:
            continue
        other = new[update_id]
        if (other.content_hash, other.retracted, other.explicit_updated) != (
            update.content_hash,
            update.retracted,
            update.explicit_updated,
        ):
            return f"the change would also alter {update_id}, which it should not"
    return None


def _anchors_in_state(data_dir: Path, story: Story) -> set[str]:
    state, _ = load_state(default_state_dir(data_dir))
    prefix = story.feed_id + "/"
    ids = set(state.history.published) | set(state.history.tombstones)
    return {i[len(prefix) :] for i in ids if i.startswith(prefix)}


def _free_anchor(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    for suffix in "bcdefghijklmnopqrstuvwxyz":
        if f"{base}-{suffix}" not in taken:
            return f"{base}-{suffix}"
    raise AuthoringError(f"too many updates at the same minute ({base}); give this one --id")


def _clean_text(text: str) -> str:
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


def _change_time(now: datetime, story: Story, update: Update) -> datetime | None:
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


def write_new_story(data_dir: Path, slug: str, text: str) -> Story:
    """Write a whole new story file (for importers), checked first, under the lock."""
    check_slug(slug)
    with store_lock(default_state_dir(data_dir), STORE_LOCK_WAIT):
        site = _site(data_dir)
        path = data_dir / f"{slug}.md"
        if path.exists():
            raise AuthoringError(f"{path} already exists; nothing was changed")
        raw = text.encode()
        story = _parse(path, raw, site)
        write_if_changed(path, raw, mode=0o644)
        return story


def format_stamp(when: datetime) -> str:
    """An aware time as headings write it: local, seconds if any, offset if it repeats."""
    local = when.replace(tzinfo=None)
    stamp = local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
    if when.replace(fold=0).utcoffset() != when.replace(fold=1).utcoffset():
        offset = when.utcoffset()
        assert offset is not None
        stamp += " " + format_offset(offset)  # which of the two 01:30s
    return stamp
