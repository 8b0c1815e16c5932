"""The project's side of the benchmark: a long-lived process, like the daemon, that polls
every configured source once each time it reads a line on stdin and answers with one JSON
line of figures. Start-up (imports, config, migrations) is measured once, apart.

Run by bench/run.py with the project's own Python; not meant to be run by hand.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

_T0 = time.perf_counter()

from procfs import cpu_seconds, descendants, status_kb  # noqa: E402  (bench/procfs.py)

from monitor import eventloop  # noqa: E402  (timed: import cost is part of start-up)
from monitor.config import SourceConfig, load_config  # noqa: E402
from monitor.fetch import Fetcher  # noqa: E402
from monitor.pages import PagePool  # noqa: E402
from monitor.pipeline import Poller, PollResult  # noqa: E402
from monitor.service import build_matcher  # noqa: E402
from monitor.store import Store  # noqa: E402

_seen_cpu: dict[int, float] = {}  # page-worker pid -> its CPU seconds when last looked at


def _cpu() -> float:
    """CPU seconds of this process and every process under it (a page worker that has left
    counts with what it had used when last looked at)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    for pid in descendants(os.getpid()):
        seconds = cpu_seconds(pid)
        if seconds is not None:
            _seen_cpu[pid] = seconds
    return _own_cpu() + kids.ru_utime + kids.ru_stime + sum(_seen_cpu.values())


def _own_cpu() -> float:
    """CPU seconds of this process alone: the event loop's share of ``_cpu``."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _workers_mb() -> float:
    """The summed peak RSS of the live descendants (shared pages are counted in each)."""
    return sum(status_kb(pid, "VmHWM") for pid in descendants(os.getpid())) / 1024


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


async def _phase(poller: Poller, sources: list[SourceConfig], store: Store) -> dict[str, object]:
    last_match = store.db.execute("SELECT COALESCE(MAX(id), 0) FROM matches").fetchone()[0]
    wall0, cpu0, own0 = time.perf_counter(), _cpu(), _own_cpu()
    indexing = asyncio.create_task(_index_every_second(store))

    async def timed(source: SourceConfig) -> tuple[PollResult, float]:
        result = await poller.poll(source, force=True)
        return result, time.perf_counter() - wall0  # its alerts are committed, queued for delivery

    done = await asyncio.gather(*(timed(s) for s in sources))
    results = [result for result, _ in done]
    indexing.cancel()
    store.index_for_search()  # the daemon's next dispatch tick would
    await poller.fetcher.aclose()  # a phase is a separate moment: no warm connections carried over
    wall, cpu, own = time.perf_counter() - wall0, _cpu() - cpu0, _own_cpu() - own0
    matched = [row[0] for row in store.db.execute(
        "SELECT i.url FROM matches m JOIN items i ON i.id = m.item_id WHERE m.id > ?", [last_match])]
    return {"wall": wall, "cpu": cpu, "own_cpu": own, "peak_mb": _peak_mb(), "workers_mb": _workers_mb(),
            "statuses": dict(Counter(r.status for r in results)),
            "new": sum(r.new for r in results), "matched_urls": matched,
            # When each alert was ready, in seconds from the phase's start (a poll's matches at its commit).
            "alert_seconds": sorted(at for result, at in done for _ in range(result.matched)),
            "errors": [f"{r.source_id}: {r.error}" for r in results if r.failed][:5]}


async def _index_every_second(store: Store) -> None:
    """What the daemon's dispatch tick does besides starting polls: index the second's new items."""
    while True:
        await asyncio.sleep(1)
        store.index_for_search()


def _pages(name: str) -> PagePool:
    if name == "thread":
        return PagePool(workers=0)
    pages = PagePool()
    # The daemon starts its workers at the first page and keeps them; the bench measures
    # that steady state, and the workers' start-up is part of the start-up figure.
    pages.start()
    return pages


async def main() -> None:
    config = load_config(Path(sys.argv[1]))
    store = Store(config.database)
    fetcher = Fetcher()
    pages = _pages(sys.argv[2] if len(sys.argv) > 2 else "process")
    poller = Poller(store=store, fetcher=fetcher, matcher=build_matcher(config),
                    routes={w.name: tuple(w.notify) for w in config.watchlists}, pages=pages)
    sources = list(config.sources)
    print(json.dumps({"startup": time.perf_counter() - _T0, "cpu": _cpu(), "peak_mb": _peak_mb(),
                      "workers_mb": _workers_mb()}), flush=True)
    loop = asyncio.get_running_loop()
    profile_dir = os.environ.get("BENCH_PROFILE")  # a folder: one cProfile dump per phase
    if profile_dir:
        Path(profile_dir).mkdir(parents=True, exist_ok=True)
    phase = 0
    while await loop.run_in_executor(None, sys.stdin.readline):
        phase += 1
        profiler = cProfile.Profile() if profile_dir else None
        if profiler:
            profiler.enable()
        figures = await _phase(poller, sources, store)
        if profiler:
            profiler.disable()
            profiler.dump_stats(Path(profile_dir) / f"phase-{phase}.prof")
        print(json.dumps(figures), flush=True)
    store.close()
    pages.close()


if __name__ == "__main__":
    eventloop.run(main())  # the daemon's loop
