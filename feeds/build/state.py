"""The build state: what earlier builds published and wrote, kept between builds as typed records.

It lives in the state folder (default ``.feeds/`` beside ``data/``), not in
``out/``, so ``rm -rf out/`` loses nothing. One format number, :data:`FORMAT`;
a state of any other format is not read (the build starts afresh, which
loses edit times and tombstones but never ids or published times).

``stories/<slug>.json``
    a story's history -- every update now in a feed with its content digest
    and the time its current content was first built (its Atom ``updated``),
    and its tombstones -- and the sort keys of its newest updates, for the
    site-wide feeds.
``site.json``
    a cache of the site folder's inputs that would otherwise need every
    story: each story's link (its index and OPML entries rendered), its
    tombstones, and the site-wide feeds' current items, serialised. Nothing in
    it cannot be made again; if it is missing or unreadable, the next build
    renders everything.
``index.json``
    what shows that there is nothing to do without reading any story: the
    store's versions when last built, when something next becomes due, the
    digest of the settings and renderer (``site_key``), each folder's digest,
    and every file written with its size.

Files are replaced atomically, and only when their bytes change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..publish.files import write_if_changed
from ..timeutil import rfc3339

if TYPE_CHECKING:  # the records below need them; an idle build needs only the Index
    from ..model import Tombstone
    from ..reconcile import History
    from .folder import SiteItem

FORMAT = 4
INDEX_FILE = "index.json"
SITE_CACHE_FILE = "site.json"
OLD_SITE_CACHE_FILE = "site.pickle"  # feeds 0.2: code, not data; removed when seen
STORIES = "stories"

SortKey = tuple[str, str]  # (UTC time as RFC 3339, id): newest first is descending


def code_version() -> str:
    """What the output is made with, cheaply enough for an idle build to ask.

    This package's version, the zone database's, and where and when the Markdown
    and sanitiser libraries were installed (found, not imported). When it moves,
    the next build looks at the render key (feeds.build.folder.site_key), which
    says whether anything must be rendered again.
    """
    import importlib.util
    import os

    import tzdata

    from .. import __version__

    parts = [f"feeds {__version__}", f"tzdata {tzdata.IANA_VERSION}"]
    for name in ("markdown_it_pyrs", "nh3"):
        spec = importlib.util.find_spec(name)
        try:
            st = os.stat(spec.origin or "") if spec else None
        except OSError:
            st = None
        parts.append(f"{name} {st.st_mtime_ns}:{st.st_size}" if st else f"{name} ?")
    return "; ".join(parts)


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"naive time {text!r} in state")
    return value


def _time_or_none(text: str | None) -> datetime | None:
    return parse_time(text) if text else None


@dataclass
class Index:
    """index.json."""

    code: str = ""  # code_version() of the build that wrote it
    site_version: str = ""
    sources: dict[str, str] = field(default_factory=dict)  # slug -> version when built
    next_event: datetime | None = None
    due: dict[str, datetime] = field(default_factory=dict)  # slug -> its next event
    embargo: dict[str, datetime] = field(default_factory=dict)  # slug -> next held-back update
    built_at: datetime | None = None  # the clock of the last build
    site_key: str = ""
    feeds: dict[str, str] = field(default_factory=dict)  # folder -> digest
    # folder ("" or "<slug>/") -> {file: size}: grouped, so a build can take
    # or replace one folder's files without going through 50,000 names.
    outputs: dict[str, dict[str, int]] = field(default_factory=dict)

    def files(self) -> dict[str, int]:
        return {name: size for files in self.outputs.values() for name, size in files.items()}

    def count(self) -> int:
        return sum(len(files) for files in self.outputs.values())

    def encode(self) -> bytes:
        raw = {
            "format": FORMAT,
            "code": self.code,
            "site_version": self.site_version,
            "sources": self.sources,
            "next_event": rfc3339(self.next_event) if self.next_event else None,
            "due": {k: rfc3339(v) for k, v in sorted(self.due.items())},
            "embargo": {k: rfc3339(v) for k, v in sorted(self.embargo.items())},
            "built_at": rfc3339(self.built_at) if self.built_at else None,
            "site_key": self.site_key,
            "feeds": self.feeds,
            "outputs": self.outputs,
        }
        # Not sorted: the build keeps these in a stable order, and sorting 50,000
        # outputs costs more than the rest of a one-story build's bookkeeping.
        return (json.dumps(raw, separators=(",", ":")) + "\n").encode()

    @classmethod
    def load(cls, state_dir: Path) -> Index | None:
        try:
            raw = json.loads((state_dir / INDEX_FILE).read_bytes())
            if raw.get("format") != FORMAT:
                return None
            return cls(
                code=str(raw["code"]),
                site_version=str(raw["site_version"]),
                sources={str(k): str(v) for k, v in raw["sources"].items()},
                next_event=_time_or_none(raw["next_event"]),
                due={str(k): parse_time(v) for k, v in raw["due"].items()},
                embargo={str(k): parse_time(v) for k, v in raw["embargo"].items()},
                built_at=_time_or_none(raw["built_at"]),
                site_key=str(raw["site_key"]),
                feeds={str(k): str(v) for k, v in raw["feeds"].items()},
                outputs={
                    str(folder): {str(k): int(v) for k, v in files.items()}
                    for folder, files in raw["outputs"].items()
                },
            )
        except Exception:  # unreadable in any way (even too deeply nested): build everything
            return None

    def save(self, state_dir: Path) -> bool:
        return write_if_changed(state_dir / INDEX_FILE, self.encode())


# --- one story's part -------------------------------------------------------


def story_state_path(state_dir: Path, slug: str) -> Path:
    return state_dir / STORIES / f"{slug}.json"


@dataclass(frozen=True)
class StoryState:
    """stories/<slug>.json: a story's history and the sort keys of its newest updates."""

    history: History
    keys: tuple[SortKey, ...] = ()

    def encode(self) -> bytes:
        raw = {
            "format": FORMAT,
            "published": {
                k: {
                    "story": r.story_slug,
                    "url": r.url,
                    "hash": r.content_hash,
                    "updated": rfc3339(r.updated),
                }
                for k, r in sorted(self.history.published.items())
            },
            "tombstones": {
                k: {"story": t.story_slug, "url": t.url, "when": rfc3339(t.when), "note": t.note}
                for k, t in sorted(self.history.tombstones.items())
            },
            "keys": [list(k) for k in self.keys],
        }
        text = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return (text + "\n").encode()

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> StoryState:
        from ..model import Tombstone
        from ..reconcile import History, UpdateRecord

        # Format 3 (feeds 0.1) kept the same history and keys, and a link now kept
        # in the site cache: read as it is, so an upgrade keeps edit times and
        # tombstones (its index and site cache are not read: one full build).
        if raw.get("format") not in (3, FORMAT):
            raise ValueError(f"unknown format {raw.get('format')!r}")
        history = History(
            published={
                k: UpdateRecord(v["story"], v["url"], v["hash"], parse_time(v["updated"]))
                for k, v in raw["published"].items()
            },
            tombstones={
                k: Tombstone(k, v["story"], v["url"], parse_time(v["when"]), v.get("note", ""))
                for k, v in raw["tombstones"].items()
            },
        )
        return cls(history, tuple((str(t), str(i)) for t, i in raw["keys"]))


def load_story_state(state_dir: Path, slug: str) -> tuple[StoryState | None, str | None]:
    """A story's saved state (None if there is none), and a warning if it was unreadable."""
    path = story_state_path(state_dir, slug)
    try:
        return StoryState.decode(json.loads(path.read_bytes())), None
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        return None, (
            f"{path}: unreadable build state ({exc}); starting this story afresh: edit times "
            "and tombstones recorded there are lost, ids and published times are not"
        )


def load_history(state_dir: Path, slug: str) -> History:
    """What builds recorded of one story (empty if nothing, or unreadable)."""
    from ..reconcile import History

    state, _ = load_story_state(state_dir, slug)
    return state.history if state else History.empty()


def stored_slugs(state_dir: Path) -> list[str]:
    """Every story with a saved state."""
    try:
        return sorted(p.stem for p in (state_dir / STORIES).glob("*.json"))
    except OSError:
        return []


# --- the site folder's inputs -------------------------------------------------


class CachedLink(NamedTuple):
    """What the site folder needs of a story: its entries rendered, and when it last changed.

    A named tuple of strings, because a one-story build loads and saves 10,000 of
    them.
    """

    sort: str  # its last change, UTC, RFC 3339 ("" if none): text order is time order
    item_html: str  # its entry on the index page
    outline: str  # its entry in the OPML list


@dataclass
class SiteState:
    """site.json: a cache of what every story gave the site folder.

    Data, not code: whoever can write the state folder can change what the
    site's feeds say until the next full build, but cannot run anything as the
    builder (a pickle would let them).
    """

    links: dict[str, CachedLink] = field(default_factory=dict)  # by slug
    tombstones: dict[str, tuple[Tombstone, ...]] = field(default_factory=dict)  # newest first
    items: list[SiteItem] = field(default_factory=list)  # the site-wide feeds', newest first
    complete: bool = False  # items is the true top of every story (else: recompute)

    def encode(self) -> bytes:
        raw = {
            "format": FORMAT,
            "links": {slug: list(link) for slug, link in self.links.items()},
            "tombstones": {
                slug: [[t.id, t.story_slug, t.url, t.when.isoformat(), t.note] for t in stones]
                for slug, stones in self.tombstones.items()
            },
            "items": [[*i.key, i.story, i.language, list(i.texts)] for i in self.items],
        }
        return json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def load(cls, state_dir: Path) -> SiteState:
        from ..model import Tombstone
        from .folder import SiteItem

        try:
            with open(state_dir / SITE_CACHE_FILE, "rb") as fh:
                raw = json.load(fh)
            if raw["format"] != FORMAT:
                return cls()
            links = {str(k): CachedLink(*map(str, v)) for k, v in raw["links"].items()}
            tombstones = {
                str(k): tuple(Tombstone(i, s, u, parse_time(w), n) for i, s, u, w, n in v)
                for k, v in raw["tombstones"].items()
            }
            items = [
                SiteItem((str(t), str(i)), str(story), str(lang), tuple(map(str, texts)))
                for t, i, story, lang, texts in raw["items"]
            ]
            return cls(links, tombstones, items, True)
        except Exception:  # a cache: whatever is wrong with it, build without it
            return cls()
