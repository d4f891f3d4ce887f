"""Getting a page: a file, standard input ("-"), or an http(s) URL.

A URL is fetched only from public addresses: each connection (the first and
every redirect's) resolves the host, checks every address it would connect to
against loopback, private, link-local, shared and reserved ranges, and
connects to the address it checked, so a name that resolves differently a
moment later (DNS rebinding) gains nothing. Hosts named in the site's
``import_allow_hosts`` (a name as written in the URL, or an address) are let
through. Redirects go to http(s) only. No proxy from the environment is used
(it would hide the address). The whole fetch has a deadline, not only each
read, and the body is capped by the bytes actually read; a follower
(:func:`fetch`) asks for gzip and the cap holds for the decompressed bytes too,
so a small compressed bomb stops at the same size as a large page.
"""

from __future__ import annotations

import codecs
import http.client
import ipaddress
import re
import socket
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ImportProblem

USER_AGENT = f"feeds/{version('feeds')} (live-blog importer; +https://pypi.org/project/feeds/)"
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 20.0  # seconds, for connecting and for each read
DEADLINE = 60.0  # seconds, for the whole fetch


@dataclass(frozen=True)
class Source:
    text: str
    is_html: bool | None  # None: look at the text
    url: str | None  # where it came from, if it was a URL


def read_source(
    source: str,
    *,
    timeout: float = TIMEOUT,
    max_bytes: int = MAX_BYTES,
    allow_hosts: tuple[str, ...] = (),
    deadline: float = DEADLINE,
) -> Source:
    if source == "-":
        raw = sys.stdin.buffer.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise ImportProblem(f"standard input: more than {max_bytes:,} bytes")
        return Source(_decode(raw, None, "standard input"), None, None)
    if source.startswith(("http://", "https://")):
        return _fetch(source, timeout, max_bytes, allow_hosts, deadline)
    path = Path(source)
    from ..store.files import NotRegularFile, read_regular

    try:
        raw = read_regular(path, max_bytes)[1]
    except NotRegularFile:
        raise ImportProblem(f"{source}: not a regular file (a device or a pipe)") from None
    except OSError as exc:
        raise ImportProblem(f"{source}: cannot read it ({exc.strerror})") from exc
    if len(raw) > max_bytes:
        raise ImportProblem(f"{source}: {len(raw):,} bytes is more than {max_bytes:,}")
    is_html = True if path.suffix.lower() in (".html", ".htm") else None
    return Source(_decode(raw, None, source), is_html, None)


def _fetch(
    url: str, timeout: float, max_bytes: int, allow_hosts: tuple[str, ...], deadline: float
) -> Source:
    got = fetch(
        url,
        timeout=timeout,
        max_bytes=max_bytes,
        allow_hosts=allow_hosts,
        deadline=deadline,
        accept_gzip=False,
    )
    if not 200 <= got.status < 300:
        raise ImportProblem(f"{url}: the server answered HTTP {got.status}")
    return got.source()


@dataclass(frozen=True)
class Response:
    """An HTTP answer: its status, headers (lower-case names) and body (decompressed;
    read for 2xx answers only)."""

    url: str  # the URL asked for (redirects were followed from it)
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def source(self) -> Source:
        """The body as a page to import."""
        from email.message import Message

        parsed = Message()  # what http.client's headers are: the same parsing
        parsed["Content-Type"] = self.header("Content-Type") or "text/plain"
        kind, charset = parsed.get_content_type(), parsed.get_content_charset()
        is_html = True if kind in ("text/html", "application/xhtml+xml") else None
        return Source(_decode(self.body, charset, self.url), is_html, self.url)


def fetch(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    user_agent: str = USER_AGENT,
    timeout: float = TIMEOUT,
    max_bytes: int = MAX_BYTES,
    allow_hosts: tuple[str, ...] = (),
    deadline: float = DEADLINE,
    accept_gzip: bool = True,
) -> Response:
    """GET ``url`` with every guard of :func:`read_source`, and ``headers`` added
    (``If-None-Match``, ``If-Modified-Since``...). Every HTTP status is returned,
    304 and 5xx alike, with the headers (``Retry-After``, ``ETag``); a page that
    cannot be fetched at all (refused address, timeout, deadline, too large) is an
    ImportProblem."""
    ends = time.monotonic() + deadline
    allow = frozenset(h.lower().strip("[]") for h in allow_hosts)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _GuardedHTTPHandler(allow),
        _GuardedHTTPSHandler(allow),
        _HttpRedirects(),
    )
    sent = {"User-Agent": user_agent, "Accept": "text/html, text/plain;q=0.9, */*;q=0.5"}
    sent |= {"Accept-Encoding": "gzip"} if accept_gzip else {}
    sent |= dict(headers or {})
    try:
        request = urllib.request.Request(url, headers=sent)
        with opener.open(request, timeout=min(timeout, deadline)) as response:
            got = {k.lower(): v for k, v in response.headers.items()}
            coding = got.get("content-encoding", "identity").strip().lower()
            if coding not in ("identity", "gzip", "x-gzip"):
                raise ImportProblem(
                    f"{url}: the server sent the page {coding}-encoded, which feeds does not read"
                )
            gzipped = coding != "identity"
            body = _read_body(response, max_bytes, ends, url, deadline, gzipped)
            return Response(url, response.status, got, body)
    except urllib.error.HTTPError as exc:
        exc.close()
        location = exc.headers.get("Location") if 300 <= exc.code < 400 else None
        if location and urlsplit(location).scheme.lower() not in ("http", "https"):
            raise ImportProblem(  # urllib's own refusal: a redirect to file:, data: and the like
                f"{url}: redirected to {location}, which is not http(s); not followed"
            ) from exc
        if location:
            raise ImportProblem(f"{url}: too many redirects (the last to {location})") from exc
        return Response(url, exc.code, {k.lower(): v for k, v in exc.headers.items()})
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ImportProblem):
            raise reason from None
        raise ImportProblem(f"{url}: cannot fetch it ({reason}; timeout {timeout:g}s)") from exc
    except ValueError as exc:  # urllib's own parse: "Invalid IPv6 URL", a bad port
        raise ImportProblem(f"{url}: not a valid URL ({exc})") from exc
    except http.client.HTTPException as exc:  # a status line or headers that are not HTTP
        raise ImportProblem(f"{url}: the server's answer is not valid HTTP ({exc!r})") from exc


def _read_body(
    response: Any, max_bytes: int, ends: float, url: str, deadline: float, gzipped: bool = False
) -> bytes:
    """The body, a little at a time, until the cap or the deadline: a server that sends
    one byte a second cannot hold an import for longer than the deadline. Gzip is
    decompressed as it arrives and the cap counts the decompressed bytes."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    chunks: list[bytes] = []
    size = received = 0
    while size <= max_bytes and received <= max_bytes:
        if time.monotonic() > ends:
            raise ImportProblem(
                f"{url}: the page took longer than {deadline:g} s to arrive; try again later"
            )
        chunk = response.read1(65536)
        if not chunk:
            break
        received += len(chunk)
        if inflate is not None:
            try:  # at most one byte past the cap: enough to know it is too large
                chunk = inflate.decompress(chunk, max_bytes + 1 - size)
            except zlib.error as exc:
                raise ImportProblem(f"{url}: the gzip data of the page is damaged") from exc
        chunks.append(chunk)
        size += len(chunk)
    if size > max_bytes or received > max_bytes:
        raise ImportProblem(f"{url}: the page is larger than {max_bytes:,} bytes")
    if inflate is not None and not inflate.eof:
        raise ImportProblem(f"{url}: the gzip data of the page is cut short")
    return b"".join(chunks)


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _connect(host: str, port: int, timeout: float | None, allow: frozenset[str]) -> socket.socket:
    """A connection to ``host``, only to an address a page may come from."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ImportProblem(f"{host}: cannot resolve it ({exc.strerror or exc})") from None
    named = host.lower().strip("[]") in allow
    refused = None
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
        if not (named or str(ip) in allow or _public(ip)):
            refused = ip
            continue
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    if last is not None:
        raise last
    what = host if host.strip("[]") == str(refused) else f"{host} ({refused})"
    raise ImportProblem(
        f"{what} is not a public address: feeds imports only from public addresses; to "
        f'allow it, add import_allow_hosts = "{host}" to site.toml'
    )


class _GuardedHTTPConnection(http.client.HTTPConnection):
    allow: frozenset[str] = frozenset()

    def connect(self) -> None:
        self.sock = _connect(self.host, self.port, self.timeout, self.allow)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    allow: frozenset[str] = frozenset()

    def connect(self) -> None:
        sock = _connect(self.host, self.port, self.timeout, self.allow)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow: frozenset[str]) -> None:
        super().__init__()
        self.connection: Any = type("Connection", (_GuardedHTTPConnection,), {"allow": allow})

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.connection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow: frozenset[str]) -> None:
        super().__init__()
        self.connection: Any = type("Connection", (_GuardedHTTPSConnection,), {"allow": allow})

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.connection, req)


class _HttpRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        scheme = urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise ImportProblem(
                f"{req.full_url}: redirected to {newurl}, which is not http(s); not followed"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _decode(raw: bytes, charset: str | None, where: str) -> str:
    if charset is None:
        meta = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", raw[:4096], re.I)
        charset = meta.group(1).decode() if meta else "utf-8"
    try:
        if not codecs.lookup(charset)._is_text_encoding or charset.lower() in _NOT_PAGES:
            raise LookupError(charset)
        return raw.decode(charset).removeprefix("\ufeff")
    except LookupError as exc:
        raise ImportProblem(
            f"{where}: {charset!r} is not a character encoding of web pages; save the page as UTF-8"
        ) from exc
    except (UnicodeError, ValueError) as exc:  # punycode raises UnicodeError
        raise ImportProblem(f"{where}: not valid {charset} text; save it as UTF-8") from exc


# Codecs Python has that no page is written in (they turn text into other text).
_NOT_PAGES = {"punycode", "idna", "unicode_escape", "raw_unicode_escape", "rot13", "rot_13"}
