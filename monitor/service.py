"""The daemon: polls sources when the schedule says, delivers, reloads its config and stops gracefully."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import eventloop, metrics
from monitor.config import Config, SourceConfig, WatchListConfig
from monitor.config.apart import reload_config_apart
from monitor.config.schema import listen_address
from monitor.dispatch import Schedule, spread
from monitor.endpoint import Endpoint
from monitor.errors import ConfigError
from monitor.fetch import Fetcher
from monitor.health import HealthWatch
from monitor.match import Matcher, WatchRule
from monitor.notify.deliver import Deliverer
from monitor.notify.modes import DeliveryMode, DigestSchedule, QuietHours
from monitor.pages import PagePool
from monitor.pipeline import Poller, PollResult
from monitor.store import Store
from monitor.store_report import database_answers

log = logging.getLogger(__name__)

DELIVERY_EVERY = timedelta(seconds=15)
RELOAD_CHECK_EVERY = timedelta(seconds=2)
RELOAD_RETRY = timedelta(minutes=1)  # after a reload that failed for a reason not in the files
STOP_DEADLINE = 20.0
# Seconds past STOP_DEADLINE in which the last drain may start a message (one begun then
# may take its send timeout): with both, a stop ends within the 60 s the unit files allow.
LAST_DRAIN = 5.0
HEARTBEAT_STALE = 60.0  # /healthz fails when the dispatch job has not handed out polls for this long
STAGGER_WINDOW = timedelta(minutes=1)
DISPATCH_EVERY = 1.0  # seconds: the dispatch job starts the polls due before the next tick
# Seconds between the groups a tick's polls start in. Started all at once, a tick's polls
# held their connections and buffers at once: the daemon's peak RSS at 10,000 sources went
# 98.4 -> 101.4 MB. In groups (bench-daemon, 89 polls a second): 0.5 s, 100.1 MB and 0.93 ms
# of CPU an unchanged poll; 0.25 s, 99.1 MB and 1.01 ms; 0.02 s, 99.0 MB and 1.71 ms.
START_GROUP = 0.25


def build_matcher(config: Config) -> Matcher:
    return Matcher([watch_rule(w) for w in config.watchlists], aliases=config.aliases)


def watch_rule(watchlist: WatchListConfig) -> WatchRule:
    """A configured watch list as the matcher sees it."""
    w = watchlist
    return WatchRule(name=w.name, keywords=tuple(w.keywords), require=tuple(w.require), exclude=tuple(w.exclude),
                     sources=frozenset(w.sources) if w.sources is not None else None)


def delivery_modes(config: Config) -> dict[tuple[str, str], DeliveryMode]:
    """(watch list, channel) -> how its alerts are delivered, for the pairs not immediate."""
    modes = {}
    for watchlist in config.watchlists:
        for channel, mode in watchlist.delivery.items():
            digest = mode.digest
            quiet = mode.quiet_hours
            modes[(watchlist.name, channel)] = DeliveryMode(
                digest=DigestSchedule(every=digest.every, at=digest.at) if digest else None,
                quiet=QuietHours(start=quiet[0], end=quiet[1]) if quiet else None)
    return modes


class Runtime:
    """The parts a poll needs, built from one config; rebuilt (but for store and
    fetcher) when the config changes."""

    def __init__(self, config: Config, store: Store, fetcher: Fetcher, pages: PagePool) -> None:
        self.store = store
        self.fetcher = fetcher
        self.pages = pages
        self.apply(config)

    def apply(self, config: Config) -> None:
        matcher = build_matcher(config)  # first: the one part that may refuse, before any is swapped
        self.config = config
        self._sources = {s.id: s for s in config.sources}  # looked up on every poll: not a scan of 10,000
        self.poller = Poller(store=self.store, fetcher=self.fetcher, matcher=matcher,
                             routes={w.name: tuple(w.notify) for w in config.watchlists},
                             pages=self.pages, story_window=config.story_window)
        previous = getattr(self, "deliverer", None)
        self.deliverer = Deliverer(self.store, channels=config.channels,
                                   source_names={s.id: s.name for s in config.sources},
                                   timezone=ZoneInfo(config.timezone), give_up=config.give_up,
                                   modes=delivery_modes(config), max_per_minute=config.channel_limits,
                                   templates={w.name: w.template for w in config.watchlists if w.template})
        if previous is not None:
            self.deliverer.succeed(previous)
        previous_health = getattr(self, "health", None)
        self.health = HealthWatch(self.store, config=config.health, channels=config.channels,
                                  source_names={s.id: s.name for s in config.sources}, give_up=config.give_up)
        if previous_health is not None:
            self.health.succeed(previous_health)

    def source(self, source_id: str) -> SourceConfig | None:
        return self._sources.get(source_id)


async def poll_once(config: Config, source_ids: Sequence[str] = (),
                    on_done: Callable[[PollResult], None] | None = None) -> list[PollResult]:
    """`monitor once`: poll the chosen sources concurrently, deliver, return the results;
    ``on_done`` hears of each poll as it finishes (for a progress bar)."""
    sources = [s for s in config.sources if not source_ids or s.id in source_ids]
    async with AsyncExitStack() as stack:
        store = Store(config.database)
        stack.callback(store.close)
        fetcher = await stack.enter_async_context(Fetcher(allow_private=config.allow_private))
        pages = PagePool()
        stack.callback(pages.close)
        runtime = Runtime(config, store, fetcher, pages)

        async def poll(source: SourceConfig) -> PollResult:
            result = await runtime.poller.poll(source, force=True)
            if on_done is not None:
                on_done(result)
            return result

        results = list(await asyncio.gather(*(poll(s) for s in sources)))
        await runtime.deliverer.drain()
    return results


class Daemon:
    """`monitor run`. Stops on SIGTERM/SIGINT: no new polls, in-flight polls and delivery runs
    get a deadline, the outbox is drained once more, the database closed."""

    def __init__(self, config: Config, *, stop_deadline: float = STOP_DEADLINE) -> None:
        self.config = config
        self.stop_deadline = stop_deadline
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()  # a second stop signal: cancel what runs, start no last message
        self._reload_asked = False
        self._inflight: set[asyncio.Task[object]] = set()
        # What the last read of the config took in, the running one's or a rejected edit's
        # (a new watch-list pattern that matches nothing yet among it): see _check_reload.
        self._stamps = config.stamps
        self._heartbeat = time.monotonic()
        self._index_warned = -math.inf
        self._reload_after = -math.inf  # after a reload that failed for a reason not in the files
        self._drain_wanted = False
        self._drainer: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """SIGTERM, Ctrl-C: stop, giving work under way its deadline; a second one: at once."""
        if self._stop.is_set():
            if not self._hurry.is_set():
                log.warning("stop: asked again; cancelling what is still running")
            self._hurry.set()
        self._stop.set()

    def reload(self) -> None:
        """SIGHUP, the daemon convention: read the config and watch lists again now, changed or not."""
        log.info("SIGHUP: reading the config again")
        self._reload_asked = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        async with AsyncExitStack() as stack:
            store = Store(self.config.database)
            stack.callback(store.close)
            fetcher = await stack.enter_async_context(Fetcher(allow_private=self.config.allow_private))
            pages = PagePool()
            stack.callback(pages.close)
            self.runtime = Runtime(self.config, store, fetcher, pages)
            self.scheduler = AsyncIOScheduler(timezone=ZoneInfo(self.config.timezone))
            # Each source's point in its interval hashes its id with this database's seed.
            self.schedule = Schedule(self.config.timezone, phase=functools.partial(spread, seed=store.schedule_seed()))
            self._schedule_sources(self.config.sources)
            self.scheduler.add_job(self._dispatch, IntervalTrigger(seconds=DISPATCH_EVERY), id="_dispatch",
                                   max_instances=1, coalesce=True, misfire_grace_time=60,
                                   next_run_time=datetime.now(timezone.utc))
            # First run at once: alerts a previous run left queued (crash, outage) go out now.
            self.scheduler.add_job(self._deliver, IntervalTrigger(seconds=DELIVERY_EVERY.total_seconds()),
                                   id="_deliver", max_instances=1, coalesce=True, misfire_grace_time=60,
                                   next_run_time=datetime.now(timezone.utc))
            self.scheduler.add_job(self._check_reload, IntervalTrigger(seconds=RELOAD_CHECK_EVERY.total_seconds()),
                                   id="_reload", max_instances=1, coalesce=True, misfire_grace_time=60)
            if self.config.http is not None:  # first: a port in use stops the start before any poll
                await self._serve_http(stack, *listen_address(self.config.http.listen))
            self.scheduler.start()
            log.info("daemon started sources=%d watchlists=%d database=%s loop=%s",
                     len(self.config.sources), len(self.config.watchlists), self.config.database.name,
                     eventloop.loop_name())
            await self._stop.wait()
            log.info("daemon stopping")
            # The last drain starts no message past this; what is queued then waits for the next start.
            last_send = asyncio.get_running_loop().time() + self.stop_deadline + LAST_DRAIN
            # Pause first: APScheduler's shutdown cancels running jobs at once, and polls and
            # delivery runs in flight deserve stop_deadline seconds to finish and commit.
            self.scheduler.pause()
            await self._finish_inflight()
            self.scheduler.shutdown(wait=False)
            if self._hurry.is_set():
                last_send = asyncio.get_running_loop().time()  # posts under way finish; none starts
            try:
                await self.runtime.deliverer.drain(stop_by=last_send, wait=True)
            except Exception:  # the one broad catch of the last delivery run: what did not go stays queued
                log.exception("stop: the last delivery run failed; unsent alerts stay queued for the next start")
        log.info("daemon stopped")

    # -- jobs ------------------------------------------------------------------------

    def _schedule_sources(self, sources: Sequence[SourceConfig]) -> None:
        """Schedule sources at start or as a reload adds or retimes them: those ``overdue`` (never
        polled, or the daemon was down over one of their times) first poll soon; the
        others at their own times, which a restart leaves as they were."""
        if not sources:
            return
        last = self.runtime.store.last_polls()
        starts = first_polls([s for s in sources if self.schedule.overdue(s, last.get(s.id))],
                             datetime.now(timezone.utc))
        for source in sources:
            self.schedule.add(source, first=starts.get(source.id), last=last.get(source.id))
        self._record_next_polls(s.id for s in sources)

    def _record_next_polls(self, source_ids: Iterable[str]) -> None:
        """Store when these sources poll next, for `monitor status`: one transaction a
        dispatch tick, not one a poll."""
        self.runtime.store.record_next_polls({sid: self.schedule.next_fire(sid) for sid in source_ids})

    async def _dispatch(self) -> None:
        """Start the polls due before the next tick in groups, at most START_GROUP late and
        never early. Each started at its own instant, a 304 poll cost 1.6-1.8 ms of CPU in
        the daemon at 50 polls a second, against 0.9 ms started in groups, as the loop's
        wake-ups and the sockets' work are shared (docs/scaling.md)."""
        loop = asyncio.get_running_loop()
        now = time.time()
        firings = self.schedule.due(now + DISPATCH_EVERY)
        groups: dict[float, list[str]] = {}
        for firing in firings:
            if not firing.missed:
                delay = math.ceil(max(0.0, firing.at - now) / START_GROUP) * START_GROUP
                groups.setdefault(delay, []).append(firing.source_id)
        for delay, source_ids in groups.items():
            loop.call_later(delay, self._start_polls, source_ids)
        if firings:
            self._record_next_polls(f.source_id for f in firings)
        self._heartbeat = time.monotonic()  # /healthz: the job that starts every poll ran to its end
        try:
            self.runtime.store.index_for_search()  # the last second's new items, in one batch
        except sqlite3.Error as exc:  # e.g. locked for 30 s by another writer: tried again next tick
            if time.monotonic() - self._index_warned > 60:  # a lasting fault: one line a minute
                self._index_warned = time.monotonic()
                log.warning("search index: new items stay queued, tried again each second: %s", exc)

    def _start_polls(self, source_ids: list[str]) -> None:
        for source_id in source_ids:
            self._start_poll(source_id)

    def _start_poll(self, source_id: str) -> None:
        if self._stop.is_set() or not self.schedule.claim(source_id):
            return
        task = asyncio.get_running_loop().create_task(self._poll_job(source_id), name=f"poll {source_id}")
        self._inflight.add(task)  # held here from the start, so stop waits for it even before it runs
        task.add_done_callback(lambda done: self._poll_done(done, source_id))

    def _poll_done(self, task: asyncio.Task[object], source_id: str) -> None:
        self._inflight.discard(task)
        self.schedule.finished(source_id)
        if not task.cancelled() and (error := task.exception()) is not None:
            # poll() itself never raises; this is what follows it (status record, health notice)
            log.error("poll job source=%s failed", source_id, exc_info=error)

    @contextmanager
    def _inflight_job(self) -> Iterator[None]:
        """Marks the running job as one that stop waits for (up to stop_deadline) before it closes anything."""
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            yield
        finally:
            self._inflight.discard(task)

    async def _poll_job(self, source_id: str) -> None:
        source = self.runtime.source(source_id)
        if source is None or self._stop.is_set():
            return
        result = await self.runtime.poller.poll(source)
        if result.matched:
            self._wake_delivery()
        if self.runtime.health.observe(source, result):
            await self.runtime.health.drain()

    def _wake_delivery(self) -> None:
        """A poll matched: deliver now, but with one drain for a burst of matching polls
        rather than one each, as a drain reads each channel's queue (a page of it, or all of
        a channel with digests) and a backlog behind an outage made every matching poll pay."""
        self._drain_wanted = True
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(self._drain_while_wanted())

    async def _drain_while_wanted(self) -> None:
        with self._inflight_job():
            while self._drain_wanted and not self._stop.is_set():
                self._drain_wanted = False
                try:
                    await self.runtime.deliverer.drain()
                except Exception:  # the one broad catch of a delivery run: what did not go stays queued
                    log.exception("delivery run failed; unsent alerts stay queued for the next run")

    def health(self) -> str | None:
        """None when the scheduler fires jobs and the database answers; else why not."""
        if self._stop.is_set():
            return "the daemon is stopping"
        if not self.scheduler.running:
            return "the scheduler is not running"
        stale = time.monotonic() - self._heartbeat
        if stale > HEARTBEAT_STALE:
            return f"the scheduler has not dispatched polls for {stale:.0f}s"
        return database_answers(self.runtime.store)

    async def _serve_http(self, stack: AsyncExitStack, host: str, port: int) -> None:
        collector = metrics.StoreCollector(self.runtime.store)
        metrics.REGISTRY.register(collector)
        stack.callback(metrics.REGISTRY.unregister, collector)
        endpoint = Endpoint(host=host, port=port, health=self.health, metrics=metrics.exposition)
        await endpoint.start()
        stack.push_async_callback(endpoint.close)

    async def _deliver(self) -> None:
        # Waited for, not left to the scheduler's shutdown: that cancels a job mid-send, apprise's
        # thread posts anyway, and the row, still queued, went out a second time in the last drain.
        with self._inflight_job():
            if self._stop.is_set():
                return  # run() drains once more on its way out
            await self.runtime.deliverer.drain()
            await self.runtime.health.drain()

    async def _finish_inflight(self) -> None:
        if not self._inflight:
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + self.stop_deadline
        pending = set(self._inflight)
        hurry = asyncio.ensure_future(self._hurry.wait())
        try:
            while pending and not hurry.done() and end > loop.time():
                await asyncio.wait(pending | {hurry}, timeout=end - loop.time(), return_when=asyncio.FIRST_COMPLETED)
                pending = {task for task in pending if not task.done()}
        finally:
            hurry.cancel()
        for task in pending:
            task.cancel()
        if pending:
            after = "on a second stop signal" if self._hurry.is_set() else f"after {self.stop_deadline:g}s"
            log.warning("stop: cancelled %d jobs still running %s", len(pending), after)
            await asyncio.wait(pending, timeout=5)

    # -- hot reload ------------------------------------------------------------------

    async def _check_reload(self) -> None:
        if self._stop.is_set():
            return  # a job the scheduler started just before the pause: no new runtime under the last drain
        # The last read's files and globs stamped again, in a thread: a `**` pattern over a
        # large tree is a walk of it, and the loop polls meanwhile. Not the folders' mtimes,
        # which every file made there changed, an editor's swap file or the database's
        # journal: each was a reload for nothing, with a child reading 10,000 sources.
        current = await asyncio.to_thread(self._stamps.again)
        if self._stop.is_set():
            return  # a stop that came meanwhile: no child started after stop took its list of jobs
        asked, self._reload_asked = self._reload_asked, False
        if not asked and (current == self._stamps or time.monotonic() < self._reload_after):
            return
        with self._inflight_job():  # stop waits for the child reading the files
            try:
                config = await reload_config_apart(self.config.path)
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("reload rejected, keeping the running config: %s", problem)
                # What the rejected read took in is watched from here: creating the file a
                # new pattern waits for, or mending the file with the typo, reads it again.
                self._stamps = exc.stamps or current
                return
            except Exception:  # neither rejected nor applied: tried again, a minute on
                log.exception("reload failed, keeping the running config; trying again in %.0fs",
                              RELOAD_RETRY.total_seconds())
                self._reload_after = time.monotonic() + RELOAD_RETRY.total_seconds()
                return
        if self._stop.is_set():
            return  # the stop came while the child read the files
        if config.database != self.config.database:
            log.warning("reload: a new database path applies after a restart")
        if config.http != self.config.http:
            log.warning("reload: a new http.listen applies after a restart")
        try:
            self.runtime.apply(config)  # before the schedule: if it raises, nothing has changed
        except Exception:  # a fault of ours the checks did not foresee: the running config stays
            log.exception("reload failed, keeping the running config; trying again in %.0fs",
                          RELOAD_RETRY.total_seconds())
            self._reload_after = time.monotonic() + RELOAD_RETRY.total_seconds()
            return
        self._reschedule(config)
        self.config = config
        # The read's own stamps, each taken before its file was read: a file saved while
        # the child read it has a newer stamp now, so the next check reloads again.
        self._stamps = config.stamps
        log.info("reload applied sources=%d watchlists=%d", len(config.sources), len(config.watchlists))

    def _reschedule(self, config: Config) -> None:
        old = {s.id: s for s in self.config.sources}
        new = {s.id: s for s in config.sources}
        zone_moved = config.timezone != self.config.timezone
        self.schedule.tz = config.timezone  # cron times are read in it
        for source_id in old.keys() - new.keys():
            self.schedule.remove(source_id)
            log.info("reload: source=%s removed", source_id)
        added = [s for sid, s in new.items() if sid not in old]
        retimed = [s for sid, s in new.items() if sid in old and (_signature(old[sid]) != _signature(s)
                                                                  or (zone_moved and s.cron is not None))]
        # As at start: soon if overdue by its new schedule (or still waiting for a first poll),
        # else at its own time in its new interval, at least half an interval after its last poll.
        self._schedule_sources(added + retimed)
        for source in retimed:
            log.info("reload: source=%s rescheduled", source.id)
        for source in added:
            log.info("reload: source=%s added", source.id)


def first_polls(sources: Sequence[SourceConfig], now: datetime) -> dict[str, datetime]:
    """When sources that should poll now rather than at their next time (``Schedule.overdue``)
    first poll: spread evenly over the smaller of their interval and STAGGER_WINDOW. Why:
    a first start, or a daemon down for a while, would otherwise hit every publisher, and
    its own event loop, in the same second."""
    count = max(len(sources), 1)
    return {source.id: now + min(source.firing_every if source.every else STAGGER_WINDOW, STAGGER_WINDOW) * (i / count)
            for i, source in enumerate(sources)}


def _signature(source: SourceConfig) -> tuple[object, ...]:
    return (source.every, source.cron, source.jitter, source.min_every, source.max_every)
