"""The source interface: how a listing body (feed, HTML page, ...) becomes a Listing.

Each kind of source is one ``Source`` subclass, registered by its YAML ``kind`` in
``monitor.sources.registry``. The small helpers below are shared by the implementations
(and by ``monitor.extract``) so that every kind decodes HTML, strips markup, resolves
links and normalises dates the same way.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import ClassVar
from urllib.parse import urldefrag, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.errors import SourceError
from monitor.models import Listing, Response


@dataclass(frozen=True, kw_only=True)
class ListingSelectors:
    """CSS selectors for kind ``html``; every selector but ``item`` is relative to one item.

    ``content`` is different: it selects the main text on each ARTICLE page and, when set,
    replaces automatic extraction for that source. It may come alone (``item`` None), for
    any kind that fetches article pages; an html listing is then found automatically.
    """

    item: str | None = None
    link: str = "a"
    title: str | None = None
    date: str | None = None
    content: str | None = None


class Source(ABC):
    """Reads one kind of listing body. Contract, for every implementation:

    - ``parse`` is pure: no network, no file system, no clock, no global state; the same
      arguments always give the same Listing.
    - It raises nothing but ``SourceError`` (library errors are translated, with the
      original as ``__cause__``), and raises it only when the body is not this kind at all
      (an HTML page given to ``feed``, an empty body, a page where ``item`` matches nothing
      is NOT an error: that is an empty listing).
    - A damaged body whose items can still be read yields those items, plus a sentence in
      ``Listing.warnings`` saying what was wrong.
    - Entries come in body order, each URL absolute (``http``/``https`` only, resolved
      against ``url`` and any base the body declares), at most once per listing. HTML
      pages drop the fragment; feeds keep it, since some feeds tell posts apart by it.
    - Titles and summaries are plain text (no markup, whitespace collapsed); ``published``
      is timezone-aware UTC or None (never invented); a time written without a zone is
      local time in the source's ``tz``.
    - ``request_url`` and ``next_page`` are pure too: which URL to fetch for a configured
      one, and which page follows a fetched one (None: no more pages). The pipeline does
      the fetching; a kind that needs no more than one URL keeps the defaults.
    """

    kind: ClassVar[str]
    # Whether the first body is the whole listing, so that a 304 or an identical body
    # means nothing changed. Not so for a sitemap index: its sitemaps change under it.
    single_body: ClassVar[bool] = True
    tz: tzinfo = UTC

    def request_url(self, url: str, *, since: datetime | None) -> str:
        """The URL to fetch for the configured ``url``, given the last successful poll."""
        return url

    def next_page(self, listing: Listing, response: Response) -> str | None:
        """The page after ``response`` (whose body gave ``listing``), or None."""
        return listing.next_url

    @abstractmethod
    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> Listing:
        """Read ``body``, served from ``url`` with ``content_type``, as a Listing."""

    @classmethod
    @abstractmethod
    def sniff(cls, body: bytes, content_type: str | None) -> bool:
        """Whether ``body`` looks like this kind; cheap, looks at the first bytes only."""


_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
# Block elements whose boundaries are word boundaries when markup is flattened to text.
_BLOCKS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 "
    "h5 h6 header hr li main nav ol p pre section table td th tr ul".split()
)


_INVISIBLE = frozenset({"script", "style", "noscript", "template"})


def collapse(text: str) -> str:
    """Whitespace runs (including non-breaking spaces) become one space; ends trimmed.

    str.split() splits at the same characters as the regex ``\\s+`` (every one str.isspace()
    accepts, U+00A0 among them) in a fifth of the time; a first poll calls this ~50 times a feed."""
    return " ".join(text.split())


def header_charset(content_type: str | None) -> str | None:
    """The codec named by a Content-Type header, if Python knows it (else None)."""
    match = _CHARSET.search(content_type or "")
    if match is None:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


MAX_DEPTH = 4000  # elements within elements: real pages stay under ~100; lexbor takes ~40 ms at this depth
# Elements that hold no others (void), or that end at the next of their kind (an unclosed
# <p>, <li> or <td> does not nest), and what holds text no tag is read in.
_FLAT = frozenset(b"area base br col embed hr img input link meta param source track wbr p li dt dd option tr td th"
                  .split())
# Inside <svg> and <math>, and only there, <x/> closes itself (HTML ignores the slash).
# HTML elements that end SVG or MathML where they open (the HTML standard's list).
_BREAKOUT = frozenset(b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img "
                      b"li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var"
                      .split())
# Closed by an end tag of an element around them, these are opened again in the next
# element the parser inserts (its list of active formatting elements): a page can make the
# parser reopen thousands of them again and again, a tree quadratic in size at modest depth.
_FORMATTING = frozenset(b"a b big code em font i nobr s small strike strong tt u".split())
MAX_REOPENED = 200_000  # formatting elements the parser would open again, over the page
# A tag as HTML reads one: its name runs to a space, "/" or ">", and a quoted attribute
# value may hold "<" or ">"; a tag ends at its ">", or at the next "<" (so that a "<"
# never closed costs one scan, not one to the end of the page each).
_TAG = re.compile(rb"""<(/?)([a-zA-Z][^\s/<>]*)((?:"[^"]*+"|'[^']*+'|[^<>"']++)*+)""")
_ANY_TAG = re.compile(r"<[^<>]*(?:>|(?=<)|\Z)")
# What holds no tags, to its end as HTML finds it (``</script x>``, ``--!>``, ``<!-->``),
# or, unclosed, to the end of the page, in one scan rather than one at each opening.
_UNREAD = re.compile(rb"<!--(?:-?>|.*?(?:--!?>|\Z))|<(script|style|textarea|xmp|title|iframe|noembed|noframes|"
                     rb"noscript)(?=[\s/>]).*?(?:</\1(?=[\s/>])[^>]*>|\Z)", re.DOTALL | re.IGNORECASE)


def too_deep(markup: bytes) -> bool:
    """Whether HTML nests more than ``MAX_DEPTH`` elements deep, or would have its parser
    reopen more than ``MAX_REOPENED`` formatting elements, read from its tags as a parser
    opens and closes elements: an end tag closes its element and what is left open inside
    it, and an end tag of no open element closes nothing (``<div></i>`` nests).

    Why: lexbor builds a tree in time quadratic in its depth. A listing of 300 KB nested
    60,000 deep took 6.5 s on the event loop, long enough to time out every other poll
    in flight; 10 MB would take hours. A page with fewer tags than the limit needs no look."""
    if markup.count(b"<") <= MAX_DEPTH:
        return False
    stack: list[tuple[bytes, bytes]] = []  # open elements: name, attributes
    open_count: dict[bytes, int] = {}
    # Formatting elements closed by an end tag around them, which the parser reopens at each
    # element it inserts: at most three alike (the standard's "Noah's Ark" clause).
    reopening: dict[tuple[bytes, bytes], int] = {}
    waiting = reopened = 0
    for closing, raw_name, rest in _TAG.findall(_UNREAD.sub(b"", markup)):
        name = raw_name.lower()
        if not closing and (open_count.get(b"svg") or open_count.get(b"math")):
            if name in _BREAKOUT:  # the parser leaves the SVG or MathML here (a <p> too, flat as it is)
                while open_count.get(b"svg") or open_count.get(b"math"):
                    open_count[stack.pop()[0]] -= 1
            elif rest.rstrip().endswith(b"/"):
                continue  # <path/> in an SVG
        if name in _FLAT:
            continue
        if not closing:
            reopened += waiting
            stack.append((name, rest))
            open_count[name] = open_count.get(name, 0) + 1
            if len(stack) > MAX_DEPTH or reopened > MAX_REOPENED:
                return True
        elif open_count.get(name):
            while (top := stack.pop())[0] != name:
                open_count[top[0]] -= 1
                if top[0] in _FORMATTING and reopening.get(top, 0) < 3:
                    reopening[top] = reopening.get(top, 0) + 1
                    waiting += 1
            open_count[name] -= 1
        elif name in _FORMATTING and (key := next((k for k in reversed(reopening) if k[0] == name), None)):
            reopening[key] -= 1  # its own end tag takes the latest of its kind off the list
            waiting -= 1
            if not reopening[key]:
                del reopening[key]
    return False


def parse_html(body: bytes, content_type: str | None = None) -> LexborHTMLParser:
    """Parse an HTML page the way a browser decodes it; SourceError for one nested past
    ``MAX_DEPTH`` (``too_deep``).

    Why: the HTTP charset wins, then a BOM or ``<meta charset>`` (selectolax's ``encoding``
    detection); a page declaring nothing is read as UTF-8.
    """
    if too_deep(body):
        raise SourceError(f"the page nests elements more than {MAX_DEPTH} deep (broken or hostile): not read")
    codec = header_charset(content_type)
    if codec is not None:
        return LexborHTMLParser(body.decode(codec, errors="replace"))
    return LexborHTMLParser(body, encoding=True)


def node_text(node: LexborNode) -> str:
    """Visible text of an element, with block boundaries kept as spaces."""
    parts: list[str] = []
    for child in node.traverse(include_text=True):
        if child.is_text_node:
            parent = child.parent
            if parent is None or parent.tag not in _INVISIBLE:
                parts.append(child.text_content or "")
        elif child.tag in _BLOCKS:
            parts.append(" ")
    return collapse("".join(parts))


def plain_text(markup: str) -> str:
    """An HTML fragment (a feed's title or description) as one line of plain text."""
    if "<" not in markup and "&" not in markup:
        return collapse(markup)
    if markup.count("<") > MAX_DEPTH and too_deep(markup.encode("utf-8", errors="replace")):
        return collapse(html.unescape(_ANY_TAG.sub(" ", markup)))  # the words, without building the tree
    tree = LexborHTMLParser(markup)
    for junk in tree.css("script, style, noscript, template"):
        junk.decompose()
    root = tree.body or tree.root
    return node_text(root) if root is not None else ""


def page_number(text: str) -> int | None:
    """A page number or count as a server writes it (``3``), or None: ``int()`` alone takes
    ``٣`` and refuses ``²`` (both ``isdigit()``), and 5,000 digits raise past Python's limit."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def absolute_url(link: str, base: str, *, keep_fragment: bool = False) -> str | None:
    """``link`` resolved against ``base``; None unless http(s) with a host.

    Why: feeds and pages carry ``javascript:``, ``mailto:`` and bare ``#`` links that are
    not items. On a page ``story#comments`` is the same link as ``story``, so the fragment
    goes; a feed's link keeps it, as the feed wrote it (``monitor check`` shows it). The
    item's identity, its canonical URL, drops it either way (DESIGN.md section 4): two
    posts of one day page, ``day.html#a1`` and ``day.html#a2``, are one item.
    """
    link = link.strip()
    if not link or link.startswith("#"):
        return None
    try:
        # Most links in feeds are absolute already; urljoin would only take them apart and
        # put them back together (it resolves dot segments only in relative links).
        plain = link.startswith(("http://", "https://")) and not any(c in link for c in "\t\r\n")
        resolved = link if plain else urljoin(base, link)  # urljoin also drops tabs and newlines
        if not keep_fragment and "#" in resolved:
            resolved = urldefrag(resolved).url
        parts = urlsplit(resolved)
        parts.port  # noqa: B018  (raises ValueError for a port that is no number in 0-65535)
    except ValueError:
        return None
    # No host, or a malformed port (``:99999``, ``:0x``, ``:443 ``): a link no one can
    # fetch, and one that would break the canonical URL of every entry beside it.
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return resolved


def as_utc(moment: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def looks_like_html(head: str) -> bool:
    """Whether the first characters of a body (lower-cased) are an HTML document's."""
    return "<!doctype html" in head or "<html" in head or head.startswith(("<head", "<body"))


def body_head(body: bytes, size: int = 1024) -> str:
    """The first ``size`` bytes as lower-case text without a BOM, for sniffing."""
    head = body[:size]
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, errors="ignore").lower().lstrip()
    text = head.decode("utf-8", errors="ignore")
    return unicodedata.normalize("NFC", text).replace("\x00", "").lower().lstrip()
