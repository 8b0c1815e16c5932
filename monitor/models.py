"""Frozen values passed between the pipeline's stages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

# How a poll ended; monitor_polls_total counts each (``monitor.metrics``). "backoff" and
# "not-due" are firings skipped without a request (after failures; an adaptive source not due).
PollStatus = Literal["ok", "baseline", "not-modified", "unchanged", "backoff", "not-due", "error"]

@dataclass(frozen=True, kw_only=True)
class Entry:
    """One item as a source lists it, before dedupe.

    ``url`` is absolute (relative links already resolved). ``published`` is timezone-aware
    UTC or None. ``content`` is the full article text when the source carries it (so no
    page fetch is needed); ``summary`` is a plain-text teaser, possibly empty.
    """

    url: str
    title: str = ""
    guid: str | None = None
    summary: str = ""
    published: datetime | None = None
    content: str | None = None


@dataclass(frozen=True, kw_only=True)
class Listing:
    """What a source adapter read from one listing body: entries in page order, and
    warnings (a malformed feed whose items were still recovered, say).

    ``next_url`` is the listing's next (older) page, if the body names one; it is fetched
    only when every entry on this page is new. ``follow`` are listings this body points
    to that hold its entries (a sitemap index's sitemaps, robots.txt's ``Sitemap:``
    lines), fetched on every poll. ``ttl`` is an RSS feed's ``<ttl>``: how long the
    publisher says the feed may be cached (adaptive polling waits at least that long).
    """

    entries: tuple[Entry, ...]
    warnings: tuple[str, ...] = ()
    next_url: str | None = None
    follow: tuple[str, ...] = ()
    ttl: timedelta | None = None


@dataclass(frozen=True, kw_only=True)
class Response:
    """A completed HTTP GET. ``not_modified`` is True for a 304, with an empty body.

    ``etag`` and ``last_modified`` are the validators to send next time (the stored ones
    when a 304 omits them); ``headers`` are the response's own.
    """

    url: str
    status: int
    body: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased

    # The publisher's freshness hints, for adaptive polling (``monitor.cadence``).
    @property
    def cache_control(self) -> str | None:
        return self.headers.get("cache-control")

    @property
    def expires(self) -> str | None:
        return self.headers.get("expires")

    @property
    def date(self) -> str | None:
        return self.headers.get("date")


@dataclass(frozen=True, kw_only=True)
class Article:
    """Main text of an article page, with whatever title and date the page gave."""

    text: str
    title: str | None = None
    published: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One occurrence of a term: offsets into the original (un-normalised) text."""

    term: str
    field: str  # "title" or "body"
    start: int
    end: int


@dataclass(frozen=True, kw_only=True)
class Snippet:
    """Text around one matched term, and where in that text each hit lies, so that a
    renderer can emphasise the terms without finding them again (a term's normal form
    may not even appear verbatim).

    ``term`` is the term the snippet was cut around; ``marks`` are ``(start, end)``
    offsets into ``text`` of every hit inside it (that term's and any other's), sorted
    and merged where they overlap.
    """

    term: str
    field: str  # "title" or "body"
    text: str
    marks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Match:
    """A watch list that fired on an item, with why: its hits and one snippet per term.

    ``snippets`` holds a snippet for each distinct matched term, except a term whose first
    hit already lies inside an earlier snippet (it is marked there). ``snippet`` is the
    first of them as plain text, for one-line summaries.
    """

    watchlist: str
    terms: tuple[str, ...]
    snippet: str
    hits: tuple[Hit, ...] = field(default=())
    snippets: tuple[Snippet, ...] = field(default=())
