"""The file store: ``data/site.toml`` and one ``data/<slug>.md`` per story.

Files whose names start with ``_`` or ``.`` are ignored (drafts, editor swap
files). Every file is read whole, once, and validated before anything is
returned, so a build either sees a consistent store or reports every problem.
"""

from __future__ import annotations

import os
import re
import time
import tomllib
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import Problem, StoreError
from ..model import ID_AUTHORITY_RE, Site, Snapshot, Story
from ..parallel import ordered_map
from .people import person
from .problems import Problems, Table, decode_utf8, toml_error
from .storyfile import parse_story

SITE_FILE = "site.toml"
SITE_KEYS = (
    "title",
    "base_url",
    "id_authority",
    "author",
    "language",
    "timezone",
    "items_per_feed",
    "description",
    "tombstone_days",
    "cache_max_age",
    "ttl",
    "websub_hub",
)


class FileStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def story_paths(self) -> tuple[list[Path], list[Problem]]:
        """Story files in the store, and problems with names that look like one."""
        names, problems = self.story_names()
        return [self.root / name for name in names], problems

    def story_names(
        self, listing: list[os.DirEntry[str]] | None = None
    ) -> tuple[list[str], list[Problem]]:
        """:meth:`story_paths` as file names (a build of 10,000 stories needs few paths).

        ``listing``: the folder's entries, if the caller has already listed it.
        """
        try:
            entries = sorted(
                os.scandir(self.root) if listing is None else listing, key=lambda e: e.name
            )
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        names: list[str] = []
        problems: list[Problem] = []
        for entry in entries:  # names and types come with the listing: no stat per file
            name = entry.name
            if name.startswith(("_", ".")):
                continue
            suffix = os.path.splitext(name)[1]
            if suffix.lower() not in (".md", ".markdown"):
                continue
            if suffix == ".md" and not entry.is_dir() and not entry.is_symlink():
                names.append(name)  # the usual case, without a Path
                continue
            path = self.root / name
            if suffix != ".md":
                problems.append(
                    Problem(
                        path,
                        None,
                        f"story files end in .md: rename it to {path.stem}.md "
                        "(or start its name with _ to keep it out of the store)",
                    )
                )
            elif entry.is_dir():
                problems.append(Problem(path, None, "a folder named like a story file; rename it"))
            elif entry.is_symlink() and not path.exists():
                problems.append(Problem(path, None, "a symbolic link to nothing; fix or remove it"))
            else:
                names.append(name)
        return names, problems

    def load_site(self) -> Site:
        """Only ``site.toml``: for commands that need the settings, not the stories."""
        return self.read_site()[0]

    def read_site(self) -> tuple[Site, bytes]:
        """:meth:`load_site`, and the bytes it was read from (read once)."""
        problems: list[Problem] = []
        site_path = self.root / SITE_FILE
        if not self.root.is_dir():
            raise StoreError(
                [Problem(self.root, None, "no such folder; pass --data DIR or create it")]
            )
        site_raw = read_store_file(site_path, problems)
        site = load_site(site_path, site_raw, problems) if site_raw is not None else None
        if site is None or site_raw is None:
            raise StoreError(problems)
        return site, site_raw

    def load(self) -> Snapshot:
        """Read and validate everything; raise StoreError listing every problem."""
        site = self.load_site()
        stories: list[Story] = []
        paths, problems = self.story_paths()
        to_parse: list[tuple[Path, bytes, Site]] = []
        for path in paths:
            read_problems: list[Problem] = []
            raw = read_store_file(path, read_problems)
            problems.extend(read_problems)
            if raw is not None:
                to_parse.append((path, raw, site))
        for story, found in ordered_map(_parse, to_parse):
            problems.extend(found)
            if story is not None:
                stories.append(story)
        if problems:
            raise StoreError(problems)
        return Snapshot(site=site, stories=tuple(sorted(stories, key=lambda s: s.slug)))


def _parse(job: tuple[Path, bytes, Site]) -> tuple[Story | None, list[Problem]]:
    path, raw, site = job
    problems = Problems(path)
    story = parse_story(path, raw, site, problems)
    return story, problems.items


# A story file is text a person edits; anything this big is a mistake (and
# would make every feed that carries it unreasonably large).
MAX_FILE_BYTES = 8 * 1024 * 1024


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
    except FileNotFoundError:
        what = "create it with title, base_url, id_authority and author (see README)"
        problems.append(
            Problem(
                path,
                None,
                f"missing: {what}"
                if path.name == SITE_FILE
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


def read_stable(path: Path, attempts: int = 5) -> bytes | None:
    """The file's bytes, read whole and unchanged while reading.

    An editor that rewrites a file in place could otherwise be caught half-way
    through a save; if the file's identity, size or mtime moved during the
    read, read it again (a build must never publish half an update).
    """
    for attempt in range(attempts):
        before = path.stat()
        raw = path.read_bytes()
        after = path.stat()
        same = (before.st_ino, before.st_size, before.st_mtime_ns) == (
            after.st_ino,
            after.st_size,
            after.st_mtime_ns,
        )
        if same and len(raw) == after.st_size:
            return raw
        time.sleep(0.05 * (attempt + 1))
    return None


def _valid_tag_date(authority: str) -> bool:
    """RFC 4151's date is a real calendar date: 2018, 2018-05 or 2018-05-16."""
    parts = [int(p) for p in authority.rpartition(",")[2].split("-")]
    try:
        date(parts[0], *(parts[1:] + [1, 1])[:2])
    except ValueError:
        return False
    return True


def load_site(path: Path, raw: bytes, found: list[Problem]) -> Site | None:
    problems = Problems(path)
    text = decode_utf8(raw, problems)
    data: dict[str, object] = {}
    if text is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, message = toml_error(str(exc))
            problems.add(line, f"not valid TOML: {message} (strings need double quotes)")
    if problems:
        found.extend(problems.items)
        return None
    table = Table(data, text.split("\n") if text else [], 1, problems)
    table.reject_unknown(SITE_KEYS, SITE_FILE)
    table.reject_control_characters()
    title = table.string("title", required=True)
    base_url = table.string("base_url", required=True)
    if base_url:
        parts = urlsplit(base_url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.query
            or parts.fragment
            or re.search(r"[\s<>\"{}|\\^`]", base_url)
        ):
            table.complain(
                "base_url",
                f"base_url {base_url!r} must be an absolute http(s) URL such as "
                '"https://news.example.org/live/"',
            )
        base_url = base_url.rstrip("/") + "/"
    id_authority = table.string("id_authority")
    if "id_authority" not in data:
        host = urlsplit(base_url).hostname or "example.org"
        problems.add(
            1,
            f'missing id_authority: add id_authority = "{host},YYYY" with a year in which you '
            f"controlled {host} (or an email address); it is part of every item id and must "
            "never change",
        )
    elif not ID_AUTHORITY_RE.match(id_authority) or not _valid_tag_date(id_authority):
        table.complain(
            "id_authority",
            f"id_authority {id_authority!r} must be a domain or email and a date, as RFC 4151 "
            'tag: URIs need: "example.org,2018" or "desk@example.org,2018-05-16"',
        )
    author = None
    if "author" not in data:
        problems.add(1, 'missing author: add author = "Newsroom name" (or "Name <email>")')
    else:
        who = person(data["author"])
        if isinstance(who, str):
            table.complain("author", who)
        else:
            author = who
    language = table.language(default="en")
    tz = table.timezone(default="UTC")
    items = table.integer("items_per_feed", 50, 1, 10_000)
    tombstone_days = table.integer("tombstone_days", 30, 0, 3650)
    cache_max_age = table.integer("cache_max_age", 60, 0, 86400)
    ttl = table.integer("ttl", 0, 0, 10080) or None
    hub = table.string("websub_hub") or None
    if hub and not re.match(r"^https?://[^\s/]+", hub):
        table.complain("websub_hub", f"websub_hub {hub!r} must be the hub's http(s) URL")
    description = table.string("description")
    if problems or author is None:
        found.extend(problems.items)
        return None
    return Site(
        title=title,
        base_url=base_url,
        id_authority=id_authority,
        author=author,
        language=language,
        timezone=tz.key if tz else "UTC",
        items_per_feed=items,
        description=description,
        tombstone_days=tombstone_days,
        cache_max_age=cache_max_age,
        ttl=ttl,
        websub_hub=hub,
    )
