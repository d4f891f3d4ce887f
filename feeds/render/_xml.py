"""What the RSS and Atom renderers add to feedgen's output with lxml."""

from __future__ import annotations

from lxml import etree

from ..model import Feed

ATOM = "http://www.w3.org/2005/Atom"
HISTORY = "http://purl.org/syndication/history/1.0"  # RFC 5005


def finish(root: etree._Element, feed: Feed, parent: etree._Element) -> bytes:
    """Archive marker, stylesheet, indentation, serialisation."""
    if feed.archive:
        # RFC 5005 section 4: an archive document says so with fh:archive.
        etree.SubElement(parent, f"{{{HISTORY}}}archive")
        etree.cleanup_namespaces(root, top_nsmap={"fh": HISTORY})
    etree.indent(root, space="  ")
    if feed.stylesheet:
        # Browsers show the feed through this XSL; feed readers ignore it.
        root.addprevious(
            etree.ProcessingInstruction(
                "xml-stylesheet", f'type="text/xsl" href="{feed.stylesheet}"'
            )
        )
    out: bytes = etree.tostring(
        root.getroottree(), encoding="UTF-8", xml_declaration=True, pretty_print=True
    )
    return out
