"""Real feed clients through a story's life cycle: Debian's newsboat and rss2email poll
`feeds serve` on 127.0.0.1 while a story is built, added to, edited, corrected,
retracted and built again with nothing to do; the tests assert what each client kept
(newsboat's cache) or sent (rss2email's mail) at each step.

Needs the Debian packages newsboat and rss2email (`.ci/run` installs them). Without
them these tests are skipped, unless FEEDS_REQUIRE_CLIENTS=1 (as in CI) makes that a
failure. Each step's expected count is in the test's name, in that order.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from lxml import etree

from .clients import Newsboat, Rss2email, Site, client, paragraphs, words

pytestmark = pytest.mark.slow

SLUG = "harbour-fire"
OTHER = "ferry-strike"

# The smoke update is long. With html-mail off (its default) rss2email mails a
# text/plain version before any HTML one (an Atom <summary type="text"> would win
# over <content>), and of HTML ones the first it finds (RSS content:encoded before
# <description>). The RSS <description> is an excerpt without the last paragraph
# (the rss2email test checks), so a mail with that paragraph has the whole text.
SMOKE = [
    "Thick black smoke is rising over the harbour and drifting towards the old town,"
    " where residents have been told to keep their windows shut until further notice.",
    "The fire service has sent twelve engines and a fireboat; crews are pumping sea water"
    " onto the roof of the warehouse, which held paint, rope and cork for the boatyards.",
    "Ferries to the islands are cancelled for the rest of the day, the port authority said.",
]
FIRST_REPORT = ["A fire has broken out in a warehouse on the north quay."]
FIRST_REPORT_EDITED = ["A fire has broken out in two warehouses on the north quay."]
CASUALTIES = ["Firefighters say ten people were hurt, two of them seriously."]
UNDER_CONTROL = ["The fire service says the fire is under control."]
CORRECTION = "An earlier version of this update named the wrong quay."
RETRACTION = "The number of injured could not be confirmed."

STORY = f"""\
+++
title = "Fire at the harbour"
summary = "A warehouse fire on the north quay."
timezone = "Europe/Lisbon"
+++

## 2026-03-01 10:10 — Ten people hurt {{#casualties}}

{CASUALTIES[0]}

## 2026-03-01 10:05 — Smoke over the harbour {{#smoke}}

{SMOKE[0]}

{SMOKE[1]}

{SMOKE[2]}

## 2026-03-01 10:00 — Warehouse fire reported {{#first-report}}

{FIRST_REPORT[0]}
"""

OTHER_STORY = """\
+++
title = "Ferry strike"
timezone = "Europe/Lisbon"
+++

## 2026-03-01 09:30 — Crews walk out {#walkout}

Ferry crews walked out at dawn over pay.

## 2026-03-01 09:00 — Strike called {#called}

The union has called a strike on the island ferries.
"""

# Europe/Lisbon is on UTC in March, so the story's local times are these UTC times.
STEPS = ["subscribe", "add", "edit", "correct", "retract", "noop"]
NOW = {
    "subscribe": "2026-03-01T10:15:00Z",
    "add": "2026-03-01T10:20:00Z",
    "edit": "2026-03-01T10:25:00Z",
    "correct": "2026-03-01T10:30:00Z",
    "retract": "2026-03-01T10:35:00Z",
    "noop": "2026-03-01T10:40:00Z",
}


def life_cycle(site: Site) -> Iterator[str]:
    """Take the story through its life, one step a time: yields each step's name once
    its build is done, for the test to poll its clients and assert (the first build,
    at NOW["subscribe"], is the fixture's)."""
    yield "subscribe"
    title, anchor = "Fire under control", "under-control"
    site.feeds("add", SLUG, UNDER_CONTROL[0], "--title", title, "--id", anchor, now=NOW["add"])
    site.build(NOW["add"])
    yield "add"
    site.feeds("edit", SLUG, "first-report", "--text", FIRST_REPORT_EDITED[0], now=NOW["edit"])
    site.build(NOW["edit"])
    yield "edit"
    site.feeds("correct", SLUG, "smoke", "--note", CORRECTION, now=NOW["correct"])
    site.build(NOW["correct"])
    yield "correct"
    site.feeds("retract", SLUG, "casualties", "--note", RETRACTION, now=NOW["retract"])
    site.build(NOW["retract"])
    yield "retract"
    before = site.snapshot()
    site.build(NOW["noop"])
    assert site.snapshot() == before, "step noop: a build with nothing to do rewrote files"
    yield "noop"


def reached(step: str, milestone: str) -> bool:
    return STEPS.index(step) >= STEPS.index(milestone)


def titles(step: str) -> dict[str, str]:
    """Each update's title (by anchor) as a reader should see it after ``step``."""
    expected = {
        "casualties": "Ten people hurt",
        "smoke": "Smoke over the harbour",
        "first-report": "Warehouse fire reported",
    }
    if reached(step, "add"):
        expected["under-control"] = "Fire under control"
    if reached(step, "retract"):
        expected["casualties"] = f"Withdrawn: {RETRACTION}"
    return expected


def check_text(step: str, anchor: str, text: list[str]) -> None:
    """The paragraphs a client shows for update ``anchor`` after ``step`` are the
    update's whole text, with the edit, the correction and the retraction as they came."""
    where = f"step {step}: {anchor}"
    if anchor == "first-report":
        assert text == (FIRST_REPORT_EDITED if reached(step, "edit") else FIRST_REPORT), where
    elif anchor == "smoke" and reached(step, "correct"):
        # feeds correct: "**Correction (local time):** note" above the text.
        assert text == [f"Correction (2026-03-01 10:30): {CORRECTION}", *SMOKE], where
    elif anchor == "smoke":
        assert text == SMOKE, where
    elif anchor == "casualties" and reached(step, "retract"):
        # A notice: when it was withdrawn (10:35) and first published (10:10), the
        # note, and never the withdrawn text.
        notice = " ".join(text)
        assert RETRACTION in notice and "10:35" in notice and "10:10" in notice, (where, text)
        assert "ten people" not in notice and CASUALTIES[0] not in notice, (where, text)
    elif anchor == "casualties":
        assert text == CASUALTIES, where
    else:
        assert (anchor, text) == ("under-control", UNDER_CONTROL), where


@pytest.fixture
def newsboat() -> str:
    return client("newsboat", "newsboat")


@pytest.fixture
def r2e() -> str:
    return client("r2e", "rss2email")


def served(root: Path, stories: dict[str, str]) -> Iterator[Site]:
    site = Site(root, "clients.test,2026", stories)
    site.build(NOW["subscribe"])
    with site.serve():
        yield site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The harbour-fire story, built at NOW["subscribe"] and served."""
    yield from served(tmp_path / "site", {SLUG: STORY})


@pytest.fixture
def two_stories(tmp_path: Path) -> Iterator[Site]:
    """The harbour-fire and ferry-strike stories, built at NOW["subscribe"] and served."""
    yield from served(tmp_path / "site", {SLUG: STORY, OTHER: OTHER_STORY})


def download(url: str, path: Path) -> Path:
    """What a reader does with the site's OPML link (only 127.0.0.1, no proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=20) as response:
        path.write_bytes(response.read())
    return path


# --- newsboat ---------------------------------------------------------------------------


def test_newsboat_story_life_cycle_items_3_4_4_4_4_4(
    newsboat: str, site: Site, tmp_path: Path
) -> None:
    """Four newsboat users: the story's RSS feed, its Atom feed, both feeds in one
    urls file, and the Atom feed with `reset-unread-on-update` set for it. Each reads
    everything after every step (mark-all-read), so "unread" is what the step brought.

    Items per step: subscribe 3, add 4 (one new), edit 4, correct 4, retract 4,
    noop 4, for every user: newsboat keys its cache on the guid alone, across
    feeds, so the user with both feeds has each update once, not twice (each row
    then belongs to whichever feed was fetched last). With newsboat's defaults an
    edited, corrected or withdrawn item keeps the read state it had: only the user
    with reset-unread-on-update sees it come back unread.
    """
    rss, atom = site.url(f"{SLUG}/rss.xml"), site.url(f"{SLUG}/atom.xml")
    users = {
        "rss": Newsboat(newsboat, tmp_path / "rss", [rss]),
        "atom": Newsboat(newsboat, tmp_path / "atom", [atom]),
        "both": Newsboat(newsboat, tmp_path / "both", [rss, atom]),
        "atom+reset": Newsboat(
            newsboat, tmp_path / "reset", [atom], config=f'reset-unread-on-update "{atom}"\n'
        ),
    }
    counts = {"subscribe": 3, "add": 4, "edit": 4, "correct": 4, "retract": 4, "noop": 4}
    changed = {"edit": "first-report", "correct": "smoke", "retract": "casualties"}
    rows: dict[str, dict[str, int]] = {}
    for step in life_cycle(site):
        polled = len(site.requests())
        for name, user in users.items():
            where = f"step {step}, newsboat user {name}"
            before = user.dump() if step == "noop" else None
            user.reload()
            items = user.items()
            guids = [item.guid for item in items]
            assert len(items) == counts[step], f"{where}: {len(items)} items, {guids}"
            assert len(set(guids)) == len(guids), f"{where}: an item twice: {guids}"
            if name == "both":  # each row is the Atom feed's, fetched after the RSS feed
                assert {i.feedurl for i in items} == {atom}, where
            expected = titles(step)
            assert {i.guid: i.title for i in items} == {
                site.guid(SLUG, anchor): title for anchor, title in expected.items()
            }, where
            for anchor in expected:
                (item,) = (i for i in items if i.guid == site.guid(SLUG, anchor))
                check_text(step, anchor, paragraphs(item.content))
            # The same rows as before: an edit updated its item in place.
            ids = {item.guid: item.id for item in items}
            if step != "subscribe":
                assert {g: ids[g] for g in rows[name]} == rows[name], f"{where}: rows moved"
            rows[name] = ids
            if before is not None:
                assert user.dump() == before, (
                    f"{where}: a reload with nothing new changed the cache"
                )
            unread = {i.guid for i in items if i.unread}
            if step == "subscribe":
                want = set(guids)
            elif step == "add":
                want = {site.guid(SLUG, "under-control")}
            elif name == "atom+reset" and step in changed:
                want = {site.guid(SLUG, changed[step])}
            else:
                want = set()
            assert unread == want, f"{where}: unread {unread}"
            assert user.unread_count() == len(want), where
            user.mark_all_read()
        requests = site.requests_after(polled, 5)
        assert len(requests) == 5, requests  # one per feed and user
        if step == "noop":
            # Every user already had the validators (newsboat stores them from its
            # second fetch on), so every poll is a 304.
            assert [status for _, status in requests] == [304] * 5, f"step noop: {requests}"
        else:
            assert [status for _, status in requests] == [200] * 5, f"step {step}: {requests}"


def test_newsboat_gets_an_edit_built_in_the_same_second_as_the_last_build(
    newsboat: str, site: Site, tmp_path: Path
) -> None:
    """Two builds within one second, newsboat polling between them (a reporter fixing
    a typo right after `feeds add --build`; `feeds worker` builds within ~65 ms).
    A replaced file is dated in a later whole second than the one it replaces, so
    Last-Modified moves and libcurl's If-Modified-Since check keeps the new feed."""
    user = Newsboat(newsboat, tmp_path / "user", [site.url(f"{SLUG}/rss.xml")])
    user.reload()
    user.reload()  # newsboat stores a feed's validators from its second fetch on
    site.feeds("add", SLUG, UNDER_CONTROL[0], "--id", "under-control", now=NOW["add"])
    story = site.root / "data" / f"{SLUG}.md"
    edited = story.read_text(encoding="utf-8").replace(FIRST_REPORT[0], FIRST_REPORT_EDITED[0])
    time.sleep(1.05 - time.time() % 1)
    second = int(time.time())
    site.build_at_once(NOW["add"])
    user.reload()
    story.write_text(edited, encoding="utf-8")  # by hand, to fit in the second
    site.build_at_once(NOW["edit"])
    if time.time() > second + 0.95:
        pytest.skip("the two builds did not fit in one second on this machine")
    user.reload()
    user.reload()
    (item,) = (i for i in user.items() if i.guid == site.guid(SLUG, "first-report"))
    assert paragraphs(item.content) == FIRST_REPORT_EDITED


def test_newsboat_opml_import_subscribes_each_story_once_5_then_6(
    newsboat: str, two_stories: Site, tmp_path: Path
) -> None:
    """`newsboat -i feeds.opml`: one subscription per story (its Atom feed), none to the
    site-wide feed, so after a reload every update is there once: 3 + 2 = 5 items;
    after one update is added to the second story, 6, exactly one of them new."""
    site = two_stories
    user = Newsboat(newsboat, tmp_path / "opml", [])
    user.import_opml(download(site.url("feeds.opml"), tmp_path / "feeds.opml"))
    assert sorted(user.subscriptions()) == [
        site.url(f"{OTHER}/atom.xml"),
        site.url(f"{SLUG}/atom.xml"),
    ]
    user.reload()
    items = user.items()
    guids = sorted(item.guid for item in items)
    assert guids == sorted(
        [site.guid(SLUG, a) for a in ("casualties", "smoke", "first-report")]
        + [site.guid(OTHER, a) for a in ("walkout", "called")]
    ), "step subscribe: 5 items, each update once"
    for anchor in ("casualties", "smoke", "first-report"):
        (item,) = (i for i in items if i.guid == site.guid(SLUG, anchor))
        check_text("subscribe", anchor, paragraphs(item.content))

    user.mark_all_read()
    site.feeds("add", OTHER, "Talks resume at noon.", "--id", "talks", now=NOW["add"])
    site.build(NOW["add"])
    user.reload()
    items = user.items()
    assert len(items) == 6, f"step add: {len(items)} items"
    new = [i for i in items if i.unread]
    assert [(i.guid, paragraphs(i.content)) for i in new] == [
        (site.guid(OTHER, "talks"), ["Talks resume at noon."])
    ], "step add: exactly one new item"


# --- rss2email ------------------------------------------------------------------------------


def mailed(messages: list[EmailMessage]) -> dict[str, tuple[str, str]]:
    """X-RSS-ID -> (subject, plain-text body) of each message; each id once."""
    ids = [str(m["X-RSS-ID"]) for m in messages]
    assert len(set(ids)) == len(ids), f"an update mailed twice: {ids}"
    return {str(m["X-RSS-ID"]): (str(m["Subject"]), body(m)) for m in messages}


def body(message: EmailMessage) -> str:
    assert message.get_content_type() == "text/plain", message.get_content_type()
    return str(message.get_content())


def check_mail(site: Site, step: str, guid: str, subject: str, text: str) -> None:
    """The mail of an update: its title as subject, its whole text in the body."""
    anchor = guid.rsplit("/", 1)[1]
    assert subject == titles(step)[anchor], (step, guid, subject)
    text = words(text.replace("**", ""))  # html2text writes <strong> as **
    if step == "retract" and anchor == "casualties":
        assert RETRACTION in text and "ten people" not in text, (step, text)
        return
    for paragraph in {
        "first-report": FIRST_REPORT_EDITED if reached(step, "edit") else FIRST_REPORT,
        "smoke": SMOKE,
        "casualties": CASUALTIES,
        "under-control": UNDER_CONTROL,
    }[anchor]:
        assert paragraph in text, (step, guid, paragraph, text)
    if step == "correct" and anchor == "smoke":
        assert text.startswith(f"Correction (2026-03-01 10:30): {CORRECTION}"), text


def test_rss2email_story_life_cycle_mails_3_1_0_0_0_0(r2e: str, site: Site, tmp_path: Path) -> None:
    """Two rss2email users with its default settings (plain-text mail, trust-guid,
    no reply-changes), one on the story's Atom feed, one on its RSS feed.

    Mails per step: subscribe 3 (each update's whole text, the part past any excerpt
    included), add 1, edit 0, correct 0, retract 0, noop 0 (and the server answered
    304). rss2email mails an item once per guid and, by default, never again: a
    reader by mail never gets an edit, a correction or the notice that an update was
    withdrawn (see the reply-changes test for the setting that sends them).
    """
    users = {
        "atom": Rss2email(r2e, tmp_path / "atom"),
        "rss": Rss2email(r2e, tmp_path / "rss"),
    }
    for name, user in users.items():
        user.add(SLUG, site.url(f"{SLUG}/{name}.xml"))
    # What rss2email really does with its defaults: it keys what it mailed on the
    # guid (trust-guid = True) and mails a changed item again only with
    # reply-changes = True, so an edit, a correction and a retraction send nothing.
    counts = {"subscribe": 3, "add": 1, "edit": 0, "correct": 0, "retract": 0, "noop": 0}
    for step in life_cycle(site):
        if step == "subscribe":
            # RSS <description> is an excerpt: the smoke update's last paragraph is not
            # in it, so a mail that has it took the whole text (content:encoded).
            rss = etree.parse(site.out / SLUG / "rss.xml")
            excerpt = rss.findtext(f".//item[guid='{site.guid(SLUG, 'smoke')}']/description")
            assert excerpt and SMOKE[2] not in excerpt
        polled = len(site.requests())
        for name, user in users.items():
            messages = mailed(user.run())
            where = f"step {step}, rss2email user {name}"
            assert len(messages) == counts[step], f"{where}: {len(messages)} mails"
            for guid, (subject, text) in messages.items():
                check_mail(site, step, guid, subject, text)
            if step == "subscribe":
                assert sorted(messages) == sorted(site.guid(SLUG, a) for a in titles(step))
            if step == "add":
                assert list(messages) == [site.guid(SLUG, "under-control")], where
        if step == "noop":
            requests = site.requests_after(polled, 2)
            assert [status for _, status in requests] == [304, 304], f"step noop: {requests}"


def test_rss2email_reply_changes_mails_3_1_1_1_1_0(r2e: str, site: Site, tmp_path: Path) -> None:
    """rss2email with `reply-changes = True` (everything else its default), on the
    story's Atom feed: every change of an item's text is mailed again, as a reply to
    the item's first mail. Mails per step: subscribe 3, add 1, edit 1, correct 1,
    retract 1 (the notice, not the withdrawn text), noop 0."""
    user = Rss2email(r2e, tmp_path / "reply", **{"reply-changes": "True"})
    user.add(SLUG, site.url(f"{SLUG}/atom.xml"))
    counts = {"subscribe": 3, "add": 1, "edit": 1, "correct": 1, "retract": 1, "noop": 0}
    changed = {"edit": "first-report", "correct": "smoke", "retract": "casualties"}
    first: dict[str, str] = {}
    for step in life_cycle(site):
        messages = user.run()
        assert len(messages) == counts[step], f"step {step}: {len(messages)} mails"
        for message in messages:
            guid = str(message["X-RSS-ID"])
            check_mail(site, step, guid, str(message["Subject"]), body(message))
            if step in changed:
                assert guid == site.guid(SLUG, changed[step]), step
                assert message["In-Reply-To"] == first[guid], f"step {step}: not a reply"
            else:
                first[guid] = str(message["Message-ID"])


def test_rss2email_opml_import_mails_each_update_once_5_then_0(
    r2e: str, two_stories: Site, tmp_path: Path
) -> None:
    """`r2e opmlimport feeds.opml`: one feed per story, none site-wide, so the first
    run mails each of the 3 + 2 updates exactly once (5 mails, not 10), then 0."""
    site = two_stories
    user = Rss2email(r2e, tmp_path / "opml")
    user.opmlimport(download(site.url("feeds.opml"), tmp_path / "feeds.opml"))
    assert sorted(user.feed_urls()) == [site.url(f"{OTHER}/atom.xml"), site.url(f"{SLUG}/atom.xml")]
    messages = mailed(user.run())
    assert sorted(messages) == sorted(
        [site.guid(SLUG, a) for a in ("casualties", "smoke", "first-report")]
        + [site.guid(OTHER, a) for a in ("walkout", "called")]
    ), "step subscribe: 5 mails, each update once"
    for anchor in ("casualties", "smoke", "first-report"):
        subject, text = messages[site.guid(SLUG, anchor)]
        check_mail(site, "subscribe", site.guid(SLUG, anchor), subject, text)
    assert user.run() == [], "step noop: 0 mails"
