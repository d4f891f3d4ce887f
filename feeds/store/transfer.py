"""Moving a whole store between a folder and a database, both ways, losing nothing a feed shows.

``feeds store-import`` reads a ``data/`` folder (every story checked first:
nothing is written if one is bad) and writes it into an empty database in one
transaction: the site settings, every story, the ids builds retired, and, if
given, the build state (so edit times and tombstones carry over).
``feeds store-export`` writes the database back as a folder: ``site.toml``,
one ``<slug>.md`` per story as :func:`feeds.store.postgres.story_text` writes
it, the retired ids, and the build state. A round trip gives the same stories
(the parser reads the same values) and so the same feeds, byte for byte;
comments and spacing in story front matter are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..build.shared import MIRRORED as STATE_FILES  # and stories/*.json
from ..errors import AuthoringError, Problem, StoreError
from ..publish.files import write_if_changed
from ..settings import SITE_TOML
from .files import FileStore, read_store_file
from .postgres import CHANNEL, PostgresStore, migrate, mine, save_story


@dataclass(frozen=True)
class Moved:
    stories: int
    updates: int
    retired: int
    state_files: int


def _state_files(state: Path) -> dict[str, bytes]:
    found = {}
    for name in STATE_FILES:
        if (state / name).is_file():
            found[name] = (state / name).read_bytes()
    for path in sorted((state / "stories").glob("*.json")):
        found[f"stories/{path.name}"] = path.read_bytes()
    return found


def folder_to_database(source: FileStore, db: PostgresStore, state: Path | None) -> Moved:
    """Copy a folder store (and its build state) into an empty database, in one transaction.

    Stories are read, checked and written one at a time (a large store is not
    held in memory); if any is bad, the transaction is rolled back and every
    problem is listed.
    """
    migrate(db)
    listing = source.scan()
    problems: list[Problem] = list(listing.problems)
    raw_site = read_store_file(source.root / SITE_TOML, problems)
    if raw_site is None:
        raise StoreError(problems)
    site = source.read_site()
    settings = raw_site.decode("utf-8-sig")
    retired = {slug: source.retired(slug) for slug in listing.stories}
    files = _state_files(state) if state is not None else {}
    stories = updates = 0
    with db.connect() as conn, conn.transaction():
        mine(conn)
        if conn.execute("SELECT 1 FROM stories LIMIT 1").fetchone():
            raise AuthoringError(
                f"{db.name} already holds stories: import into an empty database; "
                "nothing was written"
            )
        row = conn.execute("SELECT settings FROM site").fetchone()
        if row is not None and row[0] != settings:
            raise AuthoringError(
                f"{db.name} already has other site settings (feeds init --store): import "
                "into a new database, or make them the same first; nothing was written"
            )
        conn.execute(
            "INSERT INTO site (id, settings, seq) VALUES (1, %s, nextval('change_seq')) "
            "ON CONFLICT (id) DO NOTHING",
            (settings,),
        )
        for slug in listing.stories:
            read = source.read_story(slug, site)
            problems += read.problems
            if read.story is None or problems:
                continue
            save_story(conn, read.story, source.story_source(slug))
            stories += 1
            updates += len(read.story.updates)
        if problems:
            raise StoreError(problems)  # rolled back: nothing was written
        conn.cursor().executemany(
            "INSERT INTO retired (story_slug, anchor) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(slug, a) for slug, anchors in retired.items() for a in sorted(anchors)],
        )
        if files:
            bumped = conn.execute(
                "UPDATE build_meta SET generation = generation + 1 RETURNING generation"
            ).fetchone()
            conn.execute("DELETE FROM build_state")
            conn.cursor().executemany(
                "INSERT INTO build_state (name, body, generation) VALUES (%s, %s, %s)",
                [(name, body, bumped[0] if bumped else 0) for name, body in files.items()],
            )
        conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return Moved(stories, updates, sum(len(a) for a in retired.values()), len(files))


def database_to_folder(db: PostgresStore, target: Path, state: Path | None) -> Moved:
    """Write the database's store as a folder (which must be empty or new)."""
    if target.exists() and any(target.iterdir()):
        raise AuthoringError(
            f"{target} is not empty: export into a new folder; nothing was written"
        )
    settings = db.site_settings()
    slugs = list(db.scan().stories)
    store = FileStore(target)
    target.mkdir(parents=True, exist_ok=True)
    write_if_changed(target / SITE_TOML, settings.encode())
    retired = 0
    for slug in slugs:
        raw = db.story_source(slug)
        write_if_changed(store.path(slug), raw)
        anchors = db.retired(slug)
        if anchors:
            store.retire(slug, anchors)
            retired += len(anchors)
    files = 0
    with db.connect() as conn:
        row = conn.execute("SELECT count(*) FROM updates WHERE deleted_at IS NULL").fetchone()
        updates = int(row[0]) if row else 0
        if state is not None:
            for name, body in conn.execute("SELECT name, body FROM build_state ORDER BY name"):
                write_if_changed(state / name, bytes(body))
                files += 1
    return Moved(len(slugs), updates, retired, files)
