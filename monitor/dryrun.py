"""A dry run of one source, for ``monitor check``: what a poll would read and match.

It fetches the listing (and the article pages a poll would fetch) and runs the watch
lists, but touches no database and sends nothing, so it is safe beside a running daemon
and shows every item, seen before or not. This is how a user debugs a new source.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from monitor import crawl
from monitor.config import SourceConfig
from monitor.errors import FetchError, SourceError
from monitor.fetch import Fetcher
from monitor.match import Matcher
from monitor.models import Entry, Match
from monitor.sources.dates import plausible


@dataclass(frozen=True, kw_only=True)
class CheckedItem:
    """One item as a poll would store it: its text, where that came from, and its matches."""

    url: str
    title: str
    published: datetime | None
    text: str
    text_origin: str  # "article", "source" or "feed", as the store records it
    error: str | None = None
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DryRun:
    """The listing a source gave: its kind, the items checked, how many there were in all."""

    source_id: str
    kind: str
    total: int
    items: tuple[CheckedItem, ...]
    warnings: tuple[str, ...] = ()


async def dry_run(source: SourceConfig, *, matcher: Matcher, limit: int) -> DryRun:
    """Read ``source`` as a poll would and match its first ``limit`` items.

    Raises FetchError or SourceError when the listing itself cannot be read; an article
    page that fails is reported on its item, as a poll would fall back to the feed's text.
    """
    timeout = source.timeout.total_seconds()
    async with Fetcher() as fetcher:
        reader = crawl.reader_for(source)
        response = await fetcher.get(reader.request_url(source.url, since=None), timeout=timeout)
        reader = crawl.reader_for(source, response.body, response.content_type)
        listing = await crawl.parse(reader, response)
        listing = await crawl.expand(fetcher, reader, listing, timeout=timeout)
        entries = listing.entries[:limit]
        items = await asyncio.gather(*(_check(fetcher, source, matcher, e) for e in entries))
    return DryRun(source_id=source.id, kind=reader.kind, total=len(listing.entries), items=tuple(items),
                  warnings=listing.warnings)


async def _check(fetcher: Fetcher, source: SourceConfig, matcher: Matcher, entry: Entry) -> CheckedItem:
    title, published, error = entry.title, plausible(entry.published), None
    if entry.content is not None:
        text, origin = entry.content, "source"
    elif source.fetch_articles:
        try:
            response = await fetcher.get(entry.url, timeout=source.timeout.total_seconds(), follow_up=True)
            selector = source.select.content if source.select is not None else None
            from monitor.extract import extract_article

            article = await asyncio.get_running_loop().run_in_executor(
                None, lambda: extract_article(response.body, url=response.url, content_selector=selector,
                                              content_type=response.content_type, tz=crawl.zone(source)))
        except (FetchError, SourceError) as exc:
            text, origin, error = entry.summary, "feed", str(exc)
        else:
            text, origin = article.text, "article"
            title = title or article.title or ""
            published = published or plausible(article.published)
            if not text.strip():
                text, origin, error = entry.summary, "feed", "no main text found on the page"
    else:
        text, origin = entry.summary, "feed"
    matches = tuple(matcher.match(source_id=source.id, title=title, body=text))
    return CheckedItem(url=entry.url, title=title, published=published, text=text, text_origin=origin,
                       error=error, matches=matches)
