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
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import tzinfo

from monitor.errors import SourceError
from monitor.models import Article
from monitor.processes import forkserver
from monitor.stories import text_signature

log = logging.getLogger(__name__)

MAX_WORKERS = 4
WATCH_EVERY = 1.0  # seconds between a worker's looks at whether the daemon still runs
# The pool is replaced after this many bodies, which bounds what a slow leak in a parser can
# hold. Not ProcessPoolExecutor's max_tasks_per_child: on Python 3.11 the pool can fail to
# replace a worker that left that way and hang every job after it (seen here in a bench run).
JOBS_PER_POOL = 5000
# Pages admitted at once per worker, fetched or being read: enough that a worker never waits
# for a fetch, few enough that a publish on many sources does not hold every page in memory.
PAGES_PER_WORKER = 16
# And per host, as many as the fetcher asks of one host at once: a host that hangs holds
# that many of the pool's admissions, not all of them.
PAGES_PER_HOST = 4


@dataclass(frozen=True)
class Reading:
    """An article page read: its main text, title and date, and the text's MinHash."""

    article: Article
    signature: tuple[bytes, int]


def read_page(body: bytes, url: str, content_selector: str | None, content_type: str | None,
              tz: tzinfo) -> Reading:
    """What a worker does with one page (module level, so it pickles by name). The
    extractor is imported here: in the daemon's own process it would be ~16 MB for nothing.
    Every failure leaves as a SourceError: an exception that does not survive pickling
    (lxml's, or one with its own ``__init__``) would break the whole pool instead."""
    from monitor.extract import extract_article

    try:
        article = extract_article(body, url=url, content_selector=content_selector, content_type=content_type,
                                  tz=tz)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"{url}: reading the page failed: {type(exc).__name__}: {exc}") from None
    return Reading(article=article, signature=text_signature(article.text))


def _start_worker(daemon_pid: int) -> None:
    """Ctrl-C signals the whole process group, and the daemon decides when workers go, so
    they ignore SIGINT. SIGTERM keeps its default: the pool itself uses it to end workers
    when one has died (and the systemd unit's KillMode=mixed sends it to the daemon alone).
    A worker's parent is the forkserver, so nothing tells it the daemon was killed (kill -9):
    it looks once a second, or it would outlive the daemon (and keep the forkserver alive)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(daemon_pid, os.getppid()), name="daemon-watch", daemon=True).start()


def _exit_with(daemon_pid: int, forkserver_pid: int) -> None:
    while True:
        time.sleep(WATCH_EVERY)
        if os.getppid() != forkserver_pid:  # the forkserver left, as it does when the daemon dies
            os._exit(0)
        try:
            os.kill(daemon_pid, 0)
        except (ProcessLookupError, PermissionError):  # gone (PermissionError: the pid is reused)
            os._exit(0)


def default_workers() -> int:
    """The CPUs this process may run on (a container's cpuset, not the host's count), at most 4:
    each worker holds ~50 MB, and four keep up with far more articles than 10,000 sources publish."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return max(1, min(usable, MAX_WORKERS))


@dataclass
class _HostTurn:
    slots: asyncio.Semaphore
    users: int = 0  # pages of the host admitted or waiting


@dataclass
class _Admission:
    """The admissions of one event loop (an asyncio semaphore belongs to the loop it waited in)."""

    loop: asyncio.AbstractEventLoop
    pages: asyncio.Semaphore
    hosts: dict[str, _HostTurn] = field(default_factory=dict)


class PoolClosed(RuntimeError):
    """A page given to the pool after ``close``: the poll fails whole and is retried, since
    committing its items without their article text could miss a match for good."""


class PagePool:
    """Runs ``read_page`` in ``workers`` processes, or in threads when ``workers`` is 0
    (tests and one-off tools, where starting processes would cost more than it saves)."""

    def __init__(self, workers: int | None = None, *, reader: Callable[..., Reading] = read_page) -> None:
        self.workers = default_workers() if workers is None else workers
        self.reader = reader  # a module-level function, so it pickles by name (tests swap it)
        self._executor: Executor | None = None
        self._jobs = 0  # given to the current pool
        self._isolated: Executor | None = None  # one worker, for second tries one page at a time
        self._isolation: asyncio.Lock | None = None
        self._admission: _Admission | None = None
        self._closed = False

    @contextlib.asynccontextmanager
    async def admit(self, host: str) -> AsyncIterator[None]:
        """Hold this from before an article page of ``host`` is fetched until it is read.
        Fetching is far quicker than reading, so once reading fell behind (a busy machine,
        large pages), a publish on many sources fetched every page at once and held them all,
        waiting for a worker: 200 MB more in use, in a daemon of 10,000 sources slowed by a
        profiler. A page waits for its host's turn first, so a host that hangs keeps its own
        pages waiting and not everyone's. A fetch waiting here has not begun, so its timeout
        has not either."""
        loop = asyncio.get_running_loop()
        if self._admission is None or self._admission.loop is not loop:
            self._admission = _Admission(loop, asyncio.Semaphore(max(self.workers, 2) * PAGES_PER_WORKER))
        admission = self._admission
        turn = admission.hosts.get(host)
        if turn is None:
            turn = admission.hosts[host] = _HostTurn(asyncio.Semaphore(PAGES_PER_HOST))
        turn.users += 1
        try:
            async with turn.slots, admission.pages:
                yield
        finally:
            turn.users -= 1
            if not turn.users:  # forget hosts with nothing in hand: a daemon meets thousands
                del admission.hosts[host]

    async def read(self, body: bytes, url: str, *, content_selector: str | None, content_type: str | None,
                   tz: tzinfo) -> Reading:
        """An article page read. Raises SourceError for a page that made its worker die, or
        that the extractor could not read (an invalid selector)."""
        if self._closed:
            raise PoolClosed(f"{url}: the page pool is closed")
        args = (body, url, content_selector, content_type, tz)
        loop = asyncio.get_running_loop()
        executor = self._pool()
        try:
            return await loop.run_in_executor(executor, self.reader, *args)
        except BrokenProcessPool:
            if self._executor is executor:  # the first page to notice replaces the pool
                log.warning("article reading: a worker process died; starting new ones")
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
        # Every page in flight failed with the worker that died (the OOM killer, or one page
        # that crashes the parser). Each tries again alone, in a worker of its own, so only a
        # page that kills its worker again is to blame and the others are read.
        if self._isolation is None:
            self._isolation = asyncio.Lock()
        async with self._isolation:
            if self._closed:
                raise PoolClosed(f"{url}: the page pool is closed")
            if self._isolated is None:
                self._isolated = self._make(1)
            isolated = self._isolated
            try:
                return await loop.run_in_executor(isolated, self.reader, *args)
            except BrokenProcessPool as exc:
                self._isolated = None
                isolated.shutdown(wait=False, cancel_futures=True)
                raise SourceError(f"{url}: reading the page crashed its worker process twice") from exc

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
            self._executor = self._make(self.workers)
            self._jobs = 0
        self._jobs += 1
        if self._jobs > JOBS_PER_POOL and self.workers:
            # The old pool finishes what it was given, then its workers leave.
            old, self._executor = self._executor, None
            old.shutdown(wait=False)
            return self._pool()
        return self._executor

    def _make(self, workers: int) -> Executor:
        if self.workers == 0:
            return ThreadPoolExecutor(thread_name_prefix="pages")
        return ProcessPoolExecutor(max_workers=workers, mp_context=forkserver(), initializer=_start_worker,
                                   initargs=(os.getpid(),))

    def close(self) -> None:
        """Stop the workers for good; pages still queued are dropped (their polls have ended),
        and a page given later raises PoolClosed."""
        self._closed = True
        for executor in (self._executor, self._isolated):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._executor = self._isolated = None
