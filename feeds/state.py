"""The build state: what previous builds published, kept between builds.

It lives in the state folder (default ``.feeds/`` beside ``data/``), not in
``out/``, so ``rm -rf out/`` loses nothing. It is kept story by story, so a
build that changes one story reads and writes only that story's part:

``stories/<slug>.json``
    the story's history -- every update now in a feed with its content digest
    and the time its current content was first built (its Atom ``updated``),
    and its tombstones (retracted or deleted updates, announced as RFC 6721
    tombstones until they expire) -- plus what the site's index and feeds
    need of it: its link on the index and the sort keys of its newest updates.
``site.pickle``
    a cache of the site folder's inputs that would otherwise need every
    story: each story's link (and its entries on the index page and in the
    OPML, rendered), its tombstones, and the site-wide feeds' current items,
    serialised, so a one-story change re-uses the other stories' bytes.
``index.json``
    what a build needs to see that there is nothing to do without reading any
    story: the mtime, size and inode of every store file when it was last
    built (``sources``), when something next becomes due (``next_event``, and
    per story in ``due``), a digest of site.toml and the renderers
    (``site_key``), the digest of what was last rendered in each feed folder
    (``feeds``), and every file a build wrote with its size (``outputs``), so
    that files of removed stories can be deleted, and nothing else ever is.

Files are replaced atomically, and only when their bytes change. A missing or
unreadable state is not an error: the build starts afresh (see feeds.history);
an unreadable story file costs that story's edit times and tombstones only.
The ``state.json`` of earlier versions (one file for every story) is read once
and split.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .history import History, UpdateRecord
from .model import Tombstone
from .publish import write_if_changed
from .timeutil import rfc3339

INDEX_FILE = "index.json"
SITE_FILE = "site.pickle"
STORIES = "stories"
LEGACY_STATE_FILE = "state.json"  # format 2: the whole history in one file
FORMAT = 3

Stat = tuple[int, int, int]  # mtime_ns, size, inode


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"naive time {text!r} in state")
    return value


@dataclass
class Index:
    """index.json."""

    sources: dict[str, Stat] = field(default_factory=dict)
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


def load_index(state_dir: Path) -> Index | None:
    try:
        raw = json.loads((state_dir / INDEX_FILE).read_bytes())
        if raw.get("format") != FORMAT:
            return None
        return Index(
            sources={k: (int(v[0]), int(v[1]), int(v[2])) for k, v in raw["sources"].items()},
            next_event=_time(raw["next_event"]) if raw["next_event"] else None,
            due={str(k): _time(v) for k, v in raw["due"].items()},
            site_key=str(raw["site_key"]),
            feeds={str(k): str(v) for k, v in raw["feeds"].items()},
            outputs={
                str(folder): {str(k): int(v) for k, v in files.items()}
                for folder, files in raw["outputs"].items()
            },
            embargo={str(k): _time(v) for k, v in raw["embargo"].items()},
            built_at=_time(raw["built_at"]) if raw["built_at"] else None,
        )
    except Exception:  # unreadable in any way (even too deeply nested): build everything
        return None


def encode_index(index: Index) -> bytes:
    raw = {
        "format": FORMAT,
        "sources": {k: list(v) for k, v in index.sources.items()},
        "next_event": rfc3339(index.next_event) if index.next_event else None,
        "due": {k: rfc3339(v) for k, v in sorted(index.due.items())},
        "embargo": {k: rfc3339(v) for k, v in sorted(index.embargo.items())},
        "built_at": rfc3339(index.built_at) if index.built_at else None,
        "site_key": index.site_key,
        "feeds": index.feeds,
        "outputs": index.outputs,
    }
    # Not sorted: the build keeps these in a stable order, and sorting 50,000
    # outputs costs more than the rest of a one-story build's bookkeeping.
    return (json.dumps(raw, separators=(",", ":")) + "\n").encode()


# --- one story's part -------------------------------------------------------


def story_state_path(state_dir: Path, slug: str) -> Path:
    return state_dir / STORIES / f"{slug}.json"


def encode_history(history: History) -> dict[str, Any]:
    return {
        "published": {
            k: {
                "story": r.story_slug,
                "url": r.url,
                "hash": r.content_hash,
                "updated": rfc3339(r.updated),
            }
            for k, r in sorted(history.published.items())
        },
        "tombstones": {
            k: {"story": t.story_slug, "url": t.url, "when": rfc3339(t.when), "note": t.note}
            for k, t in sorted(history.tombstones.items())
        },
    }


def decode_history(raw: dict[str, Any]) -> History:
    return History(
        published={
            k: UpdateRecord(v["story"], v["url"], v["hash"], _time(v["updated"]))
            for k, v in raw["published"].items()
        },
        tombstones={
            k: Tombstone(k, v["story"], v["url"], _time(v["when"]), v.get("note", ""))
            for k, v in raw["tombstones"].items()
        },
    )


@dataclass(frozen=True)
class StoryState:
    """stories/<slug>.json: a story's history and what the site folder needs of it."""

    history: History
    link: dict[str, Any] | None  # StoryLink fields (see feeds.render.html); None once removed
    keys: list[tuple[str, str]]  # (UTC time, id) of its newest updates, newest first

    def encode(self) -> bytes:
        raw = {
            "format": FORMAT,
            **encode_history(self.history),
            "link": self.link,
            "keys": self.keys,
        }
        text = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return (text + "\n").encode()


def load_story_state(state_dir: Path, slug: str) -> tuple[StoryState | None, str | None]:
    """A story's saved state (None if there is none), and a warning if it was unreadable."""
    path = story_state_path(state_dir, slug)
    try:
        raw = json.loads(path.read_bytes())
        if raw.get("format") != FORMAT:
            raise ValueError(f"unknown format {raw.get('format')!r}")
        state = StoryState(
            decode_history(raw),
            raw["link"],
            [(str(t), str(i)) for t, i in raw["keys"]],
        )
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, (
            f"{path}: unreadable build state ({exc}); starting this story afresh: edit times "
            "and tombstones recorded there are lost, ids and published times are not"
        )
    return state, None


def story_slugs(state_dir: Path) -> list[str]:
    """Every story with a saved state."""
    try:
        return sorted(p.stem for p in (state_dir / STORIES).glob("*.json"))
    except OSError:
        return []


# --- the site folder's inputs -------------------------------------------------


@dataclass
class SiteState:
    """site.pickle: a cache of what every story gave the site folder.

    Unlike the stories' history it holds nothing that cannot be made again
    (every part comes from the stories' state or files), so it is a pickle:
    a one-story build reads and writes all 10,000 stories' links, and pickle
    does that in half the time of JSON. It is only ever loaded from the
    build's own state folder, where this code wrote it; if it is missing or
    unreadable, the next build renders everything.
    """

    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> StoryLink fields
    tombstones: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # slug -> tombs
    # The site-wide feeds' items, newest first: key [UTC time, id], story,
    # language, and the serialised rss, atom and json item.
    items: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False  # items is the true top of every story (else: recompute)

    def encode(self) -> bytes:
        raw = {
            "format": FORMAT,
            "links": self.links,
            "tombstones": self.tombstones,
            "items": self.items,
        }
        return pickle.dumps(raw, protocol=5)


def load_site_state(state_dir: Path) -> SiteState:
    try:
        with open(state_dir / SITE_FILE, "rb") as fh:
            raw = pickle.load(fh)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            return SiteState()
        return SiteState(dict(raw["links"]), dict(raw["tombstones"]), list(raw["items"]), True)
    except Exception:  # a cache: whatever is wrong with it, build without it
        return SiteState()


def tombstones_of(raw: Iterable[dict[str, str]]) -> list[Tombstone]:
    return [Tombstone(t["id"], t["story"], t["url"], _time(t["when"]), t["note"]) for t in raw]


def tombstone_fields(t: Tombstone) -> dict[str, str]:
    return {
        "id": t.id,
        "story": t.story_slug,
        "url": t.url,
        "when": rfc3339(t.when),
        "note": t.note,
    }


# --- earlier versions, and readers of the whole history ----------------------------


def load_legacy_history(state_dir: Path) -> History | None:
    """The history in a format-2 ``state.json``, if there is one to migrate."""
    try:
        raw = json.loads((state_dir / LEGACY_STATE_FILE).read_bytes())
        if raw.get("format") != 2:
            return None
        return decode_history(raw)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


@dataclass
class BuildState:
    """The whole history and the files of the last build (for list, show, export)."""

    history: History = field(default_factory=History.empty)
    outputs: dict[str, int] = field(default_factory=dict)


def load_state(state_dir: Path) -> tuple[BuildState, str | None]:
    """Every story's history merged, and a warning if some part was unreadable."""
    published: dict[str, UpdateRecord] = {}
    tombstones: dict[str, Tombstone] = {}
    warnings = []
    legacy = load_legacy_history(state_dir)
    if legacy is not None:
        published.update(legacy.published)
        tombstones.update(legacy.tombstones)
    for slug in story_slugs(state_dir):
        state, warning = load_story_state(state_dir, slug)
        if warning:
            warnings.append(warning)
        if state is not None:
            published.update(state.history.published)
            tombstones.update(state.history.tombstones)
    index = load_index(state_dir)
    outputs = index.files() if index else {}
    return BuildState(History(published, tombstones), outputs), "; ".join(warnings) or None


def save_index(state_dir: Path, index: Index) -> bool:
    return write_if_changed(state_dir / INDEX_FILE, encode_index(index))
