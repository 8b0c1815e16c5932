"""The store: one transaction per poll, dedupe by URL and GUID, outbox bookkeeping."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlite_utils import Database

from monitor.models import Hit, Match, Snippet
from monitor.store import NewItem, Store, migrations

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def item(url: str, *, guid: str | None = None, matched: bool = False) -> NewItem:
    matches = (Match(watchlist="desk", terms=("ISAF",), snippet="ISAF met", hits=(Hit(term="ISAF", field="body",
                                                                                       start=0, end=4),)),)
    return NewItem(url=url, guid=guid, source_id="news", title="T", summary="", published=None, main_text="ISAF met",
                   text_origin="article", fetch_error=None, content_hash="h", baseline=False,
                   matches=matches if matched else (), deliveries=(("desk", "chat"),) if matched else ())


def commit(store: Store, items: list[NewItem]) -> list[int]:
    return store.commit_poll("news", url="http://x/feed", items=items, now=NOW, etag='"e"', last_modified=None,
                             body_hash="b", warnings=(), baseline=False)


def test_a_failed_poll_commit_leaves_nothing_behind(store: Store) -> None:
    """If anything in the poll's transaction fails, no item, match, outbox row or validator is kept."""
    def broken() -> object:
        yield item("http://x/1", matched=True)
        raise RuntimeError("crash mid-poll")

    with pytest.raises(RuntimeError):
        store.commit_poll("news", url="http://x/feed", items=broken(), now=NOW,  # type: ignore[arg-type]
                          etag='"e"', last_modified=None, body_hash="b", warnings=(), baseline=True)
    assert store.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
    assert store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert store.source_state("news").etag is None


def test_the_same_url_is_stored_once(store: Store) -> None:
    """A second insert of a known canonical URL is ignored, with no second outbox row."""
    assert len(commit(store, [item("http://x/1", matched=True)])) == 1
    assert commit(store, [item("http://x/1", matched=True)]) == []
    assert store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1


def test_known_reports_urls_and_guids(store: Store) -> None:
    """known() finds stored URLs from any source and GUIDs of this source."""
    commit(store, [item("http://x/1", guid="tag:1")])
    urls, guids = store.known("news", ["http://x/1", "http://x/2"], ["tag:1", "tag:2"])
    assert urls == {"http://x/1"} and guids == {"tag:1"}
    assert store.known("other", [], ["tag:1"])[1] == set()


def test_last_polls_name_every_source_polled_and_when_whatever_the_outcome(store: Store) -> None:
    """What a restart schedules by: a success and a failure both count; a source with
    only a scheduled next poll (never polled) does not."""
    commit(store, [item("http://x/1")])
    store.record_failure("broken", url="http://y/feed", error="timeout", now=NOW + timedelta(minutes=1),
                         retry_at=None)
    store.record_next_polls({"waiting": NOW + timedelta(minutes=5)})
    assert store.last_polls() == {"news": NOW, "broken": NOW + timedelta(minutes=1)}


def test_a_source_whose_url_changed_starts_over(store: Store) -> None:
    """The old URL's validators would be sent to the new one (a server without ETags then
    answers 304 for a feed never read), and its baseline would make the new feed's items
    alerts: both go, with the failures; the same URL keeps them."""
    store.commit_poll("news", url="http://x/feed", items=[item("http://x/1")], now=NOW, etag='"e"',
                      last_modified="Mon, 30 Nov 2026 10:00:00 GMT", body_hash="b", warnings=(), baseline=True)
    store.record_failure("news", url="http://x/feed", error="HTTP 500", now=NOW, retry_at=NOW + timedelta(hours=1))
    kept = store.source_state("news", url="http://x/feed")
    assert (kept.etag, kept.baseline_at, kept.consecutive_failures) == ('"e"', NOW, 1)
    moved = store.source_state("news", url="http://elsewhere/feed.xml")
    assert (moved.etag, moved.last_modified, moved.body_hash, moved.baseline_at, moved.consecutive_failures,
            moved.retry_at) == (None, None, None, None, 0, None)
    assert store.source_state("news", url="http://elsewhere/feed.xml") == moved  # it stays moved
    assert store.db["sources"].get("news")["url"] == "http://elsewhere/feed.xml"
    assert store.known("news", ["http://x/1"], [])[0] == {"http://x/1"}  # the items stay, seen


def test_a_source_url_is_stored_as_written_and_a_new_token_is_the_same_source(
        store: Store, tmp_path: Path) -> None:
    """The database keeps the url as the config writes it (no secret in it); a rotated
    token, or a row an earlier version stored with the token substituted, is still the
    same source: only an edit of the url starts it over."""
    from monitor.config import load_config

    config = tmp_path / "monitor.yaml"
    config.write_text('sources: [{id: api, url: "https://api.example/feed?key=${PM_STORE_TOKEN}"}]\n')
    [source] = load_config(config, environ={"PM_STORE_TOKEN": "tok3n-one"}).sources
    assert (source.url, source.url_as_stored) == ("https://api.example/feed?key=tok3n-one",
                                                  "https://api.example/feed?key=${PM_STORE_TOKEN}")
    store.commit_poll("api", url=source.url_as_stored, items=[], now=NOW, etag='"e"', last_modified=None,
                      body_hash="b", warnings=(), baseline=True)
    assert store.db["sources"].get("api")["url"] == "https://api.example/feed?key=${PM_STORE_TOKEN}"
    [rotated] = load_config(config, environ={"PM_STORE_TOKEN": "tok3n-two"}).sources
    assert store.source_state("api", url=rotated.url_as_stored, formerly=rotated.url).etag == '"e"'
    store.db.execute("UPDATE sources SET url = ? WHERE id = 'api'", [rotated.url])  # as stored before
    assert store.source_state("api", url=rotated.url_as_stored, formerly=rotated.url).etag == '"e"'
    plain = tmp_path / "plain.yaml"
    plain.write_text('sources: [{id: api, url: "https://api.example/feed"}]\n')
    assert load_config(plain, environ={}).sources[0].url_written is None


def test_a_url_that_is_all_variable_starts_over_when_it_points_elsewhere(store: Store, tmp_path: Path) -> None:
    """Written as ``${PM_STORE_FEED}``, the url reads the same however it changes: where it
    points (``url_key``) tells a new token in its query (the same source) from another site."""
    from monitor.config import load_config
    from monitor.urls import url_key

    config = tmp_path / "monitor.yaml"
    config.write_text('sources: [{id: api, url: "${PM_STORE_FEED}"}]\n')

    def etag_when_at(feed: str) -> str | None:
        [source] = load_config(config, environ={"PM_STORE_FEED": feed}).sources
        return store.source_state("api", url=source.url_as_stored, key=url_key(source.url), formerly=source.url).etag

    store.commit_poll("api", url="${PM_STORE_FEED}", key=url_key("https://a.example/feed?t=1"), items=[], now=NOW,
                      etag='"a"', last_modified=None, body_hash="b", warnings=(), baseline=True)
    assert etag_when_at("https://a.example/feed?t=2") == '"a"'
    assert etag_when_at("https://b.example/feed") is None


def test_an_upgrade_keeps_each_sources_url_key_as_its_digest(tmp_path: Path) -> None:
    """url_key was stored plain, a secret in a url's path with it; the upgrade stores its digest,
    and the next poll at the same URL is no new URL (its validators are still sent)."""
    from monitor.urls import url_key, where_it_points

    feed = "https://api.example/s3cr3t-path-token/feed"
    old = Store(tmp_path / "monitor.db")
    old.commit_poll("api", url="https://api.example/${TOKEN}/feed", key=url_key(feed), items=[], now=NOW,
                    etag='"a"', last_modified=None, body_hash="b", warnings=(), baseline=True)
    old.db.execute("UPDATE sources SET url_key = ?", [where_it_points(feed)])  # as the release before wrote it
    old.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_source_url_key_digest'")
    old.db.conn.commit()
    old.close()
    upgraded = Store(tmp_path / "monitor.db")
    try:
        [(stored,)] = upgraded.db.execute("SELECT url_key FROM sources").fetchall()
        assert "s3cr3t" not in stored and stored == url_key(feed)
        state = upgraded.source_state("api", url="https://api.example/${TOKEN}/feed", key=url_key(feed), formerly=feed)
        assert state.etag == '"a"'
    finally:
        upgraded.close()


def test_the_schedule_seed_is_kept_by_a_database_and_differs_between_databases(tmp_path: Path) -> None:
    first = Store(tmp_path / "a.db")
    seed = first.schedule_seed()
    first.close()
    again, other = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    try:
        assert len(seed) == 8 and again.schedule_seed() == seed and other.schedule_seed() != seed
    finally:
        again.close()
        other.close()


def _open_at_once(path: Path, count: int) -> tuple[list[bytes], list[Exception]]:
    """Open ``path`` from ``count`` threads at the same moment: their seeds, and what failed."""
    start = threading.Barrier(count)
    seeds: list[bytes] = []
    failed: list[Exception] = []

    def open_it() -> None:
        start.wait()
        try:
            store = Store(path)
        except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
            failed.append(exc)
            return
        seeds.append(store.schedule_seed())
        store.close()

    threads = [threading.Thread(target=open_it) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seeds, failed


def test_two_stores_opening_a_database_that_needs_a_migration_at_once_both_open(tmp_path: Path) -> None:
    """A daemon and `monitor status` starting together on a database from before the newest
    migration: one applies it, the others wait for the lock and find nothing to do."""
    for round_ in range(8):
        path = tmp_path / f"old-{round_}.db"
        old = Database(path)
        old.execute("PRAGMA journal_mode=WAL")  # as Store left it
        migrations.apply(old, stop_before="m009_schedule_seed")
        old.close()
        seeds, failed = _open_at_once(path, 4)
        assert not failed and len(seeds) == 4 and len(set(seeds)) == 1


def test_outbox_retry_then_sent(store: Store) -> None:
    """A retried alert keeps its delivered targets and leaves the queue once sent."""
    commit(store, [item("http://x/1", matched=True)])
    [row] = store.queued_alerts()
    store.mark_retry(row.id, error="503", next_attempt=NOW + timedelta(seconds=30), done_targets=[1])
    [again] = store.queued_alerts()
    assert again.attempts == 1 and again.done_targets == (1,) and again.next_attempt_at > NOW
    store.mark_sent(row.id, now=NOW)
    assert store.queued_alerts() == [] and store.outbox_counts() == {"sent": 1}


def test_reopening_keeps_items_and_applies_no_migration_twice(tmp_path: Path) -> None:
    """Opening an existing database keeps its rows: migrations never rebuild."""
    first = Store(tmp_path / "m.db")
    commit(first, [item("http://x/1")])
    first.close()
    second = Store(tmp_path / "m.db")
    assert second.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1


SNIPPETS = (Snippet(term="ISAF", field="body", text="ISAF met the COAS", marks=((0, 4), (13, 17))),
            Snippet(term="Kayani", field="title", text="…Kayani’s visit", marks=((1, 7),)))
HITS = (Hit(term="Kayani", field="title", start=40, end=46), Hit(term="ISAF", field="body", start=0, end=4),
        Hit(term="COAS", field="body", start=13, end=17))


def snippet_item(url: str) -> NewItem:
    match = Match(watchlist="desk", terms=("Kayani", "ISAF", "COAS"), snippet=SNIPPETS[0].text, hits=HITS,
                  snippets=SNIPPETS)
    return NewItem(url=url, guid=None, source_id="news", title="T", summary="", published=None,
                   main_text="ISAF met the COAS", text_origin="article", fetch_error=None, content_hash="h",
                   baseline=False, matches=(match,), deliveries=(("desk", "chat"),))


def test_stored_hits_and_snippets_come_back(store: Store) -> None:
    """A match's hits and per-term snippets, marks included, read back equal to what was stored."""
    [item_id] = commit(store, [snippet_item("http://x/1")])
    [found] = store.matches_of(item_id)
    assert found.hits == HITS and found.snippets == SNIPPETS and found.terms == ("Kayani", "ISAF", "COAS")


def test_queued_alerts_carry_the_snippets(store: Store) -> None:
    """An outbox row brings its match's snippets, so the alert can mark every term."""
    commit(store, [snippet_item("http://x/1")])
    [row] = store.queued_alerts()
    assert row.snippets == SNIPPETS and row.snippet == "ISAF met the COAS"


def test_upgrade_keeps_matches_stored_before_snippets(tmp_path: Path) -> None:
    """A database from before per-term snippets gains the column and keeps its matches and queued alerts."""
    old = Database(tmp_path / "m.db")
    migrations.apply(old, stop_before="m006_match_snippets")
    old.execute("INSERT INTO items (id, url, source_id, title, first_seen) VALUES (1, 'http://x/1', 'news', 'T', ?)",
                [NOW.isoformat()])
    old.execute("INSERT INTO matches (item_id, watchlist, terms, snippet, hits, created_at)"
                " VALUES (1, 'desk', '[\"ISAF\"]', 'ISAF met', '[[\"ISAF\", \"body\", 0, 4]]', ?)", [NOW.isoformat()])
    old.execute("INSERT INTO outbox (item_id, watchlist, channel, created_at, next_attempt_at) VALUES"
                " (1, 'desk', 'chat', ?, ?)", [NOW.isoformat(), NOW.isoformat()])
    old.conn.commit()
    old.close()
    store = Store(tmp_path / "m.db")
    [found] = store.matches_of(1)
    assert found.snippet == "ISAF met" and found.hits == (Hit(term="ISAF", field="body", start=0, end=4),)
    assert found.snippets == ()
    [row] = store.queued_alerts()
    assert row.snippet == "ISAF met" and row.snippets == ()


def test_a_failed_step_inside_a_transaction_rolls_back_alone(store: Store) -> None:
    """Steps nest as savepoints of one name: a step that fails and is caught undoes only
    its own writes, and the transaction's other steps commit."""
    now = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
    with store.transaction():
        store.record_not_modified("before", now=now)
        with pytest.raises(ZeroDivisionError), store.transaction():
            store.record_not_modified("failed", now=now)
            with store.transaction():
                store.record_not_modified("inner", now=now)
            raise ZeroDivisionError
        store.record_not_modified("after", now=now)
    ids = [row[0] for row in store.db.execute("SELECT id FROM sources ORDER BY id")]
    assert ids == ["after", "before"]
