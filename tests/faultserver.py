"""A loopback HTTP server that misbehaves on purpose: one fault per path, written on the raw socket.

    /page               200 with a small HTML body
    /hang               reads the request, never answers
    /drip               headers, then one body byte every half second
    /status/<code>      that status; 503 adds Retry-After: 120, 429 Retry-After: 60;
                        ``?retry-after=<value>`` sends that value instead (``none``: no header)
    /reset              reads the request, then resets the connection (RST)
    /close              reads the request, then closes without answering
    /truncated          Content-Length: 1000, sends 10 bytes, closes
    /endless            a chunked body that never ends
    /bomb               Content-Encoding: gzip that inflates to 128 MiB
    /gzip, /deflate     small compressed pages (deflate without the zlib header)
    /bad-gzip           Content-Encoding: gzip over bytes that are not gzip
    /brotli             Content-Encoding: br, which we never asked for
    /huge               declares a Content-Length of 10 GB
    /loop/a, /loop/b    redirect to each other
    /hops/<n>           redirects n times before a page
    /dir/relative       redirects to ``../page`` (relative Location)
    /redirect?to=<url>  302 to any URL
    /lying-type         an HTML body sent as image/png
    /empty              200 with an empty body
    /slow               answers after 0.3 s (for concurrency counts)
    /feed-as-png        a valid RSS feed sent as image/png
    /garbage-as-rss     binary noise sent as application/rss+xml
    /bad-utf8           an RSS feed declared UTF-8 with bytes that are not UTF-8
    /wrong-charset      a UTF-8 RSS feed whose Content-Type claims charset=iso-8859-1
    /billion-laughs     an RSS feed whose DOCTYPE nests entities to a billion "lol"s
    /xxe                an RSS feed with an external entity naming ``xxe_target``
    /consent           a consent wall: a redirect to itself that sets a cookie, then the feed
    /cookie-loop       a redirect to itself that sets a new cookie every time

Each connection carries one request. ``headers`` logs every request's headers in order,
``targets`` its request target (path and query), and ``peak`` is the most ``/slow``
requests that were waiting for their answer at once.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from socketserver import BaseRequestHandler, ThreadingTCPServer
from urllib.parse import parse_qs, urlsplit

from tests.servers import serving

PAGE = b"<html><head><title>Hello</title></head><body><p>Hello.</p></body></html>"


def gzip_bomb(inflated: int = 128 << 20) -> bytes:
    """A gzip stream of ``inflated`` zero bytes, compressed one MiB at a time to keep memory small."""
    zeros = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [packer.compress(zeros) for _ in range(inflated // len(zeros))]
    parts.append(packer.flush())
    return b"".join(parts)


@dataclass
class FaultServer:
    """State shared with the handler threads; see the module docstring for the paths."""

    bomb: bytes
    base_url: str = ""
    xxe_target: str = "file:///etc/passwd"
    headers: list[dict[str, str]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    active: int = 0
    peak: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base_url + path


class _Handler(BaseRequestHandler):
    server: _Server
    request: socket.socket
    request_headers: dict[str, str]

    def handle(self) -> None:
        site = self.server.site
        try:
            self.request.settimeout(5)
            target, headers = self._read_head()
            with site.lock:
                site.headers.append(headers)
                site.targets.append(target)
            self.request_headers = headers
            path = urlsplit(target).path
            route = _ROUTES.get(path) or next(
                (action for prefix, action in _PREFIX_ROUTES if path.startswith(prefix)), _not_found)
            route(self, target)
        except OSError:
            pass  # the client went away, which several faults provoke on purpose

    def _read_head(self) -> tuple[str, dict[str, str]]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(4096)
            if not chunk:
                raise ConnectionAbortedError("client closed before finishing its request")
            data += chunk
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return target, headers

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        fields = {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body)),
                  "Connection": "close", **(headers or {})}
        head = f"HTTP/1.1 {status} Fault\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
        self.request.sendall(head.encode("latin-1") + body)

    def head(self, headers: dict[str, str]) -> None:
        self.request.sendall(("HTTP/1.1 200 OK\r\nConnection: close\r\n"
                              + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())


def _page(h: _Handler, target: str) -> None:
    h.send(200, PAGE)


def _not_found(h: _Handler, target: str) -> None:
    h.send(404, b"not found")


def _hang(h: _Handler, target: str) -> None:
    h.server.site.stopping.wait()


def _drip(h: _Handler, target: str) -> None:
    h.head({"Content-Type": "text/html", "Content-Length": "1000"})
    while not h.server.site.stopping.wait(0.5):
        h.request.sendall(b"x")


_RETRY_AFTER = {503: "120", 429: "60"}


def _status(h: _Handler, target: str) -> None:
    parts = urlsplit(target)
    code = int(parts.path.rsplit("/", 1)[1])
    retry_after = parse_qs(parts.query).get("retry-after", [_RETRY_AFTER.get(code, "none")])[0]
    h.send(code, b"error page", None if retry_after == "none" else {"Retry-After": retry_after})


def _reset(h: _Handler, target: str) -> None:
    # A zero linger time makes close() send RST instead of FIN.
    h.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.request.close()


def _close(h: _Handler, target: str) -> None:
    h.request.shutdown(socket.SHUT_RDWR)


def _truncated(h: _Handler, target: str) -> None:
    h.head({"Content-Type": "text/html", "Content-Length": "1000"})
    h.request.sendall(b"0123456789")
    h.request.shutdown(socket.SHUT_RDWR)


def _endless(h: _Handler, target: str) -> None:
    h.head({"Content-Type": "text/html", "Transfer-Encoding": "chunked"})
    chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
    while not h.server.site.stopping.is_set():
        h.request.sendall(chunk)


def _bomb(h: _Handler, target: str) -> None:
    h.send(200, h.server.site.bomb, {"Content-Encoding": "gzip"})


def _gzip(h: _Handler, target: str) -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    h.send(200, packer.compress(PAGE) + packer.flush(), {"Content-Encoding": "gzip"})


def _deflate(h: _Handler, target: str) -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    h.send(200, packer.compress(PAGE) + packer.flush(), {"Content-Encoding": "deflate"})


def _bad_gzip(h: _Handler, target: str) -> None:
    h.send(200, b"this is not gzip at all", {"Content-Encoding": "gzip"})


def _brotli(h: _Handler, target: str) -> None:
    h.send(200, b"\x0b\x02\x80hello\x03", {"Content-Encoding": "br"})


def _huge(h: _Handler, target: str) -> None:
    h.head({"Content-Type": "text/html", "Content-Length": str(10**10)})
    h.request.sendall(b"x" * 1024)


def _loop(h: _Handler, target: str) -> None:
    h.send(302, headers={"Location": "/loop/b" if target.endswith("/a") else "/loop/a"})


def _hops(h: _Handler, target: str) -> None:
    left = int(target.rsplit("/", 1)[1])
    if left:
        h.send(302, headers={"Location": f"/hops/{left - 1}"})
    else:
        h.send(200, PAGE)


def _relative(h: _Handler, target: str) -> None:
    h.send(301, headers={"Location": "../page"})


def _redirect(h: _Handler, target: str) -> None:
    h.send(302, headers={"Location": parse_qs(urlsplit(target).query)["to"][0]})


def _lying_type(h: _Handler, target: str) -> None:
    h.send(200, PAGE, {"Content-Type": "image/png"})


def _consent(h: _Handler, target: str) -> None:
    """A consent wall: without its cookie, a redirect to itself that sets the cookie."""
    if "consent=yes" in h.request_headers.get("cookie", ""):
        h.send(200, rss("Behind the wall"), {"Content-Type": "application/rss+xml"})
    else:
        h.send(302, headers={"Location": "/consent", "Set-Cookie": "consent=yes; Path=/"})


def _cookie_loop(h: _Handler, target: str) -> None:
    """A wall that never lets in: a redirect to itself with a fresh cookie every time."""
    h.send(302, headers={"Location": "/cookie-loop", "Set-Cookie": f"visit={time.monotonic_ns()}; Path=/"})


def _many_cookies(h: _Handler, target: str) -> None:
    """A host that sets 100 new long-lived cookies on every response (a tracker gone wild, or hostile)."""
    stamp = time.monotonic_ns()
    cookies = "".join(f"Set-Cookie: c{stamp}_{i}={'v' * 50}; Path=/; Max-Age=999999\r\n" for i in range(100))
    h.request.sendall(("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\nConnection: close\r\n"
                       f"{cookies}\r\nok").encode())


def _deep(h: _Handler, target: str) -> None:
    """A listing nested 60,000 elements deep (660 KB): lexbor's tree building is quadratic in depth."""
    h.send(200, b"<html><body>" + b"<div>" * 60000 + b'<a href="/news/deep">A story nested deep</a>'
           + b"</div>" * 60000 + b"</body></html>")


def _empty(h: _Handler, target: str) -> None:
    h.send(200, b"")


def _slow(h: _Handler, target: str) -> None:
    site = h.server.site
    with site.lock:
        site.active += 1
        site.peak = max(site.peak, site.active)
    try:
        time.sleep(0.3)
    finally:
        with site.lock:
            site.active -= 1
    # Counted down before the answer goes: once it is out, the client may open its next
    # connection before this thread runs again, and a count kept to the handler's end
    # then saw one connection more than the client ever held.
    h.send(200, PAGE)


def rss(title: str) -> bytes:
    """A one-item RSS 2.0 feed whose item is titled ``title`` (markup allowed: entities, raw bytes)."""
    return (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Faults</title>'
            b"<link>http://127.0.0.1/</link><item><title>" + title.encode("utf-8", "surrogateescape")
            + b"</title><link>http://127.0.0.1/news/1</link><description>Nothing here.</description>"
            b"</item></channel></rss>")


def _feed_as_png(h: _Handler, target: str) -> None:
    h.send(200, rss("Sent as a picture"), {"Content-Type": "image/png"})


def _garbage_as_rss(h: _Handler, target: str) -> None:
    h.send(200, bytes(range(256)) * 16, {"Content-Type": "application/rss+xml"})


def _bad_utf8(h: _Handler, target: str) -> None:
    h.send(200, rss("Caf\udce9 \udcff\udcfe talks"), {"Content-Type": "application/rss+xml; charset=utf-8"})


def _wrong_charset(h: _Handler, target: str) -> None:
    h.send(200, rss("Café in Zürich"), {"Content-Type": "application/rss+xml; charset=iso-8859-1"})


def _billion_laughs(h: _Handler, target: str) -> None:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    body = rss("&lol9;").replace(b"<rss", b"<!DOCTYPE rss [" + "".join(levels).encode() + b"]>\n<rss", 1)
    h.send(200, body, {"Content-Type": "application/rss+xml"})


def _big_entity(h: _Handler, target: str) -> None:
    """One 500 KB entity referred to 2,000 times (1 GB expanded), its DOCTYPE after 80 KB of comment."""
    doctype = b"<!-- " + b"x" * 80_000 + b' -->\n<!DOCTYPE rss [<!ENTITY big "' + b"A" * 500_000 + b'">]>\n'
    body = rss("&big;" * 2000).replace(b"<rss", doctype + b"<rss", 1)
    h.send(200, body, {"Content-Type": "application/rss+xml"})


def _many_references(h: _Handler, target: str) -> None:
    """A 1,000-character entity referred to 50,000 times behind a "]>" decoy in another
    entity's value (a search for the subset's first "]>" stopped there): 50 MB expanded."""
    doctype = b'<!DOCTYPE rss [<!ENTITY z "]>"><!ENTITY a "' + b"x" * 1000 + b'">]>\n'
    body = rss("&a;" * 50_000).replace(b"<rss", doctype + b"<rss", 1)
    h.send(200, body, {"Content-Type": "application/rss+xml"})


def _xxe(h: _Handler, target: str) -> None:
    doctype = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{h.server.site.xxe_target}">]>\n'.encode()
    body = rss("Leak: &xxe;").replace(b"<rss", doctype + b"<rss", 1)
    h.send(200, body, {"Content-Type": "application/rss+xml"})


_ROUTES: dict[str, Callable[[_Handler, str], None]] = {
    "/page": _page, "/hang": _hang, "/drip": _drip, "/reset": _reset, "/close": _close,
    "/truncated": _truncated, "/endless": _endless, "/bomb": _bomb, "/gzip": _gzip,
    "/deflate": _deflate, "/bad-gzip": _bad_gzip, "/brotli": _brotli, "/huge": _huge,
    "/dir/relative": _relative, "/redirect": _redirect, "/lying-type": _lying_type,
    "/empty": _empty, "/slow": _slow, "/feed-as-png": _feed_as_png, "/garbage-as-rss": _garbage_as_rss,
    "/bad-utf8": _bad_utf8, "/wrong-charset": _wrong_charset, "/billion-laughs": _billion_laughs,
    "/big-entity": _big_entity, "/many-references": _many_references,
    "/xxe": _xxe, "/consent": _consent, "/cookie-loop": _cookie_loop,
    "/many-cookies": _many_cookies, "/deep": _deep,
}
_PREFIX_ROUTES: list[tuple[str, Callable[[_Handler, str], None]]] = [
    ("/status/", _status), ("/loop/", _loop), ("/hops/", _hops),
]


class _Server(ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 256  # listen backlog: a test may open over a hundred connections at once
    allow_reuse_address = True
    site: FaultServer


@contextmanager
def serve_faults(bomb: bytes) -> Iterator[FaultServer]:
    """Start a FaultServer on 127.0.0.1 in a background thread; on exit, release every
    hanging handler and stop."""
    site = FaultServer(bomb=bomb)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = site
    with serving(server) as port:
        site.base_url = f"http://127.0.0.1:{port}"
        try:
            yield site
        finally:
            site.stopping.set()  # before the shutdown: a hanging handler would hold it up
