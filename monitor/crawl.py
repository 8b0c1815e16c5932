"""The listing side of a poll: every URL one source's listing takes, fetched in order.

Most sources are one URL. A robots.txt or a sitemap index points to the listings that hold
the items (``Listing.follow``, read on every poll), and a burst, when every item on a page
is new, sends us on to the next page (``Source.next_page``) up to the source's
``max_pages``, so that twenty releases in an hour are not cut to the first page's ten.
The source kinds decide which URLs (pure); this module fetches them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import zoneinfo
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import tzinfo

from monitor.config import SourceConfig
from monitor.errors import FetchError, SourceError
from monitor.fetch import Fetcher
from monitor.models import Entry, Listing, Response
from monitor.sources.base import MAX_DEPTH, ListingSelectors, Source
from monitor.sources.registry import detect_kind, make_source

log = logging.getLogger(__name__)

# Listings fetched through ``follow`` in one poll: robots.txt -> index -> a few sitemaps.
MAX_FOLLOW = 8


def reader_for(source: SourceConfig, body: bytes | None = None, content_type: str | None = None) -> Source:
    """The Source that reads ``source``'s listing; with no ``kind`` configured, the kind
    ``body`` looks like (``feed`` before any body is known)."""
    kind = source.kind or (detect_kind(body, content_type) if body is not None else "feed")
    select = None
    if source.select is not None:
        select = ListingSelectors(item=source.select.item, link=source.select.link or "a",
                                  title=source.select.title, date=source.select.date, content=source.select.content)
    return make_source(kind, select=select, tz=zone(source))


# A listing body from this size on (or gzipped: a sitemap inflates itself; or of many tags)
# is parsed in a thread. feedparser took 35 s over a 10 MB feed (escaped HTML in every
# description) on the event loop, and every poll in flight beside it timed out; in a
# thread the loop shares the GIL with it, so it slows but runs. Below this, the hand-off
# would cost more than the parse (a 7.5 KB feed parses in 0.5 ms).
PARSE_IN_THREAD = 256 * 1024
# Its own thread, not the loop's default executor: that one resolves host names, and six
# hostile parses would hold every one of its threads. Large parses queue for it in turn.
_PARSING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-parse")


async def parse(reader: Source, response: Response) -> Listing:
    """``reader.parse`` of a fetched listing: a large body off the event loop."""
    body = response.body
    # Many tags, too: a page can be built to cost its parser seconds in ways no guard
    # foresees, and one with fewer tags than MAX_DEPTH cannot nest past it.
    if len(body) < PARSE_IN_THREAD and body[:2] != b"\x1f\x8b" and body.count(b"<") <= MAX_DEPTH:
        return reader.parse(body, url=response.url, content_type=response.content_type)
    work = functools.partial(reader.parse, body, url=response.url, content_type=response.content_type)
    return await asyncio.get_running_loop().run_in_executor(_PARSING, work)


def zone(source: SourceConfig) -> tzinfo:
    """The zone of times ``source`` writes without one (the config's unless it names its own)."""
    return zoneinfo.ZoneInfo(source.timezone or "UTC")


async def expand(fetcher: Fetcher, reader: Source, listing: Listing, *, timeout: float) -> Listing:
    """``listing`` with the entries of the listings it points to, breadth first, bounded.

    A listing pointed to that fails becomes a warning; the poll fails only when nothing
    at all could be read.
    """
    if not listing.follow:
        return listing
    entries, warnings = list(listing.entries), list(listing.warnings)
    queue, seen = list(listing.follow), set(listing.follow)
    failure: FetchError | SourceError | None = None
    for _ in range(MAX_FOLLOW):
        if not queue:
            break
        url = queue.pop(0)
        try:
            response = await fetcher.get(url, timeout=timeout, follow_up=True)
            child = await parse(reader, response)
        except (FetchError, SourceError) as exc:
            failure = failure or exc
            warnings.append(f"{url}: could not be read ({exc})")
            continue
        entries += child.entries
        warnings += child.warnings
        queue += [u for u in child.follow if u not in seen]
        seen.update(child.follow)
    if failure is not None and not entries:
        raise failure
    return replace(listing, entries=tuple(entries), warnings=tuple(warnings), follow=())


async def burst(fetcher: Fetcher, reader: Source, first: Listing, response: Response, *, max_pages: int,
                timeout: float, all_new: Callable[[Sequence[Entry]], bool]) -> Listing:
    """``first`` plus the pages after it while every entry on the last page read is new.

    A later page that fails ends the walk with a warning: the first page's items stand.
    """
    entries, warnings = list(first.entries), list(first.warnings)
    listing, page, visited = first, response, {response.url}
    for _ in range(max_pages - 1):
        if not listing.entries or not all_new(listing.entries):
            break
        url = reader.next_page(listing, page)
        if url is None or url in visited:
            break
        visited.add(url)
        try:
            page = await fetcher.get(url, timeout=timeout, follow_up=True)
            listing = await parse(reader, page)
            listing = await expand(fetcher, reader, listing, timeout=timeout)
        except (FetchError, SourceError) as exc:
            warnings.append(f"{url}: next page could not be read ({exc}); items there may be missed")
            break
        log.info("page url=%s entries=%d (every item on the previous page was new)", url, len(listing.entries))
        entries += listing.entries
        warnings += listing.warnings
    return replace(first, entries=tuple(entries), warnings=tuple(warnings))
