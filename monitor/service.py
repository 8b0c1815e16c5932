"""The daemon: one scheduled poll job per source, delivery, hot reload and graceful stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config, SourceConfig, load_config
from monitor.errors import ConfigError
from monitor.fetch import Fetcher
from monitor.match import Matcher, WatchRule
from monitor.notify.deliver import Deliverer
from monitor.pipeline import Poller, PollResult
from monitor.store import Store

log = logging.getLogger(__name__)

DELIVERY_EVERY = timedelta(seconds=15)
RELOAD_CHECK_EVERY = timedelta(seconds=2)
STOP_DEADLINE = 20.0


def build_matcher(config: Config) -> Matcher:
    return Matcher([
        WatchRule(name=w.name, keywords=tuple(w.keywords), require=tuple(w.require), exclude=tuple(w.exclude),
                  sources=frozenset(w.sources) if w.sources is not None else None)
        for w in config.watchlists
    ])


class Runtime:
    """The parts a poll needs, built from one config; rebuilt (but for store and
    fetcher) when the config changes."""

    def __init__(self, config: Config, store: Store, fetcher: Fetcher) -> None:
        self.store = store
        self.fetcher = fetcher
        self.apply(config)

    def apply(self, config: Config) -> None:
        self.config = config
        self.poller = Poller(store=self.store, fetcher=self.fetcher, matcher=build_matcher(config),
                             routes={w.name: tuple(w.notify) for w in config.watchlists})
        self.deliverer = Deliverer(self.store, channels=config.channels,
                                   source_names={s.id: s.name for s in config.sources},
                                   timezone=ZoneInfo(config.timezone), give_up=config.give_up)

    def source(self, source_id: str) -> SourceConfig | None:
        return next((s for s in self.config.sources if s.id == source_id), None)


async def poll_once(config: Config, source_ids: Sequence[str] = ()) -> list[PollResult]:
    """`monitor once`: poll the chosen sources concurrently, deliver, return the results."""
    sources = [s for s in config.sources if not source_ids or s.id in source_ids]
    async with AsyncExitStack() as stack:
        store = Store(config.database)
        stack.callback(store.close)
        fetcher = await stack.enter_async_context(Fetcher())
        runtime = Runtime(config, store, fetcher)
        results = list(await asyncio.gather(*(runtime.poller.poll(s, force=True) for s in sources)))
        await runtime.deliverer.drain()
    return results


class Daemon:
    """`monitor run`. Stops on SIGTERM/SIGINT: no new polls, in-flight ones get a deadline,
    the outbox is drained once more, the database closed."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task[object]] = set()
        self._signatures: dict[str, tuple[object, ...]] = {}
        self._mtimes: dict[Path, float] = {}

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        async with AsyncExitStack() as stack:
            store = Store(self.config.database)
            stack.callback(store.close)
            fetcher = await stack.enter_async_context(Fetcher())
            self.runtime = Runtime(self.config, store, fetcher)
            self.scheduler = AsyncIOScheduler(timezone=ZoneInfo(self.config.timezone))
            self._schedule_sources(self.config.sources)
            self.scheduler.add_job(self._deliver, IntervalTrigger(seconds=DELIVERY_EVERY.total_seconds()),
                                   id="_deliver", max_instances=1, coalesce=True, misfire_grace_time=60)
            self.scheduler.add_job(self._check_reload, IntervalTrigger(seconds=RELOAD_CHECK_EVERY.total_seconds()),
                                   id="_reload", max_instances=1, coalesce=True, misfire_grace_time=60)
            self._mtimes = _mtimes(self.config)
            self.scheduler.start()
            log.info("daemon started sources=%d watchlists=%d database=%s",
                     len(self.config.sources), len(self.config.watchlists), self.config.database.name)
            await self._stop.wait()
            log.info("daemon stopping")
            self.scheduler.shutdown(wait=False)
            await self._finish_inflight()
            await self.runtime.deliverer.drain()
        log.info("daemon stopped")

    # -- jobs ------------------------------------------------------------------------

    def _schedule_sources(self, sources: Sequence[SourceConfig], *, first_run: bool = True) -> None:
        now = datetime.now(timezone.utc)
        for source in sources:
            self.scheduler.add_job(
                self._poll_job, _trigger(source, self.config.timezone), args=[source.id], id=source.id,
                name=f"poll {source.id}", max_instances=1, coalesce=True,
                misfire_grace_time=_grace(source), next_run_time=now if first_run else None,
                replace_existing=True,
            )
            self._signatures[source.id] = _signature(source)

    async def _poll_job(self, source_id: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            source = self.runtime.source(source_id)
            if source is None or self._stop.is_set():
                return
            result = await self.runtime.poller.poll(source)
            if result.matched:
                await self.runtime.deliverer.drain()
        finally:
            self._inflight.discard(task)

    async def _deliver(self) -> None:
        await self.runtime.deliverer.drain()

    async def _finish_inflight(self) -> None:
        if not self._inflight:
            return
        _, pending = await asyncio.wait(set(self._inflight), timeout=STOP_DEADLINE)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("stop: cancelled %d polls still running after %.0fs", len(pending), STOP_DEADLINE)
            await asyncio.wait(pending, timeout=5)

    # -- hot reload ------------------------------------------------------------------

    async def _check_reload(self) -> None:
        current = _mtimes(self.config)
        if current == self._mtimes:
            return
        self._mtimes = current
        try:
            config = load_config(self.config.path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload rejected, keeping the running config: %s", problem)
            return
        if config.database != self.config.database:
            log.warning("reload: a new database path applies after a restart")
        self._reschedule(config)
        self.config = config
        self.runtime.apply(config)
        self._mtimes = _mtimes(config)
        log.info("reload applied sources=%d watchlists=%d", len(config.sources), len(config.watchlists))

    def _reschedule(self, config: Config) -> None:
        old = {s.id for s in self.config.sources}
        new = {s.id: s for s in config.sources}
        for source_id in old - set(new):
            self.scheduler.remove_job(source_id)
            self._signatures.pop(source_id, None)
            log.info("reload: source=%s removed", source_id)
        added = [s for sid, s in new.items() if sid not in old]
        self._schedule_sources(added)
        for source_id, source in new.items():
            if source_id in old and self._signatures.get(source_id) != _signature(source):
                # Modify the existing job: re-adding every job on reload was seen to stop them running.
                self.scheduler.reschedule_job(source_id, trigger=_trigger(source, config.timezone))
                self.scheduler.modify_job(source_id, misfire_grace_time=_grace(source))
                self._signatures[source_id] = _signature(source)
                log.info("reload: source=%s rescheduled", source_id)
        for source in added:
            log.info("reload: source=%s added", source.id)


def _trigger(source: SourceConfig, tz: str) -> IntervalTrigger | CronTrigger:
    jitter = int(source.jitter.total_seconds()) or None
    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone=ZoneInfo(tz)) if jitter is None else \
            _cron_with_jitter(source.cron, tz, jitter)
    every = source.every or timedelta(minutes=10)
    return IntervalTrigger(seconds=every.total_seconds(), jitter=jitter)


def _cron_with_jitter(expression: str, tz: str, jitter: int) -> CronTrigger:
    trigger = CronTrigger.from_crontab(expression, timezone=ZoneInfo(tz))
    trigger.jitter = jitter
    return trigger


def _grace(source: SourceConfig) -> int:
    every = source.every or timedelta(minutes=10)
    return max(30, int(every.total_seconds() // 2))


def _signature(source: SourceConfig) -> tuple[object, ...]:
    return (source.every, source.cron, source.jitter)


def _mtimes(config: Config) -> dict[Path, float]:
    stamps: dict[Path, float] = {}
    for path in config.watch_files():
        try:
            stamps[path] = path.stat().st_mtime_ns
        except OSError:
            stamps[path] = -1
    # A new file matching a watch-list glob changes the config too.
    for folder in {p.parent for p in config.watch_files()}:
        try:
            stamps[folder] = folder.stat().st_mtime_ns
        except OSError:
            stamps[folder] = -1
    return stamps
