"""The file store: ``data/site.toml`` and one ``data/<slug>.md`` per story.

Files whose names start with ``_`` or ``.`` are ignored (drafts, editor swap
files). A story's version is its file's (mtime, size, inode); a story is read
whole, once, and checked before it is returned. Changes are made under a lock
(``store.lock`` in the store's own state folder, ``.feeds/`` beside ``data/``),
touching only the lines they are about, and written atomically (temporary
file, fsync, rename) with the file's mode kept. Anchors of updates that were
published and deleted are recorded in ``.feeds/retired/<slug>`` so that no new
update ever gets their ids, whichever state folder builds use.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AuthoringError, EditConflict, Problem, StoreError, StoryExists
from ..model import SLUG_RE, Site, Story
from ..publish.files import write_if_changed
from ..settings import SITE_TOML, load_site
from . import ChangeFor, Listing, StoryRead

# The parser and the editor are imported when a story is read or changed: a
# build that finds nothing to do lists the folder and stops.
if TYPE_CHECKING:
    from .changes import Change, CreateStory

STORE_LOCK_WAIT = 30.0
# A story file is text a person edits; anything this big is a mistake (and
# would make every feed that carries it unreasonably large).
MAX_FILE_BYTES = 8 * 1024 * 1024
# A file changed within this long before the store was listed may change
# again within the same tick of its file system's clock, keeping its mtime
# (and, if its size too, hiding the change): such versions are unsettled.
RACY_NS = 2_000_000_000


class FileStore:
    shared = True  # worker processes read the same files

    def __init__(self, root: Path | str, meta: Path | None = None) -> None:
        self.root = Path(root)
        # The store's own bookkeeping (lock, retired ids): beside data/, not in it.
        self.meta = meta or self.root.absolute().parent / ".feeds"

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    def describe(self) -> str:
        return str(self.root)

    def path(self, slug: str) -> Path:
        return self.root / f"{slug}.md"

    # --- reading -----------------------------------------------------------

    def scan(self) -> Listing:
        scanned_at = time.time_ns()
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        stories: dict[str, str] = {}
        unsettled: set[str] = set()
        problems: list[Problem] = []
        site_version, site_unsettled = "", False
        for entry in entries:  # names and types come with the listing
            name = entry.name
            if name == SITE_TOML:
                site_version, site_unsettled = _version(entry, scanned_at)
                continue
            slug = self._slug(entry, problems)
            if slug is None:
                continue
            version, racy = _version(entry, scanned_at)
            if version:
                stories[slug] = version
                if racy:
                    unsettled.add(slug)
        return Listing(site_version, stories, frozenset(unsettled), tuple(problems), site_unsettled)

    def _slug(self, entry: os.DirEntry[str], problems: list[Problem]) -> str | None:
        name = entry.name
        if name.startswith(("_", ".")):
            return None
        # The usual case, decided from the listing alone (no Path, no stat).
        stem = name[:-3]
        usual = name.endswith(".md") and len(stem) <= 100 and SLUG_RE.match(stem)
        if usual and not entry.is_symlink() and not entry.is_dir():
            return stem
        stem, suffix = os.path.splitext(name)
        if suffix.lower() not in (".md", ".markdown"):
            return None
        path = self.root / name
        if suffix != ".md":
            problems.append(
                Problem(
                    path,
                    None,
                    f"story files end in .md: rename it to {stem}.md "
                    "(or start its name with _ to keep it out of the store)",
                )
            )
        elif entry.is_symlink() and not _follows(path):
            problems.append(
                Problem(path, None, "a symbolic link to nothing (or a loop); fix or remove it")
            )
        elif entry.is_dir():
            problems.append(Problem(path, None, "a folder named like a story file; rename it"))
        elif not SLUG_RE.match(stem) or len(stem) > 100:
            problems.append(
                Problem(
                    path,
                    None,
                    f"{name!r} is not a valid story file name: use lowercase letters, digits "
                    "and hyphens (like kazerun-protests.md); it becomes the story's URL",
                )
            )
        else:
            return stem
        return None

    def read_site(self) -> Site:
        if not self.root.is_dir():
            raise StoreError(
                [Problem(self.root, None, "no such folder; pass --data DIR or create it")]
            )
        problems: list[Problem] = []
        path = self.root / SITE_TOML
        raw = read_store_file(path, problems)
        loaded = load_site(path, raw, problems) if raw is not None else None
        if loaded is None:
            raise StoreError(problems)
        return loaded

    def read_story(self, slug: str, site: Site) -> StoryRead:
        path = self.path(slug)
        problems: list[Problem] = []
        raw = read_store_file(path, problems)
        if raw is None:
            return StoryRead(None, tuple(problems))
        from .problems import Problems
        from .storyfile import parse_story

        found = Problems(path)
        story = parse_story(slug, raw, site, found)
        return StoryRead(story, tuple(found.items), hashlib.sha256(raw).hexdigest())

    def story_source(self, slug: str) -> bytes:
        path = self.path(slug)
        try:
            raw = read_regular(path, MAX_FILE_BYTES)[1]
        except NotRegularFile:
            raise AuthoringError(f"{path}: not a regular file; a store holds only files") from None
        if len(raw) > MAX_FILE_BYTES:
            raise AuthoringError(f"{path}: more than the {MAX_FILE_BYTES:,} bytes a story may hold")
        return raw

    # --- changing ----------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The store's lock; a file that cannot be written is an error naming it."""
        from ..build.lock import file_lock

        with file_lock(
            self.meta / "store.lock",
            STORE_LOCK_WAIT,
            "changes to the store",
            fix="move data/ where the folder beside it can be written",
        ):
            try:
                yield
            except OSError as exc:  # every write is staged and renamed: none is half done
                raise AuthoringError(
                    f"{exc.filename or self.root}: {exc.strerror}; nothing was "
                    "changed: free space or fix permissions, then run it again"
                ) from exc

    def apply(self, slug: str, change: ChangeFor | CreateStory) -> Story:
        from .changes import CreateStory, verify
        from .storytext import edit_story_text, new_story_text

        with self.writing():
            site = self._site_for_change()
            path = self.path(slug)
            real = Path(os.path.realpath(path))
            before = None
            if isinstance(change, CreateStory):
                if os.path.lexists(path):
                    raise StoryExists(f"{path} already exists; nothing was changed")
                made: Change = change
                new, mode = new_story_text(change), 0o644
            else:
                if not real.is_file():
                    raise AuthoringError(self._no_story(slug))
                raw = real.read_bytes()
                before = _parse(path, slug, raw, site, before=True)
                made = change(before)
                new, mode = edit_story_text(raw, before, made), real.stat().st_mode & 0o777
            if len(new) > MAX_FILE_BYTES:
                raise AuthoringError(
                    f"{path}: the story would grow past {MAX_FILE_BYTES:,} bytes; start a new "
                    "story for what follows; nothing was written"
                )
            after = _parse(path, slug, new, site)
            wrong = verify(made, before, after)
            if wrong:
                raise AuthoringError(f"{path}: {wrong}; nothing was written")
            write_if_changed(real, new, mode=mode)
            return after

    def replace_story(self, slug: str, raw: bytes, expect: bytes | None) -> Story:
        with self.writing():
            site = self._site_for_change()
            path = self.path(slug)
            real = Path(os.path.realpath(path))
            current = real.read_bytes() if real.is_file() else b""
            if expect is not None and current != expect:
                raise EditConflict(
                    f"{path} was changed by someone else while you were editing it; "
                    "nothing was written"
                )
            story = _parse(path, slug, raw, site)
            mode = real.stat().st_mode & 0o777 if real.is_file() else 0o644
            write_if_changed(real, raw, mode=mode)
            return story

    def remove_story(self, slug: str) -> None:
        with self.writing():
            try:
                self.path(slug).unlink()
            except FileNotFoundError:
                raise AuthoringError(self._no_story(slug)) from None

    def site_source(self) -> bytes:
        return (self.root / SITE_TOML).read_bytes()

    def replace_site(self, raw: bytes, expect: bytes | None) -> Site:
        path = self.root / SITE_TOML
        with self.writing():
            current = path.read_bytes() if path.is_file() else b""
            if expect is not None and current != expect:
                raise EditConflict(
                    f"{path} was changed by someone else while you were editing it; "
                    "nothing was written"
                )
            problems: list[Problem] = []
            site = load_site(path, raw, problems)
            if site is None:
                raise StoreError(problems)
            write_if_changed(path, raw)
            return site

    def _site_for_change(self) -> Site:
        try:
            return self.read_site()
        except StoreError as exc:
            hint = "fix site.toml first, or run feeds init (or pass --data DIR)"
            raise AuthoringError(f"{exc}\n{hint}") from exc

    def _no_story(self, slug: str) -> str:
        known = ", ".join(self.scan().stories) or "none yet"
        return (
            f"no story {slug!r} in {self.root} (stories: {known}); create one with "
            f'feeds new {slug if SLUG_RE.match(slug) else "SLUG"} --title "..."'
        )

    def retired(self, slug: str) -> frozenset[str]:
        try:
            text = (self.meta / "retired" / slug).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return frozenset()
        return frozenset(line for line in text.split("\n") if line)

    def retire(self, slug: str, anchors: Iterable[str]) -> None:
        known = self.retired(slug)
        new = known | set(anchors)
        if new != known:
            with self.writing():
                new |= self.retired(slug)
                text = "".join(f"{a}\n" for a in sorted(new))
                write_if_changed(self.meta / "retired" / slug, text.encode())


def _version(entry: os.DirEntry[str], scanned_at: int) -> tuple[str, bool]:
    """The entry's version, and whether it is too recent to be trusted."""
    try:
        st = entry.stat()
    except OSError:
        return "", False
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}", st.st_mtime_ns >= scanned_at - RACY_NS


def _parse(path: Path, slug: str, raw: bytes, site: Site, before: bool = False) -> Story:
    from .problems import Problems
    from .storyfile import parse_story

    problems = Problems(path)
    story = parse_story(slug, raw, site, problems)
    if story is None:
        listing = "\n".join(str(p) for p in problems.items)
        if before:
            raise AuthoringError(f"{listing}\nfix the story file first; nothing was changed")
        raise AuthoringError(
            f"{listing}\n(line numbers are those the file would have had) "
            "the change would break the story; nothing was written"
        )
    return story


def _follows(path: Path) -> bool:
    """Does a symbolic link lead somewhere (not nowhere, not round in a loop)?"""
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def read_store_file(path: Path, problems: list[Problem]) -> bytes | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(
                Problem(
                    path,
                    None,
                    f"{size:,} bytes is more than the {MAX_FILE_BYTES:,} a store file may "
                    "hold; split the story, or move old updates to a new story",
                )
            )
            return None
        raw = read_stable(path)
        if raw is not None and len(raw) > MAX_FILE_BYTES:
            problems.append(
                Problem(path, None, f"more than the {MAX_FILE_BYTES:,} bytes a store file may hold")
            )
            return None
    except NotRegularFile:
        problems.append(
            Problem(
                path,
                None,
                "not a regular file (a device, a pipe or a socket): a store holds only "
                "files; remove it or point the link at a file",
            )
        )
        return None
    except FileNotFoundError:
        what = "create it with title, base_url, id_authority and author (see docs/store-format.md)"
        problems.append(
            Problem(
                path,
                None,
                f"missing: {what}"
                if path.name == SITE_TOML
                else "disappeared while being read; run the build again",
            )
        )
        return None
    except OSError as exc:
        problems.append(Problem(path, None, f"cannot read it ({exc.strerror}); check permissions"))
        return None
    if raw is None:
        problems.append(Problem(path, None, "kept changing while being read; run the build again"))
    return raw


class NotRegularFile(OSError):
    """A device, a FIFO, a socket or a folder where a file was expected."""


def read_regular(path: Path, limit: int) -> tuple[os.stat_result, bytes]:
    """Up to ``limit + 1`` bytes of a regular file, and its stat.

    Opened without blocking (a FIFO would wait for a writer), checked to be a
    regular file (``/dev/zero`` has a size of 0 and no end), and read by the
    bytes that actually arrive, so no file can make a read unbounded.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(0, "not a regular file", str(path))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return st, b"".join(chunks)
    finally:
        os.close(fd)


def read_stable(path: Path, attempts: int = 5, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The file's bytes, read whole and unchanged while reading.

    An editor that rewrites a file in place could otherwise be caught half-way
    through a save; if the file's identity, size or mtime moved during the
    read, read it again (a build must never publish half an update). At most
    ``limit + 1`` bytes are read (the caller tells a file over the limit by
    its length).
    """
    for attempt in range(attempts):
        before, raw = read_regular(path, limit)
        after = path.stat()
        same = (before.st_ino, before.st_size, before.st_mtime_ns) == (
            after.st_ino,
            after.st_size,
            after.st_mtime_ns,
        )
        if same and (len(raw) == after.st_size or len(raw) > limit):
            return raw
        time.sleep(0.05 * (attempt + 1))
    return None
