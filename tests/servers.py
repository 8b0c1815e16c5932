"""Real local servers for tests: a newsroom HTTP server and a webhook receiver, both on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (aiosmtpd rejects port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(server: socketserver.ThreadingTCPServer) -> Iterator[int]:
    """Serve ``server`` (bound to 127.0.0.1) from a background thread; yield its port; stop it on exit.
    A short poll interval makes shutdown, and so each test's teardown, quick."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    last_modified: float = 0.0
    delay: float = 0.0  # seconds to wait before answering: a slow publisher


@dataclass
class Newsroom:
    """A site whose pages tests publish and change while it runs.

    Every page carries an ETag (hash of its body) and a Last-Modified date, and answers a
    matching conditional GET with 304. ``requests`` logs (method, path, status) in order as
    they are answered; ``arrived`` logs each request's path as it comes in, before any delay.
    """

    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
                status: int = 200, delay: float = 0.0) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.pages[path] = Page(data, content_type, status, last_modified=_next_stamp(self.pages), delay=delay)
        return self.base_url + path

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> list[int]:
        """Statuses answered for ``path``, in order."""
        with self.lock:
            return [status for _, p, status in self.requests if p == path]


def _next_stamp(pages: dict[str, Page]) -> float:
    # Distinct, increasing Last-Modified seconds even when tests publish quickly.
    latest = max((p.last_modified for p in pages.values()), default=1_700_000_000.0)
    return latest + 1


def _make_handler(site: Newsroom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            path = self.path.split("?", 1)[0] if self.path.split("?", 1)[0] in site.pages else self.path
            with site.lock:
                site.arrived.append(path)
                page = site.pages.get(path)
            if page is None:
                self._answer(404, b"not found", "text/plain")
                return
            time.sleep(page.delay)
            etag = '"' + hashlib.sha1(page.body).hexdigest() + '"'
            last_modified = formatdate(page.last_modified, usegmt=True)
            if page.status == 200 and (
                self.headers.get("If-None-Match") == etag
                or (self.headers.get("If-None-Match") is None
                    and self.headers.get("If-Modified-Since") == last_modified)
            ):
                self._answer(304, b"", None, etag=etag, last_modified=last_modified)
                return
            self._answer(page.status, page.body, page.content_type, etag=etag, last_modified=last_modified)

        def _answer(self, status: int, body: bytes, content_type: str | None, *,
                    etag: str | None = None, last_modified: str | None = None) -> None:
            with site.lock:
                site.requests.append(("GET", self.path, status))
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            if etag:
                self.send_header("ETag", etag)
            if last_modified:
                self.send_header("Last-Modified", last_modified)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    return Handler


@contextmanager
def serve_newsroom() -> Iterator[Newsroom]:
    """Start a Newsroom on 127.0.0.1 in a background thread; stop it on exit."""
    site = Newsroom()
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(site))) as port:
        site.base_url = f"http://127.0.0.1:{port}"
        yield site


@dataclass
class WebhookReceiver:
    """Collects JSON bodies POSTed to it, as apprise's ``json://`` sends them. ``ack_delay``
    seconds pass between taking a body and answering: a send that long in flight."""

    received: list[dict[str, object]] = field(default_factory=list)
    port: int = 0
    refuse: bool = False
    refused: int = 0  # posts answered 503 while ``refuse`` was set
    ack_delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def apprise_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"


@contextmanager
def serve_webhook() -> Iterator[WebhookReceiver]:
    """Start a WebhookReceiver on 127.0.0.1; while ``refuse`` is set it answers 503."""
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            payload = self.rfile.read(length)
            status = 503 if receiver.refuse else 200
            if status == 200:
                with receiver.lock:
                    receiver.received.append(json.loads(payload or b"{}"))
                time.sleep(receiver.ack_delay)
            else:
                with receiver.lock:
                    receiver.refused += 1
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        receiver.port = port
        yield receiver


@dataclass
class Mailbox:
    """Messages an aiosmtpd server on 127.0.0.1 accepted, as parsed email messages.
    While ``refuse`` is set it answers every message with a temporary failure (451)."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False

    def apprise_url(self, user: str = "desk", password: str = "secret") -> str:
        return (f"mailto://{user}:{password}@127.0.0.1:{self.port}"
                "?from=monitor@example.org&to=desk@example.org")


@contextmanager
def serve_smtp() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 accepting any login, plain SMTP."""
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
            if box.refuse:
                return "451 4.3.0 Mail system temporarily unavailable"
            content = getattr(envelope, "original_content", None) or envelope.content
            box.messages.append(message_from_bytes(content, policy=policy.default))  # type: ignore[arg-type]
            return "250 OK"

    def accept_any(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        return AuthResult(success=True)

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port,
                            auth_require_tls=False, authenticator=accept_any)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Site:
    """Pages keyed by path and ``page`` query parameter (other parameters are ignored),
    each with its own headers; ``requests`` logs every path+query asked for, in order.
    ``connections`` counts the TCP connections made to it; ``idle_timeout`` (seconds) closes
    a kept-alive connection that long idle, as a server's keep-alive timeout does; ``delays``
    holds a page's answer back (its request is logged first)."""

    pages: dict[str, tuple[int, bytes, str, dict[str, str]]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    idle_timeout: float | None = None
    delays: dict[str, float] = field(default_factory=dict)  # seconds a page's answer waits, by key

    def put(self, key: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
            headers: dict[str, str] | None = None, status: int = 200) -> None:
        with self.lock:
            self.pages[key] = (status, body.encode() if isinstance(body, str) else body, content_type, headers or {})

    def asked(self, path: str) -> list[str]:
        with self.lock:
            return [r for r in self.requests if urlsplit(r).path == path]


@contextmanager
def serve_site() -> Iterator[Site]:
    """A loopback server answering each page of a Site with its own status and headers."""
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            pass

        def setup(self) -> None:
            self.timeout = state.idle_timeout  # the socket's: an idle connection's next read times out
            super().setup()
            with state.lock:
                state.connections += 1

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            parts = urlsplit(self.path)
            page = parse_qs(parts.query).get("page")
            key = parts.path + (f"?page={page[0]}" if page else "")
            with state.lock:
                state.requests.append(self.path)
                status, body, content_type, headers = state.pages.get(key, (404, b"not found", "text/plain", {}))
                delay = state.delays.get(key, 0.0)
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        state.base_url = f"http://127.0.0.1:{port}"
        yield state
