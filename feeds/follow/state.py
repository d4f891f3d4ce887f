"""follow.json, in the state folder: what the follower remembers between polls.

Per page: the validators the server last sent (ETag, Last-Modified), the last
and next poll, the failures in a row and the last error, and each update seen
on the page with the number of polls in a row it has been missing. Per site:
robots.txt as fetched, and when. Written atomically (feeds.publish.files);
a file that cannot be read is replaced by a fresh state, with a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import display_path
from ..timeutil import rfc3339

STATE_FILE = "follow.json"


@dataclass
class SourceState:
    story: str = ""
    etag: str | None = None
    last_modified: str | None = None
    last_poll: datetime | None = None
    next_poll: datetime | None = None
    failures: int = 0  # attempts in a row that failed
    last_error: str = ""
    # Each update seen on the page (its anchor in the story) -> polls in a row it was missing.
    anchors: dict[str, int] = field(default_factory=dict)


@dataclass
class HostState:
    robots: str | None  # robots.txt as fetched; None: there is none (a 4xx), no rules
    fetched: datetime


@dataclass
class FollowState:
    sources: dict[str, SourceState] = field(default_factory=dict)
    hosts: dict[str, HostState] = field(default_factory=dict)
    build_pending: bool = False  # pages were imported, the build after them failed

    @classmethod
    def load(cls, path: Path) -> tuple[FollowState, str | None]:
        """The state, or a fresh one and a warning saying why it could not be used."""
        try:
            return cls.from_json(json.loads(path.read_bytes())), None
        except FileNotFoundError:
            return cls(), None
        except OSError as exc:
            why = exc.strerror or str(exc)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            why = f"damaged: {str(exc)[:80] or type(exc).__name__}"
        return cls(), (
            f"{display_path(path)}: {why}; starting afresh (every page is fetched whole, and "
            "updates missing from a page are counted from now)"
        )

    @classmethod
    def from_json(cls, data: Any) -> FollowState:
        """The state as to_json wrote it; ValueError, TypeError... for anything else."""

        def when(value: Any) -> datetime | None:
            return None if value is None else _instant(value)

        sources = {}
        for url, s in dict(data["sources"]).items():
            anchors = {_text(a): int(n) for a, n in dict(s.get("anchors", {})).items()}
            sources[_text(url)] = SourceState(
                _text(s["story"]),
                _text(s["etag"]) if s.get("etag") is not None else None,
                _text(s["last_modified"]) if s.get("last_modified") is not None else None,
                when(s.get("last_poll")),
                when(s.get("next_poll")),
                max(0, int(s.get("failures", 0))),
                _text(s.get("last_error", "")),
                anchors,
            )
        hosts = {}
        for origin, h in dict(data.get("hosts", {})).items():
            robots = h.get("robots")
            robots = None if robots is None else _text(robots)
            hosts[_text(origin)] = HostState(robots, _instant(h["fetched"]))
        return cls(sources, hosts, bool(data.get("build_pending", False)))

    def to_json(self) -> bytes:
        def when(value: datetime | None) -> str | None:
            return rfc3339(value.astimezone(UTC)) if value else None

        data = {
            "sources": {
                url: {
                    "story": s.story,
                    "etag": s.etag,
                    "last_modified": s.last_modified,
                    "last_poll": when(s.last_poll),
                    "next_poll": when(s.next_poll),
                    "failures": s.failures,
                    "last_error": s.last_error,
                    "anchors": dict(sorted(s.anchors.items())),
                }
                for url, s in sorted(self.sources.items())
            },
            "hosts": {
                origin: {"robots": h.robots, "fetched": when(h.fetched)}
                for origin, h in sorted(self.hosts.items())
            },
            "build_pending": self.build_pending,
        }
        return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode()


def _instant(value: Any) -> datetime:
    parsed = datetime.fromisoformat(_text(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no offset")
    return parsed


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value
