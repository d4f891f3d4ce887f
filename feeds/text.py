"""Update bodies: Markdown in, sanitised HTML and plain-text excerpts out.

The HTML goes into feeds and pages that other people's software renders, so
it is sanitised with nh3 (an allow-list: no <script>, no event handlers, no
javascript: URLs) and relative links are made absolute against the story page,
because a feed reader has no page to resolve them against.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape
from typing import TYPE_CHECKING

import markdown_it_pyrs
import nh3

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# CommonMark plus GFM tables and strikethrough. Raw HTML is allowed through the
# parser and then sanitised below, so reporters can paste an <iframe>-free embed.
#
# Bodies and the structure of story files go through markdown-it-pyrs, the
# Rust port of markdown-it by the markdown-it-py maintainers: the same
# CommonMark parser and HTML conventions, about fifteen times faster, and a
# syntax tree with source positions for finding update headings. Parsing
# Markdown was most of the time of a cold build (see bench/).
MARKDOWN = markdown_it_pyrs.MarkdownIt("commonmark").enable_many(["table", "strikethrough"])
# Only the block structure, for finding update headings in a whole story file:
# the inline rules are not needed there and cost a third of the parse.
STRUCTURE = markdown_it_pyrs.MarkdownIt("zero").enable_many(
    [
        "blockquote",
        "code",
        "fence",
        "heading",
        "hr",
        "lheading",
        "list",
        "paragraph",
        "reference",
        "html_block",
        "table",
    ]
)
# The same as MARKDOWN, marking the elements Markdown made (data-sourcepos, which the
# sanitiser then drops), to tell its headings from headings in raw HTML.
_MARKED = markdown_it_pyrs.MarkdownIt("commonmark").enable_many(
    ["table", "strikethrough", "sourcepos"]
)


@lru_cache(maxsize=1)
def _title_markdown() -> MarkdownIt:
    """Titles are plain text in every feed format: inline Markdown is reduced to its
    text, and anything that looks like HTML is kept as the characters typed. (Made
    on first use: most titles have no Markdown, and most builds no new titles.)"""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["strikethrough"])


_TITLE_SYNTAX = re.compile(r"[\\`*_\[\]<>&!~]")

# nh3's defaults minus the obsolete presentational tags.
_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) - {"center", "strike", "tt", "acronym"}
_ALLOWED_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ALLOWED_ATTRIBUTES.setdefault("a", set()).add("title")
_ALLOWED_ATTRIBUTES.setdefault("img", set()).add("title")
_ALLOWED_ATTRIBUTES.setdefault("time", set()).add("datetime")
_ALLOWED_ATTRIBUTES.setdefault("th", set()).add("style")  # markdown-it's table alignment
_ALLOWED_ATTRIBUTES.setdefault("td", set()).add("style")


def sanitise(html: str, page_url: str) -> str:
    """Allow-list sanitising; relative URLs resolved against ``page_url``."""
    return _cleaner(page_url).clean(html)


@lru_cache(maxsize=64)
def _cleaner(page_url: str) -> nh3.Cleaner:
    # Built once per story page: nh3.clean() converts its allow-lists on every
    # call, which costs five times the cleaning itself.
    return nh3.Cleaner(
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        url_relative=("rewrite_with_base", page_url),
        filter_style_properties={"text-align"},
    )


def markdown_to_html(text: str, page_url: str) -> str:
    """Markdown -> sanitised HTML, deterministic for a given input.

    Headings are moved two levels down (# becomes <h3>): on the story page the
    headline is the one <h1> and update titles are <h2>.
    """
    if not text.strip():
        return ""
    if "`" in text and "[" in text:
        # markdown-it-pyrs 0.4 panics on an unclosed "[" before a backtick ("see [`x"),
        # printing a Rust backtrace: such text goes to markdown-it-py, the Python
        # original, which renders the same CommonMark.
        return sanitise(
            _HEADING_TAG.sub(_shift, _fallback_markdown().render(text)), page_url
        ).strip()
    try:
        if _RAW_HEADING.search(text):
            # Only the headings Markdown made move, not those typed as HTML.
            html = _MARKED_HEADING.sub(_shift_marked, _MARKED.render(text))
        else:
            html = _HEADING_TAG.sub(_shift, MARKDOWN.render(text))
    except BaseException as exc:  # pyo3's PanicException is a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        html = _HEADING_TAG.sub(_shift, _fallback_markdown().render(text))  # as above
    return sanitise(html, page_url).strip()


@lru_cache(maxsize=1)
def _fallback_markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


_RAW_HEADING = re.compile(r"<h[1-6]", re.IGNORECASE)
_HEADING_TAG = re.compile(r"<(/?)h([1-6])>")
_MARKED_HEADING = re.compile(r'<h([1-6]) data-sourcepos="[^"]*">(.*?)</h\1>', re.DOTALL)


def _shift(m: re.Match[str]) -> str:
    return f"<{m[1]}h{min(6, int(m[2]) + 2)}>"


def _shift_marked(m: re.Match[str]) -> str:
    level = min(6, int(m[1]) + 2)
    return f"<h{level}>{m[2]}</h{level}>"


def title_text(markdown: str) -> str:
    """A heading's title as plain text: inline Markdown reduced to its text."""
    if not _TITLE_SYNTAX.search(markdown):
        return _collapse(markdown)  # nothing to reduce (most titles)
    return plain_text(_title_markdown().renderInline(markdown))


# Block elements end a sentence visually: their end (and <br>) keeps text apart.
_BREAK = re.compile(r"</(?:p|li|h[1-6]|tr|blockquote)\s*>|<br\b[^>]*>", re.IGNORECASE)
# Any other tag of sanitised HTML (attribute values are double-quoted, may hold ">").
_TAG = re.compile(r'<[a-zA-Z/!](?:"[^"]*"|[^">])*>')


def plain_text(html: str) -> str:
    """The visible text of a sanitised HTML fragment, whitespace collapsed."""
    if not html.strip():
        return ""
    return _collapse(unescape(_TAG.sub("", _BREAK.sub(" ", html))))


def _collapse(text: str) -> str:
    return " ".join(text.split())


def excerpt(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = _collapse(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def derived_title(plain: str, limit: int = 90) -> str:
    """A title for an update whose heading has none: its first sentence, shortened."""
    first = _SENTENCE_END.split(plain, maxsplit=1)[0]
    return excerpt(first, limit)
