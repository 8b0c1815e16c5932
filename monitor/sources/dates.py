"""Publication dates as pages and bodies state them, read into UTC.

One place decides how text becomes a moment, so that feeds, listings, sitemaps and article
pages agree: a date without a zone is local time of the source's ``timezone``; a date
missing its year, month or day is no date (we never invent parts, nor read the clock).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from dateutil import parser as dateutil_parser
from selectolax.lexbor import LexborHTMLParser

from monitor.sources.base import collapse

# Zone abbreviations a page may print; dateutil knows none of them by itself. IST is
# India's here, the reading that matters for South Asian sources.
_ZONES: dict[str, float] = {"PKT": 5, "IST": 5.5, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
                            "MDT": -6, "PST": -8, "PDT": -7, "BST": 1, "CET": 1, "CEST": 2, "AFT": 4.5,
                            "GMT": 0, "UTC": 0, "Z": 0}
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?\Z")
_SENTINELS = (datetime(2001, 2, 3, 4, 5, 6), datetime(2002, 3, 4, 5, 6, 7))
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|June?|July?|Aug|Sept?|Oct|Nov|Dec)[a-z]*\.?"
# "KABUL, Afghanistan (Nov. 20, 2011)", "WASHINGTON, Jan. 5, 2020 --", "BRUSSELS, 12 July 2019 -":
# a capitalised place, a comma, then a full date, in parentheses or before a dash.
_DATELINE = re.compile(
    rf"(?m)^[ \t]*[A-Z][A-Za-z.'\- ]{{1,40}}(?:,[ \t]*[A-Z][A-Za-z.'\- ]{{1,40}})?"
    rf"(?:[ \t]*\((?P<paren>{_MONTH}[ \t]+\d{{1,2}},?[ \t]+\d{{4}}|\d{{1,2}}[ \t]+{_MONTH}[ \t]+\d{{4}})\)"
    rf"|,[ \t]*(?P<dash>{_MONTH}[ \t]+\d{{1,2}},?[ \t]+\d{{4}}|\d{{1,2}}[ \t]+{_MONTH}[ \t]+\d{{4}})"
    r"[ \t]*(?:--|[-\u2013\u2014]))"
)
# Meta tags that carry an article's publication time, best first.
_META = (
    "article:published_time", "og:article:published_time", "og:published_time", "datepublished", "publishdate",
    "publish-date", "pubdate", "date", "dc.date.issued", "dc.date", "dcterms.created", "sailthru.date",
    "parsely-pub-date",
)


# A publication date outside these is a placeholder: Go's and Hugo's zero time
# (0001-01-01), "never" (9999-12-31). Near the calendar's ends a date cannot even be shown
# in every zone: one of 9999-12-31 made each alert of its channel fail to render.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def plausible(moment: datetime | None) -> datetime | None:
    """``moment`` if a publication could bear it (UTC-aware), else None: no date given."""
    return moment if moment is not None and EARLIEST <= moment < LATEST else None


def as_utc(moment: datetime, tz: tzinfo = UTC) -> datetime:
    """``moment`` in UTC; a naive one is local time in ``tz``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def parse_date(text: str, tz: tzinfo = UTC) -> datetime | None:
    """A date written on a page as UTC-aware datetime, or None if it lacks year, month or day.

    Why two parses: dateutil fills missing parts from a default, so a part that differs
    between two defaults was never written; we refuse to invent it. A written time without
    a zone is local time in ``tz``; a date alone is midnight there.
    """
    text = collapse(text)[:100]
    if not text or not any(ch.isdigit() for ch in text):
        return None
    if _ISO.match(text):  # what most pages and feeds write: no need for dateutil's two fuzzy parses
        try:
            return as_utc(datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text), tz)
        except (ValueError, OverflowError):
            pass
    try:
        first, second = (
            dateutil_parser.parse(text, fuzzy=True, default=d, tzinfos=_zone) for d in _SENTINELS
        )
    except (ValueError, OverflowError):
        return None
    if first.date() != second.date():
        return None
    if (first.hour, first.minute) != (second.hour, second.minute):
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
    elif first.second != second.second:
        first = first.replace(second=0, microsecond=0)
    try:
        return as_utc(first, tz)
    except (OverflowError, ValueError):
        return None


def iso_date(value: object, tz: tzinfo = UTC) -> datetime | None:
    """An ISO 8601 timestamp (as APIs and sitemaps write them) as UTC, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(text), tz)
    except (ValueError, OverflowError):
        return parse_date(value, tz)


def dateline_date(text: str, tz: tzinfo = UTC) -> datetime | None:
    """The date of a press release's dateline, ``KABUL, Afghanistan (Nov. 20, 2011)``,
    looked for in the first lines of its text; None when there is none."""
    # Lines may be broken by U+2028 (pasted from PDFs and word processors), not only \n.
    head = text[:2000].translate({0x2028: "\n", 0x2029: "\n", 0x0D: "\n", 0xA0: " "})
    match = _DATELINE.search(head)
    if match is None:
        return None
    return parse_date(match.group("paren") or match.group("dash"), tz)


def page_date(tree: LexborHTMLParser, tz: tzinfo = UTC) -> datetime | None:
    """The publication time an HTML page states in its markup: JSON-LD ``datePublished``,
    then OpenGraph/meta tags, then the first ``<time datetime>`` inside the article."""
    for value in _json_ld_dates(tree):
        if (moment := iso_date(value, tz)) is not None:
            return moment
    metas: dict[str, str] = {}
    for node in tree.css("meta[content], meta[value]"):
        attributes = node.attributes
        name = (attributes.get("property") or attributes.get("name") or attributes.get("itemprop") or "").lower()
        content = attributes.get("content") or attributes.get("value")  # value=: re-serialised pages
        if name and content and name not in metas:
            metas[name] = content
    for name in _META:
        if name in metas and (moment := iso_date(metas[name], tz)) is not None:
            return moment
    for selector in ("article time[datetime]", "main time[datetime]", "time[pubdate][datetime]",
                     "[itemprop=datePublished][datetime]"):
        stamp = tree.css_first(selector)
        if stamp is not None and (moment := iso_date(stamp.attributes.get("datetime"), tz)) is not None:
            return moment
    return None


def _json_ld_dates(tree: LexborHTMLParser) -> Iterator[object]:
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            document = json.loads(script.text(deep=True), strict=False)
        except (ValueError, RecursionError):  # ValueError: bad JSON, an integer of 4,300+ digits
            continue
        yield from _find_key(document, "datePublished", depth=0)


def _find_key(value: object, key: str, *, depth: int) -> Iterator[object]:
    if depth > 6:
        return
    if isinstance(value, dict):
        if key in value:
            yield value[key]
        for child in value.values():
            yield from _find_key(child, key, depth=depth + 1)
    elif isinstance(value, list):
        for child in value:
            yield from _find_key(child, key, depth=depth + 1)


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's tzinfos hook: an explicit offset, a known abbreviation, else none (local)."""
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    hours = _ZONES.get((name or "").upper())
    return timezone(timedelta(hours=hours)) if hours is not None else None
