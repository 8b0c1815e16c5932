"""Kind ``feed``: RSS 0.9x/1.0/2.0 and Atom (through feedparser), and JSON Feed 1.0/1.1.

Entries keep ``content`` None: feeds mostly carry teasers, so the pipeline fetches the
article page; the fullest text the feed does carry becomes the plain-text ``summary``.
"""

from __future__ import annotations

import io
import json
import re
import time
import xml.sax
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from xml.parsers import expat

from dateutil import parser as dateutil_parser

from monitor.errors import SourceError
from monitor.models import Entry, Listing
from monitor.sources.base import (
    Source,
    absolute_url,
    body_head,
    collapse,
    looks_like_html,
    plain_text,
)
from monitor.sources.dates import as_utc, iso_date, parse_date
from monitor.sources.discover import discover
from monitor.sources.feedfast import fast_feed, parse_ttl

_FEED_ROOTS = ("<rss", "<feed", "<rdf:rdf", "<rdf", "<channel")
_DATE_KEYS = ("published_parsed", "updated_parsed", "created_parsed")
MAX_EXPANSION = 1_000_000  # characters the declared entities may add to a feed, all references counted
MAX_ENTITIES = 100  # declarations in one subset


class FeedSource(Source):
    """RSS, Atom or JSON Feed; the format is recognised from the body itself."""

    kind: ClassVar[str] = "feed"

    def __init__(self, *, tz: tzinfo = UTC) -> None:
        self.tz = tz

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> Listing:
        head = body_head(body)
        if not head.strip():
            raise SourceError(f"{url} is not a feed (got an empty body)")
        if head.startswith(("{", "[")):
            return _parse_json_feed(body, url=url, tz=self.tz)
        plain = fast_feed(body, url=url, content_type=content_type)  # None: not plain enough to be sure
        if plain is not None:
            return _listing(plain.entries, url=url, warnings=[], ttl=plain.ttl)
        return _parse_xml_feed(body, url=url, content_type=content_type, head=head, tz=self.tz)

    @classmethod
    def sniff(cls, body: bytes, content_type: str | None) -> bool:
        head = body_head(body, 4096)  # feeds may open with a long comment or stylesheet PI
        if head.startswith("{"):
            return "jsonfeed.org/version" in head.replace("\\/", "/")
        if looks_like_html(head):
            return False
        mime = (content_type or "").lower()
        if any(t in mime for t in ("rss", "atom", "rdf", "feed+json")):
            return True
        return any(root in head for root in _FEED_ROOTS)


def _parse_xml_feed(body: bytes, *, url: str, content_type: str | None, head: str, tz: tzinfo) -> Listing:
    if (bomb := _entity_bomb(body)) is not None:
        raise SourceError(f"{url} declares {bomb}: the shape of an entity-expansion bomb (refused; "
                          "ask the publisher for a feed without a DOCTYPE)")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # Imported here: the fast path (feedfast) reads the feeds it is sure of, and feedparser's
    # 30-odd modules (~1 MB) are loaded in the daemon only once a feed needs them.
    import feedparser

    try:
        # Why BytesIO: feedparser fetches a str that looks like a URL and open()s a str or
        # bytes that names a file; a stream it only reads.
        result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except (ValueError, TypeError, LookupError, xml.sax.SAXException, RecursionError) as exc:
        raise SourceError(f"{url} could not be read as a feed: {exc}") from exc
    raw_entries: list[Mapping[str, Any]] = list(result.get("entries", []))
    if not result.get("version") and not raw_entries:
        raise _not_a_feed(body, url=url, content_type=content_type, head=head)
    warnings: list[str] = []
    # Why NonXMLContentType is ignored: servers label feeds text/html; we judge the body.
    bozo = result.get("bozo_exception")
    if result.get("bozo") and not isinstance(bozo, feedparser.NonXMLContentType):
        reason = collapse(str(bozo or ""))[:200] or "malformed"
        warnings.append(f"{url}: feed is not well-formed ({reason}); read what could be recovered")
    entries = [_xml_entry(raw, url, tz) for raw in raw_entries]
    feed_links = result.get("feed", {}).get("links", [])
    next_url = next((absolute_url(str(link.get("href", "")), url, keep_fragment=True)
                     for link in feed_links if link.get("rel") == "next"), None)
    ttl = parse_ttl(str(result.get("feed", {}).get("ttl") or ""))
    return _listing(entries, url=url, warnings=warnings, next_url=next_url, ttl=ttl)


class _RootReached(Exception):
    """The root element began: every declaration of the prolog has been read."""


def _entity_bomb(body: bytes) -> str | None:
    """What makes the DOCTYPE's entities a bomb, or None: a value that refers to another
    entity, an internal parameter entity, more than ``MAX_ENTITIES`` declarations, or values
    that the references in the body would expand past ``MAX_EXPANSION`` characters.

    Why: expat stops a billion-laughs bomb only after seconds of expansion on the event
    loop, a single 9 MB entity referred to 300,000 times took 1 GB before it did, and one
    of 1,000 characters referred to 50,000 times took 4.7 s. Feeds do declare plain
    entities (``<!ENTITY nbsp "&#160;">``, ``<!ENTITY id "tag:...">``), so those pass;
    external entities pass too, as feedparser never loads them. The declarations are read
    by expat itself, up to the root element and no further: comments, quotes, a ``]>`` in
    a value and ``&#38;`` (an ``&`` once declared) are read as the parser that expands
    them reads them, which no pattern over the bytes managed."""
    # Read as Latin-1 whatever it declares: every byte is a character, so a declared
    # encoding expat does not know (windows-1252, which feedparser converts) stops nothing
    # short, and markup reads the same in every ASCII-based encoding. UTF-16 is made UTF-8.
    encoding = "iso-8859-1"
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
        body, encoding = body.decode("utf-16", errors="replace").encode("utf-8"), "utf-8"
    if b"<!ENTITY" not in body:
        return None
    declared: list[tuple[str, str]] = []
    parameters: list[str] = []

    def entity(name: str, is_parameter: int, value: str | None, *_: object) -> None:
        if value is None:
            return  # external: feedparser never loads it
        if is_parameter:  # internal: expat expands it within the subset, into declarations
            parameters.append(name)
            raise _RootReached  # enough is known
        declared.append((name, value))

    def root(*_: object) -> None:
        raise _RootReached

    parser = expat.ParserCreate(encoding)
    parser.EntityDeclHandler = entity
    parser.StartElementHandler = root
    try:
        parser.Parse(body, True)
    except (_RootReached, expat.ExpatError):
        pass  # a prolog expat cannot read: what it read is judged (feedparser's loose parser declares nothing)
    if parameters:
        return "an internal parameter entity"
    if len(declared) > MAX_ENTITIES:
        return f"{len(declared)} XML entities (over {MAX_ENTITIES})"
    expansion = 0
    for name, value in declared:
        if re.search(r"[&%][A-Za-z_:]", value):
            return "XML entities built from other entities"
        expansion += len(value) * body.count(f"&{name};".encode(encoding))
    if expansion > MAX_EXPANSION:
        return f"XML entities whose references would add {expansion:,} characters (over {MAX_EXPANSION:,})"
    return None


def _xml_entry(raw: Mapping[str, Any], base: str, tz: tzinfo) -> Entry | None:
    link = _link(raw, base)
    if link is None:
        return None
    guid = raw.get("id") or None
    texts = [_detail_text(c) for c in raw.get("content", [])]
    texts.append(_detail_text(raw.get("summary_detail") or {"value": raw.get("summary", "")}))
    return Entry(
        url=link,
        title=_detail_text(raw.get("title_detail") or {"value": raw.get("title", "")}),
        guid=str(guid) if guid else None,
        summary=max(texts, key=len),
        published=_entry_date(raw, tz),
    )


def _link(raw: Mapping[str, Any], base: str) -> str | None:
    candidates: list[str] = [raw.get("link") or ""]
    candidates += [
        link.get("href", "")
        for link in raw.get("links", [])
        if link.get("rel", "alternate") == "alternate"
    ]
    if raw.get("guidislink", True) and _is_absolute(raw.get("id")):
        candidates.append(raw["id"])
    for candidate in candidates:
        resolved = absolute_url(str(candidate), base, keep_fragment=True) if candidate else None
        if resolved is not None:
            return resolved
    return None


def _is_absolute(value: object) -> bool:
    """Why: an id is a link only when it is a full URL; "1234" is no path on the site."""
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def _detail_text(detail: Mapping[str, Any]) -> str:
    value = str(detail.get("value") or "")
    if "html" in str(detail.get("type", "text/html")):
        return plain_text(value)
    return collapse(value)


def _entry_date(raw: Mapping[str, Any], tz: tzinfo) -> datetime | None:
    """The entry's date: feedparser's reading, corrected where it falls short.

    Why: feedparser reads a zone-less date as UTC (for a source in Asia/Karachi, five
    hours off), and gives up on month and day names in other languages ("mer, 16 nov
    2022"), which our own reading of the text still understands.
    """
    moment = _struct_time(raw)
    stated = dict(raw)  # a plain dict: FeedParserDict maps "updated" to "published"
    text = next((v for k in ("published", "updated", "created") if isinstance(v := stated.get(k), str) and v.strip()),
                None)
    if text is None:
        return moment
    if moment is None:
        return parse_date(text, tz)
    if tz is not UTC:
        try:
            naive = dateutil_parser.parse(text)
        except (ValueError, OverflowError):
            return moment
        if naive.tzinfo is None:
            return as_utc(naive, tz)
    return moment


def _struct_time(raw: Mapping[str, Any]) -> datetime | None:
    # A plain dict: FeedParserDict.get maps a missing updated_parsed to published_parsed
    # with a DeprecationWarning; we want exactly the key asked for.
    stated = dict(raw)
    for key in _DATE_KEYS:
        moment: time.struct_time | None = stated.get(key)
        if moment is None:
            continue
        try:
            return datetime(*moment[:6], tzinfo=UTC)
        except (TypeError, ValueError, OverflowError):
            continue
    return None


def _parse_json_feed(body: bytes, *, url: str, tz: tzinfo) -> Listing:
    try:
        # strict=False: real feeds carry raw control characters inside strings.
        document = json.loads(body.decode("utf-8-sig"), strict=False)
    except (ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8, an integer of 4,300+ digits
        raise SourceError(f"{url} is not a feed (got invalid JSON: {exc})") from exc
    if not isinstance(document, dict):
        raise SourceError(f"{url} is not a feed (got JSON that is not an object)")
    items = document.get("items")
    version = str(document.get("version", ""))
    if "jsonfeed.org/version" not in version and version not in ("1", "1.0", "1.1"):
        raise SourceError(f"{url} is not a feed (got JSON without a JSON Feed version)")
    warnings: list[str] = []
    if "jsonfeed.org/version" not in version:
        warnings.append(f"{url}: JSON Feed version {version!r} is not a jsonfeed.org URL; read anyway")
    if not isinstance(items, list):
        warnings.append(f"{url}: JSON Feed has no 'items' list")
        items = []
    entries = [_json_entry(item, url, tz) for item in items if isinstance(item, dict)]
    next_url = document.get("next_url")
    next_url = absolute_url(next_url, url, keep_fragment=True) if isinstance(next_url, str) else None
    return _listing(entries, url=url, warnings=warnings, next_url=next_url)


def _json_entry(item: Mapping[str, Any], base: str, tz: tzinfo) -> Entry | None:
    link = None
    for key in ("url", "external_url", "id"):
        value = item.get(key)
        if key == "id" and not _is_absolute(value):
            continue
        if isinstance(value, str) and (link := absolute_url(value, base, keep_fragment=True)):
            break
    if link is None:
        return None
    texts = [
        plain_text(_str(item.get("content_html"))),
        collapse(_str(item.get("content_text"))),
        collapse(_str(item.get("summary"))),
    ]
    guid = item.get("id")
    return Entry(
        url=link,
        title=collapse(_str(item.get("title"))),
        guid=str(guid) if guid not in (None, "") else None,
        summary=max(texts, key=len),
        published=iso_date(item.get("date_published"), tz) or iso_date(item.get("date_modified"), tz),
    )


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _listing(entries: Iterable[Entry | None], *, url: str, warnings: list[str],
             next_url: str | None = None, ttl: timedelta | None = None) -> Listing:
    seen: set[str] = set()
    kept: list[Entry] = []
    skipped = 0
    for entry in entries:
        if entry is None:
            skipped += 1
        elif entry.url not in seen:
            seen.add(entry.url)
            kept.append(entry)
    if skipped:
        warnings.append(f"{url}: skipped {skipped} item(s) without an http(s) link")
    return Listing(entries=tuple(kept), warnings=tuple(warnings), next_url=next_url, ttl=ttl)


def _not_a_feed(body: bytes, *, url: str, content_type: str | None, head: str) -> SourceError:
    """The error for a web page given as a feed, naming the feed the page declares if any.

    Why not follow it: the page's validators would then decide whether the feed is read,
    and an unchanged home page would hide new items. Users paste the address they know;
    the error hands them the one to configure."""
    if looks_like_html(head):
        feeds = [offer.url for offer in discover(body, url=url, content_type=content_type) if offer.kind == "feed"]
        if feeds:
            return SourceError(f"{url} is a web page, not a feed; it declares the feed {feeds[0]}: "
                               f"set url: {feeds[0]} (or kind: html to read the page itself)")
    return SourceError(f"{url} is not a feed (got {_describe(head)})")


def _describe(head: str) -> str:
    """What a non-feed body looks like, for the error message."""
    if looks_like_html(head):
        return "HTML; use kind: html for a web page, or point url at the site's feed"
    if head.startswith("<?xml") or head.startswith("<"):
        return "XML without an RSS, Atom or RDF root element"
    return "text that is neither XML nor JSON"
