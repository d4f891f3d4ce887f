"""Publishing to a bucket, against a real S3 HTTP endpoint (moto's server on 127.0.0.1).

feeds talks to it only through its own client (the build); the tests read the
bucket back through boto3 and plain HTTP, and count and order the requests
through the server's own request log.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds import Workspace
from feeds.build import BuildResult, run_build
from feeds.cli import cli
from feeds.errors import PublishError
from feeds.publish import media_type
from feeds.publish.s3 import OBJECTS_FILE

from .conftest import SITE_TOML, StoreFactory, run_folder, story
from .linkcheck import order_problems
from .s3server import Bucket, FaultyProxy, writes

NOW = datetime(2024, 6, 2, 12, 0, tzinfo=UTC)


def updates(story_number: int, count: int, version: int = 0) -> str:
    return "\n\n".join(
        f"## 2024-06-01 {h // 60:02d}:{h % 60:02d} — Update {h} {{#u{h}}}\n\n"
        f"Story {story_number}, update {h}, version {version}: <b>bold</b> & “quoted”."
        for h in range(count, 0, -1)
    )


def site(base_url: str, extra: str = "") -> str:
    return SITE_TOML.replace("https://news.test/live/", base_url) + extra


def write_story(root: Path, slug: str, number: int, count: int, version: int = 0) -> None:
    text = story(f'title = "Story {number}"', updates(number, count, version))
    (root / f"{slug}.md").write_text(text, encoding="utf-8")


def to_bucket(root: Path, bucket: Bucket, state: Path, now: datetime = NOW) -> BuildResult:
    return run_build(Workspace.of(root, bucket.url, state), clock=lambda: now)


def folder_files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.fixture
def store(make_store: StoreFactory, bucket: Bucket) -> Path:
    """Three stories, one with archive pages (items_per_feed = 3), published at the
    bucket's public URL."""
    root = make_store(site(bucket.http, "items_per_feed = 3\narchive_max_age = 3600\n"))
    write_story(root, "alpha", 1, 2)
    write_story(root, "beta", 2, 8)  # 3 current, archive pages of 3 and 2
    write_story(root, "gamma", 3, 1)
    return root


def test_objects_are_the_folder_files_with_types_and_cache_headers(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    result = to_bucket(store, bucket, tmp_path / "state")
    requests = bucket.requests()
    run_folder(store, tmp_path / "out", tmp_path / "fstate", clock=lambda: NOW)
    expected = folder_files(tmp_path / "out")
    assert bucket.objects() == expected
    assert sorted(result.written) == sorted(expected)
    assert "beta/archive-2-atom.xml" in expected
    for name in expected:
        head = bucket.head(name)
        assert head["ContentType"] == media_type(name)
        archive = "/archive-" in name
        assert head["CacheControl"] == ("max-age=3600" if archive else "max-age=60"), name
    assert bucket.head("beta/atom.xml")["ContentType"] == "application/atom+xml; charset=utf-8"
    assert bucket.head("beta/rss.xml")["ContentType"] == "application/rss+xml; charset=utf-8"
    assert bucket.head("feed.json")["ContentType"] == "application/feed+json; charset=utf-8"
    assert bucket.head("index.html")["ContentType"] == "text/html; charset=utf-8"
    # One listing (no record yet), then one PUT per file, nothing else.
    assert [r.method for r in requests] == ["GET"] + ["PUT"] * len(expected)
    assert (tmp_path / "state" / OBJECTS_FILE).exists()


def test_a_no_op_build_sends_nothing_and_an_add_only_what_changed(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    state, out, fstate = tmp_path / "state", tmp_path / "out", tmp_path / "fstate"
    to_bucket(store, bucket, state)
    run_folder(store, out, fstate, clock=lambda: NOW)

    bucket.since_now()
    assert not to_bucket(store, bucket, state, NOW + timedelta(minutes=1)).changed
    assert bucket.requests() == []  # not one request: not a PUT, not a listing

    before = folder_files(out)
    write_story(store, "beta", 2, 9)  # one update more: a new archive page
    later = NOW + timedelta(minutes=2)
    result = to_bucket(store, bucket, state, later)
    requests = bucket.requests()
    run_folder(store, out, fstate, clock=lambda: later)
    after = folder_files(out)
    changed = {name for name in after if before.get(name) != after[name]}
    assert {r.method for r in requests} == {"PUT"}
    assert sorted(r.key for r in requests) == sorted(bucket.prefix + n for n in changed)
    assert sorted(result.written) == sorted(changed)
    assert len(requests) == len(changed) < len(after) / 2
    assert bucket.objects() == after


def test_a_removed_story_removes_its_objects(store: Path, bucket: Bucket, tmp_path: Path) -> None:
    state = tmp_path / "state"
    to_bucket(store, bucket, state)
    (store / "beta.md").unlink()
    bucket.since_now()
    result = to_bucket(store, bucket, state, NOW + timedelta(minutes=1))
    requests = bucket.requests()
    names = set(bucket.objects())
    assert not any(n.startswith("beta/") for n in names)
    assert sorted(n for n in result.removed) == sorted(
        f"beta/{n}"
        for n in [
            "atom.xml",
            "rss.xml",
            "feed.json",
            "feed.html",
            "index.html",
            "archive-1-atom.xml",
            "archive-1-rss.xml",
            "archive-2-atom.xml",
            "archive-2-rss.xml",
        ]
    )
    # The site's files (which no longer link beta) first, then one DeleteObjects.
    assert requests[-1].method == "POST" and requests[-1].query.startswith("delete")
    assert all(r.method == "PUT" for r in requests[:-1])
    run_folder(store, tmp_path / "out", tmp_path / "fstate", clock=lambda: NOW)


def test_no_published_document_ever_links_to_an_object_not_there_yet(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    events_of_all = []
    before: dict[str, bytes] = {}
    steps = [
        lambda: None,  # the first build: everything new
        lambda: write_story(store, "beta", 2, 10, 1),  # edited, and a third archive page
        lambda: write_story(store, "delta", 4, 7),  # a new story with archive pages
        lambda: (store / "alpha.md").unlink(),  # a story removed
        lambda: write_story(store, "gamma", 3, 4, 2),  # its first archive page
    ]
    for number, step in enumerate(steps):
        step()
        bucket.since_now()
        to_bucket(store, bucket, state, NOW + timedelta(minutes=number))
        events = writes(bucket.requests(), bucket.prefix)
        assert events, f"step {number} wrote nothing"
        assert order_problems(before, events, bucket.http) == [], f"step {number}"
        events_of_all.append(events)
        before = bucket.objects()
    # The check is not vacuous: the same uploads in reverse order break links.
    assert order_problems({}, list(reversed(events_of_all[0])), bucket.http)
    assert order_problems(before, [e for e in events_of_all[1] if "site" not in e[1]][::-1], "")


def test_cli_builds_to_a_bucket_named_in_site_toml(
    make_store: StoreFactory, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_store(
        site(bucket.http, f'out = "s3://{bucket.name}/{bucket.prefix}"\n')
        + f'endpoint_url = "{bucket.server.endpoint}"\n'
    )
    write_story(root, "alpha", 1, 2)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    done = runner.invoke(cli, ["build", "--now", "2024-06-02T12:00:00Z"])
    assert done.exit_code == 0, done.output
    assert "written" in done.output
    assert "alpha/atom.xml" in bucket.objects()
    done = runner.invoke(cli, ["check"], env={"FEEDS_NOW": "2024-06-02T12:00:00Z"})
    assert done.exit_code == 0, done.output
    assert f"feeds in s3://{bucket.name}/{bucket.prefix} up to date" in done.output


def test_the_record_of_objects_is_made_again_from_the_bucket(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    """A new machine (or a lost state) lists the bucket once and uploads nothing that is
    already there."""
    to_bucket(store, bucket, tmp_path / "state")
    bucket.since_now()
    result = to_bucket(store, bucket, tmp_path / "elsewhere")
    assert result.written == []
    assert [r.method for r in bucket.requests()] == ["GET"]  # one ListObjectsV2
    bucket.since_now()
    record = json.loads((tmp_path / "elsewhere" / OBJECTS_FILE).read_bytes())
    assert set(record["objects"]) == set(bucket.objects())


BODY = """
## 2024-06-01 10:00 — Bridge closed {#bridge}

Police have closed the bridge.

## 2024-06-01 09:00 — Storm arrives {#storm}

The first gusts have arrived.
"""


@pytest.mark.parametrize("fmt", ["atom.xml", "rss.xml"])
def test_a_subscriber_polling_the_bucket_sees_each_update_once(
    fmt: str, make_store: StoreFactory, bucket: Bucket, tmp_path: Path
) -> None:
    """The reader life cycle (add, edit, no-op, delete), the feeds served by the S3
    endpoint over HTTP to lemon24's reader."""
    from reader import make_reader

    root = make_store(site(bucket.http), s=story(body=BODY))
    state = tmp_path / "state"
    clock = [datetime(2024, 6, 1, 12, 0, tzinfo=UTC)]

    def build() -> BuildResult:
        # moto answers 304 to If-Modified-Since within the second of the last PUT even
        # when If-None-Match says the ETag changed (AWS S3 does not): a new second.
        time.sleep(1.02 - time.time() % 1)
        bucket.since_now()
        return to_bucket(root, bucket, state, clock[0])

    build()
    url = f"{bucket.http}s/{fmt}"
    r = make_reader(str(tmp_path / "reader.sqlite"))
    r.add_feed(url)

    def poll() -> dict[str, object]:
        r.update_feed(url)
        return {e.id: e for e in r.get_entries(feed=url)}

    assert sorted(poll()) == ["tag:news.test,2024:s/bridge", "tag:news.test,2024:s/storm"]

    (root / "s.md").write_text(
        story(body="## 2024-06-01 11:00 — Bridge reopens {#reopen}\n\nOpen again.\n" + BODY)
    )
    clock[0] += timedelta(minutes=5)
    build()
    entries = poll()
    assert len(entries) == 3
    assert entries["tag:news.test,2024:s/reopen"].title == "Bridge reopens"  # type: ignore[attr-defined]

    text = (root / "s.md").read_text().replace("closed the bridge.", "closed both bridges.")
    (root / "s.md").write_text(text)
    clock[0] += timedelta(minutes=5)
    build()
    entries = poll()
    assert len(entries) == 3
    edited = entries["tag:news.test,2024:s/bridge"]
    assert "both bridges" in edited.get_content().value  # type: ignore[attr-defined]

    # Nothing changed: no request at all, and the object keeps its ETag and date.
    head = bucket.head(f"s/{fmt}")
    clock[0] += timedelta(minutes=5)
    assert not build().changed
    assert bucket.requests() == []
    again = bucket.head(f"s/{fmt}")
    assert (again["ETag"], again["LastModified"]) == (head["ETag"], head["LastModified"])
    assert len(poll()) == 3

    (root / "s.md").write_text(text.split("## 2024-06-01 09:00")[0])
    clock[0] += timedelta(minutes=5)
    build()
    entries = poll()
    atom = bucket.objects()["s/atom.xml"]
    assert b'ref="tag:news.test,2024:s/storm"' in atom
    assert b"s/storm" not in bucket.objects()["s/rss.xml"]
    r.close()


def test_conditional_get_from_the_bucket(store: Path, bucket: Bucket, tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    to_bucket(store, bucket, tmp_path / "state")
    with urllib.request.urlopen(bucket.http + "beta/atom.xml") as answer:
        etag, modified = answer.headers["ETag"], answer.headers["Last-Modified"]
        assert answer.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        assert answer.headers["Cache-Control"] == "max-age=60"
    for header, value in (("If-None-Match", etag), ("If-Modified-Since", modified)):
        request = urllib.request.Request(bucket.http + "beta/atom.xml", headers={header: value})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        assert caught.value.code == 304


def through(bucket: Bucket, proxy: FaultyProxy) -> str:
    return f"s3://{bucket.name}/{bucket.prefix}?endpoint_url={proxy.endpoint}"


def test_throttling_is_retried_with_backoff(store: Path, bucket: Bucket, tmp_path: Path) -> None:
    proxy = FaultyProxy(bucket.server.endpoint, throttle=5)
    try:
        workspace = Workspace.of(store, through(bucket, proxy), tmp_path / "state")
        started = time.monotonic()
        result = run_build(workspace, clock=lambda: NOW)
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
    assert proxy.throttled == 5
    run_folder(store, tmp_path / "out", tmp_path / "fstate", clock=lambda: NOW)
    assert bucket.objects() == folder_files(tmp_path / "out")
    assert len(result.written) == len(folder_files(tmp_path / "out"))
    assert elapsed > 0.05  # it waited before trying again


def test_a_failed_upload_fails_the_build_and_the_next_one_finishes(
    store: Path, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A story's feed refused: the build stops before the site's files (which would
    link its new update), says why in one line, exits 1; once the cause is gone, the
    next build publishes the rest."""
    state = tmp_path / "state"
    to_bucket(store, bucket, state)
    previous = bucket.objects()
    write_story(store, "gamma", 3, 2, 1)  # gamma gains an update
    proxy = FaultyProxy(bucket.server.endpoint, refuse=r"/gamma/atom\.xml$")
    monkeypatch.chdir(tmp_path)
    try:
        bucket.since_now()
        done = CliRunner().invoke(
            cli,
            ["build", "--data", str(store), "--state", str(state), "--out", through(bucket, proxy)],
            env={"FEEDS_NOW": "2024-06-02T12:05:00Z"},
        )
    finally:
        proxy.close()
    assert done.exit_code == 1
    message = done.output.strip()
    assert "\n" not in message and "Traceback" not in message
    assert f"s3://{bucket.name}/{bucket.prefix}gamma/atom.xml: cannot upload" in message
    assert "AccessDenied" in message and "stays served" in message
    now = bucket.objects()
    # The site's feeds and page are as they were: nothing links what is not there.
    for name in ("atom.xml", "rss.xml", "feed.json", "index.html", "feeds.opml"):
        assert now[name] == previous[name], name
    assert order_problems(previous, writes(bucket.requests(), bucket.prefix), bucket.http) == []

    later = NOW + timedelta(minutes=6)
    before_repair = bucket.objects()
    bucket.since_now()
    result = to_bucket(store, bucket, state, later)
    assert result.repaired and "gamma/atom.xml" in result.written
    events = writes(bucket.requests(), bucket.prefix)
    assert order_problems(before_repair, events, bucket.http) == []
    now = bucket.objects()
    assert b"Story 3, update 2, version 1" in now["gamma/atom.xml"]
    bucket.since_now()
    assert not to_bucket(store, bucket, state, later).changed
    assert bucket.requests() == []


def test_bad_targets_are_one_line_errors(
    store: Path, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = bucket.server.endpoint
    cases = {
        "s3://": "not a bucket URL",
        "s3://a/": "is not a bucket name",
        "s3://key:secret@news/": "no credentials in the URL",
        f"s3://{bucket.name}/x/?endpoint=http://h": "unknown option endpoint",
        f"s3://{bucket.name}/x/?endpoint_url=ftp://h": "must be the service's http(s) URL",
        f"s3://no-such-bucket-here/x/?endpoint_url={endpoint}": "create the bucket",
    }
    for target, expected in cases.items():
        done = CliRunner().invoke(
            cli, ["build", "--data", str(store), "--state", str(tmp_path / "s"), "--out", target]
        )
        assert done.exit_code == 1, (target, done.output)
        assert expected in done.output, (target, done.output)
        assert len(done.output.strip().splitlines()) == 1, done.output
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    done = CliRunner().invoke(
        cli, ["build", "--data", str(store), "--state", str(tmp_path / "s"), "--out", bucket.url]
    )
    assert done.exit_code == 1
    assert "AWS_ACCESS_KEY_ID" in done.output and len(done.output.strip().splitlines()) == 1


HOOK = """\
import sys, urllib.error, urllib.request
seen = []
for url in sys.stdin.read().split():
    try:
        status = urllib.request.urlopen(url).status
    except urllib.error.HTTPError as exc:
        status = exc.code
    seen.append(f"{status} {url}")
open(sys.argv[1], "a").write("\\n".join(seen) + "\\n")
"""


def test_the_publish_hook_runs_once_everything_is_in_place(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    """A command given the changed URLs fetches each: every written one is there, every
    removed one is gone. Then the same through an http(s) URL, POSTed as JSON."""
    import shlex
    import sys

    from .servers import recording_server

    script, log = tmp_path / "hook.py", tmp_path / "hook.log"
    script.write_text(HOOK)
    hook = shlex.join([sys.executable, str(script), str(log)])
    state = tmp_path / "state"
    args = ["build", "--data", str(store), "--state", str(state), "--out", bucket.url]
    done = CliRunner().invoke(
        cli, args, env={"FEEDS_NOW": "2024-06-02T12:00:00Z", "FEEDS_PUBLISH_HOOK": hook}
    )
    assert done.exit_code == 0, done.output
    first = log.read_text().split()
    assert f"{bucket.http}beta/archive-2-atom.xml" in first
    assert f"{bucket.http}beta/" in first and f"{bucket.http}" in first  # the pages' folders
    log.unlink()

    write_story(store, "beta", 2, 8, 1)
    (store / "gamma.md").unlink()
    done = CliRunner().invoke(
        cli, args, env={"FEEDS_NOW": "2024-06-02T12:05:00Z", "FEEDS_PUBLISH_HOOK": hook}
    )
    assert done.exit_code == 0, done.output
    seen = dict(reversed(line.split(" ", 1)) for line in log.read_text().splitlines())
    assert seen[f"{bucket.http}beta/atom.xml"] == "200"
    assert seen[f"{bucket.http}gamma/atom.xml"] == "404"
    assert seen[f"{bucket.http}gamma/index.html"] == "404"
    assert seen[f"{bucket.http}atom.xml"] == "200"
    assert f"{bucket.http}alpha/atom.xml" not in seen  # unchanged

    with recording_server() as (url, received):
        write_story(store, "beta", 2, 8, 2)
        done = CliRunner().invoke(
            cli, args, env={"FEEDS_NOW": "2024-06-02T12:10:00Z", "FEEDS_PUBLISH_HOOK": url}
        )
    assert done.exit_code == 0, done.output
    (body,) = received
    assert f"{bucket.http}beta/atom.xml" in json.loads(body)["urls"]

    write_story(store, "beta", 2, 8, 3)
    done = CliRunner().invoke(
        cli, args, env={"FEEDS_NOW": "2024-06-02T12:15:00Z", "FEEDS_PUBLISH_HOOK": "false"}
    )
    assert done.exit_code == 0  # the files are served: a failed hook is a warning
    assert "Warning: publish_hook false failed (exit 1)" in done.output


def test_builders_on_two_machines_share_the_record_through_the_database(
    pg_url: str, bucket: Bucket, tmp_path: Path
) -> None:
    """A PostgreSQL store, two builders with their own state folders, one bucket: the
    second learns from the database what the first uploaded, and neither lists the
    bucket again nor uploads what is already there."""
    from feeds.store.postgres import PostgresStore, migrate

    db = PostgresStore(pg_url)
    migrate(db)
    db.put_site(site(bucket.http))
    db.put("s", story(body=BODY).encode())
    one = Workspace.of_database(pg_url, bucket.url, tmp_path / "machine-1")
    two = Workspace.of_database(pg_url, bucket.url, tmp_path / "machine-2")
    assert run_build(one, clock=lambda: NOW).changed
    db.put("s", story(body=BODY.replace("closed the bridge", "closed it")).encode())
    bucket.since_now()
    later = NOW + timedelta(minutes=1)
    result = run_build(two, clock=lambda: later)
    requests = bucket.requests()
    assert {r.method for r in requests} == {"PUT"}  # no listing: the record came along
    assert sorted(r.key[len(bucket.prefix) :] for r in requests) == sorted(result.written)
    assert "s/atom.xml" in result.written and "s/archive" not in " ".join(result.written)
    bucket.since_now()
    assert not run_build(one, clock=lambda: later + timedelta(minutes=1)).changed
    assert bucket.requests() == []
    # Machine 1's record (kept in its memory since its build) is machine 2's now.
    record = one.output.objects  # type: ignore[attr-defined]
    body = bucket.objects()["s/atom.xml"]
    assert record["s/atom.xml"][:2] == (hashlib.md5(body).hexdigest(), len(body))
    db.put("s", story(body=BODY.replace("closed the bridge", "closed it again")).encode())
    result = run_build(one, clock=lambda: later + timedelta(minutes=2))
    assert "s/atom.xml" in result.written  # machine 1 read the record machine 2 left
    assert b"closed it again" in bucket.objects()["s/atom.xml"]


def test_objects_are_deleted_one_by_one_where_the_service_has_no_bulk_delete(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    to_bucket(store, bucket, state)
    (store / "beta.md").unlink()
    proxy = FaultyProxy(bucket.server.endpoint, bulk_delete=False)
    try:
        bucket.since_now()
        workspace = Workspace.of(store, through(bucket, proxy), state)
        result = run_build(workspace, clock=lambda: NOW + timedelta(minutes=1))
    finally:
        proxy.close()
    assert len(result.removed) == 9
    deletes = [r for r in bucket.requests() if r.method == "DELETE"]
    assert sorted(r.key for r in deletes) == sorted(bucket.prefix + n for n in result.removed)
    assert not any(n.startswith("beta/") for n in bucket.objects())


def test_force_repairs_objects_changed_or_deleted_behind_the_builds_back(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    """The record says what feeds uploaded; --force looks at the bucket itself."""
    state = tmp_path / "state"
    to_bucket(store, bucket, state)
    good = bucket.objects()
    bucket.client.delete_object(Bucket=bucket.name, Key=bucket.prefix + "beta/atom.xml")
    bucket.client.put_object(Bucket=bucket.name, Key=bucket.prefix + "beta/rss.xml", Body=b"x")
    done = CliRunner().invoke(
        cli,
        ["check", "--data", str(store), "--state", str(state), "--out", bucket.url],
        env={"FEEDS_NOW": "2024-06-02T12:00:00Z"},
    )
    assert done.exit_code == 1
    assert f"{bucket.url.split('?')[0]}beta/atom.xml: missing" in done.output
    bucket.since_now()
    result = run_build(Workspace.of(store, bucket.url, state), clock=lambda: NOW, force=True)
    assert sorted(result.written) == ["beta/atom.xml", "beta/rss.xml"]
    assert [r.method for r in bucket.requests()] == ["GET", "PUT", "PUT"]  # a listing first
    assert bucket.objects() == good


def test_a_new_cache_policy_reaches_every_object(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    to_bucket(store, bucket, state)
    count = len(bucket.objects())
    toml = store / "site.toml"
    toml.write_text(toml.read_text().replace("archive_max_age = 3600", "cache_max_age = 30"))
    bucket.since_now()
    result = to_bucket(store, bucket, state, NOW + timedelta(minutes=1))
    assert len(result.written) == count  # the same bytes, new headers
    assert bucket.head("beta/atom.xml")["CacheControl"] == "max-age=30"
    assert bucket.head("beta/archive-1-atom.xml")["CacheControl"] == "max-age=86400"
    bucket.since_now()
    assert not to_bucket(store, bucket, state, NOW + timedelta(minutes=2)).changed
    assert bucket.requests() == []


def test_a_lost_record_is_made_once_and_kept(store: Path, bucket: Bucket, tmp_path: Path) -> None:
    state = tmp_path / "state"
    to_bucket(store, bucket, state)
    (state / OBJECTS_FILE).unlink()
    bucket.since_now()
    assert not to_bucket(store, bucket, state, NOW + timedelta(minutes=1)).changed
    assert [r.method for r in bucket.requests()] == ["GET"]
    assert (state / OBJECTS_FILE).exists()
    bucket.since_now()
    assert not to_bucket(store, bucket, state, NOW + timedelta(minutes=2)).changed
    assert bucket.requests() == []


def test_a_long_lived_process_reads_the_record_another_build_left(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    """A worker (one Workspace, many builds) made its record by listing; another process
    then removed a story's objects; the story comes back: the worker uploads it."""
    state = tmp_path / "state"
    to_bucket(store, bucket, state)
    (state / OBJECTS_FILE).unlink()
    worker = Workspace.of(store, bucket.url, state)
    assert not run_build(worker, clock=lambda: NOW).changed  # lists the bucket
    text = (store / "gamma.md").read_text()
    (store / "gamma.md").unlink()
    assert "gamma/atom.xml" in to_bucket(store, bucket, state, NOW).removed  # elsewhere
    (store / "gamma.md").write_text(text)
    result = run_build(worker, clock=lambda: NOW + timedelta(minutes=1))
    assert "gamma/atom.xml" in result.written
    assert "gamma/atom.xml" in bucket.objects()


def test_what_a_failed_build_put_in_place_is_announced_by_the_next(
    store: Path, bucket: Bucket, tmp_path: Path
) -> None:
    import shlex
    import sys

    state = tmp_path / "state"
    to_bucket(store, bucket, state)
    log = tmp_path / "hook.log"
    hook = shlex.join(
        [sys.executable, "-c", f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read())"]
    )
    write_story(store, "gamma", 3, 2, 1)
    proxy = FaultyProxy(bucket.server.endpoint, refuse=r"/index\.html$")  # the last batches
    try:
        failing = Workspace.of(store, through(bucket, proxy), state, hook=hook)
        with pytest.raises(PublishError):
            run_build(failing, clock=lambda: NOW + timedelta(minutes=1))
    finally:
        proxy.close()
    assert not log.exists()  # nothing announced while the build failed
    assert b"version 1" in bucket.objects()["gamma/atom.xml"]  # though the feed is up
    repair = Workspace.of(store, bucket.url, state, hook=hook)
    result = run_build(repair, clock=lambda: NOW + timedelta(minutes=1))
    assert "gamma/atom.xml" not in result.written  # uploaded by the failed build
    announced = log.read_text().split()
    assert f"{bucket.http}gamma/atom.xml" in announced
    assert f"{bucket.http}gamma/" in announced
    log.unlink()
    write_story(store, "alpha", 1, 3)
    run_build(repair, clock=lambda: NOW + timedelta(minutes=3))
    assert f"{bucket.http}gamma/atom.xml" not in log.read_text().split()  # announced once


def test_the_record_follows_the_endpoint_from_the_environment(
    store: Path, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bucket name on another service is another bucket."""
    state = tmp_path / "state"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", bucket.server.endpoint)
    target = f"s3://{bucket.name}/{bucket.prefix}"
    run_build(Workspace.of(store, target, state), clock=lambda: NOW)
    proxy = FaultyProxy(bucket.server.endpoint)  # another address for the same server
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
        bucket.since_now()
        run_build(Workspace.of(store, target, state), clock=lambda: NOW, force=False)
    finally:
        proxy.close()
    assert [r.method for r in bucket.requests()] == ["GET"]  # listed, not trusted


@pytest.mark.parametrize("target", ["s3:news-feeds", "s3:/news-feeds/x/", "s3://news-feeds//x/"])
def test_mistyped_bucket_urls_are_refused(target: str, store: Path, tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["build", "--data", str(store), "--out", target])
    assert done.exit_code == 1, done.output
    assert "not a bucket URL" in done.output or "plain folder names" in done.output
    assert not (tmp_path / "s3:news-feeds").exists()
