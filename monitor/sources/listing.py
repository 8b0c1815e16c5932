"""Kind ``html``: a listing web page (a press office's "press releases" page, a homepage).

With selectors, items are exactly what they select. Without, a heuristic picks the page's
repeated article links: links that share a DOM position and a URL shape, outside
navigation, headers, footers, sidebars and "most read" / "recent news" boxes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import ClassVar
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.errors import SourceError
from monitor.models import Entry, Listing
from monitor.sources.base import (
    ListingSelectors,
    Source,
    absolute_url,
    body_head,
    collapse,
    looks_like_html,
    node_text,
    page_number,
    parse_html,
)
from monitor.sources.dates import parse_date


class ListingSource(Source):
    """An HTML page listing items; ``select.item`` pins them down, else a heuristic finds them."""

    kind: ClassVar[str] = "html"

    def __init__(self, *, select: ListingSelectors | None = None, tz: tzinfo = UTC) -> None:
        self.select = select
        self.tz = tz

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> Listing:
        if not body.strip():
            raise SourceError(f"{url} is not an HTML page (got an empty body)")
        try:
            tree = parse_html(body, content_type)
            base = _base_url(tree, url)
            if self.select is not None and self.select.item is not None:
                entries = list(_selected(tree, self.select.item, self.select, base, self.tz))
                warnings = () if entries else (f"{url}: item selector {self.select.item!r} matched no links",)
            else:
                entries = _heuristic(tree, base, self.tz)
                warnings = () if entries else (f"{url}: found no repeated article links",)
        except SelectolaxError as exc:
            raise SourceError(f"{url}: a CSS selector could not be applied: {exc}") from exc
        return Listing(entries=_dedupe(entries), warnings=warnings, next_url=_next_link(tree, base, url))

    @classmethod
    def sniff(cls, body: bytes, content_type: str | None) -> bool:
        return "html" in (content_type or "").lower() or looks_like_html(body_head(body))


def check_selectors(select: ListingSelectors) -> None:
    """Raise ValueError naming the first selector that is not valid CSS.

    Why: a typo in the config should fail at start-up, not on every poll.
    """
    probe = LexborHTMLParser("<p></p>")
    for name in ("item", "link", "title", "date", "content"):
        query = getattr(select, name)
        if query is None:
            continue
        try:
            probe.css(query)
        except SelectolaxError as exc:
            raise ValueError(f"select.{name}: {query!r} is not a valid CSS selector") from exc


def _base_url(tree: LexborHTMLParser, url: str) -> str:
    base = tree.css_first("base[href]")
    href = base.attributes.get("href") if base is not None else None
    return (absolute_url(href, url) or url) if href else url


def _selected(tree: LexborHTMLParser, item_query: str, select: ListingSelectors, base: str,
              tz: tzinfo) -> Iterator[Entry]:
    for item in tree.css(item_query):
        link_node = item.css_first(select.link)
        href = link_node.attributes.get("href") if link_node is not None else None
        link = absolute_url(href, base) if href else None
        if link is None or link_node is None:
            continue
        title_node = item.css_first(select.title) if select.title else None
        title = node_text(title_node) if title_node is not None else _link_title(link_node)
        date_node = item.css_first(select.date) if select.date else None
        yield Entry(
            url=link,
            title=title,
            published=_node_date(date_node, tz) if date_node is not None else None,
        )


# Bounds on the heuristic's work, which is links times their depth: 10,000 links nested in
# one another took 96 s and 3 GB. A press listing has tens of links, a mega-menu hundreds;
# an item's link sits a few elements deep.
MAX_LINKS = 2000  # the first links of the page are weighed as items, the rest ignored
MAX_ANCESTORS = 64  # a link this many elements deep, or deeper, is no listing's item


_NEXT_WORDS = frozenset({"next", "next page", "older", "older posts", "older entries", "›", "»", ">",
                         "next ›", "next »", "next >", "next →", "→", "suivant", "weiter", "اگلا"})
_PAGE_IN_PATH = re.compile(r"/page/(\d+)/?$")


def _next_link(tree: LexborHTMLParser, base: str, url: str) -> str | None:
    """The listing's next page: a ``rel=next`` link, a pager link reading "Next" or "»",
    or a link to this URL with its page number (``?page=N``, ``/page/N/``) plus one."""
    for node in tree.css("link[rel~=next][href], a[rel~=next][href]"):
        if (link := absolute_url(node.attributes.get("href") or "", base)) and link != url:
            return link
    wanted = _following_page(url)
    anchors = tree.css("a[href]")
    if len(anchors) > 2 * MAX_LINKS:  # a pager sits above or below the list: look at both ends only
        anchors = anchors[:MAX_LINKS] + anchors[-MAX_LINKS:]
    for anchor in anchors:
        link = absolute_url(anchor.attributes.get("href") or "", base)
        if link is None or link == url:
            continue
        if link == wanted:
            return link
        classes = (anchor.attributes.get("class") or "").lower().split()
        if "next" in classes or collapse(node_text(anchor).lower()) in _NEXT_WORDS:
            return link
    return None


def _following_page(url: str) -> str:
    """``url`` with its page number one higher (``?page=2`` for a first page)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if (match := _PAGE_IN_PATH.search(parts.path)) and (in_path := page_number(match.group(1))) is not None:
        path = parts.path[: match.start()] + f"/page/{in_path + 1}/"
        return parts._replace(path=path).geturl()
    number = next((n for k, v in query if k == "page" and (n := page_number(v)) is not None), 1)
    query = [(k, v) for k, v in query if k != "page"] + [("page", str(number + 1))]
    return parts._replace(query=urlencode(query)).geturl()


def _link_title(link: LexborNode) -> str:
    return node_text(link) or collapse(link.attributes.get("title") or link.attributes.get("aria-label") or "")


def _node_date(node: LexborNode, tz: tzinfo) -> datetime | None:
    """The date an element states: a machine-readable attribute (its own or a ``<time>``'s
    inside it) first, then its text."""
    for holder in (node, *node.css("time[datetime]")):
        for attribute in ("datetime", "content", "data-date"):
            value = holder.attributes.get(attribute)
            if value and (moment := parse_date(value, tz)) is not None:
                return moment
    return parse_date(node_text(node), tz)


_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Text that plainly states a date ("Apr 14, 2015", "14 April 2015", "2015-04-14", "4/14/15").
_DATEISH = re.compile(
    rf"\b(?:{_MONTHS}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})\b",
    re.IGNORECASE,
)
def _dedupe(entries: list[Entry]) -> tuple[Entry, ...]:
    """First occurrence wins, but a later title fills an empty one (image link, then headline)."""
    by_url: dict[str, Entry] = {}
    for entry in entries:
        known = by_url.get(entry.url)
        if known is None:
            by_url[entry.url] = entry
        elif not known.title and entry.title:
            by_url[entry.url] = Entry(url=known.url, title=entry.title, published=known.published)
    return tuple(by_url.values())


# Containers whose links are never the listing.
_SKIP_TAGS = frozenset({"nav", "aside", "select", "noscript", "template", "script"})
_CHROME_TAGS = frozenset({"header", "footer"})
_SKIP_WORDS = re.compile(
    r"(?:^|[-_\s])(?:nav|navbar|navigation|menu|menus|submenu|footer|sidebar|side-bar"
    r"|breadcrumbs?|share|sharing|social|related|popular|most-?read|most-?viewed|most-?popular"
    r"|trending|recent|recent-?news|recent-?posts|latest-?news|ticker|breaking|comments?|pagination|pager"
    r"|login|newsletter|subscribe|cookies?|advert\w*|ads?|banner|topbar|top-bar|masthead|tags?"
    r"|tagcloud|categories|archives?|skip|mega-?menu|offcanvas|off-canvas|modal|dropdown)(?:$|[-_\s])",
    re.IGNORECASE,
)
_WRAPPERS = ("wrap", "content", "container", "main", "page", "body")
_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "menu", "menubar", "search"})
_DIGITS = re.compile(r"\d+")
# Classes that name one post's taxonomy (WordPress's "category-world tag-latest post-123").
_PER_POST_CLASS = re.compile(r"(?:category|tag|writer|author|post|type|status|format|has)[-_]", re.I)
# Classes that mark a row's position or state, not its kind (Drupal's views-row-odd...).
_POSITION_CLASS = re.compile(r"(?:^|[-_])(?:first|last|odd|even|active|current|selected|alt)$")
_MIN_GROUP = 3


@dataclass(frozen=True, kw_only=True)
class _Candidate:
    order: int
    url: str
    title: str
    shape: str
    anchor: LexborNode


def _heuristic(tree: LexborHTMLParser, base: str, tz: tzinfo) -> list[Entry]:
    """Pick the best group of links in one DOM position; add groups of the same URL shape."""
    root = tree.body
    if root is None:
        return []
    groups: dict[str, list[_Candidate]] = defaultdict(list)
    for order, anchor in enumerate(root.css("a[href]")[:MAX_LINKS]):
        link = absolute_url(anchor.attributes.get("href") or "", base)
        if link is None or _is_chrome(anchor):
            continue
        parts = urlsplit(link)
        if _is_section_url(parts.path, parts.query):
            continue
        groups[_dom_path(anchor)].append(
            _Candidate(
                order=order, url=link, title=_headline(anchor), shape=_url_shape(parts), anchor=anchor
            )
        )
    scored = [(score, path) for path, members in groups.items() if (score := _score(members)) > 0]
    if not scored:
        return []
    best_score, best = max(scored)
    shape = _main_shape(groups[best])
    chosen = {best} | {
        path
        for score, path in scored
        if score >= best_score * 0.25 and _main_shape(groups[path]) == shape
    }
    picked = sorted((c for path in chosen for c in groups[path]), key=lambda c: c.order)
    urls_under: dict[int, set[str]] = defaultdict(set)
    for candidate in picked:
        for node in _ancestors(candidate.anchor):
            urls_under[node.mem_id].add(candidate.url)
    return [
        Entry(url=c.url, title=c.title, published=_item_date(c.anchor, urls_under, tz))
        for c in picked
    ]


def _ancestors(node: LexborNode) -> Iterator[LexborNode]:
    """The elements around ``node`` up to the body, the nearest ``MAX_ANCESTORS`` of them."""
    parent = node.parent
    for _ in range(MAX_ANCESTORS):
        if parent is None or parent.tag in ("body", "html"):
            return
        yield parent
        parent = parent.parent


def _item_date(anchor: LexborNode, urls_under: dict[int, set[str]], tz: tzinfo) -> datetime | None:
    """A date written in the link's item: its largest ancestor holding no other item."""
    item = anchor
    for node in _ancestors(anchor):
        if len(urls_under[node.mem_id]) > 1:
            break
        item = node
    if item is anchor:
        return None
    for stamp in item.css("time"):
        if (moment := _node_date(stamp, tz)) is not None:
            return moment
    for text_node in item.traverse(include_text=True):
        if not text_node.is_text_node:
            continue
        text = collapse(text_node.text_content or "")
        if 6 <= len(text) <= 60 and _DATEISH.search(text) and (moment := parse_date(text, tz)):
            return moment
    return None


def _main_shape(members: list[_Candidate]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for candidate in members:
        counts[candidate.shape] += 1
    return max(counts, key=lambda shape: (counts[shape], shape))


def _headline(anchor: LexborNode) -> str:
    """The link's text, or for a "Read more" link the heading of the block around it."""
    text = _link_title(anchor)
    if len(text.split()) >= 3:
        return text
    for level, node in enumerate(_ancestors(anchor)):
        heading = node.css_first("h2, h3, h4, h5, h6")
        if heading is not None:
            return node_text(heading) or text
        if level == 2:
            break
    return text


def _is_chrome(anchor: LexborNode) -> bool:
    """Whether the link sits in navigation, a page header/footer, a sidebar or a widget."""
    ancestors = list(_ancestors(anchor))
    if len(ancestors) == MAX_ANCESTORS:
        return True  # too deep for a listing's item
    # An entry's own <header> (a headline inside) is not page chrome.
    in_entry = any(node.tag in ("article", "main", "h2", "h3", "h4", "h5", "h6") for node in ancestors)
    for node in ancestors:
        tag = node.tag or ""
        if tag in _SKIP_TAGS or (tag in _CHROME_TAGS and not in_entry):
            return True
        attributes = node.attributes
        if (attributes.get("role") or "").lower() in _ROLES:
            return True
        names = f"{attributes.get('id') or ''} {attributes.get('class') or ''}".split()
        if tag != "article" and any(_is_chrome_name(name) for name in names):
            return True
    return False


def _is_chrome_name(name: str) -> bool:
    """Whether a class or id names page chrome ("main-nav", "most-read").

    Why the exemption: layout wrappers such as "content-sidebar-wrap" hold the main column.
    """
    lowered = name.lower()
    return not any(w in lowered for w in _WRAPPERS) and _SKIP_WORDS.search(lowered) is not None


def _is_section_url(path: str, query: str) -> bool:
    """Home, section and pagination links ("/", "/world/", "?page=2") are not items."""
    segments = [s for s in path.split("/") if s]
    if not segments and not query:
        return True
    keys = {k.lower() for k, _ in parse_qsl(query)}
    return len(segments) <= 1 and bool(keys & {"page", "p", "offset", "start"})


def _url_shape(parts: SplitResult) -> str:
    """Host, depth, first directory and query keys: what links to one kind of page share."""
    segments = [s for s in parts.path.split("/") if s]
    head = _DIGITS.sub("9", segments[0]) if len(segments) > 1 else ""
    keys = ",".join(sorted({k for k, _ in parse_qsl(parts.query)}))
    return f"{parts.netloc.lower()}|{len(segments)}|{head}|{keys}"


def _dom_path(anchor: LexborNode, depth: int = 5) -> str:
    """Tag, id and class names of the link and its nearest ancestors, numbers erased."""
    parts: list[str] = []
    node: LexborNode | None = anchor
    while node is not None and len(parts) < depth and node.tag not in ("body", "html"):
        classes = {
            _DIGITS.sub("", name)
            for name in (node.attributes.get("class") or "").split()
            if not _POSITION_CLASS.search(name) and not _PER_POST_CLASS.match(name)
        }
        ident = _DIGITS.sub("", node.attributes.get("id") or "")
        parts.append(f"{node.tag}#{ident}.{'.'.join(sorted(classes))}")
        node = node.parent
    return ">".join(reversed(parts))


def _score(members: list[_Candidate]) -> float:
    """Many distinct links with headline-like text (several words) score high."""
    urls = {c.url for c in members}
    if len(urls) < _MIN_GROUP:
        return 0.0
    words = sorted(len(c.title.split()) for c in members)
    median = words[len(words) // 2]
    if median < 3:
        return 0.0
    return len(urls) * min(median, 12)
