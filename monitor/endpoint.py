"""The daemon's HTTP endpoint: ``/healthz`` and ``/metrics`` on the daemon's own event loop.

A deliberately tiny HTTP/1.1 server (GET and HEAD, one request per connection) so the
endpoint needs no web framework and no thread: health is judged on the loop that runs
the scheduler, and the database is read from the thread that owns it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from http import HTTPStatus

from prometheus_client import CONTENT_TYPE_LATEST

from monitor.errors import ListenError

log = logging.getLogger(__name__)

READ_TIMEOUT = 10.0
MAX_HEADER_LINES = 100


class Endpoint:
    """Serves ``health()`` (None when healthy, else the reason) and ``metrics()`` bytes."""

    def __init__(self, *, host: str, port: int, health: Callable[[], str | None],
                 metrics: Callable[[], bytes]) -> None:
        self.host = host
        self.port = port
        self.health = health
        self.metrics = metrics
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen; raises ListenError naming the address when it cannot be bound."""
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise ListenError(f"http.listen {self.host}:{self.port}: cannot listen there: "
                              f"{exc.strerror or exc}") from exc
        log.info("http listening on %s:%d (/healthz, /metrics)", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                request = (await reader.readline()).decode("latin-1").split()
                for _ in range(MAX_HEADER_LINES):
                    if (await reader.readline()).strip() in (b"", b"\r\n"):
                        break
            try:
                status, content_type, body = self._answer(request)
            except Exception:  # the one broad catch per unit of work: a request
                log.exception("http request=%r failed", " ".join(request[:2]))
                status, content_type, body = HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain", b"internal error\n"
            head_only = bool(request) and request[0] == "HEAD"
            writer.write(
                f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
                + (b"" if head_only else body))
            await writer.drain()
        # ValueError: a line past the reader's 64 KiB limit (a scanner, a broken proxy), closed
        # unanswered, as a slow or reset client is; it logged a traceback at ERROR.
        except (TimeoutError, ConnectionError, UnicodeDecodeError, ValueError):
            pass
        finally:
            writer.close()

    def _answer(self, request: list[str]) -> tuple[HTTPStatus, str, bytes]:
        text = "text/plain; charset=utf-8"
        if len(request) != 3:
            return HTTPStatus.BAD_REQUEST, text, b"bad request\n"
        method, target = request[0], request[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return HTTPStatus.METHOD_NOT_ALLOWED, text, b"only GET and HEAD\n"
        if target == "/healthz":
            reason = self.health()
            if reason is None:
                return HTTPStatus.OK, text, b"ok\n"
            return HTTPStatus.SERVICE_UNAVAILABLE, text, f"unhealthy: {reason}\n".encode()
        if target == "/metrics":
            return HTTPStatus.OK, CONTENT_TYPE_LATEST, self.metrics()
        return HTTPStatus.NOT_FOUND, text, b"not found: try /healthz or /metrics\n"
