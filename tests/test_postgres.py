"""The PostgreSQL store against a real server: rows, constraints, transactions, builds, workers.

The store-level suite (authoring, incremental builds, a subscribed reader)
runs against this store too, through ``make_source`` (conftest.py); this file
holds what only a database has: its schema and migrations, concurrent writers
on one story, the build state kept in the database, and ``feeds worker``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from feeds import Workspace
from feeds.authoring import add_update, edit_update, read_story
from feeds.build import run_build
from feeds.cli import cli
from feeds.errors import AuthoringError, DatabaseError, EditConflict, StoreError
from feeds.store import FileStore
from feeds.store.changes import CreateStory, NewUpdate, ReviseUpdate
from feeds.store.postgres import SCHEMA_VERSION, PostgresStore, migrate, story_text

from .conftest import EXAMPLE_DATA, SITE_TOML, story

AT = datetime(2100, 1, 1, tzinfo=UTC)
NOW = "2100-01-01T00:00:00Z"
FEEDS = [sys.executable, "-m", "feeds"]


def new_store(url: str, site: str = SITE_TOML) -> PostgresStore:
    db = PostgresStore(url)
    migrate(db)
    db.put_site(site)
    return db


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, **kw: object):
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [*FEEDS, *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=120, **kw
    )


# --- rows and text ----------------------------------------------------------------


def test_every_example_story_reads_back_the_same(pg_url: str) -> None:
    files = FileStore(EXAMPLE_DATA)
    db = new_store(pg_url, (EXAMPLE_DATA / "site.toml").read_text(encoding="utf-8"))
    site = db.read_site()
    assert site == files.read_site()
    for slug in files.scan().stories:
        original = files.read_story(slug, site).story
        db.put(slug, files.story_source(slug))
        back = db.read_story(slug, site)
        assert back.problems == ()
        assert back.story == original
        # and the text it writes reads as the same story from a file too
        assert db.read_story(slug, site).story == original


TRICKY = story(
    """
    title = "Clocks go back"
    timezone = "Europe/Lisbon"
    language = "pt"
    authors = ["Ana Ribeiro <ana@news.test>", {name = "Tom Hale", uri = "https://tom.test/"}]
    tags = ["tempo", "noite"]
    created = 2024-10-26T20:00:00
    """,
    """
    Background with a [link](https://x.test/).

    ## 2024-10-27 01:30 +00:00 — The second 01:30 {#second author="Rui Sá"}

    After the clocks went back.

    ## 2024-10-27 01:30 +01:00 — *First* 01:30 {#first updated="2024-10-27 03:00"}

    Before.

    ## 2024-10-27 00:15:30 {#gone retracted="2024-10-27 04:00" note="Wrong place"}

    Withdrawn text.

    ## 2024-10-26 23:59 {#plain retracted}

    Never published, then withdrawn.
    """,
)


def test_ambiguous_times_titles_authors_and_retractions_survive_the_rows(pg_url: str) -> None:
    db = new_store(pg_url)
    site = db.read_site()
    stored = db.put("night", TRICKY.encode())
    back = db.read_story("night", site).story
    assert back == stored
    first, second = (next(u for u in back.updates if u.anchor == a) for a in ("first", "second"))
    assert first.published.utcoffset() != second.published.utcoffset()
    with psycopg.connect(pg_url) as conn:
        rows = dict(
            conn.execute(
                "SELECT anchor, (local_time, utc_offset, title) FROM updates ORDER BY anchor"
            ).fetchall()
        )
    assert rows["first"] == ("2024-10-27 01:30:00", "01:00:00", "*First* 01:30")
    assert rows["second"][1] == "00:00:00"


def test_constraints_hold_whatever_writes_the_rows(pg_url: str) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nText.").encode())
    with psycopg.connect(pg_url, autocommit=True) as conn:
        sid = conn.execute("SELECT id FROM stories").fetchone()[0]
        insert = (
            "INSERT INTO updates (story_id, anchor, published, local_time, utc_offset, body) "
            "VALUES (%s, %s, %s, %s, %s, 'x')"
        )
        when = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
        with pytest.raises(psycopg.errors.UniqueViolation):  # an id is never given twice
            conn.execute(insert, (sid, "a", when, "2024-06-01 10:00", "1 hour"))
        with pytest.raises(psycopg.errors.CheckViolation):  # local time and instant agree
            conn.execute(insert, (sid, "b", when, "2024-06-01 10:00", "0"))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, (sid, "1bad", when, "2024-06-01 10:00", "1 hour"))
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # one story, which exists
            conn.execute(insert, (sid + 99, "c", when, "2024-06-01 10:00", "1 hour"))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE stories SET slug = 'Not A Slug'")


def test_a_removed_update_keeps_its_row_and_its_id(pg_url: str, tmp_path: Path) -> None:
    db = new_store(pg_url)
    two = "## 2024-06-01 11:00 {#b}\n\nSecond.\n\n## 2024-06-01 10:00 {#a}\n\nFirst."
    db.put("s", story(body=two).encode())
    db.put("s", story(body="## 2024-06-01 11:00 {#b}\n\nSecond.").encode())
    assert db.retired("s") == {"a"}
    ws = Workspace(db, tmp_path / "out", tmp_path / "state", None)  # type: ignore[arg-type]
    with pytest.raises(AuthoringError, match="already has \\(or had\\)"):
        add_update(ws, "s", "Again", at=None, now=AT, anchor="a")


def test_bad_text_is_refused_and_nothing_is_written(pg_url: str) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nText.").encode())
    before = db.scan()
    with pytest.raises(StoreError, match=r"story s:\d+: .*25:10"):
        db.put("s", story(body="## 2024-06-01 25:10\n\nBad.").encode())
    assert db.scan() == before


# --- schema --------------------------------------------------------------------------


def test_an_old_schema_is_named_with_the_fix(pg_url: str) -> None:
    db = PostgresStore(pg_url)
    result = CliRunner().invoke(cli, ["list", "--store", pg_url])
    assert result.exit_code == 69
    assert "no feeds schema in this database: run feeds init --store URL" in result.output
    migrate(db)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM feeds_schema")
        conn.execute("INSERT INTO feeds_schema VALUES (0, 'older')")
    result = CliRunner().invoke(cli, ["list", "--store", pg_url])
    assert result.exit_code == 69
    assert f"database schema 0, this feeds needs {SCHEMA_VERSION}: run feeds migrate" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_init_migrate_and_init_again(pg_url: str) -> None:
    args = ["--title", "Desk", "--base-url", "https://n.test/", "--timezone", "UTC"]
    first = CliRunner().invoke(cli, ["init", "--store", pg_url, *args])
    assert first.exit_code == 0, first.output
    assert "applied 0001_store.sql" in first.output
    again = CliRunner().invoke(cli, ["init", "--store", pg_url, *args])
    assert again.exit_code == 1 and "already has a site" in again.output
    migrated = CliRunner().invoke(cli, ["migrate", "--store", pg_url])
    assert migrated.exit_code == 0 and "applied" not in migrated.output


def test_a_database_that_is_down_fails_in_one_line_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://reporter:s3cret-pw@127.0.0.1:9/news"  # nothing listens on port 9
    for args in (["add", "s", "Text"], ["build"], ["list"], ["worker", "--once"]):
        result = run(*args, "--store", url, cwd=tmp_path)
        assert result.returncode == 69, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot connect" in lines[0], result.stderr
        assert "postgresql://reporter@127.0.0.1:9/news" in lines[0]
        assert "s3cret" not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()


# --- writers at once ---------------------------------------------------------------------


def test_fifty_concurrent_adds_from_five_processes_all_land_once(
    pg_url: str, tmp_path: Path
) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    script = (
        "import sys\n"
        "from feeds.cli import main\n"
        "n, url = sys.argv[1:]\n"
        "for i in range(10):\n"
        "    sys.argv = ['feeds', 'add', 's', f'Update {n}-{i}', '--store', url]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(n), pg_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "FEEDS_NOW": "2024-06-01T12:00:00Z"},
        )
        for n in range(5)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    s = db.read_story("s", db.read_site()).story
    assert s is not None
    texts = sorted(u.text for u in s.updates if u.anchor != "a")
    assert texts == sorted(f"Update {n}-{i}" for n in range(5) for i in range(10))
    assert len({u.id for u in s.updates}) == 51  # all at the same minute, each its own id


def test_concurrent_edits_of_one_update_the_second_is_refused(pg_url: str, tmp_path: Path) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nOriginal.").encode())
    ws = Workspace(db, tmp_path / "out", tmp_path / "state", None)  # type: ignore[arg-type]
    opened = read_story(ws, "s").updates[0].text  # both reporters open the same text
    holding, release = threading.Event(), threading.Event()

    def slow(story_now):  # the first reporter's save, still being written
        holding.set()
        release.wait(10)
        return ReviseUpdate("a", text="First reporter's text.")

    def second() -> object:
        holding.wait(10)
        other = PostgresStore(pg_url)
        try:
            return edit_update(
                Workspace(other, tmp_path / "o2", tmp_path / "s2", None),  # type: ignore[arg-type]
                "s",
                "a",
                text="Second reporter's text.",
                started_from=opened,
            )
        except EditConflict as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(db.apply, "s", slow)
        later = pool.submit(second)
        time.sleep(0.5)  # the second is waiting for the first's row lock
        assert not later.done()
        release.set()
        first.result(timeout=10)
        outcome = later.result(timeout=10)
    assert isinstance(outcome, EditConflict)
    assert "changed by someone else" in str(outcome)
    assert read_story(ws, "s").updates[0].text == "First reporter's text."


# --- builds ---------------------------------------------------------------------------


def test_folder_to_database_and_back_gives_the_same_feeds_byte_for_byte(
    pg_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "site" / "data"
    shutil.copytree(EXAMPLE_DATA, data)
    (data / "night.md").write_text(TRICKY, encoding="utf-8")
    env = {"FEEDS_NOW": NOW}
    assert (
        run("build", "--data", str(data), "--out", str(tmp_path / "out1"), env=env).returncode == 0
    )
    imported = run("store-import", str(data), "--store", pg_url, env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 3 stories" in imported.stdout
    built = run(
        "build",
        "--store",
        pg_url,
        "--out",
        str(tmp_path / "out2"),
        "--state",
        str(tmp_path / "m2"),
        env=env,
    )
    assert built.returncode == 0, built.stderr
    back = tmp_path / "back" / "data"
    exported = run("store-export", str(back), "--store", pg_url, env=env)
    assert exported.returncode == 0, exported.stderr
    rebuilt = run("build", "--data", str(back), "--out", str(tmp_path / "out3"), env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert tree(tmp_path / "out1") == tree(tmp_path / "out2") == tree(tmp_path / "out3")
    # the exported text is the database's, and reads as the same story
    files, site = FileStore(data), FileStore(data).read_site()
    for slug in files.scan().stories:
        assert FileStore(back).read_story(slug, site).story == files.read_story(slug, site).story
    again = run("store-import", str(data), "--store", pg_url)
    assert again.returncode == 1 and "already holds stories" in again.stderr


def test_the_build_state_lives_in_the_database(pg_url: str, tmp_path: Path) -> None:
    """Two machines, each with its own empty state folder, build in turn: edit times
    and tombstones come from the database, and a no-op build writes nothing."""
    db = new_store(pg_url)
    body = "## 2024-06-01 11:00 {#b}\n\nSecond.\n\n## 2024-06-01 10:00 {#a}\n\nFirst."
    db.put("s", story(body=body).encode())
    out = tmp_path / "out"
    one = Workspace.of_database(pg_url, out, tmp_path / "machine-1")
    two = Workspace.of_database(pg_url, out, tmp_path / "machine-2")
    t1 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert run_build(one, clock=lambda: t1).changed
    db.put("s", story(body=body.replace("First.", "First, corrected.")).encode())
    t2 = datetime(2024, 6, 1, 13, 0, tzinfo=UTC)
    assert run_build(two, clock=lambda: t2).stories_changed == ["s"]
    atom = (out / "s" / "atom.xml").read_text()
    assert "<updated>2024-06-01T14:00:00+01:00</updated>" in atom  # the edit's time
    assert atom.count("2024-06-01T11:00:00+01:00") == 2  # b untouched: published == updated
    # Machine 1 builds later and knows what machine 2 did: nothing to do.
    t3 = datetime(2024, 6, 1, 14, 0, tzinfo=UTC)
    before = tree(out)
    assert not run_build(one, clock=lambda: t3).changed
    assert tree(out) == before
    # Machine 3 comes from nothing, and the edit time stays 13:00.
    shutil.rmtree(tmp_path / "machine-1")
    db.put("s", story(body="## 2024-06-01 11:00 {#b}\n\nSecond.").encode())
    result = run_build(Workspace.of_database(pg_url, out, tmp_path / "m3"), clock=lambda: t3)
    assert result.stories_changed == ["s"]
    atom = (out / "s" / "atom.xml").read_text()
    assert "at:deleted-entry" in atom and "storm" not in atom


def test_a_builder_killed_while_publishing_is_repaired_by_the_next(
    pg_url: str, tmp_path: Path
) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    out = tmp_path / "out"
    t = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    run_build(Workspace.of_database(pg_url, out, tmp_path / "m1"), clock=lambda: t)
    (out / "s" / "rss.xml").write_text("half-written")  # what a killed builder left
    os.utime(out / "s" / "rss.xml", ns=(0, 0))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE build_meta SET building = 'elsewhere:1', started_at = now()")
    (out / "s" / "rss.xml").write_bytes((out / "s" / "rss.xml").read_bytes())
    result = run_build(Workspace.of_database(pg_url, out, tmp_path / "m2"), clock=lambda: t)
    assert result.repaired or result.changed
    assert (out / "s" / "rss.xml").read_text().startswith("<?xml")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT building FROM build_meta").fetchone() == (None,)


# --- the worker ---------------------------------------------------------------------------


def _wait_for(predicate, timeout: float = 10.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_the_worker_publishes_a_commit_within_a_second_and_stops_on_sigterm(
    pg_url: str, tmp_path: Path
) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    out = tmp_path / "out"
    worker = subprocess.Popen(
        [*FEEDS, "worker", "--store", pg_url, "--out", str(out), "--state", str(tmp_path / "w")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        rss = out / "s" / "rss.xml"
        _wait_for(lambda: rss.exists(), 20)
        latencies = []
        for n in range(3):
            added = run("add", "s", f"Commit number {n}.", "--store", pg_url)
            assert added.returncode == 0, added.stderr
            text = f"Commit number {n}."
            latencies.append(_wait_for(lambda text=text: text in rss.read_text()))
        assert max(latencies) < 1.0, latencies
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        worker.kill()
    log = worker.stderr.read().splitlines() if worker.stderr else []
    assert sum("built in" in line for line in log) >= 4, log
    assert all(line[:4].isdigit() for line in log)  # one timestamped line each


def test_worker_once_builds_and_exits(pg_url: str, tmp_path: Path) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    args = ["worker", "--once", "--store", pg_url, "--out", str(tmp_path / "out")]
    first = run(*args, env={"FEEDS_NOW": NOW})
    assert first.returncode == 0, first.stderr
    assert "built in" in first.stderr
    second = run(*args, env={"FEEDS_NOW": NOW})
    assert second.returncode == 0 and second.stderr == ""


def test_the_worker_refuses_a_folder_store(example_data: Path, tmp_path: Path) -> None:
    result = run("worker", "--once", "--data", str(example_data))
    assert result.returncode == 1
    assert "PostgreSQL" in result.stderr and "Traceback" not in result.stderr


def test_database_errors_are_database_errors(pg_url: str) -> None:
    with pytest.raises(DatabaseError):
        PostgresStore(pg_url).scan()  # no schema yet
    db = new_store(pg_url)
    assert story_text  # the text form is public: store-export writes it
    assert db.scan().stories == {}


def test_check_and_show_on_another_machine_use_the_databases_state(
    pg_url: str, tmp_path: Path
) -> None:
    db = new_store(pg_url)
    body = "## 2024-06-01 11:00 {#b}\n\nSecond.\n\n## 2024-06-01 10:00 {#a}\n\nFirst."
    db.put("s", story(body=body).encode())
    out = tmp_path / "out"
    env = {"FEEDS_NOW": "2024-06-01T12:00:00Z"}
    built = run(
        "build", "--store", pg_url, "--out", str(out), "--state", str(tmp_path / "m1"), env=env
    )
    assert built.returncode == 0, built.stderr
    db.put("s", story(body="## 2024-06-01 11:00 {#b}\n\nSecond.").encode())
    env = {"FEEDS_NOW": "2024-06-01T13:00:00Z"}
    built = run(
        "build", "--store", pg_url, "--out", str(out), "--state", str(tmp_path / "m1"), env=env
    )
    assert built.returncode == 0, built.stderr
    elsewhere = ["--store", pg_url, "--out", str(out), "--state", str(tmp_path / "m2")]
    checked = run("check", *elsewhere, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shown = run("show", "s", *elsewhere, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "b" in shown.stdout
    listed = run("list", *elsewhere, env=env)
    assert listed.returncode == 0 and "s " in listed.stdout


def test_a_reporters_role_writes_stories_and_cannot_touch_the_build_state(
    pg_url: str, tmp_path: Path
) -> None:
    """The grants the README gives reporters are enough for every authoring command."""
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    suffix = pg_url.rpartition("/")[2][:20]
    group, user = f"reporters_{suffix}", f"ana_{suffix}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for sql in (
            f"CREATE ROLE {group}",
            f"GRANT SELECT ON feeds_schema, site, retired, build_state, build_meta TO {group}",
            f"GRANT SELECT, INSERT, UPDATE ON stories, updates TO {group}",
            f"GRANT USAGE ON SEQUENCE change_seq TO {group}",
            f"CREATE ROLE {user} LOGIN IN ROLE {group}",
        ):
            conn.execute(sql)
    ana = pg_url.replace("postgresql://postgres@", f"postgresql://{user}@")
    state = ["--state", str(tmp_path / "ana"), "--out", str(tmp_path / "out")]
    for args in (
        ["new", "t", "--title", "Another story"],
        ["add", "s", "Second."],
        ["add", "t", "A first update."],
        ["edit", "s", "a", "--text", "First, edited."],
        ["correct", "s", "a", "--note", "The time was wrong."],
        ["retract", "s", "a", "--note", "Wrong place"],
        ["end", "t"],
        ["show", "s"],
        ["list"],
    ):
        done = run(*args, "--store", ana, *state)
        assert done.returncode == 0, (args, done.stderr)
    with psycopg.connect(ana, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO build_state VALUES ('x', 'y')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE build_meta SET generation = 0")


def test_site_toml_can_point_at_the_database(pg_url: str, tmp_path: Path) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "site.toml").write_text(f'store = "{pg_url}"\n', encoding="utf-8")
    listed = run("list", cwd=tmp_path, env={"FEEDS_STORE": "", "FEEDS_DATA": ""})
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].startswith("s ")


def test_a_build_that_publishes_nothing_leaves_nothing_to_repair(
    pg_url: str, tmp_path: Path
) -> None:
    from feeds.errors import PublishError

    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    (tmp_path / "out").write_text("a file where the output folder should be")
    ws = Workspace.of_database(pg_url, tmp_path / "out", tmp_path / "m")
    with pytest.raises(PublishError):
        run_build(ws, clock=lambda: AT)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT building FROM build_meta").fetchone() == (None,)


def test_a_lost_lock_stops_the_build_before_it_publishes(pg_url: str, tmp_path: Path) -> None:
    from feeds.build.shared import session

    db = new_store(pg_url)
    with session(db, tmp_path / "m", wait=5) as held:
        held.confirm()  # ours
        with psycopg.connect(pg_url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (held.conn.info.backend_pid,))
        with pytest.raises(DatabaseError, match="went away|lost"):
            held.confirm()
    # and the next session gets the lock, on a new connection
    with session(db, tmp_path / "m", wait=5) as again:
        again.confirm()


def test_a_change_made_by_hand_in_sql_is_built_like_any_other(pg_url: str, tmp_path: Path) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    ws = Workspace.of_database(pg_url, tmp_path / "out", tmp_path / "m")
    run_build(ws, clock=lambda: AT)
    with psycopg.connect(pg_url, autocommit=True) as listener:
        listener.execute("LISTEN feeds_changes")
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("UPDATE updates SET body = 'First, fixed by hand.'")
            heard = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]
            assert heard == ["s"]
            assert run_build(ws, clock=lambda: AT).stories_changed == ["s"]
            assert "fixed by hand" in (tmp_path / "out" / "s" / "rss.xml").read_text()
            conn.execute("UPDATE stories SET summary = 'A summary typed in psql.'")
            assert run_build(ws, clock=lambda: AT).stories_changed == ["s"]
            assert "typed in psql" in (tmp_path / "out" / "s" / "rss.xml").read_text()
            conn.execute("UPDATE site SET settings = settings || E'\\ndescription = \"By hand\"'")
            assert run_build(ws, clock=lambda: AT).changed
            assert "By hand" in (tmp_path / "out" / "rss.xml").read_text()
    # feeds' own changes are numbered once each
    before = db.change_number()
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst, again.").encode())
    assert db.change_number() == before + 1


def test_edit_story_and_edit_settings_on_a_database(pg_url: str, tmp_path: Path) -> None:
    db = new_store(pg_url)
    db.put(
        "s", story(body="## 2024-06-01 11:00 {#b}\n\nB.\n\n## 2024-06-01 10:00 {#a}\n\nA.").encode()
    )
    text = db.story_source("s").decode()
    moved = text.replace("2024-06-01 11:00", "2024-06-01 11:30").split("## 2024-06-01 10:00")[0]
    done = run("edit-story", "s", "--file", "-", "--store", pg_url, input=moved)
    assert done.returncode == 0, done.stderr
    s = db.read_story("s", db.read_site()).story
    assert [u.anchor for u in s.updates] == ["b"] and s.updates[0].published.minute == 30
    assert db.retired("s") == {"a"}  # deleted: a tombstone row, its id taken
    stale = run("edit-story", "s", "--file", "-", "--store", pg_url, input=text)
    assert stale.returncode == 0  # from the current text: a plain replace
    settings = db.site_settings() + 'description = "Edited"\n'
    done = run("edit-settings", "--file", "-", "--store", pg_url, input=settings)
    assert done.returncode == 0, done.stderr
    assert db.read_site().description == "Edited"
    bad = run("edit-settings", "--file", "-", "--store", pg_url, input="title = 1\n")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert db.read_site().description == "Edited"


def test_a_removed_story_goes_and_its_ids_stay_taken(pg_url: str, tmp_path: Path) -> None:
    db = new_store(pg_url)
    db.put("s", story(body="## 2024-06-01 10:00 {#a}\n\nFirst.").encode())
    out = tmp_path / "out"
    ws = Workspace.of_database(pg_url, out, tmp_path / "m")
    run_build(ws, clock=lambda: AT)
    removed = run("edit-story", "s", "--remove", "--store", pg_url)
    assert removed.returncode == 0, removed.stderr
    assert run_build(ws, clock=lambda: AT).removed
    assert not (out / "s" / "rss.xml").exists()
    assert "deleted-entry" in (out / "atom.xml").read_text()
    with pytest.raises(AuthoringError, match="belonged to an update of an earlier story"):
        again = NewUpdate(datetime(2024, 7, 1, tzinfo=UTC), "a", "Reused?")
        db.apply("s", CreateStory(title="Again", timezone="UTC", updates=(again,)))


def test_store_import_of_a_folder_with_a_bad_story_writes_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE_DATA, data)
    (data / "zz-bad.md").write_text(story(body="## 2024-06-01 25:10\n\nBad."), encoding="utf-8")
    done = run("store-import", str(data), "--store", pg_url)
    assert done.returncode == 1 and "zz-bad.md:" in done.stderr and "25:10" in done.stderr
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM stories").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM site").fetchone() == (0,)
    (data / "zz-bad.md").unlink()
    new_store(pg_url)  # a site made with feeds init --store: other settings
    other = run("store-import", str(data), "--store", pg_url)
    assert other.returncode == 1 and "already has other site settings" in other.stderr


def test_a_machine_fetches_only_the_state_written_since_it_last_built(
    pg_url: str, tmp_path: Path
) -> None:
    db = new_store(pg_url)
    for slug in ("a", "b"):
        db.put(slug, story(body="## 2024-06-01 10:00 {#x}\n\nFirst.").encode())
    out = tmp_path / "out"
    one = Workspace.of_database(pg_url, out, tmp_path / "m1")
    two = Workspace.of_database(pg_url, out, tmp_path / "m2")
    run_build(one, clock=lambda: AT)
    db.put("b", story(body="## 2024-06-01 10:00 {#x}\n\nFirst, edited.").encode())
    run_build(two, clock=lambda: AT)  # machine 2 builds b, and writes b's state
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # a's record, unchanged since machine 1 wrote it: not fetched again by machine 1
        conn.execute("UPDATE build_state SET body = 'not fetched' WHERE name = 'stories/a.json'")
        b_body = conn.execute("SELECT body FROM build_state WHERE name = 'stories/b.json'")
        b_body = bytes(b_body.fetchone()[0])
    db.put("b", story(body="## 2024-06-01 10:00 {#x}\n\nFirst, edited twice.").encode())
    run_build(one, clock=lambda: AT)
    assert (tmp_path / "m1" / "stories" / "a.json").read_bytes() != b"not fetched"
    assert b"edited twice" in (out / "b" / "rss.xml").read_bytes()
    assert b_body  # machine 2's record of b was fetched (it reads b's history from it)


def test_machine_settings_are_not_kept_in_the_database(pg_url: str) -> None:
    """out, endpoint_url, publish_hook... belong to each machine: refused in the database's
    settings with a message saying where they go, rather than silently ignored."""
    db = new_store(pg_url)
    for line in ('out = "s3://news/live/"', 'publish_hook = "/bin/true"', 'state = "/tmp/x"'):
        with pytest.raises(StoreError) as caught:
            db.put_site(SITE_TOML + line + "\n")
        assert "not kept in the database" in str(caught.value)
        assert "FEEDS_OUT" in str(caught.value)
    assert db.site_settings() == SITE_TOML
