"""Getting a page: a file, standard input ("-"), or an http(s) URL."""

from __future__ import annotations

import codecs
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ..errors import ImportProblem

USER_AGENT = f"feeds/{version('feeds')} (live-blog importer; +https://pypi.org/project/feeds/)"
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 20.0


@dataclass(frozen=True)
class Source:
    text: str
    is_html: bool | None  # None: look at the text
    url: str | None  # where it came from, if it was a URL


def read_source(source: str, *, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> Source:
    if source == "-":
        raw = sys.stdin.buffer.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise ImportProblem(f"standard input: more than {max_bytes:,} bytes")
        return Source(_decode(raw, None, "standard input"), None, None)
    if source.startswith(("http://", "https://")):
        return _fetch(source, timeout, max_bytes)
    path = Path(source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportProblem(f"{source}: cannot read it ({exc.strerror})") from exc
    if len(raw) > max_bytes:
        raise ImportProblem(f"{source}: {len(raw):,} bytes is more than {max_bytes:,}")
    is_html = True if path.suffix.lower() in (".html", ".htm") else None
    return Source(_decode(raw, None, source), is_html, None)


def _fetch(url: str, timeout: float, max_bytes: int) -> Source:
    try:
        request = urllib.request.Request(
            url,
            headers={"User-Agent": USER_AGENT, "Accept": "text/html, text/plain;q=0.9, */*;q=0.5"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(max_bytes + 1)
            kind = response.headers.get_content_type()
            charset = response.headers.get_content_charset()
    except urllib.error.HTTPError as exc:
        raise ImportProblem(f"{url}: the server answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImportProblem(f"{url}: cannot fetch it ({reason}; timeout {timeout:g}s)") from exc
    except ValueError as exc:  # urllib's own parse: "Invalid IPv6 URL", a bad port
        raise ImportProblem(f"{url}: not a valid URL ({exc})") from exc
    if len(raw) > max_bytes:
        raise ImportProblem(f"{url}: the page is larger than {max_bytes:,} bytes")
    is_html = True if kind in ("text/html", "application/xhtml+xml") else None
    return Source(_decode(raw, charset, url), is_html, url)


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
