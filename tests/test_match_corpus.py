"""The matcher on real pages, feeds and releases from ../shared/corpus: traps and known hits."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from monitor.match import Matcher, WatchRule

AFPAK = WatchRule(name="afpak", keywords=("ISPR", "Inter-Services Public Relations", "COAS"))


@pytest.fixture(scope="module")
def corpus() -> Path:
    """The shared corpus beside the repository, or a clean skip when it is not there."""
    path = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    if not path.is_dir():
        pytest.skip(f"../shared/corpus not found (looked in {path})")
    return path


def body_hits(matcher: Matcher, text: str) -> list[tuple[str, str]]:
    """(term, original substring) for every hit of ``matcher`` in ``text`` used as a body."""
    return [(h.term, text[h.start : h.end]) for m in matcher.match(source_id="s", title="", body=text) for h in m.hits]


def page_text(path: Path) -> str:
    """The visible text of an HTML page, crudely: scripts and styles removed, whitespace kept."""
    tree = LexborHTMLParser(path.read_bytes())
    for node in tree.css("script, style"):
        node.decompose()
    assert tree.body is not None
    return tree.body.text(separator=" ")


class TestTraps:
    @pytest.mark.parametrize(
        ("path", "trap"),
        [
            pytest.param("news-article-pages-postlight/www.asahi.com.html", "isPresent", id="asahi-isPresent"),
            pytest.param("news-article-pages-postlight/www.theguardian.com.html", "isPreview", id="guardian-isPreview"),
            pytest.param("rsparser-real-feeds/bio.rdf", "CRISPR", id="bio-rdf-CRISPR"),
        ],
    )
    def test_no_ispr_inside_longer_words(self, corpus: Path, path: str, trap: str) -> None:
        """ISPR does not hit inside isPresent, isPreview or CRISPR in the raw page or feed."""
        text = (corpus / path).read_text(encoding="utf-8", errors="replace")
        assert trap in text
        assert body_hits(Matcher([AFPAK]), text) == []

    def test_no_coas_inside_coastal(self, corpus: Path) -> None:
        """COAS does not hit "coastal" or "rollercoaster" in the Pakistan Observer feed items."""
        items = observer_items(corpus)
        assert any(re.search("coas", text, re.IGNORECASE) for text in items.values())
        matcher = Matcher([WatchRule(name="coas", keywords=("COAS",))])
        assert [link for link, text in items.items() if body_hits(matcher, text)] == []


class TestKnownHits:
    def test_isaf_in_press_releases(self, corpus: Path) -> None:
        """ISAF hits exactly the 501 of 724 releases that mention it, never the "isafmedia" in photo links."""
        lines = (corpus / "isaf-press-releases" / "press_releases.jsonl").read_text(encoding="utf-8").split("\n")
        texts = [json.loads(line)["text"] for line in lines if line]  # not splitlines(): texts hold U+2028
        matcher = Matcher([WatchRule(name="isaf", keywords=("ISAF",))])
        found = [body_hits(matcher, text) for text in texts]
        assert len(texts) == 724
        assert sum(1 for hits in found if hits) == 501
        assert {substring for hits in found for _, substring in hits} == {"ISAF"}
        assert any("isafmedia" in text for text in texts)

    def test_ispr_in_pakistan_observer(self, corpus: Path) -> None:
        """ISPR and "Inter-Services Public Relations" hit the six Pakistan Observer items that carry them."""
        items = observer_items(corpus)
        matcher = Matcher([AFPAK])
        found = {
            link.rsplit("/", 1)[1]: sorted({t for t, _ in body_hits(matcher, text)}) for link, text in items.items()
        }
        assert {slug: terms for slug, terms in found.items() if terms} == {
            "pakistan-army-chief-azerbaijani-top-civil-military-officials-vow-to-enhance-cooperation": [
                "Inter-Services Public Relations"
            ],
            "six-terrorists-killed-in-zhob": ["ISPR"],
            "14-pakistan-army-soldiers-martyred-in-attack-near-balochistans-gwadar-district": [
                "ISPR",
                "Inter-Services Public Relations",
            ],
            "dastardly-attack-2": ["ISPR", "Inter-Services Public Relations"],
            "pakistan-forces-foil-terrorist-attack-on-pafs-mianwali-base": ["ISPR"],
            "pakistan-army-lieutenant-colonel-three-troops-martyred-in-khyber-operation-ispr": ["ISPR"],
        }

    @pytest.mark.parametrize(
        ("keywords", "aliases"),
        [
            pytest.param(('COAS | "Chief of Army Staff"',), None, id="alternatives"),
            pytest.param(("@coas",), {"coas": ("COAS", "Chief of Army Staff")}, id="alias"),
        ],
    )
    def test_army_chief_in_pakistan_observer(self, corpus: Path, keywords: tuple[str, ...],
                                             aliases: dict[str, tuple[str, ...]] | None) -> None:
        """COAS spelt out ("Chief of Army Staff", inline or as an alias) fires on the two Observer items naming him."""
        if not (corpus / "rss-link-database-2023-south-asia").is_dir():
            pytest.skip("../shared/corpus/rss-link-database-2023-south-asia not found")
        items = observer_items(corpus)
        matcher = Matcher([WatchRule(name="coas", keywords=keywords)], aliases=aliases)
        found = {link.rsplit("/", 1)[1]: {s for _, s in body_hits(matcher, text)} for link, text in items.items()}
        assert {slug: hits for slug, hits in found.items() if hits} == {
            "pakistan-army-chief-azerbaijani-top-civil-military-officials-vow-to-enhance-cooperation":
                {"Chief of Army Staff"},
            "defence-ties-with-azerbaijan": {"Chief of Army Staff"},
        }

    @pytest.mark.parametrize(
        ("term", "expected"),
        [
            pytest.param("پاک فوج", "پاک فوج", id="urdu-phrase"),
            pytest.param("پاك فوج", "پاک فوج", id="arabic-kaf-variant"),
        ],
    )
    def test_urdu_phrase_in_express(self, corpus: Path, term: str, expected: str) -> None:
        """An Urdu phrase ("Pak army") hits the Express Urdu home page, however its kaf is written."""
        text = page_text(corpus / "pk-news-homepages-2021" / "express.pk-urdu.html")
        hits = body_hits(Matcher([WatchRule(name="urdu", keywords=(term,))]), text)
        assert hits and all(substring == expected for _, substring in hits)

    def test_urdu_word_not_inside_longer_word(self, corpus: Path) -> None:
        """The Urdu word فوج (army) does not hit فوجی (military) on the Daily Pakistan home page."""
        text = page_text(corpus / "pk-news-homepages-2021" / "dailypakistan.com.pk-urdu.html")
        longer = {m.start() for m in re.finditer(r"فوج(?=\w)", text)}
        assert "فوجی امداد" in text and longer
        [found] = Matcher([WatchRule(name="urdu", keywords=("فوج",))]).match(source_id="s", title="", body=text)
        assert {h.start for h in found.hits}.isdisjoint(longer)
        assert all(text[h.start : h.end] == "فوج" for h in found.hits)


def observer_items(corpus: Path) -> dict[str, str]:
    """Pakistan Observer feed items by link: title and description, tags stripped, entities decoded."""
    items = {}
    for path in sorted((corpus / "rss-link-database-2023-south-asia").glob("*/https.pakobserver.netfeed_entries.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            description = html.unescape(re.sub(r"<[^>]+>", " ", item["description"]))
            items[item["link"]] = f"{item['title']}\n{description}"
    return items
