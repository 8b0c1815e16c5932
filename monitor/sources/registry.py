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
        raise ValueError(f"select: only kind 'html' takes CSS selectors; remove select from this {kind} source")


def _feed(select: ListingSelectors | None, tz: tzinfo) -> Source:
    _no_select("feed", select)
    return FeedSource(tz=tz)


def _html(select: ListingSelectors | None, tz: tzinfo) -> Source:
    if select is not None:
        check_selectors(select)
    return ListingSource(select=select, tz=tz)


def _wordpress(select: ListingSelectors | None, tz: tzinfo) -> Source:
    _no_select("wordpress", select)
    return WordPressSource(tz=tz)


def _sitemap(select: ListingSelectors | None, tz: tzinfo) -> Source:
    _no_select("sitemap", select)
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
    invalid CSS or given to a kind that takes none."""
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
