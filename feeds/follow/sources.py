"""sources.toml: the live-blog pages to follow, each with the story it grows.

```toml
[[source]]
url = "https://news.example.org/live/storm"
story = "storm"             # the story to create or grow
timezone = "Europe/Lisbon"  # optional, as feeds import --timezone
date = 2025-01-15           # optional, as feeds import --date
every = 300                 # optional: seconds between polls (60 at least)
```

Checked whole before anything is fetched; every mistake is a Problem at its line.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import FeedsError, StoreError, display_path

if TYPE_CHECKING:
    from ..settings import Workspace
    from ..store.problems import Table

SOURCES_TOML = "sources.toml"
SOURCE_KEYS = ("url", "story", "timezone", "date", "every")
DEFAULT_EVERY = 300  # seconds between polls of a page
MIN_EVERY, MAX_EVERY = 60, 7 * 86_400
MAX_SOURCES_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FollowSource:
    url: str
    story: str
    timezone: str | None = None  # as feeds import --timezone
    date: date | None = None  # as feeds import --date
    every: float = DEFAULT_EVERY  # seconds between polls
    line: int | None = None  # its [[source]] line in sources.toml

    @property
    def origin(self) -> str:
        return origin_of(self.url)


def origin_of(url: str) -> str:
    """``https://news.example.org:8443``: what one robots.txt covers (RFC 9309 2.3)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def host_of(url: str) -> str:
    """``news.example.org``: one request at a time, ``gap`` seconds apart, whatever the
    scheme or port."""
    return (urlsplit(url).hostname or "").lower()


def sources_file(ws: Workspace, given: Path | None) -> Path:
    """``--sources``, else sources.toml beside site.toml."""
    from ..store.files import FileStore

    if given is not None:
        return given
    if isinstance(ws.store, FileStore):
        return ws.store.root / SOURCES_TOML
    raise FeedsError("the store is a database: give the pages to follow with --sources FILE")


def load_sources(path: Path, *, interval: float | None = None) -> tuple[FollowSource, ...]:
    """The pages to follow, checked: every problem at its line (StoreError).

    ``interval`` (for tests and trials) replaces every page's ``every``."""
    from ..store.files import NotRegularFile, read_regular
    from ..store.problems import Problems, Table, read_toml

    shown = display_path(path)
    try:
        raw = read_regular(path, MAX_SOURCES_BYTES)[1]
    except FileNotFoundError:
        raise FeedsError(
            f"{shown}: no such file; list the pages to follow there, each as a [[source]] "
            'table with url = "https://..." and story = "slug" (see feeds follow --help)'
        ) from None
    except NotRegularFile:
        raise FeedsError(f"{shown}: not a regular file") from None
    if len(raw) > MAX_SOURCES_BYTES:
        raise FeedsError(f"{shown}: more than {MAX_SOURCES_BYTES:,} bytes")
    problems = Problems(path)
    text, data = read_toml(raw, problems)
    if problems or text is None:
        raise StoreError(problems.items)
    lines = text.split("\n")
    top = Table(data, lines, 1, problems)
    top.reject_unknown(("source",), SOURCES_TOML)
    entries = data.get("source", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        top.complain("source", "write each page as a [[source]] table with url and story")
        entries = []
    elif not entries:
        problems.add(1, 'no pages: add a [[source]] table with url = "..." and story = "..."')
    starts = [i + 1 for i, line in enumerate(lines) if _SOURCE_HEADER.match(line)]
    if len(starts) != len(entries):  # written as source = [{...}]: no line of their own
        starts = [top.line_of("source") or 1] * len(entries)
    found: list[FollowSource] = []
    for n, entry in enumerate(entries):
        end = starts[n + 1] - 1 if n + 1 < len(starts) else len(lines)
        table = Table(entry, lines[starts[n] - 1 : end], starts[n], problems)
        source = _source(table, interval)
        if source is None:
            continue
        for other in found:
            for key in ("url", "story"):
                if getattr(other, key) == getattr(source, key):
                    table.complain(
                        key,
                        f"{key} {getattr(source, key)!r} is already followed (line "
                        f"{other.line}): one page per story, one story per page",
                    )
        found.append(source)
    if problems:
        raise StoreError(problems.items)
    return tuple(found)


_SOURCE_HEADER = re.compile(r"^\s*\[\[\s*source\s*\]\]\s*(?:#.*)?$")


def _source(table: Table, interval: float | None) -> FollowSource | None:
    from ..model import check_slug
    from ..settings import url_host

    before = len(table.problems.items)
    table.reject_unknown(SOURCE_KEYS, "a [[source]] table")
    table.reject_control_characters()
    url = table.string("url", required=True)
    if url and not (url.lower().startswith(("http://", "https://")) and url_host(url)):
        table.complain("url", f"url {url!r} must be an http(s) URL, like https://example.org/live")
    elif url and any(c.isspace() for c in url):
        table.complain("url", f"url {url!r} contains white space; write it as %20")
    slug = table.string("story", required=True)
    if slug:
        try:
            check_slug(slug)
        except ValueError as exc:
            table.complain("story", f"story: {exc}")
    zone = table.timezone("UTC") if "timezone" in table.data else None
    day = table.data.get("date")
    with contextlib.suppress(ValueError):
        day = date.fromisoformat(day) if isinstance(day, str) else day
    if day is not None and (not isinstance(day, date) or isinstance(day, datetime)):
        table.complain("date", "date must be a day, like date = 2025-01-15")
    every = table.integer("every", DEFAULT_EVERY, MIN_EVERY, MAX_EVERY)
    if len(table.problems.items) > before:
        return None
    return FollowSource(
        url,
        slug,
        zone.key if zone else None,
        day if isinstance(day, date) else None,
        interval if interval is not None else every,
        table.first_line,
    )
