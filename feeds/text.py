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


# Limits on what one text may make, so that a file under the size limit cannot
# take minutes (the sanitiser's HTML parser is quadratic in nesting depth: 36 s
# for 40,000 nested lists) or gigabytes (Markdown tables cost ~2 KB of parser
# memory per cell) to build. Far beyond what a news update holds.
MAX_NESTING = 100
MAX_TABLE_CELLS = 20_000


class TextLimit(ValueError):
    """A text beyond MAX_NESTING or MAX_TABLE_CELLS; the message says which and how."""


_ELEMENT_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(/?)>")
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)
_INLINE = frozenset(
    {
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "cite",
        "code",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "time",
        "u",
        "var",
    }
)
# Elements whose end tag may be left out: a new one closes the open one.
_OPTIONAL_END = frozenset(
    {
        "li",
        "p",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "option",
        "optgroup",
        "rt",
        "rp",
        "thead",
        "tbody",
        "tfoot",
    }
)


def nesting_depth(html: str, limit: int = MAX_NESTING) -> int:
    """How deeply the elements of ``html`` nest, up to ``limit`` + 1 (it stops
    there), in one linear pass; end tags that HTML lets a writer leave out are
    closed as a browser would, near enough."""
    stack: list[str] = []
    deepest = 0
    for m in _ELEMENT_TAG.finditer(html):
        name = m[2].lower()
        if m[1]:  # an end tag: close up to the element it ends, if it is open
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] == name:
                    del stack[i:]
                    break
            continue
        if name in _VOID or m[3]:
            continue
        if name in _OPTIONAL_END:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] == name:
                    del stack[i:]
                    break
                if stack[i] not in _OPTIONAL_END and stack[i] not in _INLINE:
                    break
        stack.append(name)
        deepest = max(deepest, len(stack))
        if deepest > limit:
            break
    return deepest


_DELIMITER_ROW = re.compile(r"^ {0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def table_cells(lines: list[str], start: int = 0) -> tuple[int, int | None]:
    """Markdown table cells in ``lines`` (GFM: a delimiter row, then rows until a
    blank line), and the index of the line where MAX_TABLE_CELLS is passed."""
    cells = 0
    columns = 0
    for i in range(start, len(lines)):
        line = lines[i]
        if columns:
            if not line.strip():
                columns = 0
                continue
            cells += columns
        elif "|" in line and "-" in line and _DELIMITER_ROW.match(line):
            columns = max(1, line.strip().strip("|").count("|") + 1)
            cells += 2 * columns  # the header and the delimiter row
        if cells > MAX_TABLE_CELLS:
            return cells, i
    return cells, None


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
        return _sanitise_bounded(
            _HEADING_TAG.sub(_shift, _fallback_markdown().render(text)), page_url
        )
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
    return _sanitise_bounded(html, page_url)


def _sanitise_bounded(html: str, page_url: str) -> str:
    depth = nesting_depth(html)
    if depth > MAX_NESTING:
        raise TextLimit(
            f"it nests elements (lists, quotes, tags) more than {MAX_NESTING} deep; flatten it"
        )
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


_ITEM_END = re.compile(r"(?<=[^\s.;:!?…])(\s*</li\s*>)", re.IGNORECASE)
_LAST_ITEM = re.compile(r";(\s*</li\s*>\s*</(?:ul|ol)\s*>)", re.IGNORECASE)


def plain_text(html: str) -> str:
    """The visible text of a sanitised HTML fragment, whitespace collapsed; list
    items end with ";" (the last with ".") so they do not run together."""
    if not html.strip():
        return ""
    if "</li" in html or "</LI" in html:
        html = _LAST_ITEM.sub(r".\1", _ITEM_END.sub(r";\1", html))
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


def derived_title(plain: str, limit: int = 90, corrections: tuple[str, ...] = ()) -> str:
    """A title for an update whose heading has none: its first sentence, shortened
    (after the correction notes at its top, given as ``corrections``)."""
    for note in corrections:
        if plain.startswith(note):
            plain = plain[len(note) :].lstrip()
    first = _SENTENCE_END.split(plain, maxsplit=1)[0]
    return excerpt(first, limit)
