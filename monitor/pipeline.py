"""One poll of one source: fetch -> parse -> dedupe -> article -> match -> commit.

The stages in the middle are pure; this module is where they meet the edges (fetch,
store). A poll's outcome is committed in one transaction, so a crash at any point before
it leaves the database as if the poll never ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor import cadence, crawl, metrics
from monitor.config import SourceConfig
from monitor.errors import BadStatus, FetchError, SourceError
from monitor.fetch import Fetcher, host_of
from monitor.match import Matcher
from monitor.models import Entry, Match, PollStatus, Response
from monitor.pages import PagePool, Reading
from monitor.redact import redact
from monitor.sources.dates import plausible
from monitor.store import BACKOFF_CAP, NewItem, SourceState, Store, backoff_delay, utcnow
from monitor.store_stories import DEFAULT_WINDOW as DEFAULT_STORY_WINDOW
from monitor.stories import fingerprint
from monitor.urls import canonical_url, url_key

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(minutes=10)
SKIPPED = frozenset({"backoff", "not-due"})

# What one poll takes on, so that a broken or hostile listing costs its own source time and
# not everyone's: a sitemap index of two 49 MB children gave 2,000,000 items in one poll
# (2 GB), and 3,000 new items with short texts took 12 s of story matching on the event loop.
MAX_ENTRIES = 50_000  # entries of a listing read (a sitemap holds at most 50,000 by its protocol)
MAX_NEW = 500  # new items of a poll that is no baseline; the others are new at the next polls
MAX_PAGES_AT_ONCE = 8  # a source's article pages in hand at once: 320 that hang held every slot


@dataclass(frozen=True, kw_only=True)
class PollResult:
    """The outcome of one poll, as logged and as `monitor once` reports it."""

    source_id: str
    status: PollStatus
    new: int = 0
    matched: int = 0
    ms: float = 0.0
    error: str | None = None
    entries: int | None = None  # entries the listing held; None when no listing was read

    @property
    def failed(self) -> bool:
        return self.status == "error"

    @property
    def skipped(self) -> bool:
        """A firing that did not poll: in backoff, or an adaptive source not due yet."""
        return self.status in SKIPPED


def _not_due(source: SourceConfig, state: SourceState, now: datetime) -> bool:
    """Whether an adaptive source's firing comes before its due time. The stored due time
    obeys the bounds it was computed under; a reload may since have lowered max_every,
    and the source's current max_every after its last success is as long as it waits."""
    if not source.adaptive or state.due_at is None or source.max_every is None:
        return False
    due = state.due_at
    if state.last_success_at is not None:
        due = min(due, cadence.due_at(state.last_success_at, source.max_every, firing_every=source.firing_every))
    return due > now


@dataclass(frozen=True, kw_only=True)
class _Candidate:
    entry: Entry
    url: str


class Poller:
    """Polls sources against one store, fetcher and compiled set of watch lists."""

    def __init__(self, *, store: Store, fetcher: Fetcher, matcher: Matcher,
                 routes: Mapping[str, Sequence[str]], pages: PagePool | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 story_window: timedelta = DEFAULT_STORY_WINDOW) -> None:
        self.store = store
        self.fetcher = fetcher
        self.matcher = matcher
        self.routes = routes
        # Threads by default: a Poller made for one test or one command does not start processes.
        self.pages = pages if pages is not None else PagePool(workers=0)
        self.clock = clock
        self.story_window = story_window

    async def poll(self, source: SourceConfig, *, force: bool = False) -> PollResult:
        """Poll once; never raises for a source's fault, returning status=error instead."""
        started = time.perf_counter()
        state = self.store.source_state(source.id, url=source.url_as_stored, key=url_key(source.url),
                                        formerly=source.url)
        now = self.clock()
        if not force and state.retry_at is not None and state.retry_at > now:
            result = PollResult(source_id=source.id, status="backoff")
        elif not force and _not_due(source, state, now):
            result = PollResult(source_id=source.id, status="not-due")
        else:
            try:
                result = await self._poll(source, state)
            except (FetchError, SourceError) as exc:
                result = self._record_failure(source, state, exc)
            except Exception as exc:  # the one broad catch per unit of work: a poll
                log.exception("poll source=%s crashed", source.id)
                result = self._record_failure(source, state, exc)
        result = PollResult(source_id=result.source_id, status=result.status, new=result.new,
                            matched=result.matched, error=result.error, entries=result.entries,
                            ms=(time.perf_counter() - started) * 1000)
        metrics.observe_poll(source=source.id, status=result.status, new=result.new, matched=result.matched,
                             seconds=result.ms / 1000)
        line = "poll source=%s status=%s new=%d matched=%d ms=%.0f"
        if result.error:
            log.warning(line + " error=%r", source.id, result.status, result.new, result.matched, result.ms,
                        result.error)
        else:
            # A skipped firing (backoff, not due) is routine: at debug, or an adaptive source
            # firing every minute would write a line a minute saying it did nothing.
            log.log(logging.DEBUG if result.skipped else logging.INFO, line, source.id, result.status, result.new,
                    result.matched, result.ms)
        return result

    def _record_failure(self, source: SourceConfig, state: SourceState, exc: BaseException) -> PollResult:
        reason = redact(str(exc)) if isinstance(exc, (FetchError, SourceError)) \
            else f"internal error: {type(exc).__name__}"
        now = self.clock()
        interval = source.every or DEFAULT_INTERVAL
        # The job fires every firing_every anyway (min_every for an adaptive source); retry_at
        # only has to make it skip the firings inside the backoff, so it lands half a firing early.
        delay = backoff_delay(state.consecutive_failures + 1, interval=interval)
        delay = delay * random.uniform(0.9, 1.1) - source.firing_every / 2
        if isinstance(exc, BadStatus) and exc.retry_after:
            # Clamped before it becomes a timedelta: a hostile Retry-After (1e12 s, or digits
            # that parse to inf) would overflow and escape a poll, and an honest one of a year
            # would silence the source for a year; the backoff cap is as long as we ever wait.
            honoured = min(exc.retry_after, max(BACKOFF_CAP, interval).total_seconds())
            delay = max(delay, timedelta(seconds=honoured))
        retry_at = now + delay if delay > timedelta(0) else None
        self.store.record_failure(source.id, url=source.url_as_stored, key=url_key(source.url), error=reason,
                                  now=now, retry_at=retry_at)
        return PollResult(source_id=source.id, status="error", error=reason)

    async def _poll(self, source: SourceConfig, state: SourceState) -> PollResult:
        timeout = source.timeout.total_seconds()
        reader = crawl.reader_for(source)
        conditional = reader.single_body
        response = await self.fetcher.get(reader.request_url(source.url, since=state.last_success_at),
                                          timeout=timeout, etag=state.etag if conditional else None,
                                          last_modified=state.last_modified if conditional else None)
        body_hash = hashlib.sha256(response.body).hexdigest()
        nothing_new: PollStatus | None = "not-modified" if response.not_modified else None
        if body_hash == state.body_hash and state.baseline_at is not None and conditional and not nothing_new:
            nothing_new = "unchanged"  # many servers send no validators: an identical body needs no parsing
        if nothing_new is not None:
            with self.store.transaction():  # one commit a poll, an adaptive source's next due time in it
                self.store.record_not_modified(source.id, now=self.clock(), status=nothing_new)
                self._schedule_next(source, response, state.feed_ttl)
            return PollResult(source_id=source.id, status=nothing_new)

        # Parsed in this process, not in a page worker: measured, shipping a feed there and its
        # entries back cost more CPU than the parse (1.3 s more over the bench's 1,000 feeds)
        # and no time. A large body is parsed in a thread (crawl.parse).
        reader = crawl.reader_for(source, response.body, response.content_type)
        listing = await crawl.parse(reader, response)
        listing = await crawl.expand(self.fetcher, reader, listing, timeout=timeout)
        baseline = state.baseline_at is None and not source.backfill
        if state.baseline_at is not None:
            listing = await crawl.burst(self.fetcher, reader, listing, response, max_pages=source.max_pages,
                                        timeout=timeout, all_new=lambda page: self._all_new(source.id, page))
        warnings = list(listing.warnings)
        if len(listing.entries) > MAX_ENTRIES:
            warnings.append(f"the listing holds {len(listing.entries)} entries: only the first {MAX_ENTRIES} "
                            "were read")
            listing = replace(listing, entries=listing.entries[:MAX_ENTRIES])
        candidates = self._unseen(source.id, listing.entries)
        entries = len(listing.entries)
        deferred = not baseline and len(candidates) > MAX_NEW
        if baseline:
            items = [self._baseline_item(source.id, c) for c in candidates]
        else:
            if deferred:
                # The last listed are read, and the others, not stored, stay new to the next
                # poll: it reads the first page again, and a burst goes on while a page is all
                # new, to where this one stopped. Kept first, they left a burst's later pages
                # behind a first page all seen, where no burst begins.
                warnings.append(f"{len(candidates)} new items at once: the {MAX_NEW} listed last were read, the "
                                "others wait for the next polls")
                candidates = candidates[-MAX_NEW:]
            # The new items' pages may wait their turn (a publish on a thousand sources at
            # once): meanwhile the poll keeps what it commits, not the body and the entries
            # stored before, most of a real feed's 100 KB and more.
            response = replace(response, body=b"")
            listing = replace(listing, entries=())
            pages = asyncio.Semaphore(MAX_PAGES_AT_ONCE)
            items = list(await asyncio.gather(*(self._process(source, c, pages) for c in candidates)))
        if deferred:  # no validators or hash kept: the next poll must read the body again, even unchanged
            response, body_hash = replace(response, etag=None, last_modified=None), ""
        warnings = [redact(w) for w in warnings]
        if warnings:  # rare: one query to tell a new warning from the last poll's
            seen = set(self.store.warnings_of(source.id))
            for warning in warnings:
                if warning not in seen:  # "ok, new=0" alone read like a healthy, quiet source
                    log.warning("poll source=%s warning=%r", source.id, warning)
        with self.store.transaction():
            self.store.commit_poll(source.id, url=source.url_as_stored, items=items, now=self.clock(),
                                   etag=response.etag, last_modified=response.last_modified,
                                   body_hash=body_hash, warnings=warnings,
                                   baseline=state.baseline_at is None, story_window=self.story_window,
                                   key=url_key(source.url))
            self._schedule_next(source, response, listing.ttl)
        matched = sum(1 for item in items if item.matches)
        return PollResult(source_id=source.id, status="baseline" if baseline else "ok",
                          new=len(items), matched=matched, entries=entries)

    def _schedule_next(self, source: SourceConfig, response: Response, ttl: timedelta | None) -> None:
        """After a successful poll of an adaptive source: when it is due again, and why."""
        if not source.adaptive or source.min_every is None or source.max_every is None:
            return
        now = self.clock()
        hints = cadence.Hints(cache_control=response.cache_control, expires=response.expires, date=response.date,
                              ttl=ttl)
        every = source.every or DEFAULT_INTERVAL
        decided = cadence.cadence(every=every, min_every=source.min_every, max_every=source.max_every,
                                  arrivals=self.store.recent_arrivals(source.id, cadence.RECENT_ARRIVALS),
                                  hints=hints, now=now)
        self.store.record_cadence(source.id, interval=decided.interval, reason=decided.reason, feed_ttl=ttl,
                                  due_at=cadence.due_at(now, decided.interval, firing_every=source.firing_every))

    def _all_new(self, source_id: str, entries: Sequence[Entry]) -> bool:
        """Whether no entry of a listing page is stored yet: a burst may continue on the next."""
        return len(self._unseen(source_id, entries)) == len({canonical_url(e.url) for e in entries})

    def _unseen(self, source_id: str, entries: Sequence[Entry]) -> list[_Candidate]:
        """Entries not stored yet, by canonical URL (any source) or GUID (this source)."""
        candidates: dict[str, _Candidate] = {}
        for entry in entries:
            url = canonical_url(entry.url)
            if url not in candidates:
                candidates[url] = _Candidate(entry=entry, url=url)
        # A GUID on several items is no item's permanent id (a feed that gives every item the
        # site's home page as its guid): kept, it made each new item look seen.
        guids = Counter(c.entry.guid for c in candidates.values() if c.entry.guid)
        if guids and max(guids.values()) > 1:
            for url, c in candidates.items():
                if c.entry.guid and guids[c.entry.guid] > 1:
                    candidates[url] = _Candidate(entry=replace(c.entry, guid=None), url=url)
        known_urls, known_guids = self.store.known(
            source_id, list(candidates), [c.entry.guid for c in candidates.values() if c.entry.guid])
        return [c for url, c in candidates.items()
                if url not in known_urls and (c.entry.guid is None or c.entry.guid not in known_guids)]

    def _baseline_item(self, source_id: str, candidate: _Candidate) -> NewItem:
        entry = candidate.entry
        text = entry.content or entry.summary
        # No fingerprint: baseline items alerted nobody, so a later copy of one should alert,
        # and a first poll of a large sitemap is not worth a story comparison per item.
        return NewItem(url=candidate.url, guid=entry.guid, source_id=source_id, title=entry.title,
                       summary=entry.summary, published=plausible(entry.published), main_text=text,
                       text_origin="source" if entry.content else "feed", fetch_error=None,
                       content_hash=_hash_text(text), baseline=True)

    async def _process(self, source: SourceConfig, candidate: _Candidate, pages: asyncio.Semaphore) -> NewItem:
        entry = candidate.entry
        title = entry.title
        published = plausible(entry.published)
        fetch_error = None
        of_text: tuple[bytes, int] | None = None  # the text's MinHash, when a worker made it
        if entry.content is not None:
            text, origin = entry.content, "source"
        elif source.fetch_articles:
            try:
                async with pages:
                    reading = await self._article(source, entry.url)
            except (FetchError, SourceError) as exc:
                text, origin, fetch_error = entry.summary, "feed", str(exc)
                log.warning("article source=%s url=%s status=error error=%r (matching the feed's text)",
                            source.id, candidate.url, fetch_error)
            else:
                article = reading.article
                text, origin, of_text = article.text, "article", reading.signature
                title = title or article.title or ""
                published = published or plausible(article.published)
                if not text.strip():
                    text, origin, fetch_error = entry.summary, "feed", "no main text found on the page"
                    of_text = None
        else:
            text, origin = entry.summary, "feed"
        matches = self.matcher.match(source_id=source.id, title=title, body=text)
        deliveries = tuple((m.watchlist, channel) for m in matches for channel in self.routes.get(m.watchlist, ()))
        return NewItem(url=candidate.url, guid=entry.guid, source_id=source.id, title=title,
                       summary=entry.summary, published=published, main_text=text, text_origin=origin,
                       fetch_error=fetch_error, content_hash=_hash_text(text), baseline=False,
                       matches=tuple(matches), deliveries=deliveries,
                       fingerprint=fingerprint(title=title, text=text, of_text=of_text))

    async def _article(self, source: SourceConfig, url: str) -> Reading:
        async with self.pages.admit(host_of(url)):
            response = await self.fetcher.get(url, timeout=source.timeout.total_seconds(), follow_up=True)
            content_selector = source.select.content if source.select is not None else None
            return await self.pages.read(response.body, response.url, content_selector=content_selector,
                                         content_type=response.content_type, tz=crawl.zone(source))


def _hash_text(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


__all__ = ["Match", "PollResult", "Poller"]
