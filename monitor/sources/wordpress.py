"""Kind ``wordpress``: a WordPress site's REST API, ``/wp-json/wp/v2/posts``.

Why the API rather than the site's feed: it pages (``page``, ``X-WP-TotalPages``), filters
by date (``after=``), and carries each post's full text (``content.rendered``), so no
article page is fetched. Both the 2016 (API plugin, v2 beta) and the modern response
shapes are read: a JSON list of posts with ``title.rendered``, ``link``, ``date_gmt``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.errors import SourceError
from monitor.models import Entry, Listing, Response
from monitor.sources.base import Source, absolute_url, body_head, collapse, page_number, plain_text
from monitor.sources.dates import iso_date

POSTS_PATH = "/wp-json/wp/v2/posts"
# ``after`` compares with a post's local date on the site, in a zone we do not know, and
# an editor may publish a post dated a little earlier; dedupe drops what we have seen.
_AFTER_MARGIN = timedelta(days=2)


class WordPressSource(Source):
    """Posts from ``/wp-json/wp/v2/posts``; ``url`` may be the site's home page instead."""

    kind: ClassVar[str] = "wordpress"

    def __init__(self, *, tz: tzinfo = UTC) -> None:
        self.tz = tz

    def request_url(self, url: str, *, since: datetime | None) -> str:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path
        if "/wp-json/" not in path + "/" and "rest_route" not in query:
            path = path.rstrip("/") + POSTS_PATH
        if since is not None and "after" not in query:
            query["after"] = (since.astimezone(UTC) - _AFTER_MARGIN).strftime("%Y-%m-%dT%H:%M:%S")
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))

    def next_page(self, listing: Listing, response: Response) -> str | None:
        """The next ``page=`` while under ``X-WP-TotalPages``; else the ``Link: rel=next``."""
        total = response.headers.get("x-wp-totalpages", "").strip()
        parts = urlsplit(response.url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        page = page_number(query.get("page", "")) or 1
        if (pages := page_number(total)) is not None:
            if page >= pages or not listing.entries:
                return None
            query["page"] = str(page + 1)
            return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
        return _link_next(response.headers.get("link", ""), response.url)

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> Listing:
        try:
            document = json.loads(body.decode("utf-8-sig"), strict=False)
        except (ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8, an integer of 4,300+ digits
            raise SourceError(f"{url} is not a WordPress posts list (got invalid JSON: {exc})") from exc
        if isinstance(document, dict):
            raise SourceError(_object_problem(url, document))
        if not isinstance(document, list):
            raise SourceError(f"{url} is not a WordPress posts list (got a JSON {type(document).__name__})")
        entries: list[Entry] = []
        seen: set[str] = set()
        skipped = 0
        for post in document:
            entry = self._entry(post, url) if isinstance(post, dict) else None
            if entry is None:
                skipped += 1
            elif entry.url not in seen:
                seen.add(entry.url)
                entries.append(entry)
        warnings = (f"{url}: skipped {skipped} post(s) without a link",) if skipped else ()
        return Listing(entries=tuple(entries), warnings=warnings)

    def _entry(self, post: Mapping[str, Any], base: str) -> Entry | None:
        link = post.get("link")
        url = absolute_url(link, base, keep_fragment=True) if isinstance(link, str) else None
        if url is None:
            return None
        content = plain_text(_rendered(post.get("content")))
        guid = _rendered(post.get("guid")) or (str(post["id"]) if post.get("id") is not None else "")
        return Entry(
            url=url,
            title=plain_text(_rendered(post.get("title"))),
            guid=collapse(guid) or None,
            summary=plain_text(_rendered(post.get("excerpt"))),
            published=self._published(post),
            content=content or None,
        )

    def _published(self, post: Mapping[str, Any]) -> datetime | None:
        """``date_gmt`` is UTC though it carries no offset; ``date`` is the site's local time."""
        return iso_date(post.get("date_gmt"), UTC) or iso_date(post.get("date"), self.tz)

    @classmethod
    def sniff(cls, body: bytes, content_type: str | None) -> bool:
        head = body_head(body, 4096)
        return head.startswith("[") and ('"rendered"' in head or '"date_gmt"' in head)


def _rendered(value: object) -> str:
    """A field as text: modern WordPress nests it as ``{"rendered": ...}``, old plugins not."""
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _object_problem(url: str, document: Mapping[str, Any]) -> str:
    if "code" in document and "message" in document:
        return (f"{url}: WordPress answered with error {document['code']!r}: "
                f"{collapse(str(document['message']))[:200]}")
    if "namespaces" in document or "routes" in document:
        return f"{url} is the WordPress API index, not its posts (use {POSTS_PATH})"
    return f"{url} is not a WordPress posts list (got a JSON object, expected a list of posts)"


def _link_next(header: str, base: str) -> str | None:
    """The ``rel="next"`` target of an RFC 8288 ``Link`` header, absolute; or None."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        rels = {p.strip().split("=", 1)[-1].strip('"').lower() for p in params.split(";") if "rel" in p}
        if "next" in rels:
            return absolute_url(target.strip().strip("<>"), base, keep_fragment=True)
    return None
