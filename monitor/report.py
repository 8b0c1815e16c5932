"""What `monitor status`, `items` and `alerts` show: the config and the database, side by side.

Building a view reads the store; rendering it (a text table, or JSON for scripts) is pure,
so tests can pin the output on a seeded database with a fixed clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from monitor.config import Config, SourceConfig
from monitor.config.schema import format_duration
from monitor.store import Store
from monitor.store_report import (
    AlertRecord,
    ChannelRecord,
    ItemRecord,
    channel_records,
    source_records,
)

ERROR_WIDTH = 100


@dataclass(frozen=True, kw_only=True)
class SourceStatus:
    """One row of the sources table; ``configured`` False for a source since removed."""

    id: str
    name: str
    kind: str
    configured: bool
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    consecutive_failures: int
    last_error: str | None
    items: int
    last_item_at: datetime | None
    next_poll_at: datetime | None
    retry_at: datetime | None
    warnings: tuple[str, ...] = ()
    # How often it is polled: "10m", "cron", or for an adaptive source its current interval
    # and why ("30m (rhythm: median gap 1h)"), with the seconds and the due time for scripts.
    polling: str = "-"
    interval_seconds: int | None = None
    interval_reason: str | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Status:
    """Everything `monitor status` prints, as of ``now``."""

    now: datetime
    database: str
    sources: tuple[SourceStatus, ...]
    channels: tuple[ChannelRecord, ...]


def build_status(config: Config, store: Store, *, now: datetime) -> Status:
    records = source_records(store)
    sources = []
    for source in config.sources:
        sources.append(_source_status(source.id, source.name, source.kind or "auto", True, records.get(source.id),
                                      source))
    for source_id, record in records.items():
        if source_id not in {s.id for s in config.sources}:
            sources.append(_source_status(source_id, source_id, "-", False, record))
    midnight = now.astimezone(ZoneInfo(config.timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    found = {c.channel: c for c in channel_records(store, since=midnight.astimezone(timezone.utc))}
    channels = [found.pop(name, ChannelRecord(channel=name, queued=0, failed=0, sent_today=0, last_sent_at=None))
                for name in config.channels]
    channels.extend(found.values())
    return Status(now=now, database=str(config.database), sources=tuple(sources), channels=tuple(channels))


def _polling(source: SourceConfig | None, record: Any) -> str:
    if source is None:
        return "-"
    if source.cron:
        return "cron"
    if not source.adaptive or source.min_every is None or source.max_every is None:
        return format_duration(source.firing_every)
    if record is None or record.cadence_seconds is None:
        return f"{format_duration(source.min_every)}-{format_duration(source.max_every)} (adaptive, not polled yet)"
    return f"{format_duration(timedelta(seconds=record.cadence_seconds))} ({record.cadence_reason})"


def _source_status(source_id: str, name: str, kind: str, configured: bool, record: Any,
                   source: SourceConfig | None = None) -> SourceStatus:
    adaptive = source is not None and source.adaptive and record is not None
    return SourceStatus(
        id=source_id, name=name, kind=kind, configured=configured,
        last_poll_at=record.last_poll_at if record else None,
        last_success_at=record.last_success_at if record else None,
        last_status=record.last_status if record else None,
        consecutive_failures=record.consecutive_failures if record else 0,
        last_error=record.last_error if record and record.consecutive_failures else None,
        items=record.items if record else 0,
        last_item_at=record.last_item_at if record else None,
        next_poll_at=record.next_poll_at if record and configured else None,
        retry_at=record.retry_at if record else None,
        warnings=record.warnings if record else (),
        polling=_polling(source, record),
        interval_seconds=record.cadence_seconds if adaptive else None,
        interval_reason=record.cadence_reason if adaptive else None,
        due_at=record.due_at if adaptive else None,
    )


# -- rendering (pure) ---------------------------------------------------------------------


def render_status(status: Status) -> str:
    now = status.now
    rows = [
        [s.id + ("" if s.configured else " (removed)"), s.kind, ago(s.last_poll_at, now), s.last_status or "-",
         ago(s.last_success_at, now), str(s.consecutive_failures), str(s.items), ago(s.last_item_at, now),
         _next_poll(s, now), s.polling]
        for s in status.sources
    ]
    out = [f"Sources ({len(status.sources)}), database {status.database}",
           table(["SOURCE", "KIND", "LAST POLL", "RESULT", "LAST SUCCESS", "FAILURES", "ITEMS", "LAST NEW ITEM",
                  "NEXT POLL", "EVERY"], rows)]
    failing = [s for s in status.sources if s.last_error]
    if failing:
        out.append("")
        out.append("Failing sources:")
        out.extend(f"  {s.id}: {s.consecutive_failures} in a row: {_clip(s.last_error or '')}" for s in failing)
    warned = [s for s in status.sources if s.warnings]
    if warned:
        out.append("")
        out.append("Warnings:")
        out.extend(f"  {s.id}: {_clip(w)}" for s in warned for w in s.warnings)
    out.append("")
    out.append(f"Outbox ({_count(len(status.channels), 'channel')})")
    out.append(table(["CHANNEL", "QUEUED", "FAILED", "SENT TODAY", "LAST SENT"],
                     [[c.channel, str(c.queued), str(c.failed), str(c.sent_today), ago(c.last_sent_at, now)]
                      for c in status.channels]))
    return "\n".join(out)


def render_items(items: Sequence[ItemRecord], *, now: datetime) -> str:
    if not items:
        return "No items match."
    rows = [[ago(i.first_seen, now), i.source_id, ", ".join(i.watchlists) or ("(baseline)" if i.baseline else "-"),
             _clip(i.title, 70) + (f" (also at: {', '.join(i.also_at)})" if i.also_at else ""), i.url]
            for i in items]
    return table(["SEEN", "SOURCE", "MATCHED", "TITLE", "URL"], rows)


def render_alerts(alerts: Sequence[AlertRecord], *, now: datetime) -> str:
    if not alerts:
        return "No alerts match."
    rows = []
    for a in alerts:
        if a.status == "sent":
            when = f"sent {ago(a.sent_at, now)}"
        elif a.status == "queued" and a.attempts:
            when = f"retry {until(a.next_attempt_at, now)}"
        elif a.status == "queued":
            when = f"queued {ago(a.created_at, now)}"
        else:
            when = f"gave up, queued {ago(a.created_at, now)}"
        rows.append([str(a.id), a.channel, a.watchlist, a.status, when, str(a.attempts), _clip(a.title, 60),
                     _clip(a.last_error or "", 60)])
    return table(["ID", "CHANNEL", "WATCHLIST", "STATUS", "WHEN", "TRIES", "TITLE", "LAST ERROR"], rows)


def as_json(value: Any) -> Any:
    """Dataclasses, lists of them and datetimes -> plain JSON values (times in ISO 8601 UTC)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return value


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [list(headers), *rows]]
    return "\n".join(lines)


def ago(moment: datetime | None, now: datetime) -> str:
    """``3m ago``; ``never`` for None."""
    if moment is None:
        return "never"
    return f"{_span(now - moment)} ago" if moment <= now else f"in {_span(moment - now)}"


def until(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    return "now" if moment <= now else f"in {_span(moment - now)}"


def _next_poll(source: SourceStatus, now: datetime) -> str:
    at = source.next_poll_at
    if source.retry_at is not None and source.retry_at > max(at or now, now):
        return f"{until(source.retry_at, now)} (backoff)"
    if source.due_at is not None and source.due_at > max(at or now, now):
        return f"{until(source.due_at, now)} (adaptive)"
    if at is None:
        return "-"
    if at < now - timedelta(minutes=1):
        return f"overdue {_span(now - at)} (daemon stopped?)"
    return until(at, now)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _clip(text: str, width: int = ERROR_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"
