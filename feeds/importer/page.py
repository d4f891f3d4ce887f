"""A page, text or HTML, as a sequence of blocks (paragraphs and headings).

The importer reasons about blocks: which one opens an update (a timestamp at
its start, or a ``<time datetime>`` in it), which ones follow it, which are the
headline, byline, page date, background or boilerplate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree
from lxml import html as lxml_html

from ..errors import ImportProblem
from ..model import NOT_XML
from ..store.problems import CHAR_REF, decodes_to_forbidden, referenced
from ..timeutil import MAX_YEAR, MIN_YEAR

BLOCK_TAGS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "figcaption",
    "dd",
    "dt",
}
CONTAINER_HINT = re.compile(r"update|entry|post|event|item|liveblog|live-blog", re.I)


@dataclass(frozen=True)
class Block:
    text: str  # Markdown
    heading: int = 0  # 1-6 for headings
    gap: int = 1  # blank lines before it (text pages)
    time_attr: str | None = None  # <time datetime="..."> inside it or its update
    time_text: str = ""  # that element's own text, to drop from the block
    container: str | None = None  # path of the update element holding it (HTML)
    anchor: str | None = None  # that element's id


@dataclass
class Page:
    blocks: list[Block]
    title: str = ""
    published: datetime | date | None = None
    modified: datetime | date | None = None
    kind: str = "text"


def looks_like_html(raw: str) -> bool:
    head = raw[:4096].lower()
    return bool(re.search(r"<(!doctype html|html|body|article|p|div)[\s>]", head))


# --------------------------------------------------------------------------- text


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def text_page(raw: str) -> Page:
    """Paragraphs are separated by blank lines; Markdown headings are blocks."""
    blocks: list[Block] = []
    gap, lines = 0, list[str]()

    def flush() -> None:
        nonlocal gap, lines
        if lines:
            blocks.append(Block("\n".join(lines).strip(), gap=gap))
            gap, lines = 0, list[str]()

    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            flush()
            gap += 1
            continue
        heading = _MD_HEADING.match(line.strip())
        if heading:
            flush()
            blocks.append(Block(heading[2], heading=len(heading[1]), gap=gap))
            gap = 0
            continue
        lines.append(line.rstrip())
    flush()
    return Page(blocks, title=blocks[0].text if blocks else "", kind="text")


# --------------------------------------------------------------------------- HTML


def html_page(raw: str) -> Page:
    # An XHTML page's XML declaration names an encoding lxml refuses in decoded text.
    raw = _XML_DECLARATION.sub("", raw, count=1)
    # Characters no feed can carry, typed or as references, become U+FFFD: a page
    # written elsewhere is not the reporter's to fix, and lxml refuses them in text.
    raw = CHAR_REF.sub(_replace_forbidden, NOT_XML.sub("\ufffd", raw))
    try:
        root = lxml_html.document_fromstring(raw)
    except (etree.ParserError, ValueError) as exc:
        raise ImportProblem(f"not an HTML page that can be read ({exc})") from exc
    for bad in root.xpath(
        "//script[not(@type='application/ld+json')]|//style|//noscript|"
        "//nav|//footer|//aside|//form|//template"
    ):
        bad.drop_tree()
    page = Page([], kind="html")
    page.title = (
        _meta(root, "og:title") or _first_text(root, "//h1") or _first_text(root, "//title")
    )
    page.published = _when(_meta(root, "article:published_time") or _ld(root, "datePublished"))
    page.modified = _when(_meta(root, "article:modified_time") or _ld(root, "dateModified"))
    body = root.find("body")
    if body is None:
        return page
    for script in body.xpath(".//script"):
        script.drop_tree()
    tree = root.getroottree()
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag not in BLOCK_TAGS:
            continue
        if any(a.tag in BLOCK_TAGS and a.tag != "li" for a in el.iterancestors()):
            continue  # inside another block (a <p> in a <blockquote>): read with it
        if el.tag != "li" and el.xpath(".//p|.//li|.//h1|.//h2|.//h3|.//h4|.//h5|.//h6"):
            continue  # a wrapper: its inner blocks are read
        if el.tag == "li" and el.xpath(".//p"):
            continue
        container = _container(el)
        time_el = _time_in(el)
        if time_el is None and container is not None and _same(_first_block_of(container), el):
            time_el = _time_in(container)
        text = markdown_of(el).strip()
        time_text = time_el.text_content().strip() if time_el is not None else ""
        if not text and time_el is None:
            continue
        level = int(el.tag[1]) if el.tag[0] == "h" and el.tag[1:].isdigit() else 0
        page.blocks.append(
            Block(
                text=text,
                heading=level,
                time_attr=time_el.get("datetime") if time_el is not None else None,
                time_text=time_text,
                container=tree.getpath(container) if container is not None else None,
                anchor=container.get("id") if container is not None else None,
            )
        )
    return page


def _container(el: etree._Element) -> etree._Element | None:
    for anc in el.iterancestors():
        if anc.tag in ("body", "html"):
            return None
        if anc.tag == "article" or (
            anc.tag in ("li", "section", "div")
            and CONTAINER_HINT.search(f"{anc.get('class', '')} {anc.get('id', '')}")
        ):
            return anc
    return None


def _first_block_of(container: etree._Element) -> etree._Element | None:
    for el in container.iter():
        if isinstance(el.tag, str) and el.tag in BLOCK_TAGS and el.text_content().strip():
            return el
    return None


def _same(a: etree._Element | None, b: etree._Element | None) -> bool:
    if a is None or b is None:
        return False
    return bool(a.getroottree().getpath(a) == b.getroottree().getpath(b))


def _time_in(el: etree._Element) -> etree._Element | None:
    found = el.xpath(".//time[@datetime]")
    return found[0] if found else None


def _meta(root: etree._Element, name: str) -> str:
    for attr in ("property", "name", "itemprop"):
        found = root.xpath(f"//meta[@{attr}=$n]/@content", n=name)
        if found:
            return str(found[0]).strip()
    return ""


def _ld(root: etree._Element, key: str) -> str:
    for script in root.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and isinstance(item.get(key), str):
                return str(item[key])
    return ""


def _first_text(root: etree._Element, xpath: str) -> str:
    found = root.xpath(xpath)
    return " ".join(found[0].text_content().split()) if found else ""


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _replace_forbidden(m: re.Match[str]) -> str:
    code = referenced(m)
    unwritable = code == 0 or code > 0x10FFFF or 0xD800 <= code < 0xE000
    return "\ufffd" if unwritable or decodes_to_forbidden(code) else m.group()


def _when(value: str) -> datetime | date | None:
    """A machine-readable date or time; None if there is none, or it is out of range."""
    if not value:
        return None
    found: datetime | date
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            found = date.fromisoformat(value[:10])
        except ValueError:
            return None
    return found if MIN_YEAR <= found.year <= MAX_YEAR else None


_ESCAPE = re.compile(r"([\\`*_\[\]<>])")


def md_escape(text: str) -> str:
    text = _ESCAPE.sub(r"\\\1", text)
    return re.sub(r"^(\s*)([#+-]|\d+[.)])(\s)", r"\1\\\2\3", text)


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def markdown_of(el: etree._Element) -> str:
    """An element's text as Markdown: links, bold and italics kept; the rest is text."""
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        if node.text:
            parts.append(md_escape(_ws(node.text)))
        for child in node:
            if not isinstance(child.tag, str):
                pass
            elif child.tag == "br":
                parts.append("  \n")
            elif child.tag == "a" and child.get("href", "").startswith(("http://", "https://")):
                inner = md_escape(_ws(child.text_content()).strip())
                parts.append(f"[{inner}]({child.get('href')})")
            elif child.tag in ("strong", "b"):
                parts.append(f"**{md_escape(_ws(child.text_content()).strip())}**")
            elif child.tag in ("em", "i"):
                parts.append(f"*{md_escape(_ws(child.text_content()).strip())}*")
            else:
                walk(child)
            if child.tail:
                parts.append(md_escape(_ws(child.tail)))

    walk(el)
    return re.sub(r" *\n *", "  \n", "".join(parts)).strip()
