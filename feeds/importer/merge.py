"""Writing what was found into the store, and only what is new.

A new story is written whole (front matter, background, updates newest
first). An existing one gets the updates it does not have, through the same
locked, verified, atomic path as ``feeds add``; updates it has (same id, or
same time and text) are left alone, and ones whose text changed on the page
are reported, and replaced only when asked (``--update``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..authoring import add_update, edit_update, import_story
from ..errors import AuthoringError, ImportProblem
from ..model import ANCHOR_RE, Story
from ..settings import Workspace
from ..store.changes import CreateStory, NewUpdate
from ..store.headings import default_anchor
from ..timeutil import is_ambiguous
from .resolve import Found, Reading


@dataclass
class Plan:
    story: Story | None  # None: the story will be created
    anchors: dict[int, str] = field(default_factory=dict)  # id(Found) -> anchor
    new: list[Found] = field(default_factory=list)
    same: list[Found] = field(default_factory=list)
    changed: list[tuple[Found, str]] = field(default_factory=list)  # with the existing anchor

    def action(self, found: Found) -> str:
        if any(f is found for f in self.new):
            return "add"
        if any(f is found for f, _ in self.changed):
            return "changed"
        return "same"


# Line starts that the store would read as its own syntax rather than as the
# page's text: headings (an update heading, or one mistyped), setext underlines,
# fences and raw HTML blocks that run on past the text (swallowing the
# headings after them), front-matter delimiters.
_STORE_SYNTAX = re.compile(
    r"^( {0,3})(#|=+\s*$|-+\s*$|\+\+\+|`{3}|~{3}|<(?:script|pre|style|textarea|!|\?))",
    re.IGNORECASE | re.MULTILINE,
)


def store_safe(text: str) -> str:
    """The page's text with a backslash before anything the store would read as
    structure: imported text stays text (an ``## 2030-01-01 00:00 {#x}`` line on a
    page is not an update), and renders the same."""
    return _STORE_SYNTAX.sub(r"\1\\\2", text)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"\\(.)", r"\1", text).split())


def plan_import(existing: Story | None, slug: str, reading: Reading) -> Plan:
    if existing is not None and existing.timezone != reading.zone:
        raise ImportProblem(
            f"story {slug!r} is in {existing.timezone}, not {reading.zone}: import with "
            f"--timezone {existing.timezone}"
        )
    plan = Plan(existing)
    taken: set[str] = set()
    for found in reading.updates:
        assert found.when is not None
        local = found.when.replace(tzinfo=None)
        when = found.when
        second = is_ambiguous(when) and when.fold == 1
        anchor = found.anchor if found.anchor and ANCHOR_RE.match(found.anchor) else None
        anchor = anchor or default_anchor(local, second)
        base, suffix = anchor, iter("bcdefghijklmnopqrstuvwxyz")
        while anchor in taken:
            anchor = f"{base}-{next(suffix)}"
        taken.add(anchor)
        plan.anchors[id(found)] = anchor
        if existing is None:
            plan.new.append(found)
            continue
        by_anchor = {u.anchor: u for u in existing.updates}
        match = by_anchor.get(anchor)
        if match is None:
            match = next(
                (
                    u
                    for u in existing.updates
                    if u.published.astimezone(UTC) == found.when.astimezone(UTC)
                    and _norm(u.text) == _norm(found.text)
                ),
                None,
            )
        if match is None:
            plan.new.append(found)
        elif _norm(match.text) == _norm(found.text) and (
            not found.title or _norm(match.title) == _norm(found.title)
        ):
            plan.same.append(found)
        else:
            plan.changed.append((found, match.anchor))
    return plan


def apply_import(
    ws: Workspace,
    slug: str,
    reading: Reading,
    plan: Plan,
    *,
    update: bool,
    now: datetime,
    link: str | None,
) -> list[str]:
    """Write the plan; return one line per change made."""
    done = []
    if plan.story is None:
        import_story(ws, slug, _new_story(reading, plan, link))
        return [f"created {slug} with {len(plan.new)} updates"]
    for found in sorted(plan.new, key=lambda f: f.when.astimezone(UTC)):  # type: ignore[union-attr]
        added = add_update(
            ws,
            slug,
            store_safe(found.text),
            at=found.when,
            now=now,
            title=found.title or None,
            anchor=plan.anchors[id(found)],
        )
        done.append(f"added {added.anchor}")
    if update:
        for found, anchor in plan.changed:
            try:
                edit_update(
                    ws,
                    slug,
                    anchor,
                    text=store_safe(found.text) or None,
                    title=found.title or None,
                )
            except AuthoringError as exc:
                raise ImportProblem(f"could not update {anchor}: {exc}") from exc
            done.append(f"updated {anchor}")
    return done


def _new_story(reading: Reading, plan: Plan, link: str | None) -> CreateStory:
    updates = []
    for found in plan.new:
        assert found.when is not None
        title = " ".join(found.title.split())
        updates.append(
            NewUpdate(found.when, plan.anchors[id(found)], store_safe(found.text), title)
        )
    return CreateStory(
        title=reading.title or "Imported story",
        timezone=reading.zone,
        link=link,
        background=tuple(store_safe(p) for p in reading.background),
        updates=tuple(updates),
    )
