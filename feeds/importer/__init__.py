"""Importing live-blog pages (text or HTML) into the store.

``read_source`` gets the page (a file, stdin, or an http(s) URL);
``page.text_page``/``page.html_page`` turn it into blocks; ``resolve.read``
finds the updates and their exact times; ``merge`` writes them into a story,
adding only what is new. :func:`import_page` does all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from ..errors import ImportProblem as ImportProblem
from ..errors import StoryExists
from ..model import SLUG_RE, Story
from ..settings import Workspace
from .fetch import Source as Source
from .fetch import read_source
from .merge import Plan, apply_import, plan_import
from .page import html_page, looks_like_html, text_page
from .resolve import Reading as Reading
from .resolve import read


@dataclass(frozen=True)
class ImportResult:
    reading: Reading
    plan: Plan
    done: list[str]  # what was written (nothing on a dry run)
    story: Story  # the story as the import leaves it (or would, on a dry run)


def import_page(
    source: str,
    ws: Workspace,
    slug: str,
    *,
    timezone: str | None = None,
    page_date: date | None = None,
    fmt: str = "auto",
    dry_run: bool = False,
    update: bool = False,
    now: datetime,
) -> ImportResult:
    allow = tuple(ws.store.read_site().import_allow_hosts.split())
    got = read_source(source, allow_hosts=allow)
    return import_source(
        got,
        ws,
        slug,
        timezone=timezone,
        page_date=page_date,
        fmt=fmt,
        dry_run=dry_run,
        update=update,
        now=now,
    )


def import_source(
    got: Source,
    ws: Workspace,
    slug: str,
    *,
    timezone: str | None = None,
    page_date: date | None = None,
    fmt: str = "auto",
    dry_run: bool = False,
    update: bool = False,
    now: datetime,
) -> ImportResult:
    """Import a page already read (``read_source``, or fetched by a follower)."""
    is_html = fmt == "html" or (fmt == "auto" and (got.is_html or looks_like_html(got.text)))
    page = html_page(got.text) if is_html else text_page(got.text)
    existing = _existing(ws, slug)  # the one story, read once
    zone = timezone or (existing.timezone if existing else None)
    reading = read(page, zone=zone, page_date=page_date)
    if existing is not None and page_date is None:
        # A page that dropped its older updates (or went past midnight) may date its
        # bare times from another day than before: the updates the story already
        # has say which day the page is on.
        shifted = _day_from_story(reading, existing)
        if shifted is not None:
            reading = read(page, zone=zone, page_date=shifted)
    plan = plan_import(existing, slug, reading)
    # Rehearsed on a copy of the story first: the dry run shows what the store
    # will hold, and a page the store would refuse fails before anything is written.
    rehearsed = _rehearse(ws, slug, reading, plan, update=update, now=now, link=got.url)
    done: list[str] = []
    if not dry_run:
        try:
            done = apply_import(ws, slug, reading, plan, update=update, now=now, link=got.url)
        except StoryExists:  # another import made the story meanwhile: grow it instead
            plan = plan_import(_existing(ws, slug), slug, reading)
            done = apply_import(ws, slug, reading, plan, update=update, now=now, link=got.url)
    return ImportResult(reading, plan, done, rehearsed)


def _day_from_story(reading: Reading, story: Story) -> date | None:
    """The date of the page's top update as the story's own updates give it, when
    an update of the story is on the page at the same clock time on another day."""
    from .merge import _norm

    known = {_norm(u.text): u.published for u in story.updates if u.text}
    for found in reading.updates:
        if found.when is None or found.stamp.exact is not None or found.stamp.on is not None:
            continue
        had = known.get(_norm(found.text))
        if had is None:
            continue
        local = had.astimezone(found.when.tzinfo)
        if (local.hour, local.minute) != (found.when.hour, found.when.minute):
            continue
        shift = local.date() - found.when.date()
        if not shift:
            return None  # the page's dates agree with the story's
        top = reading.updates[0].when
        assert top is not None
        return top.date() + shift
    return None


def _rehearse(
    ws: Workspace,
    slug: str,
    reading: Reading,
    plan: Plan,
    *,
    update: bool,
    now: datetime,
    link: str | None,
) -> Story:
    """The story as the import will leave it, made in a store in memory."""
    from ..store.memory import MemoryStore

    memory = MemoryStore(ws.store.site_source().decode("utf-8"))
    if plan.story is not None:
        memory.put(slug, ws.store.story_source(slug))
        memory.retire(slug, ws.store.retired(slug))
    apply_import(replace(ws, store=memory), slug, reading, plan, update=update, now=now, link=link)
    story = memory.read_story(slug, memory.read_site()).story
    assert story is not None  # apply_import verified it
    return story


def _existing(ws: Workspace, slug: str) -> Story | None:
    if not SLUG_RE.match(slug):
        raise ImportProblem(
            f"{slug!r} is not a valid story name: lowercase letters, digits, hyphens"
        )
    site = ws.store.read_site()
    if slug not in ws.store.scan().stories:
        return None
    read = ws.store.read_story(slug, site)
    if read.story is None or read.problems:
        from ..errors import StoreError

        raise StoreError(read.problems)
    return read.story


def describe(result: ImportResult) -> list[str]:
    """The dry-run table: for each update found, what the store will hold: its
    action, local and UTC time, id, and title as feed readers will see it."""
    lines = [
        f"{len(result.reading.updates)} updates found ({result.reading.order}, "
        f"{result.reading.zone}); {len(result.reading.background)} background paragraphs"
    ]
    stored = {u.anchor: u for u in result.story.updates}
    for found in result.reading.updates:
        anchor = result.plan.anchors[id(found)]
        held = stored.get(anchor)
        when = held.published if held is not None else found.when
        assert when is not None
        title = held.title if held is not None else (found.title or found.text)
        lines.append(
            f"{result.plan.action(found):8} {when:%Y-%m-%d %H:%M %z}  "
            f"{when.astimezone(UTC):%Y-%m-%d %H:%MZ}  {anchor:18}  {' '.join(title.split())}"
        )
    lines.append(f"the story will have {len(result.story.updates)} updates")
    lines += [f"warning: {w}" for w in result.reading.warnings]
    return lines
