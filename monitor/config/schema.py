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

import re
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from monitor.match import term_problem

DEFAULT_EVERY = timedelta(minutes=10)
DEFAULT_JITTER = timedelta(0)
DEFAULT_TIMEOUT = timedelta(seconds=20)
DEFAULT_GIVE_UP = timedelta(days=3)
DEFAULT_DATABASE = "data/monitor.db"
DEFAULT_TIMEZONE = "UTC"

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


def parse_duration(text: str) -> timedelta:
    """``45s``, ``10m``, ``2h``, ``1d``, ``1h30m`` -> timedelta; ValueError otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration ({_DURATION_HINT})")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
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
    except ValueError:
        raise invalid("is not a duration", _DURATION_HINT) from None


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise invalid("is zero", "expected a duration longer than 0s")
    return value


def _cron(value: str) -> str:
    fields = value.split()
    try:
        if len(fields) == 5:
            fields[4] = crontab_weekdays(fields[4])
        expression = " ".join(fields)
        CronTrigger.from_crontab(expression)
    except ValueError as exc:
        raise invalid(
            "is not a cron expression",
            "expected 5 fields: minute hour day month weekday, like */5 7-22 * * *",
            str(exc),
        ) from None
    return expression


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


def _web_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in value.strip():
        raise invalid("is not a web address", "expected http:// or https:// and a host name")
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


def _term(value: str) -> str:
    sentence = term_problem(value)
    if sentence is not None:
        raise message(sentence)
    return value


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
WebUrl = Annotated[str, AfterValidator(_web_url)]
NotifyUrl = Annotated[str, AfterValidator(_notify_url)]
SourceId = Annotated[str, AfterValidator(_source_id)]
Kind = Annotated[str, AfterValidator(_kind)]
Timezone = Annotated[str, AfterValidator(_timezone)]
Term = Annotated[str, AfterValidator(_text), AfterValidator(_term)]
Terms = Annotated[tuple[Term, ...], BeforeValidator(_one_or_many)]
Names = Annotated[tuple[Text, ...], BeforeValidator(_one_or_many), _not_empty("name")]
NotifyUrls = Annotated[tuple[NotifyUrl, ...], BeforeValidator(_one_or_many), _not_empty("notification URL")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Selectors(_Model):
    """CSS selectors for an html listing: one ``item`` element per entry, ``link`` inside it."""

    item: Text
    link: Text = "a"
    title: Text | None = None
    date: Text | None = None
    content: Text | None = None


class Defaults(_Model):
    """What every source inherits unless it says otherwise, and delivery's give-up age.

    After validation exactly one of ``every`` and ``cron`` is set (``every`` is 10m if the
    file names neither).
    """

    every: PositiveDuration | None = None
    cron: Cron | None = None
    jitter: Duration = DEFAULT_JITTER
    timeout: PositiveDuration = DEFAULT_TIMEOUT
    fetch_articles: bool = True
    backfill: bool = False
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
    ready for ``CronTrigger.from_crontab`` (weekdays spelled out: see ``crontab_weekdays``).
    """

    id: SourceId
    name: Text
    url: WebUrl
    kind: Kind | None = None
    every: PositiveDuration | None = None
    cron: Cron | None = None
    jitter: Duration = DEFAULT_JITTER
    timeout: PositiveDuration = DEFAULT_TIMEOUT
    fetch_articles: bool = True
    backfill: bool = False
    select: Selectors | None = None

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


class WatchListConfig(_Model):
    """One watch list: any of ``keywords``, all of ``require``, none of ``exclude``.

    ``sources`` None means every source. ``file`` and ``line`` say where it was defined
    (``file`` as the user would write it), for messages.
    """

    name: Text
    keywords: Terms = ()
    require: Terms = ()
    exclude: Terms = ()
    sources: Names | None = None
    notify: Names
    file: str
    line: int = 1


class Config(_Model):
    """The whole validated configuration; paths are absolute, defaults applied.

    ``files`` is every file it was built from (the config, then each watch-list file) and
    ``watchlist_globs`` the absolute patterns that found them, for a reloader to re-check.
    ``give_up`` is ``defaults.give_up``: how long delivery keeps retrying an alert.
    """

    path: Path
    database: Path
    timezone: Timezone = DEFAULT_TIMEZONE
    defaults: Defaults = Defaults()
    channels: dict[str, tuple[str, ...]] = {}
    sources: tuple[SourceConfig, ...] = ()
    watchlists: tuple[WatchListConfig, ...] = ()
    give_up: timedelta = DEFAULT_GIVE_UP
    files: tuple[Path, ...] = ()
    watchlist_globs: tuple[str, ...] = ()

    def watch_files(self) -> tuple[Path, ...]:
        """Every file this config was read from: change one and the config may change."""
        return self.files

    def source(self, source_id: str) -> SourceConfig:
        """The source with this id; KeyError if there is none."""
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)
