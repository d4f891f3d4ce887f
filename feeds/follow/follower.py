"""One follower: cycles of polling the pages that are due, importing, retracting, building.

Fetching runs one thread per host (so one request at a time per host, ``gap``
seconds apart); importing, retracting and building stay in the calling thread,
one page at a time, in the order of sources.toml.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import FeedsError, display_path
from ..timeutil import Clock, rfc3339, system_clock
from .robots import Robots
from .sources import FollowSource, host_of, load_sources
from .state import STATE_FILE, FollowState, HostState, SourceState

if TYPE_CHECKING:
    from ..build import BuildResult
    from ..importer import ImportResult
    from ..importer.fetch import Response
    from ..importer.resolve import Found
    from ..model import Update
    from ..settings import Workspace

DEFAULT_GAP = 5.0  # seconds between two requests to one host
MAX_CRAWL_DELAY = 60.0  # the most of a robots.txt Crawl-delay we honour
MAX_BACKOFF = 6 * 3600.0
MAX_RETRY_AFTER = 86_400.0
ROBOTS_TTL = timedelta(days=1)  # RFC 9309 2.4: a cached copy SHOULD NOT be used longer
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 2.5: at least 500 KiB MUST be parsed
MISSING_POLLS = 2  # successive polls an update is missing before it is retracted
RETRACT_NOTE = "Removed from the source page"
MAX_HOSTS_AT_ONCE = 8
PRODUCT = "feeds"  # the robots.txt User-agent token we answer to


def user_agent(contact: str) -> str:
    """``feeds/0.2.0 (live-blog follower; +https://...)``: who polls, and how to reach them."""
    url = contact.lower().startswith(("http://", "https://"))
    return f"{PRODUCT}/{__version__} (live-blog follower; {'+' if url else ''}{contact})"


class _Stopped(Exception):
    """The follower was told to stop before this request."""


@dataclass
class Poll:
    """What fetching one page came to."""

    source: FollowSource
    response: Response | None = None  # None: it failed before an answer
    error: str = ""
    retry_after: float | None = None


@dataclass
class Cycle:
    """What a cycle did: one line per change and per failed page, and the build."""

    now: datetime
    polled: int = 0
    changes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    build: BuildResult | None = None
    build_error: FeedsError | None = None
    next_due: datetime | None = None


class Follower:
    def __init__(
        self,
        ws: Workspace,
        sources: tuple[FollowSource, ...],
        state: FollowState,
        *,
        contact: str,
        allow_hosts: tuple[str, ...] = (),
        gap: float = DEFAULT_GAP,
        clock: Clock = system_clock,
        sources_path: Path | None = None,  # read again by run() when it changes
        interval: float | None = None,
    ) -> None:
        self.ws = ws
        self.sources = sources
        self.state = state
        self.user_agent = user_agent(contact)
        self.allow_hosts = allow_hosts
        self.gap = gap
        self.clock = clock
        self.stop = threading.Event()
        self._last_request: dict[str, float] = {}  # host -> time.monotonic() it ended
        self.sources_path = sources_path
        self.interval = interval

    @property
    def state_path(self) -> Path:
        return self.ws.state / STATE_FILE

    def save(self) -> None:
        from ..publish.files import write_if_changed

        write_if_changed(self.state_path, self.state.to_json())

    def due_at(self, source: FollowSource) -> datetime | None:
        """When ``source`` is next polled; None: now (never polled, or its story changed)."""
        s = self.state.sources.get(source.url)
        if s is None or s.story != source.story or s.last_poll is None:
            return None
        if s.failures:
            return s.next_poll
        return s.last_poll + timedelta(seconds=source.every)  # a new `every` counts at once

    def cycle(self) -> Cycle:
        """Poll every page that is due, import, retract, build."""
        now = self.clock()
        due = [s for s in self.sources if (at := self.due_at(s)) is None or at <= now]
        stories = self.ws.store.scan().stories
        for source in due:
            s = self.state.sources.get(source.url)
            if s is not None and source.story not in stories:  # gone, or a new store:
                s.etag = s.last_modified = None  # fetch the page whole,
                s.anchors.clear()  # and what is missing from it is nothing we know of
        done = Cycle(now)
        for poll in self._fetch_all(due, now):
            done.polled += 1
            self._take(poll, now, done)
            self.save()
        if done.changes or self.state.build_pending:
            self.state.build_pending = True
            self.save()
            from ..build import run_build

            try:
                done.build = run_build(self.ws, clock=self.clock)
                self.state.build_pending = False
            except FeedsError as exc:
                done.build_error = exc
            self.save()
        self._forget_unlisted()
        times = [self.due_at(s) or now for s in self.sources]
        done.next_due = min(times, default=None)
        return done

    def _forget_unlisted(self) -> None:
        listed = {s.url for s in self.sources}
        origins = {s.origin for s in self.sources}
        for url in set(self.state.sources) - listed:
            del self.state.sources[url]
        for origin in set(self.state.hosts) - origins:
            del self.state.hosts[origin]

    # --- fetching (one thread per host) ------------------------------------------

    def _fetch_all(self, due: list[FollowSource], now: datetime) -> list[Poll]:
        by_host: dict[str, list[FollowSource]] = {}
        for source in due:
            by_host.setdefault(host_of(source.url), []).append(source)
        if not by_host:
            return []
        with ThreadPoolExecutor(min(MAX_HOSTS_AT_ONCE, len(by_host))) as pool:
            runs = [pool.submit(self._poll_host, pages, now) for pages in by_host.values()]
            polls = [poll for run in runs for poll in run.result()]
        order = {s.url: i for i, s in enumerate(self.sources)}
        return sorted(polls, key=lambda p: order[p.source.url])

    def _poll_host(self, pages: list[FollowSource], now: datetime) -> list[Poll]:
        polls = []
        for source in pages:
            try:
                polls.append(self._poll(source, now))
            except _Stopped:  # what has not started waits for the next run
                break
            except FeedsError as exc:
                polls.append(Poll(source, error=_one_line(str(exc), source.url)))
            except Exception as exc:  # a bug must not stop the other pages: say so, go on
                polls.append(Poll(source, error=f"{source.url}: internal error (a bug): {exc!r}"))
        return polls

    def _poll(self, source: FollowSource, now: datetime) -> Poll:
        rules = self._robots(source.origin, now)
        if not rules.allowed(source.url):
            return Poll(source, error=f"{source.url}: robots.txt does not allow feeds to fetch it; "
                        "not fetched (ask the site, or remove it from sources.toml)")  # fmt: skip
        self._wait_turn(source.url, min(max(rules.delay or 0.0, 0.0), MAX_CRAWL_DELAY))
        s = self.state.sources.get(source.url)
        headers = {}
        if s is not None and s.story == source.story:
            headers = {"If-None-Match": s.etag or "", "If-Modified-Since": s.last_modified or ""}
        response = self._get(source.url, {k: v for k, v in headers.items() if v})
        if response.status == 304 or 200 <= response.status < 300:
            return Poll(source, response)
        retry = None
        if response.status in (429, 503):  # RFC 9110 10.2.3
            retry = retry_after(response.header("Retry-After"), now)
        return Poll(
            source, response, f"{source.url}: the server answered HTTP {response.status}", retry
        )

    def _get(self, url: str, headers: dict[str, str], max_bytes: int | None = None) -> Response:
        from ..importer.fetch import MAX_BYTES, fetch

        try:
            return fetch(
                url,
                headers=headers,
                user_agent=self.user_agent,
                allow_hosts=self.allow_hosts,
                max_bytes=max_bytes or MAX_BYTES,
            )
        finally:
            self._last_request[host_of(url)] = time.monotonic()

    def _wait_turn(self, url: str, delay: float = 0.0) -> None:
        """Wait until the host of ``url`` may be asked again (_Stopped if told to stop
        meanwhile)."""
        last = self._last_request.get(host_of(url))
        left = 0.0 if last is None else last + max(self.gap, delay) - time.monotonic()
        if self.stop.wait(left) if left > 0 else self.stop.is_set():
            raise _Stopped

    def _robots(self, origin: str, now: datetime) -> Robots:
        """The rules of ``origin`` for us (FeedsError when nothing may be fetched)."""
        from ..errors import ImportProblem

        kept = self.state.hosts.get(origin)
        if kept is None or not kept.fetched <= now < kept.fetched + ROBOTS_TTL:
            robots = f"{origin}/robots.txt"
            self._wait_turn(robots)
            try:
                got = self._get(robots, {"Accept": "text/plain"}, ROBOTS_MAX_BYTES)
                why = f"HTTP {got.status}"
            except ImportProblem as exc:
                got, why = None, str(exc).removeprefix(f"{robots}: ")
            if got is not None and 200 <= got.status < 300:
                kept = HostState(got.body.decode("utf-8", "replace"), now)
            elif got is not None and 400 <= got.status < 500 and got.status != 429:
                kept = HostState(None, now)  # RFC 9309 2.3.1.3: unavailable, no rules
            elif kept is None:  # RFC 9309 2.3.1.4: unreachable, nothing may be fetched
                raise FeedsError(
                    f"{robots} cannot be read ({why}), and until it can, robots.txt rules "
                    "(RFC 9309) allow nothing to be fetched from the site"
                )
            # else unreachable, but the copy kept from before still applies
            self.state.hosts[origin] = kept
        return Robots.parse(kept.robots or "", PRODUCT)

    # --- importing (in the calling thread) -------------------------------------------

    def _take(self, poll: Poll, now: datetime, done: Cycle) -> None:
        source = poll.source
        s = self.state.sources.get(source.url)
        if s is None or s.story != source.story:  # new, or now growing another story
            s = self.state.sources[source.url] = SourceState(story=source.story)
        if poll.response is not None and not poll.error:
            try:
                if poll.response.status != 304:
                    done.changes += self._import(source, s, poll.response, now)
                    s.etag = poll.response.header("ETag")
                    s.last_modified = poll.response.header("Last-Modified")
                else:
                    s.etag = poll.response.header("ETag") or s.etag
            except FeedsError as exc:
                poll.error = _one_line(str(exc), source.url)
            except Exception as exc:  # a bug must not stop the other pages: say so, go on
                poll.error = f"{source.url}: internal error (a bug) while importing: {exc!r}"
        s.last_poll = now
        if not poll.error:
            s.failures, s.last_error = 0, ""
            s.next_poll = now + timedelta(seconds=source.every)
            return
        s.failures += 1
        s.last_error = poll.error
        wait = min(source.every * 2 ** min(s.failures, 30), MAX_BACKOFF)
        if poll.retry_after is not None:
            wait = max(wait, min(poll.retry_after, MAX_RETRY_AFTER))
        s.next_poll = now + timedelta(seconds=wait)
        times = "1 failure" if s.failures == 1 else f"{s.failures} failures in a row"
        done.failures.append(f"{poll.error}; next attempt {rfc3339(s.next_poll)} ({times})")

    def _import(
        self, source: FollowSource, s: SourceState, response: Response, now: datetime
    ) -> list[str]:
        from ..importer import import_source

        page = response.source()
        result = import_source(
            page,
            self.ws,
            source.story,
            timezone=source.timezone,
            page_date=source.date,
            update=True,  # edits on the page reach the story
            now=now,
        )
        lines = [f"{source.story}: {line}" for line in result.done]
        return lines + self._retract_vanished(source, s, result, now)

    def _retract_vanished(
        self, source: FollowSource, s: SourceState, result: ImportResult, now: datetime
    ) -> list[str]:
        """Count the polls each update seen on this page has been missing from it, and
        retract it at the second. Only updates seen on the page are counted (never one a
        reporter added), and only those no older than the page's oldest update: one older
        than all of them has scrolled off to an older page, it was not taken down."""
        from ..authoring import retract_update

        on_page = anchors_on_page(result)
        story = {u.anchor: u for u in result.story.updates}
        oldest = min((_utc(f) for f in result.reading.updates), default=None)
        if oldest is None:
            return []
        for anchor in on_page:
            s.anchors[anchor] = 0
        lines = []
        for anchor, missing in sorted(s.anchors.items()):
            update = story.get(anchor)
            if anchor in on_page:
                continue
            if update is None or update.retracted:  # deleted or retracted by hand
                del s.anchors[anchor]
            elif update.published.astimezone(UTC) >= oldest:
                s.anchors[anchor] = missing + 1
                if missing + 1 >= MISSING_POLLS:
                    retract_update(self.ws, source.story, anchor, note=RETRACT_NOTE, now=now)
                    del s.anchors[anchor]
                    lines.append(f"{source.story}: retracted {anchor} (gone from the page)")
        return lines

    # --- running -------------------------------------------------------------------------

    def run(self, report: Callable[[Cycle], None], log: Callable[[str], None]) -> None:
        """Cycles until stopped, each after sleeping until the next page is due (a minute at
        most, so that edits of sources.toml are taken up)."""
        stamp = self._sources_stamp()
        while not self.stop.is_set():
            if (now := self._sources_stamp()) != stamp:
                stamp = now
                self._reread(log)
            try:
                done = self.cycle()
            except (FeedsError, OSError) as exc:  # the state cannot be written, say
                log(f"error: {exc}")
                self.stop.wait(60.0)
                continue
            report(done)
            left = (done.next_due - self.clock()).total_seconds() if done.next_due else 60.0
            self.stop.wait(min(max(left, 1.0), 60.0))

    def _sources_stamp(self) -> tuple[int, int] | None:
        if self.sources_path is not None:
            with contextlib.suppress(OSError):
                st = self.sources_path.stat()
                return (st.st_mtime_ns, st.st_size)
        return None

    def _reread(self, log: Callable[[str], None]) -> None:
        """sources.toml again; a mistake in it is logged and the pages listed before are
        followed meanwhile."""
        assert self.sources_path is not None
        try:
            self.sources = load_sources(self.sources_path, interval=self.interval)
        except FeedsError as exc:
            log(f"error: {exc}\nstill following the pages listed before")
        else:
            log(f"{display_path(self.sources_path)}: read again, {len(self.sources)} pages")

    @contextmanager
    def stopping_on_signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT end the run after the cycle in progress (the fetches not
        started yet wait for the next run); the old handlers come back afterwards."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        for sig in old:
            signal.signal(sig, lambda signum, frame: self.stop.set())
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)


def anchors_on_page(result: ImportResult) -> set[str]:
    """The anchors, in the story, of the updates found on the page (as the importer
    matched them: by anchor, else by time and text)."""
    story = result.story.updates
    anchors = {u.anchor for u in story}
    changed = {id(found): anchor for found, anchor in result.plan.changed}
    seen = set()
    for found in result.reading.updates:
        anchor = changed.get(id(found)) or result.plan.anchors[id(found)]
        if anchor not in anchors:
            anchor = next((u.anchor for u in story if _same(u, found)), anchor)
        seen.add(anchor)
    return seen


def _utc(found: Found) -> datetime:
    assert found.when is not None  # every update the importer returns has its time
    return found.when.astimezone(UTC)


def _same(update: Update, found: Found) -> bool:
    """The importer's test (feeds.importer.merge): the same instant, the same words."""

    def words(text: str) -> str:
        return " ".join(re.sub(r"\\(.)", r"\1", text).split())

    return update.published.astimezone(UTC) == _utc(found) and words(update.text) == words(
        found.text
    )


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` asks to wait (RFC 9110 10.2.3: seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _one_line(message: str, url: str) -> str:
    """A page's error as one line that names the page."""
    message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    return message if message.startswith(url) else f"{url}: {message}"
