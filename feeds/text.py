"""Update bodies: Markdown in, sanitised HTML and plain-text excerpts out.

The HTML goes into feeds and pages that other people's software renders, so
it is sanitised with nh3 (an allow-list: no <script>, no event handlers, no
javascript: URLs) and relative links are made absolute against the story page,
because a feed reader has no page to resolve them against.
"""

from __future__ import annotations

import re

import nh3
from lxml import html as lxml_html
from markdown_it import MarkdownIt

# CommonMark plus GFM tables and strikethrough. Raw HTML is allowed through the
# parser and then sanitised below, so reporters can paste an <iframe>-free embed.
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
# Only the block structure (headings, code, HTML blocks), for finding update
# headings: inline parsing is most of markdown-it's time and is not needed there.
STRUCTURE = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
STRUCTURE.disable(["inline", "text_join"])
# Titles are plain text in every feed format: inline Markdown is reduced to its
# text, and anything that looks like HTML is kept as the characters typed.
TITLE_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["strikethrough"])

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
    return nh3.clean(
        html,
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
    tokens = MARKDOWN.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
    return sanitise(MARKDOWN.renderer.render(tokens, MARKDOWN.options, {}), page_url).strip()


def plain_text(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    if not html.strip():
        return ""
    root = lxml_html.fragment_fromstring(html, create_parent="div")
    # Block elements end a sentence visually; keep them apart in text.
    for el in root.iter("p", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"):
        el.tail = " " + (el.tail or "")
    return _collapse(root.text_content())


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


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
