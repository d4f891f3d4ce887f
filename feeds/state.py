"""The build state: what previous builds published, kept between builds.

It lives in the state folder (default ``.feeds/`` beside ``data/``), not in
``out/``, so ``rm -rf out/`` loses nothing. ``state.json`` holds:

``published``  update id -> {story, url, hash, updated}: every update now in a
               feed, its content digest and the time its current content was
               first built (its Atom ``updated``);
``tombstones`` update id -> {story, url, when, note}: retracted or deleted
               updates, announced as RFC 6721 tombstones until they expire;
``feeds``      feed folder ("" for the site, "<slug>/") -> digest of what was
               last rendered there, so unchanged feeds are not rendered again;
``outputs``    file -> size, every file a build wrote, so files of removed
               stories can be deleted (and nothing else in out/ ever is).

``feeds`` and ``outputs`` live in a second, small file, ``index.json``, with
what a build needs to see that there is nothing to do without reading any
story: the size, mtime and inode of every file of the store when it was last
built (``sources``), the next time something becomes due (``next_event``: an
embargo ending, a tombstone expiring) and the size of ``state.json``.

Both files are rewritten atomically, and only when they change. A missing or
unreadable state is not an error: the build starts afresh (see feeds.history).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .history import History, UpdateRecord
from .model import Tombstone
from .publish import write_if_changed
from .timeutil import rfc3339

STATE_FILE = "state.json"
INDEX_FILE = "index.json"
FORMAT = 2

Stat = tuple[int, int, int]  # mtime_ns, size, inode


@dataclass
class BuildState:
    history: History = field(default_factory=History.empty)
    feeds: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    sources: dict[str, Stat] = field(default_factory=dict)
    next_event: datetime | None = None
    state_size: int = 0  # of state.json as last written


@dataclass(frozen=True)
class Index:
    """What the quick "nothing to do?" check reads (index.json)."""

    sources: dict[str, Stat]
    next_event: datetime | None
    outputs: dict[str, int]
    state_size: int


def load_index(state_dir: Path) -> Index | None:
    try:
        raw = json.loads((state_dir / INDEX_FILE).read_bytes())
        if raw.get("format") != FORMAT:
            return None
        return Index(
            sources={k: (int(v[0]), int(v[1]), int(v[2])) for k, v in raw["sources"].items()},
            next_event=_time(raw["next_event"]) if raw["next_event"] else None,
            outputs={str(k): int(v) for k, v in raw["outputs"].items()},
            state_size=int(raw["state_size"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"naive time {text!r} in state")
    return value


def load_state(state_dir: Path) -> tuple[BuildState, str | None]:
    """The saved state, and a warning if it existed but could not be read."""
    path = state_dir / STATE_FILE
    try:
        raw = json.loads(path.read_bytes())
        if raw.get("format") != FORMAT:
            raise ValueError(f"unknown format {raw.get('format')!r}")
        history = History(
            published={
                k: UpdateRecord(v["story"], v["url"], v["hash"], _time(v["updated"]))
                for k, v in raw["published"].items()
            },
            tombstones={
                k: Tombstone(k, v["story"], v["url"], _time(v["when"]), v.get("note", ""))
                for k, v in raw["tombstones"].items()
            },
        )
        index = json.loads((state_dir / INDEX_FILE).read_bytes())
        feeds = {str(k): str(v) for k, v in index["feeds"].items()}
        outputs = {str(k): int(v) for k, v in index["outputs"].items()}
    except FileNotFoundError:
        return BuildState(), None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return BuildState(), (
            f"{path}: unreadable build state ({exc}); starting afresh: edit times and "
            "tombstones recorded there are lost, ids and published times are not"
        )
    return BuildState(history, feeds, outputs, state_size=path.stat().st_size), None


def encode_state(state: BuildState) -> bytes:
    history = state.history
    raw = {
        "format": FORMAT,
        "published": {
            k: {
                "story": r.story_slug,
                "url": r.url,
                "hash": r.content_hash,
                "updated": rfc3339(r.updated),
            }
            for k, r in history.published.items()
        },
        "tombstones": {
            k: {"story": t.story_slug, "url": t.url, "when": rfc3339(t.when), "note": t.note}
            for k, t in history.tombstones.items()
        },
    }
    return (json.dumps(raw, sort_keys=True, indent=0, ensure_ascii=False) + "\n").encode()


def save_state(state_dir: Path, state: BuildState, previous: BuildState | None = None) -> bool:
    if previous is not None and previous.history == state.history and previous.state_size:
        # Unchanged (most builds): not worth encoding every record to find out.
        size, changed = previous.state_size, False
    else:
        encoded = encode_state(state)
        size, changed = len(encoded), write_if_changed(state_dir / STATE_FILE, encoded)
    index = {
        "format": FORMAT,
        "sources": {k: list(v) for k, v in state.sources.items()},
        "next_event": rfc3339(state.next_event) if state.next_event else None,
        "feeds": state.feeds,
        "outputs": state.outputs,
        "state_size": size,
    }
    data = (json.dumps(index, sort_keys=True, separators=(",", ":")) + "\n").encode()
    return write_if_changed(state_dir / INDEX_FILE, data) or changed
