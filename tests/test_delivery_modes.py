"""Delivery: one message per item and channel, digests and quiet hours on a fake clock, rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.models import Match
from monitor.notify.deliver import Deliverer, DeliveryReport, Target
from monitor.notify.modes import DeliveryMode, DigestSchedule, QuietHours
from monitor.notify.template import template_problem
from monitor.store import NewItem, Store
from monitor.stories import fingerprint
from tests.servers import WebhookReceiver, serve_webhook

KARACHI = ZoneInfo("Asia/Karachi")  # UTC+5, no daylight saving
START = datetime(2026, 11, 28, 10, 0, tzinfo=KARACHI)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now.astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> None:
        self.now = moment.astimezone(timezone.utc)


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with serve_webhook() as receiver:
        yield receiver


def item(n: int, *, watchlists: tuple[str, ...] = ("desk",), channel: str = "chat", source: str = "ispr",
         text: str | None = None) -> NewItem:
    body = text or " ".join(["General Kayani"] + [f"word{n}x{i}" for i in range(20)])
    matches = tuple(Match(watchlist=w, terms=("Kayani", w.upper()), snippet=f"{w} snippet {n}") for w in watchlists)
    return NewItem(url=f"https://example.org/{source}/{n}", guid=None, source_id=source, title=f"Story {n}",
                   summary="", published=None, main_text=body, text_origin="article", fetch_error=None,
                   content_hash=str(n), baseline=False, matches=matches,
                   deliveries=tuple((w, channel) for w in watchlists),
                   fingerprint=fingerprint(title=f"Story {n}", text=body))


def commit(store: Store, items: list[NewItem], now: datetime) -> None:
    store.commit_poll(items[0].source_id, url="https://example.org/feed", items=items,
                      now=now.astimezone(timezone.utc), etag=None, last_modified=None, body_hash="b",
                      warnings=(), baseline=False)


def deliverer(store: Store, hook: WebhookReceiver, clock: Clock, **kwargs: object) -> Deliverer:
    return Deliverer(store, channels={"chat": [hook.apprise_url]}, source_names={"ispr": "ISPR", "app": "APP"},
                     timezone=KARACHI, give_up=timedelta(days=3), clock=clock, **kwargs)  # type: ignore[arg-type]


def drain(d: Deliverer) -> None:
    asyncio.run(d.drain())


def test_one_message_names_every_watch_list_that_fired(store: Store, hook: WebhookReceiver) -> None:
    """An item matched by two watch lists sharing a channel is sent once, naming both and their terms."""
    clock = Clock(START)
    commit(store, [item(1, watchlists=("desk", "border"))], START)
    drain(deliverer(store, hook, clock))
    [message] = hook.received
    assert "[desk, border]" in str(message["title"])
    assert "DESK" in str(message["message"]) and "BORDER" in str(message["message"])
    assert store.outbox_counts() == {"sent": 2}


def test_a_channel_asking_for_html_gets_html(store: Store, hook: WebhookReceiver) -> None:
    """A target whose URL says format=html receives the HTML rendering, with source text escaped."""
    clock = Clock(START)
    commit(store, [item(1)], START)
    d = Deliverer(store, channels={"chat": [hook.apprise_url + "?format=html"]}, source_names={},
                  timezone=KARACHI, give_up=timedelta(days=3), clock=clock)
    drain(d)
    [message] = hook.received
    assert '<a href="https://example.org/ispr/1">' in str(message["message"])


def test_a_republished_story_alerts_once_and_names_the_other_source(store: Store, hook: WebhookReceiver) -> None:
    """A copy of a queued story from another source adds no alert; the alert says where else it ran."""
    clock = Clock(START)
    original = item(1)
    commit(store, [original], START)
    copy = NewItem(**{**original.__dict__, "url": "https://app.example/copy?utm_source=x", "source_id": "app",
                      "title": "APP: Kayani visits district", "content_hash": "c"})
    commit(store, [copy], START + timedelta(minutes=20))
    drain(deliverer(store, hook, clock))
    [message] = hook.received
    assert "Also at: APP" in str(message["message"])
    story_ids = {r[0] for r in store.db.execute("SELECT story_id FROM items")}
    assert len(story_ids) == 1 and store.outbox_counts() == {"sent": 1}


def test_a_digest_waits_for_its_time_and_lists_every_story(store: Store, hook: WebhookReceiver) -> None:
    """Digest alerts are held until 08:00 local, then sent as one message listing each story."""
    clock = Clock(START)
    d = deliverer(store, hook, clock, modes={("desk", "chat"): DeliveryMode(
        digest=DigestSchedule(every=timedelta(days=1), at=time(8, 0)))})
    commit(store, [item(1)], START)
    commit(store, [item(2)], START + timedelta(hours=5))
    clock.at(START + timedelta(hours=5))
    drain(d)
    clock.at(datetime(2026, 11, 29, 7, 59, tzinfo=KARACHI))
    drain(d)
    assert hook.received == []
    clock.at(datetime(2026, 11, 29, 8, 0, tzinfo=KARACHI))
    drain(d)
    [digest] = hook.received
    assert "digest: 2 stories" in str(digest["title"])
    assert "Story 1" in str(digest["message"]) and "Story 2" in str(digest["message"])
    assert store.outbox_counts() == {"sent": 2}


def test_a_digest_does_not_hold_immediate_alerts(store: Store, hook: WebhookReceiver) -> None:
    """A watch list on digest leaves another watch list's immediate alerts on the same channel alone."""
    clock = Clock(START)
    d = deliverer(store, hook, clock, modes={("desk", "chat"): DeliveryMode(
        digest=DigestSchedule(every=timedelta(days=1), at=time(8, 0)))})
    commit(store, [item(1), item(2, watchlists=("border",))], START)
    drain(d)
    [message] = hook.received
    assert "Story 2" in str(message["title"])


def test_quiet_hours_hold_alerts_until_they_end(store: Store, hook: WebhookReceiver) -> None:
    """An alert raised at 23:00 inside 22:00-07:00 quiet hours goes out at 07:00, not before."""
    night = datetime(2026, 11, 28, 23, 0, tzinfo=KARACHI)
    clock = Clock(night)
    d = deliverer(store, hook, clock, modes={("desk", "chat"): DeliveryMode(
        quiet=QuietHours(start=time(22, 0), end=time(7, 0)))})
    commit(store, [item(1)], night)
    drain(d)
    clock.at(datetime(2026, 11, 29, 6, 59, tzinfo=KARACHI))
    drain(d)
    assert hook.received == []
    clock.at(datetime(2026, 11, 29, 7, 0, tzinfo=KARACHI))
    drain(d)
    assert len(hook.received) == 1


def test_a_rate_limit_queues_without_losing_or_reordering(store: Store, hook: WebhookReceiver) -> None:
    """With max_per_minute 3, ten alerts go out three a minute, all of them, in order."""
    clock = Clock(START)
    commit(store, [item(n) for n in range(10)], START)
    d = deliverer(store, hook, clock, max_per_minute={"chat": 3})
    seen = []
    for minute in range(5):
        clock.at(START + timedelta(minutes=minute, seconds=1))
        drain(d)
        seen.append(len(hook.received))
    assert seen == [3, 6, 9, 10, 10]
    assert [str(m["title"]).split()[-1] for m in hook.received] == [str(n) for n in range(10)]
    assert store.outbox_counts() == {"sent": 10}


def test_a_failed_merged_message_is_retried_for_every_watch_list(store: Store, hook: WebhookReceiver) -> None:
    """When the merged message fails, every row it carries is retried together, then sent once."""
    clock = Clock(START)
    commit(store, [item(1, watchlists=("desk", "border"))], START)
    d = deliverer(store, hook, clock)
    hook.refuse = True
    drain(d)
    assert {r.attempts for r in store.queued_alerts()} == {1}
    hook.refuse = False
    clock.at(START + timedelta(minutes=5))
    drain(d)
    assert len(hook.received) == 1 and store.outbox_counts() == {"sent": 2}


def test_a_digest_names_where_else_each_story_ran(store: Store, hook: WebhookReceiver) -> None:
    """A story republished before its digest is listed once, with the other outlet named."""
    clock = Clock(START)
    d = deliverer(store, hook, clock, modes={("desk", "chat"): DeliveryMode(
        digest=DigestSchedule(every=timedelta(days=1), at=time(8, 0)))})
    original = item(1)
    commit(store, [original], START)
    copy = NewItem(**{**original.__dict__, "url": "https://app.example/1", "source_id": "app", "content_hash": "c"})
    commit(store, [copy], START + timedelta(hours=1))
    clock.at(datetime(2026, 11, 29, 8, 0, tzinfo=KARACHI))
    drain(d)
    [digest] = hook.received
    assert "digest: 1 story" in str(digest["title"]) and "Also at: APP" in str(digest["message"])


def test_digest_times_follow_the_wall_clock_across_daylight_saving() -> None:
    """A daily 08:00 digest stays at 08:00 local on the day clocks go forward."""
    london = ZoneInfo("Europe/London")
    schedule = DigestSchedule(every=timedelta(days=1), at=time(8, 0))
    before = datetime(2026, 3, 28, 9, 0, tzinfo=london)  # GMT; clocks go forward on the 29th
    due = schedule.next_after(before, london)
    assert due.astimezone(london) == datetime(2026, 3, 29, 8, 0, tzinfo=london)
    assert due == datetime(2026, 3, 29, 7, 0, tzinfo=timezone.utc)


def test_quiet_hours_may_span_midnight_or_not() -> None:
    """22:00-07:00 covers 23:30 and 06:59 but not 07:00; 12:00-14:00 covers only the afternoon."""
    night = QuietHours(start=time(22, 0), end=time(7, 0))
    lunch = QuietHours(start=time(12, 0), end=time(14, 0))
    at = lambda h, m: datetime(2026, 11, 28, h, m, tzinfo=KARACHI)  # noqa: E731
    assert night.contains(at(23, 30), KARACHI) and night.contains(at(6, 59), KARACHI)
    assert not night.contains(at(7, 0), KARACHI)
    assert lunch.contains(at(13, 0), KARACHI) and not lunch.contains(at(23, 0), KARACHI)


def test_a_weekly_digest_that_fails_once_is_retried_not_given_up(store: Store, hook: WebhookReceiver) -> None:
    """The give-up age of a digest counts from its due time, not from when its oldest story was queued."""
    clock = Clock(START)
    d = deliverer(store, hook, clock, modes={("desk", "chat"): DeliveryMode(
        digest=DigestSchedule(every=timedelta(days=7), at=time(8, 0)))})
    weekly = DigestSchedule(every=timedelta(days=7), at=time(8, 0))
    queued = weekly.next_after(START, KARACHI) + timedelta(hours=1)  # just after one digest: six days to the next
    commit(store, [item(1)], queued)
    due = weekly.next_after(queued, KARACHI)
    assert due - queued > timedelta(days=3)
    hook.refuse = True
    clock.at(due)
    drain(d)
    assert store.outbox_counts() == {"queued": 1}
    hook.refuse = False
    clock.at(due + timedelta(minutes=5))
    drain(d)
    assert len(hook.received) == 1 and store.outbox_counts() == {"sent": 1}


def test_a_reloaded_deliverer_keeps_the_rate_limit_window(store: Store, hook: WebhookReceiver) -> None:
    """After a config reload the new deliverer still counts what the old one sent this minute."""
    clock = Clock(START)
    commit(store, [item(n) for n in range(5)], START)
    old = deliverer(store, hook, clock, max_per_minute={"chat": 3})
    drain(old)
    new = deliverer(store, hook, clock, max_per_minute={"chat": 3})
    new.succeed(old)
    drain(new)
    assert len(hook.received) == 3
    clock.at(START + timedelta(minutes=1, seconds=1))
    drain(new)
    assert len(hook.received) == 5


@pytest.mark.parametrize("template", [
    "{% if also_at %}{{ also_at[1] }}{% endif %}",  # UndefinedError: the sample has no also_at
    '{% if also_at %}{{ "{a}".format() }}{% endif %}',  # KeyError from str.format, not a TemplateError
])
def test_a_template_failing_on_a_real_alert_falls_back_to_the_built_in_layout(
        store: Store, hook: WebhookReceiver, caplog: pytest.LogCaptureFixture, template: str) -> None:
    """A template that passed the load check but fails on an alert's values still lets the alert go out."""
    clock = Clock(START)
    original = item(1)
    commit(store, [original], START)
    copy = NewItem(**{**original.__dict__, "url": "https://app.example/1", "source_id": "app", "content_hash": "c"})
    commit(store, [copy], START + timedelta(minutes=5))
    assert template_problem(template) is None
    drain(deliverer(store, hook, clock, templates={"desk": template}))
    [message] = hook.received
    assert "Story 1" in str(message["title"]) and "Also at: APP" in str(message["message"])
    assert store.outbox_counts() == {"sent": 1}
    [failure] = [r for r in caplog.records if r.getMessage().startswith("template ")]
    assert "watchlist=desk" in failure.getMessage() and hook.apprise_url not in failure.getMessage()


def test_a_rate_limit_counts_every_part_of_a_long_message(store: Store, hook: WebhookReceiver) -> None:
    """With max_per_minute 2, a 5-part message waits for a clear minute and goes alone; all else stays within 2."""
    clock = Clock(START)
    long = NewItem(**{**item(1).__dict__, "matches": (
        Match(watchlist="desk", terms=("Kayani",), snippet="Kayani visited " * 7000),)})
    commit(store, [item(0), long] + [item(n) for n in range(2, 5)], START)
    d = deliverer(store, hook, clock, max_per_minute={"chat": 2})
    posts: list[tuple[datetime, str]] = []
    for step in range(60):
        clock.at(START + timedelta(seconds=10 * step + 1))
        before = len(hook.received)
        drain(d)
        posts += [(clock.now, str(m["title"])) for m in hook.received[before:]]
    titles = [title for _, title in posts]
    assert titles == (["[desk] Story 0"] + [f"[desk] Story 1 ({i}/5)" for i in range(1, 6)]
                      + [f"[desk] Story {n}" for n in range(2, 5)])
    long_at = {moment for moment, title in posts if "/5)" in title}
    others = [moment for moment, title in posts if "/5)" not in title]
    assert len(long_at) == 1 and all(abs(m - min(long_at)) >= timedelta(minutes=1) for m in others)
    assert all(sum(m - timedelta(minutes=1) < p <= m for p in others) <= 2 for m in others)
    assert store.outbox_counts() == {"sent": 5}


def test_a_digest_lists_a_story_once_when_its_items_matched_different_watch_lists(
        store: Store, hook: WebhookReceiver) -> None:
    """Two items of one story, each matched by another watch list, are one story in the digest, with both
    reasons and both items' URLs."""
    clock = Clock(START)
    daily = DeliveryMode(digest=DigestSchedule(every=timedelta(days=1), at=time(8, 0)))
    d = deliverer(store, hook, clock, modes={("desk", "chat"): daily, ("border", "chat"): daily})
    original = item(1)
    commit(store, [original], START)
    copy = item(1, watchlists=("border",), source="app")
    copy = NewItem(**{**copy.__dict__, "main_text": original.main_text, "fingerprint": original.fingerprint})
    commit(store, [copy], START + timedelta(hours=1))
    assert len({r.story_id for r in store.queued_alerts()}) == 1
    clock.at(datetime(2026, 11, 29, 8, 0, tzinfo=KARACHI))
    drain(d)
    [digest] = hook.received
    assert "digest: 1 story" in str(digest["title"])
    body = str(digest["message"])
    assert "desk: Kayani, DESK" in body and "border: Kayani, BORDER" in body and "Also at: APP" in body
    assert "https://example.org/ispr/1" in body and "border matched https://example.org/app/1" in body
    assert store.outbox_counts() == {"sent": 2}


def test_an_alert_dated_at_the_end_of_the_calendar_goes_out_in_utc(store: Store, hook: WebhookReceiver) -> None:
    """A date stored before such dates were refused (9999-12-31 23:59 UTC is past year 9999 in
    Karachi) is shown in UTC: it once made every alert of its channel fail to render, forever."""
    clock = Clock(START)
    edge = NewItem(**{**item(1).__dict__, "published": datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)})
    commit(store, [edge, item(2)], START)
    drain(deliverer(store, hook, clock))
    assert [str(m["title"]) for m in hook.received] == ["[desk] Story 2", "[desk] Story 1"]  # by date
    assert "9999-12-31 23:59 UTC" in str(hook.received[1]["message"])
    assert store.outbox_counts() == {"sent": 2}


def test_an_alert_that_cannot_be_rendered_fails_alone(store: Store, hook: WebhookReceiver,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A fault of ours rendering one alert marks it failed, with the reason, and the channel's later
    alerts still go: it had escaped the drain, left the row queued with no error, and held them all."""
    import monitor.notify.deliver as deliver_module

    clock = Clock(START)
    commit(store, [item(1), item(2)], START)
    real = deliver_module.render

    def broken_for_story_1(alert: object, **kwargs: object) -> object:
        if getattr(alert, "title", "") == "Story 1":
            raise ValueError("year 10000 is out of range")
        return real(alert, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(deliver_module, "render", broken_for_story_1)  # no real input still breaks it
    drain(deliverer(store, hook, clock))
    assert [str(m["title"]) for m in hook.received] == ["[desk] Story 2"]
    assert store.outbox_counts() == {"sent": 1, "failed": 1}
    [error] = [r[0] for r in store.db.execute("SELECT last_error FROM outbox WHERE status = 'failed'")]
    assert error == "could not be rendered: ValueError: year 10000 is out of range"
    assert any("status=failed" in r.getMessage() for r in caplog.records)


def test_a_long_subject_in_urdu_reaches_a_real_mail_server(store: Store) -> None:
    """apprise writes a subject as one encoded line, three octets a byte past ASCII: 250 characters of
    Urdu made a 1,322-octet line that the SMTP server refused (it allows 998), and the alert was
    retried for days with every later email behind it. The subject is cut to what the line can carry."""
    from tests.servers import serve_smtp

    title = "آئی ایس پی آر کے مطابق جنرل کیانی نے " * 8
    urdu = NewItem(**{**item(1).__dict__, "title": title})
    commit(store, [urdu], START)
    with serve_smtp() as box:
        d = Deliverer(store, channels={"mail": [box.apprise_url()]}, source_names={"ispr": "ISPR"},
                      timezone=KARACHI, give_up=timedelta(days=3), clock=Clock(START))
        store.db.execute("UPDATE outbox SET channel = 'mail'")  # item() routes to "chat"
        drain(d)
        [mail] = box.messages
    assert store.outbox_counts() == {"sent": 1}
    subject = str(mail["Subject"])
    assert subject.startswith("[desk] " + title[:40]) and subject.endswith("…")
    assert len(subject.encode()) <= 300 and title.split()[0] in subject


def test_a_long_headline_without_spaces_is_cut_at_a_character_not_dropped(hook: WebhookReceiver) -> None:
    """A Chinese headline has no word breaks: cut at the last space before the limit, 300 characters
    of it became "Kayani…". It is cut at the limit, never inside a joined emoji."""
    from monitor.notify.deliver import Target
    from monitor.notify.render import Message

    target = Target("chat", 0, hook.apprise_url)
    [(title, _)] = target.parts(Message(title="Kayani " + "中文新闻" * 75, text="b", markdown="b", html="b"))
    assert title.startswith("Kayani 中文新闻") and title.endswith("…") and len(title) == target.title_limit
    [(flags, _)] = target.parts(Message(title="👩‍💻" * 100, text="b", markdown="b", html="b"))
    assert flags.endswith("👩‍💻…")


def test_a_slow_channel_does_not_hold_back_another(store: Store) -> None:
    """One channel clearing a backlog at a second a post: an alert for another channel, queued
    meanwhile, goes out at once (one lock for all channels held it until the backlog was done),
    and the slow channel's own run still sends each of its alerts once."""
    with serve_webhook() as slow, serve_webhook() as quick:
        slow.ack_delay = 1.0
        commit(store, [item(n) for n in range(4)], START)
        d = Deliverer(store, channels={"chat": [slow.apprise_url], "quick": [quick.apprise_url]},
                      source_names={"ispr": "ISPR"}, timezone=KARACHI, give_up=timedelta(days=3), clock=Clock(START))

        async def scenario() -> int:
            backlog = asyncio.create_task(d.drain())
            while not slow.received:
                await asyncio.sleep(0.05)
            commit(store, [item(9, channel="quick")], START)
            await d.drain()  # what a new match asks for
            taken_by_then = len(slow.received)
            await backlog
            return taken_by_then

        slow_posts_before_quick_was_done = asyncio.run(scenario())
    assert [str(m["title"]) for m in quick.received] == ["[desk] Story 9"]
    assert slow_posts_before_quick_was_done < 4
    assert sorted(str(m["title"]) for m in slow.received) == [f"[desk] Story {n}" for n in range(4)]
    assert store.outbox_counts() == {"sent": 5}


def test_an_alert_queued_while_its_channel_drains_goes_out_in_that_run(store: Store) -> None:
    """A drain asked for while the channel is busy is left to the run under way; that run
    reads the channel again before it ends, so the new alert does not wait for the next tick."""
    with serve_webhook() as slow:
        slow.ack_delay = 0.3
        commit(store, [item(n) for n in range(3)], START)
        d = Deliverer(store, channels={"chat": [slow.apprise_url]}, source_names={"ispr": "ISPR"},
                      timezone=KARACHI, give_up=timedelta(days=3), clock=Clock(START))

        async def scenario() -> DeliveryReport:
            backlog = asyncio.create_task(d.drain())
            while not slow.received:
                await asyncio.sleep(0.02)
            commit(store, [item(9)], START)
            assert await d.drain() == DeliveryReport()  # left to the run under way
            return await backlog

        report = asyncio.run(scenario())
    assert report.sent == 4
    assert [str(m["title"]) for m in slow.received] == [f"[desk] Story {n}" for n in (0, 1, 2, 9)]


def test_a_reload_during_a_backlog_sends_the_rest_with_the_new_config(store: Store) -> None:
    """A reload moves a busy channel to a new URL: the post under way finishes, the run that
    made it stops there, and the new config's drain, waiting for it, sends the rest and what
    came meanwhile to the new URL; each alert once."""
    with serve_webhook() as old_url, serve_webhook() as new_url:
        old_url.ack_delay = 0.3
        commit(store, [item(n) for n in range(3)], START)
        settings: dict[str, Any] = {"source_names": {"ispr": "ISPR"}, "timezone": KARACHI,
                                    "give_up": timedelta(days=3), "clock": Clock(START)}
        before = Deliverer(store, channels={"chat": [old_url.apprise_url]}, **settings)

        async def scenario() -> None:
            backlog = asyncio.create_task(before.drain())
            while not old_url.received:
                await asyncio.sleep(0.02)
            after = Deliverer(store, channels={"chat": [new_url.apprise_url]}, **settings)
            after.succeed(before)
            commit(store, [item(9)], START)
            assert (await after.drain()).sent == 3
            assert (await backlog).sent == 1

        asyncio.run(scenario())
    assert [str(m["title"]) for m in old_url.received] == ["[desk] Story 0"]
    assert [str(m["title"]) for m in new_url.received] == [f"[desk] Story {n}" for n in (1, 2, 9)]


def test_a_webhook_answering_after_apprises_own_read_timeout_gets_the_alert_once(store: Store) -> None:
    """A receiver that takes 5 s to answer: apprise's 4 s read timeout called each post a
    failure, so the alert was posted again at every retry; the read waits as long as our send
    timeout now. A URL's own rto= still rules."""
    with serve_webhook() as slow:
        slow.ack_delay = 5.0
        commit(store, [item(1)], START)
        d = Deliverer(store, channels={"chat": [slow.apprise_url]}, source_names={"ispr": "ISPR"},
                      timezone=KARACHI, give_up=timedelta(days=3), clock=Clock(START))
        assert asyncio.run(d.drain()).sent == 1
    assert [str(m["title"]) for m in slow.received] == ["[desk] Story 1"]
    assert store.outbox_counts() == {"sent": 1}
    own = Target("chat", 0, "json://127.0.0.1:9/?rto=2.5")
    assert [server.socket_read_timeout for server in own._apprise] == [2.5]


def test_alerts_of_a_channel_the_config_no_longer_names_wait_for_it(store: Store, hook: WebhookReceiver) -> None:
    """A reload that renames a channel by mistake: its queued alerts wait (they were failed for good
    within seconds), go out once the config names it again, and give up only at the give-up age."""
    clock = Clock(START)
    commit(store, [item(1), item(2)], START)
    renamed = Deliverer(store, channels={"chats": [hook.apprise_url]}, source_names={"ispr": "ISPR"},
                        timezone=KARACHI, give_up=timedelta(days=3), clock=clock)
    drain(renamed)
    assert store.outbox_counts() == {"queued": 2} and hook.received == []
    clock.at(START + timedelta(hours=1))
    drain(deliverer(store, hook, clock))  # the config names "chat" again
    assert [str(m["title"]) for m in hook.received] == ["[desk] Story 1", "[desk] Story 2"]
    commit(store, [item(3)], START + timedelta(hours=1))
    clock.at(START + timedelta(days=4))
    drain(renamed)
    assert store.outbox_counts() == {"sent": 2, "failed": 1}


def test_a_channel_the_config_no_longer_names_is_not_read_again_until_a_give_up(store: Store) -> None:
    """Its alerts can only wait, so each drain (one for every matching poll) need not read
    them again: the next read is when the oldest of them reaches the give-up age."""
    clock = Clock(START)
    commit(store, [item(1), item(2)], START)
    reads: list[str] = []
    store.db.conn.set_trace_callback(lambda sql: reads.append(sql) if "LEFT JOIN matches m" in sql else None)
    renamed = Deliverer(store, channels={"chats": ["json://127.0.0.1:9/"]}, source_names={"ispr": "ISPR"},
                        timezone=KARACHI, give_up=timedelta(days=3), clock=clock)
    drain(renamed)
    assert len(reads) == 1
    clock.at(START + timedelta(days=2))
    drain(renamed)
    drain(renamed)
    assert len(reads) == 1 and store.outbox_counts() == {"queued": 2}
    clock.at(START + timedelta(days=3, seconds=1))
    drain(renamed)
    assert len(reads) == 2 and store.outbox_counts() == {"failed": 2}
