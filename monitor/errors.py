"""The exception tree of press-monitor.

    MonitorError                 base of everything we raise on purpose
    ├── ConfigError              the config or a watch list is invalid (one or more Problems)
    ├── FetchError               an HTTP request did not yield a usable body
    │   ├── FetchTimeout         the whole-request deadline passed
    │   ├── ResponseTooLarge     the (decompressed) body exceeded the byte cap
    │   ├── BadStatus            the server answered an error status (4xx/5xx)
    │   └── UnsafeRedirect       too many redirects, or one to a non-HTTP scheme
    ├── SourceError              a body could not be read as the source's kind
    ├── StoreError               the database file cannot be opened as one
    └── DeliveryError            a channel refused or failed to take an alert

Library exceptions are translated into these at the edge module that calls the library
(fetch, sources, deliver), always keeping the original as ``__cause__``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.redact import redact

if TYPE_CHECKING:  # for the annotation only: monitor.config imports this module
    from monitor.config.stamps import Stamps


class MonitorError(Exception):
    """Base class: every error press-monitor raises on purpose."""


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong in a config file, located as precisely as we can."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ConfigError(MonitorError):
    """Raised when the config or a watch list is invalid; carries every problem found.

    ``stamps``: what the rejected read took in (``monitor.config.stamps.Stamps``), so a
    daemon keeping its old config watches the files the edit names, a new pattern's first
    file among them; None where no whole read was made."""

    def __init__(self, problems: list[Problem], *, stamps: Stamps | None = None) -> None:
        self.problems = problems
        self.stamps = stamps
        super().__init__("\n".join(str(p) for p in problems))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled by its problems, not its message: the daemon's config loader raises it in a child process.
        return (type(self), (self.problems,), {"stamps": self.stamps})


class FetchError(MonitorError):
    """Raised when a request to ``url`` fails; ``reason`` is a short human sentence."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        # The URL may carry a token from ${ENV}; the message is what gets logged and stored.
        super().__init__(f"{reason} ({redact(url)})")


class FetchTimeout(FetchError):
    """Raised when the whole request, body included, outlives its deadline."""


class ResponseTooLarge(FetchError):
    """Raised when the body, after decompression, exceeds the configured byte cap."""


class BadStatus(FetchError):
    """Raised on an HTTP error status; ``retry_after`` is seconds if the server said."""

    def __init__(self, url: str, status: int, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(url, f"HTTP {status}")


class UnsafeRedirect(FetchError):
    """Raised for redirect loops, too many hops, or a redirect to a non-HTTP scheme."""


class SourceError(MonitorError):
    """Raised when a fetched body cannot be read as the source's kind (say, HTML for a feed)."""


class DeliveryError(MonitorError):
    """Raised when a channel does not accept an alert; the outbox row stays queued."""


class StoreError(MonitorError):
    """The database file cannot be opened as one: not SQLite, damaged, or not writable."""


class ListenError(MonitorError):
    """The daemon's ``http.listen`` address cannot be bound (in use, or not this machine's)."""
