"""Source health: the `health:` config key, the once-only conditions, and notices on a real channel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import SourceConfig, load_config
from monitor.errors import ConfigError
from monitor.fetch import Fetcher
from monitor.health import HealthWatch, Observation, Rules, assess, rhythm, usual_gap
from monitor.match import Matcher
from monitor.pipeline import Poller, PollResult
from monitor.store import Store, utcnow
from monitor.store_health import HealthRecord
from tests.newsroom_pages import listing_page
from tests.servers import serve_newsroom, serve_webhook

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DEFAULT_RULES = Rules()
DAILY = tuple(NOW - timedelta(days=d, hours=3) for d in range(8))  # one item a day, newest 3 h ago


def config_file(tmp_path: Path, health: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(f'channels: {{chat: "console://", ops: "console://"}}\n{health}\nsources: []\nwatchlists: []\n')
    return path


class TestConfig:
    def test_health_may_name_just_a_channel(self, tmp_path: Path) -> None:
        """`health: ops` means the ops channel with the default thresholds."""
        config = load_config(config_file(tmp_path, "health: ops"))
        assert config.health is not None
        assert (config.health.channel, config.health.failures, config.health.silence) == ("ops", 3, 3.0)

    def test_health_thresholds_are_configurable(self, tmp_path: Path) -> None:
        """failures and silence can be set under health."""
        config = load_config(config_file(tmp_path, "health: {channel: ops, failures: 5, silence: 2.5}"))
        assert config.health is not None and (config.health.failures, config.health.silence) == (5, 2.5)

    def test_health_is_optional(self, tmp_path: Path) -> None:
        """Without the key, health notices are only logged."""
        assert load_config(config_file(tmp_path, "")).health is None

    def test_unknown_health_channel_is_reported_with_file_and_line(self, tmp_path: Path) -> None:
        """A health channel that is not defined is an error at its line, listing the channels."""
        with pytest.raises(ConfigError) as caught:
            load_config(config_file(tmp_path, "health:\n  channel: pager\n  failures: 0"))
        text = str(caught.value)
        assert "monitor.yaml:3: health.channel: 'pager' is not a channel (expected one of: chat, ops)" in text
        assert "monitor.yaml:4: health.failures: '0' is not a count of polls" in text

    def test_allow_private_is_a_top_level_switch(self, tmp_path: Path) -> None:
        """allow_private defaults to true and can be turned off."""
        assert load_config(config_file(tmp_path, "")).allow_private is True
        assert load_config(config_file(tmp_path, "allow_private: false")).allow_private is False


def seen(*, failures: int = 0, entries: int | None = 5, times: tuple[datetime, ...] = DAILY,
         now: datetime = NOW) -> Observation:
    latest, gap = rhythm(times)
    return Observation(source_id="ispr", name="ISPR", failures=failures, error="HTTP 500 (https://x/)",
                       entries=entries, latest=latest, gap=gap, now=now)


def run(observations: list[Observation], rules: Rules = DEFAULT_RULES) -> list[tuple[str, str]]:
    record = HealthRecord()
    out = []
    for observation in observations:
        record, notices = assess(record, observation, rules)
        out += [(n.condition, n.state) for n in notices]
    return out


class TestAssess:
    def test_failing_is_told_once_at_the_threshold_and_once_on_recovery(self) -> None:
        """Failures 1..6 then a success give one alert (at 3) and one recovery."""
        assert run([seen(failures=n) for n in range(1, 7)] + [seen(), seen()]) == [
            ("failing", "alert"), ("failing", "recovered")]

    def test_failure_threshold_is_configurable(self) -> None:
        """With failures: 5, four failures in a row say nothing."""
        assert run([seen(failures=n) for n in range(1, 5)], Rules(failures=5)) == []

    def test_listing_that_suddenly_has_no_entries_is_told_once(self) -> None:
        """A listing going from entries to none alerts once; entries coming back recover it."""
        assert run([seen(entries=12), seen(entries=0), seen(entries=0), seen(entries=None), seen(entries=11)]) == [
            ("empty", "alert"), ("empty", "recovered")]

    def test_a_listing_that_never_had_entries_is_not_an_alert(self) -> None:
        """Zero entries from the first poll on is not a sudden change."""
        assert run([seen(entries=0), seen(entries=0)]) == []

    def test_a_daily_source_silent_for_three_days_is_told_once(self) -> None:
        """Silence beyond 3x the usual daily gap alerts once; a new item recovers it."""
        quiet = [seen(now=NOW + timedelta(days=d)) for d in (1, 2, 3, 4, 5)]
        fresh = seen(now=NOW + timedelta(days=5, hours=1), times=(NOW + timedelta(days=5), *DAILY))
        assert run([seen(), *quiet, fresh]) == [("silent", "alert"), ("silent", "recovered")]

    def test_silence_multiple_is_configurable(self) -> None:
        """With silence: 6, four quiet days say nothing."""
        assert run([seen(now=NOW + timedelta(days=4))], Rules(silence=6)) == []

    def test_a_source_with_little_history_has_no_usual_gap(self) -> None:
        """Four items are not enough to call a source regular."""
        assert usual_gap(DAILY[:4]) is None
        assert usual_gap(DAILY) == timedelta(days=1)


def test_failing_source_notifies_the_health_channel_once_then_recovery(tmp_path: Path) -> None:
    """Through real polls and a real webhook: 3 failures give one notice, more failures none,
    and the first success one recovery notice; a refusing channel only delays them, to its retry
    time (30 s after the first refusal): drains before it try nothing."""
    store = Store(tmp_path / "monitor.db")
    later = timedelta(0)
    with serve_newsroom() as site, serve_webhook() as hook:
        source = SourceConfig.model_validate({"id": "ispr", "name": "ISPR", "url": site.url("/press-release"),
                                              "kind": "html", "timeout": timedelta(seconds=2)})
        site.publish("/press-release", "down", status=500)

        async def scenario() -> None:
            async with Fetcher() as fetcher:
                poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={})
                health = HealthWatch(store, config=load_config(config_file(tmp_path, "health: ops")).health,
                                     channels={"ops": (hook.apprise_url,)}, source_names={"ispr": "ISPR"},
                                     give_up=timedelta(days=1), clock=lambda: utcnow() + later)
                hook.refuse = True
                for _ in range(5):
                    health.observe(source, await poller.poll(source, force=True))
                    await health.drain()
                assert hook.received == [] and hook.refused == 1  # tried once, then waits for its retry
                hook.refuse = False
                assert await health.drain() == 0
                nonlocal later
                later = timedelta(seconds=31)
                assert await health.drain() == 1
                site.publish("/press-release", listing_page(items=[("/press-release/1", "One", "1 Nov 2026")]))
                for _ in range(2):
                    health.observe(source, await poller.poll(source, force=True))
                    await health.drain()

        asyncio.run(scenario())
    store.close()
    titles = [str(p["title"]) for p in hook.received]
    assert titles == ["[health] ispr: failing alert", "[health] ispr: failing recovered"]
    assert "failed 3 polls in a row" in str(hook.received[0]["message"])
    assert "HTTP 500" in str(hook.received[0]["message"])


def _daily_items(store: Store, days: list[int], now: datetime) -> None:
    from monitor.store import NewItem

    items = [NewItem(url=f"http://news.test/{d}", guid=None, source_id="wire", title=f"Day {d}", summary="",
                     published=now - timedelta(days=d), main_text="text", text_origin="feed", fetch_error=None,
                     content_hash=str(d), baseline=False) for d in days]
    store.commit_poll("wire", url="http://news.test/feed", items=items, now=now, etag=None, last_modified=None,
                      body_hash="b", warnings=(), baseline=False)


WIRE = SourceConfig.model_validate({"id": "wire", "url": "http://news.test/feed"})
QUIET = PollResult(source_id="wire", status="not-modified")
TODAY = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@contextmanager
def silent_source(tmp_path: Path) -> Iterator[tuple[HealthWatch, Store]]:
    """A source that published daily until four days ago, watched: its first quiet poll
    alerts "silent". Yields the watch and a second Store on the database, as another
    process (`monitor once`) would open it."""
    store, other = Store(tmp_path / "m.db"), Store(tmp_path / "m.db")
    try:
        _daily_items(store, list(range(4, 14)), TODAY)
        watch = HealthWatch(store, config=None, channels={}, source_names={}, give_up=timedelta(days=1),
                            clock=lambda: TODAY)
        assert [(n.condition, n.state) for n in watch.observe(WIRE, QUIET)] == [("silent", "alert")]
        yield watch, other
    finally:
        store.close()
        other.close()


def test_item_times_kept_between_quiet_polls_are_read_again_after_their_ttl(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The health check keeps each source's item times between polls that store nothing;
    items another process stored since (`monitor once`) count once the copy is older than its TTL."""
    from monitor import health

    with silent_source(tmp_path) as (watch, other):
        _daily_items(other, [0], TODAY)  # another process stores today's item
        assert watch.observe(WIRE, QUIET) == []  # within the TTL: the kept times
        monkeypatch.setattr(health, "ITEM_TIMES_TTL", -1.0)
        assert [(n.condition, n.state) for n in watch.observe(WIRE, QUIET)] == [("silent", "recovered")]


def test_a_poll_that_stored_items_reads_the_item_times_again(tmp_path: Path) -> None:
    with silent_source(tmp_path) as (watch, other):
        _daily_items(other, [0], TODAY)
        fresh = PollResult(source_id="wire", status="ok", new=1)
        assert [(n.condition, n.state) for n in watch.observe(WIRE, fresh)] == [("silent", "recovered")]


def test_two_drains_at_once_send_a_notice_once(tmp_path: Path) -> None:
    """Each poll that raises a notice asks for a drain, and so does the delivery job: two at once
    each sent the queued notice, and the channel got it twice."""
    store = Store(tmp_path / "monitor.db")
    with serve_webhook() as hook:
        hook.ack_delay = 0.5
        health = HealthWatch(store, config=load_config(config_file(tmp_path, "health: ops")).health,
                             channels={"ops": (hook.apprise_url,)}, source_names={"ispr": "ISPR"},
                             give_up=timedelta(days=1))
        failed = PollResult(source_id="ispr", status="error", error="HTTP 500")
        source = SourceConfig.model_validate({"id": "ispr", "url": "http://news.test/feed"})
        for _ in range(3):
            store.record_failure("ispr", url=source.url, error="HTTP 500", now=utcnow(), retry_at=None)
            health.observe(source, failed)

        async def both() -> list[int]:
            return list(await asyncio.gather(health.drain(), health.drain()))

        assert sorted(asyncio.run(both())) == [0, 1]
    store.close()
    assert [str(p["title"]) for p in hook.received] == ["[health] ispr: failing alert"]
