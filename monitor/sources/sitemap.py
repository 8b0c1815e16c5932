"""Kind ``sitemap``: XML sitemaps, Google News sitemaps, sitemap indexes and robots.txt.

Given a site's home page, the source reads ``/robots.txt`` and follows its ``Sitemap:``
lines; a sitemap index names its sitemaps. Those are ``Listing.follow`` URLs, fetched by
the pipeline: parsing stays pure. News sitemaps (``news:news``) give a title and a
publication time; plain ones a ``lastmod`` at best, and the title comes from the page.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

from lxml import etree

from monitor.errors import SourceError
from monitor.models import Entry, Listing
from monitor.sources.base import Source, absolute_url, body_head, collapse, looks_like_html
from monitor.sources.dates import iso_date

# How many sitemaps of an index (or of robots.txt) one poll reads: a big site's index
# names hundreds of archive sitemaps, and new items are in the few most recent.
MAX_CHILDREN = 5
# A gzipped sitemap is inflated up to what any body may be (the fetcher's default cap): the
# protocol allows 50 MB, but two children of 49 MB took one poll to 2 GB, most of it their
# XML trees, and 10 MB holds 50,000 URLs with room to spare.
_MAX_INFLATED = 10_000_000


class SitemapSource(Source):
    """A sitemap, news sitemap, sitemap index, or a site whose robots.txt names them."""

    kind: ClassVar[str] = "sitemap"
    single_body: ClassVar[bool] = False

    def __init__(self, *, tz: tzinfo = UTC) -> None:
        self.tz = tz

    def request_url(self, url: str, *, since: datetime | None) -> str:
        """A home page (no path) means "the sitemaps its robots.txt lists"."""
        parts = urlsplit(url)
        if parts.path in ("", "/") and not parts.query:
            return urljoin(url, "/robots.txt")
        return url

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> Listing:
        if body[:2] == b"\x1f\x8b":
            body = _gunzip(body, url)
        head = body_head(body, 2048)
        if not head.strip():
            raise SourceError(f"{url} is not a sitemap (got an empty body)")
        if looks_like_html(head):
            raise SourceError(f"{url} is not a sitemap (got HTML; give the sitemap's URL or the site's home page)")
        if head.startswith("<"):
            return self._xml(body, url)
        return _text(body, url)

    def _xml(self, body: bytes, url: str) -> Listing:
        parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(body, parser=parser)
        except etree.LxmlError as exc:
            raise SourceError(f"{url} could not be read as a sitemap: {exc}") from exc
        if root is None:
            raise SourceError(f"{url} is not a sitemap (got XML that could not be read)")
        warnings = [f"{url}: sitemap is not well-formed XML; read what could be recovered"] if parser.error_log else []
        name = etree.QName(root).localname
        if name == "sitemapindex":
            children = [(_child_text(node, "loc"), iso_date(_child_text(node, "lastmod"), self.tz))
                        for node in root if _local(node) == "sitemap"]
            return Listing(entries=(), warnings=tuple(warnings), follow=_pick_children(children, url))
        if name != "urlset":
            raise SourceError(f"{url} is not a sitemap (got XML whose root is <{name}>, expected <urlset>)")
        entries: list[Entry] = []
        seen: set[str] = set()
        for node in root:
            if _local(node) != "url":
                continue
            link = absolute_url(_child_text(node, "loc"), url)
            if link is None or link in seen:
                continue
            seen.add(link)
            news = next((child for child in node if _local(child) == "news"), None)
            title = collapse(_child_text(news, "title")) if news is not None else ""
            published = iso_date(_child_text(news, "publication_date"), self.tz) if news is not None else None
            entries.append(Entry(url=link, title=title,
                                 published=published or iso_date(_child_text(node, "lastmod"), self.tz)))
        return Listing(entries=tuple(entries), warnings=tuple(warnings))

    @classmethod
    def sniff(cls, body: bytes, content_type: str | None) -> bool:
        head = body_head(body, 2048)
        return "<urlset" in head or "<sitemapindex" in head


def _text(body: bytes, url: str) -> Listing:
    """robots.txt (its ``Sitemap:`` lines are followed) or a plain-text sitemap (a URL a line)."""
    lines = [line.strip() for line in body.decode("utf-8", errors="replace").splitlines()]
    sitemaps = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sitemap:")]
    if sitemaps or urlsplit(url).path == "/robots.txt":
        if not sitemaps:
            raise SourceError(f"{url} names no Sitemap: (give the sitemap's own URL instead)")
        return Listing(entries=(), follow=_pick_children([(s, None) for s in sitemaps], url))
    links = [absolute_url(line, url) for line in lines if line and not line.startswith("#")]
    if not links or any(link is None for link in links):
        raise SourceError(f"{url} is not a sitemap (got text that is not one URL per line)")
    return Listing(entries=tuple(Entry(url=link) for link in dict.fromkeys(links) if link))


def _pick_children(children: Iterable[tuple[str, datetime | None]], base: str) -> tuple[str, ...]:
    """The sitemaps worth reading: news sitemaps first, then the most recently modified,
    then index order; at most MAX_CHILDREN."""
    ranked: list[tuple[bool, float, int, str]] = []
    for order, (loc, lastmod) in enumerate(children):
        link = absolute_url(loc, base)
        if link is not None:
            stamp = lastmod.timestamp() if lastmod is not None else float("-inf")
            ranked.append(("news" not in link.lower(), -stamp, order, link))
    return tuple(dict.fromkeys(link for *_, link in sorted(ranked)))[:MAX_CHILDREN]


def _local(node: etree._Element) -> str:
    tag = node.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(node: etree._Element | None, name: str) -> str:
    if node is None:
        return ""
    for child in node:
        if _local(child) == name:
            return (child.text or "").strip()
    return ""


def _gunzip(body: bytes, url: str) -> bytes:
    """A ``.xml.gz`` sitemap, inflated up to a cap (a small gzip can inflate enormously)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, _MAX_INFLATED)
    except zlib.error as exc:
        raise SourceError(f"{url} is not a readable gzip file: {exc}") from exc
    if inflater.unconsumed_tail:
        raise SourceError(f"{url} inflates to more than {_MAX_INFLATED} bytes; refusing it")
    return data

