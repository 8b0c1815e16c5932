"""Read-only queries for `monitor status`, `items`, `alerts` and the metrics endpoint.

Kept apart from ``store.py`` (which the poll and delivery paths write through) so the
operator's views can grow without growing the write path. Every query here only reads,
so it runs beside a live daemon (the database is in WAL mode).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from monitor.store import Store


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, kw_only=True)
class SourceRecord:
    """What the database knows of one source; a source never polled has no record."""

    id: str
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    retry_at: datetime | None
    next_poll_at: datetime | None
    items: int
    last_item_at: datetime | None
    # From the last poll that parsed a body (a malformed feed read anyway, say); a
    # not-modified poll keeps them, since the body they describe is still the current one.
    warnings: tuple[str, ...] = ()
    # Adaptive polling's current interval and why, and when the source is due again.
    cadence_seconds: int | None = None
    cadence_reason: str | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ChannelRecord:
    """One channel's outbox: alerts waiting, given up on, and delivered since the day began."""

    channel: str
    queued: int
    failed: int
    sent_today: int
    last_sent_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ItemRecord:
    """A stored item with the watch lists it matched."""

    id: int
    source_id: str
    title: str
    url: str
    published: datetime | None
    first_seen: datetime
    baseline: bool
    watchlists: tuple[str, ...]
    fetch_error: str | None
    also_at: tuple[str, ...] = ()  # source ids of the other items of its story


@dataclass(frozen=True, kw_only=True)
class AlertRecord:
    """One outbox row: an alert for an item, a watch list and a channel."""

    id: int
    channel: str
    watchlist: str
    status: str  # queued | sent | failed
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    source_id: str
    title: str
    url: str


def source_records(store: Store) -> dict[str, SourceRecord]:
    """Every source the database has seen, keyed by id (configured or not)."""
    rows = store.db.execute(
        """
        SELECT s.id, s.last_poll_at, s.last_success_at, s.last_status, s.last_error, s.last_error_at,
               s.consecutive_failures, s.retry_at, s.next_poll_at,
               COUNT(i.id), MAX(i.first_seen), s.warnings, s.cadence_seconds, s.cadence_reason, s.due_at
        FROM sources s LEFT JOIN items i ON i.source_id = s.id
        GROUP BY s.id ORDER BY s.id
        """
    ).fetchall()
    return {
        r[0]: SourceRecord(
            id=r[0], last_poll_at=_when(r[1]), last_success_at=_when(r[2]), last_status=r[3],
            last_error=r[4], last_error_at=_when(r[5]), consecutive_failures=r[6] or 0,
            retry_at=_when(r[7]), next_poll_at=_when(r[8]), items=r[9], last_item_at=_when(r[10]),
            warnings=tuple(json.loads(r[11] or "[]")), cadence_seconds=r[12], cadence_reason=r[13],
            due_at=_when(r[14]),
        )
        for r in rows
    }


def channel_records(store: Store, *, since: datetime) -> list[ChannelRecord]:
    """Outbox totals per channel; ``sent_today`` counts deliveries at or after ``since``
    (the caller's midnight, in the config's time zone)."""
    rows = store.db.execute(
        """
        SELECT channel,
               SUM(status = 'queued'), SUM(status = 'failed'),
               SUM(status = 'sent' AND sent_at >= ?), MAX(sent_at)
        FROM outbox GROUP BY channel ORDER BY channel
        """,
        [since.isoformat(timespec="seconds")],
    ).fetchall()
    return [ChannelRecord(channel=r[0], queued=r[1] or 0, failed=r[2] or 0, sent_today=r[3] or 0,
                          last_sent_at=_when(r[4])) for r in rows]


def outbox_totals(store: Store) -> dict[tuple[str, str], int]:
    """(channel, status) -> number of outbox rows, for the metrics endpoint."""
    rows = store.db.execute("SELECT channel, status, COUNT(*) FROM outbox GROUP BY channel, status")
    return {(r[0], r[1]): r[2] for r in rows}


def recent_items(store: Store, *, source_ids: tuple[str, ...] = (), since: datetime | None = None,
                 matched_only: bool = False, limit: int = 20) -> list[ItemRecord]:
    """The newest items first (by first seen), with the watch lists each matched."""
    where: list[str] = ["1"]
    args: list[object] = []
    if source_ids:
        where.append(f"i.source_id IN ({','.join('?' * len(source_ids))})")
        args.extend(source_ids)
    if since is not None:
        where.append("i.first_seen >= ?")
        args.append(since.isoformat(timespec="seconds"))
    if matched_only:
        where.append("EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id)")
    rows = store.db.execute(
        f"""
        SELECT i.id, i.source_id, i.title, i.url, i.published, i.first_seen, i.baseline,
               (SELECT json_group_array(m.watchlist) FROM matches m WHERE m.item_id = i.id), i.fetch_error,
               (SELECT json_group_array(j.source_id) FROM items j WHERE j.story_id = i.story_id AND j.id != i.id)
        FROM items i WHERE {' AND '.join(where)}
        ORDER BY i.first_seen DESC, i.id DESC LIMIT ?
        """,
        [*args, limit],
    ).fetchall()
    return [
        ItemRecord(id=r[0], source_id=r[1], title=r[2] or "", url=r[3], published=_when(r[4]),
                   first_seen=_when(r[5]) or datetime.min, baseline=bool(r[6]),
                   watchlists=tuple(sorted(json.loads(r[7] or "[]"))), fetch_error=r[8],
                   also_at=tuple(dict.fromkeys(json.loads(r[9] or "[]"))))
        for r in rows
    ]


def recent_alerts(store: Store, *, channels: tuple[str, ...] = (), statuses: tuple[str, ...] = (),
                  since: datetime | None = None, limit: int = 20) -> list[AlertRecord]:
    """Outbox rows, newest first, joined with their item."""
    where: list[str] = ["1"]
    args: list[object] = []
    if channels:
        where.append(f"o.channel IN ({','.join('?' * len(channels))})")
        args.extend(channels)
    if statuses:
        where.append(f"o.status IN ({','.join('?' * len(statuses))})")
        args.extend(statuses)
    if since is not None:
        where.append("o.created_at >= ?")
        args.append(since.isoformat(timespec="seconds"))
    rows = store.db.execute(
        f"""
        SELECT o.id, o.channel, o.watchlist, o.status, o.attempts, o.created_at, o.sent_at,
               o.next_attempt_at, o.last_error, i.source_id, i.title, i.url
        FROM outbox o JOIN items i ON i.id = o.item_id WHERE {' AND '.join(where)}
        ORDER BY o.created_at DESC, o.id DESC LIMIT ?
        """,
        [*args, limit],
    ).fetchall()
    return [
        AlertRecord(id=r[0], channel=r[1], watchlist=r[2], status=r[3], attempts=r[4],
                    created_at=_when(r[5]) or datetime.min, sent_at=_when(r[6]),
                    next_attempt_at=_when(r[7]) if r[3] == "queued" else None, last_error=r[8],
                    source_id=r[9], title=r[10] or "", url=r[11])
        for r in rows
    ]


def database_answers(store: Store) -> str | None:
    """None if a trivial query succeeds on the file at the database's path, else why not (for /healthz)."""
    gone = store.file_problem()
    if gone is not None:
        return gone
    try:
        store.db.execute("SELECT COUNT(*) FROM sources").fetchone()
    except sqlite3.Error as exc:
        return f"database does not answer: {exc}"
    return None
