"""Values publishers write in HTTP headers and feeds: dates, and counts of seconds or minutes.

Each is read defensively, as it comes from the open web: an unreadable value is None (as
if absent), and a number is capped before it becomes a timedelta, since a hostile
``max-age`` of 1e30 would overflow one and thousands of digits are past what ``int()``
converts at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def http_date(value: str | None) -> datetime | None:
    """An HTTP-date (RFC 9110) as an aware datetime, or None for an absent or unreadable one."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def capped_count(digits: str | None, ceiling: int) -> int | None:
    """Decimal ``digits`` as an int no larger than ``ceiling``; None unless it is all digits."""
    text = (digits or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    text = text.lstrip("0") or "0"
    return min(int(text), ceiling) if len(text) <= len(str(ceiling)) else ceiling


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP-date), or None.

    A date in the past gives 0.0; an unreadable value gives None, as if the header were absent.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    when = http_date(value)
    if when is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
