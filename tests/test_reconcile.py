"""reconcile(): edits, embargo, retractions and deletions, against a pinned clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds import StoreError
from feeds.reconcile import History, Reconciled, reconcile

from .conftest import StoreFactory, load_store, story

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

BODY = """
## 2024-06-01 10:00 — Second {#second}

Second text.

## 2024-06-01 09:00 — First {#first}

First text.
"""


def run(root: Path, history: History, now: datetime, days: int = 30) -> Reconciled:
    return reconcile(load_store(root), history, now, days)


def updates(result: Reconciled) -> dict[str, datetime]:
    return {u.anchor: u.updated for p in result.stories for u in p.story.updates}


def write(root: Path, body: str, front: str = 'title = "S"') -> None:
    (root / "s.md").write_text(story(front, body), encoding="utf-8")


def test_new_updates_are_updated_when_published(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY))
    first = run(root, History.empty(), T0)
    assert updates(first) == {
        "second": datetime(2024, 6, 1, 9, 0, tzinfo=UTC),
        "first": datetime(2024, 6, 1, 8, 0, tzinfo=UTC),
    }
    assert first.tombstones == ()


def test_an_edit_moves_updated_to_the_build_that_first_saw_it(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY))
    h1 = run(root, History.empty(), T0).history
    write(root, BODY.replace("First text.", "First text, corrected."))
    later = T0 + timedelta(hours=1)
    second = run(root, h1, later)
    assert updates(second)["first"] == later
    assert updates(second)["second"] == datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
    # Later builds keep that time: it is when the edit happened, not "now".
    third = run(root, second.history, later + timedelta(hours=5))
    assert updates(third)["first"] == later
    # Shown in the story's zone, like every other time in its feed.
    assert updates(third)["first"].utcoffset() == timedelta(hours=1)


def test_title_and_time_changes_are_edits_too(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY))
    h1 = run(root, History.empty(), T0).history
    write(root, BODY.replace("— First {#first}", "— First, retitled {#first}"))
    assert updates(run(root, h1, T0 + timedelta(hours=1)))["first"] == T0 + timedelta(hours=1)
    write(root, BODY.replace("## 2024-06-01 09:00", "## 2024-06-01 09:05"))
    assert updates(run(root, h1, T0 + timedelta(hours=2)))["first"] == T0 + timedelta(hours=2)


def test_explicit_updated_wins_and_may_not_be_in_the_future(make_store: StoreFactory) -> None:
    body = BODY.replace("{#first}", '{#first updated="2024-06-01 11:30"}')
    root = make_store(s=story(body=body))
    assert updates(run(root, History.empty(), T0))["first"] == datetime(
        2024, 6, 1, 10, 30, tzinfo=UTC
    )
    with pytest.raises(StoreError, match=r's\.md:\d+: updated="\.\.\." is later than now'):
        run(root, History.empty(), datetime(2024, 6, 1, 10, 0, tzinfo=UTC))


def test_future_updates_are_held_until_due(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY))
    before = run(root, History.empty(), datetime(2024, 6, 1, 8, 30, tzinfo=UTC))
    assert list(updates(before)) == ["first"]
    assert before.next_due == datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
    after = run(root, before.history, datetime(2024, 6, 1, 9, 0, tzinfo=UTC))
    assert list(updates(after)) == ["second", "first"]
    assert after.next_due is None
    assert after.tombstones == ()


def test_retraction_is_a_tombstone_with_its_note(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY))
    h1 = run(root, History.empty(), T0).history
    write(root, BODY.replace("{#first}", '{#first retracted note="Wrong town."}'))
    later = T0 + timedelta(hours=1)
    result = run(root, h1, later)
    (tomb,) = result.tombstones
    assert (tomb.id, tomb.when, tomb.note) == ("tag:news.test,2024:s/first", later, "Wrong town.")
    # For a week the item itself is a notice: same id and time, updated when withdrawn.
    (published,) = result.stories
    notice = next(u for u in published.story.updates if u.anchor == "first")
    assert notice.retracted and notice.title == "Withdrawn: Wrong town."
    assert notice.updated == later - timedelta(seconds=1)  # just before its tombstone
    assert "Wrong town." in notice.html
    assert "first" not in notice.plain.lower().split()[:1]  # the withdrawn text is not in it
    assert [u.anchor for u in published.withdrawn] == ["first"]
    # The retraction time is kept from the first build that saw it.
    again = run(root, result.history, later + timedelta(days=1))
    assert again.tombstones[0].when == later
    # After the notice period the feeds carry only the tombstone; the page keeps the notice.
    week = run(root, result.history, later + timedelta(days=8))
    assert list(updates(week)) == ["second"]
    assert week.tombstones[0].when == later
    assert [u.anchor for u in week.stories[0].withdrawn] == ["first"]


def test_deleted_update_becomes_a_tombstone_then_expires(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY))
    h1 = run(root, History.empty(), T0).history
    write(root, BODY.split("## 2024-06-01 09:00")[0])
    later = T0 + timedelta(hours=1)
    result = run(root, h1, later, days=2)
    assert [t.url for t in result.tombstones] == ["https://news.test/live/s/#first"]
    kept = run(root, result.history, later + timedelta(days=1), days=2)
    assert [t.when for t in kept.tombstones] == [later]
    gone = run(root, kept.history, later + timedelta(days=3), days=2)
    assert gone.tombstones == ()
    # Forgotten, and it does not come back.
    assert list(updates(run(root, gone.history, later + timedelta(days=4)))) == ["second"]


def test_re_added_update_loses_its_tombstone(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY))
    h1 = run(root, History.empty(), T0).history
    write(root, BODY.split("## 2024-06-01 09:00")[0])
    h2 = run(root, h1, T0 + timedelta(hours=1)).history
    write(root, BODY)
    back = run(root, h2, T0 + timedelta(hours=2))
    assert back.tombstones == ()
    assert "first" in updates(back)


def test_removed_story_leaves_tombstones_for_its_updates(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY), t=story(body=BODY))
    h1 = run(root, History.empty(), T0).history
    (root / "t.md").unlink()
    result = run(root, h1, T0 + timedelta(hours=1))
    assert sorted(t.id for t in result.tombstones) == [
        "tag:news.test,2024:t/first",
        "tag:news.test,2024:t/second",
    ]


def test_lost_history_changes_no_id_or_published_time(make_store: StoreFactory) -> None:
    root = make_store(s=story(body=BODY))
    h1 = run(root, History.empty(), T0).history
    write(root, BODY.replace("First text.", "Edited."))
    with_history = run(root, h1, T0 + timedelta(hours=1)).stories[0].story.updates
    without = run(root, History.empty(), T0 + timedelta(hours=1)).stories[0].story.updates
    assert [(u.id, u.published) for u in with_history] == [(u.id, u.published) for u in without]
    assert [u.updated for u in without] == [u.published for u in without]


def test_an_update_withdrawn_before_it_was_due_leaves_no_trace(make_store: StoreFactory) -> None:
    root = make_store(
        s=story(body="## 2024-06-01 15:00 {#later retracted}\n\nEmbargoed.\n\n" + BODY)
    )
    result = run(root, History.empty(), T0)  # 12:00 UTC, 13:00 in Lisbon: 15:00 is not due
    assert result.tombstones == ()
    assert "later" not in updates(result)
