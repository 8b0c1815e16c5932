"""What a site's home page offers to poll: its feeds and its WordPress API (pure).

Users give us the URL they know, the home page. Its ``<head>`` usually names better
listings: ``<link rel="alternate" type="application/rss+xml">`` feeds and, on WordPress,
``<link rel="https://api.w.org/">``. ``monitor validate -v`` reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.sources.base import absolute_url, collapse, parse_html

_FEED_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS 1.0",
}
_COMMENT_FEED_WORDS = ("comments", "comment feed", "kommentare", "commentaires")


@dataclass(frozen=True, kw_only=True)
class Offer:
    """One listing a page points to: the ``kind`` to configure, its URL, and its title."""

    kind: str
    url: str
    title: str = ""
    format: str = ""


def discover(body: bytes, *, url: str, content_type: str | None = None) -> tuple[Offer, ...]:
    """The feeds (post feeds first, comment feeds left out) and WordPress posts route an
    HTML page declares, in page order; empty for a page that declares none."""
    tree = parse_html(body, content_type)
    base_node = tree.css_first("base[href]")
    base = (absolute_url(base_node.attributes.get("href") or "", url) or url) if base_node is not None else url
    offers: list[Offer] = []
    seen: set[str] = set()
    for link in tree.css("link[rel][href]"):
        rels = (link.attributes.get("rel") or "").lower().split()
        href = absolute_url(link.attributes.get("href") or "", base, keep_fragment=True)
        if href is None or href in seen:
            continue
        kind_type = (link.attributes.get("type") or "").lower().split(";")[0].strip()
        title = collapse(link.attributes.get("title") or "")
        if "alternate" in rels and kind_type in _FEED_TYPES:
            if any(word in title.lower() for word in _COMMENT_FEED_WORDS):
                continue
            offers.append(Offer(kind="feed", url=href, title=title, format=_FEED_TYPES[kind_type]))
        elif "https://api.w.org/" in rels:
            offers.append(Offer(kind="wordpress", url=href.rstrip("/") + "/wp/v2/posts", format="WordPress API"))
        else:
            continue
        seen.add(href)
    return tuple(offers)
