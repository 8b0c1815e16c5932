"""The daemon's schedule: when each source fires, on a clock the test moves."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from monitor.config import SourceConfig
from monitor.dispatch import MIN_GRACE, Firing, Schedule, spread

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def aligned(clock: Clock, tz: str = "UTC") -> Schedule:
    """A schedule whose interval sources fire at the start of each interval (T0 is on every
    interval's start from 1m to 1h), so that the tests' times read plainly."""
    return Schedule(tz, clock=clock, phase=lambda _: 0.0)


def source(source_id: str = "ispr", **fields: object) -> SourceConfig:
    return SourceConfig.model_validate({"id": source_id, "url": f"https://example.org/{source_id}", **fields})


def polls(schedule: Schedule, until: float) -> list[tuple[float, str]]:
    """The firings ``due`` hands out to be polled (not missed), as (time, source id)."""
    return [(f.at, f.source_id) for f in schedule.due(until) if not f.missed]


def fires(schedule: Schedule, clock: Clock, *, until: float, step: float = 1.0) -> list[tuple[float, str]]:
    """Every firing handed out while the clock runs to ``until``, each poll over at once."""
    out = []
    while clock.now < until:
        clock.now += step
        for fire, source_id in polls(schedule, clock.now):
            assert schedule.claim(source_id)
            out.append((fire - T0, source_id))
            schedule.finished(source_id)
    return out


def test_an_interval_source_fires_first_when_told_then_at_its_own_time_in_every_interval() -> None:
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source(every="1m", jitter="0s"), first=datetime.fromtimestamp(T0 + 5, timezone.utc))
    assert fires(schedule, clock, until=T0 + 190) == [(5, "ispr"), (60, "ispr"), (120, "ispr"), (180, "ispr")]
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 240, timezone.utc)


def test_the_second_firing_comes_at_least_half_an_interval_after_the_first() -> None:
    """A first poll just before the source's own time is not followed by another at once."""
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source(every="1m", jitter="0s"), first=datetime.fromtimestamp(T0 + 50, timezone.utc))
    assert fires(schedule, clock, until=T0 + 190) == [(50, "ispr"), (120, "ispr"), (180, "ispr")]


def test_without_a_first_time_a_source_waits_for_its_own_time_in_the_interval() -> None:
    clock = Clock()
    schedule = Schedule("UTC", clock=clock, phase=lambda _: 0.25)
    schedule.add(source(every="2m", jitter="0s"))
    assert fires(schedule, clock, until=T0 + 300) == [(30, "ispr"), (150, "ispr"), (270, "ispr")]


def test_after_a_restart_the_next_time_is_at_least_half_an_interval_after_the_last_poll() -> None:
    """Restarted a minute before its own time (xx:30) and half a minute after its last poll,
    an hourly source waits for its own time in the next hour, not for the minute."""
    clock = Clock()
    clock.now = T0 + 29 * 60 + 30
    schedule = Schedule("UTC", clock=clock, phase=lambda _: 0.5)
    schedule.add(source(every="1h", jitter="0s"), last=datetime.fromtimestamp(T0 + 29 * 60, timezone.utc))
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 90 * 60, timezone.utc)
    schedule.add(source(every="1h", jitter="0s"), last=datetime.fromtimestamp(T0 - 50 * 60, timezone.utc))
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 30 * 60, timezone.utc)


@pytest.mark.parametrize(("last", "overdue"), [
    (None, True),  # never polled
    (T0 - 3600 + 20, True),  # a slow poll that ended at 08:00:20: 09:00 came and went while down
    (T0 - 40 * 60, True),  # 08:20: 09:00 came and went
    (T0 - 3 * 3600, True),
    (T0 - 20 * 60, False),  # 08:40: 09:00 is less than half an hour after it, so it waits for 10:00
    (T0 - 5 * 60, False),
])
def test_a_source_is_overdue_when_one_of_its_times_passed_since_its_last_poll(last: float | None,
                                                                              overdue: bool) -> None:
    """An hourly source firing on the hour, restarted at 09:00:10."""
    clock = Clock()
    clock.now = T0 + 10
    schedule = aligned(clock)
    polled = None if last is None else datetime.fromtimestamp(last, timezone.utc)
    assert schedule.overdue(source(every="1h"), polled) is overdue


def test_a_cron_source_is_overdue_only_when_a_cron_time_passed_since_its_last_poll() -> None:
    clock = Clock()  # 09:00 UTC
    schedule = aligned(clock)
    cron = source(cron="0 * * * *")
    assert schedule.overdue(cron, datetime.fromtimestamp(T0 - 10, timezone.utc))  # 09:00 passed since
    assert not schedule.overdue(cron, datetime.fromtimestamp(T0, timezone.utc))  # polled at 09:00 itself
    clock.now = T0 + 1800
    assert not schedule.overdue(cron, datetime.fromtimestamp(T0 + 60, timezone.utc))


def test_a_last_poll_in_the_future_counts_as_now() -> None:
    """A clock set back (or a database from a host whose clock ran ahead) does not silence
    a source until that future time: it waits for its next own time from now."""
    clock = Clock()
    schedule = aligned(clock)
    ahead = datetime.fromtimestamp(T0 + 30 * 86400, timezone.utc)
    assert not schedule.overdue(source(every="10m"), ahead)
    schedule.add(source(every="10m", jitter="0s"), last=ahead)
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 600, timezone.utc)


def test_an_overdue_cron_source_skips_its_early_poll_when_its_time_comes_within_the_minute() -> None:
    clock = Clock()
    clock.now = T0 - 30  # 08:59:30; its time is 09:00
    schedule = aligned(clock)
    schedule.add(source(cron="0 * * * *", jitter="0s"), first=datetime.fromtimestamp(T0 - 15, timezone.utc))
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0, timezone.utc)
    clock.now = T0 + 60  # 09:01: the next time is an hour off, so the early poll stands
    schedule.add(source(cron="0 * * * *", jitter="0s"), first=datetime.fromtimestamp(T0 + 90, timezone.utc))
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 90, timezone.utc)


def test_the_point_in_the_interval_is_fixed_by_the_id_and_the_seed() -> None:
    """The same in every process (not Python's salted hash), and moved by a database's seed."""
    assert spread("ispr") == pytest.approx(0.6555554743748474, abs=1e-12)
    assert spread("ispr", b"\x01" * 8) != spread("ispr") and spread("dawn") != spread("ispr")
    assert all(0 <= spread(f"s{i}", bytes([i % 256]) * 8) < 1 for i in range(1000))


def test_sources_are_spread_evenly_over_their_interval_the_same_way_on_every_start() -> None:
    """Without first times, 1,000 sources every 10 minutes fire spread over the 10 minutes
    (each minute has its tenth, within 30%), and a second schedule built later, as after a
    restart, gives every source the same times."""
    clock = Clock()
    sources = [source(f"s{i:04d}", every="10m", jitter="0s") for i in range(1000)]
    first, again = Schedule("UTC", clock=clock), Schedule("UTC", clock=lambda: T0 + 3 * 600)
    for config in sources:
        first.add(config)
        again.add(config)
    times = [first.next_fire(s.id) for s in sources]
    per_minute = [0] * 10
    for at in times:
        assert at is not None and T0 < at.timestamp() <= T0 + 600
        per_minute[min(int((at.timestamp() - T0) // 60), 9)] += 1
    assert all(70 <= count <= 130 for count in per_minute), per_minute
    assert [again.next_fire(s.id) for s in sources] == [
        datetime.fromtimestamp(at.timestamp() + 3 * 600, timezone.utc) for at in times if at is not None]
    assert 0 <= spread("ispr") < 1 and spread("ispr") != spread("dawn")


def test_jitter_delays_each_firing_within_its_bound_and_does_not_accumulate() -> None:
    clock = Clock()
    schedule = aligned(clock)  # real random jitter
    schedule.add(source(every="1m", jitter="10s"), first=datetime.fromtimestamp(T0, timezone.utc))
    times = [t for t, _ in fires(schedule, clock, until=T0 + 3600, step=0.5)]
    assert len(times) == 60
    offsets = [t - 60 * i for i, t in enumerate(times)]
    assert offsets[0] == 0 and all(0 <= o <= 10 for o in offsets[1:])
    assert len(set(offsets[1:])) > 1  # jittered, each firing on its own


@pytest.mark.parametrize("fields", [{"every": "1m", "jitter": "50s"}, {"cron": "* * * * *", "jitter": "50s"},
                                    {"every": "10m", "min_every": "1m", "max_every": "1h", "jitter": "45s"}])
def test_jitter_beyond_the_grace_delays_firings_and_never_drops_them(fields: dict[str, str]) -> None:
    """A jitter is a delay asked for, not lateness: with 50 s of it on a 1-minute source
    (grace 30 s) every firing still polls, once a minute for an hour."""
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source(**fields))
    assert len(fires(schedule, clock, until=T0 + 3600 + 60)) == 60


def test_a_source_still_polling_skips_its_firing(caplog: pytest.LogCaptureFixture) -> None:
    """Whether it still runs is asked when its poll would start, not when the tick hands it out."""
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source(every="1m", jitter="0s"), first=datetime.fromtimestamp(T0 + 1, timezone.utc))
    assert polls(schedule, T0 + 1) == [(T0 + 1, "ispr")]  # a tick looks one second ahead
    assert schedule.claim("ispr")
    clock.now = T0 + 60
    assert polls(schedule, clock.now) == [(T0 + 60, "ispr")]
    assert not schedule.claim("ispr")  # the first poll has not finished: at most one at a time
    assert "poll source=ispr status=overlap" in caplog.text
    schedule.finished("ispr")
    clock.now = T0 + 120
    assert polls(schedule, clock.now) == [(T0 + 120, "ispr")] and schedule.claim("ispr")


def test_a_daemon_that_slept_polls_each_source_once_on_waking() -> None:
    """Missed firings coalesce into one poll at once when the newest of them is recent, as
    APScheduler's coalescing judges it: an hour asleep does not mean an hour more of waiting."""
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source("minutely", every="1m", jitter="0s"), first=datetime.fromtimestamp(T0, timezone.utc))
    schedule.add(source("daily", every="1d", jitter="0s"), first=datetime.fromtimestamp(T0, timezone.utc))
    clock.now = T0 + 49 * 3600 + 1
    assert polls(schedule, clock.now) == [(T0, "daily"), (T0, "minutely")]
    assert schedule.next_fire("minutely") == datetime.fromtimestamp(T0 + 49 * 3600 + 60, timezone.utc)
    assert schedule.next_fire("daily") == datetime(2026, 12, 4, 0, 0, tzinfo=timezone.utc)  # its own time: midnight


def test_a_firing_missed_beyond_its_grace_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source(every="10m", jitter="0s"), first=datetime.fromtimestamp(T0, timezone.utc))
    clock.now = T0 + 400  # grace is half of 10 minutes, and no later firing was missed
    with caplog.at_level(logging.WARNING, logger="monitor.dispatch"):
        assert schedule.due(clock.now) == [Firing(at=T0, source_id="ispr", missed=True)]
    assert "poll source=ispr status=missed late=400s" in caplog.text
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 600, timezone.utc)


def test_a_firing_late_within_its_grace_still_runs_once() -> None:
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source(every="10m", jitter="0s"), first=datetime.fromtimestamp(T0, timezone.utc))
    clock.now = T0 + MIN_GRACE + 60  # grace is half of 10 minutes
    assert polls(schedule, clock.now) == [(T0, "ispr")]
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 600, timezone.utc)


def test_a_cron_source_missed_overnight_polls_once_if_its_last_time_was_recent() -> None:
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source(cron="*/5 * * * *", jitter="0s"), first=datetime.fromtimestamp(T0, timezone.utc))
    clock.now = T0 + 8 * 3600 + 10  # the newest missed time, 17:00, is 10 s old
    assert polls(schedule, clock.now) == [(T0, "ispr")]
    assert schedule.next_fire("ispr") == datetime.fromtimestamp(T0 + 8 * 3600 + 300, timezone.utc)


def test_an_adaptive_source_fires_every_min_every() -> None:
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source(every="30m", min_every="5m", max_every="1h", jitter="0s"))
    assert [t for t, _ in fires(schedule, clock, until=T0 + 1200)] == [300, 600, 900, 1200]


def test_a_cron_source_fires_at_its_times_in_the_configured_zone() -> None:
    clock = Clock()  # 09:00 UTC is 14:00 in Karachi
    schedule = aligned(clock, "Asia/Karachi")
    schedule.add(source(cron="30 14,15 * * *", jitter="0s"))
    got = fires(schedule, clock, until=T0 + 3 * 3600, step=10)
    assert [t for t, _ in got] == [1800, 5400]
    assert schedule.next_fire("ispr") == datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)


def test_removed_and_retimed_sources_leave_no_stale_firings() -> None:
    clock = Clock()
    schedule = aligned(clock)
    schedule.add(source("gone", every="1m", jitter="0s"))
    schedule.add(source("kept", every="1m", jitter="0s"))
    clock.now = T0 + 30
    schedule.remove("gone")
    schedule.add(source("kept", every="5m", jitter="0s"))  # a reload changed its interval
    assert "gone" not in schedule and len(schedule) == 1
    assert schedule.next_fire("gone") is None
    assert fires(schedule, clock, until=T0 + 700) == [(300, "kept"), (600, "kept")]


def test_many_sources_come_due_in_time_order() -> None:
    clock = Clock()
    schedule = aligned(clock)
    for i in range(1000):
        schedule.add(source(f"s{i:04d}", every="10m", jitter="0s"),
                     first=datetime.fromtimestamp(T0 + (i * 7919) % 600, timezone.utc))
    got = polls(schedule, T0 + 599)  # each source once: its next firing is 600 s on
    assert len(got) == 1000 and [t for t, _ in got] == sorted(t for t, _ in got)
    assert {sid for _, sid in got} == {f"s{i:04d}" for i in range(1000)}
    upcoming = [schedule.next_fire(f"s{i:04d}") for i in range(1000)]
    assert all(at is not None and at > datetime.fromtimestamp(T0 + 599, timezone.utc) for at in upcoming)


def test_a_firing_may_start_half_an_interval_late() -> None:
    from monitor.dispatch import grace

    assert grace(source(every="1h")) == 1800
    assert grace(source(every="20s")) == MIN_GRACE  # half of it is below the floor
    assert grace(source(every="1h", min_every="2m", max_every="2h")) == 60  # adaptive: it fires every min_every


def test_a_cron_source_added_again_after_the_zone_changed_fires_in_the_new_zone() -> None:
    """A reload that moves the config's timezone re-adds every cron source (monitor.service)."""
    clock = Clock()  # 09:00 UTC
    schedule = aligned(clock, "Asia/Karachi")
    schedule.add(source(cron="0 18 * * *", jitter="0s"))
    assert schedule.next_fire("ispr") == datetime(2026, 12, 1, 13, 0, tzinfo=timezone.utc)
    schedule.tz = "Europe/London"
    schedule.add(source(cron="0 18 * * *", jitter="0s"))
    assert schedule.next_fire("ispr") == datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)
    assert polls(schedule, T0 + 6 * 3600) == []  # the Karachi time left no firing behind
