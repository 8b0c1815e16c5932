"""The SQL of stories: which stored item a new item republishes, and who else carried it.

Called from ``Store.commit_poll`` inside the poll's transaction, so an item, its story and
the decision not to alert again are committed together or not at all. The decision itself
is ``monitor.stories.same_story``; this module only finds the candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from sqlite_utils import Database

from monitor.stories import CONTAINED, Fingerprint, containments, same_story, title_words, titles_decide

DEFAULT_WINDOW = timedelta(hours=72)


def migrate(db: Database) -> None:
    """Schema for stories; run by the store's migration of the same name."""
    db.table("stories").create(
        {"id": int, "title": str, "first_item_id": int, "first_seen": str, "last_seen": str, "size": int},
        pk="id", not_null={"first_seen", "size"}, defaults={"size": 1},
    )
    db.table("stories").create_index(["first_seen"])
    db.table("items").add_column("story_id", int)
    db.table("items").add_column("fingerprint", bytes)
    db.table("items").add_column("shingles", int)
    db.table("items").create_index(["story_id"])
    db.table("items").create_index(["first_seen"])


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def assign_story(db: Database, item_id: int, fp: Fingerprint, *, title: str, now: datetime,
                 window: timedelta = DEFAULT_WINDOW) -> int:
    """File the item under the closest story begun within ``window`` that it is the same
    story as, or under a new story; returns the story's id.

    An item is compared with each story's first item only: comparing with every member
    would chain stories together through an item that shares text with two of them (a
    page that is nothing but a standard closing paragraph)."""
    rows = db.execute(
        "SELECT i.id, i.story_id, i.fingerprint, i.shingles, i.title FROM stories s"
        " JOIN items i ON i.id = s.first_item_id"
        " WHERE s.first_seen >= ? AND i.id != ? AND i.fingerprint IS NOT NULL",
        [_iso(now - window), item_id],
    ).fetchall()
    rows = [r for r in rows if len(r[2]) == len(fp.signature)]
    shares = containments(fp, [r[2] for r in rows], [r[3] or 0 for r in rows])
    story_id = None
    for index in shares.argsort()[::-1]:
        row = rows[int(index)]
        share = float(shares[index])
        if share < CONTAINED and not titles_decide(fp.shingles, row[3] or 0):
            continue  # cheap skip: only containment or, for short texts, titles can join them
        other = Fingerprint(signature=row[2], shingles=row[3] or 0, title_words=title_words(row[4] or ""))
        if same_story(fp, other, contained=share):
            story_id = int(row[1])
            break
    if story_id is None:
        cursor = db.execute(
            "INSERT INTO stories (title, first_item_id, first_seen, last_seen, size) VALUES (?,?,?,?,1)",
            [title, item_id, _iso(now), _iso(now)])
        story_id = int(cursor.lastrowid or 0)
    else:
        db.execute("UPDATE stories SET last_seen = ?, size = size + 1 WHERE id = ?", [_iso(now), story_id])
    db.execute("UPDATE items SET story_id = ?, fingerprint = ?, shingles = ? WHERE id = ?",
               [story_id, fp.signature, fp.shingles, item_id])
    return story_id


def already_alerted(db: Database, story_id: int, watchlist: str, channel: str) -> bool:
    """Whether an item of this story already has an alert for this watch list and channel."""
    row = db.execute(
        "SELECT 1 FROM outbox o JOIN items i ON i.id = o.item_id"
        " WHERE i.story_id = ? AND o.watchlist = ? AND o.channel = ? LIMIT 1",
        [story_id, watchlist, channel]).fetchone()
    return row is not None


def other_sources(db: Database, item_ids: Sequence[int]) -> dict[int, list[str]]:
    """For each item, the source ids of the other items of its story, oldest first."""
    out: dict[int, list[str]] = {}
    for start in range(0, len(item_ids), 500):
        chunk = list(item_ids[start:start + 500])
        marks = ",".join("?" * len(chunk))
        for item_id, source_id in db.execute(
                f"SELECT i.id, j.source_id FROM items i JOIN items j ON j.story_id = i.story_id AND j.id != i.id"
                f" WHERE i.id IN ({marks}) ORDER BY j.first_seen, j.id", chunk):
            out.setdefault(item_id, []).append(source_id)
    return out
