"""Outbox -> apprise. Failed sends stay queued and retry with backoff; nothing is sent twice.

A channel may name several apprise URLs (targets). Each outbox row remembers which of its
channel's targets already took the alert, so a retry goes only to the ones that failed.
Channel URLs carry secrets: they are never logged; errors name the channel and the
service kind only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import apprise

import monitor.notify.console  # noqa: F401 - registers console://
from monitor.notify.render import Alert, Message, render
from monitor.store import OutboxRow, Store, utcnow

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour apart."""
    delay: timedelta = min(timedelta(seconds=30) * (2 ** max(attempts - 1, 0)), timedelta(hours=1))
    return delay


@dataclass(frozen=True, kw_only=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


class Target:
    """One apprise URL of a channel, loaded once."""

    def __init__(self, channel: str, index: int, url: str) -> None:
        self.channel = channel
        self.index = index
        self._apprise = apprise.Apprise()
        self.valid = bool(self._apprise.add(url))
        self.service = _service_name(self._apprise)

    async def send(self, message: Message) -> str | None:
        """Send; None on success, else a reason that contains no part of the URL."""
        if not self.valid:
            return "the channel URL is not a URL apprise understands"
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                result = await self._apprise.async_notify(
                    body=message.text, title=message.title, body_format=apprise.NotifyFormat.TEXT)
        except TimeoutError:
            return f"{self.service} did not answer within {SEND_TIMEOUT:.0f}s"
        if result:
            return None
        status = getattr(getattr(result, "status", None), "name", "failed")
        return f"{self.service} refused or failed ({str(status).lower()})"


def _service_name(loaded: apprise.Apprise) -> str:
    for plugin in loaded:
        return str(getattr(plugin, "service_name", None) or type(plugin).__name__)
    return "unknown service"


class Deliverer:
    """Drains the outbox: every channel in its own task, alerts in publication order."""

    def __init__(self, store: Store, *, channels: Mapping[str, Sequence[str]],
                 source_names: Mapping[str, str], timezone: ZoneInfo, give_up: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.timezone = timezone
        self.give_up = give_up
        self.source_names = dict(source_names)
        self.clock = clock
        self.targets = {name: [Target(name, i, url) for i, url in enumerate(urls)]
                        for name, urls in channels.items()}
        self._lock = asyncio.Lock()

    async def drain(self) -> DeliveryReport:
        """Send every due alert once. Safe to call concurrently: runs are serialised."""
        async with self._lock:
            due = self.store.queued_alerts()
            by_channel: dict[str, list[OutboxRow]] = defaultdict(list)
            for row in due:
                by_channel[row.channel].append(row)
            reports = await asyncio.gather(*(self._drain_channel(name, rows) for name, rows in by_channel.items()))
        return DeliveryReport(sent=sum(r.sent for r in reports), retrying=sum(r.retrying for r in reports),
                              failed=sum(r.failed for r in reports))

    async def _drain_channel(self, channel: str, rows: list[OutboxRow]) -> DeliveryReport:
        sent = retrying = failed = 0
        targets = self.targets.get(channel)
        for row in rows:
            now = self.clock()
            if row.next_attempt_at > now:
                # An earlier alert is waiting for a retry: later ones wait behind it.
                break
            if targets is None:
                self.store.mark_failed(row.id, error=f"channel {channel!r} is no longer configured")
                log.warning("delivery channel=%s alert=%d status=failed reason=channel-removed", channel, row.id)
                failed += 1
                continue
            started = time.perf_counter()
            message = render(self._alert(row), timezone=self.timezone)
            done = set(row.done_targets)
            errors: list[str] = []
            for target in targets:
                if target.index in done:
                    continue
                reason = await target.send(message)
                if reason is None:
                    done.add(target.index)
                else:
                    errors.append(reason)
            ms = (time.perf_counter() - started) * 1000
            if not errors:
                self.store.mark_sent(row.id, now=self.clock())
                log.info("delivery channel=%s alert=%d watchlist=%s status=sent ms=%.0f",
                         channel, row.id, row.watchlist, ms)
                sent += 1
                continue
            error = "; ".join(errors)
            if now - row.created_at >= self.give_up:
                self.store.mark_failed(row.id, error=f"gave up after {row.attempts + 1} attempts: {error}")
                log.error("delivery channel=%s alert=%d status=failed reason=%r (gave up)", channel, row.id, error)
                failed += 1
                continue
            next_attempt = now + retry_delay(row.attempts + 1)
            self.store.mark_retry(row.id, error=error, next_attempt=next_attempt, done_targets=sorted(done))
            log.warning("delivery channel=%s alert=%d status=retry attempt=%d next=%s reason=%r",
                        channel, row.id, row.attempts + 1, next_attempt.isoformat(timespec="seconds"), error)
            retrying += 1
            break
        return DeliveryReport(sent=sent, retrying=retrying, failed=failed)

    def _alert(self, row: OutboxRow) -> Alert:
        return Alert(title=row.title, source_name=self.source_names.get(row.source_id, row.source_id),
                     published=row.published, first_seen=row.first_seen, watchlist=row.watchlist,
                     terms=row.terms, snippet=row.snippet, url=row.url)
