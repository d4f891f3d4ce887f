"""A page, text or HTML, as a sequence of blocks (paragraphs and headings).

The importer reasons about blocks: which one opens an update (a timestamp at
its start, or a ``<time datetime>`` in it), which ones follow it, which are the
headline, byline, page date, background or boilerplate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from lxml import etree
from lxml import html as lxml_html

from ..errors import ImportProblem
from ..model import NOT_XML
from ..store.problems import CHAR_REF, decodes_to_forbidden, referenced
from ..timeutil import MAX_YEAR, MIN_YEAR
from .structured import Entry, read_structured

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
    "td",
    "th",
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
    linked: bool = False  # all its text is links
    item: str = ""  # "-" or "1." for a list item (HTML)


@dataclass
class Page:
    blocks: list[Block]
    title: str = ""
    published: datetime | date | None = None
    modified: datetime | date | None = None
    kind: str = "text"
    structured: list[Entry] = field(default_factory=list)  # updates the page describes
    header: list[str] = field(default_factory=list)  # bylines, datelines before the updates


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
    return Page(blocks, title=_text_title(blocks), kind="text")


_NOT_A_TITLE = re.compile(
    r"^(by|por|von|par|de|reported by|updated|actualizado|aktualisiert|stand|published|"
    r"posted|share|skip|saltar|zum inhalt|ir para|aller au)\b",
    re.IGNORECASE,
)


def _text_title(blocks: list[Block]) -> str:
    """A pasted page's headline: of the lines above the first update, the longest
    that reads like one (four words or more, no closing full stop, not a byline or a
    date), rather than the site's menu that "select all" copies first."""
    from .stamps import dates_in_text, find_stamp, read_date_line

    candidates: list[str] = []
    for block in blocks[:30]:
        if find_stamp(block.text, 2000) is not None:
            break
        for line in block.text.split("\n")[:60]:
            line = line.strip()
            words = line.split()
            parts = re.split(r"\s+[|·•]\s+|\s{2,}", line)
            if (
                4 <= len(words) <= 30
                and len(line) <= 200
                and not line.endswith((".", "…", ":", ";"))
                and not line.startswith(("•", "-", "*", "©"))
                and "©" not in line
                and not _NOT_A_TITLE.match(line)
                and not (len(parts) >= 3 and all(len(p.split()) <= 4 for p in parts))
                and find_stamp(line, 2000) is None
                and read_date_line(line, None) is None
                and not dates_in_text(line)
            ):
                candidates.append(line)
    if candidates:
        return max(candidates, key=len)
    first = blocks[0].text.split("\n", 1)[0].strip() if blocks else ""
    return first


# --------------------------------------------------------------------------- HTML


# Parts of a page that are never an update's text: sharing buttons,
# advertising, newsletter and comment boxes, cookie banners (by class or id).
FURNITURE_CLASS = re.compile(
    r"(^|[\s_-])(share|sharing|social|compartir|teilen|partage|ad|ads|advert|advertisement|"
    r"publi|publicidad|anzeige|werbung|newsletter|promo|cookie|consent|cmp|comments?|"
    r"subscribe|paywall|banner|sponsor)(?=$|[\s_-])",
    re.I,
)
_INNER_BLOCKS = ".//p|.//li|.//h1|.//h2|.//h3|.//h4|.//h5|.//h6|.//blockquote"
_INLINE_STAMP_TAGS = {"span", "div", "time", "strong", "b", "em", "small", "a", "header"}


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
    page = Page([], kind="html")
    page.structured = read_structured(root)
    page.title = (
        _meta(root, "og:title") or _first_text(root, "//h1") or _first_text(root, "//title")
    )
    page.published = _when(_meta(root, "article:published_time") or _ld(root, "datePublished"))
    page.modified = _when(_meta(root, "article:modified_time") or _ld(root, "dateModified"))
    for bad in root.xpath(
        "//script|//style|//noscript|//nav|//footer|//aside|//form|//template|//button|//svg"
    ):
        bad.drop_tree()
    for el in root.xpath("//*[@class or @id]"):
        names = f"{el.get('class', '')} {el.get('id', '')}"
        if el.tag not in ("html", "body", "main", "article") and FURNITURE_CLASS.search(names):
            el.drop_tree()
    body = root.find("body")
    if body is None:
        return page
    year = next((d.year for d in (page.modified, page.published) if d is not None), 2000)
    tree = root.getroottree()
    wrappers: dict[etree._Element, bool] = {}

    def wrapper(el: etree._Element) -> bool:
        """Does this block element hold other blocks (then they are read, not it)?"""
        if el not in wrappers:
            inner = _INNER_BLOCKS if el.tag != "li" else _INNER_BLOCKS.replace("|.//li", "")
            wrappers[el] = bool(el.xpath(inner))
        return wrappers[el]

    stamps = _stamp_elements(body, year)
    page.header = _header_lines(body, stamps[0] if stamps else None)
    containers = _containers(stamps, body)
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        stamp_only = el in stamps and el.tag not in BLOCK_TAGS
        if stamp_only:
            if any(a.tag in BLOCK_TAGS and not a.xpath(_INNER_BLOCKS) for a in el.iterancestors()):
                continue  # read with its block
        elif el.tag not in BLOCK_TAGS:
            continue
        elif any(a.tag in BLOCK_TAGS and not wrapper(a) for a in el.iterancestors()):
            continue  # inside a block (a <pre> in an <li>): read with it
        elif wrapper(el):
            continue  # a wrapper (a <dd>, <td> or <blockquote> of paragraphs): its blocks are read
        container = next(
            (a for a in (el, *el.iterancestors()) if a in containers and a is not el), None
        )
        time_el = el if el.tag == "time" and el.get("datetime") else _time_in(el)
        if (
            time_el is None
            and container is not None
            and _same(_first_block_of(container), el)
            and not any(s is not el and _inside(s, container) for s in stamps)
        ):
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
                linked=_only_links(el),
                item=_item_marker(el),
            )
        )
    return page


_HEADER_CLASS = re.compile(
    r"byline|date|time|meta|publish|updated|fecha|datum|data|autor|author|firma|stand", re.I
)


def _header_lines(body: etree._Element, first_stamp: etree._Element | None) -> list[str]:
    """Bylines, datelines and dates above the first update (they date the page)."""
    lines: list[str] = []
    for el in body.iter():
        if el is first_stamp or len(lines) > 40:
            break
        if not isinstance(el.tag, str):
            continue
        if el.tag == "time" and el.get("datetime"):
            lines.append(el.get("datetime", "")[:10])
        elif _HEADER_CLASS.search(f"{el.get('class', '')} {el.get('id', '')}"):
            text = "".join(
                ("\n" if isinstance(n, etree._Element) and n.tag == "br" else "")
                + (n if isinstance(n, str) else "")
                for n in el.xpath(".//text()|.//br")
            )
            if len(text) <= 300:
                lines += [" ".join(ln.split()) for ln in text.split("\n") if ln.strip()]
    return lines


def _inside(el: etree._Element, container: etree._Element) -> bool:
    return any(a is container for a in el.iterancestors())


def _item_marker(el: etree._Element) -> str:
    if el.tag != "li":
        return ""
    parent = el.getparent()
    return "1." if parent is not None and parent.tag == "ol" else "-"


def _only_links(el: etree._Element) -> bool:
    """A block whose text is all links ("Read more: ...", a list of related stories)."""
    links = "".join(a.text_content() for a in el.iter("a"))
    text = el.text_content()
    return bool(links.strip()) and len(links.split()) >= 0.8 * len(text.split())


def _stamp_elements(body: etree._Element, year: int) -> list[etree._Element]:
    """Elements that open an update: a block starting with a time, an element
    holding only a time, or a <time datetime> with a time of day."""
    from .stamps import find_stamp, stamp_from_attribute

    found: list[etree._Element] = []
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "time" and el.get("datetime"):
            if stamp_from_attribute(el.get("datetime", ""), "") is not None:
                found.append(el)
            continue
        if el.tag not in BLOCK_TAGS and el.tag not in _INLINE_STAMP_TAGS:
            continue
        if el.tag in BLOCK_TAGS and el.xpath(_INNER_BLOCKS):
            continue  # a wrapper (an <li> holding a post): its parts are looked at
        text = " ".join(el.text_content().split())
        if not text or len(text) > 2000:
            continue
        stamp = find_stamp(text, year)
        if stamp is None:
            continue
        if (el.tag in BLOCK_TAGS or (not stamp.rest and len(text) <= 60)) and not any(
            f is el or _inside(el, f) for f in found[-3:]
        ):
            found.append(el)
    # An inner element that is the stamp of a block already found is not another.
    return [el for el in found if not any(o is not el and _inside(el, o) for o in found)]


def _containers(stamps: list[etree._Element], body: etree._Element) -> set[etree._Element]:
    """For each stamp, the largest element around it that holds no other stamp:
    that element is its update (its title, text and buttons)."""
    count: dict[etree._Element, int] = {}
    for el in stamps:
        for anc in el.iterancestors():
            count[anc] = count.get(anc, 0) + 1
    out: set[etree._Element] = set()
    for el in stamps:
        node = el
        parent = node.getparent()
        while parent is not None and parent is not body and count.get(parent, 0) == 1:
            node = parent
            parent = node.getparent()
        if node is not el or el.tag not in BLOCK_TAGS:
            out.add(node)
    return out


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
