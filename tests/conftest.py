from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds import FileStore, MemoryStore, Snapshot, Workspace, read_all
from feeds.build import BuildResult, render_all, run_build
from feeds.publish import FolderOutput
from feeds.reconcile import History, Reconciled, reconcile
from feeds.store.postgres import PostgresStore, migrate

from . import pgserver
from .pgserver import PgServer
from .s3server import CREDENTIALS as S3_CREDENTIALS
from .s3server import Bucket, MotoServer, moto_command

REPO = Path(__file__).resolve().parent.parent
# The shipped example store, data/, as the tests' own copy: a reader trying things in
# data/ (or a command run there by mistake) must not fail the suite. test_golden.py
# checks that data/ is still this example, and --update-golden copies it here.
EXAMPLE_DATA = Path(__file__).resolve().parent / "fixtures" / "example-data"
SHIPPED_DATA = REPO / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"

SITE_TOML = """\
title = "Test desk"
base_url = "https://news.test/live/"
id_authority = "news.test,2024"
author = "Test desk"
timezone = "Europe/Lisbon"
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ (and tests/fixtures/example-data/, from data/) "
        "from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def example_data(tmp_path: Path) -> Path:
    """A private copy of the shipped example store."""
    target = tmp_path / "data"
    shutil.copytree(EXAMPLE_DATA, target)
    return target


StoreFactory = Callable[..., Path]


@pytest.fixture
def make_store(tmp_path: Path) -> StoreFactory:
    """Write a small store: make_store(site=..., **{slug: markdown_text})."""

    def make(site: str = SITE_TOML, **stories: str) -> Path:
        root = tmp_path / "data"
        root.mkdir(exist_ok=True)
        (root / "site.toml").write_text(site, encoding="utf-8")
        for slug, text in stories.items():
            (root / f"{slug.replace('_', '-')}.md").write_text(
                textwrap.dedent(text).lstrip("\n"), encoding="utf-8"
            )
        return root

    return make


def story(front: str = 'title = "A story"', body: str = "") -> str:
    """A story file from front-matter lines and a body."""
    return f"+++\n{textwrap.dedent(front).strip()}\n+++\n\n{textwrap.dedent(body).strip()}\n"


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under root (by its relative path, with /) and its bytes."""
    files = (p for p in sorted(root.rglob("*")) if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def snapshot_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and mtime, to prove nothing moved."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- the library's stages, as the tests use them ---------------------------------

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)  # every update of a test store is out by then


def load_store(root: Path) -> Snapshot:
    """Every story of the file store in ``root``, read and checked."""
    return read_all(FileStore(root))


def publish_store(root: Path, now: datetime = FAR_FUTURE) -> Reconciled:
    """The store as a first build at ``now`` publishes it (no history)."""
    snapshot = load_store(root)
    return reconcile(snapshot, History.empty(), now, snapshot.site.tombstone_days)


def render_store(root: Path, now: datetime = FAR_FUTURE) -> dict[str, bytes]:
    """Every output file of a first build at ``now``."""
    return render_all(publish_store(root, now))


def run_folder(root: Path, out: Path, state: Path, **kw: Any) -> BuildResult:
    """run_build on a file store: ``root`` in, ``out`` and ``state`` written."""
    return run_build(Workspace.of(root, out, state), **kw)


# --- the same tests against every kind of store ------------------------------------


class Source:
    """A store as a test edits it, whatever its kind: what a person would do to it."""

    def __init__(
        self,
        kind: str,
        tmp_path: Path,
        site: str,
        stories: dict[str, str],
        url: str | None = None,
    ) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.root = tmp_path / "data"
        self.store: FileStore | MemoryStore | PostgresStore
        if kind == "files":
            self.root.mkdir(exist_ok=True)
            self.store = FileStore(self.root)
            self.write_site(site)
        elif kind == "postgres":
            assert url is not None
            self.store = PostgresStore(url)
            migrate(self.store)
            self.write_site(site)
        else:
            self.store = MemoryStore(site)
        for slug, text in stories.items():
            self.write(slug.replace("_", "-"), textwrap.dedent(text).lstrip("\n"))

    def write(self, slug: str, text: str) -> None:
        """As a person would: a file saved, a story replaced. A database checks the
        text first (StoreError, nothing written), where a folder takes any file."""
        if isinstance(self.store, (MemoryStore, PostgresStore)):
            self.store.put(slug, text.encode())
        else:
            (self.root / f"{slug}.md").write_text(text, encoding="utf-8")

    def read(self, slug: str) -> str:
        return self.store.story_source(slug).decode()

    def edit(self, slug: str, old: str, new: str) -> None:
        text = self.read(slug)
        assert old in text, f"{old!r} not in {slug}"
        self.write(slug, text.replace(old, new))

    def delete(self, slug: str) -> None:
        if isinstance(self.store, MemoryStore):
            self.store.delete(slug)
        elif isinstance(self.store, PostgresStore):
            self.store.remove(slug)
        else:
            (self.root / f"{slug}.md").unlink()

    def write_site(self, text: str) -> None:
        if isinstance(self.store, (MemoryStore, PostgresStore)):
            self.store.put_site(text)
        else:
            (self.root / "site.toml").write_text(text, encoding="utf-8")

    def lose_story_state(self, slug: str, state: Path) -> None:
        """A story's build state gone (from the database too, where it is kept)."""
        (state / "stories" / f"{slug}.json").unlink()
        if isinstance(self.store, PostgresStore):
            with self.store.connect() as conn:
                conn.execute("DELETE FROM build_state WHERE name = %s", (f"stories/{slug}.json",))

    def workspace(self, out: Path | None = None, state: Path | None = None) -> Workspace:
        out = out or self.tmp_path / "out"
        state = state or self.tmp_path / "state"
        return Workspace(self.store, out, state, FolderOutput(out))

    def build(self, out: Path | None = None, state: Path | None = None, **kw: Any) -> BuildResult:
        return run_build(self.workspace(out, state), **kw)


SourceFactory = Callable[..., Source]


@pytest.fixture(params=["files", "memory", "postgres"])
def make_source(request: pytest.FixtureRequest, tmp_path: Path) -> SourceFactory:
    """make_source(site=..., **{slug: markdown}): a store of each kind in turn
    (PostgreSQL: a new database of a real server, see pg_url)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None

    def make(site: str = SITE_TOML, **stories: str) -> Source:
        return Source(request.param, tmp_path, site, stories, url)

    return make


# --- a real PostgreSQL -------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A PostgreSQL cluster of this pytest process's own (each xdist worker has one),
    in its temporary folder, stopped at the end of the session. Skipped where
    PostgreSQL is not installed, unless FEEDS_REQUIRE_POSTGRES=1 (as in CI)."""
    reason = pgserver.available()
    if reason is not None:
        if os.environ.get("FEEDS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (FEEDS_REQUIRE_POSTGRES=1): {reason}", False)
        pytest.skip(f"PostgreSQL not available: {reason}")
    # Not under pytest's own temporary folders: another pytest session of the same
    # user removes old ones as it starts, and a cluster must not lose its files
    # under a running postmaster.
    base = Path(tempfile.mkdtemp(prefix="feeds-pg-"))
    server = PgServer.start(base)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


_pg_databases = itertools.count(1)


@pytest.fixture
def pg_url(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new empty database of its own, dropped after the test (its
    sessions ended first). A server a test left stopped is started again."""
    if not pg_server.running:
        pg_server.restart()
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t{next(_pg_databases)}_{slug}"
    url = pg_server.create_database(name)
    yield url
    if not pg_server.running:
        pg_server.restart()
    pg_server.drop_database(name)


# --- a real S3 endpoint --------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's S3 server of this pytest process's own, on 127.0.0.1. Skipped where
    moto is not installed, unless FEEDS_REQUIRE_S3=1 (as in CI)."""
    if moto_command() is None:
        if os.environ.get("FEEDS_REQUIRE_S3") == "1":
            pytest.fail("moto_server is required (FEEDS_REQUIRE_S3=1)", False)
        pytest.skip("moto_server not installed (pip install 'moto[server]')")
    server = MotoServer(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


_buckets = itertools.count(1)


@pytest.fixture
def bucket(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Bucket:
    """A new, publicly readable bucket of its own; the AWS variables set for it (and
    no AWS configuration of this machine's in the way)."""
    for key, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    return Bucket(s3_server, f"feeds-{os.getpid()}-{next(_buckets)}")
