"""Source kinds by their YAML ``kind``: the one place a new kind is registered."""

from __future__ import annotations

from collections.abc import Callable

from monitor.sources.base import ListingSelectors, Source
from monitor.sources.feed import FeedSource
from monitor.sources.listing import ListingSource, check_selectors


def _feed(select: ListingSelectors | None) -> Source:
    if select is not None:
        raise ValueError("select: only kind 'html' takes CSS selectors; remove select or use kind: html")
    return FeedSource()


def _html(select: ListingSelectors | None) -> Source:
    if select is not None:
        check_selectors(select)
    return ListingSource(select=select)


_FACTORIES: dict[str, Callable[[ListingSelectors | None], Source]] = {
    FeedSource.kind: _feed,
    ListingSource.kind: _html,
}

KINDS: tuple[str, ...] = tuple(_FACTORIES)


def make_source(kind: str, *, select: ListingSelectors | None = None) -> Source:
    """The source for ``kind``; ValueError (listing the valid kinds) for an unknown one,
    or for selectors that are invalid CSS or given to a kind that takes none."""
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ValueError(f"kind: {kind!r} is not a source kind (use one of: {', '.join(KINDS)})")
    return factory(select)


def detect_kind(body: bytes, content_type: str | None) -> str:
    """The kind a body looks like when the config names none: a feed if it sniffs as
    one, else ``html``. Why feed first: feeds are often served as text/html or text/plain."""
    if FeedSource.sniff(body, content_type):
        return "feed"
    return "html"
