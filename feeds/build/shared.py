"""Builds from a database: one builder at a time across machines, the state kept in the database.

Every build from a :class:`~feeds.store.postgres.PostgresStore` runs inside a
:class:`Session`:

* **One builder at a time**, wherever it runs: the session holds a PostgreSQL
  advisory lock on its own connection. A builder that dies loses its
  connection, and with it the lock, so another takes over at once.
* **The state lives in the database** (table ``build_state``, one row per
  state file) and the local state folder is only a mirror of it. The mirror's
  generation is compared with the database's when the lock is taken; if
  another machine built since, its files are fetched. After the build, the
  files that changed are written back in one transaction, which also moves
  the generation on -- only if it is still the one the build started from.
* **A builder killed while publishing** leaves ``build_meta.building`` set;
  the next one, on any machine, renders everything, repairing the output.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DatabaseError, FeedsError, LockBusy
from ..publish.files import write_if_changed

if TYPE_CHECKING:
    import psycopg

    from ..store.postgres import PostgresStore

GENERATION_FILE = ".generation"  # the generation the mirror holds
MANIFEST_FILE = ".mirror.json"  # each mirrored file's (mtime, size, inode) when last in step
MIRRORED = ("index.json", "site.json", "objects.json")  # and stories/*.json


def mirrored_files(state_dir: Path) -> dict[str, tuple[int, int, int]]:
    """The state files the database holds, as they are on disk now, with their stat."""
    found: dict[str, tuple[int, int, int]] = {}
    for name in MIRRORED:
        try:
            st = os.stat(state_dir / name)
        except OSError:
            continue
        found[name] = (st.st_mtime_ns, st.st_size, st.st_ino)
    try:
        entries = list(os.scandir(state_dir / "stories"))
    except OSError:
        entries = []
    for entry in entries:
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            st = entry.stat()
            found[f"stories/{entry.name}"] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return found


@dataclass
class Session:
    """One build's hold on the database: the lock, and the mirror brought in step."""

    store: PostgresStore
    conn: psycopg.Connection[Any]
    state_dir: Path
    generation: int
    interrupted: bool  # the last builder died while publishing
    manifest: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    marked: bool = False

    def mark_building(self) -> None:
        """Before anything is published: say so, for whoever takes over if this dies."""
        if not self.marked:
            who = f"{socket.gethostname()}:{os.getpid()}"
            self._run("UPDATE build_meta SET building = %s, started_at = now()", (who,), "starting")
            self.marked = True

    def confirm(self) -> None:
        """Just before publishing: is the lock still ours? (A database restarted during
        the build took it away, and another builder may have started since.)"""
        import psycopg

        from ..store.postgres import LOCK_BUILD, LOCK_SPACE

        try:
            row = self.conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid = %s AND objid = %s",
                (LOCK_SPACE, LOCK_BUILD),
            ).fetchone()
        except psycopg.Error as exc:
            raise _lost(self.store, "building", exc) from None
        if not row or not row[0]:
            raise DatabaseError(
                f"{self.store.name}: the build lock was lost during the build; nothing was "
                "published; the next build does it"
            )

    def failed(self) -> None:
        """The build failed before publishing anything: nobody needs to repair after it."""
        from .commit import PUBLISHING_MARKER

        if self.marked and not (self.state_dir / PUBLISHING_MARKER).exists():
            try:
                self.conn.execute("UPDATE build_meta SET building = NULL, started_at = NULL")
                self.marked = False
            except Exception:
                pass  # the next builder checks everything: safe, only slower

    def _run(self, sql: str, params: tuple[Any, ...], doing: str) -> None:
        import psycopg

        try:
            self.conn.execute(sql, params)
        except psycopg.Error as exc:
            raise _lost(self.store, doing, exc) from None

    def pull(self) -> None:
        """Bring the local mirror in step with the database's state."""
        mine = _read_generation(self.state_dir)
        on_disk = mirrored_files(self.state_dir)
        manifest = _read_manifest(self.state_dir) if mine is not None else {}
        intact = bool(manifest) and manifest == on_disk  # nothing local touched since
        if mine == self.generation and intact:
            self.manifest = manifest
            return
        # Only what changed since the mirror's generation (every name, to see removals);
        # everything if the mirror is new or was touched.
        since = mine if intact and mine is not None and mine < self.generation else -1
        import psycopg

        try:
            rows = self.conn.execute(
                "SELECT name, CASE WHEN generation > %s THEN body END FROM build_state",
                (since,),
            ).fetchall()
        except psycopg.Error as exc:
            raise _lost(self.store, "reading the build state", exc) from None
        names = {str(name) for name, _ in rows}
        for name in set(on_disk) - names:
            (self.state_dir / name).unlink(missing_ok=True)
        for name, body in rows:
            if body is not None:
                write_if_changed(self.state_dir / str(name), bytes(body), durable=False)
        self.manifest = mirrored_files(self.state_dir)
        self._save_local()

    def push(self) -> None:
        """Write back what the build changed, and move the generation on."""
        if not self.marked:
            return  # nothing was built
        now = mirrored_files(self.state_dir)
        changed = [name for name, sig in now.items() if self.manifest.get(name) != sig]
        gone = [name for name in self.manifest if name not in now]
        import psycopg

        try:
            with self.conn.transaction():
                row = self.conn.execute(
                    "UPDATE build_meta SET generation = generation + 1, building = NULL, "
                    "started_at = NULL WHERE generation = %s RETURNING generation",
                    (self.generation,),
                ).fetchone()
                if row is None:  # another builder got in (our lock was lost): theirs stands
                    (self.state_dir / GENERATION_FILE).unlink(missing_ok=True)
                    return
                if gone:
                    self.conn.execute("DELETE FROM build_state WHERE name = ANY(%s)", (gone,))
                if changed:
                    self.conn.cursor().executemany(
                        "INSERT INTO build_state (name, body, generation) VALUES (%s, %s, %s) "
                        "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, "
                        "generation = EXCLUDED.generation",
                        [(name, (self.state_dir / name).read_bytes(), row[0]) for name in changed],
                    )
        except psycopg.Error as exc:
            (self.state_dir / GENERATION_FILE).unlink(missing_ok=True)
            raise _lost(self.store, "saving the build state", exc) from None
        self.generation = int(row[0])
        self.manifest = now
        self._save_local()

    def _save_local(self) -> None:
        write_if_changed(
            self.state_dir / MANIFEST_FILE,
            json.dumps({k: list(v) for k, v in sorted(self.manifest.items())}).encode(),
            durable=False,
        )
        write_if_changed(
            self.state_dir / GENERATION_FILE, str(self.generation).encode(), durable=False
        )


def _lost(store: PostgresStore, doing: str, exc: BaseException) -> DatabaseError:
    import psycopg

    from ..store.postgres import _reason

    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return DatabaseError(
            f"{store.name}: this user may not build ({_reason(exc)}): builds need the "
            "builders' grants (see docs/operations.md, Newsroom setup); nothing was published"
        )
    if not isinstance(exc, psycopg.OperationalError):  # the database answered: no
        return DatabaseError(
            f"{store.name}: {doing}: {_reason(exc)}; what was published stays; "
            "the next build tries again"
        )
    return DatabaseError(
        f"{store.name}: the database went away while {doing} ({_reason(exc)}); what was "
        "published stays; the next build finishes the job"
    )


def _unwritable(state_dir: Path, exc: OSError) -> FeedsError:
    return FeedsError(
        f"{state_dir}: cannot keep the build state's mirror there ({exc.strerror}); "
        "pass --state DIR (or FEEDS_STATE) with a folder this user can write"
    )


def _read_generation(state_dir: Path) -> int | None:
    try:
        return int((state_dir / GENERATION_FILE).read_text())
    except (OSError, ValueError):
        return None


def _read_manifest(state_dir: Path) -> dict[str, tuple[int, int, int]]:
    try:
        raw = json.loads((state_dir / MANIFEST_FILE).read_bytes())
        return {str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in raw.items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        return {}


def refresh(store: PostgresStore, state_dir: Path) -> None:
    """Outside a build (``feeds show``, ``check``): the mirror in step, if no build here
    is using it; read in one snapshot of the database, without the build lock."""
    import psycopg

    from ..errors import LockBusy
    from .lock import build_lock

    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        with build_lock(state_dir, 0), store.connect() as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                row = conn.execute("SELECT generation FROM build_meta").fetchone()
                Session(store, conn, state_dir, int(row[0]) if row else 0, False).pull()
    except LockBusy:
        return  # a build here is bringing it in step
    except OSError as exc:
        raise _unwritable(state_dir, exc) from None
    except psycopg.Error as exc:
        raise _lost(store, "reading the build state", exc) from None


@contextmanager
def session(store: PostgresStore, state_dir: Path, wait: float) -> Iterator[Session]:
    """The build lock of the database, the mirror in step; the state written back after."""
    import psycopg

    from ..store.postgres import LOCK_BUILD, LOCK_SPACE

    conn = store.conn  # this process's: the lock is held where the store is read
    released = False
    try:
        deadline = time.monotonic() + wait
        pause = 0.02
        while True:
            try:
                got, generation, building = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s), generation, building FROM build_meta",
                    (LOCK_SPACE, LOCK_BUILD),
                ).fetchone() or (False, 0, None)
            except psycopg.Error as exc:
                raise _lost(store, "waiting for the build lock", exc) from None
            if got:
                break
            if time.monotonic() >= deadline:
                raise LockBusy(
                    f"another build of {store.name} is running (waited {wait:g}s); "
                    "run again later or pass --wait SECONDS"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(state_dir, exc) from None
        current = Session(store, conn, state_dir, int(generation), building is not None)
        current.pull()
        try:
            yield current
        except FeedsError:
            current.failed()
            raise
        current.push()
        try:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, LOCK_BUILD))
            released = True
        except psycopg.Error:
            pass  # the connection is gone, and the lock with it
    finally:
        if not released:  # the lock goes with the connection
            store.close()
