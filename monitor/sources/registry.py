"""Source kinds by their YAML ``kind``: the one place a new kind is registered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, tzinfo

from monitor.sources.base import ListingSelectors, Source
from monitor.sources.feed import FeedSource
from monitor.sources.listing import ListingSource, check_selectors
from monitor.sources.sitemap import SitemapSource
from monitor.sources.wordpress import WordPressSource


def _no_select(kind: str, select: ListingSelectors | None) -> None:
    if select is not None:
        raise ValueError(f"select: kind {kind!r} takes no CSS selectors (its text comes from the API); "
                         f"remove select from this {kind} source")


def _content_only(kind: str, select: ListingSelectors | None) -> None:
    """Kinds whose listing is not HTML still fetch article pages: ``content`` applies there."""
    if select is None:
        return
    if select.item is not None:
        raise ValueError(f"select.item: only kind 'html' reads its listing with CSS selectors; "
                         f"give this {kind} source select.content alone")
    check_selectors(select)


def _feed(select: ListingSelectors | None, tz: tzinfo) -> Source:
    _content_only("feed", select)
    return FeedSource(tz=tz)


def _html(select: ListingSelectors | None, tz: tzinfo) -> Source:
    if select is not None:
        check_selectors(select)
    return ListingSource(select=select, tz=tz)


def _wordpress(select: ListingSelectors | None, tz: tzinfo) -> Source:
    _no_select("wordpress", select)
    return WordPressSource(tz=tz)


def _sitemap(select: ListingSelectors | None, tz: tzinfo) -> Source:
    _content_only("sitemap", select)
    return SitemapSource(tz=tz)


_FACTORIES: dict[str, Callable[[ListingSelectors | None, tzinfo], Source]] = {
    FeedSource.kind: _feed,
    ListingSource.kind: _html,
    WordPressSource.kind: _wordpress,
    SitemapSource.kind: _sitemap,
}

KINDS: tuple[str, ...] = tuple(_FACTORIES)


def make_source(kind: str, *, select: ListingSelectors | None = None, tz: tzinfo = UTC) -> Source:
    """The source for ``kind``, reading zone-less times as local time in ``tz``;
    ValueError (listing the valid kinds) for an unknown one, or for selectors that are
    invalid CSS or given to a kind that takes none (listing selectors are html's alone;
    ``content`` also suits feed and sitemap, whose article pages are fetched)."""
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ValueError(f"kind: {kind!r} is not a source kind (use one of: {', '.join(KINDS)})")
    return factory(select, tz)


def detect_kind(body: bytes, content_type: str | None) -> str:
    """The kind a body looks like when the config names none: a feed, a WordPress posts
    list or a sitemap if it sniffs as one, else ``html``. Why feed first: feeds are often
    served as text/html or text/plain."""
    for source in (FeedSource, WordPressSource, SitemapSource):
        if source.sniff(body, content_type):
            return source.kind
    return "html"
