"""Source health: tell operators, once, when a source needs attention and when it recovers.

Three conditions, each reported when it starts and when it ends, never on every poll:

- failing: the source failed ``failures`` polls in a row;
- empty: a listing that had entries now has none (its selectors stopped matching);
- silent: a source that publishes regularly has had no new item for ``silence`` times
  its usual gap between items.

``assess`` is pure: what was reported before and what this poll saw give the new state
and the notices. ``HealthWatch`` keeps that state in the sources table and queues the
notices for the ``health:`` channel in the same transaction, so a notice survives a
channel outage or a crash and is never sent twice for one change. Without a ``health:``
channel the notices are only logged.
"""

from __future__ import annotations

import asyncio
import html
import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import SourceConfig
from monitor.config.schema import DEFAULT_HEALTH_FAILURES, DEFAULT_HEALTH_SILENCE, HealthConfig, format_duration
from monitor.notify.deliver import Target, retry_delay
from monitor.notify.render import Message
from monitor.pipeline import PollResult
from monitor.store import Store, utcnow
from monitor.store_health import (
    HealthRecord,
    Notice,
    give_up_notice,
    health_record,
    item_times,
    mark_notice,
    pending_notices,
    record_health,
)

log = logging.getLogger(__name__)

MIN_HISTORY = 5  # items a source needs before it has a "usual gap"
MIN_SILENCE = timedelta(hours=1)  # below this, a pause is never worth a notice
ITEM_TIMES_TTL = 600.0  # seconds a source's item times are reused between polls that store nothing


@dataclass(frozen=True, kw_only=True)
class Rules:
    failures: int = DEFAULT_HEALTH_FAILURES
    silence: float = DEFAULT_HEALTH_SILENCE


@dataclass(frozen=True, kw_only=True)
class Observation:
    """What one poll of a source left us knowing about it."""

    source_id: str
    name: str
    failures: int  # in a row, this poll included
    error: str | None
    entries: int | None  # entries the listing held; None when no listing was read
    latest: datetime | None  # when the newest stored item was published (else first seen)
    gap: timedelta | None  # the source's usual gap between items (``usual_gap``)
    now: datetime


def rhythm(times: Sequence[datetime]) -> tuple[datetime | None, timedelta | None]:
    """What the health check keeps of a source's item times (newest first): the newest, and
    the usual gap between them."""
    return (times[0] if times else None), usual_gap(times)


def usual_gap(times: Sequence[datetime]) -> timedelta | None:
    """The median time between a source's consecutive items (newest first), or None when
    it has too few items to say."""
    gaps = [newer - older for newer, older in zip(times, times[1:], strict=False) if newer > older]
    if len(times) < MIN_HISTORY or len(gaps) < MIN_HISTORY - 1:
        return None
    return timedelta(seconds=statistics.median(g.total_seconds() for g in gaps))


def assess(record: HealthRecord, seen: Observation, rules: Rules) -> tuple[HealthRecord, list[Notice]]:
    """The new health state of a source, and a notice for each condition that began or ended."""
    flags = set(record.flags)
    notices: list[Notice] = []

    def change(condition: str, active: bool, message: str) -> None:
        if active != (condition in flags):
            (flags.add if active else flags.discard)(condition)
            notices.append(Notice(source_id=seen.source_id, condition=condition,
                                  state="alert" if active else "recovered", message=message))

    name = seen.name
    if seen.failures >= rules.failures:
        change("failing", True, f"{name} failed {seen.failures} polls in a row; the last error: {seen.error}")
    elif seen.failures == 0:
        change("failing", False, f"{name} is polling successfully again")

    entries = record.entries
    if seen.entries == 0 and record.entries:
        change("empty", True, f"{name}'s listing has no entries now (it had {record.entries}); the page may "
                              "have changed: check the source's url and select: selectors")
    elif seen.entries:
        change("empty", False, f"{name}'s listing has entries again ({seen.entries})")
        entries = seen.entries

    if seen.failures == 0:
        gap = seen.gap
        quiet = seen.now - seen.latest if seen.latest is not None else None
        if gap is not None and quiet is not None:
            silent = quiet > max(gap * rules.silence, MIN_SILENCE)
            change("silent", silent,
                   f"{name} has published nothing for {_span(quiet)}; it usually publishes every {_span(gap)}"
                   if silent else f"{name} is publishing again")
    return HealthRecord(flags=frozenset(flags), entries=entries), notices


def _span(value: timedelta) -> str:
    return format_duration(timedelta(minutes=max(round(value.total_seconds() / 60), 1)))


class HealthWatch:
    """Assesses each poll's outcome and delivers the notices to the health channel."""

    def __init__(self, store: Store, *, config: HealthConfig | None, channels: Mapping[str, Sequence[str]],
                 source_names: Mapping[str, str], give_up: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.rules = Rules(failures=config.failures, silence=config.silence) if config else Rules()
        self.channel = config.channel if config else None
        urls = channels.get(self.channel, ()) if self.channel else ()
        self.targets = [Target(self.channel or "", i, url) for i, url in enumerate(urls)]
        self.source_names = dict(source_names)
        self.give_up = give_up
        self.clock = clock
        self._rhythms: dict[str, tuple[datetime | None, timedelta | None, float]] = {}  # + when read
        # One drain at a time (each poll that raised a notice asked for one, beside the
        # delivery job, and two at once sent a notice twice), and none before a refused
        # notice's retry time: it was tried every 15 s, a warning each time, for three days.
        self._draining = asyncio.Lock()
        self._refusals = 0
        self._retry_at: datetime | None = None

    def succeed(self, previous: HealthWatch) -> None:
        """Take over from the watch of the config before a reload: its drain's lock (its retry
        time is not kept: a reload may have mended the channel)."""
        self._draining = previous._draining

    def observe(self, source: SourceConfig, result: PollResult) -> list[Notice]:
        """Record what this poll says about the source's health; returns the new notices."""
        if result.skipped:
            return []
        record = health_record(self.store, source.id)
        # A poll that did not fail has reset the count; only a failure needs it read back.
        failures = self.store.source_state(source.id).consecutive_failures if result.failed else 0
        latest, gap = self._rhythm(source.id, result) if failures == 0 else (None, None)
        seen = Observation(source_id=source.id, name=self.source_names.get(source.id, source.name),
                           failures=failures, error=result.error, entries=result.entries, latest=latest, gap=gap,
                           now=self.clock())
        new, notices = assess(record, seen, self.rules)
        if new != record:
            record_health(self.store, source.id, record=new, notices=notices, queue=bool(self.targets),
                          now=seen.now)
        for notice in notices:
            level = logging.WARNING if notice.state == "alert" else logging.INFO
            log.log(level, "health source=%s condition=%s state=%s message=%r",
                    notice.source_id, notice.condition, notice.state, notice.message)
        return notices

    def _rhythm(self, source_id: str, result: PollResult) -> tuple[datetime | None, timedelta | None]:
        """The source's newest item time and usual gap, from its item times read again only
        when this poll stored items or the copy is older than ITEM_TIMES_TTL (another process
        may have stored some): reading them on every poll was a quarter of the health check
        at 10,000 sources. Kept as two values, not twenty times, for the memory."""
        cached = self._rhythms.get(source_id)
        now = time.monotonic()
        if cached is None or result.new or now - cached[2] > ITEM_TIMES_TTL:
            cached = self._rhythms[source_id] = (*rhythm(item_times(self.store, source_id)), now)
        return cached[0], cached[1]

    async def drain(self) -> int:
        """Send queued notices in order; stops at the first the channel refuses, which waits for
        its retry (30 s, doubling, at most an hour). Returns how many went. A drain while
        another runs, or before the retry, sends nothing."""
        if self._draining.locked() or (self._retry_at is not None and self.clock() < self._retry_at):
            return 0
        async with self._draining:
            return await self._drain()

    async def _drain(self) -> int:
        sent = 0
        for pending in pending_notices(self.store) if self.targets else []:
            notice = pending.notice
            title = f"[health] {notice.source_id}: {notice.condition} {notice.state}"
            message = Message(title=title, text=notice.message + "\n", markdown=notice.message + "\n",
                              html=f"<p>{html.escape(notice.message)}</p>")
            errors = [reason for target in self.targets if (reason := await target.send(message)) is not None]
            now = self.clock()
            if not errors:
                self._refusals = 0
                mark_notice(self.store, pending.id, now=now, error=None)
                log.info("health-notice channel=%s source=%s condition=%s status=sent",
                         self.channel, notice.source_id, notice.condition)
                sent += 1
                continue
            error = "; ".join(errors)
            if now - pending.created_at >= self.give_up:
                give_up_notice(self.store, pending.id, now=now, error=error)
                log.error("health-notice channel=%s source=%s condition=%s status=failed reason=%r (gave up)",
                          self.channel, notice.source_id, notice.condition, error)
                continue
            mark_notice(self.store, pending.id, now=now, error=error)
            self._refusals += 1
            self._retry_at = now + retry_delay(self._refusals)
            log.warning("health-notice channel=%s source=%s condition=%s status=retry next=%s reason=%r",
                        self.channel, notice.source_id, notice.condition,
                        self._retry_at.isoformat(timespec="seconds"), error)
            break
        return sent
