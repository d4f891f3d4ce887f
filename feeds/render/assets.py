"""Files every site gets as they are: the stylesheet and the feeds' XSL view."""

from __future__ import annotations

STYLE_CSS = """\
/* feeds: one small stylesheet for the story pages and the index. */
:root { --ink: #1d1d1f; --muted: #5f6368; --line: #e3e3e3; --accent: #b00020; --bg: #fff; }
@media (prefers-color-scheme: dark) {
  :root { --ink: #e8e8e8; --muted: #a0a0a0; --line: #333; --accent: #ff6b6b; --bg: #121212; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 42rem; padding: 1rem; background: var(--bg); color: var(--ink);
  font: 1.0625rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
a { color: inherit; }
header { border-bottom: 1px solid var(--line); padding-bottom: .75rem; }
h1 { font-size: 1.6rem; line-height: 1.2; margin: .25rem 0 .5rem; }
h2 { font-size: 1.1rem; margin: .25rem 0; }
.site { margin: 0; color: var(--muted); font-size: .9rem; }
.status { display: inline-block; margin: 0; padding: 0 .5rem; border-radius: 1rem;
  font-size: .8rem; font-weight: 600; text-transform: uppercase; letter-spacing: .04em;
  border: 1px solid var(--muted); color: var(--muted); }
.status.live { border-color: var(--accent); color: var(--accent); }
.summary { color: var(--muted); }
.follow { font-size: .9rem; color: var(--muted); margin: .25rem 0; }
.background { border-bottom: 1px solid var(--line); }
.updates { list-style: none; margin: 0; padding: 0; }
.update { border-bottom: 1px solid var(--line); padding: .75rem 0; scroll-margin-top: 1rem; }
.update:target { background: color-mix(in srgb, var(--accent) 8%, transparent); }
.when { margin: 0; color: var(--muted); font-size: .9rem; }
.when a { font-weight: 700; color: var(--accent); text-decoration: none; font-size: 1rem; }
.body p { margin: .4rem 0; }
.body, .background, .summary, h1, h2 { overflow-wrap: anywhere; }
img, video { max-width: 100%; height: auto; }
pre { overflow-x: auto; }
.body table { border-collapse: collapse; display: block; overflow-x: auto; }
.body td, .body th { border: 1px solid var(--line); padding: .2rem .4rem; }
.meta { margin: .25rem 0 0; color: var(--muted); font-size: .85rem; }
.update.withdrawn { color: var(--muted); }
.update.withdrawn h2 { font-size: 1rem; }
.update.withdrawn .body { border-left: 3px solid var(--accent); padding-left: .6rem; }
.stories { list-style: none; padding: 0; }
.stories li { border-bottom: 1px solid var(--line); padding: .6rem 0; }
.stories .title { font-weight: 600; }
.stories .date, .stories .feeds { color: var(--muted); font-size: .85rem; }
footer { color: var(--muted); font-size: .85rem; margin-top: 1rem; }
"""

# One XSL for RSS 2.0 and Atom 1.0: a browser that opens a feed shows a page
# saying what a feed is and how to follow it, with the items; feed readers
# ignore the stylesheet. Item content is shown as its plain-text summary, so
# no markup from a feed ever runs in the page.
FEED_XSL = """\
<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <xsl:template match="/">
    <xsl:variable name="title" select="rss/channel/title | atom:feed/atom:title"/>
    <xsl:variable name="page"
        select="rss/channel/link | atom:feed/atom:link[@rel='alternate']/@href"/>
    <html lang="{rss/channel/language | atom:feed/@xml:lang}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <style>
          body { margin: 0 auto; max-width: 42rem; padding: 1rem;
                 font: 1.0625rem/1.55 system-ui, sans-serif; color: #1d1d1f; }
          .about { background: #fff8e1; border: 1px solid #f0d68a; padding: .75rem 1rem;
                   border-radius: .5rem; }
          code { background: #f3f3f3; padding: 0 .25rem; word-break: break-all; }
          li { margin: .75rem 0; } .date { color: #5f6368; font-size: .9rem; }
        </style>
      </head>
      <body>
        <div class="about">
          <p><strong>This is a news feed.</strong> Follow it in a feed reader to get each
          update as soon as it is published: copy this page's address into your reader
          (Feedly, Inoreader, NetNewsWire, Thunderbird...).</p>
        </div>
        <h1 id="feed-title"><xsl:value-of select="$title"/></h1>
        <p><a href="{$page}">Open the live page</a></p>
        <ol id="items">
          <xsl:for-each select="rss/channel/item | atom:feed/atom:entry">
            <li class="item">
              <a href="{link | atom:link[@rel='alternate']/@href}">
                <xsl:value-of select="title | atom:title"/>
              </a>
              <div class="date"><xsl:value-of select="pubDate | atom:published"/></div>
              <div>
                <xsl:choose>
                  <xsl:when test="description">
                    <!-- RSS descriptions are HTML: show their text, not their escapes. -->
                    <xsl:call-template name="unescape">
                      <xsl:with-param name="text" select="description"/>
                    </xsl:call-template>
                  </xsl:when>
                  <xsl:otherwise><xsl:value-of select="atom:summary"/></xsl:otherwise>
                </xsl:choose>
              </div>
            </li>
          </xsl:for-each>
        </ol>
      </body>
    </html>
  </xsl:template>
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:variable name="lt">
      <xsl:call-template name="replace">
        <xsl:with-param name="text" select="$text"/>
        <xsl:with-param name="from" select="'&amp;lt;'"/>
        <xsl:with-param name="to" select="'&lt;'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:variable name="gt">
      <xsl:call-template name="replace">
        <xsl:with-param name="text" select="$lt"/>
        <xsl:with-param name="from" select="'&amp;gt;'"/>
        <xsl:with-param name="to" select="'&gt;'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:call-template name="replace">
      <xsl:with-param name="text" select="$gt"/>
      <xsl:with-param name="from" select="'&amp;amp;'"/>
      <xsl:with-param name="to" select="'&amp;'"/>
    </xsl:call-template>
  </xsl:template>
  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="substring-before($text, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
"""
