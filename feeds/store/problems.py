"""Collecting every problem in a file before giving up, with line numbers."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import Problem
from ..model import NOT_XML
from ..timeutil import TimeError, zone


class Problems:
    def __init__(self, where: Path | str) -> None:
        self.where = where
        self.items: list[Problem] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append(Problem(self.where, line, message))

    def __bool__(self) -> bool:
        return bool(self.items)


def decode_utf8(raw: bytes, problems: Problems) -> str | None:
    """Text of a UTF-8 file (a BOM is tolerated), newlines normalised to \\n."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.add(
            line,
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8 in your editor",
        )
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _NOT_XML.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        problems.add(
            line,
            f"column {column}: the control character U+{ord(bad.group()):04X} cannot appear in a "
            "feed (XML forbids it); delete it (it is often pasted in invisibly)",
        )
        return None
    return text


_NOT_XML = NOT_XML


CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?")


def referenced(m: re.Match[str]) -> int:
    """The code point a :data:`CHAR_REF` match names."""
    return int(m[1], 16) if m[1] else int(m[2])


def decodes_to_forbidden(code: int) -> bool:
    """Does an HTML parser turn ``&#code;`` into a character XML forbids? (It makes
    U+FFFD of 0, surrogates and code points past U+10FFFF.)"""
    return 0 < code < 0xD800 and NOT_XML.match(chr(code)) is not None or code in (0xFFFE, 0xFFFF)


def forbidden_reference(lines: list[str]) -> tuple[int, str] | None:
    """The first character reference (``&#x1;``) to a character XML forbids: its line
    (0-based) and text. Markdown turns those into U+FFFD, raw HTML keeps them."""
    for number, line in enumerate(lines):
        for m in CHAR_REF.finditer(line):
            if decodes_to_forbidden(referenced(m)):
                return number, m.group()
    return None


def parse_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads``, with values nested too deeply for it (a thousand ``[``) reported
    as a TOML error like any other instead of exhausting the stack."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(
            "arrays or inline tables nested too deeply (at line 1, column 1)"
        ) from None


_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def read_toml(raw: bytes, problems: Problems) -> tuple[str | None, dict[str, Any]]:
    """A TOML file's text and table; what is wrong is added to ``problems``
    (the text is None if it is not UTF-8, the table empty if not TOML)."""
    text = decode_utf8(raw, problems)
    data: dict[str, Any] = {}
    if text is not None:
        try:
            data = parse_toml(text)
        except tomllib.TOMLDecodeError as exc:
            line, message = toml_error(str(exc))
            problems.add(line, f"not valid TOML: {message} (strings need double quotes)")
    return text, data


def toml_error(message: str) -> tuple[int | None, str]:
    """Split tomllib's "... (at line 3, column 7)" into (3, "...")."""
    m = _TOML_POS.search(message)
    if not m:
        return None, message
    return int(m[1]), message[: m.start()]


def key_line(lines: list[str], key: str, first_line: int) -> int | None:
    """The line number where ``key = ...`` is set, for messages about its value."""
    name = rf"(?:{re.escape(key)}|\"{re.escape(key)}\")"
    # key = ..., key.sub = ..., [key] or [[key]]
    pattern = re.compile(rf"^\s*(?:{name}\s*[=.]|\[\[?\s*{name}\s*[\].])")
    for i, line in enumerate(lines):
        if pattern.match(line):
            return first_line + i
    return None


class Table:
    """A parsed TOML table plus what is needed to point at its lines in errors."""

    def __init__(
        self, data: dict[str, object], lines: list[str], first_line: int, problems: Problems
    ) -> None:
        self.data = data
        self.lines = lines
        self.first_line = first_line
        self.problems = problems

    def line_of(self, key: str) -> int | None:
        return key_line(self.lines, key, self.first_line)

    def complain(self, key: str, message: str) -> None:
        self.problems.add(self.line_of(key) or self.first_line, message)

    def reject_control_characters(self) -> None:
        """TOML escapes (\\u0001) can put characters in a string that XML forbids."""

        def strings(value: object) -> list[str]:
            if isinstance(value, str):
                return [value]
            if isinstance(value, list):
                return [s for v in value for s in strings(v)]
            if isinstance(value, dict):
                return [s for v in value.values() for s in strings(v)]
            return []

        for key, value in self.data.items():
            bad = next((m for s in strings(value) if (m := _NOT_XML.search(s))), None)
            if bad:
                self.complain(
                    key,
                    f"{key} contains the control character U+{ord(bad.group()):04X}, which no "
                    "feed can carry; remove it",
                )

    def reject_unknown(self, allowed: tuple[str, ...], what: str) -> None:
        for key in self.data:
            if key not in allowed:
                hint = ", ".join(allowed)
                self.complain(key, f"unknown key {key!r} in {what}; the keys are: {hint}")

    def string(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problems.add(self.first_line, f'missing {key}: add a line like {key} = "..."')
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.complain(key, f'{key} must be a non-empty string in quotes: {key} = "..."')
            return default
        return value.strip()

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.complain(
                key, f'{key} must be a list of strings in brackets: {key} = ["one", "two"]'
            )
            return None
        return tuple(v.strip() for v in value)

    def integer(self, key: str, default: int, lowest: int, highest: int) -> int:
        value = self.data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= highest:
            self.complain(key, f"{key} must be a whole number from {lowest} to {highest}")
            return default
        return value

    def language(self, default: str) -> str:
        value = self.string("language", default=default)
        if not LANGUAGE_RE.match(value):
            self.complain(
                "language", f'language {value!r} is not a language tag like "en" or "pt-PT"'
            )
        return value

    def timezone(self, default: str) -> ZoneInfo | None:
        """The zone named by ``timezone`` (or ``default``); None after a problem."""
        try:
            return zone(self.string("timezone", default=default))
        except TimeError as exc:
            self.complain("timezone", str(exc))
            return None


LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
