"""Outbox -> apprise. Failed sends stay queued and retry with backoff; nothing is sent twice.

The outbox holds one row per (item, watch list, channel); a channel receives ONE message
per item, naming every watch list that fired on it, and each row keeps its own status.
A message is rendered once in text, Markdown and HTML; each target gets the format its
service takes (apprise's ``notify_format``, or ``?format=`` in its URL), cut to the
service's length limit without dropping anything.

A watch list may bring its own template (``monitor.notify.template``) for its alerts; an
alert the template fails on is logged and sent in the built-in layout instead.
Delivery modes (``monitor.notify.modes``) hold a watch list's alerts for a channel until
its digest is due or its quiet hours end; held alerts never block immediate ones. A
channel's ``max_per_minute`` counts posts (each part to each target) and queues messages
beyond the cap until the last minute leaves room for all their parts.

A channel may name several apprise URLs (targets). Each outbox row remembers which of its
channel's targets already took the alert, so a retry goes only to the ones that failed.
Channel URLs carry secrets: they are never logged; errors name the channel and the
service kind only.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import apprise

from monitor.notify import plugins
from monitor.notify.modes import IMMEDIATE, DeliveryMode
from monitor.notify.render import SEPARATORS, Alert, Message, Reason, escape_markdown, render, render_digest
from monitor.notify.split import safe_cut, split_body
from monitor.redact import redact
from monitor.store import OutboxRow, Store, doubled, utcnow
from monitor.store_stories import other_sources

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0
READ_TIMEOUT = 25.0  # apprise's wait for a service's answer: inside SEND_TIMEOUT, which then rarely fires
# An email subject's UTF-8 bytes at most. apprise writes a subject as one quoted-printable
# word on one line, three octets for each byte past ASCII: 252 characters of Urdu made a
# 1,322-octet line, and the server refused the mail ("500 Line too long": SMTP allows 998).
EMAIL_SUBJECT_BYTES = 300
QUERY_LIMIT = 20000  # held digest rows must not hide due rows behind a small LIMIT
# A channel without digests or quiet hours is read this many rows at a time: its rows go in
# order and its first failure stops it, so after an outage's hours of queueing a retry
# decodes one page to try the head, not every alert behind it.
PAGE = 200


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour apart."""
    return doubled(timedelta(seconds=30), attempts - 1, cap=timedelta(hours=1))


@dataclass(frozen=True, kw_only=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @classmethod
    def total(cls, reports: Iterable[DeliveryReport]) -> DeliveryReport:
        reports = list(reports)
        return cls(sent=sum(r.sent for r in reports), retrying=sum(r.retrying for r in reports),
                   failed=sum(r.failed for r in reports))


class Target:
    """One apprise URL of a channel, loaded once, with the format and limits of its service."""

    def __init__(self, channel: str, index: int, url: str) -> None:
        self.channel = channel
        self.index = index
        plugins.register_console()
        self._apprise = apprise.Apprise()
        self.valid = bool(self._apprise.add(url))
        plugin = next(iter(self._apprise), None)
        if plugin is not None and plugin.socket_read_timeout == apprise.URLBase.socket_read_timeout:
            # apprise's default is 4 s: a webhook answering in 5 was a failure, retried, and so
            # posted again and again. A URL's own rto= is kept.
            plugin.socket_read_timeout = READ_TIMEOUT
        self.service = _service_name(self._apprise)
        self.format = apprise.NotifyFormat(plugin.resolve_format(None)).value if plugin is not None else "text"
        self.body_limit = int(getattr(plugin, "body_maxlen", 0) or 32768)
        self.title_limit = int(getattr(plugin, "title_maxlen", 250) or 0)
        self.title_bytes = EMAIL_SUBJECT_BYTES if getattr(plugin, "protocol", None) == "mailto" else 0

    def parts(self, message: Message) -> list[tuple[str, str]]:
        """(title, body) pairs, each within the service's limits, in this target's format."""
        blocks = list(message.blocks(self.format))
        title = message.title
        if self.title_limit <= 0:
            # The service has no title field: it leads the body, escaped like the rest of it.
            blocks.insert(0, _title_block(title, self.format))
            title = ""
        bodies = split_body(blocks, limit=self.body_limit, fmt=self.format, separator=SEPARATORS[self.format])
        titles = [_numbered(title, i, len(bodies), self.title_limit, self.title_bytes) for i in range(len(bodies))]
        return list(zip(titles, bodies, strict=True))

    async def send(self, message: Message) -> str | None:
        """Send every part; None on success, else a reason that contains no part of the URL.

        A retry after a failure midway sends every part again: a repeated part is better
        than a missing one."""
        if not self.valid:
            return "the channel URL is not a URL apprise understands"
        for title, body in self.parts(message):
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    result = await self._apprise.async_notify(
                        body=body, title=title, body_format=apprise.NotifyFormat(self.format))
            except TimeoutError:
                return f"{self.service} did not answer within {SEND_TIMEOUT:.0f}s"
            if not result:
                status = getattr(getattr(result, "status", None), "name", "failed")
                cause = _cause(result)
                return f"{self.service} refused or failed ({str(status).lower()})" + (f": {cause}" if cause else "")
        return None


CAUSE_CHARS = 300


def _cause(result: object) -> str:
    """What apprise logged of the failure, e.g. "Failed to send JSON POST notification:
    Internal server error., error=500.": an HTTP 500, a refused connection and a timeout
    otherwise all read "refused or failed". Secrets from ${ENV} are masked; apprise masks
    the rest of its URLs itself."""
    try:
        said = [entry.message for service in result for entry in service.logs()  # type: ignore[attr-defined]
                if entry.level in ("WARNING", "ERROR") and entry.message]
    except (TypeError, AttributeError):  # not the result apprise 2 returns
        return ""
    if not said:
        return ""
    cause = redact(" ".join(said[-1].split()))
    return cause if len(cause) <= CAUSE_CHARS else cause[:safe_cut(cause, CAUSE_CHARS - 1)] + "…"


def _title_block(title: str, fmt: str) -> str:
    if fmt == "html":
        return f"<p><strong>{html.escape(title)}</strong></p>"
    return f"**{escape_markdown(title)}**" if fmt == "markdown" else title


def _numbered(title: str, index: int, total: int, limit: int, max_bytes: int = 0) -> str:
    """``title``, with its part number when there are parts, cut to ``limit`` characters and
    ``max_bytes`` UTF-8 bytes (0: no limit) at a word, or at a character where the last word
    break would drop most of it (a headline in Chinese has none)."""
    suffix = f" ({index + 1}/{total})" if total > 1 and title else ""
    room = limit - len(suffix) - 1 if limit > 0 and len(title) + len(suffix) > limit else len(title)
    if max_bytes and len((title + suffix).encode()) > max_bytes:
        fits = max_bytes - len(suffix.encode()) - len("…".encode())
        room = min(room, len(title.encode()[:max(fits, 0)].decode("utf-8", "ignore")))
    if room < len(title):
        head = title[:safe_cut(title, max(room, 0))] if room > 0 else ""
        space = head.rfind(" ")
        title = (head[:space] if space > len(head) // 2 else head) + "…"
    return title + suffix


def _template_reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"


def _service_name(loaded: apprise.Apprise) -> str:
    for plugin in loaded:
        return str(getattr(plugin, "service_name", None) or type(plugin).__name__)
    return "unknown service"


@dataclass(frozen=True)
class _Waiting:
    """A channel's head message waiting for its retry: until when, and its rows."""

    until: datetime
    ids: frozenset[int]


@dataclass(frozen=True, kw_only=True)
class _Unit:
    """What goes out as one message: one item's rows, or a digest's rows. ``due_since``
    is when it was first due (a digest's time), the start of its give-up age."""

    rows: tuple[OutboxRow, ...]
    due_since: datetime
    digest: bool = False

    @property
    def next_attempt_at(self) -> datetime:
        return max(r.next_attempt_at for r in self.rows)

    @property
    def done_targets(self) -> set[int]:
        # A target took the message only if it took it for every row in it.
        return set.intersection(*(set(r.done_targets) for r in self.rows))


class Deliverer:
    """Drains the outbox: every channel in its own task, alerts in publication order."""

    def __init__(self, store: Store, *, channels: Mapping[str, Sequence[str]],
                 source_names: Mapping[str, str], timezone: ZoneInfo, give_up: timedelta,
                 clock: Callable[[], datetime] = utcnow,
                 modes: Mapping[tuple[str, str], DeliveryMode] | None = None,
                 max_per_minute: Mapping[str, int] | None = None,
                 templates: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.timezone = timezone
        self.give_up = give_up
        self.source_names = dict(source_names)
        self.clock = clock
        self.modes = dict(modes or {})
        self.max_per_minute = dict(max_per_minute or {})
        self.templates = dict(templates or {})
        self.targets = {name: [Target(name, i, url) for i, url in enumerate(urls)]
                        for name, urls in channels.items()}
        self._recent: dict[str, deque[datetime]] = defaultdict(deque)
        # One lock a channel: a channel drains alone, in order, while the others go their own
        # pace (one lock for all held a healthy channel's alert behind a slow one's backlog).
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # channel -> its messages being posted, shielded from cancellation
        self._sending: defaultdict[str, set[asyncio.Future[str]]] = defaultdict(set)
        # channel -> when the message at the head of its queue may be tried again, and that
        # message's rows. Until then the channel's later alerts wait behind it, so a drain
        # need not read them: during an outage each matching poll asked for a drain, and
        # reading and decoding the whole queue each time was 13% of the daemon's CPU.
        self._waiting: dict[str, _Waiting] = {}
        self._unconfigured: set[str] = set()  # channels with queued alerts that the config no longer names
        self._asked: set[str] = set()  # channels a drain was asked for while another run held them
        self._retired = False  # a reload's deliverer took over: runs under way stop at their next message
        self._holders: dict[str, Deliverer] = {}  # channel -> the deliverer whose run holds its lock

    def succeed(self, previous: Deliverer) -> None:
        """Take over from the deliverer of the config before a reload: its channels' locks, so
        the two never drain a channel at once (which could send an alert twice), its posts
        under way and its rate-limit windows. Not what waits for a retry: a reload may have
        mended a channel's URL. Its runs under way finish the post they are making and stop:
        the rest is this one's to send, with the new config."""
        self._locks = previous._locks
        self._recent = previous._recent
        self._sending = previous._sending
        self._holders = previous._holders
        previous._retired = True

    async def drain(self, *, stop_by: float | None = None, wait: bool = False) -> DeliveryReport:
        """Send every due alert once, each channel on its own. A channel that another run is
        draining (a slow one clearing its backlog) is left to that run, unless ``wait``; the
        others go now. ``stop_by`` (the event loop's time): no message starts after it; the
        rest stay queued."""
        channels = []
        for name in self._channels_to_drain():
            holder = self._holders.get(name)
            # A run of the deliverer before a reload stops after its post: this one waits for
            # it, rather than leave the channel to the next tick.
            if wait or not self._locks[name].locked() or (holder is not None and holder._retired):
                channels.append(name)
            else:
                self._asked.add(name)  # the run under way reads the channel once more before it ends
        # return_exceptions: one channel's fault is not another's, and each holds its lock to its end.
        outcomes = await asyncio.gather(*(self._drain_alone(name, stop_by) for name in channels),
                                        return_exceptions=True)
        reports: list[DeliveryReport] = []
        for name, outcome in zip(channels, outcomes, strict=True):
            if isinstance(outcome, DeliveryReport):
                reports.append(outcome)
            elif isinstance(outcome, Exception):
                log.error("delivery channel=%s status=error reason=%s", name, type(outcome).__name__,
                          exc_info=outcome)
            else:
                raise outcome
        return DeliveryReport.total(reports)

    async def _drain_alone(self, channel: str, stop_by: float | None) -> DeliveryReport:
        async with self._locks[channel]:
            self._holders[channel] = self
            if self._sending[channel]:  # posts of a run cancelled mid-send: their outcome first
                await asyncio.wait(set(self._sending[channel]))
            return await self._drain_pages(channel, stop_by)

    def _channels_to_drain(self) -> list[str]:
        """Channels with queued alerts, but those whose head message waits for its retry
        and is still the channel's first queued row (another process may have sent it, or a
        row queued since may sort ahead of it). A channel with a digest or quiet hours is
        always read: its held alerts may come due before the retry."""
        now = self.clock()
        drained = []
        for channel in self.store.queued_channels():
            waiting = self._waiting.get(channel)
            if (waiting is not None and waiting.until > now and not self._holds(channel)
                    and self.store.queued_head(channel) in waiting.ids):
                continue
            drained.append(channel)
        return drained

    def _wait(self, channel: str, unit: _Unit, until: datetime) -> None:
        # As stored (whole seconds), so a drain in the second the database calls due sends it.
        self._waiting[channel] = _Waiting(until=until.replace(microsecond=0), ids=frozenset(r.id for r in unit.rows))

    def _holds(self, channel: str) -> bool:
        return any(c == channel and mode != IMMEDIATE for (_, c), mode in self.modes.items())

    def _units(self, channel: str, rows: list[OutboxRow]) -> list[_Unit]:
        """Due messages in order: a due digest first (it holds the oldest items), then
        one unit per item. Alerts held by a digest or quiet hours are left out."""
        now = self.clock()
        digest: list[OutboxRow] = []
        digest_due: list[datetime] = []
        items: dict[int, list[OutboxRow]] = {}
        for row in rows:
            mode = self.modes.get((row.watchlist, channel), IMMEDIATE)
            if mode.digest is not None:
                due = mode.digest.next_after(row.created_at, self.timezone)
                if now >= due and row.next_attempt_at <= now:
                    digest.append(row)
                    digest_due.append(due)
            elif mode.quiet is None or not mode.quiet.contains(now, self.timezone):
                items.setdefault(row.item_id, []).append(row)
        units = [_Unit(rows=tuple(digest), due_since=min(digest_due), digest=True)] if digest else []
        return units + [_Unit(rows=tuple(group), due_since=min(r.created_at for r in group))
                        for group in items.values()]

    async def _drain_pages(self, channel: str, stop_by: float | None) -> DeliveryReport:
        """The channel's queued rows, a page at a time while each page goes whole. A page
        ends before its last item's rows, which may go on past it: an item's rows for
        several watch lists are one message (only an item matched by more than PAGE watch
        lists goes as two). A channel that holds alerts is read at once, as its held rows
        may fill any page."""
        paged = not self._holds(channel)
        reports: list[DeliveryReport] = []
        while True:
            self._asked.discard(channel)
            rows = self.store.queued_alerts(limit=PAGE if paged else QUERY_LIMIT, channels=[channel])
            more = paged and len(rows) == PAGE
            if more:
                rows = [row for row in rows if row.item_id != rows[-1].item_id] or rows
            report, whole = await self._drain_channel(channel, rows, stop_by)
            reports.append(report)
            # Read again while the rows went whole and more wait: the page's successors, or
            # alerts queued meanwhile whose drain was left to this run (else the next tick's).
            if not (whole and (more or channel in self._asked)):
                return DeliveryReport.total(reports)

    async def _drain_channel(self, channel: str, rows: list[OutboxRow],
                             stop_by: float | None) -> tuple[DeliveryReport, bool]:
        """Send ``rows``' due messages in order; also whether all of them were dealt with
        (none left waiting for a retry or for the rate limit)."""
        sent = retrying = failed = 0
        self._waiting.pop(channel, None)
        targets = self.targets.get(channel)
        if targets is None:
            # A channel the config no longer names: a reload that renamed it by mistake must not
            # lose its alerts, so they wait for it to come back, up to the give-up age.
            now = self.clock()
            expired = [row for row in rows if now - row.created_at >= self.give_up]
            for row in expired:
                self.store.mark_failed(row.id, error=f"gave up: channel {channel!r} is no longer configured")
                log.error("delivery channel=%s alert=%d status=failed reason=channel-removed (gave up)",
                          channel, row.id)
            left = [row for row in rows if now - row.created_at < self.give_up]
            if left:
                # They can only wait: not read again until the oldest of them gives up (a
                # reload naming the channel again makes a new deliverer, which reads them).
                self._waiting[channel] = _Waiting(until=min(r.created_at for r in left) + self.give_up,
                                                  ids=frozenset(r.id for r in left))
            if left and channel not in self._unconfigured:
                self._unconfigured.add(channel)
                log.warning("delivery channel=%s status=waiting reason=channel-removed: its %d alerts stay "
                            "queued until the config names it again, or until the give-up age",
                            channel, len(left))
            return DeliveryReport(failed=len(expired)), False
        self._unconfigured.discard(channel)
        loop = asyncio.get_running_loop()
        for unit in self._units(channel, rows):
            if self._retired or (stop_by is not None and loop.time() >= stop_by):
                return DeliveryReport(sent=sent, retrying=retrying, failed=failed), False
            now = self.clock()
            if unit.next_attempt_at > now:
                # An earlier alert is waiting for a retry: later ones wait behind it.
                self._wait(channel, unit, unit.next_attempt_at)
                return DeliveryReport(sent=sent, retrying=retrying, failed=failed), False
            started = time.perf_counter()
            try:
                message = self._render(unit)
            except Exception as exc:  # noqa: BLE001 - a fault of ours in one alert must not hold every later one
                reason = f"could not be rendered: {type(exc).__name__}: {exc}"
                for row in unit.rows:
                    self.store.mark_failed(row.id, error=reason)
                log.error("delivery channel=%s alert=%s status=failed reason=%r", channel,
                          ",".join(str(r.id) for r in unit.rows), reason, exc_info=exc)
                failed += len(unit.rows)
                continue
            done = unit.done_targets
            posts = sum(len(t.parts(message)) for t in targets if t.index not in done)
            if not self._may_send(channel, now, posts):
                log.info("delivery channel=%s status=rate-limited (the rest of its queue waits)", channel)
                return DeliveryReport(sent=sent, retrying=retrying, failed=failed), False
            # Shielded: a drain cancelled mid-send (the daemon's stop deadline) leaves apprise's
            # thread posting anyway; the send runs on to record its outcome, and the next
            # drain waits for it rather than post the still-queued alert a second time.
            outcome = await self._unabandoned(channel, self._send_unit(channel, unit, message, targets, now, started))
            if outcome == "sent":
                sent += len(unit.rows)
            elif outcome == "failed":
                failed += len(unit.rows)
            else:
                retrying += len(unit.rows)
                return DeliveryReport(sent=sent, retrying=retrying, failed=failed), False
        return DeliveryReport(sent=sent, retrying=retrying, failed=failed), True

    async def _unabandoned(self, channel: str, work: Coroutine[None, None, str]) -> str:
        task = asyncio.ensure_future(work)
        sending = self._sending[channel]
        sending.add(task)
        task.add_done_callback(sending.discard)
        return await asyncio.shield(task)

    async def _send_unit(self, channel: str, unit: _Unit, message: Message, targets: Sequence[Target],
                         now: datetime, started: float) -> str:
        """Post one message to every target that has not taken it, and record the outcome:
        "sent", "failed" (given up) or "retry"."""
        done = unit.done_targets
        errors: list[str] = []
        for target in targets:
            if target.index in done:
                continue
            reason = await target.send(message)
            self._recent[channel].extend([self.clock()] * len(target.parts(message)))
            if reason is None:
                done.add(target.index)
            else:
                errors.append(reason)
        ms = (time.perf_counter() - started) * 1000
        ids = ",".join(str(r.id) for r in unit.rows)
        watchlists = ",".join(dict.fromkeys(r.watchlist for r in unit.rows))
        kind = "digest" if unit.digest else "alert"
        if not errors:
            for row in unit.rows:
                self.store.mark_sent(row.id, now=self.clock())
            log.info("delivery channel=%s %s=%s watchlist=%s status=sent ms=%.0f", channel, kind, ids, watchlists, ms)
            return "sent"
        error = "; ".join(errors)
        if now - unit.due_since >= self.give_up:
            for row in unit.rows:
                self.store.mark_failed(row.id, error=f"gave up after {row.attempts + 1} attempts: {error}", tried=True)
            log.error("delivery channel=%s %s=%s status=failed reason=%r (gave up)", channel, kind, ids, error)
            return "failed"
        attempts = max(r.attempts for r in unit.rows) + 1
        next_attempt = now + retry_delay(attempts)
        for row in unit.rows:
            self.store.mark_retry(row.id, error=error, next_attempt=next_attempt, done_targets=sorted(done))
        self._wait(channel, unit, next_attempt)
        log.warning("delivery channel=%s %s=%s status=retry attempt=%d next=%s reason=%r",
                    channel, kind, ids, attempts, next_attempt.isoformat(timespec="seconds"), error)
        return "retry"

    def _may_send(self, channel: str, now: datetime, posts: int) -> bool:
        """Whether the channel's per-minute cap leaves room for ``posts`` more posts (every
        part to every target counts); beyond it, alerts stay queued. A message of more
        parts than the cap goes once the last minute is clear, or it would never go."""
        cap = self.max_per_minute.get(channel)
        if not cap:
            return True
        recent = self._recent[channel]
        while recent and recent[0] <= now - timedelta(minutes=1):
            recent.popleft()
        return not recent or len(recent) + posts <= cap

    def _render(self, unit: _Unit) -> Message:
        alerts = self._alerts(unit.rows)
        if not unit.digest:
            template = self.templates.get(alerts[0].watchlist)
            if template is not None:
                # Imported here: Jinja2 (~1.5 MB in the daemon) is for configs with templates.
                from monitor.notify.template import render_template

                try:
                    return render_template(alerts[0], template, timezone=self.timezone)
                except Exception as exc:  # noqa: BLE001 - a user's template is foreign code
                    # The load check renders sample values only; a real alert can still take a
                    # branch that fails (an index past the end of also_at, a str.format KeyError):
                    # an alert in the built-in layout beats a channel queue stuck behind it forever.
                    log.warning("template watchlist=%s status=failed reason=%r fallback=built-in",
                                alerts[0].watchlist, _template_reason(exc))
            return render(alerts[0], timezone=self.timezone)
        since = min(r.created_at for r in unit.rows)
        modes = [self.modes.get((r.watchlist, r.channel), IMMEDIATE).digest for r in unit.rows]
        previous = [m.previous(since, self.timezone) for m in modes if m is not None]
        return render_digest(alerts, timezone=self.timezone, since=min(previous) if previous else since)

    def _alerts(self, rows: Sequence[OutboxRow]) -> list[Alert]:
        """One alert per story (in row order), naming every watch list its rows carry.

        Rows of one item always share a story; rows of different items share one when the
        items matched different watch lists (a digest), and the story is listed once, as
        its earliest item, with every watch list's reason."""
        by_story: dict[tuple[str, int], list[OutboxRow]] = {}
        for row in rows:
            key = ("story", row.story_id) if row.story_id is not None else ("item", row.item_id)
            by_story.setdefault(key, []).append(row)
        also_at = other_sources(self.store.db, list(dict.fromkeys(group[0].item_id for group in by_story.values())))
        alerts = []
        for group in by_story.values():
            first = group[0]
            own = self._name(first.source_id)
            names = [n for n in dict.fromkeys(self._name(s) for s in also_at.get(first.item_id, ())) if n != own]
            reasons: dict[str, OutboxRow] = {}
            for row in group[1:]:
                if row.watchlist != first.watchlist:
                    reasons.setdefault(row.watchlist, row)
            alerts.append(Alert(
                title=first.title, source_name=own, published=first.published, first_seen=first.first_seen,
                watchlist=first.watchlist, terms=first.terms, snippet=first.snippet, snippets=first.snippets,
                url=first.url,
                also=tuple(Reason(watchlist=r.watchlist, terms=r.terms, snippet=r.snippet, snippets=r.snippets,
                                  url=r.url if r.item_id != first.item_id else "")
                           for r in reasons.values()),
                also_at=tuple(names)))
        return alerts

    def _name(self, source_id: str) -> str:
        return self.source_names.get(source_id, source_id)
