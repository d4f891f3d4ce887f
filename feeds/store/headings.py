"""One update heading: ``## 2018-05-17 02:30 +04:30 — Title {#anchor key="value"}``.

Parsing, with the strict checks and their messages, for the store; and the
small amount of rewriting the authoring commands need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..model import ANCHOR_RE, Person
from ..text import title_text
from ..timeutil import (
    TimeError,
    is_ambiguous,
    naive_local,
    parse_offset,
    resolve_local,
    wall_time_exists,
)
from .people import person
from .problems import Problems

HEADING_ATTRS = ("author", "updated", "retracted", "note")

# Anything that starts like a timestamp is meant as one and is checked strictly,
# so "## 2018-05-17 25:10" is an error rather than silently becoming body text.
LOOKS_TIMESTAMPED = re.compile(r"^\d{1,4}-\d{1,2}-\d{1,2}(?:[T ]|$)")
HEADING_RE = re.compile(
    r"""^(?P<date>\S+?)(?:T|[ \t]+)(?P<time>[0-9:]+)
        (?:[ \t]*(?P<offset>Z|UTC|[+-][0-9:]+)(?=[ \t{]|$))?
        (?P<rest>.*)$""",
    re.X,
)
_REST = re.compile(r"^(?:\s+[—–-]\s*(?P<title>.*?))?\s*(?:\{(?P<attrs>[^{}]*)\})?\s*$")
_ATTR = re.compile(
    r'\s*(?:#(?P<anchor>\S+)|(?P<key>[A-Za-z_]+)(?:=(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+)))?)'
)


@dataclass
class Heading:
    line: int
    local: datetime  # naive wall-clock time as written
    published: datetime
    title: str
    anchor: str
    author: Person | None = None
    updated: datetime | None = None  # updated="..."
    retracted: bool = False
    retracted_at: datetime | None = None  # retracted="..."
    note: str | None = None  # note="...": why it was retracted


def default_anchor(local: datetime, second_occurrence: bool = False) -> str:
    """The id an update gets when its heading has no ``{#anchor}``.

    Derived from the wall-clock time as written, ``u20180517-0230`` (seconds
    appended when given), so the same file always yields the same ids. On the
    night the clocks go back, the second 01:30 gets ``u20251102-0130-2``.
    """
    anchor = f"u{local.year:04d}{local.month:02d}{local.day:02d}-{local.hour:02d}{local.minute:02d}"
    if local.second:
        anchor += f"{local.second:02d}"
    return anchor + "-2" if second_occurrence else anchor


def _stamp(text: str, tz: ZoneInfo) -> datetime:
    """``2018-05-17 02:30`` (optionally ``+04:30``) in ``tz``, or a TimeError."""
    m = HEADING_RE.match(text.strip())
    if not m or m["rest"].strip():
        raise TimeError(f"{text!r} is not a time; write it as YYYY-MM-DD HH:MM (+offset if needed)")
    local = naive_local(m["date"], m["time"])
    offset = parse_offset("Z" if m["offset"] == "UTC" else m["offset"]) if m["offset"] else None
    return resolve_local(local, tz, offset)


def parse_heading(content: str, line: int, tz: ZoneInfo, problems: Problems) -> Heading | None:
    m = HEADING_RE.match(content)
    if not m:
        problems.add(line, f"update heading {content!r} needs a time: ## YYYY-MM-DD HH:MM")
        return None
    try:
        local = naive_local(m["date"], m["time"])
        offset = parse_offset("Z" if m["offset"] == "UTC" else m["offset"]) if m["offset"] else None
        published = resolve_local(local, tz, offset)
    except TimeError as exc:
        problems.add(line, str(exc))
        return None
    rest = _REST.match(m["rest"])
    if not rest:
        problems.add(
            line,
            f"cannot read {m['rest'].strip()!r} after the time: write a title after a dash "
            "(## 2018-05-17 02:30 — Title) and/or an anchor in braces ({#convoy-arrives})",
        )
        return None
    # Raw HTML in a title is text ("Why <script> tags matter"), never markup.
    title = title_text(rest["title"]) if rest["title"] else ""
    second = local.replace(tzinfo=tz, fold=1)
    repeated = is_ambiguous(second) and wall_time_exists(local, tz)
    second_occurrence = repeated and published.utcoffset() == second.utcoffset()
    heading = Heading(line, local, published, title, default_anchor(local, second_occurrence))
    if rest["attrs"] is not None and not _apply_attrs(heading, rest["attrs"], tz, problems):
        return None
    return heading


def _apply_attrs(heading: Heading, attrs: str, tz: ZoneInfo, problems: Problems) -> bool:
    """Read ``{#anchor key="value" flag}`` into ``heading``; False after a problem."""
    line, pos, seen = heading.line, 0, set()
    while pos < len(attrs.rstrip()):
        a = _ATTR.match(attrs, pos)
        if not a:
            problems.add(
                line,
                f'cannot read {{{attrs}}}: write {{#anchor}} or {{#anchor author="Name"}}; '
                "values with spaces need double quotes",
            )
            return False
        pos = a.end()
        key = "#" if a["anchor"] is not None else a["key"]
        if key in seen:
            problems.add(line, f"{'the anchor' if key == '#' else key} is given twice; keep one")
            return False
        seen.add(key)
        value = (
            a["anchor"] if key == "#" else (a["quoted"] if a["quoted"] is not None else a["bare"])
        )
        if key == "#":
            if not ANCHOR_RE.match(value):
                problems.add(
                    line,
                    f"anchor {value!r} must start with a letter and use only letters, "
                    "digits, - and _ (at most 64)",
                )
                return False
            heading.anchor = value
        elif key not in HEADING_ATTRS:
            problems.add(
                line,
                f"unknown attribute {key!r}; an update heading accepts #anchor, "
                + ", ".join(HEADING_ATTRS),
            )
            return False
        elif key == "retracted" and value is None:
            heading.retracted = True
        elif value is None or not value.strip():
            problems.add(line, f'{key} needs a value: {key}="..."')
            return False
        elif key == "author":
            who = person(value)
            if isinstance(who, str):
                problems.add(line, who)
                return False
            heading.author = who
        elif key == "note":
            heading.note = value.strip()
        else:  # updated, retracted: times in the story's zone
            try:
                when = _stamp(value, tz)
            except TimeError as exc:
                problems.add(line, f"{key}: {exc}")
                return False
            if when.astimezone(UTC) < heading.published.astimezone(UTC):
                problems.add(line, f"{key} {value!r} is before the update was published")
                return False
            if key == "updated":
                heading.updated = when
            else:
                heading.retracted, heading.retracted_at = True, when
    if heading.note and not heading.retracted:
        problems.add(line, 'note="..." explains a retraction; add retracted, or remove the note')
        return False
    return True


@dataclass(frozen=True)
class HeadingLine:
    """A valid update heading split into the parts authoring commands change.

    ``render()`` writes it back in the canonical spacing; every other line of
    the file is left exactly as it was.
    """

    stamp: str  # "2018-05-17 02:30 +04:30", as typed
    title: str  # raw Markdown, "" for none
    attrs: tuple[tuple[str, str | None], ...]  # ("#", anchor), ("note", "..."), ("retracted", None)

    @classmethod
    def parse(cls, line: str) -> HeadingLine:
        content = line.strip().lstrip("#").strip()
        content = re.sub(r"(?:^|[ \t]+)#+[ \t]*$", "", content)  # CommonMark closing sequence
        m = HEADING_RE.match(content)
        rest = _REST.match(m["rest"]) if m else None
        if not m or not rest:
            raise ValueError(f"not an update heading: {line!r}")
        attrs: list[tuple[str, str | None]] = []
        text, pos = rest["attrs"] or "", 0
        while pos < len(text.rstrip()):
            a = _ATTR.match(text, pos)
            if not a:
                raise ValueError(f"cannot read the attributes of {line!r}")
            pos = a.end()
            if a["anchor"] is not None:
                attrs.append(("#", a["anchor"]))
            else:
                attrs.append((a["key"], a["quoted"] if a["quoted"] is not None else a["bare"]))
        return cls(content[: m.start("rest")].strip(), (rest["title"] or "").strip(), tuple(attrs))

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.attrs if k == key), None)

    def has(self, key: str) -> bool:
        return any(k == key for k, _ in self.attrs)

    def with_title(self, title: str) -> HeadingLine:
        return HeadingLine(self.stamp, title.strip(), self.attrs)

    def with_attr(self, key: str, value: str | None) -> HeadingLine:
        """Set (or add) one attribute; the anchor always stays first."""
        if value is not None and '"' in value:
            raise ValueError(f'{key} cannot contain double quotes (")')
        if key == "#" and value is not None and not ANCHOR_RE.match(value):
            raise ValueError(f"bad anchor {value!r}")
        attrs = [(k, value if k == key else v) for k, v in self.attrs]
        if not self.has(key):
            attrs.insert(0 if key == "#" else len(attrs), (key, value))
        return HeadingLine(self.stamp, self.title, tuple(attrs))

    def render(self) -> str:
        out = f"## {self.stamp}"
        if self.title:
            out += f" — {self.title}"
        if self.attrs:
            parts = [
                f"#{v}" if k == "#" else (k if v is None else f'{k}="{v}"') for k, v in self.attrs
            ]
            out += " {" + " ".join(parts) + "}"
        return out
