"""Adaptive polling: how long to wait before polling a source again (pure).

A source with both ``min_every`` and ``max_every`` is polled on this rule after every
successful poll; the daemon fires it every ``min_every`` and the poller skips the
firings before the due time (the same mechanism as backoff). The rule, in order:

1. Start from ``every``, clamped to [min_every, max_every]. Reason ``every``.
2. Observed rhythm: given at least 3 distinct first-seen times of the source's recent
   non-baseline items (several items found by one poll are one arrival), take the median
   gap between them; if the source has been quiet for longer than that since its newest
   arrival, that open gap counts instead. The interval is half of it, so an hourly
   publisher is polled about every 30 minutes and one silent for days drifts toward
   ``max_every``. Reason ``rhythm``.
3. Server hints: ``Cache-Control: max-age=N`` (ignored with ``no-cache`` or ``no-store``),
   ``Expires`` minus ``Date`` (or now, without a Date), and an RSS ``<ttl>``. The interval
   is at least the largest hint: a publisher asking us to wait is honoured. Reason
   ``max-age``, ``expires`` or ``ttl``.
4. Always clamp to [min_every, max_every]; a clamped reason says so.

Why half the gap: polling at the publishing rate would find each item up to one gap late
on average; half of it keeps the expected delay at a quarter gap for half the requests
of polling at ``min_every`` all day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from monitor.config.schema import format_duration
from monitor.headers import capped_count, http_date

MIN_ARRIVALS = 3
RECENT_ARRIVALS = 10
# Hints are cut to this before they become timedeltas: a hostile max-age of 1e30 would overflow.
HINT_CEILING = timedelta(days=366)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*no-(?:cache|store)\b", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Hints:
    """What the publisher said about freshness, as the last poll's response carried it."""

    cache_control: str | None = None
    expires: str | None = None
    date: str | None = None
    ttl: timedelta | None = None  # the feed's <ttl>


@dataclass(frozen=True, kw_only=True)
class Cadence:
    """The interval until the next poll, and why, e.g. ``rhythm: median gap 1h``."""

    interval: timedelta
    reason: str


def cadence(*, every: timedelta, min_every: timedelta, max_every: timedelta,
            arrivals: Sequence[datetime], hints: Hints, now: datetime) -> Cadence:
    """The interval until the next poll of an adaptive source, by the module's rule."""
    interval, reason = every, f"every {format_duration(every)}"
    rhythm = _rhythm(arrivals, now)
    if rhythm is not None:
        gap, label = rhythm
        interval, reason = gap / 2, f"rhythm: {label} {format_duration(gap)}"
    hint = _largest_hint(hints, now)
    if hint is not None and hint[0] > interval:
        interval, reason = hint
    if interval < min_every:
        return Cadence(interval=min_every, reason=f"{reason}, raised to min_every")
    if interval > max_every:
        return Cadence(interval=max_every, reason=f"{reason}, capped at max_every")
    return Cadence(interval=interval, reason=reason)


def _rhythm(arrivals: Sequence[datetime], now: datetime) -> tuple[timedelta, str] | None:
    times = sorted(set(arrivals))
    if len(times) < MIN_ARRIVALS:
        return None
    gap = timedelta(seconds=median((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)))
    quiet = now - times[-1]
    if quiet > gap:
        return quiet, "quiet for"
    return gap, "median gap"


def _largest_hint(hints: Hints, now: datetime) -> tuple[timedelta, str] | None:
    found: list[tuple[timedelta, str]] = []
    limit = HINT_CEILING.total_seconds()
    if hints.cache_control and not _NO_CACHE.search(hints.cache_control):
        max_age = _MAX_AGE.search(hints.cache_control)
        if max_age is not None:
            age = capped_count(max_age.group(1), int(limit)) or 0
            found.append((timedelta(seconds=age), f"max-age={age}"))
    expires = http_date(hints.expires)
    if expires is not None:
        left = (expires - (http_date(hints.date) or now)).total_seconds()
        if left > 0:
            seconds = min(left, limit)
            found.append((timedelta(seconds=seconds), f"expires in {format_duration(timedelta(seconds=seconds))}"))
    if hints.ttl is not None and hints.ttl > timedelta(0):
        found.append((min(hints.ttl, HINT_CEILING), f"ttl {format_duration(hints.ttl)}"))
    return max(found, key=lambda hint: hint[0]) if found else None


def due_at(now: datetime, interval: timedelta, *, firing_every: timedelta) -> datetime:
    """When the next poll is due. Half a firing early, as backoff's retry_at is: the job
    fires every ``firing_every``, and the firing nearest the interval should run."""
    return now + interval - firing_every / 2
