"""Score the importer on the evaluation corpus: exact pages and per-field accuracy.

    python eval/import/score.py                 # every folder, a line per page
    python eval/import/score.py --min-exact 95  # exit 1 if fewer pages are exact (CI)
    python eval/import/score.py first -v        # one half, with what differs

A page is *exact* when the importer finds as many updates as expected, each at
the expected UTC instant, each starting and ending with the expected words, and
none holding a text that belongs outside the updates (``absent``). Titles are
scored as a field of their own. The importer is run as ``feeds import`` runs it
(the page read, its updates found and timed, with the JSON's ``timezone`` and
``date`` as --timezone and --date), without writing anything.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from feeds.errors import FeedsError  # noqa: E402
from feeds.importer.page import html_page, looks_like_html, text_page  # noqa: E402
from feeds.importer.resolve import Found, read  # noqa: E402
from feeds.text import markdown_to_html  # noqa: E402

FIELDS = ("count", "time", "first", "last", "title", "absent")


@dataclass
class Score:
    name: str
    exact: bool = False
    error: str = ""
    right: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)

    def count(self, what: str, ok: bool, why: str = "") -> None:
        self.total[what] = self.total.get(what, 0) + 1
        self.right[what] = self.right.get(what, 0) + ok
        if not ok and why:
            self.wrong.append(why)


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans("‘’“”", "''\"\""))
    return text.split()


def _plain(markdown: str) -> str:
    """The text a reader sees: the Markdown rendered, tags dropped, blocks apart."""
    if not markdown:
        return ""
    rendered = markdown_to_html(markdown, "https://eval.test/")
    rendered = re.sub(r"</(?:p|li|h[1-6]|blockquote|tr|td)\s*>|<br\b[^>]*>", " ", rendered)
    return " ".join(html.unescape(re.sub(r"<[^>]*>", "", rendered)).split())


def score_page(page: Path) -> Score:
    expected = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))
    score = Score(page.relative_to(HERE).as_posix())
    raw = page.read_text(encoding="utf-8")
    try:
        is_html = page.suffix == ".html" or looks_like_html(raw)
        reading = read(
            html_page(raw) if is_html else text_page(raw),
            zone=expected["timezone"],
            page_date=date.fromisoformat(expected["date"]) if expected["date"] else None,
        )
        found = reading.updates
    except FeedsError as exc:
        score.error = str(exc).splitlines()[0]
        found = []
    want = expected["updates"]
    score.count("count", len(found) == len(want), f"{len(found)} updates, not {len(want)}")
    for i, update in enumerate(want):
        got: Found | None = found[i] if i < len(found) else None
        _score_update(score, i + 1, update, got)
    texts = [_plain(f.text) + "\n" + f.title for f in found]
    for text in expected["absent"]:
        inside = next((i + 1 for i, t in enumerate(texts) if " ".join(_words(text)) in
                       " ".join(_words(t))), None)  # fmt: skip
        score.count("absent", inside is None, f"update {inside} holds {text!r}")
    score.exact = not score.error and all(
        score.right.get(f, 0) == score.total.get(f, 0) for f in FIELDS if f != "title"
    )
    return score


def _score_update(score: Score, n: int, want: dict[str, str], got: Found | None) -> None:
    if got is None:
        for what in ("time", "first", "last", "title"):
            score.count(what, False)
        return
    when = got.when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if got.when else "-"
    score.count("time", when == want["time"], f"update {n}: {when}, not {want['time']}")
    body = _words(_plain(got.text))
    title = _words(_plain(got.title)) if got.title else []
    expected_title = _words(want["title"]) if want["title"] else []
    first = " ".join(_words(want["first"]))
    # A headline kept as the body's first line reads the same: either is right here,
    # and the title field says which it was. Words are compared as text: "en début"
    # is the end of "jusqu'en début".
    starts = " ".join(body).startswith(first) or (
        expected_title and " ".join(title + body).startswith(" ".join(expected_title + [first]))
    )
    score.count("first", bool(starts), f"update {n} starts {' '.join(body[:4])!r}")
    last = " ".join(_words(want["last"]))
    ends = " ".join(body).endswith(last)
    score.count("last", ends, f"update {n} ends {' '.join(body[-4:])!r}")
    score.count("title", title == expected_title, f"update {n} title {' '.join(title)!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    folders = sorted(p.name for p in HERE.iterdir() if p.is_dir() and not p.name.startswith("_"))
    parser.add_argument("halves", nargs="*", default=folders, help="folders (default: all)")
    parser.add_argument("--min-exact", type=float, default=0.0, help="percent of exact pages")
    parser.add_argument("-v", "--verbose", action="store_true", help="say what differs")
    args = parser.parse_args()
    everything: list[Score] = []
    for half in args.halves:
        scores = [score_page(p) for p in sorted((HERE / half).glob("*.*")) if p.suffix != ".json"]
        for s in scores:
            mark = "exact" if s.exact else "WRONG"
            print(f"{mark:6} {s.name}" + (f"  ({s.error})" if s.error else ""))
            if args.verbose and not s.exact:
                for why in s.wrong[:8]:
                    print(f"         {why}")
        _summary(half, scores)
        everything += scores
    if len(args.halves) > 1:
        _summary("all", everything)
    exact = 100 * sum(s.exact for s in everything) / max(1, len(everything))
    if exact < args.min_exact:
        print(f"FAIL: {exact:.1f}% of pages exact, below {args.min_exact:g}%")
        return 1
    return 0


def _summary(label: str, scores: list[Score]) -> None:
    exact = sum(s.exact for s in scores)
    fields = []
    for what in FIELDS:
        right = sum(s.right.get(what, 0) for s in scores)
        total = sum(s.total.get(what, 0) for s in scores)
        fields.append(f"{what} {100 * right / max(1, total):.1f}%")
    share = 100 * exact / max(1, len(scores))
    print(f"== {label}: {exact}/{len(scores)} pages exact ({share:.1f}%); " + ", ".join(fields))


if __name__ == "__main__":
    sys.exit(main())
