"""Article pages read in worker processes: the same reading as in-process, and a worker
that dies fails only its own page."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.fetch import Fetcher
from monitor.match import Matcher
from monitor.pages import PagePool, Reading, read_page
from monitor.pipeline import Poller, PollResult
from monitor.store import Store
from tests import processes
from tests.newsroom_pages import FILLER, article_page, rss_feed, when
from tests.servers import Site, serve_newsroom, serve_site
from tests.test_daemon import until


def _page() -> bytes:
    return article_page(title="Kayani meets ISAF commander", paragraphs=[
        FILLER, "General Kayani met the ISAF commander in Rawalpindi on Tuesday.", FILLER]).encode()


async def _read(pool: PagePool) -> Reading:
    return await pool.read(_page(), "http://127.0.0.1/news/1", content_selector=None, content_type="text/html",
                           tz=UTC)


@contextmanager
def opened(workers: int, **options: Any) -> Iterator[PagePool]:
    """A pool closed after the test whatever happens (no worker outlives it)."""
    pool = PagePool(workers=workers, **options)
    try:
        yield pool
    finally:
        pool.close()


def test_a_worker_process_reads_what_the_event_loop_process_would() -> None:
    with opened(1) as pool:
        reading = asyncio.run(_read(pool))
    assert reading == read_page(_page(), "http://127.0.0.1/news/1", None, "text/html", UTC)
    assert "ISAF commander in Rawalpindi" in reading.article.text


def _signal_workers(pool: PagePool, sig: signal.Signals) -> list[int]:
    """Start the pool's workers and send each ``sig``; returns their pids."""
    pool.start()
    pids = pool.worker_pids()
    assert pids
    for pid in pids:
        os.kill(pid, sig)
    return pids


def test_a_worker_killed_from_outside_costs_no_page(caplog: pytest.LogCaptureFixture) -> None:
    """The OOM killer takes a worker: the page is read again by a new one."""
    with opened(1) as pool, caplog.at_level(logging.WARNING, logger="monitor.pages"):
        _signal_workers(pool, signal.SIGKILL)
        reading = asyncio.run(_read(pool))
    assert "ISAF commander in Rawalpindi" in reading.article.text
    assert "a worker process died" in caplog.text  # read again, not by the killed worker


def _die(*_: object) -> Reading:
    os._exit(1)


def test_a_page_that_kills_its_worker_fails_alone_and_the_pool_recovers() -> None:
    with opened(1, reader=_die) as pool:
        with pytest.raises(SourceError, match="crashed its worker process twice"):
            asyncio.run(_read(pool))
        pool.reader = read_page
        reading = asyncio.run(_read(pool))
    assert "ISAF commander in Rawalpindi" in reading.article.text


def test_workers_outlive_ctrl_c_to_the_process_group(caplog: pytest.LogCaptureFixture) -> None:
    """Ctrl-C signals the whole process group; the daemon decides when its workers go."""
    with opened(1) as pool, caplog.at_level(logging.WARNING, logger="monitor.pages"):
        pids = _signal_workers(pool, signal.SIGINT)
        reading = asyncio.run(_read(pool))
        assert pool.worker_pids() == pids  # the same workers read it: none died of the signal
    assert "ISAF commander in Rawalpindi" in reading.article.text
    assert "a worker process died" not in caplog.text


def _die_on_poison(body: bytes, url: str, *rest: object) -> Reading:
    if "poison" in url:
        os._exit(1)
    time.sleep(0.3)  # still in flight when the poisoned page kills its worker
    return read_page(body, url, *rest)  # type: ignore[arg-type]


def test_a_deadly_page_fails_alone_while_the_pages_in_flight_with_it_are_read() -> None:
    async def burst(pool: PagePool) -> list[object]:
        urls = ["http://127.0.0.1/news/1", "http://127.0.0.1/news/poison", "http://127.0.0.1/news/3",
                "http://127.0.0.1/news/4"]
        return list(await asyncio.gather(*(pool.read(_page(), url, content_selector=None, content_type="text/html",
                                                     tz=UTC) for url in urls), return_exceptions=True))

    with opened(2, reader=_die_on_poison) as pool:
        outcomes = asyncio.run(burst(pool))
    assert isinstance(outcomes[1], SourceError) and "crashed its worker process twice" in str(outcomes[1])
    assert all(isinstance(o, Reading) for i, o in enumerate(outcomes) if i != 1), outcomes


def test_any_extractor_failure_leaves_the_worker_as_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """read_page turns every failure into SourceError, which pickles back from a worker; an
    exception with its own ``__init__`` (lxml's) would not, and would break the pool."""
    from monitor import extract

    def bad_extract(*_: object, **__: object) -> object:
        raise TypeError("lxml said no")

    monkeypatch.setattr(extract, "extract_article", bad_extract)
    with pytest.raises(SourceError, match="TypeError: lxml said no") as caught:
        read_page(_page(), "http://127.0.0.1/news/1", None, "text/html", UTC)
    assert pickle.loads(pickle.dumps(caught.value)).args == caught.value.args


def test_a_closed_pool_refuses_pages_so_the_poll_is_retried_whole() -> None:
    from monitor.pages import PoolClosed

    pool = PagePool(workers=0)
    pool.close()
    with pytest.raises(PoolClosed):
        asyncio.run(_read(pool))


def test_threads_when_no_workers_are_asked_for() -> None:
    with opened(0) as pool:
        reading = asyncio.run(_read(pool))
        assert pool.worker_pids() == []
    assert "ISAF commander in Rawalpindi" in reading.article.text


ORPHAN_SCRIPT = """
import os, signal
from monitor.pages import PagePool
if __name__ == "__main__":
    pool = PagePool(workers=2)
    pool.start()
    print(" ".join(map(str, pool.worker_pids())), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_workers_leave_when_the_daemon_is_killed(tmp_path: Path) -> None:
    """kill -9 of the daemon: its workers (children of the forkserver, not of the daemon) go too."""
    script = tmp_path / "daemon.py"
    script.write_text(ORPHAN_SCRIPT)
    out = tmp_path / "pids.txt"
    with out.open("w") as sink:
        subprocess.run([sys.executable, str(script)], stdout=sink, stderr=subprocess.DEVNULL, timeout=60,
                       check=False)
    pids = [int(p) for p in out.read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(processes.alive(pid) for pid in pids):
        time.sleep(0.1)
    assert not [pid for pid in pids if processes.alive(pid)]


def test_the_pool_is_replaced_after_its_share_of_jobs_and_no_job_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool takes JOBS_PER_POOL bodies, then a new one takes over; jobs in flight finish."""
    from monitor import pages

    monkeypatch.setattr(pages, "JOBS_PER_POOL", 3)
    async def many(pool: PagePool) -> list[Reading]:
        return list(await asyncio.gather(*(_read(pool) for _ in range(10))))

    with opened(1) as pool:
        pool.start()
        first = pool.worker_pids()
        readings = asyncio.run(many(pool))
        later = pool.worker_pids()
    assert len(readings) == 10 and all("Rawalpindi" in r.article.text for r in readings)
    assert first and later and set(first).isdisjoint(later)


def _feed_source(source_id: str, url: str, *, timeout: float) -> SourceConfig:
    """A feed source whose new items' article pages are fetched and read."""
    return SourceConfig.model_validate({"id": source_id, "name": source_id, "url": url, "kind": "feed",
                                        "timeout": timedelta(seconds=timeout), "fetch_articles": True})


class _Held:
    """What ``_slow_reader`` saw: the most article pages fetched and not yet read at once."""

    site: Site | None = None
    lock = threading.Lock()
    read = 0
    most = 0


def _slow_reader(body: bytes, url: str, *rest: Any) -> Reading:
    """A reader slower than the fetches (as trafilatura is), counting the pages held."""
    assert _Held.site is not None
    with _Held.lock:
        fetched = sum(1 for path in _Held.site.requests if path.startswith("/news/"))
        _Held.most = max(_Held.most, fetched - _Held.read)
    time.sleep(0.05)
    with _Held.lock:
        _Held.read += 1
    return read_page(body, url, *rest)


@pytest.mark.parametrize(("per_worker", "per_host", "most"), [
    (16, 4, 4),  # as configured: one host, so its turn bounds it
    (2, 100, 4),  # the pool's bound, with the host's out of the way: 2 workers' worth
])
def test_a_publish_on_many_items_holds_only_the_admitted_pages_at_once(
        store: Store, monkeypatch: pytest.MonkeyPatch, per_worker: int, per_host: int, most: int) -> None:
    """Fetching is quicker than reading: without admission a publish of 60 items fetched most
    of its pages at once (26 seen) and held them, waiting for a reader (memory, at 10,000 sources)."""
    from monitor import pages

    monkeypatch.setattr(pages, "PAGES_PER_WORKER", per_worker)
    monkeypatch.setattr(pages, "PAGES_PER_HOST", per_host)
    with serve_site() as site:
        _Held.site, _Held.read, _Held.most = site, 0, 0
        feed_url = site.base_url + "/feed.xml"
        config = _feed_source("s", feed_url, timeout=10)
        published = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

        def publish(numbers: range) -> None:
            items = [(f"/news/{n}", f"Story {n}", "", published) for n in numbers]
            site.put("/feed.xml", rss_feed(base=site.base_url, items=items), "application/rss+xml")
            for n in numbers:
                site.put(f"/news/{n}", article_page(title=f"Story {n}", paragraphs=[
                    FILLER, f"General Kayani spoke to reporters about story number {n}.", FILLER]))

        async def poll() -> PollResult:
            async with Fetcher() as fetcher:
                with opened(0, reader=_slow_reader) as pool:
                    poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}, pages=pool)
                    return await poller.poll(config, force=True)

        publish(range(1, 3))
        assert asyncio.run(poll()).status == "baseline"
        publish(range(1, 63))
        result = asyncio.run(poll())
    assert (result.status, result.new) == ("ok", 60)
    assert _Held.read == 60
    texts = [row[0] for row in store.db.execute(
        "SELECT main_text FROM items WHERE text_origin = 'article'").fetchall()]
    assert len(texts) == 60 and all("General Kayani spoke" in text for text in texts)
    assert 2 <= _Held.most <= most  # threads: admitted as for two workers


def test_a_new_items_page_is_fetched_before_the_polls_queued_behind_its_feed(store: Store) -> None:
    """With one request in flight at a time and five polls due at once, the article page of
    the first source's new item is fetched as soon as the request then in flight ends, not
    after every other feed: its alert does not wait for the rest of the round."""
    with serve_newsroom() as site:
        def publish_desk(numbers: range) -> None:
            items = [(f"/desk/{n}", f"Story {n}", "", when(20)) for n in numbers]
            site.publish("/desk.xml", rss_feed(base=site.base_url, items=items), "application/rss+xml")
            for n in numbers:
                site.publish(f"/desk/{n}", article_page(title=f"Story {n}", paragraphs=[
                    FILLER, f"General Kayani spoke about story {n}.", FILLER]))

        others = [_feed_source(f"other{k}", f"{site.base_url}/other{k}.xml", timeout=30) for k in range(4)]
        desk = _feed_source("desk", f"{site.base_url}/desk.xml", timeout=30)
        publish_desk(range(1, 2))

        def publish_others(delay: float) -> None:
            for k in range(4):
                site.publish(f"/other{k}.xml", rss_feed(base=site.base_url, items=[
                    (f"/other{k}/1", "Old story", "", when(20))]), "application/rss+xml", delay=delay)

        publish_others(0)

        async def run() -> list[PollResult]:
            async with Fetcher(max_connections=1, per_host=8) as fetcher:
                with opened(0) as pool:
                    poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}, pages=pool)
                    for config in (desk, *others):
                        assert (await poller.poll(config)).status == "baseline"
                    publish_desk(range(1, 3))
                    publish_others(0.3)  # long enough for the desk's feed to be read meanwhile
                    site.arrived.clear()
                    return await asyncio.gather(*(poller.poll(c, force=True) for c in (desk, *others)))

        results = asyncio.run(run())
    assert [r.status for r in results] == ["ok"] + ["not-modified"] * 4
    # The first other feed had the slot when the desk's page was asked for; the rest wait for it.
    assert site.arrived == ["/desk.xml", "/other0.xml", "/desk/2", "/other1.xml", "/other2.xml", "/other3.xml"]


def test_a_host_that_hangs_keeps_only_its_own_pages_waiting(store: Store) -> None:
    """One source publishes 40 items whose pages hang (more than the pool admits at once);
    another source, on another host, publishes one: its page is read while the first
    host's still hang, as a page waits for its host's turn before the pool's."""
    with serve_newsroom() as site:
        other_base = site.base_url.replace("127.0.0.1", "localhost")

        def publish(source_id: str, base: str, numbers: range, *, delay: float) -> None:
            items = [(f"/{source_id}/{n}", f"Story {n}", "", when(20)) for n in numbers]
            site.publish(f"/{source_id}.xml", rss_feed(base=base, items=items), "application/rss+xml")
            for n in numbers:
                site.publish(f"/{source_id}/{n}", article_page(title=f"Story {n}", paragraphs=[
                    FILLER, f"General Kayani spoke about story {n}.", FILLER]), delay=delay)

        hanging = _feed_source("hangs", f"{site.base_url}/hangs.xml", timeout=60)
        prompt = _feed_source("prompt", f"{other_base}/prompt.xml", timeout=60)

        async def run() -> PollResult:
            async with Fetcher() as fetcher:
                with opened(0) as pool:
                    poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}, pages=pool)
                    for config in (hanging, prompt):
                        assert (await poller.poll(config)).status == "baseline"
                    publish("hangs", site.base_url, range(1, 42), delay=30)
                    publish("prompt", other_base, range(1, 3), delay=0)
                    stuck = asyncio.create_task(poller.poll(hanging, force=True))
                    # until the hanging host has its pages in hand
                    assert await until(lambda: sum(1 for p in site.arrived if p.startswith("/hangs/")) >= 4,
                                       timeout=20)
                    try:
                        return await asyncio.wait_for(poller.poll(prompt, force=True), timeout=20)
                    finally:
                        stuck.cancel()

        publish("hangs", site.base_url, range(1, 2), delay=0)
        publish("prompt", other_base, range(1, 2), delay=0)
        result = asyncio.run(run())
    assert (result.status, result.new) == ("ok", 1)
    origin = store.db.execute("SELECT text_origin FROM items WHERE url LIKE '%/prompt/2'").fetchone()
    assert origin == ("article",)


def test_a_poll_waiting_for_its_pages_keeps_neither_the_feed_body_nor_the_stored_entries(store: Store) -> None:
    """A publish on a thousand sources at once puts their polls in line for the page
    workers. Each keeps only its new items meanwhile: it kept the feed's body and every
    entry stored before, most of a real feed's 100 KB and more, a poll in line."""
    with serve_newsroom() as site:
        config = _feed_source("desk", f"{site.base_url}/desk.xml", timeout=60)

        def publish(numbers: range) -> None:
            items = [(f"/desk/{n}", f"Story {n}", "A summary. " * 50, when(20)) for n in numbers]
            site.publish("/desk.xml", rss_feed(base=site.base_url, items=items), "application/rss+xml")
            for n in numbers:
                site.publish(f"/desk/{n}", article_page(title=f"Story {n}", paragraphs=[FILLER]), delay=30)

        kept: dict[int, weakref.ref[object]] = {}  # by id: the burst check reads the same entries again

        async def run() -> list[object]:
            async with Fetcher() as fetcher:
                fetch = fetcher.get

                async def get(url: str, **options: Any) -> Any:
                    response = await fetch(url, **options)
                    if url == config.url:
                        kept[id(response)] = weakref.ref(response)
                    return response

                with opened(0) as pool:
                    poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}, pages=pool)
                    assert (await poller.poll(config)).status == "baseline"
                    fetcher.get = get  # type: ignore[method-assign]
                    unseen = poller._unseen

                    def stored_entries_noted(source_id: str, entries: Any) -> Any:
                        kept.update((id(e), weakref.ref(e)) for e in entries if not e.url.endswith("/desk/9"))
                        return unseen(source_id, entries)

                    poller._unseen = stored_entries_noted  # type: ignore[method-assign]
                    publish(range(1, 10))
                    waiting = asyncio.create_task(poller.poll(config, force=True))
                    assert await until(lambda: "/desk/9" in site.arrived, timeout=20)  # its page asked for
                    gc.collect()
                    alive = [held for ref in kept.values() if (held := ref()) is not None]
                    waiting.cancel()
                    return alive

        publish(range(1, 9))
        alive = asyncio.run(run())
    assert len(kept) == 9  # the feed's response and its 8 stored entries
    assert alive == []
