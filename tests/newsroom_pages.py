"""Synthetic but realistic newsroom pages: feeds, a listing, articles with sidebars and footers."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime
from html import escape

FILLER = (
    "The statement was issued after a meeting of senior officials at the headquarters, where the "
    "participants reviewed the regional security situation and the progress of ongoing cooperation. "
    "Officials said the discussions were held in a cordial atmosphere and that both sides agreed to "
    "continue the dialogue at the next scheduled session later this month. "
)


def article_page(*, title: str, paragraphs: list[str], sidebar: list[str] = (), footer: str = "") -> str:
    """A news article page: nav, the article, a 'Recent News' sidebar, a footer."""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    recent = "\n".join(f'<li><a href="/news/other-{i}">{escape(s)}</a></li>' for i, s in enumerate(sidebar))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | Desk News</title></head>
<body>
<header><nav><a href="/">Home</a> <a href="/pakistan">Pakistan</a> <a href="/world">World</a></nav></header>
<main>
<article>
<h1>{escape(title)}</h1>
<p class="byline">By Staff Reporter</p>
{body}
</article>
<aside class="sidebar">
<h2>Recent News</h2>
<ul>{recent}</ul>
<h2>Must read</h2>
<ul><li><a href="/news/must-read">Opinion: what the week meant</a></li></ul>
</aside>
</main>
<footer><p>{escape(footer)}</p><p>Copyright Desk News. All rights reserved.</p></footer>
</body></html>"""


def rss_feed(*, base: str, items: list[tuple[str, str, str, datetime]]) -> str:
    """RSS 2.0 with (path, title, summary, published) items, newest first."""
    entries = "\n".join(
        f"""<item><title>{escape(t)}</title><link>{base}{p}</link><guid isPermaLink="true">{base}{p}</guid>
<description>{escape(s)}</description><pubDate>{format_datetime(d)}</pubDate></item>"""
        for p, t, s, d in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Desk News</title><link>{base}/</link>
<description>Latest news</description>
{entries}
</channel></rss>"""


def listing_page(*, items: list[tuple[str, str, str]]) -> str:
    """A press office listing (ISPR-like): .press-release blocks with a link, h3 and date."""
    blocks = "\n".join(
        f"""<div class="press-release"><h3><a href="{p}">{escape(t)}</a></h3><span class="date">{d}</span></div>"""
        for p, t, d in items
    )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Press Releases</title></head>
<body><nav><a href="/">Home</a><a href="/press-release">Press Releases</a></nav>
<div id="content">{blocks}</div>
<aside><h2>Most read</h2><a href="/press-release/old-1">An older release</a></aside>
<footer><a href="/contact">Contact</a></footer></body></html>"""


def when(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=timezone.utc)
