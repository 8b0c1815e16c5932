"""Reading article pages off the event loop, in worker processes sized to the machine.

Extraction (trafilatura) and the text's MinHash are pure Python work of several
milliseconds a page; in threads they would hold the GIL against the event loop and leave
the second core idle. Workers fork from a forkserver that has imported the extractor
once, so a worker starts in milliseconds and shares those pages of memory; the pool
starts at the first page it is given, so a daemon with nothing new pays nothing.
A worker that dies (a page that crashes lxml, the OOM killer) fails only its own page;
the pool is replaced for the next one. Feeds are parsed in the daemon itself: a feed is
cheap to parse and dear to ship to a worker and back.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import tzinfo
from typing import TypeVar

from monitor.errors import SourceError
from monitor.models import Article
from monitor.stories import text_signature

log = logging.getLogger(__name__)
T = TypeVar("T")

WATCH_EVERY = 1.0  # seconds between a worker's looks at whether the daemon still runs
# The pool is replaced after this many bodies, which bounds what a slow leak in a parser can
# hold. Not ProcessPoolExecutor's max_tasks_per_child: on Python 3.11 the pool can fail to
# replace a worker that left that way and hang every job after it (seen here in a bench run).
JOBS_PER_POOL = 5000


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


def _start_worker(daemon_pid: int) -> None:
    """Workers leave when the pool shuts down or the daemon is gone, not on a stop signal:
    systemd signals every process of the service and Ctrl-C the whole process group, and
    a worker dying then would fail the pages of the polls the daemon is letting finish.
    A worker's parent is the forkserver, so nothing tells it the daemon was killed (kill -9):
    it looks once a second, or it would outlive the daemon (and keep the forkserver alive)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(daemon_pid,), name="daemon-watch", daemon=True).start()


def _exit_with(daemon_pid: int) -> None:
    while True:
        time.sleep(WATCH_EVERY)
        try:
            os.kill(daemon_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the pid is another user's now: ours is gone
            os._exit(0)


class PagePool:
    """Runs ``read_page`` in ``workers`` processes, or in threads when ``workers`` is 0
    (tests and one-off tools, where starting processes would cost more than it saves)."""

    def __init__(self, workers: int | None = None, *, reader: Callable[..., Reading] = read_page) -> None:
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.reader = reader  # a module-level function, so it pickles by name (tests swap it)
        self._executor: Executor | None = None
        self._jobs = 0  # given to the current pool

    async def read(self, body: bytes, url: str, *, content_selector: str | None, content_type: str | None,
                   tz: tzinfo) -> Reading:
        """An article page read. Raises SourceError for a page that made its worker die;
        the extractor's own SourceError (an invalid selector) passes through."""
        return await self._run(url, self.reader, body, url, content_selector, content_type, tz)

    async def _run(self, url: str, job: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        # Twice: a worker killed from outside (the OOM killer) breaks the pages in flight with
        # it, and those deserve a new worker; a page that kills its worker again is to blame.
        for attempt in (1, 2):
            executor = self._pool()
            try:
                return await loop.run_in_executor(executor, job, *args)
            except BrokenProcessPool as exc:
                if self._executor is executor:  # the first page to notice replaces the pool
                    log.warning("article reading: a worker process died; starting new ones")
                    self._executor = None
                    executor.shutdown(wait=False, cancel_futures=True)
                if attempt == 2:
                    raise SourceError(f"{url}: reading the page crashed its worker process twice") from exc
        raise AssertionError("unreachable")

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
                                                     initializer=_start_worker, initargs=(os.getpid(),))
            self._jobs = 0
        self._jobs += 1
        if self._jobs > JOBS_PER_POOL and self.workers:
            # The old pool finishes what it was given, then its workers leave.
            old, self._executor = self._executor, None
            old.shutdown(wait=False)
            return self._pool()
        return self._executor

    def close(self) -> None:
        """Stop the workers; pages still queued are dropped (their polls have ended)."""
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True, cancel_futures=True)
