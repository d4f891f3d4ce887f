"""robots.txt as RFC 9309 reads it, for `feeds follow`.

Python's ``urllib.robotparser`` applies the first rule that matches a path;
RFC 9309 (2.2.2) says the most specific one wins (the longest pattern, and
``Allow`` when an allow and a disallow are as long), and that ``*`` and ``$`` are
special in patterns. A site that writes ``Disallow: /`` then ``Allow: /live/``
lets its live pages be fetched; the first-match reading would not.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[tuple[bool, str]] = field(default_factory=list)  # (allow, pattern)
    delay: float | None = None


@dataclass(frozen=True)
class Robots:
    """The rules that apply to one product token (``feeds``)."""

    rules: tuple[tuple[bool, str], ...]
    delay: float | None

    @classmethod
    def parse(cls, text: str, product: str) -> Robots:
        """The group for ``product`` (all of its groups merged), else the ``*`` group."""
        groups: list[_Group] = []
        current: _Group | None = None
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key == "user-agent":
                if current is None or current.rules or current.delay is not None:
                    current = _Group()
                    groups.append(current)
                current.agents.append(value.lower())
            elif current is None:
                continue  # a rule before any user-agent line belongs to no group
            elif key in ("allow", "disallow"):
                if value:  # "Disallow:" with nothing is no rule
                    current.rules.append((key == "allow", value))
            elif key == "crawl-delay":
                with contextlib.suppress(ValueError):  # a delay that is not a number: none
                    current.delay = float(value)
        token = product.lower()
        mine = [g for g in groups if token in g.agents] or [g for g in groups if "*" in g.agents]
        delays = [g.delay for g in mine if g.delay is not None]
        return cls(tuple(r for g in mine for r in g.rules), max(delays) if delays else None)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.path == "/robots.txt":
            return True  # RFC 9309 2.2.2: always
        best: tuple[int, bool] | None = None  # (length, allow)
        for allow, pattern in self.rules:
            if _matches(pattern, path):
                candidate = (len(pattern), allow)
                if best is None or candidate > best:  # longer wins; allow wins a tie
                    best = candidate
        return best is None or best[1]


_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]")


def _canonical(text: str) -> str:
    """RFC 9309 2.2.2: compared with non-ASCII characters and reserved ones written as
    %XX (upper case), and %XX of unreserved characters decoded: ``/caf%c3%a9`` and
    ``/café`` are the same path, ``/a%2Fb`` and ``/a/b`` are not."""

    def octet(m: re.Match[str]) -> str:
        char = chr(int(m[1], 16))
        return char if _UNRESERVED.fullmatch(char) else f"%{m[1].upper()}"

    decoded = re.sub(r"%([0-9A-Fa-f]{2})", octet, text)
    return "".join(c if ord(c) < 128 else quote(c, safe="") for c in decoded)


def _matches(pattern: str, path: str) -> bool:
    """Does ``pattern`` (``*`` any run of characters, a final ``$`` the end) match
    the start of ``path``?"""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(_canonical(piece)) for piece in body.split("*"))
    return re.match(regex + ("$" if anchored else ""), _canonical(path)) is not None
