"""The archive's full-text index (SQLite FTS5) and the reads over stored items that
`monitor search` and `monitor backtest` make.

The index covers each item's title and main text (the text its watch lists were matched
on). It is an external-content FTS5 table kept in step with ``items`` by triggers, so
every writer of items, present or future, keeps it current without knowing of it.

A new item is not indexed by its own poll's transaction: its id waits in
``items_unindexed`` and ``index_queued`` indexes the waiting ones in one statement (the
daemon once a second, whoever stored them; a Store that stored items, when it closes;
``search`` before it reads). Why: FTS5
writes a segment at every commit, and indexing at each poll's commit cost 1.2 s of CPU
for the 12,000 items of 1,000 first polls; one batch costs 0.16 s. Edits and deletions
of an item still waiting leave the index alone (the batch reads the item as it is then).

Users type words, not FTS5 syntax: ``fts_query`` turns each word or "quoted phrase" into
a quoted FTS5 phrase, so ``AT&T``, ``C++``, ``"unbalanced`` or ``NEAR(`` are searched for,
never parsed. ``OR`` between two words means either; ``NOT word`` or ``-word`` excludes
(``NOT`` is for shells, where a ``-word`` after the query would be read as an option).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlite_utils import Database

log = logging.getLogger(__name__)

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def migrate(db: Database) -> None:
    """The index, its triggers, and the index of the items already stored."""
    db.execute(
        "CREATE VIRTUAL TABLE items_fts USING fts5(title, main_text, content='items', content_rowid='id',"
        " tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN"
        " INSERT INTO items_fts (rowid, title, main_text) VALUES (new.id, new.title, new.main_text); END"
    )
    db.execute(
        "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
        " INSERT INTO items_fts (items_fts, rowid, title, main_text)"
        " VALUES ('delete', old.id, old.title, old.main_text); END"
    )
    db.execute(
        "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, main_text ON items BEGIN"
        " INSERT INTO items_fts (items_fts, rowid, title, main_text)"
        " VALUES ('delete', old.id, old.title, old.main_text);"
        " INSERT INTO items_fts (rowid, title, main_text) VALUES (new.id, new.title, new.main_text); END"
    )
    db.execute("INSERT INTO items_fts (items_fts) VALUES ('rebuild')")


def migrate_to_batches(db: Database) -> None:
    """New items wait in ``items_unindexed`` for ``index_queued`` (see the module's docstring)."""
    db.execute("CREATE TABLE items_unindexed (item_id INTEGER PRIMARY KEY)")
    for name in ("items_fts_insert", "items_fts_delete", "items_fts_update"):
        db.execute(f"DROP TRIGGER {name}")
    waiting = "EXISTS (SELECT 1 FROM items_unindexed WHERE item_id = old.id)"
    db.execute(
        "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN"
        " INSERT INTO items_unindexed (item_id) VALUES (new.id); END"
    )
    db.execute(
        "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
        " INSERT INTO items_fts (items_fts, rowid, title, main_text)"
        f" SELECT 'delete', old.id, old.title, old.main_text WHERE NOT {waiting};"
        " DELETE FROM items_unindexed WHERE item_id = old.id; END"
    )
    db.execute(
        f"CREATE TRIGGER items_fts_update AFTER UPDATE OF title, main_text ON items WHEN NOT {waiting} BEGIN"
        " INSERT INTO items_fts (items_fts, rowid, title, main_text)"
        " VALUES ('delete', old.id, old.title, old.main_text);"
        " INSERT INTO items_fts (rowid, title, main_text) VALUES (new.id, new.title, new.main_text); END"
    )


def any_queued(db: Database) -> bool:
    """Whether an item waits for the index (a read: no write lock taken when none does)."""
    return db.execute("SELECT 1 FROM items_unindexed LIMIT 1").fetchone() is not None


def index_queued(db: Database) -> int:
    """Index the items waiting in ``items_unindexed``, in one transaction; returns how many.

    The INSERT is the transaction's first statement and a write, so SQLite takes the write
    lock before it reads the queue: no other connection can queue an item between it and
    the DELETE that empties the queue."""
    with db.atomic():
        count = db.execute(
            "INSERT INTO items_fts (rowid, title, main_text)"
            " SELECT i.id, i.title, i.main_text FROM items_unindexed u JOIN items i ON i.id = u.item_id"
            " ORDER BY u.item_id").rowcount
        db.execute("DELETE FROM items_unindexed")
    return count


class QueryError(ValueError):
    """A search query with nothing to search for; the message says what to type instead."""


def fts_query(text: str) -> str:
    """The FTS5 query for what a user typed: every word and "phrase" must occur, ``A OR B``
    either, ``NOT word`` and ``-word`` none. Raises QueryError when no word is left to search for."""
    groups: list[list[str]] = []
    excluded: list[str] = []
    join_next = negate_next = False
    for found in _TOKEN.finditer(text):
        negated, phrase, word = found.group(1), found.group(2), found.group(3)
        if word == "OR":
            join_next = bool(groups)
            continue
        if word == "NOT":
            negate_next = True
            continue
        if negate_next:
            negated, negate_next = "-", False
        if word is not None and word.startswith("-") and len(word) > 1:
            negated, phrase = "-", word[1:]
        value = phrase if phrase is not None else word
        if not any(char.isalnum() for char in value):
            continue  # FTS5 would find nothing for it, and nothing is what it means
        quoted = '"' + value.replace('"', '""') + '"'
        if negated:
            excluded.append(quoted)
        elif join_next:
            groups[-1].append(quoted)
        else:
            groups.append([quoted])
        join_next = False
    if not groups:
        raise QueryError(f"{text.strip()!r} has no word to search for (type words, \"a phrase\", A OR B, NOT word)")
    query = " AND ".join(g[0] if len(g) == 1 else "(" + " OR ".join(g) + ")" for g in groups)
    if excluded:
        query += " NOT " + (excluded[0] if len(excluded) == 1 else "(" + " OR ".join(excluded) + ")")
    return query


@dataclass(frozen=True, kw_only=True)
class Found:
    """A stored item that a search found, with the best-matching stretch of its text."""

    id: int
    source_id: str
    title: str
    url: str
    published: datetime | None
    first_seen: datetime
    snippet: str


def search(db: Database, query: str, *, source_ids: Sequence[str] = (), since: datetime | None = None,
           limit: int = 20) -> list[Found]:
    """Items matching ``query`` (a user's words: see ``fts_query``), best first; found terms
    are [bracketed] in the snippet. Raises QueryError for a query with no words."""
    where, args = _filters(source_ids, since)
    try:
        index_queued(db)  # so every stored item is found, whoever stored it
    except sqlite3.OperationalError as exc:  # e.g. a read-only database: search what is indexed
        log.debug("search: the items waiting for the index stay waiting: %s", exc)
    rows = db.execute(
        f"""
        SELECT i.id, i.source_id, i.title, i.url, i.published, i.first_seen,
               snippet(items_fts, -1, '[', ']', '…', 24)
        FROM items_fts JOIN items i ON i.id = items_fts.rowid
        WHERE items_fts MATCH ? {''.join(' AND ' + w for w in where)}
        ORDER BY bm25(items_fts, 2.0, 1.0), i.first_seen DESC LIMIT ?
        """,
        [fts_query(query), *args, limit],
    ).fetchall()
    return [Found(id=r[0], source_id=r[1], title=r[2] or "", url=r[3], published=_when(r[4]),
                  first_seen=_when(r[5]) or datetime.min.replace(tzinfo=timezone.utc), snippet=r[6] or "")
            for r in rows]


@dataclass(frozen=True, kw_only=True)
class Stored:
    """A stored item as a backtest reads it: what its watch lists were matched on."""

    id: int
    source_id: str
    title: str
    main_text: str
    url: str
    published: datetime | None
    first_seen: datetime


def count_stored_items(db: Database, *, source_ids: Sequence[str] = (), since: datetime | None = None) -> int:
    """How many items ``stored_items`` with the same filters yields (a backtest's progress total)."""
    where, args = _filters(source_ids, since)
    row = db.execute(f"SELECT count(*) FROM items i {'WHERE ' + ' AND '.join(where) if where else ''}", args).fetchone()
    return int(row[0])


def stored_items(db: Database, *, source_ids: Sequence[str] = (), since: datetime | None = None,
                 batch: int = 500) -> Iterator[Stored]:
    """Every stored item (oldest first), read in batches so a large archive stays out of memory."""
    where, args = _filters(source_ids, since)
    last = 0
    while True:
        rows = db.execute(
            f"""
            SELECT i.id, i.source_id, i.title, i.main_text, i.url, i.published, i.first_seen FROM items i
            WHERE i.id > ? {''.join(' AND ' + w for w in where)} ORDER BY i.id LIMIT ?
            """,
            [last, *args, batch],
        ).fetchall()
        if not rows:
            return
        for r in rows:
            yield Stored(id=r[0], source_id=r[1], title=r[2] or "", main_text=r[3] or "", url=r[4],
                         published=_when(r[5]), first_seen=_when(r[6]) or datetime.min.replace(tzinfo=timezone.utc))
        last = rows[-1][0]


def _filters(source_ids: Sequence[str], since: datetime | None) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    if source_ids:
        where.append(f"i.source_id IN ({','.join('?' * len(source_ids))})")
        args.extend(source_ids)
    if since is not None:
        where.append("i.first_seen >= ?")
        args.append(since.astimezone(timezone.utc).isoformat(timespec="seconds"))
    return where, args


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
