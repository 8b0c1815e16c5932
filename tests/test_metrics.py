"""Per-source counters: plain ints in the daemon, Prometheus counters at scrape."""

from __future__ import annotations

from typing import get_args

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.metrics import SourceCounters
from monitor.models import PollStatus


def scrape(counters: SourceCounters) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(counters)
    text = generate_latest(registry).decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_polls_items_and_errors_are_counted_by_source() -> None:
    counters = SourceCounters()
    counters.observe("ispr", "baseline", new=12, matched=0)
    counters.observe("ispr", "ok", new=3, matched=2)
    counters.observe("ispr", "not-modified", new=0, matched=0)
    counters.observe("ispr", "not-modified", new=0, matched=0)
    counters.observe("dawn", "error", new=0, matched=0)
    samples = scrape(counters)
    assert samples == {
        ("monitor_polls_total", (("source", "ispr"), ("status", "baseline"))): 1,
        ("monitor_polls_total", (("source", "ispr"), ("status", "ok"))): 1,
        ("monitor_polls_total", (("source", "ispr"), ("status", "not-modified"))): 2,
        ("monitor_polls_total", (("source", "dawn"), ("status", "error"))): 1,
        ("monitor_poll_errors_total", (("source", "dawn"),)): 1,
        ("monitor_new_items_total", (("source", "ispr"),)): 15,
        ("monitor_matched_items_total", (("source", "ispr"),)): 2,
    }


def test_every_poll_status_has_a_counter() -> None:
    """The statuses are PollResult's type (mypy holds the pipeline to it); each one counts."""
    counters = SourceCounters()
    for status in get_args(PollStatus):
        counters.observe("ispr", status, new=0, matched=0)
    statuses = {dict(labels)["status"] for (name, labels) in scrape(counters) if name == "monitor_polls_total"}
    assert statuses == set(get_args(PollStatus))


def test_an_unknown_status_is_logged_and_never_fails_the_poll(caplog: pytest.LogCaptureFixture) -> None:
    counters = SourceCounters()
    counters.observe("ispr", "exploded", new=1, matched=1)
    assert "poll status 'exploded' has no counter" in caplog.text
    assert scrape(counters) == {}
