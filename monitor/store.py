"""All SQL: schema migrations, sources' state, items, matches and the outbox.

SQLite in WAL mode so `monitor status` can read while the daemon writes. Every write that
must be all-or-nothing goes through ``Store._atomic()`` (sqlite-utils' ``Database.atomic()``
outside a transaction): in sqlite-utils 4 a plain ``with db.conn:`` does not roll back.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from monitor import store_search, store_stories
from monitor.errors import StoreError
from monitor.models import Hit, Match, Snippet
from monitor.stories import Fingerprint

log = logging.getLogger(__name__)

migrations = Migrations("press-monitor")


@migrations()
def m001_initial(db: Database) -> None:
    db.table("sources").create(
        {
            "id": str,
            "url": str,
            "etag": str,
            "last_modified": str,
            "body_hash": str,
            "baseline_at": str,
            "last_poll_at": str,
            "last_success_at": str,
            "last_status": str,
            "last_error": str,
            "last_error_at": str,
            "consecutive_failures": int,
            "retry_at": str,
            "warnings": str,
        },
        pk="id",
        not_null={"consecutive_failures"},
        defaults={"consecutive_failures": 0},
    )
    db.table("items").create(
        {
            "id": int,
            "url": str,
            "guid": str,
            "source_id": str,
            "title": str,
            "summary": str,
            "published": str,
            "first_seen": str,
            "fetched_at": str,
            "main_text": str,
            "text_origin": str,
            "fetch_error": str,
            "content_hash": str,
            "baseline": int,
        },
        pk="id",
        not_null={"url", "source_id", "first_seen"},
        defaults={"baseline": 0},
    )
    db.table("items").create_index(["url"], unique=True)
    db.table("items").create_index(["source_id", "guid"])
    db.table("matches").create(
        {
            "id": int,
            "item_id": int,
            "watchlist": str,
            "terms": str,
            "snippet": str,
            "hits": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("item_id", "items", "id")],
    )
    db.table("matches").create_index(["item_id", "watchlist"], unique=True)
    db.table("outbox").create(
        {
            "id": int,
            "item_id": int,
            "watchlist": str,
            "channel": str,
            "status": str,
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "done_targets": str,
            "created_at": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"status", "attempts", "created_at"},
        defaults={"status": "queued", "attempts": 0, "done_targets": "[]"},
        foreign_keys=[("item_id", "items", "id")],
    )
    db.table("outbox").create_index(["item_id", "watchlist", "channel"], unique=True)
    db.table("outbox").create_index(["status", "next_attempt_at"])


@migrations()
def m002_next_poll(db: Database) -> None:
    # The daemon records when it will poll each source next, for `monitor status`.
    db.table("sources").add_column("next_poll_at", str)


@migrations()
def m003_source_health(db: Database) -> None:
    # Health conditions operators were told about (JSON list), so each is told once; the
    # entry count of the last listing that had any, to notice selectors that stop matching;
    # and the health notices waiting for the health channel.
    db.table("sources").add_column("health_flags", str)
    db.table("sources").add_column("health_entries", int)
    db.table("health_events").create(
        {"id": int, "source_id": str, "condition": str, "state": str, "message": str,
         "created_at": str, "sent_at": str, "attempts": int, "last_error": str},
        pk="id", not_null={"source_id", "condition", "state", "message", "created_at", "attempts"},
        defaults={"attempts": 0},
    )
    db.table("health_events").create_index(["sent_at"])


@migrations()
def m004_stories(db: Database) -> None:
    # Near-duplicate items form a story; the SQL lives in store_stories.
    store_stories.migrate(db)


@migrations()
def m005_search(db: Database) -> None:
    # Full-text index of titles and main texts, kept by triggers; the SQL lives in store_search.
    store_search.migrate(db)


@migrations()
def m006_match_snippets(db: Database) -> None:
    # One snippet per matched term, with its hits' offsets, so alerts can emphasise every
    # term (JSON). Rows from before keep their single plain ``snippet``.
    db.table("matches").add_column("snippets", str)


@migrations()
def m007_cadence(db: Database) -> None:
    # Adaptive polling: when the source is next due, the interval and why (for status), and
    # the feed's last <ttl> in seconds, still honoured on polls answered 304.
    db.table("sources").add_column("due_at", str)
    db.table("sources").add_column("cadence_seconds", int)
    db.table("sources").add_column("cadence_reason", str)
    db.table("sources").add_column("feed_ttl", int)


@migrations()
def m008_search_in_batches(db: Database) -> None:
    # New items wait for the full-text index and are indexed in batches (store_search).
    store_search.migrate_to_batches(db)


@migrations()
def m009_schedule_seed(db: Database) -> None:
    # A random value of this database's own, hashed with each source's id into its point in
    # its interval (dispatch.spread): copies of one config (the example's, say) do not all
    # poll a publisher in the same second. Store.schedule_seed makes it on first use.
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations()
def m010_source_url_key(db: Database) -> None:
    # Where a source's URL points (urls.url_key), beside the url as written: see Store.source_state.
    db.table("sources").add_column("url_key", str)


@migrations()
def m011_source_url_key_digest(db: Database) -> None:
    # url_key as a digest: the plain value showed a secret written in a source url's path.
    from monitor.urls import key_digest

    for source_id, key in db.execute("SELECT id, url_key FROM sources WHERE url_key IS NOT NULL").fetchall():
        db.execute("UPDATE sources SET url_key = ? WHERE id = ?", [key_digest(key), source_id])


def _migrate(db: Database) -> None:
    """Apply pending migrations holding the write lock, which sqlite-utils does not take
    before it reads what is pending: a daemon and `monitor status` opening an old database
    at once both ran the same migration, and one failed ("table meta already exists").
    A database with nothing pending (the usual open, a reader's) takes no lock."""
    if not migrations.pending(db):
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(db)  # its steps become savepoints in this transaction
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, kw_only=True)
class SourceState:
    """What the store remembers of a source between polls."""

    id: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    baseline_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    retry_at: datetime | None = None
    due_at: datetime | None = None  # adaptive polling: firings before it are skipped
    feed_ttl: timedelta | None = None


@dataclass(frozen=True, kw_only=True)
class NewItem:
    """An item ready to be stored, with its matches and the channels to alert."""

    url: str
    guid: str | None
    source_id: str
    title: str
    summary: str
    published: datetime | None
    main_text: str
    text_origin: str  # "article", "source" (the source carried the text) or "feed" (fallback)
    fetch_error: str | None
    content_hash: str
    baseline: bool
    matches: tuple[Match, ...] = ()
    deliveries: tuple[tuple[str, str], ...] = ()  # (watchlist, channel)
    fingerprint: Fingerprint | None = None  # None: not compared with other items for stories


@dataclass(frozen=True, kw_only=True)
class OutboxRow:
    """A queued alert joined with what rendering it needs."""

    id: int
    item_id: int
    watchlist: str
    channel: str
    attempts: int
    created_at: datetime
    done_targets: tuple[int, ...]
    next_attempt_at: datetime
    url: str
    source_id: str
    title: str
    published: datetime | None
    first_seen: datetime
    terms: tuple[str, ...]
    snippet: str
    snippets: tuple[Snippet, ...] = ()  # empty for matches stored before snippets were kept
    story_id: int | None = None  # None for items stored before stories were kept


# A channel's delivery order, oldest item first: queued_alerts and queued_head must agree,
# as the deliverer skips a waiting channel while its head is still first.
_QUEUE_ORDER = "o.created_at, COALESCE(i.published, i.first_seen), o.id"


def _file_id(path: Path) -> tuple[int, int] | None:
    """The file's device and inode, None if there is no file there (any more)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class Store:
    """The press-monitor database. One instance per process, used from one thread."""

    def __init__(self, path: Path) -> None:
        self._story_index: store_stories.StoryIndex | None = None
        self._queued_for_search = False  # this Store stored items that wait for the search index
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"database {path}: cannot be opened: {exc}") from exc
        self.db = Database(conn)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            _migrate(self.db)
            self.path = path
            self.file_id = _file_id(path)  # /healthz: the file opened is still the one at the path
        except sqlite3.DatabaseError as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise  # another process held it for 30 s: passing, worth a restart
            # Not a database (a wrong file restored), damaged, or read-only: a restart
            # would meet the same, so the commands exit 2 and the daemon is not restarted.
            raise StoreError(f"database {path}: {exc} (expected a press-monitor SQLite database, "
                             "or a path where one can be made)") from exc

    def warnings_of(self, source_id: str) -> list[str]:
        """The warnings the source's last parsed poll recorded."""
        row = self.db.execute("SELECT warnings FROM sources WHERE id = ?", [source_id]).fetchone()
        return list(json.loads(row[0])) if row and row[0] else []

    def file_problem(self) -> str | None:
        """Why the file at the database's path is no longer the one open, if it is not: SQLite
        writes on to an open file that was removed or replaced, and what it stores is lost."""
        now = _file_id(self.path)
        if now == self.file_id:
            return None
        return (f"database file {self.path} is gone (removed or replaced while the daemon ran); "
                "what is stored now is lost at the next start: restore it, or restart the daemon")

    def close(self) -> None:
        try:
            if self._queued_for_search:  # this Store stored items: index them (a reader writes nothing)
                self.index_for_search()
        except sqlite3.Error as exc:  # e.g. locked for 30 s: the next batch or search indexes them
            log.warning("store: items not yet in the search index stay queued: %s", exc)
        finally:
            self.db.close()

    def index_for_search(self) -> int:
        """Index every item waiting for the search index, whoever stored it (store_search
        batches them); the daemon calls it once a dispatch tick. Returns how many it indexed."""
        if not self._queued_for_search and not store_search.any_queued(self.db):
            return 0
        count = store_search.index_queued(self.db)
        self._queued_for_search = False  # only now: a batch that failed is tried again next time
        return count

    # -- sources ---------------------------------------------------------------------

    def source_state(self, source_id: str, *, url: str | None = None, key: str | None = None,
                     formerly: str | None = None) -> SourceState:
        """``url``: the source's URL as stored (``SourceConfig.url_as_stored``, variables
        unsubstituted), ``key`` where it points now (``urls.url_key``), ``formerly`` the
        url as an earlier version stored it (substituted, with no key). A source whose URL
        as written or whose key changed starts over (``_start_over``); a rotated token in a
        query changes neither."""
        # Plain SQL: this runs on every poll, and sqlite-utils' rows_where costs ~0.2 ms.
        found = self.db.execute(
            "SELECT etag, last_modified, body_hash, baseline_at, last_success_at, consecutive_failures, retry_at,"
            " due_at, feed_ttl, url, url_key FROM sources WHERE id = ?", [source_id]).fetchone()
        if found is None:
            return SourceState(id=source_id)
        etag, last_modified, body_hash, baseline_at, last_success_at, failures, retry_at, due_at, feed_ttl, \
            stored_url, stored_key = found
        if url is not None and stored_url is not None and (
                stored_url not in (url, formerly) if stored_key is None else (stored_url, stored_key) != (url, key)):
            self._start_over(source_id, url, key)
            return SourceState(id=source_id)
        return SourceState(
            id=source_id,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            baseline_at=_parse(baseline_at),
            last_success_at=_parse(last_success_at),
            consecutive_failures=failures or 0,
            retry_at=_parse(retry_at),
            due_at=_parse(due_at),
            feed_ttl=timedelta(seconds=feed_ttl) if feed_ttl else None,
        )

    def _start_over(self, source_id: str, url: str, key: str | None) -> None:
        """Forget what a source's old URL told us: its validators and body hash (sent to the
        new URL, they got 304s from a server that happened to hold a file of that date, and
        the new feed was never read), its baseline (the new URL's items on its first
        successful poll are a baseline, as a new source's are), its failures and its
        adaptive due time: a changed URL is most often the fix for a broken source."""
        with self._atomic():
            self._upsert_source(source_id, {
                "url": url, "url_key": key, "etag": None, "last_modified": None, "body_hash": None, "baseline_at": None,
                "feed_ttl": None, "due_at": None, "last_success_at": None, "consecutive_failures": 0,
                "retry_at": None, "last_error": None, "warnings": None, "cadence_seconds": None,
                "cadence_reason": None,
            })
        log.info("source %s: its URL changed; validators, baseline and failures of the old one dropped", source_id)

    def schedule_seed(self) -> bytes:
        """This database's own random value for spreading sources over their intervals, made
        on first use (and again if lost to a hand edit or a partial restore: only the spread moves)."""
        with self._atomic():
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schedule_seed', ?)",
                            [secrets.token_hex(8)])
        (value,) = self.db.execute("SELECT value FROM meta WHERE key = 'schedule_seed'").fetchone()
        return bytes.fromhex(value)

    def last_polls(self) -> dict[str, datetime]:
        """When each source that was ever polled was last polled (successfully or not)."""
        rows = self.db.execute("SELECT id, last_poll_at FROM sources WHERE last_poll_at IS NOT NULL")
        return {source_id: datetime.fromisoformat(at) for source_id, at in rows}

    def _upsert_source(self, source_id: str, values: dict[str, object]) -> None:
        # Plain SQL: sqlite-utils' upsert introspects the table each call (~0.5 ms a poll).
        # The column names come from this module, never from input.
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        updates = ", ".join(f"{name} = excluded.{name}" for name in values)
        self.db.execute(f"INSERT INTO sources (id, {columns}) VALUES (?, {marks})"
                        f" ON CONFLICT(id) DO UPDATE SET {updates}", [source_id, *values.values()])

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """sqlite-utils' ``atomic``, but a step inside a transaction is a savepoint of one
        fixed name (SQLite nests same-named savepoints). Its random name per savepoint made
        two new statements to compile in every poll, ~4% of a 304 poll's CPU, and pushed
        the poll's own statements out of the connection's statement cache. One name is safe
        because steps nest strictly: no step spans an ``await``, so two tasks' steps never
        interleave on the connection. Keep it so."""
        conn = self.db.conn
        if not conn.in_transaction:
            with self.db.atomic():
                yield
            return
        conn.execute("SAVEPOINT store_step")
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # a RAISE(ROLLBACK) trigger may have ended it already
                conn.execute("ROLLBACK TO SAVEPOINT store_step")
                conn.execute("RELEASE SAVEPOINT store_step")
            raise
        conn.execute("RELEASE SAVEPOINT store_step")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around several record_* calls: each becomes a savepoint in it, and
        the caller's whole unit of work (a poll) commits once or not at all. A rollback also
        drops the story index, which may hold stories the rollback undid."""
        try:
            with self._atomic():
                yield
        except BaseException:
            self._story_index = None
            raise

    def record_not_modified(self, source_id: str, *, now: datetime, status: str = "not-modified") -> None:
        """A poll that found nothing to do (304 or an unchanged body) is a success."""
        with self._atomic():
            self._upsert_source(source_id, {
                "last_poll_at": _iso(now), "last_success_at": _iso(now), "last_status": status,
                "consecutive_failures": 0, "retry_at": None,
            })

    def record_failure(self, source_id: str, *, url: str, error: str, now: datetime,
                       retry_at: datetime | None, key: str | None = None) -> int:
        """Count a failed poll; returns the number of failures in a row, this one included."""
        failures = self.source_state(source_id).consecutive_failures + 1
        with self._atomic():
            self._upsert_source(source_id, {
                "url": url, "url_key": key, "last_poll_at": _iso(now), "last_status": "error", "last_error": error,
                "last_error_at": _iso(now), "consecutive_failures": failures, "retry_at": _iso(retry_at),
            })
        return failures

    def record_next_polls(self, times: Mapping[str, datetime | None]) -> None:
        """When the daemon will next poll these sources (None: not scheduled), in one transaction."""
        with self._atomic():
            for source_id, at in times.items():
                self._upsert_source(source_id, {"next_poll_at": _iso(at)})

    def record_cadence(self, source_id: str, *, due_at: datetime, interval: timedelta, reason: str,
                       feed_ttl: timedelta | None) -> None:
        """An adaptive source's next due time, its current interval and why."""
        with self._atomic():
            self._upsert_source(source_id, {
                "due_at": _iso(due_at), "cadence_seconds": int(interval.total_seconds()),
                "cadence_reason": reason,
                "feed_ttl": int(feed_ttl.total_seconds()) if feed_ttl else None,
            })

    def recent_arrivals(self, source_id: str, limit: int = 10) -> list[datetime]:
        """The latest distinct first-seen times of the source's non-baseline items, newest
        first: when its polls found something new."""
        rows = self.db.execute(
            "SELECT DISTINCT first_seen FROM items WHERE source_id = ? AND baseline = 0"
            " ORDER BY first_seen DESC LIMIT ?", [source_id, limit])
        return [datetime.fromisoformat(r[0]) for r in rows]

    # -- items -----------------------------------------------------------------------

    def known(self, source_id: str, urls: Sequence[str], guids: Sequence[str]) -> tuple[set[str], set[str]]:
        """Which of these canonical URLs (any source) and GUIDs (this source) are stored."""
        seen_urls: set[str] = set()
        seen_guids: set[str] = set()
        for chunk in _chunks(list(urls), 500):
            marks = ",".join("?" * len(chunk))
            seen_urls.update(r[0] for r in self.db.execute(f"SELECT url FROM items WHERE url IN ({marks})", chunk))
        for chunk in _chunks(list(guids), 500):
            marks = ",".join("?" * len(chunk))
            seen_guids.update(r[0] for r in self.db.execute(
                f"SELECT guid FROM items WHERE source_id = ? AND guid IN ({marks})", [source_id, *chunk]))
        return seen_urls, seen_guids

    def commit_poll(self, source_id: str, *, url: str, items: Iterable[NewItem], now: datetime,
                    etag: str | None, last_modified: str | None, body_hash: str,
                    warnings: Sequence[str], baseline: bool,
                    story_window: timedelta = store_stories.DEFAULT_WINDOW, key: str | None = None) -> list[int]:
        """Store a poll's new items, their matches and outbox rows, and the source's new
        validators, in ONE transaction: a crash before it commits leaves the source as it
        was, so the next poll sees the same items as new again and nothing is lost.

        An item that joins a story (``store_stories``) gets no alert for a watch list and
        channel the story was already alerted on."""
        ids: list[int] = []
        stories: store_stories.StoryIndex | None = None
        stamp = _iso(now)
        with self.transaction():
            for item in items:
                item_id = self._insert_item(item, stamp)
                if item_id is None:
                    continue
                ids.append(item_id)
                story_id = None
                if item.fingerprint is not None:
                    stories = stories or self._stories(now, story_window)
                    story_id = stories.assign(item_id, item.fingerprint, title=item.title, source_id=item.source_id)
                # Plain statements, not sqlite-utils' insert: it reads the table names and
                # opens a randomly named savepoint for every row (54 us a row against 3 us).
                for match in item.matches:
                    self.db.execute(
                        "INSERT OR IGNORE INTO matches (item_id, watchlist, terms, snippet, hits, snippets, created_at)"
                        " VALUES (?,?,?,?,?,?,?)",
                        [item_id, match.watchlist, json.dumps(list(match.terms), ensure_ascii=False), match.snippet,
                         json.dumps([[h.term, h.field, h.start, h.end] for h in match.hits], ensure_ascii=False),
                         _snippets_json(match.snippets), stamp])
                for watchlist, channel in item.deliveries:
                    if story_id is not None and store_stories.already_alerted(self.db, story_id, watchlist, channel):
                        continue
                    self.db.execute(
                        "INSERT OR IGNORE INTO outbox (item_id, watchlist, channel, status, attempts,"
                        " next_attempt_at, created_at, done_targets) VALUES (?,?,?,'queued',0,?,?,'[]')",
                        [item_id, watchlist, channel, stamp, stamp])
            values: dict[str, object] = {
                "url": url, "url_key": key, "etag": etag, "last_modified": last_modified, "body_hash": body_hash,
                "last_poll_at": _iso(now), "last_success_at": _iso(now), "last_status": "ok",
                "consecutive_failures": 0, "retry_at": None,
                "warnings": json.dumps(list(warnings), ensure_ascii=False) if warnings else None,
            }
            if baseline:
                values["baseline_at"] = _iso(now)
            self._upsert_source(source_id, values)
        return ids

    def _stories(self, now: datetime, window: timedelta) -> store_stories.StoryIndex:
        if self._story_index is None or self._story_index.window != window:
            self._story_index = store_stories.StoryIndex(self.db, window=window)
        self._story_index.refresh(now)
        return self._story_index

    def _insert_item(self, item: NewItem, stamp: str | None) -> int | None:
        """``stamp``: the poll's time, as stored."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO items (url, guid, source_id, title, summary, published, first_seen,"
            " fetched_at, main_text, text_origin, fetch_error, content_hash, baseline)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [item.url, item.guid, item.source_id, item.title, item.summary, _iso(item.published),
             stamp, stamp if item.text_origin == "article" else None, item.main_text,
             item.text_origin, item.fetch_error, item.content_hash, int(item.baseline)],
        )
        if not cursor.rowcount:
            return None
        self._queued_for_search = True
        return cursor.lastrowid

    # -- outbox ----------------------------------------------------------------------

    def queued_channels(self) -> list[str]:
        """The channels with queued alerts."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT channel FROM outbox WHERE status = 'queued'")]

    def queued_head(self, channel: str) -> int | None:
        """The outbox id of the channel's first queued row in queued_alerts' order."""
        row = self.db.execute(
            "SELECT o.id FROM outbox o JOIN items i ON i.id = o.item_id WHERE o.channel = ? AND o.status = 'queued'"
            f" ORDER BY {_QUEUE_ORDER} LIMIT 1", [channel]).fetchone()
        return int(row[0]) if row else None

    def queued_alerts(self, limit: int = 500, *, channels: Sequence[str] | None = None) -> list[OutboxRow]:
        """Queued alerts (of these channels, or all) in delivery order per channel (oldest
        item first); the caller stops a channel at its first row not yet due, so order is
        kept across retries."""
        only = f"AND o.channel IN ({','.join('?' * len(channels))})" if channels is not None else ""
        rows = self.db.execute(
            f"""
            SELECT o.id, o.item_id, o.watchlist, o.channel, o.attempts, o.created_at, o.done_targets,
                   o.next_attempt_at, i.url, i.source_id, i.title, i.published, i.first_seen, m.terms, m.snippet,
                   m.snippets, i.story_id
            FROM outbox o JOIN items i ON i.id = o.item_id
            LEFT JOIN matches m ON m.item_id = o.item_id AND m.watchlist = o.watchlist
            WHERE o.status = 'queued' {only}
            ORDER BY o.channel, {_QUEUE_ORDER}
            LIMIT ?
            """,
            [*(channels or ()), limit],
        ).fetchall()
        return [
            OutboxRow(
                id=r[0], item_id=r[1], watchlist=r[2], channel=r[3], attempts=r[4],
                created_at=_parse(r[5]) or utcnow(), done_targets=tuple(json.loads(r[6] or "[]")),
                next_attempt_at=_parse(r[7]) or utcnow(), url=r[8], source_id=r[9], title=r[10] or "",
                published=_parse(r[11]), first_seen=_parse(r[12]) or utcnow(),
                terms=tuple(json.loads(r[13] or "[]")), snippet=r[14] or "", snippets=_snippets_of(r[15]),
                story_id=r[16],
            )
            for r in rows
        ]

    def matches_of(self, item_id: int) -> list[Match]:
        """The stored matches of an item, by watch list, with their hits and snippets."""
        rows = self.db.execute(
            "SELECT watchlist, terms, snippet, hits, snippets FROM matches WHERE item_id = ? ORDER BY id", [item_id])
        return [
            Match(watchlist=r[0], terms=tuple(json.loads(r[1] or "[]")), snippet=r[2] or "",
                  hits=tuple(Hit(term=t, field=f, start=a, end=b) for t, f, a, b in json.loads(r[3] or "[]")),
                  snippets=_snippets_of(r[4]))
            for r in rows
        ]

    def mark_sent(self, outbox_id: int, *, now: datetime) -> None:
        with self._atomic():
            self.db.execute(
                "UPDATE outbox SET status='sent', sent_at=?, attempts=attempts+1, last_error=NULL WHERE id=?",
                [_iso(now), outbox_id])

    def mark_retry(self, outbox_id: int, *, error: str, next_attempt: datetime,
                   done_targets: Sequence[int]) -> None:
        with self._atomic():
            self.db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, next_attempt_at=?, done_targets=?"
                " WHERE id=?",
                [error, _iso(next_attempt), json.dumps(sorted(done_targets)), outbox_id])

    def mark_failed(self, outbox_id: int, *, error: str, tried: bool = False) -> None:
        """Fail an alert for good; ``tried``: after a send that failed, which counts as an attempt."""
        with self._atomic():
            self.db.execute("UPDATE outbox SET status='failed', last_error=?, attempts = attempts + ? WHERE id=?",
                            [error, int(tried), outbox_id])

    def outbox_counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")}


def _snippets_json(snippets: Sequence[Snippet]) -> str:
    return json.dumps([[s.term, s.field, s.text, [list(m) for m in s.marks]] for s in snippets], ensure_ascii=False)


def _snippets_of(stored: str | None) -> tuple[Snippet, ...]:
    return tuple(Snippet(term=term, field=field, text=text, marks=tuple((a, b) for a, b in marks))
                 for term, field, text, marks in json.loads(stored or "[]"))


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


BACKOFF_CAP = timedelta(hours=6)


def doubled(first: timedelta, times: int, *, cap: timedelta) -> timedelta:
    """`first` doubled `times` times, at most `cap`.

    Doubles until the cap rather than computing 2**times: a source down for weeks fails a
    thousand times in a row, and a timedelta of 2**999 intervals overflows.
    """
    if first <= timedelta(0) or first >= cap:
        return min(first, cap)
    delay = first
    for _ in range(max(times, 0)):
        if delay >= cap:
            break
        delay *= 2
    return min(delay, cap)


def backoff_delay(failures: int, *, interval: timedelta, cap: timedelta = BACKOFF_CAP) -> timedelta:
    """Exponential: one interval after the first failure, doubling each time, capped."""
    return doubled(interval, failures - 1, cap=max(cap, interval))
