"""Files every site gets as they are: the pages' stylesheet and the feeds' (feed.css)."""

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
.background { border-bottom: 1px solid var(--line); padding: .5rem 0; }
.background summary { cursor: pointer; color: var(--muted); font-size: .9rem; font-weight: 600; }
@media (max-width: 30rem) {
  h1 { font-size: 1.35rem; }
  .summary { font-size: .95rem; margin: .4rem 0; }
}
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

# The feeds' own look in a browser, without XSLT (which Chromium is removing):
# a CSS stylesheet, which browsers apply to XML documents. It names what the
# document is and how to follow it, then shows each item's title and time;
# the markup inside items (escaped HTML) is hidden rather than shown as text.
# Where the server can tell browsers from feed readers (feeds serve, the nginx
# configuration), browsers get feed.html instead (feeds.render.preview).
FEED_CSS = """\
/* feeds: how a browser shows a feed document, without XSLT. */
@namespace atom url(http://www.w3.org/2005/Atom);
@namespace content url(http://purl.org/rss/1.0/modules/content/);
@namespace dc url(http://purl.org/dc/elements/1.1/);
@namespace at url(http://purl.org/atompub/tombstones/1.0);
@namespace rssatom url(http://www.w3.org/2005/Atom);
* { display: none; }
rss, channel, atom|feed, item, atom|entry,
channel > title, atom|feed > atom|title, item > title, atom|entry > atom|title,
channel > description, atom|feed > atom|subtitle, item > pubDate, atom|entry > atom|updated,
item > description {
  display: block;
}
rss, atom|feed { max-width: 42rem; margin: 0 auto; padding: 1rem;
  font: 1.0625rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d1d1f; background: #fff; }
rss::before, atom|feed::before {
  display: block; padding: .75rem 1rem; margin-bottom: 1rem; border-radius: .5rem;
  background: #fdf1f3; border: 1px solid #b00020;
  content: "This is a news feed. To follow it, copy this page's address from the address bar "
    "into your feed reader.";
}
channel > title, atom|feed > atom|title { font-size: 1.6rem; font-weight: 700; line-height: 1.2; }
channel > description, atom|feed > atom|subtitle { color: #5f6368; margin: .5rem 0 1rem; }
item, atom|entry { border-top: 1px solid #e3e3e3; padding: .75rem 0; }
item > title, atom|entry > atom|title { font-weight: 700; }
item > pubDate, atom|entry > atom|updated { color: #5f6368; font-size: .9rem; }
item > description { margin-top: .25rem; }
"""
