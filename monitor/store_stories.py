"""The SQL of stories: which stored item a new item republishes, and who else carried it.

Called from ``Store.commit_poll`` inside the poll's transaction, so an item, its story and
the decision not to alert again are committed together or not at all. The decision itself
is ``monitor.stories.same_story``; this module only finds the candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlite_utils import Database

from monitor.stories import (
    CONTAINED,
    MIN_SHINGLES,
    NUM_PERM,
    Fingerprint,
    containments,
    same_story,
    title_words,
)

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


class StoryIndex:
    """The stories begun within ``window`` of now, kept in memory by the store across
    poll commits: each commit first reads only the stories begun since the last one (by
    another process too) and forgets those that left the window, so a busy poll costs one
    small query instead of reloading every story of three days.

    An item is compared with each story's first item only: comparing with every member
    would chain stories together through an item that shares text with two of them (a
    page that is nothing but a standard closing paragraph). The store drops the index
    when a commit fails, as the stories that commit added were rolled back.

    A story costs ~700 bytes here, most of it its 512-byte signature: the numbers sit in
    arrays and a title is a tuple of shared words. Python lists of ints, ISO strings and
    frozensets cost 2 KB a story, which three days of a busy desk's items multiply."""

    def __init__(self, db: Database, *, window: timedelta = DEFAULT_WINDOW) -> None:
        self.db = db
        self.window = window
        self.now = datetime.now(timezone.utc)
        self._last_id = 0
        self._count = 0
        self._ids = np.zeros(_FIRST_ROWS, dtype=np.int64)
        self._sizes = np.zeros(_FIRST_ROWS, dtype=np.int64)  # shingles of the story's first item
        self._first_seen = np.zeros(_FIRST_ROWS, dtype=np.int64)  # Unix seconds
        self._matrix = np.zeros((_FIRST_ROWS, NUM_PERM), dtype="<u4")
        self._titles: list[tuple[str, ...]] = []
        self._words: dict[str, str] = {}  # one string per title word, shared by every title that has it

    def refresh(self, now: datetime) -> None:
        """Bring the index to ``now``: stories begun since the last refresh in, stories
        older than the window out."""
        self.now = now
        oldest = now - self.window
        cutoff = int(oldest.timestamp())  # whole seconds, as _iso writes them
        count = self._count
        if count and self._first_seen[0] < cutoff:
            keep = np.flatnonzero(self._first_seen[:count] >= cutoff)
            self._titles = [self._titles[k] for k in keep]
            self._count = len(keep)
            capacity = max(len(keep) * 2, _FIRST_ROWS)
            self._ids = _rows(self._ids[keep], capacity)
            self._sizes = _rows(self._sizes[keep], capacity)
            self._first_seen = _rows(self._first_seen[keep], capacity)
            self._matrix = _rows(self._matrix[keep], capacity)
            self._words = {word: word for title in self._titles for word in title}
        rows = self.db.execute(
            "SELECT s.id, i.fingerprint, i.shingles, i.title, s.first_seen FROM stories s"
            " JOIN items i ON i.id = s.first_item_id"
            " WHERE s.id > ? AND s.first_seen >= ? AND i.fingerprint IS NOT NULL AND length(i.fingerprint) = ?"
            " ORDER BY s.id",
            [self._last_id, _iso(oldest), NUM_PERM * 4],
        ).fetchall()
        for story_id, signature, shingles, title, first_seen in rows:
            self._add(int(story_id), Fingerprint(signature=signature, shingles=int(shingles or 0),
                                                 title_words=title_words(str(title or ""))),
                      datetime.fromisoformat(str(first_seen)))

    def assign(self, item_id: int, fp: Fingerprint, *, title: str) -> int:
        """File the item under the closest story it is the same story as, or a new one;
        returns the story's id."""
        count = self._count
        sizes = self._sizes[:count]
        shares = containments(fp, self._matrix[:count], sizes)
        # Only containment or, where a text is too short to compare, titles can join a story.
        candidates = np.flatnonzero((shares >= CONTAINED) | (np.minimum(sizes, fp.shingles) < MIN_SHINGLES))
        story_id = None
        for index in candidates[np.argsort(-shares[candidates], kind="stable")]:
            first = Fingerprint(signature=b"", shingles=int(sizes[index]),
                                title_words=frozenset(self._titles[index]))
            if same_story(fp, first, contained=float(shares[index])):
                story_id = int(self._ids[index])
                break
        now = _iso(self.now)
        if story_id is None:
            cursor = self.db.execute(
                "INSERT INTO stories (title, first_item_id, first_seen, last_seen, size) VALUES (?,?,?,?,1)",
                [title, item_id, now, now])
            story_id = int(cursor.lastrowid or 0)
            self._add(story_id, fp, self.now)
        else:
            self.db.execute("UPDATE stories SET last_seen = ?, size = size + 1 WHERE id = ?", [now, story_id])
        self.db.execute("UPDATE items SET story_id = ?, fingerprint = ?, shingles = ? WHERE id = ?",
                        [story_id, fp.signature, fp.shingles, item_id])
        return story_id

    def _add(self, story_id: int, fp: Fingerprint, first_seen: datetime) -> None:
        count = self._count
        if count == len(self._matrix):
            self._ids, self._sizes, self._first_seen, self._matrix = (
                _rows(column[:count], count * 2) for column in (self._ids, self._sizes, self._first_seen,
                                                                self._matrix))
        self._matrix[count] = np.frombuffer(fp.signature, dtype="<u4")
        self._ids[count] = story_id
        self._sizes[count] = fp.shingles
        # Seconds, as the database keeps them: a story read back is judged as one filed here.
        self._first_seen[count] = int(first_seen.timestamp())
        self._titles.append(tuple(self._words.setdefault(word, word) for word in sorted(fp.title_words)))
        self._count = count + 1
        # Every story is begun by assign() with its first item's fingerprint, so the
        # highest id filed is the highest id there is: the next refresh reads from there.
        self._last_id = max(self._last_id, story_id)


_FIRST_ROWS = 64


def _rows(kept: np.ndarray, capacity: int) -> np.ndarray:
    """``kept`` as the first rows of a zeroed array of ``capacity`` rows: room to add to.
    Zeroed pages are not touched until written, so the room costs no memory until used."""
    grown = np.zeros((capacity, *kept.shape[1:]), dtype=kept.dtype)
    grown[:len(kept)] = kept
    return grown


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
