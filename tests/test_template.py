"""Per-watch-list templates: every variable escaped for the format it lands in."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from monitor.models import Snippet
from monitor.notify.render import Alert, Reason
from monitor.notify.template import render_template

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=timezone.utc)
ALERT = Alert(title="COAS <b>visits</b> *troops*", source_name="ISPR", published=NOW, first_seen=NOW,
              watchlist="afpak", terms=("Kayani",), snippet="Kayani visited", url="https://x.example/1?a=1&b=2",
              also=(Reason(watchlist="border", terms=("LoC",), snippet="at the LoC"),), also_at=("APP", "Dawn"))
TEMPLATE = "{{ title }} via {{ source }} ({{ published }})\n{{ watchlists|join(', ') }}: {{ terms|join(', ') }}\n" \
           "Also at: {{ also_at|join(', ') }}\n\n{{ url }}"


def test_plain_text_gets_the_values_as_they_are() -> None:
    """The text body carries title, source, local time, every watch list and term, and the URL."""
    text = render_template(ALERT, TEMPLATE, timezone=ZoneInfo("Asia/Karachi")).text
    assert "COAS <b>visits</b> *troops* via ISPR (2026-11-28 09:00 PKT)" in text
    assert "afpak, border: Kayani, LoC" in text and "Also at: APP, Dawn" in text and ALERT.url in text


def test_html_escapes_every_value() -> None:
    """In the HTML body, markup in source text arrives escaped."""
    body = render_template(ALERT, TEMPLATE, timezone=ZoneInfo("UTC")).html
    assert "&lt;b&gt;visits&lt;/b&gt;" in body and "<b>" not in body and "a=1&amp;b=2" in body


def test_markdown_escapes_control_characters() -> None:
    """In the Markdown body, a title's asterisks cannot turn into emphasis."""
    body = render_template(ALERT, TEMPLATE, timezone=ZoneInfo("UTC")).markdown
    assert r"\*troops\*" in body


def test_the_url_is_printed_verbatim_in_markdown() -> None:
    """Markdown escaping never touches the URL, so it stays clickable and exact."""
    alert = Alert(**{**ALERT.__dict__, "url": "https://x.example/a_b?c=d_e"})
    assert "https://x.example/a_b?c=d_e" in render_template(alert, TEMPLATE, timezone=ZoneInfo("UTC")).markdown


def test_snippets_mark_terms_per_format() -> None:
    """`snippets` gives each term's snippet, its term bold in Markdown and HTML and the text around it escaped."""
    marked = Snippet(term="Kayani", field="body", text="<i>Kayani</i> visited", marks=((3, 9),))
    alert = Alert(**{**ALERT.__dict__, "snippets": (marked,)})
    message = render_template(alert, "{% for s in snippets %}{{ s.term }}: {{ s.marked }}\n{% endfor %}",
                              timezone=ZoneInfo("UTC"))
    assert "Kayani: <i>Kayani</i> visited" in message.text and "LoC: at the LoC" in message.text
    assert r"Kayani: \<i\>**Kayani**\</i\> visited" in message.markdown
    assert "Kayani: &lt;i&gt;<b>Kayani</b>&lt;/i&gt; visited" in message.html
