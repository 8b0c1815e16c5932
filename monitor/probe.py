"""``monitor validate -v``: fetch each source once and say what it is and what it offers.

A user who gives a home page learns how many items it lists as configured, and which
feeds or WordPress API the page declares (a better ``kind``, usually). Nothing is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from monitor import crawl
from monitor.config import SourceConfig
from monitor.errors import FetchError, SourceError
from monitor.fetch import Fetcher
from monitor.sources.discover import Offer, discover
from monitor.sources.listing import ListingSource


@dataclass(frozen=True, kw_only=True)
class Probe:
    """What one fetch of a source showed: its kind, item count and offers, or the error."""

    source_id: str
    kind: str = ""
    entries: int = 0
    warnings: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()
    error: str | None = None


async def probe(source: SourceConfig, fetcher: Fetcher) -> Probe:
    """Fetch and read ``source`` once as a poll would, and discover what its page offers."""
    timeout = source.timeout.total_seconds()
    reader = crawl.reader_for(source)
    try:
        response = await fetcher.get(reader.request_url(source.url, since=None), timeout=timeout)
        reader = crawl.reader_for(source, response.body, response.content_type)
        offers: tuple[Offer, ...] = ()
        if ListingSource.sniff(response.body, response.content_type):
            offers = discover(response.body, url=response.url, content_type=response.content_type)
        listing = await crawl.parse(reader, response)
        listing = await crawl.expand(fetcher, reader, listing, timeout=timeout)
    except (FetchError, SourceError) as exc:
        return Probe(source_id=source.id, kind=reader.kind, error=str(exc))
    return Probe(source_id=source.id, kind=reader.kind, entries=len(listing.entries), warnings=listing.warnings,
                 offers=offers)


async def probe_all(sources: Sequence[SourceConfig]) -> list[Probe]:
    async with Fetcher() as fetcher:
        return list(await asyncio.gather(*(probe(s, fetcher) for s in sources)))


def describe(probes: Sequence[Probe], configured: dict[str, str | None]) -> str:
    """The probes as lines for a terminal; ``configured`` maps source id to its configured kind."""
    lines: list[str] = []
    for found in probes:
        how = "kind " + found.kind + ("" if configured.get(found.source_id) else ", detected")
        if found.error is not None:
            lines.append(f"{found.source_id}: could not be read ({how}): {found.error}")
            continue
        lines.append(f"{found.source_id}: {found.entries} item(s) ({how})")
        lines.extend(f"  warning: {w}" for w in found.warnings)
        for offer in found.offers:
            title = f' "{offer.title}"' if offer.title else ""
            lines.append(f"  offers {offer.format}{title}: use kind: {offer.kind}, url: {offer.url}")
    return "\n".join(lines)
