"""Alert rendering: what a recipient reads."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from monitor.models import Snippet
from monitor.notify.render import SEPARATORS, Alert, Reason, render
from monitor.notify.split import split_body

ALERT = Alert(title="COAS <b>visits</b> troops", source_name="ISPR", published=datetime(2026, 11, 22, 4, 0,
                                                                                          tzinfo=timezone.utc),
              first_seen=datetime(2026, 11, 22, 4, 5, tzinfo=timezone.utc), watchlist="afpak-military",
              terms=("Kayani", "COAS"), snippet="General Kayani, Chief of Army Staff, visited…",
              url="https://www.ispr.gov.pk/press-release/6112?id=1&x=2")


def test_text_carries_every_field_and_the_url_verbatim() -> None:
    """Title, source, local time, watch list, terms, snippet and the exact URL are all in the text."""
    message = render(ALERT, timezone=ZoneInfo("Asia/Karachi"))
    for part in ("COAS <b>visits</b> troops", "ISPR", "2026-11-22 09:00 PKT", "afpak-military", "Kayani, COAS",
                 "General Kayani", ALERT.url):
        assert part in message.text
    assert message.title == "[afpak-military] COAS <b>visits</b> troops"


def test_html_escapes_source_text() -> None:
    """Markup in a source's title never reaches an HTML alert unescaped."""
    message = render(ALERT, timezone=ZoneInfo("UTC"))
    assert "<b>visits</b>" not in message.html and "&lt;b&gt;visits&lt;/b&gt;" in message.html
    assert 'href="https://www.ispr.gov.pk/press-release/6112?id=1&amp;x=2"' in message.html


def test_undated_items_say_so() -> None:
    """An item without a published date shows its first-seen time and says it is that."""
    undated = Alert(**{**ALERT.__dict__, "published": None})
    assert "first seen; no date given" in render(undated, timezone=ZoneInfo("UTC")).text


SNIPPETS = (Snippet(term="Kayani", field="body", text="General Kayani, Chief of Army Staff, visited…",
                    marks=((8, 14),)),
            Snippet(term="COAS", field="body", text="…the COAS <i>said</i> AT&T *stars* ~~struck~~", marks=((5, 9),)))
MARKED = Alert(**{**ALERT.__dict__, "snippet": SNIPPETS[0].text, "snippets": SNIPPETS})


class TestWhyItMatched:
    def test_text_shows_every_snippet_as_it_is(self) -> None:
        """Plain text carries each term's snippet verbatim, with no emphasis markup."""
        message = render(MARKED, timezone=ZoneInfo("UTC"))
        assert SNIPPETS[0].text in message.text and SNIPPETS[1].text in message.text
        assert "**" not in message.text

    def test_markdown_bolds_each_term(self) -> None:
        """In Markdown each marked term is **bold** and the source text around it is escaped."""
        markdown = render(MARKED, timezone=ZoneInfo("UTC")).markdown
        assert "> General **Kayani**, Chief of Army Staff, visited…" in markdown
        assert r"> …the **COAS** \<i\>said\</i\> AT&T \*stars\* \~\~struck\~\~" in markdown  # ~~ strikes through

    def test_html_bolds_each_term_and_escapes_the_rest(self) -> None:
        """In HTML each marked term is in <b>, and markup in the snippet arrives escaped."""
        body = render(MARKED, timezone=ZoneInfo("UTC")).html
        assert "<blockquote>General <b>Kayani</b>, Chief of Army Staff, visited…</blockquote>" in body
        assert "<blockquote>…the <b>COAS</b> &lt;i&gt;said&lt;/i&gt; AT&amp;T *stars* ~~struck~~</blockquote>" in body

    def test_a_marked_term_is_escaped_inside_the_emphasis(self) -> None:
        """A hit that itself holds markup characters is escaped within the <b> and ** it gets."""
        odd = Snippet(term="/AT&T|<x>/", field="body", text="buys AT&T <x>*", marks=((5, 9), (10, 14)))
        message = render(Alert(**{**ALERT.__dict__, "snippets": (odd,)}), timezone=ZoneInfo("UTC"))
        assert "buys <b>AT&amp;T</b> <b>&lt;x&gt;*</b>" in message.html
        assert r"buys **AT&T** **\<x\>\***" in message.markdown

    def test_each_snippet_is_its_own_block(self) -> None:
        """Snippets are separate blocks, so a message too long for a channel is cut between them."""
        message = render(MARKED, timezone=ZoneInfo("UTC"))
        assert SNIPPETS[0].text in message.text_blocks and SNIPPETS[1].text in message.text_blocks
        parts = split_body(message.blocks("markdown"), limit=60, fmt="markdown", separator=SEPARATORS["markdown"])
        assert "> General **Kayani**, Chief of Army Staff, visited…" in parts
        assert r"> …the **COAS** \<i\>said\</i\> AT&T \*stars\*" in parts

    def test_every_watch_list_shows_its_snippets(self) -> None:
        """With several watch lists, each list's terms and snippets follow its name."""
        other = Reason(watchlist="border", terms=("LoC",), snippet="at the LoC",
                       snippets=(Snippet(term="LoC", field="body", text="at the LoC", marks=((7, 10),)),))
        body = render(Alert(**{**MARKED.__dict__, "also": (other,)}), timezone=ZoneInfo("UTC")).html
        assert body.index("afpak-military") < body.index("<b>Kayani</b>") < body.index("border") \
            < body.index("at the <b>LoC</b>")

    def test_a_match_stored_before_snippets_shows_its_one_snippet(self) -> None:
        """An alert without per-term snippets (an older match) shows its single snippet, unmarked."""
        message = render(ALERT, timezone=ZoneInfo("UTC"))
        assert "> General Kayani, Chief of Army Staff, visited…" in message.markdown
        assert "<blockquote>General Kayani, Chief of Army Staff, visited…</blockquote>" in message.html
