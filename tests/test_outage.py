"""Channel outages: a webhook and an SMTP server refuse, hang, then recover; a clock the test moves
stands in for the hours of an outage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import SourceConfig
from monitor.fetch import Fetcher
from monitor.match import Matcher, WatchRule
from monitor.notify.deliver import Deliverer
from monitor.pipeline import Poller
from monitor.store import OutboxRow, Store
from tests.faultserver import serve_faults
from tests.newsroom_pages import rss_feed, when
from tests.servers import Mailbox, WebhookReceiver, serve_newsroom, serve_smtp, serve_webhook

STORIES = [f"ISAF story {n}" for n in range(1, 4)]  # in publication order
GIVE_UP = timedelta(days=2)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Desk:
    """Stories queued for ``chat`` (a webhook) and ``other`` (SMTP, or a second webhook)."""

    store: Store
    hook: WebhookReceiver
    other: WebhookReceiver | Mailbox
    clock: Clock

    def deliverer(self, chat_url: str | None = None) -> Deliverer:
        other = self.other.apprise_url() if isinstance(self.other, Mailbox) else self.other.apprise_url
        channels = {"chat": (chat_url or self.hook.apprise_url,), "other": (other,)}
        return Deliverer(self.store, channels=channels, source_names={"desknews": "Desk News"},
                         timezone=ZoneInfo("UTC"), give_up=GIVE_UP, clock=self.clock)

    def drain(self, *, hours: float = 1) -> None:
        """Let ``hours`` pass (more than any retry delay so far), then drain once. A new
        Deliverer each time, as apprise makes one email target wait 5.5 s between sends."""
        self.clock.now += timedelta(hours=hours)
        asyncio.run(self.deliverer().drain())

    def tally(self) -> dict[str, tuple[int, int, int, int]]:
        """channel -> (received by its server, sent, failed, still queued) in the outbox."""
        counts: dict[tuple[str, str], int] = {(c, s): n for c, s, n in self.store.db.execute(
            "SELECT channel, status, COUNT(*) FROM outbox GROUP BY channel, status")}
        received = {"chat": len(self.hook.received), "other": len(self.other_titles())}
        return {channel: (received[channel], counts.get((channel, "sent"), 0), counts.get((channel, "failed"), 0),
                          counts.get((channel, "queued"), 0)) for channel in ("chat", "other")}

    def chat_titles(self) -> list[str]:
        return [_story(str(p["title"])) for p in self.hook.received]

    def other_titles(self) -> list[str]:
        if isinstance(self.other, Mailbox):
            return [_story(str(m["subject"])) for m in self.other.messages]
        return [_story(str(p["title"])) for p in self.other.received]


def _story(title: str) -> str:
    return next(s for s in STORIES if s in title)


def queue_stories(store: Store, clock: Clock) -> None:
    with serve_newsroom() as site:
        items = [(f"/news/{n}", title, "ISAF commanders met.", when(10 + n)) for n, title in enumerate(STORIES)]
        site.publish("/feed.xml", rss_feed(base=site.base_url, items=items[::-1]), "application/rss+xml")
        source = SourceConfig.model_validate({"id": "desknews", "name": "Desk News", "url": site.url("/feed.xml"),
                                              "backfill": True, "fetch_articles": False})

        async def poll() -> None:
            async with Fetcher() as fetcher:
                poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([WatchRule(name="desk",
                                keywords=("ISAF",))]), routes={"desk": ("chat", "other")}, clock=clock)
                assert (await poller.poll(source)).matched == len(STORIES)

        asyncio.run(poll())


Tally = dict[str, dict[str, tuple[int, int, int, int]]]


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    """test -> channel -> counts at its end, printed as a table (``pytest -s``) once all ran."""
    table: Tally = {}
    yield table
    width = max((len(name) for name in table), default=4)
    print(f"\n{'test':<{width}}  channel  received  sent  failed  queued")
    for name, channels in table.items():
        for channel, (received, sent, failed, queued) in channels.items():
            print(f"{name:<{width}}  {channel:<7}  {received:>8}  {sent:>4}  {failed:>6}  {queued:>6}")


@pytest.fixture
def desk(tmp_path: Path, tally: Tally, request: pytest.FixtureRequest) -> Iterator[Desk]:
    """The other channel is a second webhook."""
    store = Store(tmp_path / "monitor.db")
    clock = Clock()
    queue_stories(store, clock)
    with serve_webhook() as hook, serve_webhook() as other:
        desk = Desk(store=store, hook=hook, other=other, clock=clock)
        yield desk
        tally[request.node.name] = desk.tally()
    store.close()


@pytest.fixture
def mail_desk(tmp_path: Path, tally: Tally, request: pytest.FixtureRequest) -> Iterator[Desk]:
    """The other channel is email through a real SMTP server."""
    store = Store(tmp_path / "monitor.db")
    clock = Clock()
    queue_stories(store, clock)
    with serve_webhook() as hook, serve_smtp() as mail:
        desk = Desk(store=store, hook=hook, other=mail, clock=clock)
        yield desk
        tally[request.node.name] = desk.tally()
    store.close()


def test_queued_alerts_go_out_once_in_order_after_both_channels_recover(mail_desk: Desk) -> None:
    """Webhook (503) and SMTP (451) refuse for hours; after recovery each alert arrives once, oldest first."""
    desk = mail_desk
    assert isinstance(desk.other, Mailbox)
    desk.hook.refuse = desk.other.refuse = True
    for _ in range(3):
        desk.drain()
    assert desk.chat_titles() == [] and desk.other_titles() == []
    assert desk.store.outbox_counts() == {"queued": 2 * len(STORIES)}

    desk.hook.refuse = desk.other.refuse = False
    desk.drain()
    desk.drain()
    assert desk.chat_titles() == STORIES
    assert desk.other_titles() == STORIES
    assert desk.store.outbox_counts() == {"sent": 2 * len(STORIES)}


def test_a_refusing_channel_does_not_hold_back_another(desk: Desk) -> None:
    """While one webhook refuses, the other channel delivers everything in the same drain."""
    desk.hook.refuse = True
    desk.drain()
    assert desk.other_titles() == STORIES
    assert desk.chat_titles() == []
    desk.hook.refuse = False
    desk.drain()
    assert desk.chat_titles() == STORIES


def test_a_channel_waiting_for_its_retry_is_not_read_again_until_then(desk: Desk) -> None:
    """One deliverer, as in the daemon: while the head alert of a refusing channel waits for
    its retry, a drain reads no queued row of that channel (matching polls ask for drains
    all through an outage); at the retry time, or once another process has sent the head
    alert, the channel is read again and its alerts go in order."""
    reads: list[str] = []
    desk.store.db.conn.set_trace_callback(
        lambda sql: reads.append(sql) if "LEFT JOIN matches m" in sql else None)  # queued_alerts
    deliverer = desk.deliverer()
    desk.hook.refuse = True
    asyncio.run(deliverer.drain())
    assert desk.other_titles() == STORIES and desk.chat_titles() == []
    reads.clear()
    desk.hook.refuse = False
    asyncio.run(deliverer.drain())
    asyncio.run(deliverer.drain())
    assert reads == [] and desk.chat_titles() == []  # the head waits 30 s; the rest wait behind it

    # Another process sends the head alert: the channel is read at the next drain.
    head = desk.store.db.execute("SELECT o.id FROM outbox o JOIN items i ON i.id = o.item_id"
                                 " WHERE o.channel = 'chat' AND i.title = ?", [STORIES[0]]).fetchone()[0]
    desk.store.mark_sent(head, now=desk.clock.now)
    asyncio.run(deliverer.drain())
    assert len(reads) == 1 and desk.chat_titles() == STORIES[1:]

    # And at the retry time, to the second the database keeps, without any other process.
    desk.hook.refuse = True
    desk.store.db.execute("UPDATE outbox SET status = 'queued', next_attempt_at = ? WHERE channel = 'chat'",
                          [desk.clock.now.isoformat(timespec="seconds")])
    asyncio.run(deliverer.drain())
    assert desk.chat_titles() == STORIES[1:]  # refused again: the head waits for its next retry
    reads.clear()
    desk.hook.refuse = False
    asyncio.run(deliverer.drain())
    assert reads == []
    retry = desk.store.db.execute("SELECT next_attempt_at FROM outbox WHERE id = ?", [head]).fetchone()[0]
    desk.clock.now = datetime.fromisoformat(retry)
    asyncio.run(deliverer.drain())
    assert len(reads) == 1 and desk.chat_titles() == STORIES[1:] + STORIES


def test_a_row_that_sorts_ahead_of_the_waiting_head_is_not_held_back(desk: Desk) -> None:
    """A row queued in the head's second with an earlier date sorts ahead of it: the
    next drain reads the channel and sends it, as it would have without the wait."""
    deliverer = desk.deliverer()
    desk.hook.refuse = True
    asyncio.run(deliverer.drain())
    desk.hook.refuse = False
    created = desk.store.db.execute("SELECT MIN(created_at) FROM outbox WHERE channel = 'chat'").fetchone()[0]
    item = desk.store.db.execute(
        "INSERT INTO items (url, source_id, title, published, first_seen, baseline)"
        " VALUES ('https://example.org/early', 'desknews', 'ISAF story 1, filed early', '2000-01-01T00:00:00+00:00',"
        " ?, 0)", [created]).lastrowid
    desk.store.db.execute(
        "INSERT INTO outbox (item_id, watchlist, channel, status, attempts, next_attempt_at, created_at, done_targets)"
        " VALUES (?, 'desk', 'chat', 'queued', 0, ?, ?, '[]')", [item, created, created])
    asyncio.run(deliverer.drain())
    assert [p["title"] for p in desk.hook.received][:1] == ["[desk] ISAF story 1, filed early"]


def test_a_hanging_channel_does_not_delay_another(desk: Desk) -> None:
    """The other channel has every alert while the webhook's first send is still hanging."""
    with serve_faults(b"") as faults:
        port = faults.base_url.rsplit(":", 1)[1]
        deliverer = desk.deliverer(chat_url=f"json://127.0.0.1:{port}/hang?rto=3")

        async def scenario() -> bool:
            drain = asyncio.create_task(deliverer.drain())
            deadline = time.monotonic() + 20
            while len(desk.other_titles()) < len(STORIES) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            still_hanging = not drain.done()
            await drain
            return still_hanging

        assert asyncio.run(scenario())
    assert desk.other_titles() == STORIES
    assert desk.chat_titles() == []
    assert desk.store.outbox_counts() == {"sent": len(STORIES), "queued": len(STORIES)}


def test_give_up_marks_alerts_failed_and_logs_it(desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    """A webhook refusing past the give-up age fails its alerts, with an error log; the other channel is unaffected."""
    desk.hook.refuse = True
    with caplog.at_level(logging.WARNING, logger="monitor.notify.deliver"):
        desk.drain()
        desk.drain(hours=GIVE_UP.total_seconds() / 3600)
        desk.drain()
    gave_up = [r for r in caplog.records if r.levelno == logging.ERROR and "gave up" in r.getMessage()]
    assert gave_up and all("channel=chat" in r.getMessage() for r in gave_up)
    assert desk.store.outbox_counts() == {"sent": len(STORIES), "failed": len(STORIES)}
    failed = desk.store.db.execute("SELECT last_error, attempts FROM outbox WHERE status = 'failed'").fetchall()
    assert all(e == f"gave up after {tries} attempts: JSON refused or failed (failure): Failed to send JSON POST "
               "notification: Servers are overloaded., error=503." for e, tries in failed)  # apprise's words for it
    desk.hook.refuse = False
    desk.drain()
    assert desk.chat_titles() == []


def test_an_outage_of_days_retries_hourly_to_the_end(desk: Desk) -> None:
    """Under the default give-up of days a refusing channel reaches its 45th attempt; the
    delay stays an hour (doubling 2**44 times would overflow and stop the drain)."""
    desk.hook.refuse = True
    for _ in range(45):
        desk.drain()
    attempts, next_at = desk.store.db.execute(  # the head is tried; the alerts behind it wait
        "SELECT attempts, next_attempt_at FROM outbox WHERE channel = 'chat' ORDER BY attempts DESC").fetchone()
    assert attempts == 45
    next_attempt = datetime.fromisoformat(next_at)
    assert abs(next_attempt - desk.clock.now - timedelta(hours=1)) < timedelta(seconds=1)
    desk.hook.refuse = False
    desk.drain()
    assert desk.chat_titles() == STORIES


def test_a_long_queue_is_read_a_page_at_a_time_and_no_item_is_split(desk: Desk,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 3 rows over 3 items with two watch lists each: every item still goes as one
    message naming both lists, in order, once; a refusing channel is read one page deep."""
    from monitor.notify import deliver

    monkeypatch.setattr(deliver, "PAGE", 3)
    desk.store.db.execute(
        "INSERT INTO outbox (item_id, watchlist, channel, status, attempts, next_attempt_at, created_at, done_targets)"
        " SELECT item_id, 'desk2', channel, status, attempts, next_attempt_at, created_at, done_targets"
        " FROM outbox WHERE channel = 'chat'")
    decoded: list[tuple[str, int]] = []  # (channel, rows read)
    queued_alerts = desk.store.queued_alerts

    def counting(limit: int, *, channels: list[str]) -> list[OutboxRow]:
        rows = queued_alerts(limit, channels=channels)
        decoded.append((channels[0], len(rows)))
        return rows

    monkeypatch.setattr(desk.store, "queued_alerts", counting)
    deliverer = desk.deliverer()
    desk.hook.refuse = True
    asyncio.run(deliverer.drain())
    assert desk.chat_titles() == [] and [n for c, n in decoded if c == "chat"] == [3]  # one page, not six rows
    assert desk.other_titles() == STORIES  # pages of 3 rows, 1 list each: 2 items, then 1
    decoded.clear()
    desk.hook.refuse = False
    desk.clock.now += timedelta(hours=1)
    asyncio.run(deliverer.drain())
    assert [n for c, n in decoded if c == "chat"] == [3, 3, 2]
    titles = [str(p["title"]) for p in desk.hook.received]
    assert [_story(t) for t in titles] == STORIES
    assert all(t.startswith("[desk, desk2]") for t in titles), titles
    assert desk.tally()["chat"] == (3, 6, 0, 0)
