"""Serving ``out/`` over HTTP the way feed pollers expect.

Built on aiohttp (its HTTP parser and server; this module only decides what
to answer):

* every file has a strong ``ETag`` (a digest of its bytes, so a rebuild that
  rewrites identical bytes keeps it) and a ``Last-Modified``; ``If-None-Match``
  and ``If-Modified-Since`` are answered with 304 (RFC 9110 13.1.1-13.1.3:
  If-None-Match wins when both are sent);
* gzip when the client accepts it, as its own representation with its own
  ETag, and ``Vary: Accept-Encoding`` on everything compressible;
* feed media types with ``charset=utf-8``, ``Cache-Control: max-age``;
* ``index.html`` for folders, 404 for everything else, including any path that
  would leave ``out/`` (``..``, encoded dots, symbolic links pointing outside)
  and hidden files (a build's temporary files are hidden).

Files are read on first request and kept in memory until their size, mtime or
inode change; since builds replace files atomically, a response is always a
whole old file or a whole new one.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from .errors import FeedsError, ServeError
from .publish import media_type
from .render.formats import FORMATS, format_for
from .render.preview import FILENAME as PREVIEW
from .store import Store

log = logging.getLogger("feeds.serve")

# Common Log Format (host ident authuser [date] "request" status bytes).
ACCESS_LOG_FORMAT = '%a - - %t "%r" %s %b'

COMPRESSIBLE = (
    "text/",
    *(f.essence for f in FORMATS),
    "application/xml",
    "application/json",
    "image/svg+xml",
)
MIN_GZIP_BYTES = 256


@dataclass(frozen=True)
class Representation:
    body: bytes
    etag: str


@dataclass(frozen=True)
class CachedFile:
    key: tuple[int, int, int]  # inode, size, mtime_ns: changes when a build replaces it
    content_type: str
    mtime: float
    identity: Representation
    gzipped: Representation | None


def _load(path: Path, st: os.stat_result) -> CachedFile:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:24]
    kind = media_type(path.name)
    gzipped = None
    if kind.startswith(COMPRESSIBLE) and len(body) >= MIN_GZIP_BYTES:
        # mtime=0: the same bytes always compress to the same bytes.
        gzipped = Representation(gzip.compress(body, compresslevel=6, mtime=0), f'"{digest}-gz"')
    return CachedFile(
        key=(st.st_ino, st.st_size, st.st_mtime_ns),
        content_type=kind,
        mtime=st.st_mtime,
        identity=Representation(body, f'"{digest}"'),
        gzipped=gzipped,
    )


def resolve(root: Path, url_path: str) -> Path | None:
    """The file or folder of ``root`` that ``url_path`` names, or None (404).

    ``url_path`` is already percent-decoded, so ``%2e%2e`` arrives as ``..``.
    """
    if "\x00" in url_path or "\\" in url_path:
        return None
    parts = [p for p in url_path.split("/") if p]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    try:
        real = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if real != root and root not in real.parents:
        return None  # a symbolic link leading out of out/
    if any(p.startswith(".") for p in real.relative_to(root).parts):
        return None  # a visible link to a hidden file (a build's temporary file)
    return real


def _one_line_for_bad_requests(record: logging.LogRecord) -> bool:
    """A malformed request is the client's fault: one line in the log, not a traceback."""
    from aiohttp.http_exceptions import HttpProcessingError

    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, HttpProcessingError):
        why = (exc.message or "").strip().splitlines()
        record.msg = f"{record.getMessage()}: {exc.code} {why[0] if why else 'bad request'}"
        record.args, record.exc_info, record.exc_text = (), None, None
    return True


def _weights(header: str) -> list[tuple[str, float]]:
    """An Accept-style header's items with their q-values, lower case (RFC 9110
    12.4.2; a bad q-value counts as 0)."""
    out = []
    for part in header.split(","):
        item, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        out.append((item.lower(), q))
    return out


def _accepts_gzip(header: str) -> bool:
    """Does Accept-Encoding allow gzip? (RFC 9110 12.5.3)"""
    weights = dict(_weights(header))
    chosen = weights.get("gzip", weights.get("*"))
    return chosen is not None and chosen > 0


def _is_browser(accept: str) -> bool:
    """A browser asks for text/html before XML; feed readers ask for feed types or
    anything (``*/*``), and rank text/html, if at all, below them."""
    html_q = xml_q = None
    for kind, q in _weights(accept):
        if kind == "text/html":
            html_q = q
        elif kind.endswith(("+xml", "/xml", "/json", "+json")):
            xml_q = max(q, xml_q or 0.0)
    return html_q is not None and html_q > 0 and html_q >= (xml_q or 0.0)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # Weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter here.
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


class FeedServer:
    def __init__(self, root: Path, max_age: int) -> None:
        self.root = root.resolve()
        self.max_age = max_age
        self.cache: dict[Path, CachedFile] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)  # HEAD is answered too
        return app

    def _file(self, path: Path) -> CachedFile | None:
        try:
            st = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        cached = self.cache.get(path)
        if cached is None or cached.key != (st.st_ino, st.st_size, st.st_mtime_ns):
            try:
                cached = _load(path, st)
            except OSError:
                return None
            self.cache[path] = cached
        return cached

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = resolve(self.root, request.path)
        if path is not None and path.is_dir():
            if not request.path.endswith("/"):
                # So that the page's relative links resolve inside the folder. Built from
                # the path's parts: "//host" must never become an off-site Location.
                parts = [p for p in request.path.split("/") if p]
                target = "/" + "/".join(quote(p) for p in parts) + "/"
                if request.query_string:
                    target += "?" + request.query_string
                raise web.HTTPMovedPermanently(target)
            path = path / "index.html"
        elif path is not None and request.path.endswith("/"):
            path = None  # a file named like a folder: /rss.xml/
        cached = self._file(path) if path else None
        if cached is None:
            raise web.HTTPNotFound(text="404: not found\n")
        negotiated = path is not None and format_for(path.name) is not None
        if negotiated and _is_browser(request.headers.get("Accept", "")):
            # A person who clicks a feed link gets the page about the feed, rendered
            # at build time; feed readers get the feed (same URL, Vary: Accept).
            assert path is not None
            preview = self._file(path.parent / PREVIEW)
            if preview is not None:
                cached = preview
        rep = cached.identity
        if cached.gzipped and _accepts_gzip(request.headers.get("Accept-Encoding", "")):
            rep = cached.gzipped
        content_type, etag, vary = cached.content_type, rep.etag, []
        if cached.gzipped:
            vary.append("Accept-Encoding")
        if negotiated:
            vary.append("Accept")
        headers = {
            "ETag": etag,
            "Last-Modified": formatdate(cached.mtime, usegmt=True),
            "Cache-Control": f"max-age={self.max_age}",
        }
        if vary:
            headers["Vary"] = ", ".join(vary)
        if self._not_modified(request, etag, cached):
            return web.Response(status=304, headers=headers)
        if rep is cached.gzipped:
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = content_type
        return web.Response(body=rep.body, headers=headers)

    @staticmethod
    def _not_modified(request: web.Request, etag: str, cached: CachedFile) -> bool:
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            return _etag_matches(if_none_match, etag)
        since = request.headers.get("If-Modified-Since")
        if since:
            try:
                parsed = parsedate_to_datetime(since)
                if parsed.tzinfo is None:  # "-0000" (RFC 5322: UTC, source unknown)
                    parsed = parsed.replace(tzinfo=UTC)
                when = parsed.timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
            return int(cached.mtime) <= when
        return False


async def watch(
    store: Store, rebuild: Callable[[], None], interval: float = 0.5, settle: float = 0.3
) -> None:
    """Call ``rebuild`` (in a thread) after the store's versions change and settle."""
    loop = asyncio.get_running_loop()
    seen = _fingerprint(store)
    while True:
        await asyncio.sleep(interval)
        now = _fingerprint(store)
        if now == seen:
            continue
        # Debounce: an editor saving, or several `feeds add`, come in bursts.
        while True:
            await asyncio.sleep(settle)
            settled = _fingerprint(store)
            if settled == now:
                break
            now = settled
        seen = now
        try:
            await loop.run_in_executor(None, rebuild)
        except Exception:  # a bug in a build must not take the server down
            log.exception("rebuild failed")


def _fingerprint(store: Store) -> tuple[object, ...]:
    """The store's versions: cheap, and changed by any change to a story or the settings."""
    try:
        listing = store.scan()
    except OSError:
        return ()
    except FeedsError as exc:  # a database that is down: watch on, rebuild when it is back
        return ("unavailable", str(exc))
    return (listing.site, tuple(listing.stories.items()), listing.problems)


def watch_and_build(store: Store, rebuild: Callable[[], None]) -> Callable[[web.Application], None]:
    """An app hook that runs :func:`watch` on ``store`` while the server runs."""

    def install(app: web.Application) -> None:
        async def start(app: web.Application) -> None:
            app[WATCHER] = asyncio.create_task(watch(store, rebuild))

        async def stop(app: web.Application) -> None:
            app[WATCHER].cancel()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)

    return install


WATCHER = web.AppKey("watcher", asyncio.Task)


def run(
    out_dir: Path,
    host: str,
    port: int,
    max_age: int,
    on_start: Callable[[web.Application], None] | None = None,
    print_fn: Callable[[str], None] = print,
) -> None:
    """Serve until SIGINT or SIGTERM, then close connections and return."""
    server = FeedServer(out_dir, max_age)
    app = server.app()
    if on_start:
        on_start(app)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("aiohttp.server").addFilter(_one_line_for_bad_requests)
    try:
        _run_app(app, host, port, print_fn, out_dir)
    except OSError as exc:
        raise ServeError(
            f"cannot listen on {host}:{port} ({exc.strerror}); try another --port"
        ) from exc


def _run_app(
    app: web.Application, host: str, port: int, print_fn: Callable[[str], None], out_dir: Path
) -> None:
    web.run_app(
        app,
        host=host,
        port=port,
        access_log_format=ACCESS_LOG_FORMAT,
        print=lambda _: print_fn(f"serving {out_dir} on http://{host}:{port}/ (Ctrl-C stops)"),
        handle_signals=True,
    )
