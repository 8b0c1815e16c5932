"""The feed source against every file of the shared feed corpora: it reads feeds and
rejects non-feeds with SourceError, and never raises anything else."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import pytest

from monitor.errors import SourceError
from monitor.sources.registry import make_source

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FEED_CORPORA = (
    "feedparser-feeds",
    "feed-rs-fixtures",
    "feedjira-sample-feeds",
    "gofeed-edge-cases",
    "rsparser-real-feeds",
    "jsonfeed-validator-fixtures",
)
CONGRESS = CORPUS / "us-congress-press-release-listings"


def _files(name: str) -> list[Path]:
    return sorted(p for p in (CORPUS / name).rglob("*") if p.is_file() and p.suffix != ".md")


@pytest.mark.parametrize("name", FEED_CORPORA)
def test_corpus_parses_or_is_rejected_cleanly(name: str) -> None:
    """Every file yields a Listing or a SourceError; nothing else escapes, and most are feeds."""
    if not (CORPUS / name).is_dir():
        pytest.skip(f"corpus {name} not found under {CORPUS}")
    source = make_source("feed")
    crashes: list[str] = []
    rejected: list[str] = []
    parsed = 0
    started = time.monotonic()
    for path in _files(name):
        try:
            source.parse(path.read_bytes(), url=f"http://127.0.0.1/{path.name}")
        except SourceError as exc:
            rejected.append(f"{path.relative_to(CORPUS)}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the point is to list every escape
            crashes.append(f"{path.relative_to(CORPUS)}: {type(exc).__name__}: {exc}")
        else:
            parsed += 1
    assert not crashes, f"{len(crashes)} file(s) raised something other than SourceError:\n" + "\n".join(crashes)
    assert parsed > 0
    print(f"{name}: {parsed} parsed, {len(rejected)} rejected as not feeds, {time.monotonic() - started:.1f}s")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
class TestKnownFeeds:
    """Facts about particular corpus feeds."""

    def test_non_feeds_are_rejected(self) -> None:
        """HTML pages, empty files, plain XML and non-feed JSON are SourceErrors."""
        source = make_source("feed")
        for relative in (
            "rsparser-real-feeds/DaringFireball.html",
            "gofeed-edge-cases/parser/universal/empty_feed.xml",
            "gofeed-edge-cases/parser/universal/unknown_feed.xml",
            "gofeed-edge-cases/parser/universal/invalid.json",
        ):
            path = CORPUS / relative
            if path.is_file():
                with pytest.raises(SourceError, match="not a feed"):
                    source.parse(path.read_bytes(), url="http://127.0.0.1/x")

    @pytest.mark.skipif(not CONGRESS.is_dir(), reason="congress corpus absent")
    def test_congress_feeds(self) -> None:
        """Burr's invalid RSS keeps its first item; Culberson's undated items stay undated."""
        expected = json.loads((CONGRESS / "expected.json").read_text())
        source = make_source("feed")
        burr = expected["richard_burr.xml"]
        first = source.parse((CONGRESS / "richard_burr.xml").read_bytes(), url=burr["source_url"]).entries[0]
        assert first.url == burr["first_item_url"]
        assert first.published is not None and first.published.date() == date.fromisoformat(burr["first_item_date"])
        culberson = expected["culberson_rss.xml"]
        entries = source.parse((CONGRESS / "culberson_rss.xml").read_bytes(), url=culberson["source_url"]).entries
        assert entries and all(e.published is None for e in entries)
        ruiz = expected["ruiz_rss.xml"]
        entries = source.parse((CONGRESS / "ruiz_rss.xml").read_bytes(), url=ruiz["source_url"]).entries
        assert entries[0].url.split("/")[2] == ruiz["first_item_domain"]
