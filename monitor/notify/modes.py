"""When an alert may go out: immediately, in a scheduled digest, or after quiet hours. Pure.

Schedules are wall-clock times in the config's time zone, so "08:00" stays 08:00 across
daylight-saving changes. Nothing here keeps state: whether a digest is due is decided from
the time its oldest alert was queued, so a restart neither skips nor repeats one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

# Slots count from a fixed Monday so that "every: 2d" or "every: 7d" fall on the same days
# whoever asks.
_ANCHOR_DAY = datetime(2000, 1, 3)


@dataclass(frozen=True, kw_only=True)
class DigestSchedule:
    """Digests go out at ``at`` (local wall time) and every ``every`` after it."""

    every: timedelta
    at: time = time(0, 0)

    def next_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first digest time strictly after ``moment`` (UTC)."""
        local = moment.astimezone(zone).replace(tzinfo=None)
        anchor = datetime.combine(_ANCHOR_DAY.date(), self.at)
        steps = (local - anchor) // self.every + 1
        return _utc(anchor + steps * self.every, zone)

    def previous(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The last digest time at or before ``moment`` (UTC)."""
        return _utc(self.next_after(moment, zone).astimezone(zone).replace(tzinfo=None) - self.every, zone)


@dataclass(frozen=True, kw_only=True)
class QuietHours:
    """Immediate alerts wait from ``start`` to ``end`` (local wall time; may span midnight)."""

    start: time
    end: time

    def contains(self, moment: datetime, zone: ZoneInfo) -> bool:
        now = moment.astimezone(zone).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


@dataclass(frozen=True, kw_only=True)
class DeliveryMode:
    """How one watch list's alerts reach one channel. The default is immediate, any hour."""

    digest: DigestSchedule | None = None
    quiet: QuietHours | None = None


IMMEDIATE = DeliveryMode()


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(timezone.utc)
