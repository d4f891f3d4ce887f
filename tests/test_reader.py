"""A real feed reader subscribed to the built feeds across several builds.

lemon24's `reader` stores entries between polls, as a feed reader does: this
is what subscribers see when updates are added, edited and deleted.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from reader import make_reader

from .conftest import SourceFactory, story
from .feedcheck import check_atom
from .servers import static_server

AT = "{http://purl.org/atompub/tombstones/1.0}"

BODY = """
## 2024-06-01 10:00 — Bridge closed {#bridge}

Police have closed the bridge.

## 2024-06-01 09:00 — Storm arrives {#storm}

The first gusts have arrived.
"""


def checksums(out: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(out)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["atom.xml", "rss.xml"])
def test_subscriber_sees_each_update_once(
    fmt: str, make_source: SourceFactory, tmp_path: Path
) -> None:
    src = make_source(s=story(body=BODY))
    out = tmp_path / "out"
    clock = [datetime(2024, 6, 1, 12, 0, tzinfo=UTC)]

    def build() -> None:
        src.build(clock=lambda: clock[0])

    build()
    with static_server(out) as base:
        url = f"{base}s/{fmt}"
        r = make_reader(str(tmp_path / "reader.sqlite"))
        r.add_feed(url)

        def poll() -> dict[str, object]:
            r.update_feed(url)
            return {e.id: e for e in r.get_entries(feed=url)}

        # First poll: everything.
        entries = poll()
        assert sorted(entries) == ["tag:news.test,2024:s/bridge", "tag:news.test,2024:s/storm"]

        # One update added: exactly one new entry.
        src.write(
            "s",
            story(body="## 2024-06-01 11:00 — Bridge reopens {#reopen}\n\nOpen again.\n" + BODY),
        )
        clock[0] = datetime(2024, 6, 1, 12, 5, tzinfo=UTC)
        build()
        entries = poll()
        assert len(entries) == 3
        assert entries["tag:news.test,2024:s/reopen"].title == "Bridge reopens"

        # An edit: the same entry, new text, marked updated; no new entry.
        text = src.read("s").replace("closed the bridge.", "closed both bridges.")
        src.write("s", text)
        clock[0] = datetime(2024, 6, 1, 12, 10, tzinfo=UTC)
        build()
        entries = poll()
        assert len(entries) == 3
        edited = entries["tag:news.test,2024:s/bridge"]
        assert "both bridges" in edited.get_content().value  # type: ignore[union-attr]
        if fmt == "atom.xml":
            assert edited.updated == clock[0]
        else:
            assert edited.updated is None or edited.updated == clock[0]

        # Nothing changed: nothing new, and not one byte or mtime in out/ moves.
        before = checksums(out)
        clock[0] = datetime(2024, 6, 1, 12, 15, tzinfo=UTC)
        build()
        assert checksums(out) == before
        assert len(poll()) == 3

        # A deletion: the entry's tombstone is in the Atom feed.
        src.write("s", text.split("## 2024-06-01 09:00")[0])
        clock[0] = datetime(2024, 6, 1, 12, 20, tzinfo=UTC)
        build()
        poll()
        atom = check_atom((out / "s" / "atom.xml").read_bytes())
        (tomb,) = atom.findall(f"{AT}deleted-entry")
        assert tomb.get("ref") == "tag:news.test,2024:s/storm"
        assert tomb.get("when") == "2024-06-01T12:20:00Z"
        site = etree.fromstring((out / "atom.xml").read_bytes())
        assert [t.get("ref") for t in site.iter(f"{AT}deleted-entry")] == [tomb.get("ref")]
        rss = (out / "s" / "rss.xml").read_bytes()
        assert b"s/storm" not in rss
        r.close()
