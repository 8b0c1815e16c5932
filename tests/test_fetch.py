"""The HTTP edge against real loopback servers: a fault catalogue, conditional GET, limits."""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import __version__
from monitor.errors import BadStatus, FetchError, FetchTimeout, ResponseTooLarge, UnsafeRedirect
from monitor.fetch import Fetcher, _decoded, _reason, carries_login
from monitor.headers import parse_retry_after
from monitor.models import Response
from tests.faultserver import PAGE, FaultServer, gzip_bomb, serve_faults
from tests.servers import Newsroom, free_port, serve_newsroom, serve_site
from tests.test_daemon import until

DEADLINE = 2.0


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb()


@pytest.fixture
def faults(bomb: bytes) -> Iterator[FaultServer]:
    with serve_faults(bomb) as site:
        yield site


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    with serve_newsroom() as site:
        yield site


def fetch(url: str, *, timeout: float = DEADLINE, fetcher_options: dict[str, Any] | None = None,
          **options: Any) -> Response:
    """One GET through a fresh Fetcher, in its own event loop."""
    async def run() -> Response:
        async with Fetcher(**(fetcher_options or {})) as fetcher:
            return await fetcher.get(url, timeout=timeout, **options)
    return asyncio.run(run())


@dataclass(frozen=True, kw_only=True)
class Fault:
    path: str
    error: type[FetchError]
    reason: str
    options: dict[str, Any] = field(default_factory=dict)
    bounded_memory: bool = False
    translated: bool = False  # made from a library exception, which must be kept as the cause


FAULTS = {
    "hang": Fault(path="/hang", error=FetchTimeout, reason="no complete response within 2s", translated=True),
    "drip": Fault(path="/drip", error=FetchTimeout, reason="no complete response within 2s", translated=True),
    "500": Fault(path="/status/500", error=BadStatus, reason="HTTP 500"),
    "503": Fault(path="/status/503", error=BadStatus, reason="HTTP 503"),
    "429": Fault(path="/status/429", error=BadStatus, reason="HTTP 429"),
    "404": Fault(path="/nowhere", error=BadStatus, reason="HTTP 404"),
    "reset": Fault(path="/reset", error=FetchError, reason="connection reset by peer", translated=True),
    "close": Fault(path="/close", error=FetchError, reason="server closed the connection without a response",
                   translated=True),
    "truncated": Fault(path="/truncated", error=FetchError, reason="body truncated", translated=True),
    "endless": Fault(path="/endless", error=ResponseTooLarge, reason="body larger than the 1000000-byte cap",
                     options={"max_bytes": 1_000_000}, bounded_memory=True),
    "bomb": Fault(path="/bomb", error=ResponseTooLarge, reason="body larger than the 10000000-byte cap",
                  bounded_memory=True),
    "declared-huge": Fault(path="/huge", error=ResponseTooLarge,
                           reason="body of 10000000000 bytes declared, over the 10000000-byte cap"),
    "bad-gzip": Fault(path="/bad-gzip", error=FetchError, reason="body could not be decompressed", translated=True),
    "brotli": Fault(path="/brotli", error=FetchError, reason="unsupported Content-Encoding 'br'"),
    "loop": Fault(path="/loop/a", error=UnsafeRedirect, reason="redirect loop back to"),
    "too-many-hops": Fault(path="/hops/6", error=UnsafeRedirect, reason="more than 5 redirects"),
    "to-file": Fault(path="/redirect?to=" + quote("file:///etc/passwd"), error=UnsafeRedirect,
                     reason="refused redirect to 'file' URL file:"),
    "to-ftp": Fault(path="/redirect?to=" + quote("ftp://127.0.0.1/pub"), error=UnsafeRedirect,
                    reason="refused redirect to 'ftp' URL"),
    "private": Fault(path="/page", error=UnsafeRedirect,
                     reason="refused to connect: 127.0.0.1 is the non-public address 127.0.0.1",
                     options={"allow_private": False}),
}


class TestFaults:
    @pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
    def test_fault_raises_its_error_without_hanging(self, faults: FaultServer, fault: Fault) -> None:
        """Each fault raises its FetchError class with a clear reason, and returns soon after the deadline."""
        if fault.bounded_memory:
            tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(FetchError) as caught:
                fetch(faults.url(fault.path), fetcher_options=fault.options)
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1] if fault.bounded_memory else 0
        finally:
            tracemalloc.stop()
        assert type(caught.value) is fault.error
        assert caught.value.reason.startswith(fault.reason)
        assert elapsed < DEADLINE + 3
        assert peak < 50_000_000
        assert (caught.value.__cause__ is not None) == fault.translated

    def test_drip_is_stopped_by_the_whole_request_deadline(self, faults: FaultServer) -> None:
        """A body dripping faster than any per-read timeout still ends at the deadline."""
        with pytest.raises(FetchTimeout) as caught:
            fetch(faults.url("/drip"))
        assert type(caught.value.__cause__) is TimeoutError

    def test_bad_status_carries_status_and_retry_after(self, faults: FaultServer) -> None:
        """A 503 with Retry-After: 120 gives BadStatus(status=503, retry_after=120.0)."""
        with pytest.raises(BadStatus) as caught:
            fetch(faults.url("/status/503"))
        assert (caught.value.status, caught.value.retry_after) == (503, 120.0)

    def test_bad_status_without_retry_after(self, faults: FaultServer) -> None:
        """A 429 without Retry-After gives retry_after None."""
        with pytest.raises(BadStatus) as caught:
            fetch(faults.url("/status/429?retry-after=none"))
        assert (caught.value.status, caught.value.retry_after) == (429, None)

    def test_connection_refused(self) -> None:
        """A port nobody listens on gives FetchError 'connection refused' with the OS error as cause."""
        with pytest.raises(FetchError) as caught:
            fetch(f"http://127.0.0.1:{free_port()}/")
        assert type(caught.value) is FetchError
        assert caught.value.reason == "connection refused"
        assert caught.value.__cause__ is not None

    def test_private_address_is_refused_before_connecting(self, faults: FaultServer) -> None:
        """With allow_private off, a loopback host is refused and the server never sees a request."""
        with pytest.raises(UnsafeRedirect):
            fetch(faults.url("/page"), fetcher_options={"allow_private": False})
        assert faults.headers == []

    def test_a_name_that_resolves_private_is_refused_by_the_connections_own_resolver(
            self, faults: FaultServer) -> None:
        """A name is judged by the answer the connection uses (no lookup of its own before,
        which a name could answer otherwise: DNS rebinding): ``localhost``, read from
        /etc/hosts, is refused and the server sees no request."""
        url = faults.url("/page").replace("127.0.0.1", "localhost")
        with pytest.raises(FetchError, match="localhost resolves only to non-public addresses") as caught:
            fetch(url, fetcher_options={"allow_private": False})
        assert caught.value.reason.startswith("refused to connect")
        assert faults.headers == []
        assert b"<html" in fetch(url).body.lower()  # allow_private on (the default): the same URL is read

    def test_redirect_to_private_address_is_refused(self, faults: FaultServer, newsroom: Newsroom) -> None:
        """allow_private applies to every hop, not only the first."""
        # The first hop is loopback too, so the refusal names it; what matters is no hop connects.
        target = newsroom.publish("/p", "<p>x</p>")
        with pytest.raises(UnsafeRedirect):
            fetch(faults.url("/redirect?to=" + quote(target)), fetcher_options={"allow_private": False})
        assert newsroom.hits("/p") == []

    def test_dns_failure_reason(self) -> None:
        """A resolver error under httpx's ConnectError reads 'host name could not be resolved'."""
        # Built by hand: resolving a real unknown name would leave the loopback interface.
        try:
            try:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            except OSError as exc:
                raise httpx.ConnectError("[Errno -2] Name or service not known") from exc
        except httpx.ConnectError as exc:
            assert _reason(exc) == "host name could not be resolved"

    @pytest.mark.parametrize("url", ["ftp://127.0.0.1/file", "file:///etc/passwd", "http://[::1"])
    def test_unfetchable_url_is_refused(self, url: str) -> None:
        """A non-HTTP or malformed URL raises FetchError without any connection."""
        with pytest.raises(FetchError) as caught:
            fetch(url)
        assert type(caught.value) is FetchError


class TestBodies:
    def test_redirect_to_another_loopback_port(self, faults: FaultServer, newsroom: Newsroom) -> None:
        """A redirect to another server is followed, and Response.url is the final URL."""
        target = newsroom.publish("/news/1", "<p>one</p>")
        response = fetch(faults.url("/redirect?to=" + quote(target)))
        assert (response.url, response.status, response.body) == (target, 200, b"<p>one</p>")

    def test_relative_location_is_resolved(self, faults: FaultServer) -> None:
        """A relative Location resolves against the redirecting URL."""
        response = fetch(faults.url("/dir/relative"))
        assert (response.url, response.body) == (faults.url("/page"), PAGE)

    def test_redirects_up_to_the_limit_are_followed(self, faults: FaultServer) -> None:
        """Exactly max_redirects hops still succeed."""
        assert fetch(faults.url("/hops/5")).url == faults.url("/hops/0")

    @pytest.mark.parametrize("path", ["/gzip", "/deflate"])
    def test_compressed_body_is_decoded(self, faults: FaultServer, path: str) -> None:
        """gzip and (raw) deflate bodies come back decompressed."""
        assert fetch(faults.url(path)).body == PAGE

    def test_lying_content_type_is_reported_as_sent(self, faults: FaultServer) -> None:
        """The fetcher passes Content-Type through; judging the body is the source's job."""
        response = fetch(faults.url("/lying-type"))
        assert (response.content_type, response.body) == ("image/png", PAGE)

    def test_empty_body(self, faults: FaultServer) -> None:
        """A 200 with no body is a Response with body b'', not an error."""
        response = fetch(faults.url("/empty"))
        assert (response.status, response.body, response.not_modified) == (200, b"", False)

    @pytest.mark.parametrize("path", ["/page", "/gzip"])
    def test_body_exactly_at_the_cap_is_accepted(self, faults: FaultServer, path: str) -> None:
        """max_bytes is inclusive, and counts decompressed bytes."""
        assert fetch(faults.url(path), fetcher_options={"max_bytes": len(PAGE)}).body == PAGE

    def test_body_one_byte_over_the_cap_is_refused(self, faults: FaultServer) -> None:
        """A gzip body that inflates to one byte more than max_bytes is ResponseTooLarge."""
        with pytest.raises(ResponseTooLarge):
            fetch(faults.url("/gzip"), fetcher_options={"max_bytes": len(PAGE) - 1})


class TestConditionalGet:
    def test_second_request_sends_validators_and_gets_not_modified(self, newsroom: Newsroom) -> None:
        """The validators of a first GET make the second a 304 with an empty body."""
        url = newsroom.publish("/feed", "<rss/>", content_type="application/rss+xml")

        async def run() -> tuple[Response, Response]:
            async with Fetcher() as fetcher:
                first = await fetcher.get(url, timeout=DEADLINE)
                second = await fetcher.get(url, timeout=DEADLINE, etag=first.etag,
                                           last_modified=first.last_modified)
                return first, second

        first, second = asyncio.run(run())
        assert (first.status, first.body, first.not_modified) == (200, b"<rss/>", False)
        assert first.etag and first.last_modified
        assert (second.status, second.body, second.not_modified) == (304, b"", True)
        assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
        assert newsroom.hits("/feed") == [200, 304]

    def test_last_modified_alone_is_enough(self, newsroom: Newsroom) -> None:
        """If-Modified-Since without an ETag still gets a 304, and keeps the stored date."""
        url = newsroom.publish("/feed", "<rss/>")
        stamp = fetch(url).last_modified
        second = fetch(url, last_modified=stamp)
        assert second.not_modified and second.last_modified == stamp

    def test_changed_page_is_fetched_again(self, newsroom: Newsroom) -> None:
        """Stale validators get the new body, with new validators."""
        url = newsroom.publish("/feed", "<rss>1</rss>")
        first = fetch(url)
        newsroom.publish("/feed", "<rss>2</rss>")
        second = fetch(url, etag=first.etag, last_modified=first.last_modified)
        assert (second.not_modified, second.body) == (False, b"<rss>2</rss>")
        assert second.etag != first.etag

    def test_not_modified_keeps_stored_validators_the_server_omitted(self, newsroom: Newsroom) -> None:
        """A 304 that omits a validator echoes the one we sent."""
        url = newsroom.publish("/feed", "<rss/>")
        first = fetch(url)
        second = fetch(url, etag=first.etag, last_modified="Mon, 01 Jan 2001 00:00:00 GMT")
        # Newsroom's 304 carries its own Last-Modified, so only check the ETag is kept.
        assert second.not_modified and second.etag == first.etag


class TestRequest:
    def test_user_agent_names_the_project(self, faults: FaultServer) -> None:
        """Every request says who we are, and asks only for encodings we can cap."""
        fetch(faults.url("/page"), accept="application/rss+xml")
        sent = faults.headers[0]
        assert sent["user-agent"].startswith(f"press-monitor/{__version__} ")
        assert sent["accept"] == "application/rss+xml"
        assert sent["accept-encoding"] == "gzip, deflate"

    @pytest.mark.parametrize("asked", [
        {}, {"accept": "application/rss+xml"}, {"etag": '"x"', "last_modified": "Tue, 01 Dec 2026 09:00:00 GMT"},
        {"accept": "text/html", "etag": '"caf\u00e9"'},
    ])
    def test_the_request_sent_is_the_one_httpx_would_build(self, faults: FaultServer, asked: dict[str, str]) -> None:
        """The fetcher builds its request itself (httpx's build_request re-merged the
        client's headers on every call). What it sends, caught by the client's request
        hook, has the headers in the same order, the cookie and the timeout that
        ``client.stream`` would have sent."""
        sent: list[httpx.Request] = []

        async def run() -> httpx.Request:
            async with Fetcher() as fetcher:
                client = fetcher._http()
                client.cookies.set("consent", "yes", domain="127.0.0.1")

                async def catch(request: httpx.Request) -> None:
                    sent.append(request)

                client.event_hooks["request"] = [catch]
                await fetcher.get(faults.url("/page"), timeout=7.5, **asked)
                names = {"accept": b"Accept", "etag": b"If-None-Match", "last_modified": b"If-Modified-Since"}
                return client.build_request("GET", httpx.URL(faults.url("/page")), timeout=7.5,
                                            headers={names[k]: v.encode() for k, v in asked.items()})

        expected = asyncio.run(run())
        assert len(sent) == 1
        assert sent[0].headers.raw == expected.headers.raw and b"consent=yes" in sent[0].headers.raw[-1][1]
        assert sent[0].extensions == expected.extensions and sent[0].url == expected.url

    def test_non_ascii_validator_is_sent_as_utf8(self, faults: FaultServer) -> None:
        """An ETag a server sent in UTF-8 goes back byte for byte instead of crashing httpx."""
        fetch(faults.url("/page"), etag='"caf\u00e9"')
        assert faults.headers[0]["if-none-match"].encode("latin-1") == '"caf\u00e9"'.encode()

    def test_per_host_limit_bounds_concurrent_connections(self, faults: FaultServer) -> None:
        """With per_host=2, six concurrent GETs to one host never have more than two in flight."""
        async def run() -> None:
            async with Fetcher(per_host=2) as fetcher:
                await asyncio.gather(*(fetcher.get(faults.url("/slow"), timeout=DEADLINE * 2)
                                       for _ in range(6)))

        asyncio.run(run())
        assert len(faults.headers) == 6
        assert faults.peak == 2

    def test_max_connections_bounds_requests_across_hosts(self, faults: FaultServer) -> None:
        """With max_connections=2, six concurrent GETs to two host names (per_host=4) never
        have more than two in flight, and every one is answered."""
        other_host = faults.url("/slow").replace("127.0.0.1", "localhost")
        assert other_host != faults.url("/slow")

        async def run() -> None:
            async with Fetcher(per_host=4, max_connections=2) as fetcher:
                await asyncio.gather(*(fetcher.get(url, timeout=DEADLINE * 4)
                                       for url in [faults.url("/slow"), other_host] * 3))

        asyncio.run(run())
        assert len(faults.headers) == 6
        assert faults.peak == 2

    def test_time_queued_for_a_connection_is_not_the_requests(self, faults: FaultServer) -> None:
        """A request that waits for one of max_connections has its whole timeout once it gets it:
        behind a 0.3 s answer, a 0.2 s timeout still fetches the page."""
        async def run() -> list[Response]:
            async with Fetcher(max_connections=1) as fetcher:
                slow = asyncio.create_task(fetcher.get(faults.url("/slow"), timeout=DEADLINE))
                assert await until(lambda: faults.active == 1, timeout=DEADLINE)  # the slow request holds the one slot
                return [await fetcher.get(faults.url("/page"), timeout=0.2), await slow]

        page, slow = asyncio.run(run())
        assert page.status == 200 and slow.status == 200

    def test_time_queued_between_redirect_hops_is_not_the_requests(self, faults: FaultServer) -> None:
        """A redirect's next hop queues for its slots anew, off the clock: a 0.2 s request
        whose second hop waits 0.3 s behind another request still arrives."""
        async def run() -> list[Response]:
            async with Fetcher(max_connections=1) as fetcher:
                hops = asyncio.create_task(fetcher.get(faults.url("/hops/1"), timeout=0.2))
                slow = asyncio.create_task(fetcher.get(faults.url("/slow"), timeout=DEADLINE))
                return [await hops, await slow]  # /slow takes the slot between the two hops

        page, slow = asyncio.run(run())
        assert page.status == 200 and page.url.endswith("/hops/0") and slow.status == 200
        assert faults.peak == 1

    @pytest.mark.parametrize("limits", [{"per_host": 1}, {"max_connections": 1, "per_host": 8}],
                             ids=["host", "all hosts"])
    def test_a_follow_up_goes_before_the_requests_queued_earlier(self, faults: FaultServer,
                                                                  limits: dict[str, int]) -> None:
        """An article page (``follow_up``) waits for its host's slot and the pool's ahead of
        the polls queued before it, so a publish on many sources does not hold its alerts
        until every feed is in. It can still wait behind the requests of its host that hold
        a host slot while they queue for the pool's, at most ``per_host`` of them."""
        async def run() -> None:
            async with Fetcher(**limits) as fetcher:
                slow = asyncio.create_task(fetcher.get(faults.url("/slow"), timeout=DEADLINE))
                assert await until(lambda: faults.active == 1, timeout=DEADLINE)
                polls = [asyncio.create_task(fetcher.get(faults.url(f"/page?poll={k}"), timeout=DEADLINE))
                         for k in range(3)]
                for _ in range(5):
                    await asyncio.sleep(0)  # the polls queue first, each in its first steps
                await fetcher.get(faults.url("/page?article"), timeout=DEADLINE, follow_up=True)
                await asyncio.gather(slow, *polls)

        asyncio.run(run())
        assert faults.targets == ["/slow", "/page?article", "/page?poll=0", "/page?poll=1", "/page?poll=2"]

    def test_a_redirects_next_hop_goes_before_the_requests_queued_earlier(self, faults: FaultServer) -> None:
        """A request already under way is a follow-up from its second hop on: it does not
        queue behind every poll that came after it."""
        async def run() -> None:
            async with Fetcher(max_connections=1, per_host=8) as fetcher:  # the pool's queue, not the host's
                hops = asyncio.create_task(fetcher.get(faults.url("/hops/1"), timeout=DEADLINE))
                polls = [asyncio.create_task(fetcher.get(faults.url(f"/page?poll={k}"), timeout=DEADLINE))
                         for k in range(3)]
                await asyncio.gather(hops, *polls)

        asyncio.run(run())
        # The first hop's release hands its slot to the first poll waiting; the next hop goes next.
        assert faults.targets == ["/hops/1", "/page?poll=0", "/hops/0", "/page?poll=1", "/page?poll=2"]

    def test_more_than_a_hundred_in_flight_when_asked(self, faults: FaultServer) -> None:
        """max_connections is the only cap: aiohttp's pool adds none of its own (its default
        is 100), so 120 GETs are in flight at once when 150 are allowed."""
        async def run() -> None:
            async with Fetcher(per_host=150, max_connections=150) as fetcher:
                await asyncio.gather(*(fetcher.get(faults.url("/slow"), timeout=DEADLINE * 4) for _ in range(120)))

        asyncio.run(run())
        assert faults.peak == 120

    def test_fetcher_is_built_outside_a_loop_and_reopens_after_close(self, faults: FaultServer) -> None:
        """The client is made lazily inside the running loop, and again after aclose."""
        fetcher = Fetcher()

        async def run() -> None:
            await fetcher.get(faults.url("/page"), timeout=DEADLINE)
            await fetcher.aclose()
            await fetcher.get(faults.url("/page"), timeout=DEADLINE)
            await fetcher.aclose()

        asyncio.run(run())
        assert len(faults.headers) == 2


class TestParseRetryAfter:
    NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    @pytest.mark.parametrize(("value", "expected"), [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Thu, 01 Jan 2026 12:02:00 GMT", 120.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ])
    def test_values(self, value: str | None, expected: float | None) -> None:
        """Delay-seconds and HTTP-dates become seconds; a past date is 0; anything else is None."""
        assert parse_retry_after(value, now=self.NOW) == expected


def test_a_cookie_set_on_a_redirect_goes_with_the_next_hop(faults: FaultServer) -> None:
    """Consent walls set a cookie and redirect to themselves; without cookies that is a loop."""
    response = fetch(faults.url("/consent"))
    assert b"Behind the wall" in response.body
    assert faults.headers[-1].get("cookie") == "consent=yes"


def test_the_cookie_jar_stays_bounded_against_a_host_that_sets_cookies_without_end(faults: FaultServer) -> None:
    """100 new cookies a response, 30 responses: the jar (the daemon keeps one for its
    life) and the Cookie header sent back stay under the per-host cap; the consent wall's
    cookie on the same host works again afterwards."""
    from monitor.fetch import MAX_COOKIES_PER_HOST

    async def run() -> tuple[int, int]:
        async with Fetcher() as fetcher:
            most = 0
            for _ in range(30):
                await fetcher.get(faults.url("/many-cookies"), timeout=DEADLINE)
                most = max(most, len(fetcher._http().cookies.jar))
            await fetcher.get(faults.url("/consent"), timeout=DEADLINE)
            return most, len(faults.headers[-1].get("cookie", "").split(";"))

    most, sent = asyncio.run(run())
    assert most <= MAX_COOKIES_PER_HOST + 100  # at most one response's worth over, before it is cleared
    assert sent <= MAX_COOKIES_PER_HOST + 100 and "consent=yes" in faults.headers[-1]["cookie"]


def test_a_cookie_wall_that_never_lets_in_is_stopped_by_the_redirect_cap(faults: FaultServer) -> None:
    """Revisits allowed for a cookie still count as hops: max_redirects bounds them."""
    with pytest.raises(UnsafeRedirect, match="more than 5 redirects"):
        fetch(faults.url("/cookie-loop"))
    assert len(faults.headers) == 6


_HEADER_NAMES = st.sampled_from([b"ETag", b"etag", b"Cache-Control", b"Content-Type", b"Set-Cookie", b"X-Note"])
_HEADER_VALUES = st.one_of(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
                           .map(str.encode), st.sampled_from(['"caf\u00e9"'.encode(), '"caf\u00e9"'.encode("latin-1")]))


@settings(deadline=None)  # examples are timed otherwise, and this machine is shared
@given(st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=8))
def test_headers_read_in_one_pass_equal_what_httpx_reads(raw: list[tuple[bytes, bytes]]) -> None:
    """The fetcher decodes a response's headers once; each must read as httpx's own ``get``
    reads it: any case of name, UTF-8 or Latin-1 bytes, repeats joined by ", "."""
    headers = httpx.Headers(raw)
    decoded = _decoded(headers)
    assert set(decoded) == {name.decode().lower() for name, _ in raw}
    for name in decoded:
        assert decoded[name] == headers.get(name) == headers.get(name.upper())


def _two_gets(gap: float, *, idle_timeout: float | None = None) -> tuple[int, list[int]]:
    """Two GETs of one host ``gap`` seconds apart: the TCP connections the server saw, and the statuses."""
    with serve_site() as site:
        site.idle_timeout = idle_timeout
        site.put("/feed.xml", "<rss/>", "application/rss+xml")

        async def run() -> list[int]:
            async with Fetcher() as fetcher:
                first = await fetcher.get(site.base_url + "/feed.xml", timeout=DEADLINE)
                await asyncio.sleep(gap)
                second = await fetcher.get(site.base_url + "/feed.xml", timeout=DEADLINE)
                return [first.status, second.status]

        statuses = asyncio.run(run())
        return site.connections, statuses


def test_a_host_asked_again_at_once_reuses_its_connection() -> None:
    """Keep-alive works through httpx over aiohttp: a second GET takes no new connection."""
    assert _two_gets(0.1) == (1, [200, 200])


def test_a_connection_the_server_closed_while_idle_is_replaced_unseen() -> None:
    """A server whose keep-alive timeout is shorter than the client's (5 s): the next GET
    takes a new connection, with no error for the poll."""
    assert _two_gets(1.5, idle_timeout=0.5) == (2, [200, 200])


@pytest.mark.parametrize(("login", "hop", "kept"), [
    pytest.param("http://news.example/feed", "http://news.example/rss", True, id="same-origin"),
    pytest.param("http://news.example/feed", "https://news.example/feed", True, id="upgrade-to-https"),
    pytest.param("http://news.example:80/feed", "https://news.example:443/feed", True, id="upgrade-default-ports"),
    pytest.param("https://news.example/feed", "http://news.example/feed", False, id="downgrade-to-http"),
    pytest.param("http://news.example:8080/feed", "https://news.example/feed", False, id="upgrade-from-another-port"),
    pytest.param("http://news.example/feed", "https://news.example:8443/feed", False, id="upgrade-to-another-port"),
    pytest.param("http://news.example/feed", "https://cdn.example/feed", False, id="another-host"),
])
def test_credentials_follow_an_upgrade_to_https_on_the_same_host(login: str, hop: str, kept: bool) -> None:
    """A site that moved to https redirects http://host/ to https://host/: the login goes with
    it there (as requests does), so such a source does not fail with 401; never elsewhere."""
    assert carries_login(httpx.URL(login), httpx.URL(hop)) is kept


def test_credentials_in_the_url_are_sent_to_its_own_origin_only() -> None:
    """``http://user:pw@host/feed`` logs in with Basic auth (every poll of such a source had failed
    with "internal error: ValueError": aiohttp refuses a URL with credentials beside the header
    httpx made of them); a redirect to another origin does not carry them."""
    import base64
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.servers import serving

    expected = "Basic " + base64.b64encode(b"desk@example.org:p:w s").decode()
    seen: list[tuple[int, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            port = self.server.server_address[1]
            seen.append((port, self.path, self.headers.get("Authorization")))
            if self.path == "/away":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{other}/feed")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"ok"
            self.send_response(200 if port == other or self.headers.get("Authorization") == expected else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port, \
            serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as other:
        base = f"http://desk%40example.org:p%3Aw%20s@127.0.0.1:{port}"

        async def both() -> tuple[Response, Response]:
            async with Fetcher() as fetcher:
                return (await fetcher.get(f"{base}/feed", timeout=5), await fetcher.get(f"{base}/away", timeout=5))

        feed, moved = asyncio.run(both())
    assert feed.status == 200 and feed.url == f"http://127.0.0.1:{port}/feed"  # no credentials in what is kept
    assert moved.status == 200 and moved.url == f"http://127.0.0.1:{other}/feed"
    assert seen == [(port, "/feed", expected), (port, "/away", expected), (other, "/feed", None)]
