"""Feeds in the wild agree with the expected values their corpora carry: feedparser's
``manifest.json`` (Expect: headers), feed-rs ``*.serde.json`` and gofeed ``issue_*.json``.
Titles compare as plain text, dates after normalising to UTC; each test prints its figures."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import SourceError
from monitor.models import Entry, Listing
from monitor.sources.base import plain_text
from monitor.sources.dates import iso_date
from monitor.sources.registry import make_source

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FEEDPARSER = CORPUS / "feedparser-feeds"
FEED_RS = CORPUS / "feed-rs-fixtures"
GOFEED = CORPUS / "gofeed-edge-cases" / "parser"


@dataclass
class Tally:
    """Checks per field: how many agreed, and the first disagreements for the message."""

    agreed: dict[str, int] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)
    linkless: int = 0  # expectations about an item we drop by contract: it has no http(s) link

    def check(self, what: str, where: str, ours: object, theirs: object) -> None:
        self.checked[what] = self.checked.get(what, 0) + 1
        if ours == theirs:
            self.agreed[what] = self.agreed.get(what, 0) + 1
        else:
            self.misses.append(f"{where}: {what} ours={ours!r} expected={theirs!r}")

    def rate(self) -> float:
        return sum(self.agreed.values()) / max(sum(self.checked.values()), 1)

    def report(self, name: str) -> str:
        figures = ", ".join(f"{k} {self.agreed.get(k, 0)}/{n}" for k, n in sorted(self.checked.items()))
        return f"{name}: {figures}; overall {self.rate():.1%}; {self.linkless} about link-less items (not checked)"


def parse(path: Path) -> Listing | None:
    try:
        return make_source("feed").parse(path.read_bytes(), url=f"http://127.0.0.1:8097/{path.name}")
    except SourceError:
        return None


def need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"corpus not found at {path}")


# entries[0]['title'] == '...'  /  entries[0]['published_parsed'] == (2003, 12, ...)
_EXPECT = re.compile(r"entries\[0\]\['(link|title|published_parsed|updated_parsed|created_parsed)'\] == "
                     r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\([\d, ]+\))")


def test_feedparser_manifest_agreement() -> None:
    """Where feedparser's Expect: names the first entry's link, title or date, ours agrees."""
    need(FEEDPARSER / "manifest.json")
    manifest: dict[str, dict[str, Any]] = json.loads((FEEDPARSER / "manifest.json").read_text(encoding="utf-8"))
    tally = Tally()
    for relative, facts in sorted(manifest.items()):
        expect = facts.get("expect", "")
        found = [(m.group(1), ast.literal_eval(m.group(2))) for m in _EXPECT.finditer(expect)]
        if not found or facts.get("headers"):
            continue
        listing = parse(FEEDPARSER / relative)
        first = listing.entries[0] if listing and listing.entries else None
        if first is None and listing is not None and any("without an http(s) link" in w for w in listing.warnings):
            tally.linkless += len(found)
            continue
        for key, value in found:
            if key == "link":
                tally.check("link", relative, first.url if first else None, value)
            elif key == "title":
                tally.check("title", relative, first.title if first else None, plain_text(value))
            elif "published" in expect and key != "published_parsed":
                continue  # our date is the published one when a feed gives both
            else:
                tally.check("date", relative, first.published if first else None, datetime(*value[:6], tzinfo=UTC))
    print(tally.report("feedparser manifest"))
    assert tally.rate() >= 0.9, "\n".join(tally.misses)


def test_feedparser_bozo_feeds_are_flagged() -> None:
    """Feeds feedparser's tests call not well-formed carry a warning (or are rejected), never silence."""
    need(FEEDPARSER / "manifest.json")
    manifest: dict[str, dict[str, Any]] = json.loads((FEEDPARSER / "manifest.json").read_text(encoding="utf-8"))
    bozo = sorted(k for k, v in manifest.items() if re.match(r"\s*bozo\b", v.get("expect", ""))
                  and not v.get("headers") and "chardet" not in v.get("skipunless", ""))  # we run without chardet
    silent = [k for k in bozo if (listing := parse(FEEDPARSER / k)) is not None and not listing.warnings]
    print(f"feedparser bozo feeds: {len(bozo) - len(silent)}/{len(bozo)} flagged or rejected")
    assert bozo and len(silent) <= 0.05 * len(bozo), silent


def _serde_link(entry: dict[str, Any]) -> str | None:
    links = entry.get("links") or []
    for link in links:
        if link.get("rel") in (None, "alternate"):
            return str(link["href"])
    return None


def _pairs(listing: Listing, expected: list[dict[str, Any]], link_of: Any) -> Iterator[tuple[Entry, dict[str, Any]]]:
    """Our entries paired with expected ones by link (we drop link-less items, by contract)."""
    ours = {e.url: e for e in listing.entries}
    for item in expected:
        link = link_of(item)
        if link and link in ours:
            yield ours[link], item


def test_feed_rs_serde_agreement() -> None:
    """feed-rs's normalised entries: same links, titles and (UTC) dates."""
    need(FEED_RS)
    tally = Tally()
    for serde in sorted(FEED_RS.rglob("*.serde.json")):
        feed = next((p for p in serde.parent.glob(serde.name.replace(".serde.json", ".*"))
                     if not p.name.endswith(".serde.json")), None)
        listing = parse(feed) if feed else None
        expected = json.loads(serde.read_text(encoding="utf-8")).get("entries", [])
        if listing is None:
            continue
        linked = [e for e in expected if _serde_link(e)]
        tally.check("entries", serde.name, len(listing.entries), len({_serde_link(e) for e in linked}))
        for ours, theirs in _pairs(listing, linked, _serde_link):
            if theirs.get("title"):
                tally.check("title", serde.name, ours.title, plain_text(theirs["title"]["content"]))
            stamp = theirs.get("published") or theirs.get("updated")
            if stamp and (moment := iso_date(stamp)) is not None:  # to the second: no feed we read is finer
                tally.check("date", serde.name, ours.published, moment.replace(microsecond=0))
    print(tally.report("feed-rs serde"))
    assert tally.rate() >= 0.95, "\n".join(tally.misses)


def test_gofeed_issue_agreement() -> None:
    """gofeed's regression feeds all parse, with exactly the linked items gofeed expects."""
    need(GOFEED)
    tally = Tally()
    for expected_file in sorted(GOFEED.rglob("issue_*.json")):
        listing = parse(expected_file.with_suffix(".xml"))
        items = json.loads(expected_file.read_text(encoding="utf-8")).get("items") or []
        tally.check("parsed", expected_file.name, listing is not None, True)
        linked = [item for item in items if item.get("link")]
        tally.linkless += len(items) - len(linked)
        tally.check("entries", expected_file.name, len(listing.entries) if listing else None, len(linked))
    print(tally.report("gofeed issues"))
    assert tally.rate() == 1.0, "\n".join(tally.misses)


def test_gofeed_json_feed_agreement() -> None:
    """gofeed's JSON Feed cases: same item URLs, titles and UTC dates as its expected output."""
    need(GOFEED / "json")
    tally = Tally()
    for expected_file in sorted((GOFEED / "json").glob("*_expected.json")):
        listing = parse(expected_file.with_name(expected_file.name.replace("_expected", "")))
        items = json.loads(expected_file.read_text(encoding="utf-8")).get("items") or []
        if listing is None:
            tally.check("parsed", expected_file.name, False, True)
            continue
        for ours, theirs in _pairs(listing, items, lambda item: item.get("url")):
            tally.check("link", expected_file.name, ours.url, theirs["url"])
            tally.check("title", expected_file.name, ours.title, theirs.get("title", ""))
            if theirs.get("date_published"):
                tally.check("date", expected_file.name, ours.published, iso_date(theirs["date_published"]))
    print(tally.report("gofeed json"))
    assert tally.checked and tally.rate() == 1.0, "\n".join(tally.misses)
