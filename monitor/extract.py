"""Article page -> main text, title and date (pure; trafilatura does the reading).

Matching runs on this text only, so it must leave out what is not the article: navigation,
"Recent News" / "Must read" boxes, comments, footers. Hence precision over recall.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from functools import cached_property

import htmldate
import trafilatura
from lxml.etree import LxmlError
from selectolax.lexbor import LexborHTMLParser, SelectolaxError
from trafilatura.settings import Document

from monitor.errors import SourceError
from monitor.models import Article
from monitor.sources.base import collapse, node_text, parse_html
from monitor.sources.dates import as_utc, dateline_date, page_date

_WORD = re.compile(r"\w+")

# Boxes that are never the article, whatever trafilatura's scoring says:
# - asides, menus and page footers;
# - boxes whose class is exactly "sidebar", "recent-news", "must-read"... (whole class
#   tokens: substrings such as "has-sidebar" or "read-more" also name page wrappers);
# - press contacts (names, phone numbers), which close many releases ("ep-a_contacts" on
#   the European Parliament's pages): boilerplate, never what a watch list is about;
# - "teaser" blocks (related stories), which trafilatura drops too, except in its fast
#   mode's recovery pass for a page it found little on, where they could pass for the article.
_BOX_CLASSES = ("sidebar", "recent-news", "recent-posts", "must-read", "most-read", "most-popular")
_TEASERS = ("//*[self::div or self::p or self::section or self::span]"
            "[contains(translate(@id, 'T', 't'), 'teaser') or contains(translate(@class, 'T', 't'), 'teaser')]")
# - a paragraph inside the article that is a label and one link to another story ("Also
#   read: ISAF commander meets envoy", "READ MORE: ...", Urdu sites' "یہ بھی پڑھیں"):
#   a headline of another story, whose words fired watch lists for this one.
_READ_ALSO = ("also read", "read also", "read more:", "read:", "see also", "related:", "also see", "must read",
              "recommended:", "یہ بھی پڑھیں")
_LOWER = "translate(normalize-space(.), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_PROMO_LINKS = ("//p[count(.//a) = 1][string-length(normalize-space(.)) - string-length(normalize-space(.//a)) < 30]["
                + " or ".join(f"starts-with({_LOWER}, '{label}')" for label in _READ_ALSO) + "]")
_PRUNE = " | ".join(
    ["//aside", "//nav", "//footer[not(ancestor::article)]", "//*[contains(@class, '_contacts')]", _TEASERS,
     _PROMO_LINKS]
    + [f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]" for name in _BOX_CLASSES]
)
# Shorter than this, trafilatura's own extraction is taken to have missed the article, and
# its fallbacks get their turn: trafilatura's MIN_EXTRACTED_SIZE, the length under which it
# calls a text too short (and tries jusText, or its recovery pass).
_FALLBACK_BELOW = 250


def extract_article(
    html: bytes, *, url: str, content_selector: str | None = None, content_type: str | None = None,
    tz: tzinfo = UTC,
) -> Article:
    """The main text of an article page, with the title and date the page states.

    ``content_selector`` (a source's ``select.content``) names the element holding the
    text, replacing automatic extraction. The page is decoded like a browser would (HTTP
    charset, else BOM or ``<meta charset>``). A date written without a zone is local time
    in ``tz``. Raises SourceError when a given selector is invalid; a page with no
    recognisable article yields empty text, not an error.
    """
    tree = parse_html(html, content_type)
    page = tree.html or ""
    metadata = _LazyMetadata(page, url)
    title = _title(metadata, tree)
    if content_selector is not None:
        try:
            nodes = tree.css(content_selector)
        except SelectolaxError as exc:
            raise SourceError(f"{url}: select.content {content_selector!r} is not valid CSS") from exc
        text = "\n".join(t for t in (node_text(n) for n in nodes) if t)
    else:
        text = _main_text(page, url)
    # The page's own markup states a time; a dateline is the release's own word on its day;
    # trafilatura's guess comes last: given only "2012" somewhere, it says 2012-01-01.
    published = page_date(tree, tz) or dateline_date(text, tz) or _date(metadata.date, tz)
    return Article(text=text, title=title, published=published)


class _LazyMetadata:
    """trafilatura's title and date guesses, read only when the page's own markup does not
    settle them: its metadata pass (htmldate above all) is half of the cost of a page, and
    most news pages carry an ``<h1>`` and a ``<time>`` or JSON-LD date of their own."""

    def __init__(self, page: str, url: str) -> None:
        self._page = page
        self._url = url

    @cached_property
    def _document(self) -> Document | None:
        if not self._page:
            return None
        try:
            # Not htmldate's extensive search here: see ``date``.
            return trafilatura.extract_metadata(self._page, default_url=self._url, extensive=False)
        except (LxmlError, ValueError, TypeError):
            return None

    @property
    def title(self) -> str:
        return collapse(self._document.title or "") if self._document is not None else ""

    @property
    def date(self) -> str | None:
        """The date of the page's markup, else of htmldate's extensive search of its text,
        but not a January 1: that search's last resort reads a year alone (a footer's
        "Copyright 2024") as January 1 of it, and a fresh release looked two years old.
        On the extraction benchmark and the news pages (216), the search alone found 5,
        one of them such a January 1."""
        found = self._document.date if self._document is not None else None
        if found is None and self._document is not None:
            try:
                guess = htmldate.find_date(self._page, extensive_search=True, original_date=True,
                                           max_date=datetime.now().strftime("%Y-%m-%d"))
            except (LxmlError, ValueError, TypeError):
                guess = None
            found = guess if guess and not guess.endswith("-01-01") else None
        return found


def _main_text(page: str, url: str) -> str:
    """trafilatura's own extraction, and its fallbacks (readability, then jusText) only for
    a page where that found next to nothing. Left to itself, trafilatura runs readability on
    every page to compare, a third of its cost; on the extraction benchmark the comparison
    changed 6 of 181 pages: 5 where its own text was under 250 characters (readability
    rescued them) and one of 894 where readability won and did worse (F1 0.99 -> 0.33)."""
    text = _extracted(page, url, fast=True)
    return text if len(text) >= _FALLBACK_BELOW else _extracted(page, url, fast=False)


def _extracted(page: str, url: str, *, fast: bool) -> str:
    if not page:
        return ""
    try:
        result = trafilatura.bare_extraction(
            page,
            url=url,
            favor_precision=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            deduplicate=False,
            with_metadata=False,
            prune_xpath=_PRUNE,
            fast=fast,
        )
    except (LxmlError, ValueError, TypeError) as exc:
        raise SourceError(f"{url}: article extraction failed: {exc}") from exc
    return (result.text or "").strip() if isinstance(result, Document) else ""


def _date(value: str | None, tz: tzinfo) -> datetime | None:
    """trafilatura's date (``YYYY-MM-DD``, maybe with a time) as UTC; naive is local in ``tz``."""
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value), tz)
    except ValueError:
        return None


def _title(metadata: _LazyMetadata, tree: LexborHTMLParser) -> str | None:
    """The headline, without the site's name.

    Why not just ``<title>``: it says "Headline | News | European Parliament". The page's
    ``<h1>`` is the headline when its words are those of ``<title>`` or ``og:title`` (a
    logo in an ``<h1>`` is not); else ``og:title``, else what trafilatura found.
    """
    node = tree.css_first("title")
    page_title = node_text(node) if node is not None else ""
    og_title = ""
    for meta in tree.css('meta[property="og:title"], meta[name="og:title"]'):
        og_title = collapse(meta.attributes.get("content") or meta.attributes.get("value") or "")
        if og_title:
            break
    known = set(_WORD.findall(f"{page_title} {og_title}".lower()))
    headings = [node_text(h) for h in tree.css("h1")]

    def fits(candidate: str) -> bool:
        words = set(_WORD.findall(candidate.lower()))
        return bool(known and words and len(words & known) >= 0.6 * len(words) and len(candidate) <= 300)

    for candidate in headings:
        if fits(candidate):
            return candidate
    if og_title:  # what trafilatura's title would be read from first, without its cost
        return og_title
    found = metadata.title
    if fits(found):
        return found
    return found or page_title or None
