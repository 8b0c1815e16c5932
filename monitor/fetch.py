"""The HTTP edge: conditional GETs with a whole-request deadline, a byte cap and safe redirects.

Every httpx, socket and zlib error is translated into the ``FetchError`` tree here, in
``Fetcher._exchange``, with the original kept as ``__cause__``; nothing else escapes ``get``.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import errno
import functools
import ipaddress
import socket
import ssl
import zlib
from collections.abc import Iterator
from types import TracebackType

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from httpx_aiohttp import AiohttpTransport

from monitor import __version__
from monitor.errors import BadStatus, FetchError, FetchTimeout, ResponseTooLarge, UnsafeRedirect
from monitor.headers import parse_retry_after
from monitor.models import Response
from monitor.slots import Slots

DEFAULT_USER_AGENT = f"press-monitor/{__version__} (+https://github.com/press-monitor)"

_ERRNO_REASONS: dict[int, str] = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by peer",
    errno.EPIPE: "connection closed by peer while sending",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}


class Fetcher:
    """Fetches URLs for every source through one shared ``httpx.AsyncClient``.

    ``get``'s ``timeout`` is a deadline for the whole request, redirects and body included,
    counted while it holds one of its host's ``per_host`` slots and one of the
    ``max_connections`` slots of all hosts: time queued for them, before the first request
    or between redirect hops, does not count.

    A Fetcher belongs to the event loop that first uses it; close it with ``aclose`` or
    ``async with``.
    """

    def __init__(self, *, user_agent: str = DEFAULT_USER_AGENT, max_bytes: int = 10_000_000,
                 per_host: int = 4, max_connections: int = 100, max_redirects: int = 5,
                 allow_private: bool = True) -> None:
        if per_host < 1 or max_connections < 1:
            raise ValueError(f"per_host and max_connections must be at least 1: {per_host}, {max_connections}")
        self.user_agent = user_agent
        self.max_bytes = max_bytes
        self.per_host = per_host
        # Our own cap on requests in flight (follow-ups first, then first come first served)
        # rather than aiohttp's pool limit: a request queued there is woken for a random
        # host, one that mostly has no idle connection, so it opens another while the idle
        # ones of the host whose request just ended go unused. 1,000 conditional GETs at
        # once over 50 hosts opened 180 connections that way, and 100 this way, for 10% less CPU.
        self._in_flight = Slots(max_connections)
        self.max_redirects = max_redirects
        self.allow_private = allow_private
        self._client: httpx.AsyncClient | None = None
        self._slots: dict[str, Slots] = {}
        self._base_headers: list[tuple[bytes, bytes, bytes]] = []  # the client's: (name, lowercased, value)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections; a later ``get`` opens a new client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def get(self, url: str, *, timeout: float, etag: str | None = None,
                  last_modified: str | None = None, accept: str | None = None,
                  follow_up: bool = False) -> Response:
        """GET ``url``, following redirects; a 304 to our validators gives ``not_modified``.

        A ``follow_up`` (a page of work already under way: a new item's article) queues for
        its slots ahead of the others (``monitor.slots``), as does every hop after a redirect.

        Raises FetchTimeout, ResponseTooLarge, BadStatus, UnsafeRedirect (also for a host
        written as a non-public address when ``allow_private`` is off) or FetchError (for a
        name that resolves only to non-public ones, then).
        Errors carry the URL of the hop that failed, which after a redirect is not ``url``.
        """
        try:
            current = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"not a valid URL: {exc}") from exc
        if current.scheme not in ("http", "https"):
            raise FetchError(url, f"cannot fetch scheme {current.scheme!r} (use http or https)")
        # As bytes, because httpx would encode str values as ASCII and raise on a UTF-8 ETag.
        headers = {name: value.encode() for name, value in (
            (b"Accept", accept), (b"If-None-Match", etag), (b"If-Modified-Since", last_modified),
        ) if value is not None}
        login: tuple[httpx.URL, bytes] | None = None
        if current.userinfo:
            # Sent as a header, the URL without them: httpx makes the header and hands aiohttp
            # the URL with them still in it, which aiohttp refuses (every poll failed with
            # "internal error: ValueError"). Only to the URL's own origin (see carries_login).
            secret = base64.b64encode(f"{current.username}:{current.password}".encode()).decode()
            current = current.copy_with(username=None, password=None)
            login = (current, b"Basic " + secret.encode())
        loop = asyncio.get_running_loop()
        ahead = follow_up  # queue ahead of the others: from a redirect's second hop on, always
        left = timeout  # of the whole request's time: each hop queues for its slots anew, off the clock
        visited = {str(current)}
        hops = 0
        while True:
            host = self._slot(current.host)
            await host.acquire(follow_up=ahead)
            try:
                await self._in_flight.acquire(follow_up=ahead)
                try:
                    deadline = loop.time() + left
                    sent = headers if login is None or not carries_login(login[0], current) else \
                        {**headers, b"Authorization": login[1]}
                    outcome = await self._exchange(current, sent, deadline, timeout)
                    left = deadline - loop.time()
                finally:
                    self._in_flight.release()
            finally:
                host.release()
            if isinstance(outcome, Response):
                if outcome.not_modified:
                    # Servers may omit validators on a 304; the stored ones are still current.
                    return dataclasses.replace(outcome, etag=outcome.etag or etag,
                                               last_modified=outcome.last_modified or last_modified)
                return outcome
            hops += 1
            ahead = True  # the next hop finishes a request begun
            self._check_redirect(current, outcome, visited, hops)
            visited.add(str(outcome.target))
            current = outcome.target

    def _slot(self, host: str) -> Slots:
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = Slots(self.per_host)
        return slot

    def _check_redirect(self, source: httpx.URL, redirect: _Redirect, visited: set[str], hops: int) -> None:
        target = redirect.target
        if target.scheme not in ("http", "https"):
            raise UnsafeRedirect(str(source), f"refused redirect to {target.scheme!r} URL {target}")
        # Back to a page already seen is a loop, unless a cookie was set on the way: a
        # consent wall redirects to itself with one, and then serves the page.
        if str(target) in visited and not redirect.sets_cookie:
            raise UnsafeRedirect(str(source), f"redirect loop back to {target}")
        if hops > self.max_redirects:  # every hop counts: a page revisited with a cookie adds none to visited
            raise UnsafeRedirect(str(source), f"more than {self.max_redirects} redirects")

    async def _exchange(self, url: httpx.URL, headers: dict[bytes, bytes], deadline: float,
                        timeout: float) -> Response | _Redirect:
        """One request: a Response, or where a redirect points to."""
        try:
            async with asyncio.timeout_at(deadline):
                if not self.allow_private:
                    _refuse_private(url)
                client = self._http()
                # The request built here rather than by client.stream(): its build_request
                # copies and re-merges the client's headers and timeout on every call, 5%
                # of a 304 poll's CPU. The same headers, cookies and timeouts go out.
                request = httpx.Request("GET", url, headers=self._merged(headers), cookies=client.cookies,
                                        extensions={"timeout": dict.fromkeys(_TIMEOUTS, timeout)})
                answer = await client.send(request, stream=True)
                try:
                    return await self._read(url, answer)
                finally:
                    await answer.aclose()
        except (httpx.HTTPError, httpx.InvalidURL, OSError, zlib.error, aiohttp.ClientError) as exc:
            if _timed_out(exc):
                raise FetchTimeout(str(url), f"no complete response within {timeout:g}s") from exc
            raise FetchError(str(url), _reason(exc)) from exc

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: an environment proxy would bypass the allow_private check, and
            # a .netrc would hand credentials to whatever site a source points at.
            # aiohttp under httpx's API: httpcore's pool rescans every queued request on each
            # state change (httpx issue 3215), which cost 3x the CPU of a 304 poll at 1,000 sources.
            self._client = httpx.AsyncClient(
                headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
                follow_redirects=False, trust_env=False,
                # No pool limit of aiohttp's own (0): ``_in_flight`` is the cap.
                transport=AiohttpTransport(verify=_tls(), trust_env=False, limits=_UNCAPPED_POOL,
                                           client=None if self.allow_private else _public_only_session),
            )
            # Reading every response for cookies (through urllib's request and response
            # adapters) was 9% of the CPU of a 304 poll; only a response that sets one needs it.
            self._client._cookies = _SetCookieOnly(self._client.cookies.jar)
            # Read once: nothing changes the client's headers after this (see _merged).
            self._base_headers = [(name, name.lower(), value) for name, value in self._client.headers.raw]
        return self._client

    def _merged(self, headers: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        """The client's headers with ``headers`` put over them, in httpx's merged order: a
        name given in both leaves the client's place and comes after them."""
        asked = {name.lower() for name in headers}
        kept = [(name, value) for name, lower, value in self._base_headers if lower not in asked]
        return kept + list(headers.items())

    async def _read(self, url: httpx.URL, answer: httpx.Response) -> Response | _Redirect:
        headers = _decoded(answer.headers)
        if answer.has_redirect_location:
            return _Redirect(target=url.join(headers["location"]), sets_cookie="set-cookie" in headers)
        status = answer.status_code
        if status != 304 and not 200 <= status < 300:
            retry_after = parse_retry_after(headers.get("retry-after"))
            raise BadStatus(str(url), status, retry_after=retry_after)
        body = b"" if status == 304 else await self._body(url, answer, headers)
        return Response(url=str(url), status=status, body=body,
                        content_type=headers.get("content-type"), etag=headers.get("etag"),
                        last_modified=headers.get("last-modified"), not_modified=status == 304, headers=headers)

    async def _body(self, url: httpx.URL, answer: httpx.Response, headers: dict[str, str]) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            raise ResponseTooLarge(str(url),
                                   f"body of {declared} bytes declared, over the {self.max_bytes}-byte cap")
        inflater = _Inflater.for_encoding(str(url), headers.get("content-encoding"))
        body = bytearray()
        async for chunk in answer.aiter_raw():
            body += inflater.inflate(chunk, self.max_bytes - len(body) + 1)
            if len(body) > self.max_bytes:
                raise ResponseTooLarge(str(url), f"body larger than the {self.max_bytes}-byte cap")
        return bytes(body)


def carries_login(login: httpx.URL, hop: httpx.URL) -> bool:
    """Whether a hop of a request to ``login`` (a URL with credentials) gets them: its own
    origin, or the same host moved from http to https on the default ports, as requests
    allows (a site that moved to https answers every http request with that redirect)."""
    if (hop.scheme, hop.host, hop.port) == (login.scheme, login.host, login.port):
        return True
    return (login.scheme, hop.scheme) == ("http", "https") and hop.host == login.host \
        and login.port in (None, 80) and hop.port in (None, 443)


def host_of(url: str) -> str:
    """The host whose slots a fetch of ``url`` waits for, as ``Fetcher`` names it ("" for a
    URL it will refuse anyway): for a caller that queues work by the same host."""
    try:
        return httpx.URL(url).host
    except httpx.InvalidURL:
        return ""


_TIMEOUTS = ("connect", "read", "write", "pool")  # httpx.Timeout(seconds).as_dict()'s keys
_UNCAPPED_POOL = httpx.Limits(max_connections=0)  # httpx-aiohttp hands 0 on: aiohttp's "no limit"


def _decoded(headers: httpx.Headers) -> dict[str, str]:
    """Every header once, its name lowercased, decoded as ``httpx.Headers`` decodes it (a
    repeated header joined by ", "). Read in one pass: each ``Headers.get`` scans every
    header and goes through the encoding property, 42 times in a 304 poll (4% of its CPU)."""
    encoding = headers.encoding
    decoded: dict[str, str] = {}
    for raw_name, raw_value in headers.raw:
        name, value = raw_name.decode(encoding).lower(), raw_value.decode(encoding)
        decoded[name] = f"{decoded[name]}, {value}" if name in decoded else value
    return decoded


@dataclasses.dataclass(frozen=True)
class _Redirect:
    target: httpx.URL  # absolute
    sets_cookie: bool


MAX_COOKIES_PER_HOST = 50  # a consent wall sets one or two; browsers keep ~180 a domain
MAX_COOKIES = 3000  # the whole jar, the daemon's life long


class _SetCookieOnly(httpx.Cookies):
    """The client's cookie jar, read into only from responses with a Set-Cookie header.
    Cookies still work (consent walls redirect to themselves with one); they cost nothing
    on the great many responses that set none.

    Bounded: a host past ``MAX_COOKIES_PER_HOST`` loses its cookies, a jar past
    ``MAX_COOKIES`` its expired ones and then all. A host setting 100 new cookies a
    response grew the jar, and the Cookie header sent back to it, for as long as the daemon ran."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" not in response.headers:
            return
        super().extract_cookies(response)
        jar = self.jar
        if len(jar) <= MAX_COOKIES_PER_HOST:
            return
        host = response.request.url.host
        theirs = [c for c in jar if host == c.domain.lstrip(".") or host.endswith("." + c.domain.lstrip("."))]
        if len(theirs) > MAX_COOKIES_PER_HOST:
            for cookie in theirs:
                jar.clear(cookie.domain, cookie.path, cookie.name)
        if len(jar) > MAX_COOKIES:
            jar.clear_expired_cookies()
            if len(jar) > MAX_COOKIES:
                jar.clear()


class _Inflater:
    """Undoes one Content-Encoding without ever producing more output than asked for.

    We decompress ourselves rather than let httpx do it because httpx inflates each
    network read whole: 64 KiB of gzipped zeros becomes 64 MiB before any cap can look.
    """

    def __init__(self, wbits: int | None, *, may_be_raw: bool = False) -> None:
        self._zlib = None if wbits is None else zlib.decompressobj(wbits)
        self._may_be_raw = may_be_raw

    @classmethod
    def for_encoding(cls, url: str, encoding: str | None) -> _Inflater:
        name = (encoding or "identity").strip().lower()
        if name == "identity":
            return cls(None)
        if name in ("gzip", "x-gzip"):
            return cls(zlib.MAX_WBITS | 16)
        if name == "deflate":
            return cls(zlib.MAX_WBITS, may_be_raw=True)
        raise FetchError(url, f"unsupported Content-Encoding {encoding!r} (we accept gzip and deflate)")

    def inflate(self, data: bytes, limit: int) -> bytes:
        """Up to ``limit`` bytes decoded from ``data``. Input that would decode past the limit
        is dropped, so a caller must stop once given ``limit`` bytes; below it, every byte
        the input yields is returned now, which is why no final flush is needed."""
        if self._zlib is None:
            return data
        try:
            out = self._zlib.decompress(data, limit)
        except zlib.error:
            if not self._may_be_raw:
                raise
            # Many servers send "deflate" as a raw stream, without the zlib header RFC 9110 asks for.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, limit)
        self._may_be_raw = False
        return out


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs ~0.1 s of CPU,
    paid again by every Fetcher that reopens its client otherwise."""
    return httpx.create_ssl_context()


class _NonPublic(OSError):
    """A host name that resolved to no public address when the connection was made."""


class _PublicOnly(AbstractResolver):
    """aiohttp's resolver, handing the connector public addresses only: a name is judged by
    the very answer the connection uses. Resolved apart before the request, as it was, a
    name could answer public then and private to the connection (DNS rebinding), and every
    request paid for a second lookup."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        public = [r for r in await self._inner.resolve(host, port, family) if ipaddress.ip_address(r["host"]).is_global]
        if not public:
            raise _NonPublic(f"refused to connect: {host} resolves only to non-public addresses (allow_private is off)")
        return public

    async def close(self) -> None:
        await self._inner.close()


def _public_only_session() -> aiohttp.ClientSession:
    """The session httpx-aiohttp would make (its defaults, our TLS context and no pool cap),
    with ``_PublicOnly`` as its resolver: for ``allow_private: false``."""
    connector = aiohttp.TCPConnector(keepalive_timeout=_UNCAPPED_POOL.keepalive_expiry, ssl=_tls(), limit=0,
                                     resolver=_PublicOnly())
    return aiohttp.ClientSession(connector=connector)


def _refuse_private(url: httpx.URL) -> None:
    """With ``allow_private`` off, refuse a host written as a non-public address. A name is
    the connector's resolver's to judge (``_PublicOnly``): aiohttp resolves no address."""
    try:
        address = ipaddress.ip_address(url.host)
    except ValueError:
        return
    if not address.is_global:
        raise UnsafeRedirect(str(url), f"refused to connect: {url.host} is the non-public address {address} "
                                       "(allow_private is off)")


def _reason(exc: BaseException) -> str:
    """A short sentence for a transport failure, found from the OS error under the library's."""
    for cause in _causes(exc):
        if isinstance(cause, _NonPublic):
            return str(cause)
        if isinstance(cause, socket.gaierror):
            return "host name could not be resolved"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {cause.verify_message}"
        if isinstance(cause, OSError) and cause.errno in _ERRNO_REASONS:
            return _ERRNO_REASONS[cause.errno]
    for cause in _causes(exc):
        if isinstance(cause, aiohttp.ClientPayloadError):
            return "body truncated"
        if isinstance(cause, aiohttp.ServerDisconnectedError):
            return "server closed the connection without a response"
        if isinstance(cause, aiohttp.ClientResponseError):
            return f"HTTP protocol error: {cause.message}"
    message = str(exc)
    # h11's wording is the only thing that tells these apart from other protocol errors.
    if message.startswith("peer closed connection without sending complete message body"):
        return "body truncated"
    if message.startswith("Server disconnected without sending a response"):
        return "server closed the connection without a response"
    if isinstance(exc, zlib.error):
        return f"body could not be decompressed: {message}"
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid redirect target: {message}"
    if isinstance(exc, httpx.ProtocolError):
        return f"HTTP protocol error: {message}"
    return f"network error: {message or type(exc).__name__}"


def _timed_out(exc: BaseException) -> bool:
    """Whether a transport error was a timeout. The aiohttp transport reports every
    connection error as httpx.ConnectTimeout, so only a TimeoutError under it counts."""
    causes = list(_causes(exc))
    if any(isinstance(cause, TimeoutError) for cause in causes):
        return True
    return isinstance(exc, httpx.TimeoutException) and not any(isinstance(c, aiohttp.ClientError) for c in causes)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything under it: causes, contexts and exception-group members."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
