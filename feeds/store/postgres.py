"""The PostgreSQL store: a newsroom's stories in one database, written from many machines.

Selected by a URL (``--store postgresql://...``, ``FEEDS_STORE``, or ``store``
in the settings); libpq reads the rest the way PostgreSQL users expect
(``PG*`` variables, ``~/.pgpass``, ``sslmode`` in the URL). The password is
never printed: messages name the store by user, host, port and database.

Rows are the truth (schema in ``migrations/``): a story and its updates,
each with the local time as written, its offset and the instant, the title and
body as written, the author, the edit time and the retraction. A story is read
by writing its rows as the story Markdown the file store holds and parsing
that, so both stores give the same Story for the same content, checked by the
same code; and ``feeds store-export`` writes exactly that text.

Every change is one transaction: the story's row is locked (``FOR UPDATE``),
the change is decided on the story as committed, checked to do exactly what
it says (:func:`feeds.store.changes.verify`), written as row changes, given
the next number of ``change_seq`` as the story's version, and announced with
``NOTIFY feeds_changes`` when it commits. An update's row is never deleted:
an update removed from a story keeps it as a tombstone (``deleted_at``), so
its id can never be given to another.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from ..errors import (
    AuthoringError,
    DatabaseError,
    EditConflict,
    FeedsError,
    Problem,
    StoreError,
    StoryExists,
)
from ..model import SLUG_RE, Site, Story
from ..settings import WORKSPACE_KEYS, load_site
from . import ChangeFor, Listing, StoryRead

if TYPE_CHECKING:
    import psycopg

    from .changes import Change, CreateStory

SCHEMA_VERSION = 1
CHANNEL = "feeds_changes"
# Advisory lock keys (pg_advisory_lock's two-int form): this program's, then which.
LOCK_SPACE = 0x0FEED5
LOCK_MIGRATE, LOCK_BUILD, LOCK_WRITING = 1, 2, 3
MAX_STORY_BYTES = 8 * 1024 * 1024  # as for a story file


# libpq's key=value form ("host=db dbname=news user=ana") is a store too.
_CONNINFO = re.compile(r"^\s*(?:host|hostaddr|port|dbname|user|service|sslmode|password)\s*=")
# Every password met in a store URL, so that no message ever shows one.
_SECRETS: set[str] = set()


def is_url(text: str | os.PathLike[str] | None) -> bool:
    """Does ``text`` name a PostgreSQL store (a URL or a libpq connection string)?"""
    return isinstance(text, str) and (
        text.startswith(("postgresql://", "postgres://")) or bool(_CONNINFO.match(text))
    )


def _remember_secrets(url: str) -> None:
    for pattern in (r"^[a-z]+://[^/@:]*:([^@/]*)@", r"password\s*=\s*'?([^&\s']+)"):
        for found in re.findall(pattern, url):
            if found:
                _SECRETS.add(found)
                _SECRETS.add(unquote(found))


def redact(url: str) -> str:
    """The URL as messages show it: no password, no other parameters."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "postgresql://(a URL that cannot be read)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def _reason(exc: BaseException) -> str:
    """libpq's message, first line, without the URL or any password."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"postgres(?:ql)?://\S+", "postgresql://...", text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _connect_hint(reason: str) -> str:
    if "password" in reason or "authentication" in reason:
        return "check the user name and password (~/.pgpass, PGPASSWORD)"
    if "does not exist" in reason:
        return "check the database and user names in the URL"
    return "check that the server runs and the URL (--store or FEEDS_STORE)"


@dataclass
class _Rows:
    story: dict[str, Any]
    updates: list[dict[str, Any]]


class PostgresStore:
    shared = True  # worker processes connect on their own
    builds_in_database = True  # the build lock and state too (feeds.build.shared)

    def __init__(self, url: str) -> None:
        _remember_secrets(url)
        self.url = url
        self.name = redact(url)
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = 0
        self._lock = threading.RLock()
        self._checked = False
        self._committing = False  # set by a change just before its COMMIT (see _talk)

    def __repr__(self) -> str:
        return f"PostgresStore({self.name!r})"

    def __getstate__(self) -> dict[str, Any]:  # to worker processes: the URL only
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"])  # type: ignore[misc]

    def describe(self) -> str:
        return self.name

    def identity(self) -> str:
        """What tells this database (and schema) from another: every connection
        parameter but the password, so two sites in one database differ."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            parts = conninfo_to_dict(self.url)
        except Exception:
            return self.name
        return " ".join(f"{k}={v}" for k, v in sorted(parts.items()) if k != "password")

    # --- the connection ----------------------------------------------------

    def connect(self, *, autocommit: bool = True, check: bool = True) -> psycopg.Connection[Any]:
        """A new connection (the caller closes it), the schema checked."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(self.url)
        except psycopg.Error:
            # Not echoed: the part libpq cannot read may be the password.
            raise FeedsError(
                "the store URL cannot be read: write it as postgresql://user@host:port/database, "
                "with % written %25 and a space %20 (or keep the password in ~/.pgpass)"
            ) from None
        try:
            conn = psycopg.connect(self.url, autocommit=autocommit, connect_timeout=10)
        except psycopg.Error as exc:
            reason = _reason(exc)
            raise DatabaseError(
                f"{self.name}: cannot connect ({reason}); {_connect_hint(reason)}; "
                "nothing was read or written"
            ) from None
        if check:
            try:
                check_schema(conn, self.name)
            except psycopg.Error as exc:
                conn.close()
                raise DatabaseError(
                    f"{self.name}: the database went away while checking the schema "
                    f"({_reason(exc)}); nothing was read or written"
                ) from None
            except BaseException:
                conn.close()
                raise
        return conn

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """This process's connection, made on first use and again after a fork."""
        if self._conn is None or self._pid != os.getpid() or self._conn.closed or self._conn.broken:
            self._conn = self.connect(check=not self._checked)
            self._pid, self._checked = os.getpid(), True
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    @contextmanager
    def _talk(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        """The connection; a lost one is made again once, errors become one line."""
        import psycopg

        with self._lock:
            self._committing = False
            try:
                yield self.conn
            except psycopg.OperationalError as exc:
                self.close()
                if self._committing:  # the COMMIT was sent: its answer was lost, not it
                    raise DatabaseError(
                        f"{self.name}: the connection was lost while {doing} was being "
                        f"committed ({_reason(exc)}); the change may have been saved: look "
                        "(feeds show) before running the command again"
                    ) from None
                raise DatabaseError(
                    f"{self.name}: the database went away while {doing} ({_reason(exc)}); "
                    "nothing was written: run the command again"
                ) from None
            except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
                # A constraint said no: the change is wrong, not the database.
                raise AuthoringError(
                    f"{self.name}: {doing}: {_reason(exc)}; nothing was written"
                ) from None
            except psycopg.Error as exc:
                self.close()
                raise DatabaseError(f"{self.name}: {doing}: {_reason(exc)}") from None
            finally:
                self._committing = False

    # --- reading -----------------------------------------------------------

    def scan(self) -> Listing:
        with self._talk("listing the stories") as conn:
            rows = conn.execute(
                "SELECT '', seq FROM site UNION ALL "
                "SELECT slug, seq FROM stories WHERE deleted_at IS NULL"
            ).fetchall()
        site = next((str(seq) for slug, seq in rows if slug == ""), "")
        stories = {slug: str(seq) for slug, seq in sorted(rows) if slug}
        return Listing(site, stories)

    def change_number(self) -> int:
        """The number of the last change made to the store (0: none)."""
        with self._talk("reading the change number") as conn:
            row = conn.execute("SELECT last_value, is_called FROM change_seq").fetchone()
        return int(row[0]) if row and row[1] else 0

    def read_site(self) -> Site:
        settings = self.site_settings()
        where = f"{self.name} site settings"
        if not settings:
            raise StoreError(
                [Problem(where, None, "missing: run feeds init --store URL to create them")]
            )
        problems: list[Problem] = []
        loaded = load_site(where, settings.encode(), problems)
        if loaded is None:
            raise StoreError(problems)
        return loaded

    def site_settings(self) -> str:
        """The settings as written ("" if there are none yet)."""
        with self._talk("reading the site settings") as conn:
            row = conn.execute("SELECT settings FROM site").fetchone()
        return str(row[0]) if row else ""

    def _rows(self, conn: psycopg.Connection[Any], slug: str, lock: bool = False) -> _Rows | None:
        from psycopg.rows import dict_row

        cur = conn.cursor(row_factory=dict_row)
        story = cur.execute(
            "SELECT * FROM stories WHERE slug = %s" + (" FOR UPDATE" if lock else ""), (slug,)
        ).fetchone()
        if story is None or story["deleted_at"] is not None:
            return None
        updates = cur.execute(
            "SELECT * FROM updates WHERE story_id = %s ORDER BY published DESC, anchor",
            (story["id"],),
        ).fetchall()
        return _Rows(story, updates)

    def read_story(self, slug: str, site: Site) -> StoryRead:
        with self._talk(f"reading {slug}") as conn:
            rows = self._rows(conn, slug)
        if rows is None:
            return StoryRead(None, (Problem(self._where(slug), None, "no such story"),))
        return self._parse(slug, story_text(rows), site)

    def _where(self, slug: str) -> str:
        return f"{self.name} story {slug}"

    def _parse(self, slug: str, raw: bytes, site: Site) -> StoryRead:
        from .problems import Problems
        from .storyfile import parse_story

        found = Problems(self._where(slug))
        story = parse_story(slug, raw, site, found)
        return StoryRead(story, tuple(found.items), hashlib.sha256(raw).hexdigest())

    def story_source(self, slug: str) -> bytes:
        with self._talk(f"reading {slug}") as conn:
            rows = self._rows(conn, slug)
        if rows is None:
            raise AuthoringError(f"{self.name}: no story {slug!r}")
        return story_text(rows)

    # --- changing ----------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Changes one at a time across every machine (a session advisory lock)."""
        with self._talk("waiting for other writers") as conn:
            conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, LOCK_WRITING))
            try:
                yield
            finally:
                if not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, LOCK_WRITING))

    def apply(self, slug: str, change: ChangeFor | CreateStory) -> Story:
        from .changes import CreateStory, verify
        from .storytext import edit_story_text, new_story_text

        with self._talk(f"changing {slug}") as conn, conn.transaction():
            site = self._site_for_change()
            before = None
            if isinstance(change, CreateStory):
                # Two reporters creating the same story: one waits for the other.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"new {slug}",))
                if conn.execute(
                    "SELECT 1 FROM stories WHERE slug = %s AND deleted_at IS NULL", (slug,)
                ).fetchone():
                    raise StoryExists(
                        f"story {slug!r} already exists in {self.name}; nothing was changed"
                    )
                made: Change = change
                new = new_story_text(change)
            else:
                rows = self._rows(conn, slug, lock=True)
                if rows is None:
                    raise AuthoringError(self._no_story(conn, slug))
                raw = story_text(rows)
                before = self._checked_story(slug, raw, site, before=True)
                made = change(before)
                new = edit_story_text(raw, before, made)
            if len(new) > MAX_STORY_BYTES:
                raise AuthoringError(
                    f"{self._where(slug)}: the story would grow past {MAX_STORY_BYTES:,} bytes; "
                    "start a new story for what follows; nothing was written"
                )
            after = self._checked_story(slug, new, site)
            wrong = verify(made, before, after)
            if before is None:  # a story made again: its old ids stay taken
                reused = {u.anchor for u in after.updates} & self.retired(slug)
                if reused:
                    wrong = (
                        f"the id {sorted(reused)[0]!r} belonged to an update of an earlier "
                        f"story {slug!r} that was published and removed; choose another"
                    )
            if wrong:
                raise AuthoringError(f"{self._where(slug)}: {wrong}; nothing was written")
            save_story(conn, after, new)
            self._committing = True
            return after

    def _site_for_change(self) -> Site:
        try:
            return self.read_site()
        except StoreError as exc:
            raise AuthoringError(f"{exc}\nfix the site settings first (feeds init)") from exc

    def _checked_story(self, slug: str, raw: bytes, site: Site, before: bool = False) -> Story:
        read = self._parse(slug, raw, site)
        if read.story is None:
            listing = "\n".join(str(p) for p in read.problems)
            if before:
                raise AuthoringError(f"{listing}\nfix the story first; nothing was changed")
            raise AuthoringError(
                f"{listing}\nthe change would break the story; nothing was written"
            )
        return read.story

    def _no_story(self, conn: psycopg.Connection[Any], slug: str) -> str:
        known = [r[0] for r in conn.execute("SELECT slug FROM stories ORDER BY slug LIMIT 20")]
        return (
            f"no story {slug!r} in {self.name} (stories: {', '.join(known) or 'none yet'}); "
            f'create one with feeds new {slug if SLUG_RE.match(slug) else "SLUG"} --title "..."'
        )

    def retired(self, slug: str) -> frozenset[str]:
        """Anchors builds retired, and those of updates removed from the story."""
        with self._talk(f"reading {slug}'s retired ids") as conn:
            rows = conn.execute(
                "SELECT anchor FROM retired WHERE story_slug = %s UNION SELECT u.anchor "
                "FROM updates u JOIN stories s ON s.id = u.story_id "
                "WHERE s.slug = %s AND (u.deleted_at IS NOT NULL OR s.deleted_at IS NOT NULL)",
                (slug, slug),
            ).fetchall()
        return frozenset(r[0] for r in rows)

    def retire(self, slug: str, anchors: Iterable[str]) -> None:
        anchors = sorted(set(anchors))
        if not anchors:
            return
        with self._talk(f"recording {slug}'s retired ids") as conn, conn.transaction():
            conn.cursor().executemany(
                "INSERT INTO retired (story_slug, anchor) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(slug, a) for a in anchors],
            )

    # --- whole stories, as text (import, export, tests) ---------------------

    def put(self, slug: str, raw: bytes) -> Story:
        """Replace a story with this Markdown text (checked first; nothing written if bad).

        Updates missing from the text keep their rows as tombstones.
        """
        return self.replace_story(slug, raw, None)

    def replace_story(self, slug: str, raw: bytes, expect: bytes | None) -> Story:
        with self._talk(f"writing {slug}") as conn, conn.transaction():
            site = self._site_for_change()
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"new {slug}",))
            if expect is not None:
                rows = self._rows(conn, slug, lock=True)
                if (story_text(rows) if rows else b"") != expect:
                    raise EditConflict(
                        f"{self._where(slug)} was changed by someone else while you were "
                        "editing it; nothing was written"
                    )
            else:
                conn.execute("SELECT 1 FROM stories WHERE slug = %s FOR UPDATE", (slug,))
            read = self._parse(slug, raw, site)
            if read.story is None:
                raise StoreError(list(read.problems))
            save_story(conn, read.story, raw)
            self._committing = True
            return read.story

    def remove_story(self, slug: str) -> None:
        self.remove(slug)

    def remove(self, slug: str) -> None:
        """Take a story out of the store; its rows stay (as tombstones), its ids taken."""
        with self._talk(f"removing {slug}") as conn, conn.transaction():
            mine(conn)
            row = conn.execute(
                "UPDATE stories SET deleted_at = now(), seq = nextval('change_seq') "
                "WHERE slug = %s AND deleted_at IS NULL RETURNING id",
                (slug,),
            ).fetchone()
            if row is None:
                raise AuthoringError(f"no story {slug!r} in {self.name}; nothing was changed")
            conn.execute(
                "UPDATE updates SET deleted_at = now(), revision = revision + 1 "
                "WHERE story_id = %s AND deleted_at IS NULL",
                (row[0],),
            )
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, slug))

    def site_source(self) -> bytes:
        return self.site_settings().encode()

    def replace_site(self, raw: bytes, expect: bytes | None) -> Site:
        problems: list[Problem] = []
        site = load_site(f"{self.name} site settings", raw, problems)
        if site is None:
            raise StoreError(problems)
        self.put_site(raw.decode("utf-8-sig"), expect=expect)
        return site

    def put_site(self, settings: str, expect: bytes | None = None) -> None:
        """Replace the site settings (checked first)."""
        problems: list[Problem] = []
        where = f"{self.name} site settings"
        if load_site(where, settings.encode(), problems) is None:
            raise StoreError(problems)
        machine = [k for k in tomllib.loads(settings) if k in WORKSPACE_KEYS]
        if machine:
            raise StoreError(
                [
                    Problem(
                        where,
                        None,
                        f"{', '.join(machine)}: where each machine's feeds reads and writes, "
                        "not kept in the database: remove it here, and give it on each machine "
                        "(--out, FEEDS_OUT, FEEDS_PUBLISH_HOOK, or its site.toml with store)",
                    )
                ]
            )
        with self._talk("writing the site settings") as conn, conn.transaction():
            mine(conn)
            if expect is not None:
                row = conn.execute("SELECT settings FROM site FOR UPDATE").fetchone()
                if (row[0].encode() if row else b"") != expect:
                    raise EditConflict(
                        f"{self.name}: the site settings were changed by someone else while you "
                        "were editing them; nothing was written"
                    )
            conn.execute(
                "INSERT INTO site (id, settings, seq) VALUES (1, %s, nextval('change_seq')) "
                "ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, seq = EXCLUDED.seq "
                "WHERE site.settings IS DISTINCT FROM EXCLUDED.settings",
                (settings,),
            )
            conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))


# --- rows and text ------------------------------------------------------------


def mine(conn: psycopg.Connection[Any]) -> None:
    """In this transaction, changes are feeds' own: it numbers and announces them
    itself (the triggers do that for changes made by hand in SQL)."""
    conn.execute("SELECT set_config('feeds.writer', 'feeds', true)")


def story_text(rows: _Rows) -> bytes:
    """A story's rows as the Markdown a story file holds (what the parser reads)."""
    from .headings import HeadingLine
    from .storytext import format_stamp, toml_string

    s = rows.story
    tz = ZoneInfo(s["timezone"])
    lines = ["+++", f"title = {toml_string(s['title'])}"]
    if s["summary"]:
        lines.append(f"summary = {toml_string(s['summary'])}")
    if s["link"]:
        lines.append(f"link = {toml_string(s['link'])}")
    lines.append(f"timezone = {toml_string(s['timezone'])}")
    if s["language"] is not None:
        lines.append(f"language = {toml_string(s['language'])}")
    if s["authors"] is not None:
        lines.append(f"authors = [{', '.join(_toml_value(a) for a in s['authors'])}]")
    if s["tags"]:
        lines.append(f"tags = [{', '.join(toml_string(t) for t in s['tags'])}]")
    lines.append(f"status = {toml_string(s['status'])}")
    if s["created"] is not None:
        lines.append(f"created = {s['created'].astimezone(tz).isoformat()}")
    lines += ["+++", ""]
    if s["background"]:
        lines += [s["background"], ""]
    for u in rows.updates:
        if u["deleted_at"] is not None:
            continue
        published = _local(u["published"], tz, u["utc_offset"])
        heading = HeadingLine(format_stamp(published), u["title"], (("#", u["anchor"]),))
        if u["author"]:
            heading = heading.with_attr("author", u["author"])
        if u["updated"] is not None:
            heading = heading.with_attr("updated", format_stamp(_local(u["updated"], tz)))
        if u["retracted"]:
            when = u["retracted_at"]
            heading = heading.with_attr(
                "retracted", format_stamp(_local(when, tz)) if when else None
            )
            if u["note"]:
                heading = heading.with_attr("note", u["note"])
        lines += [heading.render(), ""]
        if u["body"]:
            lines += [u["body"], ""]
    return "\n".join(lines).encode()


def _local(when: datetime, tz: ZoneInfo, offset: Any = None) -> datetime:
    """``when`` in the story's zone; with ``offset``, the fold that has it."""
    local = when.astimezone(tz)
    if offset is not None and local.utcoffset() != offset:
        local = local.replace(fold=1 - local.fold)
    return local


def _toml_value(value: object) -> str:
    from .storytext import toml_string

    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_string(str(v))}" for k, v in value.items()) + "}"
    return toml_string(str(value))


def save_story(conn: psycopg.Connection[Any], story: Story, raw: bytes) -> None:
    """Write a parsed story's rows (in the caller's transaction), as a change.

    ``raw`` is the text ``story`` was parsed from: titles, authors and front
    matter are kept as written there. Updates no longer in the story keep
    their rows, marked deleted; an update that comes back is restored.
    """
    from .headings import HeadingLine
    from .problems import Problems, decode_utf8, parse_toml

    mine(conn)
    text = decode_utf8(raw, Problems("")) or ""
    lines = text.split("\n")
    close = next(i for i in range(1, len(lines)) if lines[i].strip() == "+++")
    front = parse_toml("\n".join(lines[1:close]))
    values = {
        "slug": story.slug,
        "title": story.title,
        "summary": story.summary,
        "link": story.link,
        "timezone": story.timezone,
        "language": front.get("language"),
        "authors": json.dumps(front["authors"]) if "authors" in front else None,
        "tags": list(story.tags),
        "status": story.status,
        "created": story.created,
        "background": story.background,
    }
    row = conn.execute(
        """
        INSERT INTO stories (slug, title, summary, link, timezone, language, authors, tags,
                             status, created, background, seq)
        VALUES (%(slug)s, %(title)s, %(summary)s, %(link)s, %(timezone)s, %(language)s,
                %(authors)s, %(tags)s, %(status)s, %(created)s, %(background)s,
                nextval('change_seq'))
        ON CONFLICT (slug) DO UPDATE SET
            title = EXCLUDED.title, summary = EXCLUDED.summary, link = EXCLUDED.link,
            timezone = EXCLUDED.timezone, language = EXCLUDED.language,
            authors = EXCLUDED.authors, tags = EXCLUDED.tags, status = EXCLUDED.status,
            created = EXCLUDED.created, background = EXCLUDED.background,
            seq = EXCLUDED.seq, changed_at = now(), deleted_at = NULL
        RETURNING id
        """,
        values,
    ).fetchone()
    assert row is not None
    story_id = row[0]
    existing = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT anchor, published, local_time, title, body, author, updated, retracted, "
            "retracted_at, note, deleted_at FROM updates WHERE story_id = %s",
            (story_id,),
        )
    }
    seen = set()
    inserts: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, ...]] = []
    for u in story.updates:
        seen.add(u.anchor)
        heading = HeadingLine.parse(lines[u.line - 1])
        local = u.published.replace(tzinfo=None)
        new = (
            u.published,
            local,
            heading.title,
            u.text,
            heading.get("author"),
            u.explicit_updated,
            u.retracted,
            u.retracted_at,
            u.retraction_note or None,
            None,
        )
        old = existing.get(u.anchor)
        if old == new:
            continue
        params = (*new[:-1], u.published.utcoffset(), story_id, u.anchor)
        (inserts if old is None else changes).append(params)
    cur = conn.cursor()  # each batch sent in one pipeline, not a round trip per row
    if inserts:
        cur.executemany(
            "INSERT INTO updates (published, local_time, title, body, author, updated, "
            "retracted, retracted_at, note, utc_offset, story_id, anchor) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            inserts,
        )
    if changes:
        cur.executemany(
            "UPDATE updates SET published = %s, local_time = %s, title = %s, body = %s, "
            "author = %s, updated = %s, retracted = %s, retracted_at = %s, note = %s, "
            "utc_offset = %s, deleted_at = NULL, revision = revision + 1 "
            "WHERE story_id = %s AND anchor = %s",
            changes,
        )
    gone = [a for a, old in existing.items() if a not in seen and old[-1] is None]
    if gone:
        conn.execute(
            "UPDATE updates SET deleted_at = now(), revision = revision + 1 "
            "WHERE story_id = %s AND anchor = ANY(%s)",
            (story_id, gone),
        )
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, story.slug))


# --- the schema -----------------------------------------------------------------


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, SQL) of every migration shipped, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        m = re.match(r"^(\d{4})_(\w+)\.sql$", entry.name)
        if m:
            found.append((int(m[1]), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def schema_version(conn: psycopg.Connection[Any]) -> int | None:
    """The schema's version (None: no feeds schema in this database)."""
    import psycopg

    try:  # one round trip when the schema is there (connections are in autocommit)
        row = conn.execute("SELECT max(version) FROM feeds_schema").fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return int(row[0]) if row and row[0] is not None else 0


def check_schema(conn: psycopg.Connection[Any], name: str) -> None:
    version = schema_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version is None:
        raise DatabaseError(
            f"{name}: no feeds schema in this database: run feeds init --store URL to create it"
        )
    if version < SCHEMA_VERSION:
        raise DatabaseError(
            f"{name}: database schema {version}, this feeds needs {SCHEMA_VERSION}: "
            "run feeds migrate --store URL"
        )
    raise DatabaseError(
        f"{name}: database schema {version} is newer than this feeds knows ({SCHEMA_VERSION}): "
        "upgrade feeds on this machine"
    )


def migrate(store: PostgresStore, target: int = SCHEMA_VERSION) -> list[str]:
    """Apply the migrations the database lacks, each in its own transaction; their names."""
    conn = store.connect(check=False)
    applied: list[str] = []
    try:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, LOCK_MIGRATE))
        with conn.transaction():
            conn.execute(
                "CREATE TABLE IF NOT EXISTS feeds_schema ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        current = schema_version(conn) or 0
        if current > SCHEMA_VERSION:
            check_schema(conn, store.name)
        for number, name, sql in migrations():
            if current < number <= target:
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute(
                        "INSERT INTO feeds_schema (version, name) VALUES (%s, %s)", (number, name)
                    )
                applied.append(name)
    except FeedsError:
        raise
    except Exception as exc:
        raise DatabaseError(
            f"{store.name}: migration failed ({_reason(exc)}); the failed step was rolled back"
        ) from None
    finally:
        conn.close()
    return applied
