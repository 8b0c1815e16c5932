"""Canonical URLs: the identity of an item."""

from __future__ import annotations

import pytest

from monitor.urls import canonical_url


@pytest.mark.parametrize(("raw", "canonical"), [
    ("HTTPS://WWW.Dawn.com/news/1", "https://www.dawn.com/news/1"),
    ("https://www.dawn.com:443/news/1", "https://www.dawn.com/news/1"),
    ("http://example.org:80/a", "http://example.org/a"),
    ("http://example.org:8080/a", "http://example.org:8080/a"),
    ("https://example.org/a#comments", "https://example.org/a"),
    ("https://example.org/a?utm_source=tw&utm_medium=social", "https://example.org/a"),
    ("https://example.org/a?id=5&fbclid=XYZ&gclid=1", "https://example.org/a?id=5"),
    ("https://example.org/a?b=2&a=1", "https://example.org/a?b=2&a=1"),
    ("https://example.org", "https://example.org/"),
    ("https://example.org/Path/Case", "https://example.org/Path/Case"),
    # Re-encoded as every stored item's URL was: another spelling would make them new again.
    ("https://example.org/s?q=a%20b&fbclid=1", "https://example.org/s?q=a+b"),
    ("https://example.org/r?url=https://a.example/x&utm_source=x", "https://example.org/r?url=https%3A%2F%2Fa.example%2Fx"),
])
def test_canonical_url(raw: str, canonical: str) -> None:
    """Scheme/host case, default ports, fragments and tracking parameters never split an item."""
    assert canonical_url(raw) == canonical


def test_canonical_url_is_idempotent() -> None:
    """Canonicalising twice changes nothing."""
    once = canonical_url("HTTP://Example.org:80/x?utm_campaign=a&q=1#top")
    assert canonical_url(once) == once


def test_an_absolute_link_wrapped_over_lines_is_cleaned_as_before() -> None:
    """The fast path for absolute links must not keep the tab or newline urljoin drops."""
    from monitor.sources.base import absolute_url

    assert absolute_url("https://example.org/news/\n  a1", "https://example.org/") == "https://example.org/news/  a1"
    assert absolute_url("https://example.org/a\tb", "https://example.org/") == "https://example.org/ab"


@pytest.mark.parametrize("link", ["http://127.0.0.1:99999/x", "http://example.org:0x/x", "http://example.org:443 /x",
                                  "http://:80/x", "http://[::1/x"])
def test_a_link_no_one_can_fetch_is_no_item(link: str) -> None:
    """A bad port or a missing host: no item, rather than an error in every canonical URL after it."""
    from monitor.sources.base import absolute_url

    assert absolute_url(link, "https://example.org/") is None


@pytest.mark.parametrize(("url", "key"), [
    ("https://desk:s3cret@API.example:443/feed?key=tok3n#top", "https://api.example/feed"),
    ("http://[::1]:8080/x?a=1", "http://[::1]:8080/x"),
    ("https://api.example", "https://api.example/"),
])
def test_url_key_is_where_a_url_points_without_its_query_or_credentials(url: str, key: str) -> None:
    """What tells a source's new URL from its old one: a token in the query or the
    credentials rotates without moving the source, a host or path does not. Kept as a digest."""
    import hashlib

    from monitor.urls import url_key, where_it_points

    assert where_it_points(url) == key
    assert url_key(url) == hashlib.sha256(key.encode()).hexdigest()
