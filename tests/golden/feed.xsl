<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <xsl:template match="/">
    <xsl:variable name="title" select="rss/channel/title | atom:feed/atom:title"/>
    <xsl:variable name="page"
        select="rss/channel/link | atom:feed/atom:link[@rel='alternate']/@href"/>
    <html>
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
              <div><xsl:value-of select="description | atom:summary"/></div>
            </li>
          </xsl:for-each>
        </ol>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
