"""The validated configuration: the models ``load_config`` returns, and their value types.

Every value type here rejects bad input with one of three ``PydanticCustomError`` types
that ``monitor.config.load`` turns into our sentences, quoting the text as the file wrote
it (never a value that came from the environment):

- ``monitor_value``: ctx ``problem``, ``expected`` and optionally ``detail``, read as
  ``'10 minutes' is not a duration (use 30s, 10m, 2h)``;
- ``monitor_type``: ctx ``expected``, read as ``got a list (expected a duration ...)``;
- ``monitor_message``: ctx ``message``, used as it is.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from monitor.config.stamps import Stamps
from monitor.match import term_problem
from monitor.watchlang import Condition, TermError, condition_from_yaml

DEFAULT_EVERY = timedelta(minutes=10)
DEFAULT_JITTER = timedelta(0)
DEFAULT_TIMEOUT = timedelta(seconds=20)
DEFAULT_GIVE_UP = timedelta(days=3)
DEFAULT_DATABASE = "data/monitor.db"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_HEALTH_FAILURES = 3
DEFAULT_HEALTH_SILENCE = 3.0
DEFAULT_MAX_PAGES = 3
MAX_MAX_PAGES = 20

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_SOURCE_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_DURATION_HINT = "use 30s, 10m, 2h"


def invalid(problem: str, expected: str, detail: str = "") -> PydanticCustomError:
    """A value that is the wrong text: ``'<as written>' <problem>[: <detail>] (<expected>)``."""
    ctx = {"problem": problem, "expected": expected, "detail": detail}
    return PydanticCustomError("monitor_value", "{problem} ({expected})", ctx)


def wrong_type(expected: str) -> PydanticCustomError:
    """A value of the wrong shape (a list where text belongs): ``got a list (<expected>)``."""
    return PydanticCustomError("monitor_type", "wrong kind of value ({expected})", {"expected": expected})


def message(text: str) -> PydanticCustomError:
    """A problem whose sentence needs no quoted value."""
    return PydanticCustomError("monitor_message", "{message}", {"message": text})


MAX_DURATION = timedelta(days=3650)  # past this a poll interval or a give-up age means "never", and dates overflow


class DurationTooLong(ValueError):
    """A duration over ``MAX_DURATION``."""


def parse_duration(text: str) -> timedelta:
    """``45s``, ``10m``, ``2h``, ``1d``, ``1h30m`` -> timedelta; ValueError otherwise
    (DurationTooLong past ``MAX_DURATION``: ``1000000000d`` overflowed timedelta, and a
    source every 999999999d broke the daemon's date arithmetic)."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration ({_DURATION_HINT})")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    if days * 86400 + hours * 3600 + minutes * 60 + seconds > MAX_DURATION.total_seconds():
        raise DurationTooLong(f"{text!r} is longer than {MAX_DURATION.days}d")
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of ``parse_duration``: ``timedelta(minutes=90)`` -> ``1h30m``."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise wrong_type(f"expected a duration; {_DURATION_HINT}")
    try:
        return parse_duration(value)
    except DurationTooLong:
        raise invalid("is too long", f"expected at most {MAX_DURATION.days}d") from None
    except ValueError:
        raise invalid("is not a duration", _DURATION_HINT) from None


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise invalid("is zero", "expected a duration longer than 0s")
    return value


@functools.lru_cache(maxsize=1024)  # 10,000 sources share a few expressions; each check costs ~0.1 ms
def _cron(value: str) -> str:
    fields = value.split()
    try:
        if len(fields) == 5:
            fields[4] = crontab_weekdays(fields[4])
        expression = " ".join(fields)
        trigger = crontab_trigger(expression)
    except ValueError as exc:
        raise invalid(
            "is not a cron expression",
            "expected 5 fields: minute hour day month weekday, like */5 7-22 * * *",
            str(exc),
        ) from None
    now = datetime.now(UTC)
    # Each half of a day-or-weekday expression too: one that never comes costs every later
    # "next time" question a search to the year 9999 (0.16 s), though the other half answers.
    if any(t.get_next_fire_time(None, now) is None for t in getattr(trigger, "triggers", [trigger])):
        raise invalid("never comes", "expected a day that exists, like 28 2 rather than 30 2")
    return expression


def crontab_trigger(expression: str, tz: tzinfo | None = None) -> BaseTrigger:
    """The trigger of a crontab ``expression`` (weekdays as ``crontab_weekdays`` spells
    them), with cron's rule for the two day fields: when both are given, a day matching
    either fires (``0 9 1 * mon``: the 1st of each month, and every Monday). APScheduler
    alone asks for both, and fired on the Mondays that are a 1st. As in Vixie cron, a day
    of the month that starts with ``*`` (``*/2``) counts as not given: then both must match."""
    fields = expression.split()
    if len(fields) == 5 and not fields[2].startswith("*") and fields[4] != "*":
        minute, hour, day, month, weekday = fields
        return OrTrigger([CronTrigger.from_crontab(f"{minute} {hour} {day} {month} *", timezone=tz),
                          CronTrigger.from_crontab(f"{minute} {hour} * {month} {weekday}", timezone=tz)])
    return CronTrigger.from_crontab(expression, timezone=tz)


def crontab_weekdays(field: str) -> str:
    """A crontab weekday field (0 or 7 = Sunday) as APScheduler 3 day names.

    APScheduler 3's ``from_crontab`` counts 0 as Monday, so ``1-5`` would silently mean
    Tuesday to Saturday; we spell the days out (``1-5`` -> ``mon,tue,wed,thu,fri``).
    """
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        base, _, step_text = part.partition("/")
        if step_text and not step_text.isdigit():
            raise ValueError(f"weekday step {step_text!r} is not a number")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        else:
            low, _, high = base.partition("-")
            first = _weekday(low)
            last = _weekday(high) if high else (6 if step_text else first)
            if high and last == 0 and high.strip() == "7":
                last = 7
        if last < first or step < 1:
            raise ValueError(f"weekday range {part!r} runs backwards")
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_WEEKDAYS[d] for d in (1, 2, 3, 4, 5, 6, 0) if d in days)


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(text: str) -> int:
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text) % 7
    raise ValueError(f"weekday {text!r} is not 0-7 or sun-sat")


def _text(value: str) -> str:
    if not value.strip():
        raise invalid("is empty", "expected some text")
    return value


def _css(value: str) -> str:
    """A selector selectolax can run: checked here, a typo is an error at its line, not a
    traceback at every poll."""
    try:
        _CSS_PROBE.css(value)
    except SelectolaxError:
        raise invalid("is not a CSS selector", "expected a selector like li.press-release or "
                      "div#main > article") from None
    return value


_CSS_PROBE = LexborHTMLParser("<p></p>")


def _web_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in value.strip():
        raise invalid("is not a web address", "expected http:// or https:// and a host name")
    try:
        parts.port  # noqa: B018  (raises ValueError for a port that is no number in 0-65535)
    except ValueError:
        raise invalid("has a port that is no port", "expected a number from 1 to 65535 after the host") from None
    return value.strip()


def _notify_url(value: str) -> str:
    if not _URL_SCHEME.fullmatch(value.strip()):
        raise invalid("is not a notification URL", "expected an apprise URL like mailtos://... or console://")
    return value.strip()


def _source_id(value: str) -> str:
    if not _SOURCE_ID.fullmatch(value):
        raise invalid("is not a source id", "expected lower-case letters, digits, - and _, like ispr")
    return value


def _kind(value: str) -> str:
    from monitor.sources.registry import KINDS

    if value not in KINDS:
        raise invalid("is not a source kind", f"expected one of: {', '.join(KINDS)}")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise invalid("is not a time zone", "expected an IANA name like Asia/Karachi or UTC") from None
    return value


def _listen(value: str) -> str:
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host.strip("[]"):
        raise invalid("is not a listen address", "expected host:port like 127.0.0.1:9108 or 0.0.0.0:9108")
    return value.strip()


def listen_address(listen: str) -> tuple[str, int]:
    """``127.0.0.1:9108`` -> (``127.0.0.1``, 9108); ``[::1]:9108`` -> (``::1``, 9108)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def _max_pages(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("is not a page count", f"expected a number of pages, 1 to {MAX_MAX_PAGES}")
    if not 1 <= value <= MAX_MAX_PAGES:
        raise invalid("is not a page count", f"expected 1 to {MAX_MAX_PAGES}; 1 reads only the first page")
    return value


def _failures(value: int) -> int:
    if value < 1:
        raise invalid("is not a count of polls", "expected a whole number of at least 1, like 3")
    return value


def _multiple(value: Any) -> float:
    try:
        number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else 0.0
    except ValueError:
        number = 0.0
    if not number > 1 or number == float("inf"):
        raise invalid("is not a multiple of the usual gap", "expected a number above 1, like 3")
    return number


def _channel_shorthand(value: Any) -> Any:
    return {"channel": value} if isinstance(value, str) else value


def _term(value: Any) -> Condition:
    """A term string or a nested group (``{all: [...]}``), checked by ``monitor.watchlang``.
    The loader checks later, each at its own line, the terms inside a group (here, the first
    bad one would stand for them all, at the group's line) and ``@alias`` names, once the
    aliases are known."""
    if isinstance(value, str) and not value.strip():
        raise invalid("is empty", "expected some text")
    try:
        return condition_from_yaml(value, term_problem if isinstance(value, str) else _checked_by_the_loader)
    except TermError as exc:
        raise message(str(exc)) from None


def _checked_by_the_loader(term: str) -> None:
    return None


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _not_empty(what: str) -> AfterValidator:
    def check(value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise message(f"is an empty list (expected at least one {what})")
        return value

    return AfterValidator(check)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
Cron = Annotated[str, AfterValidator(_cron)]
Text = Annotated[str, AfterValidator(_text)]
Css = Annotated[str, AfterValidator(_text), AfterValidator(_css)]
WebUrl = Annotated[str, AfterValidator(_web_url)]
NotifyUrl = Annotated[str, AfterValidator(_notify_url)]
SourceId = Annotated[str, AfterValidator(_source_id)]
Kind = Annotated[str, AfterValidator(_kind)]
Timezone = Annotated[str, AfterValidator(_timezone)]
MaxPages = Annotated[int, BeforeValidator(_max_pages)]
Listen = Annotated[str, AfterValidator(_listen)]
_TERM_SCHEMA = {
    "anyOf": [
        {"type": "string", "description": "A word, phrase, /regex/, A | B, @alias, title:X or A ~10 B"},
        {"type": "object", "minProperties": 1, "maxProperties": 1,
         "description": "A group: {any: [...]}, {all: [...]}, {none: [...]}, {title: ...} or {body: ...}"},
    ]
}
Term = Annotated[Any, BeforeValidator(_term), WithJsonSchema(_TERM_SCHEMA)]
Terms = Annotated[tuple[Term, ...], BeforeValidator(_one_or_many)]
Names = Annotated[tuple[Text, ...], BeforeValidator(_one_or_many), _not_empty("name")]
NotifyUrls = Annotated[tuple[NotifyUrl, ...], BeforeValidator(_one_or_many), _not_empty("notification URL")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Selectors(_Model):
    """CSS selectors: on an html listing, one ``item`` element per entry with ``link``,
    ``title`` and ``date`` inside it; on each article page, the ``content`` holding the text.

    ``content`` alone suits any kind that fetches article pages (feed, sitemap, or html
    whose listing is then found automatically): only the article text is pinned.
    """

    # What the validator checks, told to editors too.
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={
        "anyOf": [{"required": ["item"]}, {"required": ["content"]}],
        "dependentRequired": {"link": ["item"], "title": ["item"], "date": ["item"]},
    })

    item: Css | None = None
    link: Css | None = None  # "a" once validated, when item is given
    title: Css | None = None
    date: Css | None = None
    content: Css | None = None

    @model_validator(mode="after")
    def _item_or_content(self) -> Selectors:
        if self.item is not None:
            if self.link is None:
                object.__setattr__(self, "link", "a")
            return self
        inside = [name for name in ("link", "title", "date") if getattr(self, name) is not None]
        if inside:
            raise ValueError(f"{inside[0]} without item ({inside[0]} is looked for inside each item: "
                             "give item too, or content alone to pin only the article text)")
        if self.content is None:
            raise ValueError("is empty (expected item for the listing's items, content for the article text, or both)")
        return self


class Defaults(_Model):
    """What every source inherits unless it says otherwise, and delivery's give-up age.

    After validation exactly one of ``every`` and ``cron`` is set (``every`` is 10m if the
    file names neither).
    """

    every: PositiveDuration | None = None
    cron: Cron | None = None
    min_every: PositiveDuration | None = None
    max_every: PositiveDuration | None = None
    jitter: Duration = DEFAULT_JITTER
    timeout: PositiveDuration = DEFAULT_TIMEOUT
    fetch_articles: bool = True
    backfill: bool = False
    max_pages: MaxPages = DEFAULT_MAX_PAGES
    give_up: PositiveDuration = DEFAULT_GIVE_UP

    @model_validator(mode="after")
    def _one_schedule(self) -> Defaults:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either every or cron, not both")
        if self.every is None and self.cron is None:
            object.__setattr__(self, "every", DEFAULT_EVERY)
        return self


class SourceConfig(_Model):
    """One source with the defaults applied: exactly one of ``every`` and ``cron`` is set.

    ``kind`` None means "detect from the listing". ``name`` defaults to ``id``. ``cron`` is
    ready for ``crontab_trigger`` (weekdays spelled out: see ``crontab_weekdays``).
    ``max_pages`` bounds how many listing pages a poll reads when every item on them is
    new (a burst). ``timezone`` is the zone of dates the source writes without one;
    ``load_config`` fills in the config's ``timezone`` when the source names none.
    With both ``min_every`` and ``max_every`` (never with ``cron``: the loader checks) the
    source is polled adaptively, by ``monitor.cadence``, within those bounds.
    """

    id: SourceId
    name: Text
    url: WebUrl
    # The url as the config writes it, ${NAME} and all, when it takes a variable: what the
    # database keeps of it, so that it holds no secret and a rotated token changes no source.
    url_written: str | None = None
    kind: Kind | None = None
    every: PositiveDuration | None = None
    cron: Cron | None = None
    min_every: PositiveDuration | None = None
    max_every: PositiveDuration | None = None
    jitter: Duration = DEFAULT_JITTER
    timeout: PositiveDuration = DEFAULT_TIMEOUT
    fetch_articles: bool = True
    backfill: bool = False
    max_pages: MaxPages = DEFAULT_MAX_PAGES
    timezone: Timezone | None = None
    select: Selectors | None = None

    @property
    def url_as_stored(self) -> str:
        """What the database keeps of ``url`` (``url_written``, when the url takes a variable)."""
        return self.url_written or self.url

    @model_validator(mode="before")
    @classmethod
    def _name_from_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("name") is None and "id" in data:
            return {**data, "name": data["id"]}
        return data

    @model_validator(mode="after")
    def _one_schedule(self) -> SourceConfig:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either every or cron, not both")
        if self.every is None and self.cron is None:
            object.__setattr__(self, "every", DEFAULT_EVERY)
        return self

    @property
    def adaptive(self) -> bool:
        """Whether the poll interval adapts within [min_every, max_every]."""
        return self.min_every is not None and self.max_every is not None and self.cron is None

    @property
    def firing_every(self) -> timedelta:
        """How often the schedule fires the poll of an interval (not cron) source:
        ``min_every`` when adaptive, as the poller skips the firings before the due time."""
        if self.adaptive and self.min_every is not None:
            return self.min_every
        return self.every or DEFAULT_EVERY


_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_CLOCK_HINT = "expected a time of day as HH:MM, like 08:00"
DEFAULT_STORY_WINDOW = timedelta(hours=72)


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)  # YAML 1.1 reads an unquoted 22:00 as 1320 (base 60)
    if not isinstance(value, str):
        raise wrong_type(_CLOCK_HINT)
    match = _CLOCK.fullmatch(value.strip())
    if match is None:
        raise invalid("is not a time of day", _CLOCK_HINT)
    return time(int(match.group(1)), int(match.group(2)))


def _quiet_hours(value: Any) -> tuple[time, time]:
    if isinstance(value, tuple):
        return value
    hint = "expected HH:MM-HH:MM in the config's timezone, like 22:00-07:00"
    if not isinstance(value, str):
        raise wrong_type(hint)
    start, sep, end = value.partition("-")
    if not sep or not _CLOCK.fullmatch(start.strip()) or not _CLOCK.fullmatch(end.strip()):
        raise invalid("is not a range of hours", hint)
    first, last = _clock(start), _clock(end)
    if first == last:
        raise invalid("is an empty range of hours", hint)
    return first, last


def _per_minute(value: int) -> int:
    if value < 1:
        raise invalid("is not a message count", "expected a whole number of at least 1, like 20")
    return value


def _channel_mapping(value: Any) -> Any:
    return value if isinstance(value, dict) else {"url": value}


ClockTime = Annotated[time, BeforeValidator(_clock, json_schema_input_type=str)]
HourRange = Annotated[tuple[time, time], BeforeValidator(_quiet_hours, json_schema_input_type=str)]


class DigestConfig(_Model):
    """A digest: at ``at`` (local time) and every ``every`` after it, one message listing
    the stories held since the last one."""

    every: PositiveDuration = timedelta(days=1)
    at: ClockTime = time(0, 0)


class DeliveryConfig(_Model):
    """How a watch list's alerts reach one channel: immediately (the default), in a
    ``digest``, and/or held during ``quiet_hours`` (start, end; may span midnight)."""

    digest: DigestConfig | None = None
    quiet_hours: HourRange | None = None


class ChannelConfig(_Model):
    """A channel written as a mapping: its apprise URL(s) and an optional rate cap (messages
    beyond ``max_per_minute`` wait, they are never dropped)."""

    url: NotifyUrls
    max_per_minute: Annotated[int, AfterValidator(_per_minute)] | None = None


Channel = Annotated[ChannelConfig, BeforeValidator(_channel_mapping)]


class StoriesConfig(_Model):
    """Story clustering: items within ``window`` of each other can be one story."""

    window: PositiveDuration = DEFAULT_STORY_WINDOW


class WatchListConfig(_Model):
    """One watch list: any of ``keywords``, all of ``require``, none of ``exclude``.

    ``sources`` None means every source. ``file`` and ``line`` say where it was defined
    (``file`` as the user would write it), for messages. ``delivery`` maps some of its
    ``notify`` channels to a delivery mode; the others get alerts immediately.
    ``template`` is the Jinja2 source of a message body (``monitor.notify.template``).
    """

    name: Text
    keywords: Terms = ()
    require: Terms = ()
    exclude: Terms = ()
    sources: Names | None = None
    notify: Names
    delivery: dict[str, DeliveryConfig] = {}
    template: str | None = None
    file: str
    line: int = 1


class HttpConfig(_Model):
    """The optional HTTP endpoint (/healthz, /metrics); absent means no listening socket."""

    listen: Listen


class HealthConfig(_Model):
    """Where to tell operators that a source needs attention, and when.

    ``failures``: polls failed in a row before telling. ``silence``: a source that has
    published regularly is reported when its latest item is older than this many of its
    usual gaps between items. The YAML may give just the channel name.
    """

    channel: Text
    failures: Annotated[int, AfterValidator(_failures)] = DEFAULT_HEALTH_FAILURES
    silence: Annotated[float, BeforeValidator(_multiple)] = DEFAULT_HEALTH_SILENCE


Health = Annotated[HealthConfig, BeforeValidator(_channel_shorthand)]


class Config(_Model):
    """The whole validated configuration; paths are absolute, defaults applied.

    ``files`` is every file it was built from (the config, then each alias and watch-list file) and
    ``stamps`` what the read that built it took in: each file's mtime and what each glob
    of alias and watch-list files matched, for a reloader to take again and compare.
    ``give_up`` is ``defaults.give_up``: how long delivery keeps retrying an alert.
    ``channel_limits`` is each rate-capped channel's ``max_per_minute``; ``story_window``
    is ``stories.window``.
    ``health`` None means source health is only logged. ``allow_private`` False refuses
    to fetch from loopback, private and link-local addresses (for shared watch lists).
    ``aliases`` maps each alias name (lower-cased) to its spellings, for ``@name`` terms.
    """

    path: Path
    database: Path
    timezone: Timezone = DEFAULT_TIMEZONE
    defaults: Defaults = Defaults()
    channels: dict[str, tuple[str, ...]] = {}
    sources: tuple[SourceConfig, ...] = ()
    watchlists: tuple[WatchListConfig, ...] = ()
    http: HttpConfig | None = None
    give_up: timedelta = DEFAULT_GIVE_UP
    channel_limits: dict[str, int] = {}
    story_window: timedelta = DEFAULT_STORY_WINDOW
    health: HealthConfig | None = None
    allow_private: bool = True
    files: tuple[Path, ...] = ()
    stamps: Stamps = Stamps()
    aliases: dict[str, tuple[str, ...]] = {}

    def watch_files(self) -> tuple[Path, ...]:
        """Every file this config was read from: change one and the config may change."""
        return self.files

    def source(self, source_id: str) -> SourceConfig:
        """The source with this id; KeyError if there is none."""
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)
