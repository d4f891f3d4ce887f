"""The throwaway PostgreSQL of the tests (tests/pgserver.py, fixtures pg_server and
pg_url): a real server, a new empty database per test, restarts that keep what
was committed. Skipped where PostgreSQL is not installed, unless
FEEDS_REQUIRE_POSTGRES=1 (as in CI) makes that a failure."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import REPO
from .pgserver import PgServer

try:
    import psycopg
except ImportError:
    if os.environ.get("FEEDS_REQUIRE_POSTGRES") == "1":
        raise
    pytest.skip("psycopg not installed", allow_module_level=True)


def tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables"
        " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall()
    return sorted(r[0] for r in rows)


def test_pg_url_is_a_database_to_write_and_read(pg_url: str) -> None:
    assert pg_url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(pg_url) as conn:
        assert tables(conn) == []
        conn.execute("CREATE TABLE story (slug text PRIMARY KEY, title text NOT NULL)")
        conn.execute(
            "INSERT INTO story VALUES (%s, %s), (%s, %s)",
            ("a", "Première", "b", "Zweite – ünïcödé"),
        )
        conn.commit()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT slug, title FROM story ORDER BY slug").fetchall()
        assert rows == [("a", "Première"), ("b", "Zweite – ünïcödé")]
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
        assert conn.execute("SHOW fsync").fetchone() == ("off",)


_seen: dict[int, list[str]] = {}  # pytest process -> the databases its tests were given


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_a_new_empty_database(pg_url: str, turn: int) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        assert tables(conn) == []  # not even the table the other turn made
        conn.execute("CREATE TABLE mine (turn int)")
        earlier = _seen.setdefault(os.getpid(), [])
        assert name not in earlier
        # An earlier test's database is dropped when it ends.
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        assert existing.isdisjoint(earlier)
        earlier.append(name)


def test_a_restart_keeps_what_was_committed(pg_server: PgServer, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (n int)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
    port = pg_server.port
    idle = psycopg.connect(pg_url, autocommit=True)
    pg_server.restart()
    assert pg_server.running and pg_server.port == port
    with pytest.raises(psycopg.OperationalError):  # the restart ended that session
        idle.execute("SELECT 1")
    idle.close()
    with psycopg.connect(pg_url) as conn:  # the same URL works again
        assert conn.execute("SELECT sum(n) FROM t").fetchone() == (3,)


def test_a_restart_while_clients_run(pg_server: PgServer, pg_url: str) -> None:
    """What a chaos test does: clients keep writing, reconnecting when cut off."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE w (client int, n int)")
    stop = threading.Event()
    written = [0, 0, 0]
    failures = [0, 0, 0]

    def client(i: int) -> None:
        n = 0
        while not stop.is_set():
            try:
                with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
                    while not stop.is_set():
                        conn.execute("INSERT INTO w VALUES (%s, %s)", (i, n))
                        n += 1
                        written[i] = n
            except psycopg.OperationalError:
                failures[i] += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)
        pg_server.restart()
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert all(failures), failures  # every client was cut off, and went on
    with psycopg.connect(pg_url) as conn:
        counts = dict(conn.execute("SELECT client, count(*) FROM w GROUP BY client").fetchall())
    # None that came back is lost; one in flight when the server went down may be there.
    assert all(written[i] <= counts[i] <= written[i] + 1 for i in range(3)), (counts, written)


def test_a_killed_server_recovers(pg_server: PgServer, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # The cluster's synchronous_commit=off would let a crash lose the last
        # commits (up to 3 x wal_writer_delay), as it would a real server's.
        conn.execute("SET synchronous_commit = on")
        conn.execute("CREATE TABLE t AS SELECT generate_series(1, 1000) AS n")
    pid = pg_server.pid
    pg_server.kill()
    assert not pg_server.running
    pg_server.restart()
    assert pg_server.pid != pid
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1000,)


def test_drop_database_ends_its_sessions(pg_server: PgServer) -> None:
    url = pg_server.create_database('with spaces & "quotes"')
    conn = psycopg.connect(url, autocommit=True)
    pg_server.drop_database('with spaces & "quotes"')
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    conn.close()
    pg_server.drop_database('with spaces & "quotes"')  # gone: nothing to do


def test_a_server_of_ones_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """As a benchmark uses it: started, used, stopped, nothing left running."""
    with PgServer.start(tmp_path / "pg") as pg:
        url = pg.create_database("bench")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        pid = pg.pid
        assert pid is not None
    assert not pg.running
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" not in status.read_text()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


@pytest.mark.slow
@pytest.mark.parametrize(("require", "outcome"), [("", "1 skipped"), ("1", "1 error")])
def test_without_postgresql_skipped_unless_required(require: str, outcome: str) -> None:
    env = {**os.environ, "FEEDS_PG_BIN": "/nonexistent", "FEEDS_REQUIRE_POSTGRES": require}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         "tests/test_pgserver.py::test_pg_url_is_a_database_to_write_and_read"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert outcome in done.stdout, done.stdout
    assert "FEEDS_PG_BIN=/nonexistent has no initdb and postgres" in done.stdout
    assert (done.returncode == 0) == (outcome == "1 skipped")
