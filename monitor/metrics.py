"""Prometheus metrics: counters the poll path bumps, and gauges read from the database on scrape.

Labels are source ids and channel names from the config, so cardinality is bounded by
the config; the poll-duration histogram is by result only (per source it cost ~4 KB a
source). Alert totals come from the outbox rather than from counters, so they are
exact and survive restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import get_args

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.models import PollStatus
from monitor.store import Store
from monitor.store_report import outbox_totals, source_records

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()

STATUSES: tuple[str, ...] = get_args(PollStatus)
_INDEX = {status: index for index, status in enumerate(STATUSES)}
_ERRORS, _NEW, _MATCHED = len(STATUSES), len(STATUSES) + 1, len(STATUSES) + 2


class SourceCounters(Collector):
    """Counters by source, as one list of plain ints a source, turned into samples at scrape.

    Why not prometheus_client's labelled Counter: each of its series is an object with its
    own lock and creation time (~0.1 KB, five series a source at 10,000 sources), and
    finding the child through ``labels()`` was 3% of an unchanged poll. Polls are counted
    on the event loop's thread, and scrapes read there too, so plain ints need no lock.
    """

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}

    def observe(self, source: str, status: str, *, new: int, matched: int) -> None:
        counts = self._counts.get(source)
        if counts is None:
            counts = self._counts[source] = [0] * (len(STATUSES) + 3)
        index = _INDEX.get(status)
        if index is None:  # a status this module was not told of: say so, but never fail the poll
            log.error("metrics: poll status %r has no counter", status)
            return
        counts[index] += 1
        if status == "error":
            counts[_ERRORS] += 1
        counts[_NEW] += new
        counts[_MATCHED] += matched

    def collect(self) -> Iterator[Metric]:
        polls = CounterMetricFamily("monitor_polls", "Polls by source and result: ok, baseline, not-modified "
                                    "(a 304), unchanged (same body), backoff (skipped after failures), not-due "
                                    "(an adaptive source's skipped firing) or error.", labels=["source", "status"])
        errors = CounterMetricFamily("monitor_poll_errors", "Failed polls by source.", labels=["source"])
        new = CounterMetricFamily("monitor_new_items", "Items stored for the first time, by source.",
                                  labels=["source"])
        matched = CounterMetricFamily("monitor_matched_items",
                                      "New items that matched at least one watch list, by source.", labels=["source"])
        for source, counts in self._counts.items():
            for status, count in zip(STATUSES, counts, strict=False):
                if count:
                    polls.add_metric([source, status], count)
            if counts[_ERRORS]:
                errors.add_metric([source], counts[_ERRORS])
            if counts[_NEW]:
                new.add_metric([source], counts[_NEW])
            if counts[_MATCHED]:
                matched.add_metric([source], counts[_MATCHED])
        yield from (polls, errors, new, matched)


SOURCES = SourceCounters()
REGISTRY.register(SOURCES)
# By status, not source: a histogram is 14 series, and per source it held 40 MB at 10,000
# sources. A slow source shows in `monitor status` and in its own counters.
POLL_SECONDS = Histogram("monitor_poll_duration_seconds", "How long a poll took, articles included, by result.",
                         ["status"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120), registry=REGISTRY)


_TIMED = {status: POLL_SECONDS.labels(status) for status in STATUSES if status not in ("backoff", "not-due")}


def observe_poll(*, source: str, status: str, new: int, matched: int, seconds: float) -> None:
    """Count one finished poll (called by the pipeline for every poll)."""
    SOURCES.observe(source, status, new=new, matched=matched)
    timed = _TIMED.get(status)  # skipped firings took no time worth timing
    if timed is not None:
        timed.observe(seconds)


class StoreCollector(Collector):
    """Reads the outbox and the sources' state at scrape time, on the daemon's loop thread."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        totals = outbox_totals(self.store)
        sent = CounterMetricFamily("monitor_alerts_sent", "Alerts delivered, by channel.", labels=["channel"])
        failed = CounterMetricFamily("monitor_alerts_failed", "Alerts given up on, by channel.", labels=["channel"])
        queued = GaugeMetricFamily("monitor_alerts_queued", "Alerts waiting to be sent or retried, by channel.",
                                   labels=["channel"])
        for channel in sorted({c for c, _ in totals}):
            sent.add_metric([channel], totals.get((channel, "sent"), 0))
            failed.add_metric([channel], totals.get((channel, "failed"), 0))
            queued.add_metric([channel], totals.get((channel, "queued"), 0))
        failures = GaugeMetricFamily("monitor_source_consecutive_failures", "Failed polls in a row, by source.",
                                     labels=["source"])
        success = GaugeMetricFamily("monitor_source_last_success_timestamp_seconds",
                                    "When a poll of the source last succeeded (Unix time).", labels=["source"])
        for record in source_records(self.store).values():
            failures.add_metric([record.id], record.consecutive_failures)
            if record.last_success_at is not None:
                success.add_metric([record.id], record.last_success_at.timestamp())
        yield from (sent, failed, queued, failures, success)


def exposition() -> bytes:
    """The current metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)
