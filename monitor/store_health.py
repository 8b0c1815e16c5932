"""The SQL of source health: which conditions were reported, item history, health notices.

Apart from ``store.py`` so the poll and delivery write path does not grow; the tables
come from its migration ``m003_source_health``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from monitor.store import Store


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True, kw_only=True)
class HealthRecord:
    """What was last reported about a source, and its last non-empty listing's size."""

    flags: frozenset[str] = frozenset()
    entries: int | None = None


@dataclass(frozen=True, kw_only=True)
class Notice:
    """One health message to send, once: a condition starting (alert) or ending (recovered)."""

    source_id: str
    condition: str  # failing | empty | silent
    state: str  # alert | recovered
    message: str


@dataclass(frozen=True, kw_only=True)
class PendingNotice:
    id: int
    notice: Notice
    created_at: datetime
    attempts: int


def health_record(store: Store, source_id: str) -> HealthRecord:
    row = store.db.execute("SELECT health_flags, health_entries FROM sources WHERE id = ?", [source_id]).fetchone()
    if row is None:
        return HealthRecord()
    return HealthRecord(flags=frozenset(json.loads(row[0] or "[]")), entries=row[1])


def item_times(store: Store, source_id: str, limit: int = 20) -> list[datetime]:
    """When the source's latest items were published (else first seen), newest first."""
    rows = store.db.execute(
        "SELECT COALESCE(published, first_seen) AS moment FROM items WHERE source_id = ?"
        " ORDER BY moment DESC LIMIT ?", [source_id, limit]).fetchall()
    return [datetime.fromisoformat(r[0]) for r in rows if r[0]]


def record_health(store: Store, source_id: str, *, record: HealthRecord, notices: Sequence[Notice],
                  queue: bool, now: datetime) -> None:
    """Save the new state and, when a health channel is configured, queue the notices, in one
    transaction: a crash cannot report a condition twice or lose its notice."""
    with store.db.atomic():
        store.db.execute("UPDATE sources SET health_flags = ?, health_entries = ? WHERE id = ?",
                         [json.dumps(sorted(record.flags)), record.entries, source_id])
        if queue:
            for notice in notices:
                store.db.execute(
                    "INSERT INTO health_events (source_id, condition, state, message, created_at, attempts)"
                    " VALUES (?, ?, ?, ?, ?, 0)",
                    [notice.source_id, notice.condition, notice.state, notice.message, _iso(now)])


def pending_notices(store: Store) -> list[PendingNotice]:
    rows = store.db.execute(
        "SELECT id, source_id, condition, state, message, created_at, attempts FROM health_events"
        " WHERE sent_at IS NULL ORDER BY id").fetchall()
    return [PendingNotice(id=r[0], notice=Notice(source_id=r[1], condition=r[2], state=r[3], message=r[4]),
                          created_at=datetime.fromisoformat(r[5]), attempts=r[6]) for r in rows]


def mark_notice(store: Store, notice_id: int, *, now: datetime, error: str | None) -> None:
    """Record an attempt: sent (error None), or failed with a reason that holds no secret."""
    with store.db.atomic():
        store.db.execute(
            "UPDATE health_events SET attempts = attempts + 1, last_error = ?,"
            " sent_at = CASE WHEN ? THEN ? ELSE NULL END WHERE id = ?",
            [error, error is None, _iso(now), notice_id])


def give_up_notice(store: Store, notice_id: int, *, now: datetime, error: str) -> None:
    """Stop retrying a notice: it leaves the queue, its last error kept with "gave up"."""
    with store.db.atomic():
        store.db.execute("UPDATE health_events SET attempts = attempts + 1, last_error = ?, sent_at = ? WHERE id = ?",
                         [f"gave up: {error}", _iso(now), notice_id])
