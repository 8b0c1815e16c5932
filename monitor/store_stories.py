"""The SQL of stories: which stored item a new item republishes, and who else carried it.

Called from ``Store.commit_poll`` inside the poll's transaction, so an item, its story and
the decision not to alert again are committed together or not at all. The decision itself
is ``monitor.stories.same_story``; this module only finds the candidates.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

from sqlite_utils import Database

from monitor.signatures import SignatureTable
from monitor.stories import (
    CONTAINED,
    MIN_SHINGLES,
    NUM_PERM,
    Fingerprint,
    same_story,
    share,
    title_words,
    titles_decide,
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
    another process too), so a busy poll costs one small query instead of reloading every
    story of three days.

    An item is compared with each story's first item only: comparing with every member
    would chain stories together through an item that shares text with two of them (a
    page that is nothing but a standard closing paragraph). The store drops the index
    when a commit fails, as the stories that commit added were rolled back.

    An item never joins a story its own source began: a story is one release carried by
    other outlets, and two items of one source are two releases. Two arrests reported by
    one office on one day share a dateline and paragraphs of boilerplate, enough for the
    grey zone of ``same_story``, and the second lost its alert that way; a source that
    does repeat itself costs one alert more instead.

    A story costs ~600 bytes here, most of it its 512-byte signature: the signatures sit
    in a ``SignatureTable`` (twice that for the rows of its open block), the numbers in
    arrays, and a title is a tuple of shared words. Python lists of ints, ISO strings and
    frozensets cost 2 KB a story, which three days of a busy desk's items multiply.

    Stories that left the window are skipped at once, and forgotten a table block at a
    time, once all of a block's have left."""

    def __init__(self, db: Database, *, window: timedelta = DEFAULT_WINDOW) -> None:
        self.db = db
        self.window = window
        self.now = datetime.now(timezone.utc)
        self._cutoff = 0  # Unix seconds: stories begun before this have left the window
        self._last_id = 0
        self._signatures = SignatureTable(NUM_PERM)
        self._ids = array("q")  # a row each, as the table's
        self._sizes = array("q")  # shingles of the story's first item
        self._first_seen = array("q")  # Unix seconds
        self._titles: list[tuple[str, ...]] = []
        self._sources: list[str] = []  # the source of the story's first item
        self._short: list[int] = []  # the rows of stories too short to compare, whose titles decide
        self._words: dict[str, str] = {}  # one string per title word, shared by every title that has it

    def __len__(self) -> int:
        """The stories held, those that left the window but are not yet forgotten too."""
        return len(self._ids)

    def refresh(self, now: datetime) -> None:
        """Bring the index to ``now``: stories begun since the last refresh in, stories
        older than the window out."""
        self.now = now
        oldest = now - self.window
        self._cutoff = int(oldest.timestamp())  # whole seconds, as _iso writes them
        dropped, block = False, self._signatures.block
        while self._signatures.sealed_blocks and max(self._first_seen[:block]) < self._cutoff:
            self._signatures.drop_first_block()
            for column in (self._ids, self._sizes, self._first_seen, self._titles, self._sources):
                del column[:block]
            self._short = [row - block for row in self._short if row >= block]
            dropped = True
        if dropped:
            self._words = {word: word for title in self._titles for word in title}
            self._words.update((source, source) for source in self._sources)
        rows = self.db.execute(
            "SELECT s.id, i.fingerprint, i.shingles, i.title, s.first_seen, i.source_id FROM stories s"
            " JOIN items i ON i.id = s.first_item_id"
            " WHERE s.id > ? AND s.first_seen >= ? AND i.fingerprint IS NOT NULL AND length(i.fingerprint) = ?"
            " ORDER BY s.id",
            [self._last_id, _iso(oldest), NUM_PERM * 4],
        ).fetchall()
        for story_id, signature, shingles, title, first_seen, source_id in rows:
            self._add(int(story_id), Fingerprint(signature=signature, shingles=int(shingles or 0),
                                                 title_words=title_words(str(title or ""))),
                      datetime.fromisoformat(str(first_seen)), source_id=str(source_id))

    def assign(self, item_id: int, fp: Fingerprint, *, title: str, source_id: str) -> int:
        """File the item under the closest story begun by another source that it is the
        same story as, or a new one; returns the story's id."""
        story_id = None
        for index, contained in self._candidates(fp):
            if self._sources[index] == source_id:
                continue
            first = Fingerprint(signature=b"", shingles=self._sizes[index],
                                title_words=frozenset(self._titles[index]))
            if same_story(fp, first, contained=contained):
                story_id = self._ids[index]
                break
        now = _iso(self.now)
        if story_id is None:
            cursor = self.db.execute(
                "INSERT INTO stories (title, first_item_id, first_seen, last_seen, size) VALUES (?,?,?,?,1)",
                [title, item_id, now, now])
            story_id = int(cursor.lastrowid or 0)
            self._add(story_id, fp, self.now, source_id=source_id)
        else:
            self.db.execute("UPDATE stories SET last_seen = ?, size = size + 1 WHERE id = ?", [now, story_id])
        self.db.execute("UPDATE items SET story_id = ?, fingerprint = ?, shingles = ? WHERE id = ?",
                        [story_id, fp.signature, fp.shingles, item_id])
        return story_id

    def _candidates(self, fp: Fingerprint) -> list[tuple[int, float]]:
        """The rows of the stories in the window that only containment or, where a text is
        too short to compare, titles could join the item to, with the item's containment
        in each: the greatest first, in row order among equals."""
        if not len(self._ids):
            return []
        sizes, first_seen, cutoff = self._sizes, self._first_seen, self._cutoff
        agreeing = self._signatures.agreeing(fp.signature)
        if fp.shingles < MIN_SHINGLES:
            rows: Iterable[int] = range(len(sizes))  # the item's text is too short: titles decide against any story
        else:  # a story that agrees nowhere has a containment of 0: only a short text of its own can make it one
            rows = sorted({*agreeing, *self._short})
        found = []
        for index in rows:
            if first_seen[index] < cutoff:
                continue
            contained = share(agreeing.get(index, 0), fp.shingles, sizes[index])
            if contained >= CONTAINED or titles_decide(fp.shingles, sizes[index]):
                found.append((index, contained))
        found.sort(key=lambda candidate: -candidate[1])  # stable: row order among equals
        return found

    def _add(self, story_id: int, fp: Fingerprint, first_seen: datetime, *, source_id: str) -> None:
        row = len(self._ids)
        self._signatures.append(fp.signature)  # first: it refuses a signature of the wrong size
        if fp.shingles < MIN_SHINGLES:
            self._short.append(row)
        self._ids.append(story_id)
        self._sizes.append(fp.shingles)
        # Seconds, as the database keeps them: a story read back is judged as one filed here.
        self._first_seen.append(int(first_seen.timestamp()))
        self._titles.append(tuple(self._words.setdefault(word, word) for word in sorted(fp.title_words)))
        self._sources.append(self._words.setdefault(source_id, source_id))  # shared, as the words are
        # Every story is begun by assign() with its first item's fingerprint, so the
        # highest id filed is the highest id there is: the next refresh reads from there.
        self._last_id = max(self._last_id, story_id)


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
