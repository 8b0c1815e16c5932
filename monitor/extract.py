"""Article page -> main text, title and date (pure; trafilatura does the reading).

Matching runs on this text only, so it must leave out what is not the article: navigation,
"Recent News" / "Must read" boxes, comments, footers. Hence precision over recall.
"""

from __future__ import annotations

from datetime import datetime

import trafilatura
from lxml.etree import LxmlError
from selectolax.lexbor import LexborHTMLParser, SelectolaxError
from trafilatura.settings import Document

from monitor.errors import SourceError
from monitor.models import Article
from monitor.sources.base import as_utc, collapse, node_text, parse_html

# Boxes that are never the article, whatever trafilatura's scoring says: asides, menus,
# page footers, and boxes whose class is exactly "sidebar", "recent-news", "must-read"...
# Why exact class tokens: substrings ("has-sidebar", "read-more") also name page wrappers.
_BOX_CLASSES = ("sidebar", "recent-news", "recent-posts", "must-read", "most-read", "most-popular")
_PRUNE = " | ".join(
    ["//aside", "//nav", "//footer[not(ancestor::article)]"]
    + [f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]" for name in _BOX_CLASSES]
)


def extract_article(
    html: bytes, *, url: str, content_selector: str | None = None, content_type: str | None = None
) -> Article:
    """The main text of an article page, with the title and date the page states.

    ``content_selector`` (a source's ``select.content``) names the element holding the
    text, replacing automatic extraction. The page is decoded like a browser would (HTTP
    charset, else BOM or ``<meta charset>``). Raises SourceError when a given selector is
    invalid; a page with no recognisable article yields empty text, not an error.
    """
    tree = parse_html(html, content_type)
    page = tree.html or ""
    document = _bare_extraction(page, url)
    title = collapse(document.title or "") if document is not None and document.title else None
    published = _date(document.date) if document is not None else None
    if content_selector is not None:
        try:
            nodes = tree.css(content_selector)
        except SelectolaxError as exc:
            raise SourceError(f"{url}: select.content {content_selector!r} is not valid CSS") from exc
        text = "\n".join(t for t in (node_text(n) for n in nodes) if t)
        return Article(text=text, title=title or _html_title(tree), published=published)
    text = (document.text or "").strip() if document is not None else ""
    return Article(text=text, title=title or _html_title(tree), published=published)


def _bare_extraction(page: str, url: str) -> Document | None:
    if not page:
        return None
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
            with_metadata=True,
            prune_xpath=_PRUNE,
        )
    except (LxmlError, ValueError, TypeError) as exc:
        raise SourceError(f"{url}: article extraction failed: {exc}") from exc
    return result if isinstance(result, Document) else None


def _date(value: str | None) -> datetime | None:
    """trafilatura's date (``YYYY-MM-DD``, maybe with a time) as UTC; naive counts as UTC."""
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _html_title(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first("title")
    return (node_text(node) or None) if node is not None else None
