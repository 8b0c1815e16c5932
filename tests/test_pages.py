"""Article pages read in worker processes: the same reading as in-process, and a worker
that dies fails only its own page."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC

import pytest

from monitor.errors import SourceError
from monitor.pages import PagePool, read_page
from tests.newsroom_pages import FILLER, article_page


def _page() -> bytes:
    return article_page(title="Kayani meets ISAF commander", paragraphs=[
        FILLER, "General Kayani met the ISAF commander in Rawalpindi on Tuesday.", FILLER]).encode()


async def _read(pool: PagePool) -> object:
    return await pool.read(_page(), "http://127.0.0.1/news/1", content_selector=None, content_type="text/html",
                           tz=UTC)


def test_a_worker_process_reads_what_the_event_loop_process_would() -> None:
    pool = PagePool(workers=1)
    try:
        reading = asyncio.run(_read(pool))
    finally:
        pool.close()
    assert reading == read_page(_page(), "http://127.0.0.1/news/1", None, "text/html", UTC)
    assert "ISAF commander in Rawalpindi" in reading.article.text  # type: ignore[attr-defined]


def test_a_dead_worker_fails_one_page_and_the_next_gets_a_new_pool() -> None:
    pool = PagePool(workers=1)
    try:
        pool.start()
        for pid in pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(SourceError, match="crashed its worker process"):
            asyncio.run(_read(pool))
        reading = asyncio.run(_read(pool))
    finally:
        pool.close()
    assert "ISAF commander in Rawalpindi" in reading.article.text  # type: ignore[attr-defined]


def test_threads_when_no_workers_are_asked_for() -> None:
    pool = PagePool(workers=0)
    try:
        reading = asyncio.run(_read(pool))
        assert pool.worker_pids() == []
    finally:
        pool.close()
    assert "ISAF commander in Rawalpindi" in reading.article.text  # type: ignore[attr-defined]
