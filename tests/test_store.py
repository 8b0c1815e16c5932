"""The store: one transaction per poll, dedupe by URL and GUID, outbox bookkeeping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.models import Hit, Match
from monitor.store import NewItem, Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def item(url: str, *, guid: str | None = None, matched: bool = False) -> NewItem:
    matches = (Match(watchlist="desk", terms=("ISAF",), snippet="ISAF met", hits=(Hit(term="ISAF", field="body",
                                                                                       start=0, end=4),)),)
    return NewItem(url=url, guid=guid, source_id="news", title="T", summary="", published=None, main_text="ISAF met",
                   text_origin="article", fetch_error=None, content_hash="h", baseline=False,
                   matches=matches if matched else (), deliveries=(("desk", "chat"),) if matched else ())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "m.db")


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
