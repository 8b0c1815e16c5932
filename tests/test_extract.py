"""Article extraction: the main text of a page, without its sidebars and footer."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from monitor.errors import SourceError
from monitor.extract import extract_article

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
BENCHMARK = CORPUS / "article-extraction-benchmark"
BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_extract.py"
ARTICLE = (FIXTURES / "ispr_article.html").read_bytes()
URL = "https://www.ispr.gov.pk/press-release/2013/3/14/isaf"


class TestMainText:
    """What the main text keeps and drops on a press-office article page."""

    def test_keeps_the_body(self) -> None:
        """The article's own paragraphs, with the term ISAF, are kept."""
        text = extract_article(ARTICLE, url=URL).text
        assert "ISAF" in text and "Joseph Dunford" in text

    def test_drops_recent_news_and_must_read(self) -> None:
        """The "Recent News" and "Must read" boxes (all about Kayani) are left out."""
        text = extract_article(ARTICLE, url=URL).text
        assert "Kayani" not in text and "Recent News" not in text and "Must read" not in text

    def test_drops_navigation_and_footer(self) -> None:
        """Menu links and the copyright footer are not main text."""
        text = extract_article(ARTICLE, url=URL).text
        assert "Copyright" not in text and "Press Releases" not in text

    def test_title_and_date_from_the_page(self) -> None:
        """Title and publication date come from the page's metadata; the date is UTC-aware."""
        article = extract_article(ARTICLE, url=URL)
        assert article.title == "COAS meets Commander ISAF at GHQ"
        assert article.published == datetime(2013, 3, 14, 4, 30, tzinfo=UTC)  # 09:30+05:00, to the minute

    def test_is_deterministic(self) -> None:
        """The same page always extracts to the same article."""
        assert extract_article(ARTICLE, url=URL) == extract_article(ARTICLE, url=URL)

    def test_content_selector_overrides_extraction(self) -> None:
        """With select.content, the text is exactly that element's text."""
        article = extract_article(ARTICLE, url=URL, content_selector=".must-read")
        assert article.text == "Must read Kayani lauds flood relief efforts of the Army"

    def test_invalid_content_selector_is_source_error(self) -> None:
        """A selector that is not CSS is reported as a SourceError naming it."""
        with pytest.raises(SourceError, match="select.content"):
            extract_article(ARTICLE, url=URL, content_selector="div[")

    def test_meta_charset_decoded(self) -> None:
        """A windows-1252 page declared by <meta charset> keeps its accents."""
        body = (
            "<html><head><meta charset='windows-1252'><title>t</title></head><body><article>"
            + "<p>The caf\u00e9 on the Mall reopened today after the floods receded in the city.</p>" * 4
            + "</article></body></html>"
        ).encode("cp1252")
        assert "café" in extract_article(body, url=URL).text

    def test_empty_page_gives_empty_text(self) -> None:
        """A page without an article is empty text, not an error."""
        assert extract_article(b"", url=URL).text == ""


def _bench() -> ModuleType:
    """bench/bench_extract.py, whose metric and scoring loop the tests share with the script."""
    spec = importlib.util.spec_from_file_location("bench_extract", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not BENCHMARK.is_dir(), reason=f"benchmark corpus not found at {BENCHMARK}")
def test_benchmark_sample_score() -> None:
    """On every sixth benchmark page (31), precision and F1 reach the issue's 0.95 targets."""
    bench = _bench()
    sample = sorted(json.loads((BENCHMARK / "ground-truth.json").read_text()))[::6]
    precision, recall, f1 = bench.score(bench.score_pages(BENCHMARK, sample))
    print(f"benchmark n={len(sample)} precision={precision:.3f} recall={recall:.3f} f1={f1:.3f}")
    assert precision >= 0.95 and f1 >= 0.95


@pytest.mark.slow
@pytest.mark.skipif(not BENCHMARK.is_dir(), reason=f"benchmark corpus not found at {BENCHMARK}")
def test_benchmark_full_score() -> None:
    """On all 181 benchmark pages, precision and F1 reach the issue's 0.95 targets (trafilatura: 0.958 F1)."""
    bench = _bench()
    pages = bench.score_pages(BENCHMARK)
    precision, recall, f1 = bench.score(pages)
    print(f"benchmark n={len(pages)} precision={precision:.3f} recall={recall:.3f} f1={f1:.3f}")
    assert len(pages) == 181
    assert precision >= 0.95 and f1 >= 0.95


# Benchmark pages where trafilatura's own pass finds under 250 characters and its fallbacks
# (readability, jusText) find the article: they must still get their turn there.
_RESCUED = ["0ec95c7261d122f304728e90c983450ef1ce1e0b423546835c397d50aaf0d0f2",
            "9da36ae4714bfccc72374c6c146e9d1cd3cca39e2110bd67ccdbcc806f4cf139",
            "d90bda7ed14df19574f4ca8b1ccde5752a78f40058af1393e81cc99adb3e8756",
            "e372e42c0a3df7b86e1c0bacf7bc14d042144a01e88833bc5a643d61b3547090",
            "f6ac15a4d98511396da23e4428deb5605422b1c8bbc8284e771f6896bdccf57f"]


@pytest.mark.skipif(not BENCHMARK.is_dir(), reason=f"benchmark corpus not found at {BENCHMARK}")
@pytest.mark.parametrize("page_id", _RESCUED, ids=lambda page_id: page_id[:8])
def test_fallbacks_read_a_page_the_first_pass_misses(page_id: str) -> None:
    """A page whose article trafilatura's own pass misses is read by its fallbacks."""
    bench = _bench()
    [(_, precision, recall)] = bench.score_pages(BENCHMARK, [page_id])
    assert recall >= 0.9 and 2 * precision * recall / (precision + recall) >= 0.85


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The fast flag of each trafilatura pass over a page (the real passes, counted)."""
    import trafilatura

    calls: list[bool] = []
    real = trafilatura.bare_extraction

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(bool(kwargs.get("fast")))
        return real(*args, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", counted)
    return calls


_RELATED = "".join(
    f'<div class="teaser"><h3><a href="/r/{k}">Related story {k}</a></h3><p>Elsewhere today the finance'
    f" minister resigns after a long row over the budget, sources say ({k}).</p></div>" for k in range(4))
SHORT_NOTE = f"""<!DOCTYPE html><html><head><title>Short note</title></head><body>
<article><h1>Short note</h1><p>The press office confirmed the meeting took place on Tuesday in Rawalpindi.</p>
</article>{_RELATED}</body></html>""".encode()


def test_a_page_read_in_one_pass(passes: list[bool]) -> None:
    """A page whose article the first pass finds is not read again by the fallbacks (a third
    of trafilatura's cost): trafilatura is asked once, with its fast flag."""
    assert "ISAF" in extract_article(ARTICLE, url=URL).text
    assert passes == [True]


def test_a_short_page_gets_the_fallbacks_and_no_related_stories(passes: list[bool]) -> None:
    """Under 250 characters found, the fallbacks get their turn; and the "teaser" boxes of
    related stories, which trafilatura's fast pass keeps on such a page, are not the text."""
    text = extract_article(SHORT_NOTE, url="https://example.org/note.html").text
    assert passes == [True, False]
    assert "meeting took place on Tuesday" in text
    assert "minister resigns" not in text


def test_a_content_selector_needs_no_trafilatura_pass(passes: list[bool]) -> None:
    """With select.content naming the text, trafilatura does not read the page at all."""
    text = extract_article(ARTICLE, url=URL, content_selector="div.story-body, article").text
    assert text
    assert passes == []


def test_a_dateline_is_taken_before_trafilaturas_guess() -> None:
    """A real ISAF release (Oct. 9, 2012) served as a plain page with no date markup:
    trafilatura's metadata pass guessed 2012-01-01 from the year alone, and the alert
    showed that; the release's own dateline says the day."""
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "isaf-press-releases" / "press_releases.jsonl"
    if not corpus.is_file():
        pytest.skip(f"corpus not found at {corpus} (the isaf-press-releases set from ../shared/corpus)")
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").split("\n") if line.strip()]
    text = str(rows[21]["text"])
    assert "(Oct. 9, 2012)" in text
    paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines() if line.strip())
    page = (f"<html><head><title>Taliban leader arrested | ISAF 2012</title></head><body><article>"
            f"<h1>Taliban leader arrested</h1>{paragraphs}</article><footer>ISAF 2012</footer></body></html>")
    article = extract_article(page.encode(), url="https://isaf.example/2012/10/release")
    assert article.published == datetime(2012, 10, 9, tzinfo=UTC)


def test_a_copyright_year_is_no_publication_date() -> None:
    """A page with no date but its footer's "Copyright 2024" was shown as published 2024-01-01: the
    guess of htmldate's last resort. It is no date (the alert then shows when it was first seen); a
    date the page's text states is still read."""
    body = "<p>" + " ".join(["The corps commander reviewed the flood relief work in the district."] * 6) + "</p>"
    undated = (f"<html><head><title>Relief work reviewed</title></head><body><article><h1>Relief work reviewed</h1>"
               f"{body}</article><footer>Copyright 2024 Example News. All rights reserved.</footer></body></html>")
    assert extract_article(undated.encode(), url="https://news.example/relief").published is None
    dated = undated.replace("<footer>", "<p class=byline>Posted on 14 March 2024</p><footer>")
    assert extract_article(dated.encode(), url="https://news.example/relief").published == datetime(2024, 3, 14,
                                                                                                      tzinfo=UTC)


def test_a_read_also_link_inside_the_article_is_not_its_text() -> None:
    """A paragraph that is a label and one link to another story ("Also read:", "READ MORE:", Urdu
    sites' "یہ بھی پڑھیں") is another story's headline: "ISAF commander meets envoy" in a trade
    story fired an ISAF watch list. A link inside a sentence stays."""
    para = "<p>" + " ".join(["The ministry said further talks on trade were planned for next month."] * 3) + "</p>"
    page = (f"<html><head><title>Trade talks planned</title></head><body><article><h1>Trade talks planned</h1>"
            f"{para}<p><strong>Also read:</strong> <a href='/a'>ISAF commander meets envoy in Rawalpindi</a></p>"
            f"{para}<p>READ MORE: <a href='/b'>Kayani visits Quetta</a></p>"
            f"<p>یہ بھی پڑھیں: <a href='/c'>کیانی کا دورہ</a></p>"
            f"<p>Officials said, <a href='/d'>in a statement</a>, that ISAF would read the agreement.</p>{para}"
            f"</article></body></html>")
    text = extract_article(page.encode(), url="https://news.example/trade").text
    assert "ISAF commander" not in text and "Kayani" not in text and "کیانی" not in text
    assert "that ISAF would read the agreement" in text and "further talks on trade" in text
