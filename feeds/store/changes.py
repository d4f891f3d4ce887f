"""The changes authoring makes to a story, as data, and the check that each did exactly that.

Every store applies these (files by editing lines, others as they store
stories) and then :func:`verify` holds the result to the change: the update
added or changed is the only one that moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..model import Story


@dataclass(frozen=True)
class NewUpdate:
    when: datetime  # aware, in the story's zone
    anchor: str
    text: str  # Markdown, may be "" when there is a title
    title: str = ""
    author: str | None = None  # "Name" or "Name <email>"


@dataclass(frozen=True)
class CreateStory:
    title: str
    timezone: str
    summary: str = ""
    link: str | None = None
    created: datetime | None = None
    background: tuple[str, ...] = ()  # paragraphs
    updates: tuple[NewUpdate, ...] = ()  # any order; written newest first


@dataclass(frozen=True)
class AddUpdate:
    update: NewUpdate


@dataclass(frozen=True)
class ReviseUpdate:
    """Change one update; ``None`` leaves a part as it is."""

    anchor: str
    text: str | None = None
    title: str | None = None
    updated: datetime | None = None  # an explicit edit time
    retract: bool = False
    retracted_at: datetime | None = None  # with retract: when (None: never published)
    note: str | None = None  # with retract: why


@dataclass(frozen=True)
class EndStory:
    pass


Change = CreateStory | AddUpdate | ReviseUpdate | EndStory


def verify(change: Change, before: Story | None, after: Story) -> str | None:
    """What is wrong with ``after`` as the result of ``change`` (None: exactly right)."""
    if isinstance(change, CreateStory):
        expected = {f"{after.feed_id}/{u.anchor}" for u in change.updates}
        got = {u.id for u in after.updates}
        if got != expected:
            return _difference(expected, got)
        return None
    assert before is not None
    if isinstance(change, EndStory):
        wrong = None if after.status == "ended" else "status did not change"
        return wrong or _exactly(before, after)
    if isinstance(change, AddUpdate):
        return _exactly(before, after, added=f"{before.feed_id}/{change.update.anchor}")
    return _exactly(before, after, changed=f"{before.feed_id}/{change.anchor}")


def _difference(expected: set[str], got: set[str]) -> str:
    extra = sorted(got - expected)
    if extra:
        return (
            f"the text would create another update ({extra[0]}): a line in it starts like "
            "an update heading (## YYYY-MM-DD HH:MM); reword it or indent it"
        )
    return f"the change would remove {sorted(expected - got)[0]}"


def _exactly(
    before: Story, after: Story, *, added: str | None = None, changed: str | None = None
) -> str | None:
    """Did the change do what was asked, and nothing to any other update?"""
    old = {u.id: u for u in before.updates}
    new = {u.id: u for u in after.updates}
    expected = set(old) | ({added} if added else set())
    if set(new) != expected:
        return _difference(expected, set(new))
    for update_id, update in old.items():
        if update_id == changed:
            continue
        other = new[update_id]
        if (other.content_hash, other.retracted, other.explicit_updated) != (
            update.content_hash,
            update.retracted,
            update.explicit_updated,
        ):
            return f"the change would also alter {update_id}, which it should not"
    return None
