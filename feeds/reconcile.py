"""Reconciliation: the store plus what builds recorded gives what readers get; nothing else does.

A pure function, :func:`reconcile`, takes the store as it is now, what the
previous builds recorded (:class:`History`) and the build's clock, and returns
what to publish plus the history to record for next time:

* an update whose content digest differs from the recorded one was edited: its
  ``updated`` becomes the clock of the first build that saw the new content
  (or the ``updated="..."`` written in its heading); unchanged updates keep
  their recorded ``updated`` forever;
* an update dated after the clock is held back (embargo) until a build runs
  after it is due;
* a retracted update, or one that was published and has gone from the store,
  becomes a tombstone for ``tombstone_days``, then is forgotten.

Only this module makes a :class:`Published` story (or a :class:`Reconciled`
site), and the renderers take nothing else: an update held back, retracted or
deleted cannot reach a feed by calling the renderers on what a store read.

If the history is lost, nothing breaks: ids and published times come from the
store, edited updates fall back to ``updated == published`` (or their explicit
``updated``), and deletions already made simply get no tombstone.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .errors import Problem, StoreError
from .model import Site, Snapshot, Story, Tombstone, Update
from .timeutil import MONTH_NAMES, require_aware

NOTICE_DAYS = 7.0  # how long a withdrawn update stays in the feeds as a notice


@dataclass(frozen=True)
class UpdateRecord:
    """What a build published for one update id."""

    story_slug: str
    url: str
    content_hash: str
    updated: datetime

    def __post_init__(self) -> None:
        require_aware(self.updated, "UpdateRecord.updated")


@dataclass(frozen=True)
class History:
    published: Mapping[str, UpdateRecord]  # id -> record, for every update now in a feed
    tombstones: Mapping[str, Tombstone]  # id -> tombstone, while it is kept

    @classmethod
    def empty(cls) -> History:
        return cls(published={}, tombstones={})


_SEAL = object()


def _sealed(seal: object, what: str) -> None:
    if seal is not _SEAL:
        raise TypeError(
            f"a {what} is made by feeds.reconcile only: pass what the store read through "
            "reconcile() (or reconcile_story()), which holds back embargoed updates and "
            "turns retracted and deleted ones into tombstones"
        )


@dataclass(frozen=True)
class Published:
    """A story as readers get it now: its visible updates and its tombstones."""

    story: Story  # only the updates that are out, with their edit times
    tombstones: tuple[Tombstone, ...]  # newest first
    seal: object = field(default=None, repr=False, compare=False)
    # A notice for every update the store says is retracted and readers had:
    # the story page keeps them in its timeline (feeds carry them for a while).
    withdrawn: tuple[Update, ...] = ()

    def __post_init__(self) -> None:
        _sealed(self.seal, "Published story")


@dataclass(frozen=True)
class Reconciled:
    """The whole site as readers get it now."""

    site: Site
    stories: tuple[Published, ...]  # sorted by slug
    tombstones: tuple[Tombstone, ...]  # every story's, newest first
    history: History
    next_due: datetime | None  # the earliest held-back update, for the next build
    seal: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _sealed(self.seal, "Reconciled site")


@dataclass(frozen=True)
class StoryReconciled:
    """:func:`reconcile_story`'s answer for one story."""

    story: Published | None  # None if it was removed (or had problems)
    published: dict[str, UpdateRecord]
    tombstones: dict[str, Tombstone]  # kept ones, unordered
    next_due: datetime | None  # its earliest held-back update
    problems: list[Problem]
    # The earliest moment its output changes by itself, but for tombstones
    # expiring: an update or its ``created`` falling due, a retraction's time.
    next_change: datetime | None = None

    @property
    def history(self) -> History:
        return History(published=self.published, tombstones=self.tombstones)


def reconcile_story(
    story: Story | None,
    history: History,
    now: datetime,
    tombstone_days: int,
    history_complete: bool = False,
    notice_days: float = NOTICE_DAYS,
) -> StoryReconciled:
    """:func:`reconcile` for one story and the part of the history that is its own.

    Update ids contain the story's slug, so stories never share records, and a
    build can reconcile only the stories that changed. ``story`` is None when
    its file is gone: everything it published becomes a tombstone.
    ``history_complete``: the history is this story's own, as recorded (not
    lost), so a retracted update that is not in it never went out.
    """
    require_aware(now, "now")
    now_utc = now.astimezone(UTC)
    published: dict[str, UpdateRecord] = {}
    tombstones: dict[str, Tombstone] = {}
    problems: list[Problem] = []
    next_due: datetime | None = None
    result: Story | None = None
    changes: list[datetime] = []  # future moments its output changes at
    withdrawn: list[Update] = []

    if story is not None:
        # Times from the clock or the history are shown in the story's zone,
        # like the times written in it, so a feed does not mix offsets.
        tz = ZoneInfo(story.timezone)
        visible: list[Update] = []
        for update in story.updates:
            if update.retracted:
                # A tombstone only for what readers may have: an update that was
                # published (or, if the history is lost, was due), never for one
                # withdrawn while still held back.
                old = history.tombstones.get(update.id)
                was_out = update.id in history.published or old is not None
                is_due = update.published.astimezone(UTC) <= now_utc
                if was_out or (is_due and not history_complete):
                    when = update.retracted_at or (old.when if old else now)
                    if when.astimezone(UTC) > now_utc:
                        # No date in a feed is later than the clock: until
                        # then, the time it was first seen withdrawn.
                        when = old.when if old and old.when.astimezone(UTC) <= now_utc else now
                        if update.retracted_at is not None:
                            changes.append(update.retracted_at.astimezone(UTC))
                    tombstones[update.id] = Tombstone(
                        update.id, story.slug, update.url, when, update.retraction_note
                    )
                # A notice in its place when readers had it: a withdrawal dated after
                # its publication (which is in the store, so the page keeps it when
                # the tombstone has long expired), or one with a tombstone now.
                at = update.retracted_at
                dated = (
                    at is not None
                    and is_due
                    and at.astimezone(UTC) >= update.published.astimezone(UTC)
                )
                if dated or update.id in tombstones:
                    noted = tombstones[update.id].when if update.id in tombstones else at
                    assert noted is not None
                    when = noted
                    notice = withdrawal_notice(update, when.astimezone(tz))
                    withdrawn.append(notice)
                    # For a while, the item itself says it was withdrawn, so that
                    # every client that refreshes items shows it (with the RFC
                    # 6721 tombstone beside it for the clients that know those).
                    until = when.astimezone(UTC) + timedelta(days=notice_days)
                    if update.id in tombstones and until > now_utc:
                        visible.append(notice)
                        changes.append(until)
                continue
            if update.published.astimezone(UTC) > now_utc:
                due = update.published.astimezone(UTC)
                next_due = due if next_due is None else min(next_due, due)
                continue
            if update.explicit_updated and update.explicit_updated.astimezone(UTC) > now_utc:
                problems.append(
                    Problem(
                        Path(story.source),
                        update.line,
                        f'updated="..." is later than now ({now_utc:%Y-%m-%d %H:%M} UTC); '
                        "an edit cannot be dated in the future: fix or remove it",
                    )
                )
                continue
            record = history.published.get(update.id)
            if update.explicit_updated is not None:
                updated = update.explicit_updated
            elif record is None:
                updated = update.published  # new, or the history was lost
            elif record.content_hash == update.content_hash:
                updated = record.updated.astimezone(tz)
            else:
                updated = now.astimezone(tz)  # edited: first built now
            if updated.astimezone(UTC) < update.published.astimezone(UTC):
                updated = update.published  # the time itself was corrected to later
            published[update.id] = UpdateRecord(
                story.slug, update.url, update.content_hash, updated
            )
            same = updated == update.updated and updated.utcoffset() == update.updated.utcoffset()
            visible.append(update if same else replace(update, updated=updated))
        created = story.created
        if created is not None and created.astimezone(UTC) > now_utc:
            changes.append(created.astimezone(UTC))
            created = None  # no feed date may be later than the clock
        result = replace(story, updates=tuple(visible), created=created)

    # Published before and gone now (deleted, moved to the future, story removed).
    for update_id, record in history.published.items():
        if update_id not in published and update_id not in tombstones:
            old = history.tombstones.get(update_id)
            tombstones[update_id] = Tombstone(
                update_id, record.story_slug, record.url, old.when if old else now
            )
    # Tombstones of updates still not published are kept for the retention period.
    for update_id, old in history.tombstones.items():
        if update_id not in published and update_id not in tombstones:
            tombstones[update_id] = old
    keep_after = now_utc - timedelta(days=tombstone_days)
    tombstones = {k: t for k, t in tombstones.items() if t.when.astimezone(UTC) > keep_after}
    if next_due is not None:
        changes.append(next_due)
    out = None
    if result is not None and not problems:
        out = Published(result, newest_first(tombstones.values()), _SEAL, tuple(withdrawn))
    return StoryReconciled(
        out, published, tombstones, next_due, problems, min(changes, default=None)
    )


def split_history(history: History) -> dict[str, History]:
    """The history, story by story (slug -> its records)."""
    parts: dict[str, tuple[dict[str, UpdateRecord], dict[str, Tombstone]]] = {}
    for update_id, record in history.published.items():
        parts.setdefault(record.story_slug, ({}, {}))[0][update_id] = record
    for update_id, tomb in history.tombstones.items():
        parts.setdefault(tomb.story_slug, ({}, {}))[1][update_id] = tomb
    return {slug: History(p, t) for slug, (p, t) in parts.items()}


def _spoken(t: datetime) -> str:
    """ "02:00 BST on 2 June 2024": the same in every locale."""
    return f"{t:%H:%M} {t.tzname()} on {t.day} {MONTH_NAMES[t.month - 1]} {t.year}"


def withdrawal_notice(update: Update, when: datetime) -> Update:
    """``update`` as readers get it once withdrawn: its time and id, and in place
    of its title and text a notice saying when and why (never the withdrawn text)."""
    note = " ".join(update.retraction_note.split())
    first = _spoken(update.published)
    at = _spoken(when)
    reason = f": {note}" if note else "."
    plain = f"Withdrawn at {at}{reason} This update was first published at {first}."
    body = (
        f"<p><strong>Withdrawn</strong> at {html.escape(at)}"
        f"{html.escape(reason, quote=False)}</p>\n"
        f"<p>This update was first published at {html.escape(first)}.</p>"
    )
    label = note or update.title
    title = "Withdrawn: " + (label if len(label) <= 90 else label[:89].rstrip() + "…")
    # A second before the withdrawal: the tombstone beside it (RFC 6721) is then the
    # more recent of the two, which tells clients that know tombstones to delete it.
    updated = max(when - timedelta(seconds=1), update.updated, key=lambda t: t.astimezone(UTC))
    return replace(
        update,
        title=title,
        title_is_derived=False,
        text="",
        html=body,
        summary=plain,
        plain=plain,
        updated=updated,
    )


def newest_first(tombstones: Iterable[Tombstone]) -> tuple[Tombstone, ...]:
    return tuple(sorted(tombstones, key=lambda t: (t.when.astimezone(UTC), t.id), reverse=True))


def reconcile(
    snapshot: Snapshot,
    history: History,
    now: datetime,
    tombstone_days: int,
    notice_days: float | None = None,
) -> Reconciled:
    """Every story of ``snapshot`` through :func:`reconcile_story`, and the removed ones."""
    parts = split_history(history)
    if notice_days is None:
        notice_days = snapshot.site.retraction_notice_days
    published: dict[str, UpdateRecord] = {}
    tombstones: dict[str, Tombstone] = {}
    problems: list[Problem] = []
    next_due: datetime | None = None
    stories: list[Published] = []
    present = {story.slug for story in snapshot.stories}
    results = [
        reconcile_story(
            story,
            parts.get(story.slug, History.empty()),
            now,
            tombstone_days,
            history_complete=story.slug in parts,
            notice_days=notice_days,
        )
        for story in snapshot.stories
    ] + [
        reconcile_story(None, part, now, tombstone_days)
        for slug, part in sorted(parts.items())
        if slug not in present
    ]
    for r in results:
        published.update(r.published)
        tombstones.update(r.tombstones)
        problems += r.problems
        if r.next_due is not None:
            next_due = r.next_due if next_due is None else min(next_due, r.next_due)
        if r.story is not None:
            stories.append(r.story)
    if problems:
        raise StoreError(problems)
    return Reconciled(
        site=snapshot.site,
        stories=tuple(stories),
        tombstones=newest_first(tombstones.values()),
        history=History(published=published, tombstones=tombstones),
        next_due=next_due,
        seal=_SEAL,
    )
