"""Values the config took from ``${ENV}``: kept out of everything we write.

``load_config`` registers each substituted value with the name it came from; ``redact``
puts ``${NAME}`` back in their place, in the value's percent-encoded forms too, since an
error quoting a URL quotes it as the HTTP library encoded it. Errors that quote a URL (``FetchError``), the
reasons stored for a failed poll, and every log line (through ``RedactingFormatter``,
tracebacks included) pass through it, so a token in a source URL or a password in a
channel URL never reaches a log, the database, a health notice or the terminal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from urllib.parse import quote, quote_plus

MIN_LENGTH = 4  # shorter values (a port, "true") are not secrets, and replacing them would garble text

_known: dict[str, str] = {}


def remember(values: Mapping[str, str]) -> None:
    """Register substituted values (value -> variable name) for the rest of the process,
    each also in the percent-encoded forms a URL library may quote it in."""
    for value, name in values.items():
        if len(value) >= MIN_LENGTH:
            _known.update(dict.fromkeys(_encodings(value), name))


def registered() -> dict[str, str]:
    """Every registered form -> its variable, for a process that loaded the config to hand over."""
    return dict(_known)


def adopt(forms: Mapping[str, str]) -> None:
    """Take over what ``registered`` gave in the process that loaded the config."""
    _known.update(forms)


# What RFC 3986 lets stand unencoded in a path or query: httpx keeps these as they are
# (``a b@c/d`` in a query becomes ``a%20b@c/d``), and yarl also writes a space as ``+``.
_URL_SAFE = "!$&'()*,;=:@/?~"


_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def _encodings(value: str) -> set[str]:
    """``value`` as written raw and as httpx, yarl and urllib may have percent-encoded it,
    with the escapes in either case (yarl writes ``%EF``, urllib ``%ef`` is legal too)."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), quote(value, safe=_URL_SAFE),
             quote_plus(value, safe=_URL_SAFE)} | _as_written_by_libraries(value)
    return forms | {_PERCENT.sub(lambda m: m.group().upper(), f) for f in forms} \
        | {_PERCENT.sub(lambda m: m.group().lower(), f) for f in forms}


def _as_written_by_libraries(value: str) -> set[str]:
    """The value in a path and in a query as the two HTTP stacks we use write them: each
    library has its own set of characters it leaves alone, and no quote() call matches all."""
    import httpx  # here, not at the top: the config loader imports this module, the CLI's --help must stay light
    import yarl

    written: set[str] = set()
    for make in (httpx.URL, yarl.URL):
        for prefix in ("http://h/?q=", "http://h/p/"):
            try:
                url = str(make(prefix + value))
            except (ValueError, TypeError, httpx.InvalidURL):
                continue
            if url.startswith(prefix):
                written.add(url[len(prefix):])
    return written


def redact(text: str) -> str:
    """``text`` with every registered value replaced by its ``${NAME}``, longest first."""
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, f"${{{_known[value]}}}")
    return text


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter so that nothing it writes, traceback included, holds a secret."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))
