"""An in-memory store: stories kept in a dict, for tests and for embedding feeds in a program.

It keeps each story's source text (the same Markdown as the file store) with
a version number that grows with every change, so it exercises everything a
build and authoring need of a store without touching a file. Problems are
located by story name and line (``storm:12``).
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from ..errors import AuthoringError, EditConflict, Problem, StoreError, StoryExists
from ..model import SLUG_RE, Site, Story
from ..settings import load_site
from . import ChangeFor, Listing, StoryRead
from .changes import Change, CreateStory, verify
from .problems import Problems
from .storyfile import parse_story
from .storytext import edit_story_text, new_story_text


class MemoryStore:
    shared = False  # its stories live in this process: builds read them here

    def __init__(self, site_toml: str, **stories: str) -> None:
        self._serial = itertools.count(1)
        self._lock = threading.RLock()
        self._site = (site_toml.encode(), str(next(self._serial)))
        self._stories: dict[str, tuple[bytes, str]] = {}
        self._retired: dict[str, frozenset[str]] = {}
        for slug, text in stories.items():
            self.put(slug, text.encode())

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._stories)} stories)"

    def describe(self) -> str:
        return "memory"

    # Direct access, for tests: what a person editing the source would do.
    def put(self, slug: str, raw: bytes) -> None:
        with self._lock:
            self._stories[slug] = (raw, str(next(self._serial)))

    def delete(self, slug: str) -> None:
        with self._lock:
            del self._stories[slug]

    def put_site(self, site_toml: str) -> None:
        with self._lock:
            self._site = (site_toml.encode(), str(next(self._serial)))

    def scan(self) -> Listing:
        with self._lock:
            stories = {slug: self._stories[slug][1] for slug in sorted(self._stories)}
            problems = tuple(
                Problem(slug, None, "not a valid story name: lowercase letters, digits, hyphens")
                for slug in stories
                if not SLUG_RE.match(slug)
            )
            stories = {slug: v for slug, v in stories.items() if SLUG_RE.match(slug)}
            return Listing(self._site[1], stories, problems=problems)

    def read_site(self) -> Site:
        problems: list[Problem] = []
        loaded = load_site_from(self._site[0], problems)
        if loaded is None:
            raise StoreError(problems)
        return loaded

    def read_story(self, slug: str, site: Site) -> StoryRead:
        with self._lock:
            entry = self._stories.get(slug)
        if entry is None:
            return StoryRead(None, (Problem(slug, None, "no such story"),))
        found = Problems(slug)
        story = parse_story(slug, entry[0], site, found)
        return StoryRead(story, tuple(found.items), hashlib.sha256(entry[0]).hexdigest())

    def story_source(self, slug: str) -> bytes:
        return self._stories[slug][0]

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._lock:
            yield

    def apply(self, slug: str, change: ChangeFor | CreateStory) -> Story:
        with self.writing():
            site = self.read_site()
            before = None
            if isinstance(change, CreateStory):
                if slug in self._stories:
                    raise StoryExists(f"story {slug!r} already exists; nothing was changed")
                made: Change = change
                new = new_story_text(change)
            else:
                if slug not in self._stories:
                    raise AuthoringError(f"no story {slug!r}; nothing was changed")
                raw = self._stories[slug][0]
                before = _parse(slug, raw, site, "fix the story first; nothing was changed")
                made = change(before)
                new = edit_story_text(raw, before, made)
            after = _parse(slug, new, site, "the change would break the story; nothing was written")
            wrong = verify(made, before, after)
            if wrong:
                raise AuthoringError(f"{slug}: {wrong}; nothing was written")
            self.put(slug, new)
            return after

    def replace_story(self, slug: str, raw: bytes, expect: bytes | None) -> Story:
        with self.writing():
            current = self._stories.get(slug, (b"", ""))[0]
            if expect is not None and current != expect:
                raise EditConflict(f"{slug} was changed by someone else; nothing was written")
            story = _parse(slug, raw, self.read_site(), "nothing was written")
            self.put(slug, raw)
            return story

    def remove_story(self, slug: str) -> None:
        with self.writing():
            if slug not in self._stories:
                raise AuthoringError(f"no story {slug!r}; nothing was changed")
            self.delete(slug)

    def site_source(self) -> bytes:
        return self._site[0]

    def replace_site(self, raw: bytes, expect: bytes | None) -> Site:
        with self.writing():
            if expect is not None and self._site[0] != expect:
                raise EditConflict("the site settings were changed by someone else")
            problems: list[Problem] = []
            site = load_site_from(raw, problems)
            if site is None:
                raise StoreError(problems)
            self.put_site(raw.decode())
            return site

    def retired(self, slug: str) -> frozenset[str]:
        return self._retired.get(slug, frozenset())

    def retire(self, slug: str, anchors: Iterable[str]) -> None:
        with self._lock:
            self._retired[slug] = self.retired(slug) | set(anchors)


def load_site_from(raw: bytes, problems: list[Problem]) -> Site | None:
    return load_site("site", raw, problems)


def _parse(slug: str, raw: bytes, site: Site, then: str) -> Story:
    problems = Problems(slug)
    story = parse_story(slug, raw, site, problems)
    if story is None:
        raise AuthoringError("\n".join(str(p) for p in problems.items) + "\n" + then)
    return story
