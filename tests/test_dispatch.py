"""The daemon's schedule: when each source fires, on a clock the test moves."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from monitor.config import SourceConfig
from monitor.dispatch import MIN_GRACE, Schedule

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def source(source_id: str = "ispr", **fields: object) -> SourceConfig:
    return SourceConfig.model_validate({"id": source_id, "url": f"https://example.org/{source_id}", **fields})


def fires(schedule: Schedule, clock: Clock, *, until: float, step: float = 1.0) -> list[tuple[float, str]]:
    """Every firing handed out while the clock runs to ``until``, each poll over at once."""
    out = []
    while clock.now < until:
        clock.now += step
        for fire, source_id in schedule.due(clock.now):
            out.append((fire - T0, source_id))
            schedule.finished(source_id)
    return out


def test_an_interval_source_fires_first_when_told_then_every_interval() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)
    schedule.add(source(every="1m", jitter="0s"), first=datetime.fromtimestamp(T0 + 5, timezone.utc))
    assert fires(schedule, clock, until=T0 + 190) == [(5, "ispr"), (65, "ispr"), (125, "ispr"), (185, "ispr")]
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 245, timezone.utc)


def test_without_a_first_time_a_source_waits_one_interval() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)
    schedule.add(source(every="2m", jitter="0s"))
    assert fires(schedule, clock, until=T0 + 300) == [(120, "ispr"), (240, "ispr")]


def test_jitter_delays_each_firing_within_its_bound_and_does_not_accumulate() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)  # real random jitter
    schedule.add(source(every="1m", jitter="10s"), first=datetime.fromtimestamp(T0, timezone.utc))
    times = [t for t, _ in fires(schedule, clock, until=T0 + 3600, step=0.5)]
    assert len(times) == 60
    offsets = [t - 60 * i for i, t in enumerate(times)]
    assert offsets[0] == 0 and all(0 <= o <= 10 for o in offsets[1:])
    assert len(set(offsets[1:])) > 1  # jittered, each firing on its own


def test_a_source_still_polling_skips_its_firing() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)
    schedule.add(source(every="1m", jitter="0s"), first=datetime.fromtimestamp(T0 + 1, timezone.utc))
    clock.now = T0 + 1
    assert schedule.due(clock.now) == [(T0 + 1, "ispr")]
    clock.now = T0 + 61
    assert schedule.due(clock.now) == []  # the first poll has not finished: at most one at a time
    schedule.finished("ispr")
    clock.now = T0 + 121
    assert schedule.due(clock.now) == [(T0 + 121, "ispr")]


def test_firings_missed_beyond_their_grace_are_skipped_and_coalesce(caplog: pytest.LogCaptureFixture) -> None:
    """A machine that slept an hour polls each source at its next time, not once per missed firing."""
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)
    schedule.add(source("late", every="1m", jitter="0s"), first=datetime.fromtimestamp(T0, timezone.utc))
    schedule.add(source("soon", every="1m", jitter="0s"), first=datetime.fromtimestamp(T0 + 3600, timezone.utc))
    clock.now = T0 + 3600 + 1
    with caplog.at_level(logging.WARNING, logger="monitor.dispatch"):
        assert schedule.due(clock.now) == [(T0 + 3600, "soon")]
    assert "poll source=late skipped: its time passed 3601s ago" in caplog.text
    assert schedule.next_fire("late") == datetime.fromtimestamp(T0 + 3660, timezone.utc)


def test_a_firing_late_within_its_grace_still_runs_once() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)
    schedule.add(source(every="10m", jitter="0s"), first=datetime.fromtimestamp(T0, timezone.utc))
    clock.now = T0 + MIN_GRACE + 60  # grace is half of 10 minutes
    assert schedule.due(clock.now) == [(T0, "ispr")]
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 600, timezone.utc)


def test_an_adaptive_source_fires_every_min_every() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)
    schedule.add(source(every="30m", min_every="5m", max_every="1h", jitter="0s"))
    assert [t for t, _ in fires(schedule, clock, until=T0 + 1200)] == [300, 600, 900, 1200]


def test_a_cron_source_fires_at_its_times_in_the_configured_zone() -> None:
    clock = Clock()  # 09:00 UTC is 14:00 in Karachi
    schedule = Schedule("Asia/Karachi", clock=clock)
    schedule.add(source(cron="30 14,15 * * *", jitter="0s"))
    got = fires(schedule, clock, until=T0 + 3 * 3600, step=10)
    assert [t for t, _ in got] == [1800, 5400]
    assert schedule.next_fire("ispr") == datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)


def test_removed_and_retimed_sources_leave_no_stale_firings() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)
    schedule.add(source("gone", every="1m", jitter="0s"))
    schedule.add(source("kept", every="1m", jitter="0s"))
    clock.now = T0 + 30
    schedule.remove("gone")
    schedule.add(source("kept", every="5m", jitter="0s"))  # a reload changed its interval
    assert "gone" not in schedule and len(schedule) == 1
    assert schedule.next_fire("gone") is None
    assert fires(schedule, clock, until=T0 + 700) == [(330, "kept"), (630, "kept")]


def test_many_sources_come_due_in_time_order() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock)
    for i in range(1000):
        schedule.add(source(f"s{i:04d}", every="10m", jitter="0s"),
                     first=datetime.fromtimestamp(T0 + (i * 7919) % 600, timezone.utc))
    got = schedule.due(T0 + 600)
    assert len(got) == 1000 and [t for t, _ in got] == sorted(t for t, _ in got)
    assert {sid for _, sid in got} == {f"s{i:04d}" for i in range(1000)}
    assert all(schedule.next_fire(f"s{i:04d}") > datetime.fromtimestamp(T0 + 599, timezone.utc)
               for i in range(1000))  # type: ignore[operator]


def test_a_firing_may_start_half_an_interval_late() -> None:
    from monitor.dispatch import grace

    assert grace(source(every="1h")) == 1800
    assert grace(source(every="1m")) == MIN_GRACE
    assert grace(source(every="1h", min_every="2m", max_every="2h")) == 60  # adaptive: it fires every min_every
