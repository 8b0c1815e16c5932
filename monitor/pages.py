"""Reading article pages off the event loop, in worker processes sized to the machine.

Extraction (trafilatura) and the text's MinHash are pure Python work of several
milliseconds a page; in threads they would hold the GIL against the event loop and leave
the second core idle. Workers fork from a forkserver that has imported the extractor
once, so a worker starts in milliseconds and shares those pages of memory; the pool
starts at the first page it is given, so a daemon with nothing new pays nothing.
A worker that dies (a page that crashes lxml, the OOM killer) fails only its own page;
the pool is replaced for the next one.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import tzinfo

from monitor.errors import SourceError
from monitor.models import Article
from monitor.stories import text_signature

log = logging.getLogger(__name__)

# A worker is replaced after this many pages, which bounds what a slow leak in a parser can hold.
PAGES_PER_WORKER = 500


@dataclass(frozen=True)
class Reading:
    """An article page read: its main text, title and date, and the text's MinHash."""

    article: Article
    signature: tuple[bytes, int]


def read_page(body: bytes, url: str, content_selector: str | None, content_type: str | None,
              tz: tzinfo) -> Reading:
    """What a worker does with one page (module level, so it pickles by name). The
    extractor is imported here: in the daemon's own process it would be ~16 MB for nothing."""
    from monitor.extract import extract_article

    article = extract_article(body, url=url, content_selector=content_selector, content_type=content_type, tz=tz)
    return Reading(article=article, signature=text_signature(article.text))


class PagePool:
    """Runs ``read_page`` in ``workers`` processes, or in threads when ``workers`` is 0
    (tests and one-off tools, where starting processes would cost more than it saves)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self._executor: Executor | None = None

    async def read(self, body: bytes, url: str, *, content_selector: str | None, content_type: str | None,
                   tz: tzinfo) -> Reading:
        """Raises SourceError for a page that made its worker die; the extractor's own
        SourceError (an invalid selector) passes through."""
        executor = self._pool()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, read_page, body, url, content_selector, content_type, tz)
        except BrokenProcessPool as exc:
            if self._executor is executor:  # the first page to notice replaces the pool
                log.warning("article reading: a worker process died; starting new ones")
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise SourceError(f"{url}: reading the page crashed its worker process") from exc

    def start(self) -> None:
        """Start every worker now rather than at the first page (each imports nothing:
        it forks from the forkserver that imported the extractor)."""
        executor = self._pool()
        for future in [executor.submit(os.getpid) for _ in range(max(self.workers, 1) * 2)]:
            future.result()

    def worker_pids(self) -> list[int]:
        """The worker processes running now (none for threads, or before the first page)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    def _pool(self) -> Executor:
        if self._executor is None:
            if self.workers == 0:
                self._executor = ThreadPoolExecutor(thread_name_prefix="pages")
            else:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["monitor.pages", "monitor.extract"])
                self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                                     max_tasks_per_child=PAGES_PER_WORKER)
        return self._executor

    def close(self) -> None:
        """Stop the workers; pages still queued are dropped (their polls have ended)."""
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True, cancel_futures=True)
