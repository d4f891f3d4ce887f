"""Changes written into a story's Markdown source, touching only the lines they are about.

The rest of the text keeps every byte, including a byte-order mark and CRLF
newlines, so a story file that people also edit by hand is never reformatted.
Used by the stores that keep stories as text (:mod:`.files`, :mod:`.memory`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import AuthoringError
from ..model import Story, Update
from ..timeutil import format_offset, is_ambiguous
from .changes import AddUpdate, Change, CreateStory, EndStory, NewUpdate, ReviseUpdate
from .headings import HeadingLine

_NEWLINE = re.compile(r"\r\n|\r|\n")


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escaping is a subset TOML accepts)."""
    return json.dumps(value, ensure_ascii=False)


def format_stamp(when: datetime) -> str:
    """An aware time as headings write it: local, seconds if any, offset if it repeats."""
    local = when.replace(tzinfo=None)
    stamp = local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
    if is_ambiguous(when):
        offset = when.utcoffset()
        assert offset is not None
        stamp += " " + format_offset(offset)  # which of the two 01:30s
    return stamp


def _heading(update: NewUpdate) -> HeadingLine:
    heading = HeadingLine(format_stamp(update.when), " ".join(update.title.split()), ())
    try:
        heading = heading.with_attr("#", update.anchor)
        if update.author:
            heading = heading.with_attr("author", " ".join(update.author.split()))
    except ValueError as exc:
        raise AuthoringError(f"{exc}; nothing was written") from exc
    return heading


def new_story_text(change: CreateStory) -> bytes:
    """The source of a new story: front matter, background, updates newest first."""
    lines = ["+++", f"title = {toml_string(change.title)}"]
    if change.summary:
        lines.append(f"summary = {toml_string(change.summary)}")
    if change.link:
        lines.append(f"link = {toml_string(change.link)}")
    lines += [f"timezone = {toml_string(change.timezone)}", 'status = "live"']
    if change.created is not None:
        lines.append(f"created = {change.created.isoformat()}")
    lines += ["+++", ""]
    for paragraph in change.background:
        lines += [paragraph, ""]
    for update in sorted(change.updates, key=lambda u: u.when.astimezone(UTC), reverse=True):
        lines += [_heading(update).render(), ""]
        if update.text:
            lines += [update.text, ""]
    if lines[-2] == "+++":
        lines.append("")
    return "\n".join(lines).encode()


def edit_story_text(raw: bytes, story: Story, change: Change) -> bytes:
    """``raw`` (which parses as ``story``) with ``change`` made to it."""
    text = _Text.of(raw, story)
    if isinstance(change, AddUpdate):
        text.add(change.update)
    elif isinstance(change, ReviseUpdate):
        text.revise(change)
    elif isinstance(change, EndStory):
        text.end()
    else:
        raise TypeError(f"not a change to an existing story: {change!r}")
    return text.encode()


@dataclass
class _Text:
    story: Story  # parsed from exactly these lines
    lines: list[str]
    ends: list[str]  # each line's own line ending ("" after the last line)
    newline: str  # for new lines: the text's most common line ending
    bom: bool

    @classmethod
    def of(cls, raw: bytes, story: Story) -> _Text:
        decoded = raw.decode("utf-8-sig")
        # Split exactly as the parser does (\r\n, \r or \n), keeping each ending.
        ends = _NEWLINE.findall(decoded) + [""]
        counts = {e: ends.count(e) for e in ("\n", "\r\n", "\r")}
        return cls(
            story=story,
            lines=_NEWLINE.split(decoded),
            ends=ends,
            newline=max(counts, key=lambda e: counts[e]) if any(counts.values()) else "\n",
            bom=raw.startswith(b"\xef\xbb\xbf"),
        )

    def encode(self) -> bytes:
        text = "".join(line + end for line, end in zip(self.lines, self.ends, strict=True))
        return ("\ufeff" if self.bom else "").encode() + text.encode()

    def _update(self, anchor: str) -> Update:
        return next(u for u in self.story.updates if u.anchor == anchor)

    def heading(self, update: Update) -> HeadingLine:
        try:
            line = HeadingLine.parse(self.lines[update.line - 1])
        except ValueError as exc:
            raise AuthoringError(f"{self.story.source}:{update.line}: {exc}") from exc
        # Pin the id: an anchor derived from the time would change if the time did.
        return line if line.has("#") else line.with_attr("#", update.anchor)

    def _replace(self, start: int, end: int, new: list[str]) -> None:
        ends = self.ends[start:end]
        last = ends[-1] if ends else self.newline
        self.lines[start:end] = new
        self.ends[start:end] = [self.newline] * (len(new) - 1) + [last] if new else []

    def _insert(self, index: int, new: list[str]) -> None:
        self.lines[index:index] = new
        self.ends[index:index] = [self.newline] * len(new)

    def _append(self, section: list[str]) -> None:
        """Add ``section`` (which ends with "") at the end, after one blank line."""
        while len(self.lines) > 1 and self.lines[-1] == "":
            self.lines.pop()
            self.ends.pop()
        self.ends[-1] = self.newline
        new = ["", *section]
        self.lines += new
        self.ends += [self.newline] * (len(new) - 1) + [""]

    def _set_body(self, update: Update, text: str) -> None:
        start = update.line  # index of the line after the heading
        later = [u.line for u in self.story.updates if u.line > update.line]
        end = min(later) - 1 if later else len(self.lines)
        # A blank line before the next heading, or the text's final newline.
        body = ["", *text.split("\n"), ""]
        if not later and self.lines[-1] != "":
            body.pop()  # the text had no final newline; keep it that way
        self._replace(start, end, body)

    def add(self, update: NewUpdate) -> None:
        section = [_heading(update).render(), ""] + (
            update.text.split("\n") + [""] if update.text else []
        )
        # Newest first: before the first update (in file order) not newer than this one.
        position = None
        for other in sorted(self.story.updates, key=lambda u: u.line):
            if other.published.astimezone(UTC) <= update.when.astimezone(UTC):
                position = other.line - 1
                break
        if position is None:
            self._append(section)
            return
        if position > 0 and self.lines[position - 1].strip():
            section.insert(0, "")
        self._insert(position, section)

    def revise(self, change: ReviseUpdate) -> None:
        update = self._update(change.anchor)
        heading = self.heading(update)
        try:
            if change.title is not None:
                heading = heading.with_title(" ".join(change.title.split()))
            if change.updated is not None:
                heading = heading.with_attr("updated", format_stamp(change.updated))
            if change.retract:
                when = change.retracted_at
                heading = heading.with_attr("retracted", format_stamp(when) if when else None)
                if change.note is not None:
                    heading = heading.with_attr("note", change.note)
        except ValueError as exc:
            raise AuthoringError(f"{exc}; nothing was written") from exc
        self.lines[update.line - 1] = heading.render()
        if change.text is not None:
            self._set_body(update, change.text)

    def end(self) -> None:
        close = next(i for i in range(1, len(self.lines)) if self.lines[i].strip() == "+++")
        status = next(
            (i for i in range(1, close) if re.match(r"^\s*status\s*=", self.lines[i])), None
        )
        if status is None:
            self._insert(close, ['status = "ended"'])
        else:
            self.lines[status] = 'status = "ended"'
