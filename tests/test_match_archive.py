"""The archive behind watch lists: FTS5 search (`monitor search`) and `monitor backtest`, on a seeded database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from monitor.cli import main
from monitor.store import NewItem, Store
from monitor.store_search import QueryError, fts_query, search

NOW = datetime.now(timezone.utc).replace(microsecond=0)

# (source, title, main text, days ago)
ARCHIVE = [
    ("ispr", "COAS visits Quetta", "General Kayani, Chief of Army Staff, visited Quetta Corps.", 2),
    ("ispr", "ISPR statement on AT&T deal", "The Inter-Services Public Relations said the C++ code ships.", 3),
    ("dawn", "Señor Ortega in Karachi", "The Spanish envoy met officials in Karachi.", 5),
    ("dawn", "Cricket: Pakistan win", "Pakistan beat the visitors by six wickets in Karachi.", 40),
    ("dawn", "ISAF commander meets Kiyani", "Gen. Joseph Dunford met General Kiyani in Rawalpindi.", 10),
]


def seed(store: Store, rows: list[tuple[str, str, str, int]], *, start: int = 0) -> None:
    """Store items the way a poll does, each first seen ``days ago``; ``start`` numbers their URLs."""
    for i, (source, title, text, days) in enumerate(rows, start):
        item = NewItem(url=f"https://example.org/{source}/{i}", guid=None, source_id=source, title=title, summary="",
                       published=NOW - timedelta(days=days), main_text=text, text_origin="article",
                       fetch_error=None, content_hash=str(i), baseline=False)
        store.commit_poll(source, url=f"https://example.org/{source}", items=[item], now=NOW - timedelta(days=days),
                          etag=None, last_modified=None, body_hash=str(i), warnings=(), baseline=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "monitor.db")
    seed(opened, ARCHIVE)
    yield opened
    opened.close()


def titles(store: Store, query: str, **filters: object) -> list[str]:
    return sorted(found.title for found in search(store.db, query, **filters))  # type: ignore[arg-type]


# (what a user typed, the FTS5 query it becomes)
QUERY_CASES = [
    pytest.param("Kayani", '"Kayani"', id="word"),
    pytest.param("AT&T", '"AT&T"', id="ampersand"),
    pytest.param("C++", '"C++"', id="plus-signs"),
    pytest.param('"unbalanced', '"unbalanced"', id="unbalanced-quote"),
    pytest.param("NEAR(", '"NEAR("', id="fts-function-name"),
    pytest.param("ISPR AND COAS", '"ISPR" AND "AND" AND "COAS"', id="and-is-a-word"),
    pytest.param('say"hi', '"say""hi"', id="inner-quote-doubled"),
    pytest.param('"Joseph Dunford" ISAF', '"Joseph Dunford" AND "ISAF"', id="phrase"),
    pytest.param("Kayani OR Kiyani Quetta", '("Kayani" OR "Kiyani") AND "Quetta"', id="or-binds-tighter"),
    pytest.param("Karachi -cricket -\"one day\"", '"Karachi" NOT ("cricket" OR "one day")', id="excludes"),
    pytest.param("OR Karachi OR", '"Karachi"', id="dangling-or"),
    pytest.param("Karachi NOT cricket", '"Karachi" NOT "cricket"', id="not-word"),
    pytest.param('NOT "one day" Karachi', '"Karachi" NOT "one day"', id="not-phrase"),
    pytest.param("Karachi *** -", '"Karachi"', id="punctuation-only-words-dropped"),
]


class TestQuery:
    @pytest.mark.parametrize(("typed", "expected"), QUERY_CASES)
    def test_fts_query(self, typed: str, expected: str) -> None:
        """User input becomes quoted FTS5 phrases, so no character of it is FTS5 syntax."""
        assert fts_query(typed) == expected

    @pytest.mark.parametrize("typed", ["", "-cricket", "NOT cricket", "*** ---", "OR"])
    def test_nothing_to_search_for(self, typed: str) -> None:
        """A query without a word to find is refused with a sentence saying what to type."""
        with pytest.raises(QueryError, match="no word to search for"):
            fts_query(typed)


class TestSearch:
    def test_title_and_text_are_searched(self, store: Store) -> None:
        """A word found in a title or in a main text finds the item."""
        assert titles(store, "Quetta") == ["COAS visits Quetta"]
        assert titles(store, "Rawalpindi") == ["ISAF commander meets Kiyani"]

    @pytest.mark.parametrize("typed", ["AT&T", "C++", '"unbalanced', "NEAR(", "ISPR)", "ISPR*", "a:b", "^x"])
    def test_raw_input_never_breaks(self, store: Store, typed: str) -> None:
        """Characters that are FTS5 syntax are searched for, never parsed (no error)."""
        search(store.db, typed)

    def test_ampersand_word_is_found(self, store: Store) -> None:
        """AT&T finds the item that mentions AT&T."""
        assert titles(store, "AT&T") == ["ISPR statement on AT&T deal"]

    def test_diacritics_folded(self, store: Store) -> None:
        """Senor finds Señor."""
        assert titles(store, "senor") == ["Señor Ortega in Karachi"]

    def test_or_and_exclude(self, store: Store) -> None:
        """OR finds either spelling; -word leaves its items out."""
        assert titles(store, "Kayani OR Kiyani") == ["COAS visits Quetta", "ISAF commander meets Kiyani"]
        assert titles(store, "Karachi -cricket") == ["Señor Ortega in Karachi"]

    def test_source_since_and_limit(self, store: Store) -> None:
        """--source, --since and --limit narrow the results."""
        assert titles(store, "Karachi", source_ids=["dawn"], since=NOW - timedelta(days=30)) == [
            "Señor Ortega in Karachi"]
        assert titles(store, "Karachi", source_ids=["ispr"]) == []
        assert len(search(store.db, "Karachi", limit=1)) == 1

    def test_snippet_brackets_the_words(self, store: Store) -> None:
        """The snippet shows the found word in brackets."""
        [found] = search(store.db, "Quetta Corps")
        assert "[Corps]" in found.snippet

    @pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "still-queued"])
    def test_index_follows_updates_and_deletes(self, store: Store, indexed: bool) -> None:
        """Triggers keep the index in step when an item's text changes or it is deleted,
        whether the item was indexed already or still waits for its batch, and with both
        kinds side by side; after each step the batch runs and FTS5's integrity check
        compares the index with the items (rank 1: against the content table too)."""
        if indexed:
            assert store.index_for_search() == len(ARCHIVE)

        def check() -> None:
            store.index_for_search()
            store.db.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")  # raises if not

        store.db.execute("INSERT INTO items (url, source_id, title, main_text, first_seen)"
                         " VALUES ('https://example.org/new', 'dawn', 'Gwadar port', 'Queued text', '2026-01-01')")
        store.db.execute("UPDATE items SET main_text = 'Now about Gwadar' WHERE title = 'COAS visits Quetta'")
        store.db.execute("UPDATE items SET main_text = 'Port of Gwadar' WHERE title = 'Gwadar port'")  # queued
        check()
        assert titles(store, "Gwadar") == ["COAS visits Quetta", "Gwadar port"]
        assert titles(store, "Quetta Corps") == [] and titles(store, "Queued") == []
        store.db.execute("INSERT INTO items (url, source_id, title, main_text, first_seen)"
                         " VALUES ('https://example.org/newer', 'dawn', 'Gwadar again', 'More', '2026-01-02')")
        store.db.execute("DELETE FROM items WHERE title IN ('COAS visits Quetta', 'Gwadar port', 'Gwadar again')")
        check()
        assert titles(store, "Gwadar") == []
        assert store.db.execute("SELECT count(*) FROM items_unindexed").fetchone()[0] == 0

    def test_new_items_are_indexed_in_one_batch(self, tmp_path: Path) -> None:
        """A poll's items wait for the index; the next batch indexes all that wait, and a
        Store that closes indexes what it stored (the daemon batches once a second)."""
        store = Store(tmp_path / "batch.db")
        seed(store, ARCHIVE[:3])
        assert store.db.execute("SELECT count(*) FROM items_unindexed").fetchone()[0] == 3
        assert store.db.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'Quetta'").fetchone()[0] == 0
        assert store.index_for_search() == 3
        assert store.index_for_search() == 0  # nothing stored since
        seed(store, ARCHIVE[3:], start=3)
        store.close()
        conn = sqlite3.connect(tmp_path / "batch.db")
        try:
            assert conn.execute("SELECT count(*) FROM items_unindexed").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'Kiyani'").fetchone()[0] == 1
        finally:
            conn.close()

    def test_a_read_only_database_is_searched_as_indexed(self, tmp_path: Path) -> None:
        """search indexes waiting items first; where it cannot write, it finds what is indexed."""
        path = tmp_path / "ro.db"
        store = Store(path)
        seed(store, ARCHIVE[:1])
        store.index_for_search()
        seed(store, ARCHIVE[1:2], start=1)
        store.db.conn.commit()
        reader = Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
        try:
            assert [f.title for f in search(reader, "Quetta")] == ["COAS visits Quetta"]
            assert search(reader, "ISPR") == []  # stored, still waiting for the index
        finally:
            reader.close()
            store.close()
        assert [f.title for f in search(Database(sqlite3.connect(path)), "ISPR")] == ["ISPR statement on AT&T deal"]

    def test_migration_indexes_existing_items(self, tmp_path: Path) -> None:
        """Upgrading a database with items indexes them: search finds items stored before the index existed."""
        path = tmp_path / "old.db"
        old = Store(path)
        seed(old, ARCHIVE)
        for name in ("items_fts_insert", "items_fts_delete", "items_fts_update"):
            old.db.execute(f"DROP TRIGGER {name}")
        old.db.execute("DROP TABLE items_fts")
        old.db.execute("DROP TABLE items_unindexed")
        old.db.execute("DELETE FROM _sqlite_migrations WHERE name IN ('m005_search', 'm008_search_in_batches')")
        old.db.conn.commit()
        old.close()
        upgraded = Store(path)
        try:
            assert titles(upgraded, "Quetta") == ["COAS visits Quetta"]
        finally:
            upgraded.close()


@pytest.fixture
def config(tmp_path: Path, store: Store) -> Path:
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "live.yaml").write_text("keywords: [ISPR]\nnotify: desk\n", encoding="utf-8")
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "database: monitor.db\n"
        "channels: {desk: \"console://\"}\n"
        "aliases: {kayani: [Kayani, Kiyani]}\n"
        "sources:\n"
        "  - {id: ispr, url: \"https://example.org/ispr\"}\n"
        "  - {id: dawn, url: \"https://example.org/dawn\"}\n"
        "watchlists: [wl/*.yaml]\n",
        encoding="utf-8",
    )
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


class TestCommands:
    def test_search_command(self, config: Path) -> None:
        """`monitor search` prints each found item with its snippet and URL, then a count."""
        code, out, _ = run("search", "-c", str(config), "Kayani", "OR", "Kiyani", "--source", "dawn")
        assert code == 0
        assert "ISAF commander meets Kiyani" in out and "https://example.org/dawn/4" in out
        assert out.rstrip().endswith("1 item found")

    def test_a_snippet_is_printed_on_one_line(self, store: Store, config: Path) -> None:
        """A text's own line breaks are not the result's: each result is three lines, the snippet
        indented on the second (its second half at the margin had read as the next result)."""
        seed(store, [("ispr", "Corps commanders meet", "The conference met.\nGeneral Munir chaired\nit.", 1)],
             start=100)
        store.index_for_search()
        code, out, _ = run("search", "-c", str(config), "Munir")
        assert code == 0
        title, quoted, url, count = out.rstrip("\n").split("\n")
        assert "Corps commanders meet" in title and url == "  https://example.org/ispr/100"
        assert quoted.startswith("  ") and "[Munir] chaired it." in quoted and count == "1 item found"

    def test_search_not_from_the_shell(self, config: Path) -> None:
        """NOT word excludes without a leading dash, which a shell command line would take for an option."""
        code, out, _ = run("search", "-c", str(config), "Karachi", "NOT", "cricket")
        assert code == 0 and "Señor Ortega in Karachi" in out and "Cricket" not in out

    def test_search_without_words_exits_2(self, config: Path) -> None:
        """A query with nothing to search for is a usage error."""
        code, _, err = run("search", "-c", str(config), "--", "-cricket")
        assert code == 2 and "no word to search for" in err

    def test_backtest_prints_would_be_alerts(self, tmp_path: Path, config: Path) -> None:
        """`monitor backtest` lists what the list would have alerted (terms, snippet, URL) and writes nothing."""
        draft = tmp_path / "draft.yaml"
        draft.write_text('keywords: ["@kayani ~8 Dunford", title:COAS]\nexclude: [cricket]\nnotify: desk\n',
                         encoding="utf-8")
        store = Store(tmp_path / "monitor.db")
        before = [store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("matches", "outbox")]
        store.close()
        code, out, _ = run("backtest", str(draft), "-c", str(config))
        assert code == 0, out
        assert "matched: COAS" in out and "matched: Dunford, Kiyani" in out
        assert "https://example.org/ispr/0" in out
        assert out.rstrip().endswith("draft: 2 alerts in 5 stored items (nothing sent)")
        store = Store(tmp_path / "monitor.db")
        after = [store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("matches", "outbox")]
        store.close()
        assert after == before

    def test_backtest_since(self, tmp_path: Path, config: Path) -> None:
        """--since limits the backtest to items first seen since then."""
        draft = tmp_path / "draft.yaml"
        draft.write_text("keywords: [Karachi]\nnotify: desk\n", encoding="utf-8")
        code, out, _ = run("backtest", str(draft), "-c", str(config), "--since", "30d")
        assert code == 0
        assert out.rstrip().endswith("draft: 1 alert in 4 stored items (nothing sent)")

    def test_backtest_bad_watchlist_exits_2(self, tmp_path: Path, config: Path) -> None:
        """A watch list with problems is reported as FILE:LINE: field: problem, with exit 2."""
        draft = tmp_path / "draft.yaml"
        draft.write_text('keywords:\n  - ISPR\n  - "Kayani |"\n  - "@nope"\nnotify: nowhere\n', encoding="utf-8")
        code, _, err = run("backtest", str(draft), "-c", str(config))
        assert code == 2
        assert f"{draft}:3: keywords[1]: 'Kayani |' ends with an operator" in err
        assert f"{draft}:4: keywords[2]: '@nope' names no alias" in err
        assert f"{draft}:5: notify: 'nowhere' is not a channel" in err


class TestNarrowing:
    def test_a_since_without_a_zone_is_in_the_configs_timezone(self, tmp_path: Path, config: Path) -> None:
        """Times are shown in the config's timezone, so a date typed without a zone is read there, not in
        the host's: two hours before "COAS visits Quetta" was stored, on a Karachi clock, finds it."""
        config.write_text("timezone: Asia/Karachi\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
        stored = NOW - timedelta(days=2)
        typed = (stored - timedelta(hours=2)).astimezone(ZoneInfo("Asia/Karachi")).replace(tzinfo=None)
        code, out, err = run("search", "-c", str(config), "Quetta", "--since", typed.isoformat(timespec="minutes"))
        assert code == 0, err
        assert "COAS visits Quetta" in out and out.rstrip().endswith("1 item found")
        later = (stored + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Karachi")).replace(tzinfo=None)
        code, out, _ = run("search", "-c", str(config), "Quetta", "--since", later.isoformat(timespec="minutes"))
        assert code == 0 and "COAS visits Quetta" not in out

    @pytest.mark.parametrize("command", [["items"], ["search", "Karachi"], ["backtest", "draft.yaml"]])
    def test_an_unknown_source_is_a_usage_error(self, tmp_path: Path, config: Path, command: list[str]) -> None:
        """A typo'd --source found nothing and exited 0, as if the source had nothing; `once` and
        `check` already said "unknown source". A source only the database knows (removed from the
        config, its items kept) is still one to ask for."""
        (tmp_path / "draft.yaml").write_text("keywords: [Karachi]\nnotify: desk\n", encoding="utf-8")
        args = [a if a != "draft.yaml" else str(tmp_path / a) for a in command]
        code, _, err = run(*args, "-c", str(config), "--source", "dwan")
        assert code == 2 and "unknown source dwan" in err and "dawn" in err
        config.write_text(config.read_text(encoding="utf-8").replace('  - {id: dawn, url: "https://example.org/dawn"}\n',
                                                                      ""), encoding="utf-8")
        code, out, err = run(*args, "-c", str(config), "--source", "dawn")
        assert code == 0, err
