"""The fault catalogue at the poll level: each hostile source shares a poll cycle with a healthy one."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import SourceConfig, load_config
from monitor.fetch import Fetcher
from monitor.match import Matcher, WatchRule
from monitor.pipeline import Poller, PollResult
from monitor.service import poll_once
from monitor.store import Store
from tests.faultserver import FaultServer, gzip_bomb, serve_faults
from tests.newsroom_pages import rss_feed, when
from tests.servers import Newsroom, free_port, serve_newsroom

TIMEOUT = 1.0
DEADLINE_SLACK = 3.0  # a bound on the deadline, generous for a shared machine, not a speed test
CAP = 1_000_000
MEMORY_CEILING = 48 << 20  # far below the gzip bomb's 128 MiB or an endless body


@dataclass(frozen=True, kw_only=True)
class Fault:
    path: str
    reason: str | None  # in sources.last_error; None: the body is read and no error is recorded
    kind: str | None = None
    title: str | None = None  # for a body that is read: the stored item's title contains this


FAULTS = {
    "hang": Fault(path="/hang", reason=f"no complete response within {TIMEOUT:g}s"),
    "drip": Fault(path="/drip", reason=f"no complete response within {TIMEOUT:g}s"),
    "500": Fault(path="/status/500", reason="HTTP 500"),
    "503-retry-after": Fault(path="/status/503", reason="HTTP 503"),
    "429": Fault(path="/status/429", reason="HTTP 429"),
    "reset": Fault(path="/reset", reason="connection reset by peer"),
    "truncated": Fault(path="/truncated", reason="body truncated"),
    "endless": Fault(path="/endless", reason=f"body larger than the {CAP}-byte cap"),
    "gzip-bomb": Fault(path="/bomb", reason=f"body larger than the {CAP}-byte cap"),
    "redirect-loop": Fault(path="/loop/a", reason="redirect loop back to"),
    "redirect-other-port": Fault(path="/redirect?to=http://127.0.0.1:{port}/feed.xml", reason="connection refused"),
    "redirect-to-file-scheme": Fault(path="/redirect?to=file:///etc/passwd", reason="refused redirect to 'file'"),
    "lying-type-feed-as-png": Fault(path="/feed-as-png", reason=None, title="Sent as a picture"),
    "lying-type-noise-as-rss": Fault(path="/garbage-as-rss", reason="is not a feed", kind="feed"),
    "invalid-utf8": Fault(path="/bad-utf8", reason=None, title="talks"),
    "wrong-charset": Fault(path="/wrong-charset", reason=None, title="Café in Zürich"),
    "billion-laughs": Fault(path="/billion-laughs", reason="entity-expansion bomb"),
    "one-big-entity-late": Fault(path="/big-entity", reason="entity-expansion bomb"),
    "small-entity-many-references": Fault(path="/many-references", reason="would add 50,000,000 characters"),
    "xxe": Fault(path="/xxe", reason=None, title="Leak:"),
    "empty-200": Fault(path="/empty", reason="got an empty body", kind="feed"),
    "html-for-feed": Fault(path="/page", reason="is not a feed (got HTML", kind="feed"),
    "nested-60000-deep": Fault(path="/deep", reason="nests elements more than 4000 deep", kind="html"),
}


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb()


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[str, tuple[str, float, str, int]]]:
    """fault -> (status, poll ms, recorded reason, peak bytes), printed as a table (``pytest -s``) once all ran."""
    table: dict[str, tuple[str, float, str, int]] = {}
    yield table
    width = max((len(name) for name in table), default=5)
    print(f"\n{'fault':<{width}}  {'status':<6}  {'poll s':>6}  {'peak MiB':>8}  recorded reason")
    for name, (status, ms, reason, peak) in table.items():
        print(f"{name:<{width}}  {status:<6}  {ms / 1000:>6.2f}  {peak / (1 << 20):>8.1f}  {reason}")


@pytest.fixture
def sites(bomb: bytes, tmp_path: Path) -> Iterator[tuple[FaultServer, Newsroom]]:
    with serve_faults(bomb) as faults, serve_newsroom() as newsroom:
        secret = tmp_path / "secret.txt"
        secret.write_text("XXE-LEAKED-FILE-CONTENT")
        faults.xxe_target = secret.as_uri()
        newsroom.publish("/feed.xml", rss_feed(base=newsroom.base_url, items=[
            ("/news/talks", "ISAF talks held", "ISAF commanders met their counterparts.", when(20))]),
            "application/rss+xml")
        yield faults, newsroom


def source(source_id: str, url: str, kind: str | None = None) -> SourceConfig:
    return SourceConfig.model_validate({"id": source_id, "name": source_id, "url": url, "kind": kind,
                                        "every": timedelta(minutes=10), "timeout": timedelta(seconds=TIMEOUT),
                                        "backfill": True, "fetch_articles": False})


def poll_cycle(store: Store, sources: list[SourceConfig]) -> tuple[list[PollResult], int]:
    """Poll every source concurrently, as one scheduler tick would; return results and peak memory."""
    async def cycle() -> list[PollResult]:
        async with Fetcher(max_bytes=CAP) as fetcher:
            poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([WatchRule(name="desk", keywords=("ISAF",))]),
                            routes={"desk": ("chat",)})
            # A bound well past every source's own deadline: a poll that outlives it fails the test.
            return list(await asyncio.wait_for(asyncio.gather(*(poller.poll(s) for s in sources)),
                                               timeout=TIMEOUT + 10))
    tracemalloc.start()
    try:
        results = asyncio.run(cycle())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return results, peak


@pytest.mark.parametrize("name", FAULTS)
def test_fault_is_recorded_on_its_source_and_spares_the_healthy_one(
        name: str, sites: tuple[FaultServer, Newsroom], tmp_path: Path,
        outcomes: dict[str, tuple[str, float, str, int]]) -> None:
    """A hostile source ends within its deadline with its reason stored, in bounded memory,
    while a healthy source polled in the same cycle still queues its alert."""
    fault = FAULTS[name]
    faults, newsroom = sites
    store = Store(tmp_path / "monitor.db")
    try:
        hostile = source("hostile", faults.url(fault.path.format(port=free_port())), fault.kind)
        healthy = source("healthy", newsroom.url("/feed.xml"))
        started = datetime.now(UTC)
        results, peak = poll_cycle(store, [hostile, healthy])
        row = store.db["sources"].get("hostile")
        outcomes[name] = (results[0].status, results[0].ms, row["last_error"] or "-", peak)

        assert results[0].ms < (TIMEOUT + DEADLINE_SLACK) * 1000, results[0]
        assert results[1].status == "ok" and results[1].matched == 1, results
        alerts = store.queued_alerts()
        assert [(a.source_id, a.title) for a in alerts] == [("healthy", "ISAF talks held")]
        assert peak < MEMORY_CEILING
        if fault.reason is None:
            assert results[0].status == "ok", results[0]
            titles = [r["title"] for r in store.db["items"].rows_where("source_id = ?", ["hostile"])]
            assert len(titles) == 1 and fault.title in titles[0], titles
            stored = " ".join(str(v) for r in store.db["items"].rows for v in r.values())
            assert "XXE-LEAKED" not in stored
        else:
            assert results[0].status == "error"
            assert fault.reason in row["last_error"], row["last_error"]
            assert row["consecutive_failures"] == 1
            if name == "503-retry-after":
                assert datetime.fromisoformat(row["retry_at"]) >= started + timedelta(seconds=119)
    finally:
        store.close()


def test_allow_private_off_refuses_a_loopback_source(sites: tuple[FaultServer, Newsroom], tmp_path: Path) -> None:
    """With allow_private: false in the config, a source on 127.0.0.1 fails with the reason, unfetched."""
    faults, _ = sites
    config = tmp_path / "monitor.yaml"
    config.write_text(f'allow_private: false\ndatabase: monitor.db\n'
                      f'sources:\n  - {{id: inside, url: "{faults.url("/page")}"}}\n')
    asked = len(faults.headers)
    [result] = asyncio.run(poll_once(load_config(config)))
    assert result.status == "error" and "is the non-public address 127.0.0.1" in (result.error or "")
    assert len(faults.headers) == asked


@pytest.mark.parametrize("bad_link", ["http://127.0.0.1:99999/x.html", "http://127.0.0.1:0x/bad",
                                      "http://example.org:443 /x", "http://:80/x"])
def test_an_entry_with_a_malformed_link_is_dropped_and_the_rest_are_read(bad_link: str, tmp_path: Path) -> None:
    """One entry no one could fetch (a port out of range, a host missing) must not fail the
    source's whole poll, on every poll while it stays in the feed: the others are stored."""
    with serve_newsroom() as newsroom:
        feed = rss_feed(base=newsroom.base_url, items=[
            ("/news/talks", "ISAF talks held", "ISAF commanders met their counterparts.", when(20)),
            ("/news/other", "Broken link", "ISAF item behind a broken link.", when(10))])
        newsroom.publish("/feed.xml", feed.replace(f"{newsroom.base_url}/news/other", bad_link),
                         "application/rss+xml")
        store = Store(tmp_path / "monitor.db")
        try:
            [result], _ = poll_cycle(store, [source("feed", newsroom.url("/feed.xml"))])
            assert result.status == "ok" and result.new == 1 and result.matched == 1, result
            assert [a.title for a in store.queued_alerts()] == ["ISAF talks held"]
        finally:
            store.close()


def test_a_guid_shared_by_every_item_is_ignored_and_new_items_still_alert(tmp_path: Path) -> None:
    """A feed that gives each item the site's home page as its guid: a GUID on several
    items identifies none, so items are told apart by their links (each new one had looked seen)."""
    def publish(newsroom: Newsroom, count: int) -> None:
        items = "".join(f"<item><title>ISAF item {n}</title><link>{newsroom.base_url}/news/{n}</link>"
                        f"<guid>{newsroom.base_url}/</guid><description>ISAF text {n}</description></item>"
                        for n in range(count))
        newsroom.publish("/feed.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}'
                                      "</channel></rss>", "application/rss+xml")

    with serve_newsroom() as newsroom:
        store = Store(tmp_path / "monitor.db")
        try:
            publish(newsroom, 2)
            [first], _ = poll_cycle(store, [source("feed", newsroom.url("/feed.xml"))])
            publish(newsroom, 4)
            [second], _ = poll_cycle(store, [source("feed", newsroom.url("/feed.xml"))])
            assert (first.new, second.new, second.matched) == (2, 2, 2)
        finally:
            store.close()
