"""Real article pages from the corpus: European Parliament press releases (expected.json) and
the postlight news pages (meta-derived.json): headline, publication time, first and last
sentence of the body."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.extract import extract_article
from monitor.sources.dates import iso_date

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
EUROPARL = CORPUS / "europarl-press-releases"
POSTLIGHT = CORPUS / "news-article-pages-postlight"
BRUSSELS = ZoneInfo("Europe/Brussels")
# The user's override for this site: the standfirst and body paragraphs, not the key-facts box.
EP_CONTENT = ".ep-a_text"


def expected(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    if not path.is_file():
        pytest.skip(f"corpus file not found at {path}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def europarl_cases(field: str) -> list[str]:
    path = EUROPARL / "expected.json"
    if not path.is_file():
        return []
    return sorted(k for k, v in json.loads(path.read_text(encoding="utf-8")).items()
                  if not k.startswith("_") and field in v)


class TestEuroparl:
    """European Parliament releases: ~100 KB of menus, share widgets and contacts around the text."""

    @pytest.mark.parametrize("name", europarl_cases("title"))
    def test_title_without_site_name(self, name: str) -> None:
        """The headline is the release's, without "| News | European Parliament"."""
        facts = expected(EUROPARL, "expected.json")[name]
        assert extract_article((EUROPARL / name).read_bytes(), url=facts["url"]).title == facts["title"]

    @pytest.mark.parametrize("name", europarl_cases("published_at"))
    def test_published_in_brussels_time(self, name: str) -> None:
        """The page's zone-less datePublished is Brussels time, stored as UTC."""
        facts = expected(EUROPARL, "expected.json")[name]
        article = extract_article((EUROPARL / name).read_bytes(), url=facts["url"], tz=BRUSSELS)
        assert article.published == iso_date(facts["published_at"], BRUSSELS)

    @pytest.mark.parametrize("name", europarl_cases("text_endswith"))
    def test_body_ends_with_the_last_sentence(self, name: str) -> None:
        """Automatic extraction ends on the release's last sentence: the press contacts are cut."""
        facts = expected(EUROPARL, "expected.json")[name]
        text = extract_article((EUROPARL / name).read_bytes(), url=facts["url"]).text
        assert facts["text_startswith"] in text
        assert text.endswith(facts["text_endswith"])

    @pytest.mark.parametrize("name", europarl_cases("text_startswith"))
    def test_content_selector_gives_exact_body(self, name: str) -> None:
        """With select.content, the body starts and ends exactly where the release does."""
        facts = expected(EUROPARL, "expected.json")[name]
        text = extract_article((EUROPARL / name).read_bytes(), url=facts["url"], content_selector=EP_CONTENT).text
        assert text.startswith(facts["text_startswith"])
        assert text.endswith(facts["text_endswith"])


def postlight_cases(field: str) -> list[str]:
    path = POSTLIGHT / "meta-derived.json"
    if not path.is_file():
        return []
    return sorted(k for k, v in json.loads(path.read_text(encoding="utf-8")).items() if v.get(field))


_WORD = re.compile(r"\w+")


class TestPostlight:
    """News pages whose markup was re-serialised (``value=`` where ``content=`` belongs)."""

    @pytest.mark.parametrize("name", sorted({*postlight_cases("article_published_time"),
                                             *postlight_cases("jsonld_datePublished")}))
    def test_publication_time_from_markup(self, name: str) -> None:
        """The published time is the one the page's markup states (meta or JSON-LD), to the second."""
        facts = expected(POSTLIGHT, "meta-derived.json")[name]
        article = extract_article((POSTLIGHT / name).read_bytes(), url=facts["canonical"] or "https://example.org/")
        assert article.published == iso_date(facts["article_published_time"] or facts["jsonld_datePublished"])

    @pytest.mark.parametrize("name", postlight_cases("og_title"))
    def test_title_is_the_headline(self, name: str) -> None:
        """The title is the headline: its words are the page title's or og:title's, not a logo's."""
        facts = expected(POSTLIGHT, "meta-derived.json")[name]
        title = extract_article((POSTLIGHT / name).read_bytes(), url=facts["canonical"] or "https://example.org/").title
        assert title
        known = set(_WORD.findall(f"{facts['html_title']} {facts['og_title']}".lower()))
        words = set(_WORD.findall(title.lower()))
        assert len(words & known) >= 0.6 * len(words), title

    @pytest.mark.parametrize(("name", "headline"), [
        ("www.cbc.ca.html", "Housing market slowdown continues with sales and average prices well down from last year"),
        ("www.politico.com.html", "Insiders: Trump will sink Pence in VP debate"),
        ("www.bloomberg.com--news.html", "U.S. Stocks Rise to Records, Bonds Gain on ECB Stimulus Optimism"),
    ])
    def test_site_name_and_logo_are_not_the_title(self, name: str, headline: str) -> None:
        """" | CBC News" is dropped, and a logo in an <h1> is passed over."""
        page = POSTLIGHT / name
        if not page.is_file():
            pytest.skip(f"corpus file not found at {page}")
        assert extract_article(page.read_bytes(), url="https://example.org/").title == headline
