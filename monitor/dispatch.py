"""When each source polls next: one schedule for all sources, read by one scheduler job.

APScheduler's own job per source cost ~1 KB a source and ~10% of the daemon's event loop
at 10,000 sources (its job store re-sorts, its executor wraps every run). Here a source is
a slot of a few numbers in a heap; one APScheduler job, once a second, takes the sources
due within the next second, and the daemon starts them in groups. The semantics
are APScheduler's, as the daemon used them: at most one poll of a source at a time (a
firing while it still runs is skipped), missed firings coalesce into one, and a firing
later than its grace (the machine slept, the loop was blocked) is skipped rather than run
late, so a laptop waking up does not poll every source at once.

An interval source fires at its own point in each interval (``spread``): sources are
spread evenly over their interval rather than bunched where they were first polled, and
a restart keeps the times of the sources that are not ``overdue``.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from monitor.config import SourceConfig
from monitor.config.schema import crontab_trigger

log = logging.getLogger(__name__)

MIN_GRACE = 30.0  # seconds a firing may run late; more for sources polled less often
# An early first poll of an overdue cron source is dropped when its next cron time comes
# less than this many seconds after it: two polls in a minute would ask for nothing new.
CRON_EARLY_GAP = 60.0


class Firing(NamedTuple):
    at: float  # Unix seconds
    source_id: str
    missed: bool  # later than its grace: not polled, the source waits for its next time


@dataclass(slots=True)
class _Slot:
    every: float  # seconds between firings of an interval source (0 for cron)
    offset: float  # seconds into each of its intervals, counted from the Unix epoch, that it fires at
    cron: BaseTrigger | None
    jitter: float  # a firing lands up to this many seconds after its time
    grace: float
    base: float  # the next firing's time before jitter (Unix seconds): the next is computed from it
    fire: float  # when that firing is due: base plus its jitter


def spread(source_id: str, seed: bytes = b"") -> float:
    """Where in each of its intervals a source fires, as a share of the interval in [0, 1):
    a hash of its id and of ``seed``, so the same on every start and in every process,
    evenly spread over sources, and, with the database's own seed, not the same second as
    in every other copy of the same config."""
    # Not CRC32, which is linear: ids such as s0001, s0002 ... bunch in a few places.
    digest = hashlib.blake2b(source_id.encode("utf-8"), digest_size=8, key=seed).digest()
    return (int.from_bytes(digest, "big") >> 11) / 2**53  # 53 bits: a float below 1.0


def grace(source: SourceConfig) -> float:
    """How late a firing may start: half an interval, at least MIN_GRACE."""
    return max(MIN_GRACE, source.firing_every.total_seconds() // 2)


def _own_time_after(offset: float, every: float, moment: float) -> float:
    """The first time at or after ``moment`` that is ``offset`` seconds into an interval of
    ``every`` seconds (counted from the Unix epoch): an interval source's own time, before jitter."""
    return moment + (offset - moment) % every


@lru_cache(maxsize=256)
def _cron(expression: str, tz: str) -> BaseTrigger:
    """One trigger per distinct expression: it only answers "next time after", so sources share it."""
    return crontab_trigger(expression, ZoneInfo(tz))


class Schedule:
    """Every source's next firing. Not thread-safe: the daemon's event loop owns it."""

    def __init__(self, tz: str, *, clock: Callable[[], float] = time.time,
                 jitter: Callable[[float], float] = lambda most: random.uniform(0, most),
                 phase: Callable[[str], float] = spread) -> None:
        self.tz = tz
        self.clock = clock
        self._jitter = jitter
        self._phase = phase
        self._slots: dict[str, _Slot] = {}
        self._heap: list[tuple[float, str]] = []  # (fire, source id); stale entries are skipped on pop
        self._running: set[str] = set()

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, source_id: object) -> bool:
        return source_id in self._slots

    def add(self, source: SourceConfig, *, first: datetime | None = None, last: datetime | None = None) -> None:
        """Schedule ``source`` (anew, if it was): first at ``first``, else at its next time
        from now. An interval source fires at its own point in each interval, at least
        half an interval after a ``first`` or after its ``last`` poll (a restart, a
        reload's new interval)."""
        now = self.clock()
        every = 0.0 if source.cron else source.firing_every.total_seconds()
        slot = _Slot(every=every, offset=self._offset(source.id, every),
                     cron=_cron(source.cron, self.tz) if source.cron else None,
                     jitter=source.jitter.total_seconds(), grace=grace(source), base=now, fire=now)
        if first is not None and slot.cron is not None:
            early = first.timestamp()
            self._advance(slot, now)  # at its next cron time: when that is before or soon after, no early poll
            if slot.base > early + CRON_EARLY_GAP:  # (inf when no time is left)
                slot.base = slot.fire = early
        elif first is not None:
            slot.fire = first.timestamp()
            slot.base = _own_time_after(slot.offset, every, slot.fire + every / 2) - every  # _advance moves it on
        elif slot.cron is not None:
            self._advance(slot, now)
        else:
            after = now if last is None else max(now, self._polled(last) + every / 2)
            slot.base = _own_time_after(slot.offset, every, after) - every
            self._advance(slot, after)
        self._slots[source.id] = slot
        heapq.heappush(self._heap, (slot.fire, source.id))

    def overdue(self, source: SourceConfig, last: datetime | None) -> bool:
        """Whether ``source``, last polled at ``last``, should poll now rather than wait for
        its next time: never polled, or one of its times came and went since (half an
        interval after that poll or later, for an interval source): the daemon was down."""
        if last is None:
            return True
        now, polled = self.clock(), self._polled(last)
        if source.cron:
            start = datetime.fromtimestamp(polled + 1e-6, timezone.utc)
            upcoming = _cron(source.cron, self.tz).get_next_fire_time(None, start)
            return upcoming is not None and upcoming.timestamp() <= now
        every = source.firing_every.total_seconds()
        return _own_time_after(self._offset(source.id, every), every, polled + every / 2) <= now

    def _offset(self, source_id: str, every: float) -> float:
        return self._phase(source_id) * every

    def _polled(self, last: datetime) -> float:
        """A last poll's time, no later than now: after the clock was set back (or on a
        database from a host whose clock ran ahead) it is not a poll still to come."""
        return min(last.timestamp(), self.clock())

    def remove(self, source_id: str) -> None:
        """Stop firing ``source_id``; a poll of it still running finishes."""
        self._slots.pop(source_id, None)

    def next_fire(self, source_id: str) -> datetime | None:
        """When ``source_id`` fires next (None: not scheduled)."""
        slot = self._slots.get(source_id)
        if slot is None or math.isinf(slot.fire):  # a cron expression with no time left
            return None
        return datetime.fromtimestamp(slot.fire, timezone.utc)

    def due(self, until: float) -> list[Firing]:
        """The firings due by ``until``, in time order, each source then moved on to its next
        firing. A firing is ``missed`` when even the newest of the source's missed times is
        past its grace; otherwise missed times coalesce into this one firing (as APScheduler's
        coalescing judges it)."""
        now = self.clock()
        out: list[Firing] = []
        heap = self._heap
        while heap and heap[0][0] <= until:
            fire, source_id = heapq.heappop(heap)
            slot = self._slots.get(source_id)
            if slot is None or slot.fire != fire:
                continue  # removed, or rescheduled since this entry was pushed
            late = now - self._newest_missed(slot, now)
            if late > slot.grace:
                log.warning("poll source=%s status=missed late=%.0fs (the daemon was busy or asleep)",
                            source_id, late)
            out.append(Firing(at=fire, source_id=source_id, missed=late > slot.grace))
            self._advance(slot, max(now, fire))
            heapq.heappush(heap, (slot.fire, source_id))
        if len(heap) > 2 * len(self._slots) + 64:  # reloads leave stale entries behind: drop them
            self._heap = [(slot.fire, sid) for sid, slot in self._slots.items()]
            heapq.heapify(self._heap)
        return out

    def claim(self, source_id: str) -> bool:
        """Whether a due poll of ``source_id`` may start now: False while its previous poll
        runs (that firing is skipped, as with APScheduler's max_instances=1)."""
        if source_id in self._running:
            log.warning("poll source=%s status=overlap (its previous poll still runs: this firing is skipped)",
                        source_id)
            return False
        self._running.add(source_id)
        return True

    def finished(self, source_id: str) -> None:
        """The poll ``claim`` let start for ``source_id`` is over."""
        self._running.discard(source_id)

    def _newest_missed(self, slot: _Slot, now: float) -> float:
        """The newest firing time at or before ``now``: the slot's own (jitter included, as
        the jitter is a delay asked for, not lateness) unless a later one has passed too."""
        newest = slot.base
        if slot.cron is not None:
            while True:
                start = datetime.fromtimestamp(newest + 1e-6, timezone.utc)
                upcoming = slot.cron.get_next_fire_time(None, start)
                if upcoming is None or upcoming.timestamp() > now:
                    return slot.fire if newest == slot.base else newest
                newest = upcoming.timestamp()
        if now - newest >= slot.every:
            return newest + math.floor((now - newest) / slot.every) * slot.every
        return slot.fire

    def _advance(self, slot: _Slot, after: float) -> None:
        """Move ``slot`` to its first firing after ``after``: missed firings coalesce."""
        if slot.cron is not None:
            start = datetime.fromtimestamp(max(after, slot.base) + 1e-6, timezone.utc)
            upcoming = slot.cron.get_next_fire_time(None, start)
            slot.base = upcoming.timestamp() if upcoming is not None else math.inf
        else:
            slot.base += slot.every
            if slot.base <= after:
                slot.base += math.ceil((after - slot.base) / slot.every + 1e-9) * slot.every
        slot.fire = slot.base + (self._jitter(slot.jitter) if slot.jitter else 0.0)
