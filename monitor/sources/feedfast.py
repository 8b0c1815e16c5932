"""A fast path for the plainest feeds: UTF-8 RSS 2.0 or Atom whose titles and teasers are
plain text, read with lxml in well under a millisecond where feedparser takes 10-30 ms.

Why a subset: feedparser's reading of anything unusual (HTML in titles, relative bases,
odd encodings, namespaced extras, dates without a zone) is the contract, so this module
answers only when the feed is plain enough that the answer is certain to be the same, and
returns None otherwise; the caller then asks feedparser. tests/test_feedfast.py checks
the two agree on every corpus feed this path accepts.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from lxml import etree

from monitor.headers import capped_count
from monitor.models import Entry
from monitor.sources.base import absolute_url, collapse, header_charset

ATOM = "{http://www.w3.org/2005/Atom}"
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_RSS_KEEP = frozenset({"title", "link", "guid", "pubDate", "description", "category", "author", "comments",
                       _DC_CREATOR})
_ATOM_KEEP = frozenset(ATOM + tag for tag in ("title", "link", "id", "updated", "published", "summary",
                                              "author", "category"))
_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_RFC822 = re.compile(r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                     r"Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} (?:[+-]\d{4}|GMT|UTC|UT|Z)$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
_PARSERS = threading.local()  # one parser a thread: lxml locks a parser while it parses


def _parser() -> etree.XMLParser:
    """This thread's parser. Shared, a small feed read on the event loop waited for a large
    one read in a thread (``crawl.parse``): 0.47 s behind a 17 MB feed."""
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                                   huge_tree=False, remove_comments=True, remove_pis=True)
    return parser


class _Unsure(Exception):
    """The feed is outside the plain subset: feedparser must read it."""


@dataclass(frozen=True, kw_only=True)
class FastFeed:
    """A plain feed as the fast path read it: its entries (None for one without an http(s)
    link) and its RSS ``<ttl>``."""

    entries: list[Entry | None]
    ttl: timedelta | None = None


def parse_ttl(text: str | None) -> timedelta | None:
    """An RSS ``<ttl>`` (whole minutes) as a timedelta, at most a year; None when absent,
    not a number or zero."""
    minutes = capped_count(text, 366 * 24 * 60)
    return timedelta(minutes=minutes) if minutes else None


def fast_feed(body: bytes, *, url: str, content_type: str | None) -> FastFeed | None:
    """The feed's entries and ttl, or None when unsure."""
    if b"<!DOCTYPE" in body[:4096] or b"xml:base" in body or b"rel=\"next\"" in body or b"rel='next'" in body:
        return None
    declared = _DECLARATION.match(body)
    if declared is not None and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return None
    if content_type and header_charset(content_type) not in (None, "utf-8"):
        return None
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError):
        return None
    try:
        if root.tag == "rss" and root.get("version") == "2.0" and len(root) == 1 and root[0].tag == "channel":
            channel = root[0]
            return FastFeed(entries=[_rss_item(item, url) for item in channel.iterchildren("item")],
                            ttl=parse_ttl(channel.findtext("ttl")))
        if root.tag == ATOM + "feed":
            return FastFeed(entries=[_atom_entry(entry, url) for entry in root.iterchildren(ATOM + "entry")])
    except _Unsure:
        return None
    return None


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    if len(element):
        raise _Unsure  # markup inside: feedparser's rules for it apply
    text = element.text or ""
    if "<" in text or "&" in text:
        raise _Unsure  # escaped HTML: feedparser sanitises and converts it
    return text


def _children(element: etree._Element, keep: frozenset[str]) -> dict[str, etree._Element]:
    found: dict[str, etree._Element] = {}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag not in keep or child.attrib.get("{http://www.w3.org/XML/1998/namespace}base"):
            raise _Unsure
        if tag in found and tag not in ("category", ATOM + "link", ATOM + "category", ATOM + "author"):
            raise _Unsure  # a repeated field: which one feedparser keeps is its business
        found.setdefault(tag, child)
    return found


def _rss_item(item: etree._Element, base: str) -> Entry | None:
    fields = _children(item, _RSS_KEEP)
    guid_el = fields.get("guid")
    guid = collapse(_text(guid_el)) or None
    candidates = [_text(fields.get("link")).strip()]
    if guid and (guid_el is None or guid_el.get("isPermaLink", "true") != "false"):
        if not guid.startswith(("http://", "https://")):
            raise _Unsure  # feedparser resolves a permalink guid against the feed's URL
        candidates.append(guid)
    published = None
    if "pubDate" in fields:
        published = _rfc822(collapse(_text(fields["pubDate"])))
    return _entry(candidates, base, title=_text(fields.get("title")), guid=guid,
                  summary=_text(fields.get("description")), published=published)


def _atom_entry(entry: etree._Element, base: str) -> Entry | None:
    fields = _children(entry, _ATOM_KEEP)
    for name in ("title", "summary"):
        if fields.get(ATOM + name) is not None and fields[ATOM + name].get("type", "text") != "text":
            raise _Unsure
    links = [link for link in entry.iterchildren(ATOM + "link")]
    if any(link.get("rel", "alternate") != "alternate" or link.get("href") is None for link in links) or len(links) > 1:
        raise _Unsure
    guid = collapse(_text(fields.get(ATOM + "id"))) or None
    if guid and "://" in guid and guid.split("/", 3)[:3] != guid.lower().split("/", 3)[:3]:
        raise _Unsure  # feedparser normalises an Atom id's scheme and host
    candidates = [links[0].get("href", "").strip()] if links else []
    if guid and guid.lower().startswith(("http://", "https://")):
        candidates.append(guid)
    stamp = fields.get(ATOM + "published")
    if stamp is None:
        stamp = fields.get(ATOM + "updated")
    published = _iso(collapse(_text(stamp))) if stamp is not None else None
    return _entry(candidates, base, title=_text(fields.get(ATOM + "title")), guid=guid,
                  summary=_text(fields.get(ATOM + "summary")), published=published)


def _entry(candidates: list[str], base: str, *, title: str, guid: str | None, summary: str,
           published: datetime | None) -> Entry | None:
    for candidate in candidates:
        link = absolute_url(candidate, base, keep_fragment=True) if candidate else None
        if link is not None:
            return Entry(url=link, title=collapse(title), guid=guid, summary=collapse(summary), published=published)
    return None


def _rfc822(text: str) -> datetime:
    """An RFC 822 date with a zone. A date that cannot be (hour 24, 30 February, a leap
    second, a zone of 24 hours or more or with 60 minutes or more, a year pushed past 9999
    by its zone) or the zone -0000 ("unknown") is feedparser's to read."""
    if not _RFC822.match(text) or (text[-5] in "+-" and text[-2:] >= "60"):
        raise _Unsure
    try:
        moment = parsedate_to_datetime(text)
        if moment.tzinfo is None:
            raise _Unsure
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: a zone that moves year 9999 or 1 out of range
        raise _Unsure from None


def _iso(text: str) -> datetime:
    if not _ISO.match(text) or (not text.endswith("Z") and text[-2:] >= "60"):  # a zone of 60 minutes or more
        raise _Unsure
    try:  # ValueError: a date that cannot be (2026-02-30, 24:00); OverflowError: as in _rfc822
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(microsecond=0)
    except (ValueError, OverflowError):
        raise _Unsure from None
